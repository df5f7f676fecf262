//! KV-cache blocks and the prefix cache.
//!
//! Blocks are counted, not materialised: a request's private blocks are a
//! number, and the decode set's blocks are derived from token counts. The
//! prefix cache works at the granularity of the hashes a request carries
//! (`prefix_block_tokens` tokens each, 512 in the Mooncake traces, i.e. 32
//! vLLM blocks of 16): a cached chunk is shared by every running request that
//! references it and, once unreferenced, stays cached but counts as free
//! (evictable) until least-recently-used eviction reclaims it, as in vLLM V1.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// No slot (end of the LRU list).
const NIL: u32 = u32::MAX;

/// A cached chunk: its references and, while unreferenced, its place in
/// the LRU list.
#[derive(Clone, Copy, Debug)]
struct Chunk {
    hash: u64,
    refs: u32,
    prev: u32,
    next: u32,
}

/// The block pool of one engine.
///
/// Every prefix-cache operation is O(1) per chunk: chunks live in a slab
/// indexed through a hash map with a fixed (deterministic) hasher, and the
/// unreferenced ones form an intrusive doubly-linked list in the order they
/// became unreferenced (least recently used first), so eviction takes the
/// head and a revived chunk unlinks itself.
#[derive(Clone, Debug)]
pub(crate) struct KvPool {
    /// Allocatable blocks (`num_gpu_blocks − 1`: one is vLLM's null block).
    usable: u32,
    /// Blocks referenced by requests (private blocks and shared chunks).
    used: u32,
    /// Blocks of cached chunks nobody references (free, but hold content).
    evictable: u32,
    /// Blocks per prefix chunk.
    chunk_blocks: u32,
    index: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    slab: Vec<Chunk>,
    free_slots: Vec<u32>,
    lru_head: u32,
    lru_tail: u32,
}

/// A hasher for keys that are already hashes (Mooncake's `hash_ids` are
/// small integers): one multiply spreads them into the high bits the map
/// uses. Fixed, so runs are reproducible.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (x ^ (x >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

impl KvPool {
    pub(crate) fn new(num_gpu_blocks: u32, chunk_blocks: u32) -> KvPool {
        KvPool {
            usable: num_gpu_blocks.saturating_sub(1),
            used: 0,
            evictable: 0,
            chunk_blocks: chunk_blocks.max(1),
            index: HashMap::default(),
            slab: Vec::new(),
            free_slots: Vec::new(),
            lru_head: NIL,
            lru_tail: NIL,
        }
    }

    pub(crate) fn used(&self) -> u32 {
        self.used
    }

    pub(crate) fn chunk_blocks(&self) -> u32 {
        self.chunk_blocks
    }

    /// Blocks an allocation may take (evictable cached blocks included).
    pub(crate) fn free(&self) -> u32 {
        self.usable - self.used
    }

    /// Blocks an allocation may take without evicting a cached chunk.
    pub(crate) fn truly_free(&self) -> u32 {
        self.usable - self.used - self.evictable
    }

    /// vLLM's `1 − free/(total − 1)`.
    pub(crate) fn usage(&self) -> f64 {
        if self.usable == 0 {
            0.0
        } else {
            f64::from(self.used) / f64::from(self.usable)
        }
    }

    /// Takes `n` blocks, evicting least-recently-used cached chunks if needed.
    pub(crate) fn allocate(&mut self, n: u32) {
        debug_assert!(n <= self.free(), "allocating {n} with {} free", self.free());
        self.used += n;
        while self.used + self.evictable > self.usable {
            let s = self.lru_head;
            if s == NIL {
                break;
            }
            self.unlink(s);
            self.index.remove(&self.slab[s as usize].hash);
            self.free_slots.push(s);
            self.evictable -= self.chunk_blocks;
        }
    }

    /// Returns `n` private blocks.
    pub(crate) fn release(&mut self, n: u32) {
        debug_assert!(n <= self.used);
        self.used -= n;
    }

    /// Leading chunks of `hashes` present in the cache, and how many blocks
    /// referencing them would take out of the free count (unreferenced ones).
    pub(crate) fn lookup(&self, hashes: &[u64]) -> (u32, u32) {
        let mut hits = 0;
        let mut revive = 0;
        for h in hashes {
            match self.index.get(h) {
                Some(&s) => {
                    hits += 1;
                    if self.slab[s as usize].refs == 0 {
                        revive += self.chunk_blocks;
                    }
                }
                None => break,
            }
        }
        (hits, revive)
    }

    /// References a cached chunk.
    pub(crate) fn acquire(&mut self, hash: u64) {
        if let Some(&s) = self.index.get(&hash) {
            self.acquire_slot(s);
        }
    }

    fn acquire_slot(&mut self, s: u32) {
        if self.slab[s as usize].refs == 0 {
            self.unlink(s);
            self.evictable -= self.chunk_blocks;
            self.used += self.chunk_blocks;
        }
        self.slab[s as usize].refs += 1;
    }

    /// A request finished computing a chunk in its private blocks: the chunk
    /// becomes shared. Returns true if the chunk already existed (the caller's
    /// private copy is then released and the existing chunk referenced).
    pub(crate) fn register(&mut self, hash: u64) -> bool {
        use std::collections::hash_map::Entry;
        let next = self.free_slots.last().copied();
        let s = match self.index.entry(hash) {
            Entry::Occupied(e) => {
                let s = *e.get();
                // Reference the existing copy first so eviction cannot
                // reclaim it.
                self.acquire_slot(s);
                self.release(self.chunk_blocks);
                return true;
            }
            Entry::Vacant(v) => {
                let s = next.unwrap_or(self.slab.len() as u32);
                v.insert(s);
                s
            }
        };
        let c = Chunk {
            hash,
            refs: 1,
            prev: NIL,
            next: NIL,
        };
        if next.is_some() {
            self.free_slots.pop();
            self.slab[s as usize] = c;
        } else {
            self.slab.push(c);
        }
        false
    }

    /// Drops a reference; an unreferenced chunk becomes evictable (the most
    /// recently used of the evictable ones).
    pub(crate) fn unref(&mut self, hash: u64) {
        let Some(&s) = self.index.get(&hash) else {
            return;
        };
        let c = &mut self.slab[s as usize];
        debug_assert!(c.refs > 0);
        c.refs -= 1;
        if c.refs == 0 {
            c.prev = self.lru_tail;
            c.next = NIL;
            match self.lru_tail {
                NIL => self.lru_head = s,
                t => self.slab[t as usize].next = s,
            }
            self.lru_tail = s;
            self.used -= self.chunk_blocks;
            self.evictable += self.chunk_blocks;
        }
    }

    /// Takes slot `s` out of the LRU list.
    fn unlink(&mut self, s: u32) {
        let Chunk { prev, next, .. } = self.slab[s as usize];
        match prev {
            NIL => self.lru_head = next,
            p => self.slab[p as usize].next = next,
        }
        match next {
            NIL => self.lru_tail = prev,
            n => self.slab[n as usize].prev = prev,
        }
    }

    #[cfg(test)]
    pub(crate) fn evictable(&self) -> u32 {
        self.evictable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreferenced_chunks_are_free_and_evicted_lru() {
        let mut p = KvPool::new(101, 10); // 100 usable
        p.allocate(20); // a request's private blocks for two chunks
        assert!(!p.register(1));
        assert!(!p.register(2));
        assert_eq!(p.used(), 20);
        p.unref(2);
        p.unref(1);
        assert_eq!((p.used(), p.evictable(), p.free()), (0, 20, 100));
        assert_eq!(p.lookup(&[1, 2, 3]), (2, 20));
        // 85 blocks: 5 truly free blocks remain after evicting one chunk;
        // chunk 2 was released first, so it goes first.
        p.allocate(85);
        assert_eq!(p.lookup(&[1]), (1, 10));
        assert_eq!(p.lookup(&[2]), (0, 0));
        p.acquire(1);
        assert_eq!((p.used(), p.evictable(), p.free()), (95, 0, 5));
    }

    /// The pool before its O(1) structures: chunks in a `BTreeMap`, the LRU
    /// order as a `BTreeMap` from a use stamp. The slab and linked list
    /// must behave exactly as this.
    #[derive(Default)]
    struct Reference {
        usable: u32,
        used: u32,
        evictable: u32,
        cb: u32,
        chunks: std::collections::BTreeMap<u64, (u32, u64)>,
        lru: std::collections::BTreeMap<u64, u64>,
        clock: u64,
    }

    impl Reference {
        fn allocate(&mut self, n: u32) {
            self.used += n;
            while self.used + self.evictable > self.usable {
                let Some((_, h)) = self.lru.pop_first() else {
                    break;
                };
                self.chunks.remove(&h);
                self.evictable -= self.cb;
            }
        }
        fn lookup(&self, hs: &[u64]) -> (u32, u32) {
            let (mut hits, mut revive) = (0, 0);
            for h in hs {
                match self.chunks.get(h) {
                    Some(c) => {
                        hits += 1;
                        if c.0 == 0 {
                            revive += self.cb;
                        }
                    }
                    None => break,
                }
            }
            (hits, revive)
        }
        fn acquire(&mut self, h: u64) {
            if let Some(c) = self.chunks.get_mut(&h) {
                if c.0 == 0 {
                    self.lru.remove(&c.1);
                    self.evictable -= self.cb;
                    self.used += self.cb;
                }
                c.0 += 1;
            }
        }
        fn register(&mut self, h: u64) -> bool {
            if self.chunks.contains_key(&h) {
                self.acquire(h);
                self.used -= self.cb;
                return true;
            }
            self.chunks.insert(h, (1, 0));
            false
        }
        fn unref(&mut self, h: u64) {
            if let Some(c) = self.chunks.get_mut(&h) {
                c.0 -= 1;
                if c.0 == 0 {
                    self.clock += 1;
                    c.1 = self.clock;
                    self.lru.insert(self.clock, h);
                    self.used -= self.cb;
                    self.evictable += self.cb;
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        /// Random register / acquire / unref / allocate / release sequences
        /// give the same counts and lookups as the reference, step by step.
        #[test]
        fn the_o1_pool_matches_the_btreemap_pool(
            ops in proptest::collection::vec((0u8..5, 0u64..12, 0u32..30), 1..300),
        ) {
            let (usable, cb) = (200, 4);
            let mut p = KvPool::new(usable + 1, cb);
            let mut r = Reference { usable, cb, ..Reference::default() };
            // References held, so unref and release stay legal.
            let mut held: Vec<u64> = Vec::new();
            let mut private = 0u32;
            for (op, h, n) in ops {
                match op {
                    0 if p.free() >= cb => {
                        // Compute a chunk privately, then share it.
                        p.allocate(cb);
                        r.allocate(cb);
                        proptest::prop_assert_eq!(p.register(h), r.register(h));
                        held.push(h);
                    }
                    1 if p.lookup(&[h]).0 == 1 && p.lookup(&[h]).1 <= p.free() => {
                        p.acquire(h);
                        r.acquire(h);
                        held.push(h);
                    }
                    2 if !held.is_empty() => {
                        let h = held.swap_remove(n as usize % held.len());
                        p.unref(h);
                        r.unref(h);
                    }
                    3 if n <= p.free() => {
                        p.allocate(n);
                        r.allocate(n);
                        private += n;
                    }
                    4 if n <= private => {
                        p.release(n);
                        r.used -= n;
                        private -= n;
                    }
                    _ => {}
                }
                proptest::prop_assert_eq!((p.used, p.evictable), (r.used, r.evictable));
                let all: Vec<u64> = (0..12).collect();
                for k in 0..12 {
                    proptest::prop_assert_eq!(p.lookup(&all[k..k + 1]), r.lookup(&all[k..k + 1]));
                }
            }
        }
    }
}

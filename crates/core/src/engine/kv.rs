//! KV-cache blocks and the prefix cache.
//!
//! Blocks are counted, not materialised: a request's private blocks are a
//! number, and the decode set's blocks are derived from token counts. The
//! prefix cache works at the granularity of the hashes a request carries
//! (`prefix_block_tokens` tokens each, 512 in the Mooncake traces, i.e. 32
//! vLLM blocks of 16): a cached chunk is shared by every running request that
//! references it and, once unreferenced, stays cached but counts as free
//! (evictable) until least-recently-used eviction reclaims it, as in vLLM V1.

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug)]
struct Chunk {
    refs: u32,
    stamp: u64,
}

/// The block pool of one engine.
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
    chunks: BTreeMap<u64, Chunk>,
    lru: BTreeMap<u64, u64>,
    clock: u64,
}

impl KvPool {
    pub(crate) fn new(num_gpu_blocks: u32, chunk_blocks: u32) -> KvPool {
        KvPool {
            usable: num_gpu_blocks.saturating_sub(1),
            used: 0,
            evictable: 0,
            chunk_blocks: chunk_blocks.max(1),
            chunks: BTreeMap::new(),
            lru: BTreeMap::new(),
            clock: 0,
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
            let Some((_, hash)) = self.lru.pop_first() else {
                break;
            };
            self.chunks.remove(&hash);
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
            match self.chunks.get(h) {
                Some(c) => {
                    hits += 1;
                    if c.refs == 0 {
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
        let cb = self.chunk_blocks;
        if let Some(c) = self.chunks.get_mut(&hash) {
            if c.refs == 0 {
                self.lru.remove(&c.stamp);
                self.evictable -= cb;
                self.used += cb;
            }
            c.refs += 1;
        }
    }

    /// A request finished computing a chunk in its private blocks: the chunk
    /// becomes shared. Returns true if the chunk already existed (the caller's
    /// private copy is then released and the existing chunk referenced).
    pub(crate) fn register(&mut self, hash: u64) -> bool {
        if let std::collections::btree_map::Entry::Vacant(v) = self.chunks.entry(hash) {
            v.insert(Chunk { refs: 1, stamp: 0 });
            return false;
        }
        // Reference the existing copy first so eviction cannot reclaim it.
        self.acquire(hash);
        self.release(self.chunk_blocks);
        true
    }

    /// Drops a reference; an unreferenced chunk becomes evictable.
    pub(crate) fn unref(&mut self, hash: u64) {
        let cb = self.chunk_blocks;
        if let Some(c) = self.chunks.get_mut(&hash) {
            debug_assert!(c.refs > 0);
            c.refs -= 1;
            if c.refs == 0 {
                self.clock += 1;
                c.stamp = self.clock;
                self.lru.insert(self.clock, hash);
                self.used -= cb;
                self.evictable += cb;
            }
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
}

//! The event queue: a total order on (time, event class, insertion counter)
//! and lazy cancellation.
//!
//! Two events at the same instant are taken in the order of their classes
//! (for example a pod turning Ready before the arrival that could use it, and
//! the per-second record after everything else of that second), and two
//! events of one class at one instant in insertion order. Nothing depends on
//! the heap's internal order, so a run is reproducible bit for bit.
//!
//! Cancellation is lazy: [`EventQueue::cancel`] marks a ticket and the event
//! is dropped when it reaches the front. Callers that reschedule one timer
//! often (a pod's next engine step) can instead keep the time they expect in
//! their own state and ignore a stale event; both are O(log n).
//!
//! Two *side slots* hold one event each outside the heap, for the two events
//! every request schedules (its arrival and its delivery to a pod): more
//! than half of all events, which then cost two compares instead of a heap
//! push and pop. A slot event takes its insertion number from the same
//! counter as pushes, so the total order is exactly the heap's.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap};

use crate::time::SimTime;

/// An event type: a closed enum whose variants have a fixed class.
pub trait Classified {
    /// Tie-break rank among events at the same instant (lower first).
    fn class(&self) -> u8;
}

/// Identifies a scheduled event, for [`EventQueue::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(u64);

/// A scheduled event. Its key packs (time, class, insertion counter) into
/// one integer whose order is that tuple's order, so a heap comparison is a
/// single compare: time (never negative) in the high 64 bits, the class in
/// the next 8, the counter in the low 56.
struct Entry<E> {
    key: u128,
    event: E,
}

const SEQ_BITS: u32 = 56;

fn time_of(key: u128) -> SimTime {
    SimTime::from_micros((key >> 64) as i64)
}

/// Number of side slots.
pub const SIDE_SLOTS: usize = 2;

impl<E> Entry<E> {
    fn new(time: SimTime, class: u8, seq: u64, event: E) -> Entry<E> {
        debug_assert!(time.as_micros() >= 0 && seq < 1 << SEQ_BITS);
        let key = (u128::from(time.as_micros() as u64) << 64)
            | (u128::from(class) << SEQ_BITS)
            | u128::from(seq);
        Entry { key, event }
    }

    fn seq(&self) -> u64 {
        (self.key as u64) & ((1 << SEQ_BITS) - 1)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the earliest key is on top.
        other.key.cmp(&self.key)
    }
}

/// A priority queue of events in simulated time.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    side: [Option<Entry<E>>; SIDE_SLOTS],
    next_seq: u64,
    cancelled: BTreeSet<u64>,
    now: SimTime,
}

impl<E: Classified> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Classified> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            side: std::array::from_fn(|_| None),
            next_seq: 0,
            cancelled: BTreeSet::new(),
            now: SimTime::ZERO,
        }
    }

    /// The time of the last event taken (time never goes back).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `time` (clamped to now: the past cannot be
    /// scheduled).
    pub fn push(&mut self, time: SimTime, event: E) -> Ticket {
        let seq = self.next_seq;
        self.next_seq += 1;
        let class = event.class();
        self.heap
            .push(Entry::new(time.max(self.now), class, seq, event));
        Ticket(seq)
    }

    /// Schedules `event` at `time` in side slot `slot` (< [`SIDE_SLOTS`]),
    /// which must be empty: it has to have fired since it was last set.
    pub fn push_side(&mut self, slot: usize, time: SimTime, event: E) {
        debug_assert!(self.side[slot].is_none(), "side slot {slot} is taken");
        let seq = self.next_seq;
        self.next_seq += 1;
        let class = event.class();
        self.side[slot] = Some(Entry::new(time.max(self.now), class, seq, event));
    }

    /// Cancels a scheduled event (no effect if it already ran).
    pub fn cancel(&mut self, ticket: Ticket) {
        if ticket.0 < self.next_seq {
            self.cancelled.insert(ticket.0);
        }
    }

    /// Where the next live event is: the heap (`None`) or a side slot, with
    /// its key.
    fn next(&mut self) -> Option<(Option<usize>, u128)> {
        self.skip_cancelled();
        let mut best = self.heap.peek().map(|e| (None, e.key));
        for (i, s) in self.side.iter().enumerate() {
            if let Some(e) = s
                && best.is_none_or(|(_, k)| e.key < k)
            {
                best = Some((Some(i), e.key));
            }
        }
        best
    }

    /// The time of the next live event.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.next().map(|(_, key)| time_of(key))
    }

    /// Takes the next live event if it is due at or before `limit`.
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        let (at, key) = self.next()?;
        if time_of(key) > limit {
            return None;
        }
        let e = match at {
            Some(slot) => self.side[slot].take()?,
            None => self.heap.pop()?,
        };
        self.now = time_of(key);
        Some((self.now, e.event))
    }

    /// Events waiting (including cancelled ones not yet dropped).
    pub fn len(&self) -> usize {
        self.heap.len() + self.side.iter().filter(|s| s.is_some()).count()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn skip_cancelled(&mut self) {
        while let Some(top) = self.heap.peek() {
            if self.cancelled.is_empty() || !self.cancelled.remove(&top.seq()) {
                return;
            }
            self.heap.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Ev {
        Late(u32),
        Early(u32),
    }
    impl Classified for Ev {
        fn class(&self) -> u8 {
            match self {
                Ev::Early(_) => 0,
                Ev::Late(_) => 1,
            }
        }
    }

    #[test]
    fn total_order_is_time_then_class_then_insertion() {
        let mut q = EventQueue::new();
        let t = SimTime::from_secs(1);
        q.push(t, Ev::Late(1));
        q.push(t, Ev::Early(2));
        q.push(SimTime::ZERO, Ev::Late(3));
        q.push(t, Ev::Early(4));
        q.push(t, Ev::Late(5));
        let order: Vec<Ev> = std::iter::from_fn(|| q.pop_until(t).map(|(_, e)| e)).collect();
        assert_eq!(
            order,
            vec![
                Ev::Late(3),
                Ev::Early(2),
                Ev::Early(4),
                Ev::Late(1),
                Ev::Late(5)
            ]
        );
    }

    #[test]
    fn side_slots_take_their_place_in_the_total_order() {
        let t = SimTime::from_secs(1);
        // The same schedule through pushes only and through side slots
        // comes out in the same order.
        let mut a = EventQueue::new();
        let mut b = EventQueue::new();
        a.push(t, Ev::Late(1));
        b.push(t, Ev::Late(1));
        a.push(t, Ev::Early(2));
        b.push_side(1, t, Ev::Early(2));
        a.push(t, Ev::Late(3));
        b.push_side(0, t, Ev::Late(3));
        a.push(SimTime::ZERO, Ev::Early(4));
        b.push(SimTime::ZERO, Ev::Early(4));
        a.push(t, Ev::Early(6));
        b.push(t, Ev::Early(6));
        assert_eq!(b.len(), 5);
        let drain = |q: &mut EventQueue<Ev>| -> Vec<Ev> {
            std::iter::from_fn(|| q.pop_until(t).map(|(_, e)| e)).collect()
        };
        let want = drain(&mut a);
        assert_eq!(
            want,
            vec![
                Ev::Early(4),
                Ev::Early(2),
                Ev::Early(6),
                Ev::Late(1),
                Ev::Late(3)
            ]
        );
        assert_eq!(drain(&mut b), want);
        assert!(b.is_empty() && b.peek_time().is_none());
        b.push_side(0, t, Ev::Late(7)); // a slot is free again once it fired
        assert_eq!(b.pop_until(t), Some((t, Ev::Late(7))));
    }

    #[test]
    fn cancelled_events_never_come_out_and_limits_hold() {
        let mut q = EventQueue::new();
        let a = q.push(SimTime::from_secs(1), Ev::Early(1));
        q.push(SimTime::from_secs(2), Ev::Early(2));
        q.cancel(a);
        assert_eq!(q.peek_time(), Some(SimTime::from_secs(2)));
        assert_eq!(q.pop_until(SimTime::from_secs(1)), None);
        assert_eq!(
            q.pop_until(SimTime::from_secs(5)),
            Some((SimTime::from_secs(2), Ev::Early(2)))
        );
        // The past is clamped to now.
        q.push(SimTime::ZERO, Ev::Late(9));
        assert_eq!(q.peek_time(), Some(SimTime::from_secs(2)));
    }
}

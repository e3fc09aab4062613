//! `struct sk_buff_head`: a doubly linked list of packets with a length.
//!
//! The links live in the pool's heads, so a queue is three words, costs no
//! memory per entry, and every operation (push and pop at both ends, unlink
//! from the middle, insert beside an entry, splice) is O(1).
//!
//! A queue owns the packets on it. Drain it ([`SkbQueue::pop_front`]) or
//! [`SkbQueue::purge`] it before dropping it, or the pool's accounting shows
//! the packets as leaked.

use super::storage::{F_QUEUED, NIL};
use super::{SkBuff, SkbError, SkbPool, SkbRef};

/// A queue of packets (`struct sk_buff_head`), linked through the pool's
/// heads: three words, O(1) operations. It owns what is on it: drain or
/// purge it before dropping it, or the pool shows the packets as leaked.
#[derive(Debug)]
pub struct SkbQueue {
    head: u16,
    tail: u16,
    len: u32,
}

impl Default for SkbQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl SkbQueue {
    /// An empty queue (`skb_queue_head_init`); usable in a `static`.
    pub const fn new() -> SkbQueue {
        SkbQueue { head: NIL, tail: NIL, len: 0 }
    }

    /// Packets on the queue (`skb_queue_len`).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when the queue holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first packet, without taking it (`skb_peek`).
    pub fn front(&self, pool: &SkbPool) -> Option<SkbRef> {
        (self.head != NIL).then(|| pool.ref_of(self.head))
    }

    /// The last packet, without taking it (`skb_peek_tail`).
    pub fn back(&self, pool: &SkbPool) -> Option<SkbRef> {
        (self.tail != NIL).then(|| pool.ref_of(self.tail))
    }

    /// The packet after `r` on its queue.
    pub fn next(&self, pool: &SkbPool, r: SkbRef) -> Option<SkbRef> {
        let i = self.member(pool, r).ok()?;
        let n = pool.heads[i].next;
        (n != NIL).then(|| pool.ref_of(n))
    }

    /// The packet before `r` on its queue.
    pub fn prev(&self, pool: &SkbPool, r: SkbRef) -> Option<SkbRef> {
        let i = self.member(pool, r).ok()?;
        let p = pool.heads[i].prev;
        (p != NIL).then(|| pool.ref_of(p))
    }

    /// Iterate from front to back.
    pub fn iter<'p, 'a>(&self, pool: &'p SkbPool<'a>) -> QueueIter<'p, 'a> {
        QueueIter { pool, idx: self.head }
    }

    /// Append at the back (`__skb_queue_tail`). A foreign or stale handle is
    /// counted in [`super::PoolStats::bad_handles`] and not queued.
    pub fn push_back(&mut self, pool: &mut SkbPool, skb: SkBuff) {
        if let Some(i) = Self::take(pool, skb) {
            self.link_between(pool, i, self.tail, NIL);
        }
    }

    /// Prepend at the front (`__skb_queue_head`).
    pub fn push_front(&mut self, pool: &mut SkbPool, skb: SkBuff) {
        if let Some(i) = Self::take(pool, skb) {
            self.link_between(pool, i, NIL, self.head);
        }
    }

    /// Insert `skb` right after `at`, which must be on this queue (`__skb_queue_after`).
    pub fn insert_after(&mut self, pool: &mut SkbPool, at: SkbRef, skb: SkBuff) -> Result<(), (SkbError, SkBuff)> {
        let at = match self.member(pool, at) {
            Ok(i) => i as u16,
            Err(e) => return Err((e, skb)),
        };
        let next = pool.heads[usize::from(at)].next;
        self.insert(pool, skb, at, next)
    }

    /// Insert `skb` right before `at`, which must be on this queue (`__skb_insert`).
    pub fn insert_before(&mut self, pool: &mut SkbPool, at: SkbRef, skb: SkBuff) -> Result<(), (SkbError, SkBuff)> {
        let at = match self.member(pool, at) {
            Ok(i) => i as u16,
            Err(e) => return Err((e, skb)),
        };
        let prev = pool.heads[usize::from(at)].prev;
        self.insert(pool, skb, prev, at)
    }

    /// Take the first packet (`__skb_dequeue`).
    pub fn pop_front(&mut self, pool: &mut SkbPool) -> Option<SkBuff> {
        (usize::from(self.head) < pool.heads.len()).then(|| self.unlink_idx(pool, self.head))
    }

    /// Take the last packet (`__skb_dequeue_tail`).
    pub fn pop_back(&mut self, pool: &mut SkbPool) -> Option<SkBuff> {
        (usize::from(self.tail) < pool.heads.len()).then(|| self.unlink_idx(pool, self.tail))
    }

    /// Take packet `r` out of the middle of this queue (`__skb_unlink`).
    ///
    /// `r` must come from this queue; the checks catch a stale reference, a
    /// packet on no queue, and the ends of another queue, but not the middle
    /// of another queue: that corrupts both queues' lengths (not memory, and
    /// nothing panics). A queue used with a pool other than its own finds
    /// nothing on it.
    pub fn unlink(&mut self, pool: &mut SkbPool, r: SkbRef) -> Result<SkBuff, SkbError> {
        let i = self.member(pool, r)?;
        Ok(self.unlink_idx(pool, i as u16))
    }

    /// Move every packet of `other` to the back of this queue, leaving
    /// `other` empty (`skb_queue_splice_tail_init`).
    pub fn splice_back(&mut self, pool: &mut SkbPool, other: &mut SkbQueue) {
        if other.head == NIL {
            return;
        }
        if self.tail == NIL {
            self.head = other.head;
        } else {
            if let Some(t) = pool.heads.get_mut(usize::from(self.tail)) {
                t.next = other.head;
            }
            if let Some(h) = pool.heads.get_mut(usize::from(other.head)) {
                h.prev = self.tail;
            }
        }
        self.tail = other.tail;
        self.len = self.len.saturating_add(other.len);
        *other = SkbQueue::new();
    }

    /// Move every packet of `other` to the front of this queue, leaving
    /// `other` empty (`skb_queue_splice_init`).
    pub fn splice_front(&mut self, pool: &mut SkbPool, other: &mut SkbQueue) {
        core::mem::swap(self, other);
        self.splice_back(pool, other);
    }

    /// Free every packet on the queue (`__skb_queue_purge`).
    pub fn purge(&mut self, pool: &mut SkbPool) {
        while let Some(skb) = self.pop_front(pool) {
            pool.free(skb);
        }
    }

    /// Validate an owning handle and take it onto a queue.
    fn take(pool: &mut SkbPool, skb: SkBuff) -> Option<u16> {
        match pool.slot(&skb) {
            Some(i) => {
                pool.heads[i].flags |= F_QUEUED;
                skb.consumed();
                Some(i as u16)
            }
            None => {
                pool.stats.bad_handles += 1;
                skb.consumed();
                None
            }
        }
    }

    fn insert(&mut self, pool: &mut SkbPool, skb: SkBuff, prev: u16, next: u16) -> Result<(), (SkbError, SkBuff)> {
        if pool.slot(&skb).is_none() {
            return Err((SkbError::BadHandle, skb));
        }
        if let Some(i) = Self::take(pool, skb) {
            self.link_between(pool, i, prev, next);
        }
        Ok(())
    }

    /// Link head `i` between `prev` and `next` (either may be `NIL` for an end).
    /// `i` is a live head of `pool`; `prev` and `next` are this queue's, so
    /// they may name nothing in a pool the queue does not belong to (then
    /// they are not written).
    fn link_between(&mut self, pool: &mut SkbPool, i: u16, prev: u16, next: u16) {
        if let Some(h) = pool.heads.get_mut(usize::from(i)) {
            h.prev = prev;
            h.next = next;
        }
        if prev == NIL {
            self.head = i;
        } else if let Some(p) = pool.heads.get_mut(usize::from(prev)) {
            p.next = i;
        }
        if next == NIL {
            self.tail = i;
        } else if let Some(n) = pool.heads.get_mut(usize::from(next)) {
            n.prev = i;
        }
        self.len = self.len.saturating_add(1);
    }

    /// `i` is a head of `pool` (the callers check); its links are the pool's.
    fn unlink_idx(&mut self, pool: &mut SkbPool, i: u16) -> SkBuff {
        let Some(h) = pool.heads.get_mut(usize::from(i)) else {
            return SkBuff { idx: NIL, generation: 0 };
        };
        let (prev, next) = (h.prev, h.next);
        h.prev = NIL;
        h.next = NIL;
        h.flags &= !F_QUEUED;
        let generation = h.generation;
        if prev == NIL {
            self.head = next;
        } else if let Some(p) = pool.heads.get_mut(usize::from(prev)) {
            p.next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else if let Some(n) = pool.heads.get_mut(usize::from(next)) {
            n.prev = prev;
        }
        // A length that a misused unlink corrupted stops at zero.
        self.len = self.len.saturating_sub(1);
        SkBuff { idx: i, generation }
    }

    /// Check that `r` is a live packet on a queue and consistent with this one's ends.
    fn member(&self, pool: &SkbPool, r: SkbRef) -> Result<usize, SkbError> {
        let i = pool.slot(&r).ok_or(SkbError::BadHandle)?;
        let h = &pool.heads[i];
        let ends_agree = (h.prev != NIL || self.head == i as u16) && (h.next != NIL || self.tail == i as u16);
        if h.flags & F_QUEUED == 0 || !ends_agree || self.len == 0 {
            return Err(SkbError::NotQueued);
        }
        Ok(i)
    }
}

/// Iterator over a queue's packets, front to back. Made by [`SkbQueue::iter`].
pub struct QueueIter<'p, 'a> {
    pool: &'p SkbPool<'a>,
    idx: u16,
}

impl Iterator for QueueIter<'_, '_> {
    type Item = SkbRef;

    fn next(&mut self) -> Option<SkbRef> {
        if self.idx == NIL {
            return None;
        }
        let r = self.pool.ref_of(self.idx);
        self.idx = self.pool.heads.get(usize::from(self.idx)).map_or(NIL, |h| h.next);
        Some(r)
    }
}

//! IPv4 reassembly (Linux's `ip_fragment.c`, `ip_defrag`): fragments of
//! several datagrams at once wait in a bounded number of slots, their bytes
//! charged to the reassembly's memory owner, until the datagram is whole,
//! overlaps, or times out.
//!
//! Fragments are kept sorted by offset. An exact duplicate is dropped alone;
//! any other overlap abandons the whole datagram (RFC 5722's rule, which
//! Linux applies to IPv4 since 4.19, closing the overlapping-fragment
//! attacks). A datagram that would exceed 65535 bytes is abandoned too. When
//! every slot is busy, the one that expires first makes room, so nothing is
//! pinned forever; after [`TIMEOUT`] a datagram is abandoned and, if its first
//! fragment arrived, the caller answers with ICMP time exceeded (RFC 792,
//! code 1).

use core::net::Ipv4Addr;
use core::time::Duration;

use crate::netns::NsId;
use crate::skb::{Checksum, OwnerId, SkBuff, SkbPool, SkbQueue, SkbRef};
use crate::stats::DropReason;
use crate::time::{Earliest, Instant};
use crate::wire::Ipv4Packet;

//= https://www.rfc-editor.org/rfc/rfc1122#section-3.3.2
//# The IP layer MUST implement reassembly of IP datagrams. [...] there
//# MUST be a mechanism by which the transport layer can learn MMS_R
//# [...] The recommended value for the reassembly timeout is 60 seconds;
/// How long a datagram may take to arrive whole (Linux's `ipfrag_time`, 30 s).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A datagram being reassembled.
#[derive(Debug)]
pub struct ReasmSlot {
    ns: NsId,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ident: u16,
    frags: SkbQueue,
    received: u32,
    total: Option<u32>,
    expires: Instant,
}

/// The outcome of [`Reassembly::add`].
#[derive(Debug)]
pub enum ReasmResult {
    /// The datagram is whole: here it is, as one packet from its IPv4 header.
    Complete(SkBuff),
    /// The fragment waits for the others.
    Held,
    /// The fragment (and maybe its datagram) was dropped and freed.
    Dropped(DropReason),
}

/// A datagram given up on.
#[derive(Debug)]
pub struct Expired {
    /// Its namespace.
    pub ns: NsId,
    /// Its first fragment, when that arrived (for ICMP time exceeded; the
    /// caller frees it).
    pub first: Option<SkBuff>,
}

/// What a fragment says about itself.
struct FragInfo {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ident: u16,
    ihl: usize,
    offset: u32,
    end: u32,
    more: bool,
}

fn frag_info(pool: &SkbPool, skb: &impl crate::skb::SkbId) -> Option<FragInfo> {
    // Only the header need be linear: a large fragment may be a chain.
    let ip = Ipv4Packet::new_quoted(pool.data(skb)).ok()?;
    let ihl = ip.header_len();
    let offset = u32::from(ip.frag_offset());
    let len = u32::from(ip.total_len()).checked_sub(ihl as u32)?;
    Some(FragInfo {
        src: ip.src(),
        dst: ip.dst(),
        proto: ip.protocol().0,
        ident: ip.ident(),
        ihl,
        offset,
        end: offset + len,
        more: ip.more_frags(),
    })
}

/// The reassembly queues over caller-provided slots.
pub struct Reassembly<'a> {
    slots: &'a mut [Option<ReasmSlot>],
    /// The namespace of the datagram the last [`Reassembly::add`]
    /// abandoned to make room, if it did.
    evicted: Option<NsId>,
    /// When the first datagram expires.
    earliest: Earliest,
}

impl<'a> Reassembly<'a> {
    /// Memory the fragments may hold, in bytes (`ipfrag_high_thresh`).
    pub const MEM_LIMIT: u32 = 512 * 1024;

    /// Queues over `slots`.
    pub fn new(slots: &'a mut [Option<ReasmSlot>]) -> Self {
        let mut earliest = Earliest::NONE;
        earliest.set(slots.iter().flatten().map(|s| s.expires));
        Reassembly { slots, evicted: None, earliest }
    }

    /// Take slot `i`'s datagram out.
    fn take(&mut self, i: usize) -> Option<ReasmSlot> {
        let s = self.slots.get_mut(i)?.take()?;
        if !self.earliest.update(Some(s.expires), None) {
            self.earliest.set(self.slots.iter().flatten().map(|s| s.expires));
        }
        Some(s)
    }

    /// Datagrams being reassembled.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The namespace whose datagram the last [`Reassembly::add`] abandoned
    /// to make room, if it did: a reassembly failure to count there, not in
    /// the namespace of the fragment that took its place.
    pub fn take_eviction(&mut self) -> Option<NsId> {
        self.evicted.take()
    }

    /// When the next datagram expires.
    pub fn poll_at(&self) -> Option<Instant> {
        debug_assert_eq!(self.earliest.get(), self.slots.iter().flatten().map(|s| s.expires).min());
        self.earliest.get()
    }

    /// Add fragment `skb` (data at its IPv4 header, trimmed to its total
    /// length) of namespace `ns`, charging it to `owner`.
    pub fn add(&mut self, pool: &mut SkbPool, owner: OwnerId, ns: NsId, skb: SkBuff, now: Instant) -> ReasmResult {
        let Some(f) = frag_info(pool, &skb) else {
            pool.free(skb);
            return ReasmResult::Dropped(DropReason::BadHeaderLen);
        };
        //= https://www.rfc-editor.org/rfc/rfc791#section-3.2
        //# The fragment offset is measured in units of 8 octets [...] a
        //# datagram can be up to 65,535 octets long.
        let bad_len = f.more && (f.end - f.offset) % 8 != 0;
        let too_big = f.end as usize + f.ihl > usize::from(u16::MAX);
        let found = self.find(ns, &f);
        if too_big || bad_len {
            // It dooms its datagram, if one is waiting, but must not evict
            // another to make room for itself.
            pool.free(skb);
            if let Some(i) = found {
                self.kill(pool, i);
            }
            return ReasmResult::Dropped(if too_big { DropReason::ReasmTooBig } else { DropReason::BadTotalLen });
        }
        let i = match found {
            Some(i) => i,
            None => self.make_room(pool, ns, &f, now),
        };
        if pool.charge(&skb, owner).is_err() {
            pool.free(skb);
            self.kill(pool, i);
            return ReasmResult::Dropped(DropReason::ReasmNoSpace);
        }
        match self.insert(pool, i, &f, skb) {
            Err(why) => ReasmResult::Dropped(why),
            Ok(false) => ReasmResult::Held,
            // Each fragment fit 65535 bytes with its own header; the whole
            // carries the first fragment's, which may be longer.
            Ok(true) if self.whole_len(pool, i).is_none_or(|n| n > usize::from(u16::MAX)) => {
                self.kill(pool, i);
                ReasmResult::Dropped(DropReason::ReasmTooBig)
            }
            Ok(true) => match self.assemble(pool, i) {
                Some(whole) => ReasmResult::Complete(whole),
                None => ReasmResult::Dropped(DropReason::NoMemory),
            },
        }
    }

    /// Bytes of slot `i`'s datagram once whole: the first fragment's
    /// header and every payload byte.
    fn whole_len(&self, pool: &SkbPool, i: usize) -> Option<usize> {
        let slot = self.slots.get(i)?.as_ref()?;
        let first = frag_info(pool, &slot.frags.front(pool)?)?;
        Some(first.ihl + slot.total? as usize)
    }

    fn find(&self, ns: NsId, f: &FragInfo) -> Option<usize> {
        self.slots.iter().position(|s| {
            s.as_ref().is_some_and(|s| (s.ns, s.src, s.dst, s.proto, s.ident) == (ns, f.src, f.dst, f.proto, f.ident))
        })
    }

    /// A slot for a new datagram: a free one, or the one expiring first.
    fn make_room(&mut self, pool: &mut SkbPool, ns: NsId, f: &FragInfo, now: Instant) -> usize {
        let i = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                let oldest =
                    (0..self.slots.len()).min_by_key(|&i| self.slots[i].as_ref().map_or(Instant::ZERO, |s| s.expires));
                let i = oldest.unwrap_or(0);
                self.evicted = self.slots.get(i).and_then(Option::as_ref).map(|s| s.ns);
                self.kill(pool, i);
                i
            }
        };
        self.slots[i] = Some(ReasmSlot {
            ns,
            src: f.src,
            dst: f.dst,
            proto: f.proto,
            ident: f.ident,
            frags: SkbQueue::new(),
            received: 0,
            total: None,
            expires: now + TIMEOUT,
        });
        let _ = self.earliest.update(None, Some(now + TIMEOUT));
        i
    }

    fn kill(&mut self, pool: &mut SkbPool, i: usize) {
        if let Some(mut s) = self.take(i) {
            s.frags.purge(pool);
        }
    }

    /// Place the fragment in offset order. `Ok(true)` when the datagram is
    /// now whole. On an overlap the datagram is abandoned.
    fn insert(&mut self, pool: &mut SkbPool, i: usize, f: &FragInfo, skb: SkBuff) -> Result<bool, DropReason> {
        let Some(slot) = self.slots[i].as_mut() else {
            pool.free(skb);
            return Err(DropReason::ReasmNoSpace);
        };
        let mut after: Option<SkbRef> = None;
        let mut verdict = Ok(());
        for r in slot.frags.iter(pool) {
            let Some(o) = frag_info(pool, &r) else { continue };
            if o.offset == f.offset && o.end == f.end {
                verdict = Err(false);
                break;
            }
            if o.offset < f.end && f.offset < o.end {
                verdict = Err(true);
                break;
            }
            if o.offset < f.offset {
                after = Some(r);
            }
        }
        let last_conflict = match slot.total {
            Some(total) => f.end > total || (!f.more && f.end != total),
            None => !f.more && slot.frags.iter(pool).any(|r| frag_info(pool, &r).is_some_and(|o| o.end > f.end)),
        };
        match verdict {
            Err(false) => {
                pool.free(skb);
                return Err(DropReason::ReasmDuplicate);
            }
            Err(true) => {
                pool.free(skb);
                self.kill(pool, i);
                return Err(DropReason::ReasmOverlap);
            }
            Ok(()) if last_conflict => {
                pool.free(skb);
                self.kill(pool, i);
                return Err(DropReason::ReasmOverlap);
            }
            Ok(()) => {}
        }
        let inserted = match after {
            Some(r) => slot.frags.insert_after(pool, r, skb),
            None => {
                slot.frags.push_front(pool, skb);
                Ok(())
            }
        };
        if let Err((_, skb)) = inserted {
            pool.free(skb);
            return Err(DropReason::ReasmNoSpace);
        }
        slot.received += f.end - f.offset;
        if !f.more {
            slot.total = Some(f.end);
        }
        Ok(slot.total == Some(slot.received))
    }

    /// Join the fragments of slot `i` into one packet behind the first
    /// fragment's header. `None` when that fails (the fragments are freed):
    /// a datagram with a piece missing is never handed up.
    fn assemble(&mut self, pool: &mut SkbPool, i: usize) -> Option<SkBuff> {
        let mut slot = self.take(i)?;
        let first = slot.frags.pop_front(pool)?;
        let joined = Self::join(pool, &first, &mut slot.frags, slot.total.unwrap_or(0));
        slot.frags.purge(pool);
        if joined.is_none() {
            pool.free(first);
            return None;
        }
        Some(first)
    }

    /// Append the rest of the fragments to `first` and rewrite its header
    /// for the whole datagram of `total` payload bytes. `None` on the first
    /// failure, leaving what is not yet appended in `rest`.
    fn join(pool: &mut SkbPool, first: &SkBuff, rest: &mut SkbQueue, total: u32) -> Option<()> {
        while let Some(frag) = rest.pop_front(pool) {
            let trimmed = frag_info(pool, &frag).is_some_and(|o| {
                pool.pull(&frag, o.ihl).is_ok() && pool.trim(&frag, (o.end - o.offset) as usize).is_ok()
            });
            if !trimmed {
                pool.free(frag);
                return None;
            }
            if let Err((_, frag)) = pool.append_skb(first, frag) {
                pool.free(frag);
                return None;
            }
        }
        let _ = pool.charge(first, OwnerId::SYSTEM);
        let ihl = frag_info(pool, first)?.ihl;
        // Writing the header un-shares a cloned first fragment, which needs
        // a buffer the pool may not have.
        let hdr = pool.data_mut(first).ok()?.get_mut(..ihl)?;
        let mut ip = Ipv4Packet::new_quoted(hdr).ok()?;
        ip.set_total_len((ihl as u32 + total) as u16);
        ip.set_more_frags(false);
        ip.set_frag_offset(0);
        ip.fill_checksum();
        if let Ok(m) = pool.meta_mut(first) {
            // Per-fragment checksum states say nothing about the whole.
            m.csum = Checksum::None;
        }
        Some(())
    }

    /// The next datagram that has timed out by `now`, taken out. Call until
    /// `None`.
    pub fn next_expired(&mut self, pool: &mut SkbPool, now: Instant) -> Option<Expired> {
        if !self.earliest.due(now) {
            return None;
        }
        let i = self.slots.iter().position(|s| s.as_ref().is_some_and(|s| s.expires <= now))?;
        let mut slot = self.take(i)?;
        let first = match slot.frags.front(pool) {
            Some(r) if frag_info(pool, &r).is_some_and(|f| f.offset == 0) => slot.frags.pop_front(pool),
            _ => None,
        };
        slot.frags.purge(pool);
        Some(Expired { ns: slot.ns, first })
    }

    /// Abandon every datagram (the world is shutting down).
    pub fn clear(&mut self, pool: &mut SkbPool) {
        for i in 0..self.slots.len() {
            self.kill(pool, i);
        }
    }

    /// Abandon the datagrams of namespace `ns` (it is being deleted).
    pub fn forget_ns(&mut self, pool: &mut SkbPool, ns: NsId) {
        for i in 0..self.slots.len() {
            if self.slots[i].as_ref().is_some_and(|s| s.ns == ns) {
                self.kill(pool, i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::frag::ip_fragment;
    use crate::skb::PoolStorage;
    use crate::wire::{IpProtocol, Ipv4Repr};

    type St = PoolStorage<256, 128, 2048, 4>;

    /// A UDP-sized datagram of `len` payload bytes with identification `id`.
    fn datagram(pool: &mut SkbPool, id: u16, len: usize) -> SkBuff {
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: IpProtocol::UDP,
            ttl: 64,
            ident: id,
            dont_frag: false,
            payload_len: len as u16,
            dscp: 0,
            ecn: 0,
        };
        let skb = pool.alloc_with_headroom(OwnerId::SYSTEM, 64).unwrap();
        let mut bytes = vec![0u8; 20 + len];
        repr.emit(&mut bytes).unwrap();
        for (i, b) in bytes[20..].iter_mut().enumerate() {
            *b = (i * 7 + usize::from(id)) as u8;
        }
        pool.append(&skb, &bytes).unwrap();
        skb
    }

    fn fragments(pool: &mut SkbPool, id: u16, len: usize, mtu: u16) -> Vec<SkBuff> {
        let d = datagram(pool, id, len);
        let mut q = SkbQueue::new();
        ip_fragment(pool, &d, mtu, OwnerId::SYSTEM, &mut q).unwrap();
        pool.free(d);
        let mut v = Vec::new();
        while let Some(s) = q.pop_front(pool) {
            v.push(s);
        }
        v
    }

    fn bytes(pool: &SkbPool, s: &SkBuff) -> Vec<u8> {
        pool.chunks(s).flatten().copied().collect()
    }

    fn setup() -> (Box<St>, [Option<ReasmSlot>; 4]) {
        (Box::new(St::new()), [const { None }; 4])
    }

    #[test]
    fn out_of_order_fragments_of_two_datagrams_reassemble_exactly() {
        let (mut st, mut slots) = setup();
        let mut pool = SkbPool::new(&mut st);
        let owner = pool.register_owner(Reassembly::MEM_LIMIT).unwrap();
        let mut r = Reassembly::new(&mut slots);
        let want_a = {
            let d = datagram(&mut pool, 1, 5000);
            let b = bytes(&pool, &d);
            pool.free(d);
            b
        };
        let want_b = {
            let d = datagram(&mut pool, 2, 3000);
            let b = bytes(&pool, &d);
            pool.free(d);
            b
        };
        let mut a = fragments(&mut pool, 1, 5000, 1500);
        let mut b = fragments(&mut pool, 2, 3000, 576);
        assert_eq!((a.len(), b.len()), (4, 6));
        a.reverse();
        b.swap(0, 3);
        let mut done = Vec::new();
        let now = Instant::ZERO;
        while !a.is_empty() || !b.is_empty() {
            for list in [&mut a, &mut b] {
                if let Some(f) = list.pop() {
                    match r.add(&mut pool, owner, NsId(0), f, now) {
                        ReasmResult::Complete(s) => done.push(s),
                        ReasmResult::Held => {}
                        ReasmResult::Dropped(why) => panic!("{why:?}"),
                    }
                }
            }
        }
        assert_eq!(done.len(), 2);
        for s in done {
            let got = bytes(&pool, &s);
            let ip = Ipv4Packet::new_checked(&got[..]).unwrap();
            assert!(ip.verify_checksum());
            assert!(!ip.is_fragment());
            assert_eq!(got, if ip.ident() == 1 { want_a.clone() } else { want_b.clone() });
            pool.free(s);
        }
        assert!(r.is_empty());
        assert_eq!(pool.owner_stats(owner).unwrap().used, 0);
        assert!(pool.stats().is_idle());
    }

    #[test]
    fn duplicates_are_dropped_alone_overlaps_drop_the_datagram() {
        let (mut st, mut slots) = setup();
        let mut pool = SkbPool::new(&mut st);
        let owner = pool.register_owner(Reassembly::MEM_LIMIT).unwrap();
        let mut r = Reassembly::new(&mut slots);
        let now = Instant::ZERO;
        let f = fragments(&mut pool, 3, 4000, 1500);
        let dup = pool.copy(&f[0], OwnerId::SYSTEM).unwrap();
        let mut it = f.into_iter();
        assert!(matches!(r.add(&mut pool, owner, NsId(0), it.next().unwrap(), now), ReasmResult::Held));
        assert!(matches!(r.add(&mut pool, owner, NsId(0), dup, now), ReasmResult::Dropped(DropReason::ReasmDuplicate)));
        assert_eq!(r.len(), 1, "the datagram survives a duplicate");
        assert!(matches!(r.add(&mut pool, owner, NsId(0), it.next().unwrap(), now), ReasmResult::Held));
        match r.add(&mut pool, owner, NsId(0), it.next().unwrap(), now) {
            ReasmResult::Complete(s) => {
                assert_eq!(pool.len(&s), 4020);
                pool.free(s);
            }
            other => panic!("expected the whole datagram, got {other:?}"),
        }
        // Now an overlap: a second datagram whose later fragment overlaps the first.
        let mut g = fragments(&mut pool, 4, 4000, 1500);
        let h = fragments(&mut pool, 4, 4000, 1004);
        let first = g.remove(0);
        assert!(matches!(r.add(&mut pool, owner, NsId(0), first, now), ReasmResult::Held));
        let mut h = h.into_iter();
        let _ = h.next().map(|s| pool.free(s));
        let overlapping = h.next().unwrap();
        assert!(matches!(
            r.add(&mut pool, owner, NsId(0), overlapping, now),
            ReasmResult::Dropped(DropReason::ReasmOverlap)
        ));
        assert!(r.is_empty(), "datagram 4 was abandoned");
        for s in g.into_iter().chain(h) {
            pool.free(s);
        }
        r.clear(&mut pool);
        assert!(pool.stats().is_idle());
    }

    #[test]
    fn timeouts_give_back_the_first_fragment_and_full_slots_evict_the_oldest() {
        let (mut st, mut slots) = setup();
        let mut pool = SkbPool::new(&mut st);
        let owner = pool.register_owner(Reassembly::MEM_LIMIT).unwrap();
        let mut r = Reassembly::new(&mut slots);
        for id in 0..5u16 {
            let mut f = fragments(&mut pool, id, 3000, 1500);
            let first = f.remove(0);
            let t = Instant::from_secs(u64::from(id));
            // Datagram 0 is another namespace's: its eviction is its own.
            let ns = NsId(u8::from(id == 0));
            assert!(matches!(r.add(&mut pool, owner, ns, first, t), ReasmResult::Held));
            f.into_iter().for_each(|s| pool.free(s));
            let victim = if id == 4 { Some(NsId(1)) } else { None };
            assert_eq!(r.take_eviction(), victim, "only datagram 4 found the slots full");
        }
        assert_eq!(r.len(), 4, "four slots");
        assert_eq!(r.poll_at(), Some(Instant::from_secs(1) + TIMEOUT));
        assert!(r.next_expired(&mut pool, Instant::from_secs(30)).is_none());
        let e = r.next_expired(&mut pool, Instant::from_secs(31)).unwrap();
        let first = e.first.expect("the first fragment arrived");
        assert_eq!(Ipv4Packet::new_quoted(pool.data(&first)).unwrap().ident(), 1);
        pool.free(first);
        r.clear(&mut pool);
        assert!(pool.stats().is_idle());
    }

    #[test]
    fn memory_limit_and_size_limit_are_enforced() {
        let (mut st, mut slots) = setup();
        let mut pool = SkbPool::new(&mut st);
        let owner = pool.register_owner(2 * 2048).unwrap();
        let mut r = Reassembly::new(&mut slots);
        let f = fragments(&mut pool, 9, 6000, 1500);
        let mut res = Vec::new();
        for s in f {
            res.push(r.add(&mut pool, owner, NsId(0), s, Instant::ZERO));
        }
        use ReasmResult::{Dropped, Held};
        assert!(matches!(res[..], [Held, Held, Dropped(DropReason::ReasmNoSpace), Held, Held]), "{res:?}");
        assert_eq!(r.len(), 1, "the later fragments started over after the datagram was abandoned");
        r.clear(&mut pool);
        // A fragment reaching past 65535 bytes.
        let big = datagram(&mut pool, 10, 100);
        if let Ok(h) = pool.data_mut(&big) {
            let mut ip = Ipv4Packet::new_checked(&mut h[..]).unwrap();
            ip.set_frag_offset(65_528);
            ip.fill_checksum();
        }
        assert!(matches!(
            r.add(&mut pool, owner, NsId(0), big, Instant::ZERO),
            ReasmResult::Dropped(DropReason::ReasmTooBig)
        ));
        assert!(pool.stats().is_idle());
    }

    #[test]
    fn a_datagram_that_cannot_be_rewritten_is_dropped_and_freed() {
        // The first fragment shares its buffer with a clone still held
        // elsewhere (a tap, a flooding bridge), so fixing the header must
        // copy it; with the pool exhausted that fails. The fragments must
        // go back to the pool, not stay allocated with no owner.
        let (mut st, mut slots) = setup();
        let mut pool = SkbPool::new(&mut st);
        let owner = pool.register_owner(Reassembly::MEM_LIMIT).unwrap();
        let mut r = Reassembly::new(&mut slots);
        let mut f = fragments(&mut pool, 5, 3000, 1500);
        let tap = pool.clone(&f[0], OwnerId::SYSTEM).unwrap();
        let last = f.pop().unwrap();
        for s in f {
            assert!(matches!(r.add(&mut pool, owner, NsId(0), s, Instant::ZERO), ReasmResult::Held));
        }
        let mut hog = Vec::new();
        while let Ok(s) = pool.alloc(OwnerId::SYSTEM) {
            hog.push(s);
        }
        assert!(matches!(
            r.add(&mut pool, owner, NsId(0), last, Instant::ZERO),
            ReasmResult::Dropped(DropReason::NoMemory)
        ));
        assert!(r.is_empty());
        for s in hog.into_iter().chain([tap]) {
            pool.free(s);
        }
        assert_eq!(pool.owner_stats(owner).unwrap().used, 0);
        assert!(pool.stats().is_idle(), "{:?}", pool.stats());
    }

    #[test]
    fn a_datagram_too_big_with_the_first_fragments_options_is_refused() {
        // The last fragment fits 65535 bytes with its own 20-byte header,
        // but the datagram carries the first fragment's 60-byte header:
        // 65575 bytes, which a 16-bit total length cannot say.
        let (mut st, mut slots) = setup();
        let mut pool = SkbPool::new(&mut st);
        let owner = pool.register_owner(Reassembly::MEM_LIMIT).unwrap();
        let mut r = Reassembly::new(&mut slots);
        let frag = |pool: &mut SkbPool, options: usize, offset: u16, len: usize, more: bool| {
            let ihl = 20 + options;
            let mut b = vec![0u8; ihl + len];
            b[0] = 0x40 | (ihl / 4) as u8;
            b[2..4].copy_from_slice(&((ihl + len) as u16).to_be_bytes());
            b[4..6].copy_from_slice(&7u16.to_be_bytes());
            b[6..8].copy_from_slice(&((offset / 8) | if more { 0x2000 } else { 0 }).to_be_bytes());
            (b[8], b[9]) = (64, 17);
            b[12..16].copy_from_slice(&[10, 0, 0, 1]);
            b[16..20].copy_from_slice(&[10, 0, 0, 2]);
            b[20..ihl].fill(1); // NOPs
            let mut ip = Ipv4Packet::new_checked(&mut b[..]).unwrap();
            ip.fill_checksum();
            let skb = pool.alloc_with_headroom(OwnerId::SYSTEM, 64).unwrap();
            pool.append(&skb, &b).unwrap();
            skb
        };
        let first = frag(&mut pool, 40, 0, 8, true);
        assert!(matches!(r.add(&mut pool, owner, NsId(0), first, Instant::ZERO), ReasmResult::Held));
        // The middle, offsets 8..65512, in 1480-byte fragments.
        let mut at = 8u16;
        while at < 65_512 {
            let len = 1480.min(usize::from(65_512 - at));
            let m = frag(&mut pool, 0, at, len, true);
            assert!(matches!(r.add(&mut pool, owner, NsId(0), m, Instant::ZERO), ReasmResult::Held), "at {at}");
            at += len as u16;
        }
        let last = frag(&mut pool, 0, 65_512, 3, false);
        assert!(matches!(
            r.add(&mut pool, owner, NsId(0), last, Instant::ZERO),
            ReasmResult::Dropped(DropReason::ReasmTooBig)
        ));
        assert!(r.is_empty());
        assert!(pool.stats().is_idle());
    }

    #[test]
    fn a_malformed_fragment_does_not_evict_a_waiting_datagram() {
        let (mut st, mut slots) = setup();
        let mut pool = SkbPool::new(&mut st);
        let owner = pool.register_owner(Reassembly::MEM_LIMIT).unwrap();
        let mut r = Reassembly::new(&mut slots);
        for id in 0..4u16 {
            let mut f = fragments(&mut pool, id, 3000, 1500);
            let first = f.remove(0);
            assert!(matches!(r.add(&mut pool, owner, NsId(0), first, Instant::ZERO), ReasmResult::Held));
            f.into_iter().for_each(|s| pool.free(s));
        }
        // Every slot is busy. A fragment of a new datagram with more to
        // come but a payload that is no multiple of 8 is refused outright.
        let bad = datagram(&mut pool, 99, 100);
        if let Ok(h) = pool.data_mut(&bad) {
            let mut ip = Ipv4Packet::new_checked(&mut h[..]).unwrap();
            ip.set_more_frags(true);
            ip.fill_checksum();
        }
        assert!(matches!(
            r.add(&mut pool, owner, NsId(0), bad, Instant::ZERO),
            ReasmResult::Dropped(DropReason::BadTotalLen)
        ));
        assert_eq!((r.len(), r.take_eviction()), (4, None), "the four waiting datagrams are all still there");
        r.clear(&mut pool);
        assert!(pool.stats().is_idle());
    }
}

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
use crate::time::Instant;
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
    let ip = Ipv4Packet::new_checked(pool.data(skb)).ok()?;
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
    evicted: u32,
}

impl<'a> Reassembly<'a> {
    /// Memory the fragments may hold, in bytes (`ipfrag_high_thresh`).
    pub const MEM_LIMIT: u32 = 512 * 1024;

    /// Queues over `slots`.
    pub fn new(slots: &'a mut [Option<ReasmSlot>]) -> Self {
        Reassembly { slots, evicted: 0 }
    }

    /// Datagrams being reassembled.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Datagrams abandoned to make room since the last call (each is a
    /// reassembly failure to count).
    pub fn take_evictions(&mut self) -> u32 {
        core::mem::take(&mut self.evicted)
    }

    /// When the next datagram expires.
    pub fn poll_at(&self) -> Option<Instant> {
        self.slots.iter().flatten().map(|s| s.expires).min()
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
        let i = match self.find(ns, &f) {
            Some(i) => i,
            None => self.make_room(pool, ns, &f, now),
        };
        if too_big || bad_len {
            pool.free(skb);
            self.kill(pool, i);
            return ReasmResult::Dropped(if too_big { DropReason::ReasmTooBig } else { DropReason::BadTotalLen });
        }
        if pool.charge(&skb, owner).is_err() {
            pool.free(skb);
            self.kill(pool, i);
            return ReasmResult::Dropped(DropReason::ReasmNoSpace);
        }
        match self.insert(pool, i, &f, skb) {
            Err(why) => ReasmResult::Dropped(why),
            Ok(false) => ReasmResult::Held,
            Ok(true) => match self.assemble(pool, i) {
                Some(whole) => ReasmResult::Complete(whole),
                None => ReasmResult::Dropped(DropReason::NoMemory),
            },
        }
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
                self.kill(pool, i);
                self.evicted += 1;
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
        i
    }

    fn kill(&mut self, pool: &mut SkbPool, i: usize) {
        if let Some(mut s) = self.slots.get_mut(i).and_then(Option::take) {
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
                return Err(DropReason::ReasmOverlap);
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
    /// fragment's header.
    fn assemble(&mut self, pool: &mut SkbPool, i: usize) -> Option<SkBuff> {
        let mut slot = self.slots[i].take()?;
        let first = slot.frags.pop_front(pool)?;
        let total = slot.total.unwrap_or(0);
        while let Some(frag) = slot.frags.pop_front(pool) {
            let info = frag_info(pool, &frag);
            let joined = info.is_some_and(|o| {
                pool.pull(&frag, o.ihl).is_ok() && pool.trim(&frag, (o.end - o.offset) as usize).is_ok()
            });
            if !joined {
                pool.free(frag);
                continue;
            }
            if let Err((_, frag)) = pool.append_skb(&first, frag) {
                pool.free(frag);
                slot.frags.purge(pool);
                pool.free(first);
                return None;
            }
        }
        let _ = pool.charge(&first, OwnerId::SYSTEM);
        let ihl = frag_info(pool, &first).map_or(20, |f| f.ihl);
        let hdr = pool.data_mut(&first).ok()?.get_mut(..ihl)?;
        let mut ip = Ipv4Packet::new_quoted(hdr).ok()?;
        ip.set_total_len((ihl as u32 + total) as u16);
        ip.set_more_frags(false);
        ip.set_frag_offset(0);
        ip.fill_checksum();
        if let Ok(m) = pool.meta_mut(&first) {
            // Per-fragment checksum states say nothing about the whole.
            m.csum = Checksum::None;
        }
        Some(first)
    }

    /// The next datagram that has timed out by `now`, taken out. Call until
    /// `None`.
    pub fn next_expired(&mut self, pool: &mut SkbPool, now: Instant) -> Option<Expired> {
        let i = self.slots.iter().position(|s| s.as_ref().is_some_and(|s| s.expires <= now))?;
        let mut slot = self.slots[i].take()?;
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
}

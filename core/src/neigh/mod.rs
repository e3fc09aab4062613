//! The neighbour table (Linux's `neighbour.c` for ARP): who owns each next
//! hop's IPv4 address on a link, with the NUD states of RFC 4861 §7.3 that
//! Linux applies to ARP too, timers driven by `now`, and a bounded queue of
//! packets waiting for an answer.
//!
//! An unknown next hop gets an `INCOMPLETE` entry and ARP requests (three,
//! one second apart); packets for it wait in the entry's queue, at most
//! [`QUEUE_PER_NEIGH`] each and [`QUEUE_TOTAL`] in all (a full queue lets
//! its oldest packet go for the newest, as Linux does), charged to the
//! table's own memory owner so a socket's buffer is released the moment its
//! packet is queued here. An answer makes the entry `REACHABLE` and sends the
//! queue; silence makes it `FAILED` and drops the queue (the caller answers
//! each with ICMP host unreachable). `REACHABLE` decays to `STALE` after the
//! reachable time; using a `STALE` entry starts `DELAY`, then `PROBE`
//! (unicast requests) unless traffic confirms the neighbour meanwhile.

mod arp;

use core::net::Ipv4Addr;
use core::time::Duration;

use crate::netns::NsId;
use crate::skb::{IfIndex, OwnerId, SkBuff, SkbPool, SkbQueue};
use crate::time::{Earliest, Instant};
use crate::wire::MacAddr;

/// Neighbour Unreachability Detection state (`NUD_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NudState {
    /// Asked, no answer yet.
    Incomplete,
    /// Confirmed recently.
    Reachable,
    /// Known but not confirmed lately.
    Stale,
    /// Used while stale: waiting for upper layers to confirm.
    Delay,
    /// Asking by unicast.
    Probe,
    /// Did not answer.
    Failed,
    /// Configured, never expires.
    Permanent,
}

/// Requests sent for an unknown neighbour before it fails (`mcast_probes`).
pub const MCAST_PROBES: u8 = 3;
/// Unicast probes of a stale neighbour before it fails (`ucast_probes`).
pub const UCAST_PROBES: u8 = 3;
/// Time between requests (`retrans_time`).
pub const RETRANS_TIME: Duration = Duration::from_secs(1);
/// Base reachable time (`base_reachable_time`), randomized ±50% per entry.
pub const BASE_REACHABLE_TIME: Duration = Duration::from_secs(30);
/// Wait before probing a stale neighbour that was used (`delay_first_probe_time`).
pub const DELAY_FIRST_PROBE: Duration = Duration::from_secs(5);
/// Unused stale or failed entries are collected after this (`gc_stale_time`).
pub const GC_STALE_TIME: Duration = Duration::from_secs(60);
/// Packets waiting for one neighbour.
pub const QUEUE_PER_NEIGH: usize = 8;
/// Packets waiting for all neighbours together.
pub const QUEUE_TOTAL: usize = 64;

/// One neighbour.
#[derive(Debug)]
pub struct Neighbour {
    ns: NsId,
    ifindex: IfIndex,
    ip: Ipv4Addr,
    mac: MacAddr,
    state: NudState,
    /// When the state's timer fires.
    timer: Instant,
    /// When the neighbour was last confirmed reachable.
    confirmed: Instant,
    /// When the entry was last used to send.
    used: Instant,
    probes: u8,
    queue: SkbQueue,
    next: u16,
}

/// Which neighbour: its address on an interface of a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NeighKey {
    /// Namespace.
    pub ns: NsId,
    /// Interface.
    pub ifindex: IfIndex,
    /// IPv4 address.
    pub ip: Ipv4Addr,
}

/// A snapshot of a neighbour, for listings (`ip neigh`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NeighInfo {
    /// Namespace.
    pub ns: NsId,
    /// Interface.
    pub ifindex: IfIndex,
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
    /// Its hardware address (zero while unresolved).
    pub mac: MacAddr,
    /// NUD state.
    pub state: NudState,
    /// Packets waiting for it.
    pub queued: usize,
}

/// Table counters (`/proc/net/stat/arp_cache`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NeighStats {
    /// Entries created.
    pub allocs: u64,
    /// Entries collected or evicted.
    pub destroys: u64,
    /// Lookups.
    pub lookups: u64,
    /// Lookups that found an entry.
    pub hits: u64,
    /// Entries that failed resolution.
    pub res_failed: u64,
    /// Packets dropped because a queue was full (`unresolved_discards`).
    pub unresolved_discards: u64,
    /// Requests sent.
    pub requests: u64,
    /// Times the table was full.
    pub table_fulls: u64,
}

/// What to do with a packet handed to [`NeighTable::output`].
#[derive(Debug)]
pub enum NeighOut {
    /// The neighbour is known: send to `mac`.
    Send(MacAddr, SkBuff),
    /// The packet waits; when `request` is set, send an ARP request for the
    /// neighbour now (a new entry).
    Queued {
        /// Ask for the neighbour.
        request: bool,
        /// The oldest packet that waited, pushed out to make room (the
        /// caller frees and counts it as `NeighQueueFull`).
        dropped: Option<SkBuff>,
    },
    /// Dropped: the queue or the table was full, or the neighbour failed.
    Drop(SkBuff, crate::stats::DropReason),
}

/// What a timer asks the caller to do.
#[derive(Debug)]
pub enum NeighTimer {
    /// Send an ARP request for `ip` on `ifindex`, broadcast or unicast to `mac`.
    Request {
        /// Namespace.
        ns: NsId,
        /// Interface.
        ifindex: IfIndex,
        /// Address asked for.
        ip: Ipv4Addr,
        /// Unicast probe target (a `PROBE`), or broadcast when `None`.
        mac: Option<MacAddr>,
    },
    /// Resolution failed: these packets were waiting (answer them with ICMP
    /// host unreachable, then free them).
    Failed {
        /// Namespace.
        ns: NsId,
        /// The packets.
        queue: SkbQueue,
    },
}

const NIL: u16 = u16::MAX;

/// The neighbour table over caller-provided slots and hash buckets.
pub struct NeighTable<'a> {
    slots: &'a mut [Option<Neighbour>],
    buckets: &'a mut [u16],
    queued: usize,
    stats: NeighStats,
    /// The first timer of any entry.
    earliest: Earliest,
}

fn bucket(ns: NsId, ifindex: IfIndex, ip: Ipv4Addr, n: usize) -> usize {
    let x = u64::from(u32::from(ip)) ^ (u64::from(ifindex) << 32) ^ (u64::from(ns.0) << 48);
    (((x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) * n as u64) >> 32) as usize
}

impl<'a> NeighTable<'a> {
    /// Memory the waiting packets may hold, in bytes (the table's owner limit).
    pub const MEM_LIMIT: u32 = 256 * 1024;

    /// A table over `slots` and `buckets` (the same length).
    pub fn new(slots: &'a mut [Option<Neighbour>], buckets: &'a mut [u16]) -> Self {
        let mut earliest = Earliest::NONE;
        earliest.set(slots.iter().flatten().map(|n| n.timer).filter(|&t| t != Instant::MAX));
        NeighTable { slots, buckets, queued: 0, stats: NeighStats::default(), earliest }
    }

    /// Entry `i`'s timer, if armed (`Instant::MAX` is not).
    fn timer_of(&self, i: usize) -> Option<Instant> {
        self.slots.get(i)?.as_ref().map(|n| n.timer).filter(|&t| t != Instant::MAX)
    }

    /// Entry `i`'s timer was `old` before a change (or `i` is gone).
    fn retimed(&mut self, i: usize, old: Option<Instant>) {
        let new = self.timer_of(i);
        if !self.earliest.update(old, new) {
            self.earliest.set(self.slots.iter().flatten().map(|n| n.timer).filter(|&t| t != Instant::MAX));
        }
    }

    /// Counters.
    pub fn stats(&self) -> NeighStats {
        self.stats
    }

    /// Packets waiting for resolution, in all.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// The entry for `k`.
    fn find(&self, k: NeighKey) -> Option<usize> {
        let NeighKey { ns, ifindex, ip } = k;
        if self.buckets.is_empty() {
            return None;
        }
        let mut i = self.buckets[bucket(ns, ifindex, ip, self.buckets.len())];
        for _ in 0..self.slots.len() {
            if i == NIL {
                return None;
            }
            let n = self.slots[usize::from(i)].as_ref()?;
            if n.ns == ns && n.ifindex == ifindex && n.ip == ip {
                return Some(usize::from(i));
            }
            i = n.next;
        }
        None
    }

    /// The hardware address of a resolved neighbour.
    pub fn lookup(&self, k: NeighKey) -> Option<(MacAddr, NudState)> {
        let n = self.slots[self.find(k)?].as_ref()?;
        (!matches!(n.state, NudState::Incomplete | NudState::Failed)).then_some((n.mac, n.state))
    }

    /// Every entry of `ns`.
    pub fn entries(&self, ns: NsId) -> impl Iterator<Item = NeighInfo> + '_ {
        self.slots.iter().flatten().filter(move |n| n.ns == ns).map(|n| NeighInfo {
            ns: n.ns,
            ifindex: n.ifindex,
            ip: n.ip,
            mac: n.mac,
            state: n.state,
            queued: n.queue.len(),
        })
    }

    /// The reachable time of an entry: the base randomized to 0.5..1.5 by its key.
    fn reachable_time(ip: Ipv4Addr, now: Instant) -> Duration {
        let jitter = (u32::from(ip) ^ now.micros() as u32).wrapping_mul(2_654_435_761) % 1000;
        BASE_REACHABLE_TIME / 2 + BASE_REACHABLE_TIME * jitter / 1000
    }

    /// Create an entry, evicting an unused stale or failed one when full.
    fn create(&mut self, pool: &mut SkbPool, k: NeighKey, now: Instant) -> Option<usize> {
        let NeighKey { ns, ifindex, ip } = k;
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(s) => s,
            None => {
                let victim = (0..self.slots.len())
                    .filter(|&i| {
                        self.slots[i].as_ref().is_some_and(|n| {
                            matches!(n.state, NudState::Stale | NudState::Failed) && n.queue.is_empty()
                        })
                    })
                    .min_by_key(|&i| self.slots[i].as_ref().map_or(Instant::ZERO, |n| n.used));
                let Some(v) = victim else {
                    self.stats.table_fulls += 1;
                    return None;
                };
                self.remove(pool, v);
                v
            }
        };
        let b = bucket(ns, ifindex, ip, self.buckets.len());
        self.slots[slot] = Some(Neighbour {
            ns,
            ifindex,
            ip,
            mac: MacAddr::ZERO,
            state: NudState::Incomplete,
            timer: now + RETRANS_TIME,
            confirmed: Instant::ZERO,
            used: now,
            probes: 1,
            queue: SkbQueue::new(),
            next: self.buckets[b],
        });
        self.buckets[b] = slot as u16;
        self.stats.allocs += 1;
        self.retimed(slot, None);
        Some(slot)
    }

    /// Unlink and free entry `i`, freeing what waits in its queue; returns
    /// how many packets that was.
    fn remove(&mut self, pool: &mut SkbPool, i: usize) -> usize {
        let old = self.timer_of(i);
        let Some(mut n) = self.slots[i].take() else { return 0 };
        self.retimed(i, old);
        let purged = n.queue.len();
        self.queued -= purged;
        n.queue.purge(pool);
        let b = bucket(n.ns, n.ifindex, n.ip, self.buckets.len());
        if usize::from(self.buckets[b]) == i {
            self.buckets[b] = n.next;
        } else {
            let mut p = self.buckets[b];
            while p != NIL {
                let Some(prev) = self.slots[usize::from(p)].as_mut() else { break };
                if usize::from(prev.next) == i {
                    prev.next = n.next;
                    break;
                }
                p = prev.next;
            }
        }
        self.stats.destroys += 1;
        purged
    }

    /// Hand `skb` to the neighbour layer for `ip` on `ifindex`
    /// (`neigh_output`). `owner` is the table's memory owner: a queued packet
    /// is charged to it.
    pub fn output(&mut self, pool: &mut SkbPool, owner: OwnerId, k: NeighKey, skb: SkBuff, now: Instant) -> NeighOut {
        use crate::stats::DropReason;
        self.stats.lookups += 1;
        let (i, new) = match self.find(k) {
            Some(i) => {
                self.stats.hits += 1;
                (i, false)
            }
            None => match self.create(pool, k, now) {
                Some(i) => (i, true),
                None => return NeighOut::Drop(skb, DropReason::NeighTableFull),
            },
        };
        let old = self.timer_of(i);
        let Some(n) = self.slots[i].as_mut() else { return NeighOut::Drop(skb, DropReason::NeighTableFull) };
        n.used = now;
        match n.state {
            NudState::Reachable | NudState::Permanent | NudState::Delay | NudState::Probe => {
                return NeighOut::Send(n.mac, skb);
            }
            NudState::Stale => {
                n.state = NudState::Delay;
                n.timer = now + DELAY_FIRST_PROBE;
                let mac = n.mac;
                self.retimed(i, old);
                return NeighOut::Send(mac, skb);
            }
            NudState::Failed => {
                // A failed entry is asked again, as Linux restarts resolution.
                n.state = NudState::Incomplete;
                n.probes = 1;
                n.timer = now + RETRANS_TIME;
                self.retimed(i, old);
                return self.enqueue(pool, owner, i, skb, true);
            }
            NudState::Incomplete => {}
        }
        self.enqueue(pool, owner, i, skb, new)
    }

    fn enqueue(&mut self, pool: &mut SkbPool, owner: OwnerId, i: usize, skb: SkBuff, request: bool) -> NeighOut {
        use crate::stats::DropReason;
        let Some(n) = self.slots[i].as_mut() else { return NeighOut::Drop(skb, DropReason::NeighQueueFull) };
        // A full queue gives up its oldest packet for the new one, as
        // Linux's `__neigh_event_send` does: the newest data is the most
        // useful once the neighbour answers (a retransmission supersedes
        // what it repeats). Over the table-wide limit, a neighbour with
        // nothing queued has nothing to give up, and the new one goes.
        let full = n.queue.len() >= QUEUE_PER_NEIGH || self.queued >= QUEUE_TOTAL;
        if (full && n.queue.is_empty()) || pool.charge(&skb, owner).is_err() {
            self.stats.unresolved_discards += 1;
            return NeighOut::Drop(skb, DropReason::NeighQueueFull);
        }
        let dropped = if full { n.queue.pop_front(pool) } else { None };
        n.queue.push_back(pool, skb);
        if dropped.is_some() {
            self.stats.unresolved_discards += 1;
        } else {
            self.queued += 1;
        }
        NeighOut::Queued { request, dropped }
    }

    /// A neighbour announced itself (`neigh_update`). `confirmed` says the
    /// message proves two-way reachability (a reply, or a request to us);
    /// `create` allows a new entry (a request to us), otherwise only an
    /// existing one is refreshed (gratuitous ARP, replies nobody asked for).
    /// Returns the packets that waited, now addressed to `mac`.
    pub fn update(
        &mut self,
        pool: &mut SkbPool,
        k: NeighKey,
        mac: MacAddr,
        confirmed: bool,
        create: bool,
        now: Instant,
    ) -> SkbQueue {
        let ip = k.ip;
        let i = match self.find(k) {
            Some(i) => i,
            None if create => match self.create(pool, k, now) {
                Some(i) => i,
                None => return SkbQueue::new(),
            },
            None => return SkbQueue::new(),
        };
        let old = self.timer_of(i);
        let Some(n) = self.slots[i].as_mut() else { return SkbQueue::new() };
        if n.state == NudState::Permanent {
            return SkbQueue::new();
        }
        let changed = n.mac != mac;
        n.mac = mac;
        if confirmed {
            n.state = NudState::Reachable;
            n.confirmed = now;
            n.timer = now + Self::reachable_time(ip, now);
        } else if changed || n.state == NudState::Incomplete || n.state == NudState::Failed {
            n.state = NudState::Stale;
            n.timer = now + GC_STALE_TIME;
        }
        n.probes = 0;
        let q = core::mem::take(&mut n.queue);
        self.queued -= q.len();
        self.retimed(i, old);
        q
    }

    /// Upper layers saw two-way traffic with `ip` (a TCP ACK, Linux's
    /// `neigh_confirm`): a stale, delayed or probed entry is reachable again.
    pub fn confirm(&mut self, k: NeighKey, now: Instant) {
        let ip = k.ip;
        let Some(i) = self.find(k) else { return };
        let old = self.timer_of(i);
        if let Some(n) = self.slots[i].as_mut()
            && matches!(n.state, NudState::Stale | NudState::Delay | NudState::Probe | NudState::Reachable)
        {
            n.state = NudState::Reachable;
            n.confirmed = now;
            n.timer = now + Self::reachable_time(ip, now);
            self.retimed(i, old);
        }
    }

    /// Add a permanent entry (`ip neigh add ... lladdr ... nud permanent`).
    /// `None` when the table is full. An entry still resolving gives back
    /// the packets waiting for it, now to be sent to `mac` (as Linux's
    /// `neigh_update` sends the queue of an entry it makes valid); left
    /// queued, a permanent entry would never release them.
    pub fn add_permanent(&mut self, pool: &mut SkbPool, k: NeighKey, mac: MacAddr, now: Instant) -> Option<SkbQueue> {
        let i = match self.find(k) {
            Some(i) => i,
            None => self.create(pool, k, now)?,
        };
        let old = self.timer_of(i);
        let mut waiting = SkbQueue::new();
        if let Some(n) = self.slots[i].as_mut() {
            n.mac = mac;
            n.state = NudState::Permanent;
            n.timer = Instant::MAX;
            n.probes = 0;
            waiting = core::mem::take(&mut n.queue);
        }
        self.queued -= waiting.len();
        self.retimed(i, old);
        Some(waiting)
    }

    /// The next timer that is due by `now`, with what it asks for. Call
    /// until it returns `None`; each entry advances its timer past `now`, so
    /// the calls end.
    pub fn next_timer(&mut self, pool: &mut SkbPool, now: Instant) -> Option<NeighTimer> {
        if !self.earliest.due(now) {
            return None;
        }
        for i in 0..self.slots.len() {
            let due = self.slots[i].as_ref().is_some_and(|n| n.timer <= now);
            if !due {
                continue;
            }
            let old = self.timer_of(i);
            let t = self.fire(pool, i, now);
            self.retimed(i, old);
            if t.is_some() {
                return t;
            }
        }
        None
    }

    fn fire(&mut self, pool: &mut SkbPool, i: usize, now: Instant) -> Option<NeighTimer> {
        let n = self.slots[i].as_mut()?;
        let (ns, ifindex, ip, mac) = (n.ns, n.ifindex, n.ip, n.mac);
        match n.state {
            NudState::Incomplete if n.probes < MCAST_PROBES => {
                n.probes += 1;
                n.timer = now + RETRANS_TIME;
                self.stats.requests += 1;
                Some(NeighTimer::Request { ns, ifindex, ip, mac: None })
            }
            NudState::Probe if n.probes < UCAST_PROBES => {
                n.probes += 1;
                n.timer = now + RETRANS_TIME;
                self.stats.requests += 1;
                Some(NeighTimer::Request { ns, ifindex, ip, mac: Some(mac) })
            }
            NudState::Incomplete | NudState::Probe => {
                n.state = NudState::Failed;
                n.timer = now + GC_STALE_TIME;
                self.stats.res_failed += 1;
                let queue = core::mem::take(&mut n.queue);
                self.queued -= queue.len();
                Some(NeighTimer::Failed { ns, queue })
            }
            NudState::Reachable => {
                n.state = NudState::Stale;
                n.timer = now + GC_STALE_TIME;
                None
            }
            NudState::Delay => {
                n.state = NudState::Probe;
                n.probes = 1;
                n.timer = now + RETRANS_TIME;
                self.stats.requests += 1;
                Some(NeighTimer::Request { ns, ifindex, ip, mac: Some(mac) })
            }
            NudState::Stale | NudState::Failed => {
                if now.saturating_duration_since(n.used) >= GC_STALE_TIME {
                    self.remove(pool, i);
                } else {
                    n.timer = n.used + GC_STALE_TIME;
                }
                None
            }
            NudState::Permanent => {
                n.timer = Instant::MAX;
                None
            }
        }
    }

    /// When the next timer fires.
    pub fn poll_at(&self) -> Option<Instant> {
        debug_assert_eq!(
            self.earliest.get(),
            self.slots.iter().flatten().map(|n| n.timer).filter(|&t| t != Instant::MAX).min()
        );
        self.earliest.get()
    }

    /// Forget every entry of an interface (it went down or away); returns
    /// how many waiting packets were freed with them.
    pub fn flush_iface(&mut self, pool: &mut SkbPool, ifindex: IfIndex) -> usize {
        self.flush_iface_where(pool, ifindex, false)
    }

    /// Forget what an interface learned, keeping the entries configured
    /// permanent (its carrier went: Linux's `neigh_carrier_down`); returns
    /// how many waiting packets were freed.
    pub fn flush_iface_learned(&mut self, pool: &mut SkbPool, ifindex: IfIndex) -> usize {
        self.flush_iface_where(pool, ifindex, true)
    }

    fn flush_iface_where(&mut self, pool: &mut SkbPool, ifindex: IfIndex, keep_permanent: bool) -> usize {
        let mut purged = 0;
        for i in 0..self.slots.len() {
            let doomed = self.slots[i]
                .as_ref()
                .is_some_and(|n| n.ifindex == ifindex && !(keep_permanent && n.state == NudState::Permanent));
            if doomed {
                purged += self.remove(pool, i);
            }
        }
        purged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skb::PoolStorage;

    const NS: NsId = NsId(0);

    fn key(last: u8) -> NeighKey {
        NeighKey { ns: NS, ifindex: 1, ip: Ipv4Addr::new(10, 0, 0, last) }
    }

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn packet(pool: &mut SkbPool) -> SkBuff {
        let s = pool.alloc(OwnerId::SYSTEM).unwrap();
        pool.put_slice(&s, &[0x45; 40]).unwrap();
        s
    }

    #[test]
    fn unknown_neighbour_queues_asks_three_times_then_fails() {
        let mut st = Box::new(PoolStorage::<64, 32, 256, 2>::new());
        let mut pool = SkbPool::new(&mut st);
        let owner = pool.register_owner(NeighTable::MEM_LIMIT).unwrap();
        let (mut slots, mut buckets) = ([const { None }; 4], [NIL; 4]);
        let mut n = NeighTable::new(&mut slots, &mut buckets);
        let p = packet(&mut pool);
        assert!(matches!(
            n.output(&mut pool, owner, key(9), p, t(0)),
            NeighOut::Queued { request: true, dropped: None }
        ));
        for k in 1..QUEUE_PER_NEIGH {
            let p = packet(&mut pool);
            pool.data_mut(&p).unwrap()[0] = k as u8;
            let out = n.output(&mut pool, owner, key(9), p, t(10));
            assert!(matches!(out, NeighOut::Queued { request: false, dropped: None }));
        }
        // One more: the oldest makes room for it.
        let p = packet(&mut pool);
        pool.data_mut(&p).unwrap()[0] = 0xee;
        match n.output(&mut pool, owner, key(9), p, t(10)) {
            NeighOut::Queued { request: false, dropped: Some(old) } => {
                assert_eq!(pool.data(&old)[0], 0x45, "the first packet went");
                pool.free(old);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((n.queued(), n.stats().unresolved_discards), (QUEUE_PER_NEIGH, 1));
        assert_eq!(pool.owner_stats(owner).unwrap().used, 8 * 256, "queued packets are charged to the table");
        assert_eq!(n.poll_at(), Some(t(1000)));
        assert!(n.next_timer(&mut pool, t(999)).is_none());
        assert!(matches!(n.next_timer(&mut pool, t(1000)), Some(NeighTimer::Request { mac: None, .. })));
        assert!(n.next_timer(&mut pool, t(1000)).is_none());
        assert!(matches!(n.next_timer(&mut pool, t(2000)), Some(NeighTimer::Request { mac: None, .. })));
        match n.next_timer(&mut pool, t(3000)) {
            Some(NeighTimer::Failed { mut queue, .. }) => {
                let firsts: Vec<u8> = queue.iter(&pool).map(|r| pool.data(&r)[0]).collect();
                assert_eq!(firsts, [1, 2, 3, 4, 5, 6, 7, 0xee], "the newest eight, in order");
                queue.purge(&mut pool);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(n.entries(NS).next().unwrap().state, NudState::Failed);
        assert_eq!(n.queued(), 0);
        // Unused, the failed entry is collected after gc_stale_time.
        assert!(n.next_timer(&mut pool, t(3000) + GC_STALE_TIME).is_none());
        assert_eq!(n.entries(NS).count(), 0);
        assert_eq!(n.stats().res_failed, 1);
        assert!(pool.stats().is_idle());
    }

    #[test]
    fn an_answer_releases_the_queue_and_reachability_decays() {
        let mut st = Box::new(PoolStorage::<64, 32, 256, 2>::new());
        let mut pool = SkbPool::new(&mut st);
        let owner = pool.register_owner(NeighTable::MEM_LIMIT).unwrap();
        let (mut slots, mut buckets) = ([const { None }; 4], [NIL; 4]);
        let mut n = NeighTable::new(&mut slots, &mut buckets);
        let mac = MacAddr([2, 0, 0, 0, 0, 9]);
        for _ in 0..3 {
            let p = packet(&mut pool);
            let _ = n.output(&mut pool, owner, key(9), p, t(0));
        }
        let mut q = n.update(&mut pool, key(9), mac, true, false, t(50));
        assert_eq!(q.len(), 3);
        q.purge(&mut pool);
        assert_eq!(n.lookup(key(9)), Some((mac, NudState::Reachable)));
        let p = packet(&mut pool);
        match n.output(&mut pool, owner, key(9), p, t(60)) {
            NeighOut::Send(m, s) => {
                assert_eq!(m, mac);
                pool.free(s);
            }
            other => panic!("{other:?}"),
        }
        // 15..45 s later it is stale; using it then starts DELAY, then PROBE.
        let stale_at = n.poll_at().unwrap();
        assert!(stale_at >= t(15_050) && stale_at <= t(45_050), "{stale_at}");
        assert!(n.next_timer(&mut pool, stale_at).is_none());
        assert_eq!(n.lookup(key(9)).unwrap().1, NudState::Stale);
        let p = packet(&mut pool);
        let used = stale_at + Duration::from_secs(1);
        match n.output(&mut pool, owner, key(9), p, used) {
            NeighOut::Send(_, s) => pool.free(s),
            other => panic!("{other:?}"),
        }
        assert_eq!(n.lookup(key(9)).unwrap().1, NudState::Delay);
        let probe = used + DELAY_FIRST_PROBE;
        assert!(matches!(n.next_timer(&mut pool, probe), Some(NeighTimer::Request { mac: Some(m), .. }) if m == mac));
        // An upper-layer confirmation ends the probing.
        n.confirm(key(9), probe + Duration::from_millis(10));
        assert_eq!(n.lookup(key(9)).unwrap().1, NudState::Reachable);
        // Gratuitous ARP for an unknown address creates nothing.
        assert!(n.update(&mut pool, key(7), mac, false, false, t(0)).is_empty());
        assert!(n.lookup(key(7)).is_none());
        n.flush_iface(&mut pool, 1);
        assert_eq!(n.entries(NS).count(), 0);
        assert!(pool.stats().is_idle());
    }

    #[test]
    fn a_full_table_evicts_unused_stale_entries_only() {
        let mut st = Box::new(PoolStorage::<64, 32, 256, 2>::new());
        let mut pool = SkbPool::new(&mut st);
        let owner = pool.register_owner(NeighTable::MEM_LIMIT).unwrap();
        let (mut slots, mut buckets) = ([const { None }; 2], [NIL; 2]);
        let mut n = NeighTable::new(&mut slots, &mut buckets);
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        let q = n.update(&mut pool, key(1), mac, false, true, t(0));
        assert!(q.is_empty());
        let p = packet(&mut pool);
        let _ = n.output(&mut pool, owner, key(2), p, t(0));
        // Both slots busy: 1 is stale (evictable), 2 is incomplete with a queue.
        let p = packet(&mut pool);
        assert!(matches!(n.output(&mut pool, owner, key(3), p, t(5)), NeighOut::Queued { request: true, .. }));
        assert!(n.lookup(key(1)).is_none(), "the stale entry made room");
        let p = packet(&mut pool);
        match n.output(&mut pool, owner, key(4), p, t(6)) {
            NeighOut::Drop(s, crate::stats::DropReason::NeighTableFull) => pool.free(s),
            other => panic!("{other:?}"),
        }
        assert_eq!(n.stats().table_fulls, 1);
        n.flush_iface(&mut pool, 1);
        assert!(pool.stats().is_idle());
    }
}

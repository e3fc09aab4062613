//! The forwarding information base: routes, longest-prefix match, metrics,
//! and a dst cache (Linux's `fib_table` and `dst_cache`).
//!
//! Routes of every namespace share one fixed table; the namespace is part of
//! each route's key, as in Linux's shared hash tables, so namespaces stay
//! isolated while a one-namespace build pays one byte per route.
//!
//! Lookup does not scan routes. Each route sits in a hash chain keyed by
//! (namespace, masked prefix, prefix length), and each namespace counts its
//! routes per prefix length. A lookup probes the lengths in use from /32 down
//! to /0 and stops at the first hit: at most 33 hash probes whatever the
//! number of routes (typically three or four: /32 local, /24 connected,
//! /0 default). Among routes with the same prefix, the local table wins, then
//! the lowest metric whose output interface is usable.
//!
//! Every change bumps a generation number; cached results (the dst cache
//! here, and sockets' cached routes) compare it and look up again when it
//! moved, so a route or address change is seen at once.

use core::net::Ipv4Addr;

use crate::netns::NsId;
use crate::skb::IfIndex;

/// What a route does with matching packets (`rtm_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RouteKind {
    /// Forward to a gateway or a directly connected host.
    Unicast,
    /// Deliver locally (one of our addresses).
    Local,
    /// A broadcast address: deliver locally, send as link broadcast.
    Broadcast,
    /// Drop and answer ICMP net unreachable.
    Unreachable,
    /// Drop silently.
    Blackhole,
    /// Drop and answer ICMP administratively prohibited.
    Prohibit,
}

/// Which table a route lives in (Linux's `local` and `main`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RouteTable {
    /// Local and broadcast addresses, maintained with the addresses.
    Local,
    /// Everything else.
    Main,
}

/// Who installed a route (`rtm_protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RouteProto {
    /// The stack itself, with an address (`proto kernel`).
    Kernel,
    /// An administrator (`proto boot`, what `ip route add` uses).
    Boot,
    /// A routing daemon or firmware configuration (`proto static`).
    Static,
    /// Any other origin number (`RTPROT_*`: 16 is `dhcp`, 12 `bird`, ...),
    /// kept as given: daemons find and flush their own routes by it.
    Other(u8),
}

/// How far a route reaches (`rtm_scope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RouteScope {
    /// Through gateways.
    Universe,
    /// On the directly attached link.
    Link,
    /// This host only.
    Host,
}

/// One route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Route {
    /// Destination prefix (host bits zero).
    pub dst: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefix_len: u8,
    /// What the route does.
    pub kind: RouteKind,
    /// Next hop, for routes through a gateway.
    pub gateway: Option<Ipv4Addr>,
    /// Output interface (0 for routes with no device, such as unreachable).
    pub oif: IfIndex,
    /// Preference among routes for the same prefix: lower wins.
    pub metric: u32,
    /// Source address to prefer for packets on this route.
    pub prefsrc: Option<Ipv4Addr>,
    /// Who installed it.
    pub proto: RouteProto,
    /// How far it reaches.
    pub scope: RouteScope,
    /// Which table.
    pub table: RouteTable,
    /// Path MTU lock for this route (0: the device's MTU).
    pub mtu: u16,
}

impl Route {
    /// A unicast route in the main table with everything else defaulted.
    pub fn unicast(dst: Ipv4Addr, prefix_len: u8, gateway: Option<Ipv4Addr>, oif: IfIndex) -> Route {
        Route {
            dst,
            prefix_len,
            kind: RouteKind::Unicast,
            gateway,
            oif,
            metric: 0,
            prefsrc: None,
            proto: RouteProto::Boot,
            scope: if gateway.is_some() { RouteScope::Universe } else { RouteScope::Link },
            table: RouteTable::Main,
            mtu: 0,
        }
    }
}

/// The netmask of a prefix length.
pub fn mask(prefix_len: u8) -> u32 {
    if prefix_len == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix_len.min(32))) }
}

/// Why a route change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FibError {
    /// A route with the same key (table, prefix, metric) exists (`EEXIST`).
    Exists,
    /// The route table is full (`ENOBUFS`).
    Full,
    /// No such route (`ESRCH`).
    NotFound,
    /// Prefix longer than 32 bits or host bits set (`EINVAL`).
    Invalid,
}

/// A slot of the route table.
#[derive(Clone, Copy, Debug)]
pub struct RouteSlot {
    ns: NsId,
    route: Route,
    next: u16,
}

const NIL: u16 = u16::MAX;

/// The result of a lookup, cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FibResult {
    /// The matched route.
    pub route: Route,
    /// Where to send: the gateway, or the destination itself when on-link.
    pub next_hop: Ipv4Addr,
}

/// A dst cache entry.
#[derive(Clone, Copy, Debug)]
pub struct DstEntry {
    ns: NsId,
    dst: Ipv4Addr,
    generation: u32,
    result: FibResult,
}

/// Route storage for up to `ROUTES` routes, `NS` namespaces and a dst cache
/// of `CACHE` entries.
pub struct FibStorage<const ROUTES: usize, const NS: usize, const CACHE: usize> {
    slots: [Option<RouteSlot>; ROUTES],
    buckets: [u16; ROUTES],
    lens: [[u16; 33]; NS],
    cache: [Option<DstEntry>; CACHE],
}

impl<const ROUTES: usize, const NS: usize, const CACHE: usize> FibStorage<ROUTES, NS, CACHE> {
    /// Empty storage.
    pub const fn new() -> Self {
        const { assert!(ROUTES >= 1 && ROUTES < NIL as usize && NS >= 1 && NS <= 256 && CACHE >= 1) };
        FibStorage { slots: [None; ROUTES], buckets: [NIL; ROUTES], lens: [[0; 33]; NS], cache: [None; CACHE] }
    }
}

impl<const ROUTES: usize, const NS: usize, const CACHE: usize> Default for FibStorage<ROUTES, NS, CACHE> {
    fn default() -> Self {
        Self::new()
    }
}

/// Lookup and dst-cache counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FibStats {
    /// Lookups answered by the dst cache.
    pub cache_hits: u64,
    /// Lookups that went to the table.
    pub cache_misses: u64,
}

/// The forwarding information base over its storage.
pub struct Fib<'a> {
    slots: &'a mut [Option<RouteSlot>],
    buckets: &'a mut [u16],
    lens: &'a mut [[u16; 33]],
    cache: &'a mut [Option<DstEntry>],
    generation: u32,
    routes: usize,
    stats: FibStats,
}

fn hash(ns: NsId, key: u32, len: u8) -> u32 {
    // A multiplicative mix of the three key parts (Fibonacci hashing).
    let x = u64::from(key) ^ (u64::from(len) << 32) ^ (u64::from(ns.0) << 40);
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32
}

fn reduce(h: u32, n: usize) -> usize {
    ((u64::from(h) * n as u64) >> 32) as usize
}

impl<'a> Fib<'a> {
    /// A FIB over `storage`.
    pub fn new<const R: usize, const N: usize, const C: usize>(storage: &'a mut FibStorage<R, N, C>) -> Fib<'a> {
        Fib {
            slots: &mut storage.slots,
            buckets: &mut storage.buckets,
            lens: &mut storage.lens,
            cache: &mut storage.cache,
            generation: 1,
            routes: 0,
            stats: FibStats::default(),
        }
    }

    /// The generation number: it changes with every route change.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Mark every cached result stale (an address or a link state changed).
    pub fn invalidate(&mut self) {
        self.generation = self.generation.wrapping_add(1).max(1);
    }

    /// Routes installed, all namespaces together.
    pub fn len(&self) -> usize {
        self.routes
    }

    /// True when no route is installed.
    pub fn is_empty(&self) -> bool {
        self.routes == 0
    }

    /// Room for this many routes in all.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Cache counters.
    pub fn stats(&self) -> FibStats {
        self.stats
    }

    fn bucket(&self, ns: NsId, key: u32, len: u8) -> usize {
        reduce(hash(ns, key, len), self.buckets.len())
    }

    /// Install `route` in namespace `ns`.
    pub fn add(&mut self, ns: NsId, route: Route) -> Result<(), FibError> {
        let key = u32::from(route.dst);
        let nsi = usize::from(ns.0);
        if route.prefix_len > 32 || key & !mask(route.prefix_len) != 0 || nsi >= self.lens.len() {
            return Err(FibError::Invalid);
        }
        // The routes an address brings are its interface's own: another
        // interface with an address in the same subnet gets routes of its
        // own beside them, which take over when the first interface goes
        // down or loses the address (Linux adds them with NLM_F_APPEND).
        let same_key = |s: &RouteSlot| {
            s.ns == ns
                && s.route.dst == route.dst
                && s.route.prefix_len == route.prefix_len
                && s.route.table == route.table
                && s.route.metric == route.metric
                && (route.proto != RouteProto::Kernel
                    || s.route.proto != RouteProto::Kernel
                    || s.route.oif == route.oif)
        };
        if self.chain(ns, key, route.prefix_len).any(|i| self.slots[i].as_ref().is_some_and(same_key)) {
            return Err(FibError::Exists);
        }
        let free = self.slots.iter().position(Option::is_none).ok_or(FibError::Full)?;
        let b = self.bucket(ns, key, route.prefix_len);
        self.slots[free] = Some(RouteSlot { ns, route, next: self.buckets[b] });
        self.buckets[b] = free as u16;
        self.lens[nsi][usize::from(route.prefix_len)] += 1;
        self.routes += 1;
        self.invalidate();
        Ok(())
    }

    /// Remove the first route of `ns` for `dst/prefix_len` that `matches`.
    pub fn del(
        &mut self,
        ns: NsId,
        dst: Ipv4Addr,
        prefix_len: u8,
        matches: impl Fn(&Route) -> bool,
    ) -> Result<Route, FibError> {
        if prefix_len > 32 {
            return Err(FibError::Invalid);
        }
        let key = u32::from(dst) & mask(prefix_len);
        let found = self.chain(ns, key, prefix_len).find(|&i| {
            self.slots[i].as_ref().is_some_and(|s| {
                s.ns == ns && u32::from(s.route.dst) == key && s.route.prefix_len == prefix_len && matches(&s.route)
            })
        });
        let i = found.ok_or(FibError::NotFound)?;
        Ok(self.remove_slot(i))
    }

    /// Remove every route of `ns` that `doomed` picks (an address or an
    /// interface went away). Returns how many.
    pub fn remove_where(&mut self, ns: NsId, doomed: impl Fn(&Route) -> bool) -> usize {
        let mut n = 0;
        for i in 0..self.slots.len() {
            if self.slots[i].as_ref().is_some_and(|s| s.ns == ns && doomed(&s.route)) {
                self.remove_slot(i);
                n += 1;
            }
        }
        n
    }

    fn remove_slot(&mut self, i: usize) -> Route {
        let Some(s) = self.slots[i] else { return Route::unicast(Ipv4Addr::UNSPECIFIED, 0, None, 0) };
        let b = self.bucket(s.ns, u32::from(s.route.dst), s.route.prefix_len);
        if usize::from(self.buckets[b]) == i {
            self.buckets[b] = s.next;
        } else {
            let mut p = self.buckets[b];
            while p != NIL {
                let next = self.slots[usize::from(p)].as_ref().map_or(NIL, |x| x.next);
                if usize::from(next) == i {
                    if let Some(prev) = self.slots[usize::from(p)].as_mut() {
                        prev.next = s.next;
                    }
                    break;
                }
                p = next;
            }
        }
        self.slots[i] = None;
        let lens = &mut self.lens[usize::from(s.ns.0)][usize::from(s.route.prefix_len)];
        *lens = lens.saturating_sub(1);
        self.routes -= 1;
        self.invalidate();
        s.route
    }

    /// Slot indices on the hash chain of (ns, key, len). Bounded by the table size.
    fn chain(&self, ns: NsId, key: u32, len: u8) -> impl Iterator<Item = usize> + '_ {
        let mut i = self.buckets[self.bucket(ns, key, len)];
        let mut left = self.slots.len();
        core::iter::from_fn(move || {
            if i == NIL || left == 0 {
                return None;
            }
            left -= 1;
            let cur = usize::from(i);
            i = self.slots[cur].as_ref().map_or(NIL, |s| s.next);
            Some(cur)
        })
    }

    /// Longest-prefix match for `dst` in `ns`, skipping routes whose output
    /// interface `usable` refuses (down, or gone). No cache.
    pub fn lookup(&self, ns: NsId, dst: Ipv4Addr, usable: impl Fn(IfIndex) -> bool) -> Option<FibResult> {
        let lens = self.lens.get(usize::from(ns.0))?;
        let d = u32::from(dst);
        for len in (0..=32u8).rev() {
            if lens[usize::from(len)] == 0 {
                continue;
            }
            let key = d & mask(len);
            let best = self
                .chain(ns, key, len)
                .filter_map(|i| self.slots[i].as_ref())
                .filter(|s| s.ns == ns && s.route.prefix_len == len && u32::from(s.route.dst) == key)
                .filter(|s| s.route.oif == 0 || usable(s.route.oif))
                .min_by_key(|s| (s.route.table, s.route.metric));
            if let Some(s) = best {
                return Some(FibResult { route: s.route, next_hop: s.route.gateway.unwrap_or(dst) });
            }
        }
        None
    }

    /// [`Self::lookup`] through the dst cache. The cache is exact for the
    /// current generation; call [`Self::invalidate`] when `usable` would now
    /// answer differently (a link went up or down).
    pub fn route(&mut self, ns: NsId, dst: Ipv4Addr, usable: impl Fn(IfIndex) -> bool) -> Option<FibResult> {
        let slot = reduce(hash(ns, u32::from(dst), 33), self.cache.len());
        if let Some(e) = self.cache[slot]
            && e.ns == ns
            && e.dst == dst
            && e.generation == self.generation
        {
            self.stats.cache_hits += 1;
            return Some(e.result);
        }
        self.stats.cache_misses += 1;
        let result = self.lookup(ns, dst, usable)?;
        self.cache[slot] = Some(DstEntry { ns, dst, generation: self.generation, result });
        Some(result)
    }

    /// Every route of `ns`, in table order.
    pub fn routes(&self, ns: NsId) -> impl Iterator<Item = &Route> + '_ {
        self.slots.iter().filter_map(move |s| s.as_ref().filter(|s| s.ns == ns).map(|s| &s.route))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins_then_table_then_metric() {
        let mut st = Box::new(FibStorage::<64, 2, 16>::new());
        let mut fib = Fib::new(&mut st);
        let ns = NsId(0);
        fib.add(ns, Route::unicast(ip("0.0.0.0"), 0, Some(ip("10.0.0.1")), 1)).unwrap();
        fib.add(ns, Route::unicast(ip("10.0.0.0"), 8, None, 2)).unwrap();
        fib.add(ns, Route::unicast(ip("10.1.0.0"), 16, None, 3)).unwrap();
        fib.add(ns, Route { metric: 5, ..Route::unicast(ip("10.1.2.0"), 24, None, 4) }).unwrap();
        fib.add(ns, Route { metric: 1, ..Route::unicast(ip("10.1.2.0"), 24, None, 5) }).unwrap();
        let oif = |d| fib.lookup(ns, ip(d), |_| true).map(|r| r.route.oif);
        assert_eq!(oif("10.1.2.3"), Some(5), "lowest metric among /24s");
        assert_eq!(oif("10.1.3.3"), Some(3));
        assert_eq!(oif("10.9.9.9"), Some(2));
        assert_eq!(oif("192.168.1.1"), Some(1));
        let r = fib.lookup(ns, ip("192.168.1.1"), |_| true).unwrap();
        assert_eq!(r.next_hop, ip("10.0.0.1"), "via the gateway");
        let r = fib.lookup(ns, ip("10.9.9.9"), |_| true).unwrap();
        assert_eq!(r.next_hop, ip("10.9.9.9"), "on-link");
        // A down interface's route is skipped; the next one serves.
        assert_eq!(fib.lookup(ns, ip("10.1.2.3"), |i| i != 5).map(|r| r.route.oif), Some(4));
        // Another namespace sees none of it.
        assert!(fib.lookup(NsId(1), ip("10.1.2.3"), |_| true).is_none());
        let local = Route {
            kind: RouteKind::Local,
            table: RouteTable::Local,
            metric: 9,
            ..Route::unicast(ip("10.1.2.3"), 32, None, 9)
        };
        fib.add(ns, local).unwrap();
        let main32 = Route::unicast(ip("10.1.2.3"), 32, None, 8);
        fib.add(ns, main32).unwrap();
        assert_eq!(fib.lookup(ns, ip("10.1.2.3"), |_| true).unwrap().route.kind, RouteKind::Local, "local table first");
    }

    #[test]
    fn add_del_errors_and_generation() {
        let mut st = Box::new(FibStorage::<2, 1, 4>::new());
        let mut fib = Fib::new(&mut st);
        let ns = NsId(0);
        assert_eq!(fib.add(ns, Route::unicast(ip("10.0.0.1"), 24, None, 1)), Err(FibError::Invalid), "host bits");
        assert_eq!(fib.add(ns, Route::unicast(ip("10.0.0.0"), 33, None, 1)), Err(FibError::Invalid));
        assert_eq!(
            fib.add(NsId(1), Route::unicast(ip("10.0.0.0"), 24, None, 1)),
            Err(FibError::Invalid),
            "no such namespace"
        );
        let g0 = fib.generation();
        fib.add(ns, Route::unicast(ip("10.0.0.0"), 24, None, 1)).unwrap();
        assert_ne!(fib.generation(), g0);
        assert_eq!(fib.add(ns, Route::unicast(ip("10.0.0.0"), 24, None, 2)), Err(FibError::Exists));
        fib.add(ns, Route { metric: 1, ..Route::unicast(ip("10.0.0.0"), 24, None, 2) }).unwrap();
        assert_eq!(fib.add(ns, Route::unicast(ip("10.0.1.0"), 24, None, 1)), Err(FibError::Full));
        assert_eq!(fib.del(ns, ip("10.0.0.0"), 24, |r| r.oif == 7), Err(FibError::NotFound));
        assert_eq!(fib.del(ns, ip("10.0.0.0"), 24, |r| r.oif == 1).unwrap().oif, 1);
        assert_eq!(fib.lookup(ns, ip("10.0.0.5"), |_| true).unwrap().route.oif, 2);
        assert_eq!(fib.remove_where(ns, |r| r.oif == 2), 1);
        assert!(fib.is_empty());
        assert!(fib.lookup(ns, ip("10.0.0.5"), |_| true).is_none());
    }

    #[test]
    fn the_dst_cache_hits_and_is_invalidated_by_changes() {
        let mut st = Box::new(FibStorage::<16, 1, 8>::new());
        let mut fib = Fib::new(&mut st);
        let ns = NsId(0);
        fib.add(ns, Route::unicast(ip("0.0.0.0"), 0, Some(ip("10.0.0.1")), 1)).unwrap();
        assert_eq!(fib.route(ns, ip("8.8.8.8"), |_| true).unwrap().route.oif, 1);
        assert_eq!(fib.route(ns, ip("8.8.8.8"), |_| true).unwrap().route.oif, 1);
        assert_eq!(fib.stats(), FibStats { cache_hits: 1, cache_misses: 1 });
        fib.add(ns, Route::unicast(ip("8.8.8.0"), 24, None, 2)).unwrap();
        assert_eq!(fib.route(ns, ip("8.8.8.8"), |_| true).unwrap().route.oif, 2, "the change is seen at once");
        fib.invalidate();
        assert!(fib.route(ns, ip("8.8.8.8"), |i| i != 2).is_some_and(|r| r.route.oif == 1));
    }

    #[test]
    fn many_routes_each_found_by_its_own_prefix() {
        let mut st = Box::new(FibStorage::<4096, 1, 64>::new());
        let mut fib = Fib::new(&mut st);
        let ns = NsId(0);
        for i in 0..4000u32 {
            let len = 16 + (i % 17) as u8;
            let dst = Ipv4Addr::from(i.wrapping_mul(2_654_435_761) & mask(len));
            let _ = fib.add(ns, Route { metric: i, ..Route::unicast(dst, len, None, (i % 60_000) as u16 + 1) });
        }
        for s in fib.routes(ns).copied().collect::<Vec<_>>() {
            let got = fib.lookup(ns, s.dst, |_| true).unwrap().route;
            assert!(got.prefix_len >= s.prefix_len, "a longer or equal prefix covers {:?}", s.dst);
            if got.prefix_len == s.prefix_len {
                assert!(got.metric <= s.metric);
            }
        }
    }
}

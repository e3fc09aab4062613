//! Configuration of namespaces, interfaces, addresses and routes: what
//! `ip netns`, `ip link`, `ip addr` and `ip route` do, as calls on the world.
//! Each change keeps the dependent state right: an address brings its local,
//! broadcast and connected routes; a link going down or an address going
//! away invalidates cached routes.

use core::net::Ipv4Addr;

use super::{Device, Iface, Name, Namespace, NsId, World};
use crate::dev::gro::Gro;
use crate::dev::loopback::Loopback;
use crate::ip::fib::{FibError, Route, RouteKind, RouteProto, RouteScope, RouteTable, mask};
use crate::netfilter::NfHooks;
use crate::netlink::notify::RtEvent;
use crate::skb::{IfIndex, SkbError, SkbQueue};
use crate::stats::{DropReason, NetStats};
use crate::time::Instant;
use crate::wire::MacAddr;

/// Why a configuration change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NetnsError {
    /// The name is taken (`EEXIST`).
    Exists,
    /// No such namespace, interface or address (`ENODEV`, `EADDRNOTAVAIL`).
    NotFound,
    /// A table is full (`ENOBUFS`).
    Full,
    /// A name longer than 15 bytes, a prefix longer than 32, a zero MTU (`EINVAL`).
    Invalid,
    /// The loopback interface cannot be removed or moved (`EPERM`).
    Busy,
    /// A route change failed.
    Route(FibError),
    /// The pool refused (no owner slot).
    Pool(SkbError),
    /// The device could not be brought up.
    Device(crate::dev::OpenError),
}

impl From<FibError> for NetnsError {
    fn from(e: FibError) -> Self {
        NetnsError::Route(e)
    }
}

/// Per-namespace settings (`/proc/sys/net/ipv4/*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sysctl {
    /// Forward packets between interfaces (`ip_forward`, off by default).
    pub ip_forward: bool,
    /// TTL of locally generated packets (`ip_default_ttl`).
    pub default_ttl: u8,
    /// Ignore echo requests (`icmp_echo_ignore_all`).
    pub icmp_echo_ignore_all: bool,
    /// ICMP errors allowed per second (`icmp_msgs_per_sec`).
    pub icmp_msgs_per_sec: u32,
    /// ICMP error burst (`icmp_msgs_burst`).
    pub icmp_msgs_burst: u32,
    /// Ephemeral port range (`ip_local_port_range`).
    pub local_port_range: (u16, u16),
    /// Packets an interface may queue for transmission (`txqueuelen`).
    pub tx_queue_len: u16,
    /// Packets received per device per poll (NAPI weight).
    pub napi_budget: u16,
}

impl Default for Sysctl {
    fn default() -> Sysctl {
        Sysctl {
            ip_forward: false,
            default_ttl: 64,
            icmp_echo_ignore_all: false,
            icmp_msgs_per_sec: 1000,
            icmp_msgs_burst: 50,
            local_port_range: (32768, 60999),
            tx_queue_len: 1000,
            napi_budget: 64,
        }
    }
}

/// An IPv4 address on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct IfAddr {
    /// The address.
    pub addr: Ipv4Addr,
    /// Its prefix length.
    pub prefix_len: u8,
}

impl IfAddr {
    /// The network's first address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & mask(self.prefix_len))
    }

    /// The subnet's broadcast address (none for /31 and /32).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        (self.prefix_len < 31).then(|| Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix_len)))
    }

    /// True when `ip` is in this address's subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (u32::from(ip) ^ u32::from(self.addr)) & mask(self.prefix_len) == 0
    }
}

/// A snapshot of an interface, for listings (`ip link`, `ip addr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfInfo {
    /// Interface index.
    pub ifindex: IfIndex,
    /// Namespace.
    pub ns: NsId,
    /// Name.
    pub name: Name,
    /// Administratively up.
    pub up: bool,
    /// The device reports carrier.
    pub carrier: bool,
    /// MTU.
    pub mtu: u16,
    /// Hardware address.
    pub hw_addr: Option<MacAddr>,
    /// IPv4 addresses.
    pub addrs: heapless::Vec<IfAddr, { super::ADDRS_PER_IFACE }>,
    /// True for the loopback.
    pub loopback: bool,
}

fn name(s: &str) -> Result<Name, NetnsError> {
    Name::try_from(s).map_err(|_| NetnsError::Invalid)
}

impl<'a, H: NfHooks> World<'a, H> {
    /// Create a namespace (`ip netns add`) with its loopback interface up and
    /// 127.0.0.1/8 on it.
    pub fn add_netns(&mut self, ns_name: &str) -> Result<NsId, NetnsError> {
        let n = name(ns_name)?;
        if self.ns.iter().flatten().any(|x| x.name == n) {
            return Err(NetnsError::Exists);
        }
        let slot = self.ns.iter().position(Option::is_none).ok_or(NetnsError::Full)?;
        let id = NsId(slot as u8);
        let seed = self.keyed_hash(&[b'n', slot as u8]);
        self.dev_seq = self.dev_seq.wrapping_add(1);
        self.ns[slot] = Some(Namespace {
            name: n,
            sysctl: Sysctl::default(),
            stats: NetStats::default(),
            lo: 0,
            ip_id: seed as u16,
            icmp_tokens: Sysctl::default().icmp_msgs_burst,
            icmp_refill: Instant::ZERO,
            port_cursor: (seed >> 16) as u32,
            challenge_sec: 0,
            challenge_count: 0,
            cookie: self.dev_seq,
        });
        let lo = match self.add_iface_inner(id, "lo", Device::Loopback(Loopback::new(256))) {
            Ok(lo) => lo,
            Err(e) => {
                self.ns[slot] = None;
                return Err(e);
            }
        };
        if let Some(n) = self.netns_mut(id) {
            n.lo = lo;
        }
        self.events.push(RtEvent::Netns { deleted: false, id, name: Name::try_from(ns_name).unwrap_or_default() });
        self.notify_link(lo, false);
        self.set_link_up(lo, true)?;
        self.add_addr(lo, Ipv4Addr::LOCALHOST, 8)?;
        Ok(id)
    }

    /// The namespace called `ns_name`.
    pub fn netns_by_name(&self, ns_name: &str) -> Option<NsId> {
        self.ns.iter().position(|n| n.as_ref().is_some_and(|n| n.name == ns_name)).map(|i| NsId(i as u8))
    }

    /// A namespace's name.
    pub fn netns_name(&self, ns: NsId) -> Option<&str> {
        self.netns(ns).map(|n| n.name.as_str())
    }

    /// Every namespace.
    pub fn netns_ids(&self) -> impl Iterator<Item = NsId> + '_ {
        self.ns.iter().enumerate().filter(|(_, n)| n.is_some()).map(|(i, _)| NsId(i as u8))
    }

    /// A namespace's settings.
    pub fn sysctl(&self, ns: NsId) -> Option<Sysctl> {
        self.netns(ns).map(|n| n.sysctl)
    }

    /// Change a namespace's settings (`sysctl -w net.ipv4...`).
    pub fn set_sysctl(&mut self, ns: NsId, s: Sysctl) -> Result<(), NetnsError> {
        self.netns_mut(ns).ok_or(NetnsError::NotFound)?.sysctl = s;
        Ok(())
    }

    /// The loopback interface of `ns`.
    pub fn loopback(&self, ns: NsId) -> Option<IfIndex> {
        self.netns(ns).map(|n| n.lo)
    }

    /// True when `ifindex` is a loopback interface (`IFF_LOOPBACK`).
    pub(crate) fn is_loopback_dev(&self, ifindex: IfIndex) -> bool {
        self.iface(ifindex).is_some_and(|i| matches!(i.dev, Device::Loopback(_)))
    }

    /// Attach a driver as a new interface `if_name` of `ns` (down, no address).
    /// Its index is new: one a deleted interface held is not handed out
    /// again until the 16-bit counter wraps, and never while in use.
    pub fn add_device(
        &mut self,
        ns: NsId,
        if_name: &str,
        dev: &'a mut dyn crate::dev::NetDevice,
    ) -> Result<IfIndex, NetnsError> {
        self.add_iface_inner(ns, if_name, Device::Driver(dev))
    }

    pub(super) fn add_iface_inner(&mut self, ns: NsId, if_name: &str, dev: Device<'a>) -> Result<IfIndex, NetnsError> {
        let n = name(if_name)?;
        if self.netns(ns).is_none() {
            return Err(NetnsError::NotFound);
        }
        if self.ifaces.iter().flatten().any(|i| i.ns == ns && i.name == n) {
            return Err(NetnsError::Exists);
        }
        let (slot, ifindex) = self.new_ifindex().ok_or(NetnsError::Full)?;
        self.if_gen = self.if_gen.wrapping_add(1);
        let mtu = dev.get().mtu();
        self.switched |= matches!(dev, Device::Veth(_) | Device::Bridge(_));
        self.ifaces[slot] = Some(Iface {
            ifindex,
            ns,
            name: n,
            dev,
            up: false,
            mtu,
            addrs: heapless::Vec::new(),
            backlog: SkbQueue::new(),
            gro: Gro::new(),
            gro_enabled: true,
            tx_dropped: 0,
            master: 0,
            carrier: false,
        });
        Ok(ifindex)
    }

    /// A free slot and an index for a new interface (`dev_new_index`). The
    /// counter only grows: an nft `iif` rule, a route or a socket bound to
    /// an interface that was deleted must not come to mean the next one
    /// made. The first value from the counter whose slot is free wins. The
    /// slots of consecutive values go round all of them, but the wrap from
    /// 65535 to 1 breaks the round: of two rounds' worth of values, one run
    /// of a full round has no wrap in it, so a free slot is always found.
    fn new_ifindex(&mut self) -> Option<(usize, IfIndex)> {
        let mut c = self.next_ifindex;
        for _ in 0..2 * self.ifaces.len() {
            let slot = super::iface_slot(self.ifaces.len(), c)?;
            let next = c.checked_add(1).unwrap_or(1);
            if self.ifaces[slot].is_none() {
                self.next_ifindex = next;
                return Some((slot, c));
            }
            c = next;
        }
        None
    }

    /// The interface called `if_name` in `ns`.
    pub fn iface_by_name(&self, ns: NsId, if_name: &str) -> Option<IfIndex> {
        self.ifaces.iter().flatten().find(|i| i.ns == ns && i.name == if_name).map(|i| i.ifindex)
    }

    /// A snapshot of an interface.
    pub fn iface_info(&self, ifindex: IfIndex) -> Option<IfInfo> {
        let i = self.iface(ifindex)?;
        Some(IfInfo {
            ifindex,
            ns: i.ns,
            name: i.name.clone(),
            up: i.up,
            carrier: i.dev.get().link_up(),
            mtu: i.mtu,
            hw_addr: i.dev.get().hw_addr(),
            addrs: i.addrs.clone(),
            loopback: matches!(i.dev, Device::Loopback(_)),
        })
    }

    /// Interfaces of `ns`, in slot order (which is index order until an
    /// interface is deleted and its slot reused).
    pub fn ifaces(&self, ns: NsId) -> impl Iterator<Item = IfIndex> + '_ {
        self.ifaces.iter().flatten().filter(move |i| i.ns == ns).map(|i| i.ifindex)
    }

    /// An interface went down, or its carrier did: what waited to go out (in
    /// the backlog, or for a neighbour to resolve) cannot, so it is freed
    /// and counted as lost to the link, with what the interface learned.
    /// Permanent neighbours outlive a lost carrier (`neigh_carrier_down`),
    /// not the interface going down (`neigh_ifdown`).
    pub(super) fn link_lost(&mut self, ifindex: IfIndex, carrier_only: bool) {
        let Some(i) = super::iface_in_mut(self.ifaces, ifindex) else { return };
        let ns = i.ns;
        let n = i.backlog.len() as u64;
        i.tx_dropped += n;
        let mut q = core::mem::take(&mut i.backlog);
        q.purge(&mut self.pool);
        let master = i.master;
        let waiting = if carrier_only {
            self.neigh.flush_iface_learned(&mut self.pool, ifindex)
        } else {
            self.neigh.flush_iface(&mut self.pool, ifindex)
        } as u64;
        if let Some(s) = self.netns_mut(ns) {
            s.stats.drops.add(DropReason::LinkDown, n + waiting);
        }
        // Addresses learned behind a port that went down are no longer
        // there: frames for them flood again (br_port_disable flushes
        // by port); a bridge going down forgets everything.
        match &self.iface(ifindex).map(|i| &i.dev) {
            Some(Device::Bridge(_)) => self.fdb.flush(ifindex, None),
            _ if master != 0 => self.fdb.flush(master, Some(ifindex)),
            _ => {}
        }
    }

    /// A device's counters.
    pub fn device_stats(&self, ifindex: IfIndex) -> Option<crate::dev::DevStats> {
        self.iface(ifindex).map(|i| {
            let mut s = i.dev.get().stats();
            s.tx_dropped += i.tx_dropped;
            s
        })
    }

    /// Bring an interface up or down (`ip link set ... up|down`). Down frees
    /// what waits in its backlog and stops routes through it from matching.
    pub fn set_link_up(&mut self, ifindex: IfIndex, up: bool) -> Result<(), NetnsError> {
        let i = super::iface_in_mut(self.ifaces, ifindex).ok_or(NetnsError::NotFound)?;
        let changed = i.up != up;
        if up && !i.up {
            i.dev.get_mut().open(&mut self.pool).map_err(NetnsError::Device)?;
        }
        if !up && i.up {
            i.dev.get_mut().stop(&mut self.pool);
        }
        i.up = up;
        // Only a real change refreshes the carrier: a redundant "up" must
        // not record a drop the next poll has yet to act on.
        if changed {
            i.carrier = up && i.dev.get().link_up();
        }
        if !up {
            self.link_lost(ifindex, false);
        }
        self.fib.invalidate();
        if changed {
            if !up {
                self.masq_forget(ifindex, None);
            }
            self.link_changed(ifindex);
        }
        Ok(())
    }

    /// Turn software GRO on or off for an interface (`ethtool -K dev gro
    /// on|off`; on by default). Off, every received packet climbs the stack
    /// as it came from the device. A device that merges segments itself
    /// (LRO) does so either way.
    pub fn set_gro(&mut self, ifindex: IfIndex, on: bool) -> Result<(), NetnsError> {
        self.iface_mut(ifindex).ok_or(NetnsError::NotFound)?.gro_enabled = on;
        Ok(())
    }

    /// An interface's software GRO counters.
    pub fn gro_stats(&self, ifindex: IfIndex) -> Option<crate::dev::gro::GroStats> {
        self.iface(ifindex).map(|i| i.gro.stats())
    }

    /// Change an interface's MTU (`ip link set ... mtu`), at most the device's.
    pub fn set_mtu(&mut self, ifindex: IfIndex, mtu: u16) -> Result<(), NetnsError> {
        let i = self.iface_mut(ifindex).ok_or(NetnsError::NotFound)?;
        if mtu < 68 || mtu > i.dev.get().mtu() {
            return Err(NetnsError::Invalid);
        }
        i.mtu = mtu;
        self.fib.invalidate();
        Ok(())
    }

    /// Add an address (`ip addr add A/N dev X`) with its routes: the local
    /// route, the subnet broadcast, and the connected route to the subnet.
    pub fn add_addr(&mut self, ifindex: IfIndex, addr: Ipv4Addr, prefix_len: u8) -> Result<(), NetnsError> {
        if prefix_len > 32 {
            return Err(NetnsError::Invalid);
        }
        let a = IfAddr { addr, prefix_len };
        let i = self.iface_mut(ifindex).ok_or(NetnsError::NotFound)?;
        let ns = i.ns;
        if i.addrs.iter().any(|x| x.addr == addr) {
            return Err(NetnsError::Exists);
        }
        i.addrs.push(a).map_err(|_| NetnsError::Full)?;
        let label = i.name.clone();
        // On the loopback the whole prefix is local (`local 127.0.0.0/8`),
        // as Linux's `fib_add_ifaddr` makes it.
        let lo = matches!(i.dev, Device::Loopback(_));
        self.if_gen = self.if_gen.wrapping_add(1);
        self.events.push(RtEvent::Addr { deleted: false, ns, ifindex, label, addr: a });
        let kernel = |dst, len, kind, table, scope| Route {
            dst,
            prefix_len: len,
            kind,
            gateway: None,
            oif: ifindex,
            metric: 0,
            prefsrc: Some(addr),
            proto: RouteProto::Kernel,
            scope,
            table,
            mtu: 0,
        };
        let mut routes: heapless::Vec<Route, 3> = heapless::Vec::new();
        let _ = routes.push(kernel(addr, 32, RouteKind::Local, RouteTable::Local, RouteScope::Host));
        if let Some(b) = a.broadcast() {
            let _ = routes.push(kernel(b, 32, RouteKind::Broadcast, RouteTable::Local, RouteScope::Link));
        }
        if prefix_len < 32 {
            let (kind, table, scope) = if lo {
                (RouteKind::Local, RouteTable::Local, RouteScope::Host)
            } else {
                (RouteKind::Unicast, RouteTable::Main, RouteScope::Link)
            };
            let _ = routes.push(kernel(a.network(), prefix_len, kind, table, scope));
        }
        for r in routes {
            match self.fib.add(ns, r) {
                Ok(()) => self.events.push(RtEvent::Route { deleted: false, ns, route: r }),
                // A second address in the same subnet shares the routes.
                Err(FibError::Exists) => {}
                Err(e) => {
                    let _ = self.del_addr(ifindex, addr);
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// Remove an address (`ip addr del`) and the routes it brought, unless
    /// another address of the interface still needs them.
    pub fn del_addr(&mut self, ifindex: IfIndex, addr: Ipv4Addr) -> Result<(), NetnsError> {
        self.del_addr_inner(ifindex, addr, false)
    }

    /// Give `addr` on `ifindex` a new prefix length (`ip addr replace
    /// A/N`): its connected routes follow, and nothing else changes. Routes
    /// through the interface stay (a delete and add would flush them when
    /// it was the only address), and so do masquerade entries for it. If
    /// the new prefix cannot be added, the old one is put back.
    pub fn change_addr_prefix(&mut self, ifindex: IfIndex, addr: Ipv4Addr, prefix_len: u8) -> Result<(), NetnsError> {
        if prefix_len > 32 {
            return Err(NetnsError::Invalid);
        }
        let old = self.iface(ifindex).ok_or(NetnsError::NotFound)?.addrs.iter().find(|a| a.addr == addr).copied();
        let old = old.ok_or(NetnsError::NotFound)?;
        if old.prefix_len == prefix_len {
            return Ok(());
        }
        self.del_addr_inner(ifindex, addr, true)?;
        if let Err(e) = self.add_addr(ifindex, addr, prefix_len) {
            let _ = self.add_addr(ifindex, addr, old.prefix_len);
            return Err(e);
        }
        Ok(())
    }

    /// [`World::del_addr`]; `replacing` when the same address comes back at
    /// once with another prefix.
    fn del_addr_inner(&mut self, ifindex: IfIndex, addr: Ipv4Addr, replacing: bool) -> Result<(), NetnsError> {
        let i = self.iface_mut(ifindex).ok_or(NetnsError::NotFound)?;
        let pos = i.addrs.iter().position(|a| a.addr == addr).ok_or(NetnsError::NotFound)?;
        let gone = i.addrs.remove(pos);
        let ns = i.ns;
        let still = i.addrs.clone();
        let label = i.name.clone();
        self.if_gen = self.if_gen.wrapping_add(1);
        self.events.push(RtEvent::Addr { deleted: true, ns, ifindex, label, addr: gone });
        if !replacing {
            self.masq_forget(ifindex, Some(addr));
        }
        // Another address in the same subnet inherits the subnet and
        // broadcast routes the two shared, with itself as their preferred
        // source (Linux with `promote_secondaries`, as most distributions
        // set it): kept with the old source, local traffic would go on
        // leaving from an address the host no longer owns.
        let heir = still.iter().find(|o| o.prefix_len == gone.prefix_len && o.contains(gone.addr)).map(|o| o.addr);
        let shared = |r: &Route| {
            gone.prefix_len < 32
                && ((r.prefix_len == gone.prefix_len && r.dst == gone.network())
                    || (r.kind == RouteKind::Broadcast && Some(r.dst) == gone.broadcast()))
        };
        let ours = |r: &Route| r.oif == ifindex && r.proto == RouteProto::Kernel && r.prefsrc == Some(addr);
        let doomed = |r: &Route| ours(r) && !(heir.is_some() && shared(r));
        // An address brings at most three routes (local, broadcast, subnet).
        let mut routes: heapless::Vec<Route, 4> = heapless::Vec::new();
        for r in self.fib.routes(ns).filter(|r| ours(r)) {
            let _ = routes.push(*r);
        }
        for r in routes {
            if self.fib.del(ns, r.dst, r.prefix_len, |x| *x == r).is_ok() {
                self.events.push(RtEvent::Route { deleted: true, ns, route: r });
                if let Some(h) = heir.filter(|_| shared(&r)) {
                    let promoted = Route { prefsrc: Some(h), ..r };
                    // The slot just freed takes it: this cannot fail.
                    if self.fib.add(ns, promoted).is_ok() {
                        self.events.push(RtEvent::Route { deleted: false, ns, route: promoted });
                    }
                }
            }
        }
        self.fib.remove_where(ns, doomed);
        // With its last address gone the interface no longer does IP, and
        // every route through it goes, without notifications, as Linux's
        // `fib_disable_ip` flushes them. While an address is left, routes
        // through a gateway that is no longer on any subnet stay, as Linux
        // keeps them.
        if still.is_empty() && !replacing {
            self.fib.remove_where(ns, |r| r.oif == ifindex);
        }
        self.fib.invalidate();
        Ok(())
    }

    /// Add a permanent neighbour (`ip neigh add IP lladdr MAC dev IF nud
    /// permanent`): frames to `ip` on `ifindex` go to `mac` without ARP.
    pub fn add_neigh(&mut self, ifindex: IfIndex, ip: Ipv4Addr, mac: MacAddr) -> Result<(), NetnsError> {
        let ns = self.iface(ifindex).ok_or(NetnsError::NotFound)?.ns;
        let k = crate::neigh::NeighKey { ns, ifindex, ip };
        let now = self.now;
        let waiting = self.neigh.add_permanent(&mut self.pool, k, mac, now).ok_or(NetnsError::Full)?;
        self.neigh_flush(ifindex, mac, waiting, now);
        Ok(())
    }

    /// Add a route (`ip route add`).
    pub fn add_route(&mut self, ns: NsId, route: Route) -> Result<(), NetnsError> {
        if self.netns(ns).is_none() || (route.oif != 0 && self.iface(route.oif).is_none_or(|i| i.ns != ns)) {
            return Err(NetnsError::NotFound);
        }
        // A preferred source must be ours, unless the route is the local
        // route of that very address (Linux's `fib_valid_prefsrc`): a
        // foreign one would be stamped on every packet the route carries.
        if let Some(src) = route.prefsrc
            && !(route.kind == RouteKind::Local && route.dst == src)
            && !self.fib.lookup(ns, src, |_| true).is_some_and(|r| r.route.kind == RouteKind::Local)
        {
            return Err(NetnsError::Invalid);
        }
        self.fib.add(ns, route)?;
        self.events.push(RtEvent::Route { deleted: false, ns, route });
        Ok(())
    }

    /// Add a route to `dst/prefix_len` via `gateway` (`ip route add ... via G`),
    /// finding the interface that reaches the gateway.
    pub fn add_route_via(
        &mut self,
        ns: NsId,
        dst: Ipv4Addr,
        prefix_len: u8,
        gateway: Ipv4Addr,
    ) -> Result<(), NetnsError> {
        let oif = self
            .ifaces(ns)
            .find(|&i| self.iface(i).is_some_and(|x| x.addrs.iter().any(|a| a.contains(gateway))))
            .ok_or(NetnsError::Route(FibError::NotFound))?;
        self.add_route(ns, Route::unicast(dst, prefix_len, Some(gateway), oif))
    }

    /// Remove a route (`ip route del`): the first for `dst/prefix_len` that `matches`.
    pub fn del_route(
        &mut self,
        ns: NsId,
        dst: Ipv4Addr,
        prefix_len: u8,
        matches: impl Fn(&Route) -> bool,
    ) -> Result<Route, NetnsError> {
        let route = self.fib.del(ns, dst, prefix_len, matches)?;
        self.events.push(RtEvent::Route { deleted: true, ns, route });
        Ok(route)
    }

    /// Every route of `ns` (`ip route show table all`).
    pub fn routes(&self, ns: NsId) -> impl Iterator<Item = &Route> + '_ {
        self.fib.routes(ns)
    }

    /// True when `addr` is one of `ns`'s addresses.
    pub fn is_local_addr(&self, ns: NsId, addr: Ipv4Addr) -> bool {
        self.ifaces.iter().flatten().any(|i| i.ns == ns && i.addrs.iter().any(|a| a.addr == addr))
    }
}

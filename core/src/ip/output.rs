//! The IPv4 output path (`ip_queue_xmit`, `ip_local_out`, `ip_output`,
//! `ip_finish_output`): choose the route and source address, build the
//! header, pass the OUTPUT and POSTROUTING hooks, fragment what exceeds the
//! path MTU, and hand each packet to the neighbour layer or the device.

use core::net::Ipv4Addr;

use super::fib::RouteKind;
use super::frag::{FragError, ip_fragment};
use crate::neigh::{NeighKey, NeighOut};
use crate::netfilter::{NfHook, NfHooks};
use crate::netns::{Iface, NsId, World};
use crate::skb::{GsoType, IfIndex, OwnerId, SkBuff, SkbQueue};
use crate::socket::Errno;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{EtherType, IpProtocol, Ipv4Repr, MacAddr};

/// Where a locally generated packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OutRoute {
    /// Output interface.
    pub oif: IfIndex,
    /// Next hop: the gateway, or the destination itself.
    pub next_hop: Ipv4Addr,
    /// Source address to use.
    pub src: Ipv4Addr,
    /// Largest packet the path takes (interface, route lock, learned PMTU).
    pub mtu: u16,
    /// Send as a link-layer broadcast.
    pub broadcast: bool,
    /// The learned path MTU is locked at its floor: a sender that only
    /// wants path-MTU discovery (TCP) sends without DF.
    pub mtu_locked: bool,
    /// The destination is one of ours (goes through loopback).
    pub local: bool,
}

/// Header fields a sender chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IpParams {
    pub proto: IpProtocol,
    pub ttl: u8,
    pub tos: u8,
    pub df: bool,
}

/// True when an interface can carry traffic now.
pub(crate) fn usable(ifaces: &[Option<Iface<'_>>], oif: IfIndex) -> bool {
    crate::netns::iface_in(ifaces, oif).is_some_and(|i| i.up && i.dev.get().link_up())
}

impl<H: NfHooks> World<'_, H> {
    /// Route a locally generated packet to `dst` (`ip_route_output`).
    /// `src` is the socket's bound address, if any; it must still be one of
    /// the namespace's addresses (`EINVAL` otherwise, as in Linux), so a
    /// connection whose address was deleted stops sending from it.
    pub(crate) fn route_output(
        &mut self,
        ns: NsId,
        dst: Ipv4Addr,
        src: Option<Ipv4Addr>,
        now: Instant,
    ) -> Result<OutRoute, Errno> {
        self.route_output_src(ns, dst, src, false, now)
    }

    /// [`World::route_output`] for a packet that answers in another host's
    /// name (a reset or ICMP error that nft `reject` sends for a forwarded
    /// packet, a packet routed again after NAT): its source need not be
    /// ours (Linux's `FLOWI_FLAG_ANYSRC`).
    pub(crate) fn route_output_anysrc(
        &mut self,
        ns: NsId,
        dst: Ipv4Addr,
        src: Ipv4Addr,
        now: Instant,
    ) -> Result<OutRoute, Errno> {
        self.route_output_src(ns, dst, Some(src), true, now)
    }

    fn route_output_src(
        &mut self,
        ns: NsId,
        dst: Ipv4Addr,
        src: Option<Ipv4Addr>,
        any_src: bool,
        now: Instant,
    ) -> Result<OutRoute, Errno> {
        let ifaces = &*self.ifaces;
        let r = self.fib.route(ns, dst, |o| usable(ifaces, o)).ok_or(Errno::NetUnreachable)?;
        let limited_broadcast = dst.is_broadcast();
        let (oif, local, broadcast) = match r.route.kind {
            RouteKind::Local => (self.loopback(ns).ok_or(Errno::NetUnreachable)?, true, false),
            RouteKind::Broadcast => (r.route.oif, false, true),
            RouteKind::Unicast => (r.route.oif, false, limited_broadcast),
            RouteKind::Unreachable => return Err(Errno::HostUnreachable),
            RouteKind::Prohibit => return Err(Errno::Access),
            RouteKind::Blackhole => return Err(Errno::InvalidArgument),
        };
        // RFC 1122 §3.2.1.3: a source is never a broadcast or multicast
        // address. A socket bound to one (to receive) sends from the
        // address the route picks, as Linux's `inet_bind` arranges.
        // (The outgoing interface's own addresses are looked at first: a
        // connection's every segment comes here with its source.)
        let on_oif = |s: &Ipv4Addr| self.iface(oif).is_some_and(|i| i.addrs.iter().any(|a| a.addr == *s));
        let usable_src = |s: &Ipv4Addr| {
            !s.is_unspecified()
                && !s.is_broadcast()
                && !s.is_multicast()
                && (any_src || on_oif(s) || self.local_addr_type(ns, *s) != Some(RouteKind::Broadcast))
        };
        let src = match src.filter(usable_src) {
            Some(s) if !any_src && !self.src_ok(ns, oif, s) => return Err(Errno::InvalidArgument),
            Some(s) => s,
            None if local => dst,
            None => r.route.prefsrc.or_else(|| self.select_src(oif, r.next_hop)).ok_or(Errno::AddrNotAvail)?,
        };
        // RFC 1122 §3.2.1.3(g): 127/8 never leaves the host. A socket bound
        // to 127.0.0.1 cannot reach another host, nor can a reply to a
        // packet that claimed such an address (Linux's `__mkroute_output`).
        if src.is_loopback() && !self.is_loopback_dev(oif) {
            return Err(Errno::InvalidArgument);
        }
        let iface_mtu = self.iface(oif).map_or(0, |i| i.mtu);
        let mut mtu = if r.route.mtu != 0 { r.route.mtu.min(iface_mtu) } else { iface_mtu };
        let mut mtu_locked = false;
        if let Some((p, locked)) = self.pmtu.get_locked(ns, dst, now) {
            mtu = mtu.min(p);
            mtu_locked = locked;
        }
        let next_hop = if broadcast { dst } else { r.next_hop };
        Ok(OutRoute { oif, next_hop, src, mtu, broadcast, local, mtu_locked })
    }

    /// What the local table says `ip` is to `ns` (Linux's
    /// `inet_addr_type`): one of its own (`Local`, which covers all of
    /// 127/8) or a subnet's broadcast address (`Broadcast`); `None` for any
    /// other address.
    pub(crate) fn local_addr_type(&self, ns: NsId, ip: Ipv4Addr) -> Option<RouteKind> {
        if self.is_local_addr(ns, ip) {
            return Some(RouteKind::Local);
        }
        let r = self.fib.lookup(ns, ip, |_| true)?;
        matches!(r.route.kind, RouteKind::Local | RouteKind::Broadcast).then_some(r.route.kind)
    }

    /// True when `src` is local to `ns`: the route to it is a local one
    /// (Linux's `__ip_dev_find`), so the weak host model allows any of the
    /// namespace's addresses and all of `127.0.0.0/8`. The outgoing
    /// interface's own addresses are looked at first, as they nearly always
    /// hold it.
    fn src_ok(&self, ns: NsId, oif: IfIndex, src: Ipv4Addr) -> bool {
        self.iface(oif).is_some_and(|i| i.addrs.iter().any(|a| a.addr == src))
            || self.is_local_addr(ns, src)
            || self.fib.lookup(ns, src, |_| true).is_some_and(|r| r.route.kind == RouteKind::Local)
    }

    /// The next IP identification for `dst`: a per-namespace counter folded
    /// with a keyed hash of the destination, so IDs towards one host count
    /// up (unique within the reassembly window) while another host cannot
    /// predict them (RFC 6864 §4.1 leaves the choice to the sender).
    pub(crate) fn next_ip_id(&mut self, ns: NsId, dst: Ipv4Addr) -> u16 {
        let salt = self.keyed_hash(&dst.octets()) as u16;
        match self.netns_mut(ns) {
            Some(n) => {
                n.ip_id = n.ip_id.wrapping_add(1);
                n.ip_id ^ salt
            }
            None => salt,
        }
    }

    /// Put an IPv4 header in front of `skb` (data at the L4 header) and send
    /// it on `route` (`ip_queue_xmit`).
    pub(crate) fn ip_queue_xmit(
        &mut self,
        ns: NsId,
        skb: SkBuff,
        route: &OutRoute,
        dst: Ipv4Addr,
        p: IpParams,
        now: Instant,
    ) -> Result<(), DropReason> {
        let payload_len = self.pool.len(&skb);
        let Ok(payload_len) = u16::try_from(payload_len + 20).map(|t| t - 20) else {
            self.pool.free(skb);
            return Err(DropReason::BadTotalLen);
        };
        let ident = self.next_ip_id(ns, dst);
        let repr = Ipv4Repr {
            src: route.src,
            dst,
            protocol: p.proto,
            ttl: p.ttl,
            ident,
            dont_frag: p.df,
            payload_len,
            dscp: p.tos >> 2,
            ecn: p.tos & 3,
        };
        let transport = self.pool.data_offset(&skb);
        let built = self.pool.push(&skb, 20).map(|h| repr.emit(h).is_ok());
        if built != Ok(true) {
            self.pool.free(skb);
            self.drop_count(ns, DropReason::NoMemory);
            return Err(DropReason::NoMemory);
        }
        let data = self.pool.data_offset(&skb);
        if let Ok(m) = self.pool.meta_mut(&skb) {
            m.network_header = data;
            m.transport_header = transport;
            m.protocol = EtherType::IPV4.0;
            m.oif = route.oif;
        }
        if let Some(n) = self.netns_mut(ns) {
            n.stats.ip.OutRequests += 1;
        }
        self.ip_local_out(ns, skb, route, now)
    }

    /// The OUTPUT hook, then output (`ip_local_out`).
    pub(crate) fn ip_local_out(
        &mut self,
        ns: NsId,
        skb: SkBuff,
        route: &OutRoute,
        now: Instant,
    ) -> Result<(), DropReason> {
        let before = if self.nft_nat(ns) { self.ip_addrs(&skb) } else { None };
        let Some(skb) = self.nf_hook(NfHook::LocalOut, ns, None, Some(route.oif), skb, now)? else { return Ok(()) };
        // Destination NAT on OUTPUT routes the packet again (`ip_route_me_harder`).
        let after = if before.is_some() { self.ip_addrs(&skb) } else { None };
        if let (Some((_, old)), Some((src, dst))) = (before, after)
            && old != dst
        {
            let Ok(r) = self.route_output_anysrc(ns, dst, src, now) else {
                self.pool.free(skb);
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.ip.OutNoRoutes += 1;
                }
                self.drop_count(ns, DropReason::NoRoute);
                return Err(DropReason::NoRoute);
            };
            return self.ip_output(ns, r.oif, r.next_hop, r.mtu, r.broadcast, skb, now);
        }
        self.ip_output(ns, route.oif, route.next_hop, route.mtu, route.broadcast, skb, now)
    }

    /// The POSTROUTING hook, fragmentation, then the neighbour or the device
    /// (`ip_output` and `ip_finish_output`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ip_output(
        &mut self,
        ns: NsId,
        oif: IfIndex,
        next_hop: Ipv4Addr,
        mtu: u16,
        broadcast: bool,
        skb: SkBuff,
        now: Instant,
    ) -> Result<(), DropReason> {
        let Some(skb) = self.nf_hook(NfHook::PostRouting, ns, None, Some(oif), skb, now)? else { return Ok(()) };
        let len = self.pool.len(&skb);
        if let Some(n) = self.netns_mut(ns) {
            n.stats.ip.OutOctets += len as u64;
            if broadcast {
                n.stats.ip.OutBcastPkts += 1;
            }
        }
        let fits = len <= usize::from(mtu) || self.gso_network_len(&skb).is_some_and(|l| l <= usize::from(mtu));
        if fits {
            return self.ip_finish_output2(ns, oif, next_hop, broadcast, skb, now);
        }
        let mut frags = SkbQueue::new();
        // The fragments stand for the datagram the sender's buffer took:
        // they are charged to it in turn (Linux's `ip_frag_next` sets their
        // owner), so SO_SNDBUF holds a sender of big datagrams back
        // instead of letting it fill the device queue to loss.
        let owner = self.pool.owner_of(&skb).unwrap_or(OwnerId::SYSTEM);
        let res = ip_fragment(&mut self.pool, &skb, mtu, OwnerId::SYSTEM, &mut frags);
        self.pool.free(skb);
        if owner != OwnerId::SYSTEM {
            let mut next = frags.front(&self.pool);
            while let Some(r) = next {
                let _ = self.pool.charge_force(&r, owner);
                next = frags.next(&self.pool, r);
            }
        }
        let n = match res {
            Ok(n) => n,
            Err(e) => {
                let why = match e {
                    FragError::DontFragment | FragError::MtuTooSmall => DropReason::FragNeeded,
                    FragError::BadHeader(_) => DropReason::BadHeaderLen,
                    FragError::Skb(_) => DropReason::NoMemory,
                };
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.ip.FragFails += 1;
                    n.stats.drops.count(why);
                }
                return Err(why);
            }
        };
        if let Some(s) = self.netns_mut(ns) {
            s.stats.ip.FragOKs += 1;
            s.stats.ip.FragCreates += n as u64;
        }
        let mut result = Ok(());
        while let Some(f) = frags.pop_front(&mut self.pool) {
            if let Err(e) = self.ip_finish_output2(ns, oif, next_hop, broadcast, f, now) {
                result = Err(e);
            }
        }
        result
    }

    /// For a GSO packet (data at its IPv4 header), the length of each
    /// IPv4 packet it becomes: its network and transport headers plus
    /// `gso_size`, as `skb_gso_validate_network_len` measures it. `None`
    /// for a packet that is not GSO.
    pub(crate) fn gso_network_len(&self, skb: &SkBuff) -> Option<usize> {
        let m = self.pool.meta(skb);
        let gso = m.gso;
        if !gso.is_gso() {
            return None;
        }
        let l4 = self.pool.bytes_from(skb, m.transport_header);
        let l4_hdr = match gso.kind {
            GsoType::TcpV4 | GsoType::TcpV6 => l4.get(12).map_or(60, |b| usize::from(b >> 4) * 4),
            _ => 8,
        };
        Some(
            usize::from(m.transport_header.saturating_sub(self.pool.data_offset(skb))) + l4_hdr + usize::from(gso.size),
        )
    }

    /// Resolve the next hop and transmit (`ip_finish_output2`).
    pub(crate) fn ip_finish_output2(
        &mut self,
        ns: NsId,
        oif: IfIndex,
        next_hop: Ipv4Addr,
        broadcast: bool,
        skb: SkBuff,
        now: Instant,
    ) -> Result<(), DropReason> {
        if self.hw_addr(oif).is_none() {
            return self.dev_queue_xmit(oif, skb, now);
        }
        if broadcast {
            return self.eth_xmit(oif, MacAddr::BROADCAST, EtherType::IPV4, skb, now);
        }
        let owner = self.neigh_owner;
        match self.neigh.output(&mut self.pool, owner, NeighKey { ns, ifindex: oif, ip: next_hop }, skb, now) {
            NeighOut::Send(mac, skb) => self.eth_xmit(oif, mac, EtherType::IPV4, skb, now),
            NeighOut::Queued { request, dropped } => {
                if let Some(old) = dropped {
                    // The sender of the new packet is told nothing: its
                    // packet waits. The one pushed out is counted.
                    self.pool.free(old);
                    self.drop_count(ns, DropReason::NeighQueueFull);
                    if let Some(n) = self.netns_mut(ns) {
                        n.stats.ip.OutDiscards += 1;
                    }
                }
                if request {
                    self.arp_solicit(oif, next_hop, None, now);
                }
                Ok(())
            }
            NeighOut::Drop(skb, why) => {
                self.pool.free(skb);
                self.drop_count(ns, why);
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.ip.OutDiscards += 1;
                }
                Err(why)
            }
        }
    }

    /// Run the hooks of `hook`: `Ok(Some)` to go on, `Ok(None)` when a hook
    /// took the packet, `Err` when one dropped it (counted here).
    pub(crate) fn nf_hook(
        &mut self,
        hook: NfHook,
        ns: NsId,
        iif: Option<IfIndex>,
        oif: Option<IfIndex>,
        skb: SkBuff,
        now: Instant,
    ) -> Result<Option<SkBuff>, DropReason> {
        let state = crate::netfilter::NfState { hook, ns, iif, oif, now };
        match self.nf_dispatch(&state, skb) {
            crate::netfilter::NfVerdict::Accept(skb) => Ok(Some(skb)),
            crate::netfilter::NfVerdict::Drop(skb) => {
                self.pool.free(skb);
                self.drop_count(ns, DropReason::Netfilter);
                Err(DropReason::Netfilter)
            }
            crate::netfilter::NfVerdict::Stolen => Ok(None),
        }
    }
}

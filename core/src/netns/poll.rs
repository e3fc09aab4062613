//! Running the world: `poll(now)` services every device (the NAPI loop),
//! carries received packets up the stack, sends what waits, and fires
//! timers; `poll_at()` says when to call again.

use super::{Device, NsId, World};
use crate::dev::Medium;
use crate::neigh::NeighTimer;
use crate::netfilter::NfHooks;
use crate::skb::{IfIndex, OwnerId, PacketType, SkBuff, SkbQueue};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{DstUnreachable, EtherType, EthernetFrame, TimeExceeded};

impl<H: NfHooks> World<'_, H> {
    /// Do everything due by `now`: service devices and deliver what they
    /// received, transmit queued packets, run timers. Returns the number of
    /// packets received.
    pub fn poll(&mut self, now: Instant) -> usize {
        self.now = now;
        let mut received = 0;
        self.switch_xfer(now);
        for slot in 0..self.ifaces.len() {
            if let Some(ifindex) = self.ifindex_at(slot) {
                received += self.poll_iface(ifindex, now);
                self.carrier_check(ifindex);
            }
        }
        self.run_timers(now);
        self.flush_backlogs(now);
        self.switch_xfer(now);
        received
    }

    /// When [`World::poll`] is next needed: a device timer, a frame due, a
    /// neighbour or reassembly timer, or now if work is waiting.
    pub fn poll_at(&self) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut earliest = |t: Option<Instant>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        };
        for i in self.ifaces.iter().flatten() {
            let dev = i.dev.get();
            let own = matches!(i.dev, Device::Loopback(_) | Device::Veth(_) | Device::Tun(_));
            if super::xmit::has_backlog(i) || (i.up && own && dev.napi_scheduled()) {
                earliest(Some(self.now));
            }
            earliest(dev.poll_at());
        }
        if self.switch_pending() {
            earliest(Some(self.now));
        }
        earliest(self.neigh.poll_at());
        earliest(self.reasm.poll_at());
        earliest(self.tcp_poll_at());
        earliest(self.nft_poll_at());
        at
    }

    /// A driver's carrier can change on its own (a cable pulled, a PHY
    /// renegotiating: Linux's `netif_carrier_off` and the linkwatch work).
    /// Routes through it stop or start matching, listeners hear of it, a
    /// bridge it is a port of follows, and on a loss what waited for the
    /// link is dropped. The devices the world makes report their changes
    /// as they make them.
    fn carrier_check(&mut self, ifindex: IfIndex) {
        let Some(i) = super::iface_in_mut(self.ifaces, ifindex) else { return };
        if !matches!(i.dev, Device::Driver(_)) {
            return;
        }
        let carrier = i.up && i.dev.get().link_up();
        if carrier == i.carrier {
            return;
        }
        i.carrier = carrier;
        if !carrier {
            self.link_lost(ifindex, true);
        }
        self.fib.invalidate();
        self.link_changed(ifindex);
    }

    /// One interface: let the device advance, reclaim completions, and run
    /// NAPI polls within the namespace's budget.
    fn poll_iface(&mut self, ifindex: IfIndex, now: Instant) -> usize {
        let Some(iface) = super::iface_in_mut(self.ifaces, ifindex) else {
            return 0;
        };
        let ns = iface.ns;
        let budget = self.ns.get(usize::from(ns.0)).and_then(Option::as_ref).map_or(64, |n| n.sysctl.napi_budget);
        let dev = iface.dev.get_mut();
        dev.tick(&mut self.pool, now);
        dev.reclaim_tx(&mut self.pool, now);
        if !iface.up || !dev.napi_scheduled() {
            return 0;
        }
        let medium = dev.medium();
        let use_gro = iface.gro_enabled && !dev.features().lro;
        let mut rx = SkbQueue::new();
        let got = dev.poll_rx(&mut self.pool, now, usize::from(budget), &mut rx);
        let mut up = SkbQueue::new();
        while let Some(skb) = rx.pop_front(&mut self.pool) {
            // The ring's memory covers posted buffers; a received packet is the stack's.
            let _ = self.pool.charge(&skb, OwnerId::SYSTEM);
            if use_gro {
                iface.gro.receive(&mut self.pool, medium, skb, &mut up);
            } else {
                up.push_back(&mut self.pool, skb);
            }
        }
        iface.gro.flush(&mut self.pool, &mut up);
        while let Some(skb) = up.pop_front(&mut self.pool) {
            self.netif_receive(ns, ifindex, medium, skb, now);
        }
        got
    }

    /// A received frame enters the stack (`netif_receive_skb`,
    /// `eth_type_trans`).
    pub(super) fn netif_receive(&mut self, ns: NsId, ifindex: IfIndex, medium: Medium, skb: SkBuff, now: Instant) {
        if let Ok(m) = self.pool.meta_mut(&skb) {
            m.iif = ifindex;
        }
        if medium == Medium::Ip {
            return self.ip_rcv(ns, ifindex, skb, now);
        }
        // A bridge port's frames belong to the bridge.
        let Some(skb) = self.br_handle_frame(ifindex, skb, now) else { return };
        let our = self.hw_addr(ifindex);
        let frame = EthernetFrame::new_checked(self.pool.data(&skb))
            .map(|f| (f.dst(), f.ethertype(), f.header_len(), f.vlan()));
        let Ok((dst, ethertype, hlen, vlan)) = frame else {
            self.pool.free(skb);
            return self.drop_count(ns, DropReason::Truncated);
        };
        // A bridge owns its ports' addresses too (its local FDB entries).
        let pkt_type = if Some(dst) == our || (dst.is_unicast() && self.br_is_local(ifindex, dst)) {
            PacketType::Host
        } else if dst.is_broadcast() {
            PacketType::Broadcast
        } else if dst.is_multicast() {
            PacketType::Multicast
        } else {
            PacketType::OtherHost
        };
        let mac = self.pool.data_offset(&skb);
        if let Ok(m) = self.pool.meta_mut(&skb) {
            m.mac_header = mac;
            m.pkt_type = pkt_type;
            m.protocol = ethertype.0;
        }
        // VLAN sub-interfaces do not exist yet: tagged frames are not ours.
        if vlan.is_some() || self.pool.pull(&skb, hlen).is_err() {
            self.pool.free(skb);
            return self.drop_count(ns, DropReason::UnknownEtherType);
        }
        match ethertype {
            EtherType::IPV4 => self.ip_rcv(ns, ifindex, skb, now),
            EtherType::ARP if pkt_type != PacketType::OtherHost => self.arp_rcv(ns, ifindex, skb, now),
            EtherType::ARP => {
                self.pool.free(skb);
                self.drop_count(ns, DropReason::OtherHost);
            }
            _ => {
                self.pool.free(skb);
                self.drop_count(ns, DropReason::UnknownEtherType);
            }
        }
    }

    /// Neighbour, reassembly, path-MTU and TCP timers.
    fn run_timers(&mut self, now: Instant) {
        // Each entry's timer moves past `now` when it fires, so this ends.
        while let Some(t) = self.neigh.next_timer(&mut self.pool, now) {
            match t {
                NeighTimer::Request { ifindex, ip, mac, .. } => self.arp_solicit(ifindex, ip, mac, now),
                NeighTimer::Failed { ns, mut queue } => {
                    while let Some(skb) = queue.pop_front(&mut self.pool) {
                        let _ = self.pool.charge(&skb, OwnerId::SYSTEM);
                        self.drop_count(ns, DropReason::NeighFailed);
                        self.icmp_dst_unreach(ns, skb, DstUnreachable::HostUnreachable, now);
                    }
                }
            }
        }
        while let Some(e) = self.reasm.next_expired(&mut self.pool, now) {
            if let Some(n) = self.netns_mut(e.ns) {
                n.stats.ip.ReasmTimeout += 1;
                n.stats.ip.ReasmFails += 1;
                n.stats.drops.count(DropReason::ReasmTimeout);
            }
            if let Some(first) = e.first {
                let _ = self.pool.charge(&first, OwnerId::SYSTEM);
                self.icmp_time_exceeded(e.ns, first, TimeExceeded::FragReassembly, now);
            }
        }
        self.pmtu.expire(now);
        self.fdb.expire(now);
        self.tcp_timers(now);
        self.nft_timers(now);
    }

    /// Take the world down: close sockets, free every queue, set every
    /// interface down (so drivers give their ring buffers back). The pool is
    /// idle afterwards: every scenario must end that way.
    pub fn shutdown(&mut self) {
        self.close_all();
        self.reasm.clear(&mut self.pool);
        for slot in 0..self.ifaces.len() {
            let Some(ifindex) = self.ifindex_at(slot) else { continue };
            let _ = self.set_link_up(ifindex, false);
            self.neigh.flush_iface(&mut self.pool, ifindex);
            if let Some(i) = self.ifaces[slot].as_mut() {
                i.backlog.purge(&mut self.pool);
                let mut q = SkbQueue::new();
                i.gro.flush(&mut self.pool, &mut q);
                q.purge(&mut self.pool);
                match &mut i.dev {
                    Device::Loopback(lo) => lo.purge(&mut self.pool),
                    Device::Veth(v) => v.purge(&mut self.pool),
                    Device::Bridge(b) => b.purge(&mut self.pool),
                    Device::Tun(t) => t.purge(&mut self.pool),
                    Device::Driver(_) => {}
                }
            }
        }
    }
}

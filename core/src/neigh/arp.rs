//! ARP (RFC 826) on Ethernet interfaces: answering requests for our
//! addresses, learning neighbours from what we hear, and asking for the
//! ones we need (Linux's `net/ipv4/arp.c`).
//!
//! A request is answered only for an address of the interface it arrived on
//! (Linux's `arp_ignore=1`). The sender need not be on one of our subnets: a
//! gateway reached through an on-link route (`ip route add 192.168.7.1 dev
//! eth0`, as hosts with /32 addresses are set up) lies outside all of them,
//! and Linux resolves it like any neighbour. What keeps strangers out of the
//! table is that only a request to us creates an entry; a reply or
//! gratuitous ARP (sender address = target address) refreshes one we already
//! have, as Linux does with `arp_accept` off.

use core::net::Ipv4Addr;

use super::NeighKey;
use crate::netfilter::NfHooks;
use crate::netns::{NsId, World};
use crate::skb::{IfIndex, OwnerId, SkBuff};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{ArpOp, ArpPacket, ArpRepr, EtherType, MacAddr};

impl<H: NfHooks> World<'_, H> {
    /// Handle a received ARP packet (`arp_rcv`); `skb` starts at the ARP header.
    pub(crate) fn arp_rcv(&mut self, ns: NsId, ifindex: IfIndex, skb: SkBuff, now: Instant) {
        let parsed = ArpPacket::new_checked(self.pool.data(&skb)).map(|p| ArpRepr::parse(&p));
        self.pool.free(skb);
        let Ok(arp) = parsed else {
            self.drop_count(ns, DropReason::BadArp);
            return;
        };
        let sip = arp.sender_ip;
        // Only requests and replies mean anything: RFC 826 would merge the
        // sender of any opcode into the table, but Linux's arp_process drops
        // other opcodes first, so that they cannot rewrite an entry.
        let known_op = matches!(arp.op, ArpOp::Request | ArpOp::Reply);
        // Addresses no host may claim on a link: Linux's `arp_process`
        // drops these targets, and the route check it makes on the sender
        // refuses martian sources (RFC 1122 §3.2.1.3).
        let martian_sip = sip.is_broadcast() || sip.is_multicast() || sip.is_loopback() || sip.octets()[0] == 0;
        let martian_tip = arp.target_ip.is_multicast() || arp.target_ip.is_loopback();
        let bad_sip = martian_sip && !sip.is_unspecified();
        if !known_op || !arp.sender_hw.is_unicast() || bad_sip || martian_tip {
            self.drop_count(ns, DropReason::BadArp);
            return;
        }
        let Some(iface) = self.iface(ifindex) else { return };
        let for_us = iface.addrs.iter().any(|a| a.addr == arp.target_ip);
        if iface.addrs.iter().any(|a| a.addr == sip) {
            // Someone claims our address: not learned (Linux logs a conflict).
            self.drop_count(ns, DropReason::BadArp);
            return;
        }
        if arp.op == ArpOp::Request && for_us {
            // RFC 5227 probes come from 0.0.0.0: answered, not learned.
            if !sip.is_unspecified() {
                let q = self.neigh.update(
                    &mut self.pool,
                    NeighKey { ns, ifindex, ip: sip },
                    arp.sender_hw,
                    false,
                    true,
                    now,
                );
                self.neigh_flush(ifindex, arp.sender_hw, q, now);
            }
            self.arp_send(ifindex, ArpOp::Reply, arp.target_ip, sip, arp.sender_hw, now);
            return;
        }
        if sip.is_unspecified() {
            return;
        }
        // A reply to us confirms the neighbour; anything else only refreshes it.
        let confirmed = arp.op == ArpOp::Reply && for_us;
        let q =
            self.neigh.update(&mut self.pool, NeighKey { ns, ifindex, ip: sip }, arp.sender_hw, confirmed, false, now);
        self.neigh_flush(ifindex, arp.sender_hw, q, now);
    }

    /// Send an ARP message from interface `ifindex`: a request for
    /// `target_ip` (broadcast, or unicast to `dst` when probing), or a reply
    /// telling `dst` that `our_ip` is at our address.
    pub(crate) fn arp_send(
        &mut self,
        ifindex: IfIndex,
        op: ArpOp,
        our_ip: Ipv4Addr,
        target_ip: Ipv4Addr,
        dst: MacAddr,
        now: Instant,
    ) {
        let (Some(ns), Some(mac)) = (self.iface(ifindex).map(|i| i.ns), self.hw_addr(ifindex)) else { return };
        let repr = ArpRepr {
            op,
            sender_hw: mac,
            sender_ip: our_ip,
            target_hw: if op == ArpOp::Reply || !dst.is_broadcast() { dst } else { MacAddr::ZERO },
            target_ip,
        };
        let Ok(skb) = self.pool.alloc_with_headroom(OwnerId::SYSTEM, 64) else {
            self.drop_count(ns, DropReason::NoMemory);
            return;
        };
        let written = self.pool.put(&skb, 28).map(|b| repr.emit(b).is_ok());
        if written != Ok(true) {
            self.pool.free(skb);
            return;
        }
        // A refused request or reply is counted by the device layer.
        let _ = self.eth_xmit(ifindex, dst, EtherType::ARP, skb, now);
    }

    /// Ask for `ip` on `ifindex` (broadcast, or unicast to `mac`).
    pub(crate) fn arp_solicit(&mut self, ifindex: IfIndex, ip: Ipv4Addr, mac: Option<MacAddr>, now: Instant) {
        let Some(src) = self.select_src(ifindex, ip) else { return };
        self.arp_send(ifindex, ArpOp::Request, src, ip, mac.unwrap_or(MacAddr::BROADCAST), now);
    }
}

//! Frames between the world's own Ethernet devices: across veth pairs
//! (`veth_xmit` handing the skb to the peer) and through bridges
//! (`br_handle_frame`, `br_forward`, `br_flood`).
//!
//! A frame received on a bridge port never reaches the port's own stack:
//! the bridge takes it (Linux's `rx_handler`), learns its source, and
//! forwards it to the port its destination lives behind, floods it to
//! every other port that is up when that is unknown or the frame is
//! broadcast or multicast, and hands it up the bridge interface's stack
//! when it is addressed to the bridge or to everyone. Floods are clones:
//! the frame's bytes are shared, not copied.

use super::{Device, Iface, NsId, World};
use crate::dev::Medium;
use crate::netfilter::NfHooks;
use crate::skb::{IfIndex, OwnerId, SkBuff};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{EthernetFrame, MacAddr};

impl<H: NfHooks> World<'_, H> {
    /// Carry what bridges' own stacks sent to their ports, then what veth
    /// ends sent to their peers.
    pub(crate) fn switch_xfer(&mut self, now: Instant) {
        if !self.switched {
            return;
        }
        for slot in 0..self.ifaces.len() {
            let (mut q, bridge) = match self.ifaces[slot].as_mut() {
                Some(Iface { dev: Device::Bridge(b), ifindex, .. }) if b.has_tx() => (b.take_tx(), *ifindex),
                _ => continue,
            };
            while let Some(skb) = q.pop_front(&mut self.pool) {
                self.br_forward(bridge, None, skb, now);
            }
        }
        for slot in 0..self.ifaces.len() {
            let (mut q, peer) = match self.ifaces[slot].as_mut().map(|i| &mut i.dev) {
                Some(Device::Veth(v)) if v.has_tx() => (v.take_tx(), v.peer()),
                _ => continue,
            };
            match super::iface_in_mut(self.ifaces, peer) {
                Some(Iface { dev: Device::Veth(p), mtu, .. }) => {
                    while let Some(skb) = q.pop_front(&mut self.pool) {
                        p.deliver(&mut self.pool, skb, *mtu);
                    }
                }
                _ => q.purge(&mut self.pool),
            }
        }
    }

    /// True when frames wait to cross a veth pair or leave a bridge.
    pub(crate) fn switch_pending(&self) -> bool {
        self.switched
            && self.ifaces.iter().flatten().any(|i| match &i.dev {
                Device::Veth(v) => v.has_tx(),
                Device::Bridge(b) => b.has_tx(),
                _ => false,
            })
    }

    /// A frame arrived on `port`. If the port belongs to a bridge, the
    /// bridge takes the frame (`None`); otherwise it comes back.
    pub(crate) fn br_handle_frame(&mut self, port: IfIndex, skb: SkBuff, now: Instant) -> Option<SkBuff> {
        let (ns, bridge) = match self.iface(port) {
            Some(i) if i.master != 0 => (i.ns, i.master),
            _ => return Some(skb),
        };
        let src = EthernetFrame::new_checked(self.pool.data(&skb)).map(|f| f.src());
        let bridge_up = self.iface(bridge).is_some_and(|b| b.up);
        // The all-zero address is no station's (Linux's
        // `is_valid_ether_addr`): neither learned nor forwarded.
        let why = match src {
            Ok(src) if bridge_up && src.is_unicast() && src != MacAddr::ZERO => {
                self.fdb.learn(bridge, src, port, now);
                self.br_forward(bridge, Some(port), skb, now);
                return None;
            }
            Err(_) => DropReason::Truncated,
            Ok(_) if !bridge_up => DropReason::LinkDown,
            Ok(_) => DropReason::BadSrcMac,
        };
        self.pool.free(skb);
        self.drop_count(ns, why);
        None
    }

    /// Forward a frame on `bridge`, from port `from` or (with `None`) from
    /// the bridge's own stack.
    fn br_forward(&mut self, bridge: IfIndex, from: Option<IfIndex>, skb: SkBuff, now: Instant) {
        let Ok(dst) = EthernetFrame::new_checked(self.pool.data(&skb)).map(|f| f.dst()) else {
            return self.pool.free(skb);
        };
        let Some(ns) = self.iface(bridge).map(|b| b.ns) else { return self.pool.free(skb) };
        if from.is_some() && self.br_is_local(bridge, dst) {
            return self.br_pass_up(ns, bridge, skb, now);
        }
        // 01-80-C2-00-00-00..0F are link-local (IEEE 802.1D-2004 §7.12.6,
        // the reserved addresses): a bridge
        // does not forward them. Linux forwards the bridge group address
        // (STP BPDUs) while STP is off, which is always here, so loops stay
        // detectable; drops MAC control (pause); passes the rest (LACP,
        // 802.1X, LLDP) to its own stack only (`br_handle_frame`).
        if from.is_some() && dst.0[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && dst.0[5] <= 0x0f {
            match dst.0[5] {
                0x00 => {}
                0x01 => {
                    self.pool.free(skb);
                    return self.drop_count(ns, DropReason::OtherHost);
                }
                _ => return self.br_pass_up(ns, bridge, skb, now),
            }
        }
        if from.is_some() && !dst.is_unicast() {
            match self.pool.clone(&skb, OwnerId::SYSTEM) {
                Ok(copy) => self.br_pass_up(ns, bridge, copy, now),
                Err(_) => self.drop_count(ns, DropReason::NoMemory),
            }
        }
        let known = if dst.is_unicast() { self.fdb.lookup(bridge, dst, now) } else { None };
        match known {
            // The destination sits behind the port the frame came in on:
            // it has its frame already (br_forward's should_deliver).
            Some(p) if Some(p) == from => {
                self.pool.free(skb);
                self.drop_count(ns, DropReason::OtherHost);
            }
            Some(p) => self.br_xmit(p, skb, now),
            None => self.br_flood(bridge, from, dst.is_unicast(), skb, now),
        }
    }

    /// True when `mac` is the bridge's own address or one of its ports'
    /// (Linux's local FDB entries): such a frame is for the bridge's stack.
    pub(super) fn br_is_local(&self, bridge: IfIndex, mac: MacAddr) -> bool {
        if !mac.is_unicast() {
            return false;
        }
        self.hw_addr(bridge) == Some(mac)
            || self.ifaces.iter().flatten().any(|i| i.master == bridge && i.dev.get().hw_addr() == Some(mac))
    }

    /// Send a copy to every port of `bridge` that is up, except `from`;
    /// `unicast` says whether the frame is for one host (counted if no port
    /// is left to take it).
    fn br_flood(&mut self, bridge: IfIndex, from: Option<IfIndex>, unicast: bool, skb: SkBuff, now: Instant) {
        let mut last: Option<IfIndex> = None;
        for slot in 0..self.ifaces.len() {
            let Some(port) = self.ifaces[slot].as_ref().filter(|i| i.master == bridge && i.up).map(|i| i.ifindex)
            else {
                continue;
            };
            if Some(port) == from {
                continue;
            }
            if let Some(prev) = last.replace(port) {
                match self.pool.clone(&skb, OwnerId::SYSTEM) {
                    Ok(copy) => self.br_xmit(prev, copy, now),
                    Err(_) => {
                        self.br_tx_dropped(bridge);
                        self.br_ns_drop(bridge, DropReason::NoMemory);
                    }
                }
            }
        }
        match last {
            Some(p) => self.br_xmit(p, skb, now),
            // Nowhere to go. A broadcast from a port was passed up already;
            // a unicast frame is lost for want of a port, and what the
            // bridge's own stack sent had no way out.
            None => {
                self.pool.free(skb);
                match from {
                    Some(_) if unicast => self.br_ns_drop(bridge, DropReason::OtherHost),
                    Some(_) => {}
                    None => {
                        self.br_tx_dropped(bridge);
                        self.br_ns_drop(bridge, DropReason::LinkDown);
                    }
                }
            }
        }
    }

    /// Transmit a whole frame on a port.
    fn br_xmit(&mut self, port: IfIndex, skb: SkBuff, now: Instant) {
        let _ = self.dev_queue_xmit(port, skb, now);
    }

    /// Count a drop of `why` in the namespace of `bridge`.
    fn br_ns_drop(&mut self, bridge: IfIndex, why: DropReason) {
        if let Some(ns) = self.iface(bridge).map(|b| b.ns) {
            self.drop_count(ns, why);
        }
    }

    /// Count a frame the bridge device could not send in its `tx_dropped`.
    fn br_tx_dropped(&mut self, bridge: IfIndex) {
        if let Some(Device::Bridge(b)) = self.iface_mut(bridge).map(|i| &mut i.dev) {
            b.count_drop();
        }
    }

    /// Hand a frame up the bridge interface's own stack.
    fn br_pass_up(&mut self, ns: NsId, bridge: IfIndex, skb: SkBuff, now: Instant) {
        let len = self.pool.len(&skb);
        if let Some(Device::Bridge(b)) = self.iface_mut(bridge).map(|i| &mut i.dev) {
            b.count_rx(len);
        }
        self.netif_receive(ns, bridge, Medium::Ethernet, skb, now);
    }
}

//! The transmit side of devices (`dev_queue_xmit` and the qdisc): make a
//! packet fit the device ([`validate_xmit`]), give it to the driver, and
//! keep what the driver pushes back in the interface's backlog (bounded by
//! `txqueuelen`) to try again after the next completion. Nothing the device
//! refuses is lost; what the backlog cannot hold is dropped and counted.

use crate::dev::TxBusy;
use crate::dev::xmit::validate_xmit;
use crate::netfilter::NfHooks;
use crate::netns::{Iface, World};
use crate::skb::{IfIndex, OwnerId, SkBuff, SkbPool, SkbQueue};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{EtherType, EthernetRepr, MacAddr};

impl<H: NfHooks> World<'_, H> {
    /// Put an Ethernet header on `skb` and queue it on `ifindex`.
    pub(crate) fn eth_xmit(
        &mut self,
        ifindex: IfIndex,
        dst: MacAddr,
        ethertype: EtherType,
        skb: SkBuff,
        now: Instant,
    ) -> Result<(), DropReason> {
        let Some(src) = self.hw_addr(ifindex) else {
            return Err(self.xmit_drop(ifindex, skb, DropReason::DeviceDrop));
        };
        let repr = EthernetRepr { dst, src, vlan: None, ethertype };
        // A packet that came in without room for a link header (a TUN
        // write, a forwarded IP-medium packet) gets it here, as
        // ip_finish_output2's skb_expand_head does.
        let pushed = self.pool.expand_head(&skb, 14).and_then(|()| self.pool.push(&skb, 14));
        if pushed.map(|h| repr.emit(h).is_ok()) != Ok(true) {
            return Err(self.xmit_drop(ifindex, skb, DropReason::NoMemory));
        }
        let data = self.pool.data_offset(&skb);
        if let Ok(m) = self.pool.meta_mut(&skb) {
            m.mac_header = data;
        }
        self.dev_queue_xmit(ifindex, skb, now)
    }

    /// Send the packets that waited for a neighbour, now resolved to `mac`.
    pub(crate) fn neigh_flush(&mut self, ifindex: IfIndex, mac: MacAddr, mut queue: SkbQueue, now: Instant) {
        while let Some(skb) = queue.pop_front(&mut self.pool) {
            // Out of the neighbour queue's memory, into the stack's.
            let _ = self.pool.charge(&skb, OwnerId::SYSTEM);
            // A failure is counted where it happens (eth_xmit, dev_queue_xmit).
            let _ = self.eth_xmit(ifindex, mac, EtherType::IPV4, skb, now);
        }
    }

    /// Free a frame that could not be sent on `ifindex`, counted.
    fn xmit_drop(&mut self, ifindex: IfIndex, skb: SkBuff, why: DropReason) -> DropReason {
        self.pool.free(skb);
        self.tx_drop_count(ifindex, why);
        why
    }

    /// Count a frame lost on its way out of `ifindex`: in the device's
    /// `tx_dropped` and, by reason, in its namespace.
    fn tx_drop_count(&mut self, ifindex: IfIndex, why: DropReason) {
        if let Some(iface) = super::iface_in_mut(self.ifaces, ifindex) {
            iface.tx_dropped += 1;
            let ns = iface.ns;
            self.drop_count(ns, why);
        }
    }

    /// Queue `skb` (a complete frame for the medium) on `ifindex`.
    pub(crate) fn dev_queue_xmit(&mut self, ifindex: IfIndex, skb: SkBuff, now: Instant) -> Result<(), DropReason> {
        let Some(iface) = super::iface_in_mut(self.ifaces, ifindex) else {
            self.pool.free(skb);
            return Err(DropReason::DeviceDrop);
        };
        let limit =
            self.ns.get(usize::from(iface.ns.0)).and_then(Option::as_ref).map_or(1000, |n| n.sysctl.tx_queue_len);
        let res = queue_xmit(&mut self.pool, iface, usize::from(limit), skb, now);
        if let Err(why) = res {
            self.tx_drop_count(ifindex, why);
        }
        res
    }

    /// Offer every interface's backlog to its device again (after reclaim).
    pub(crate) fn flush_backlogs(&mut self, now: Instant) {
        for iface in self.ifaces.iter_mut().flatten() {
            drain_backlog(&mut self.pool, iface, now);
        }
    }
}

/// `dev_queue_xmit` for one interface: fit the packet to the device, then
/// transmit or queue in order behind what already waits.
fn queue_xmit(
    pool: &mut SkbPool,
    iface: &mut Iface<'_>,
    limit: usize,
    skb: SkBuff,
    now: Instant,
) -> Result<(), DropReason> {
    if !iface.up || !iface.dev.get().link_up() {
        pool.free(skb);
        return Err(DropReason::LinkDown);
    }
    let features = iface.dev.get().features();
    let mut fitted = SkbQueue::new();
    if validate_xmit(pool, skb, &features, &mut fitted).is_err() {
        return Err(DropReason::NoMemory);
    }
    drain_backlog(pool, iface, now);
    let mut result = Ok(());
    while let Some(skb) = fitted.pop_front(pool) {
        if !iface.backlog.is_empty() {
            if iface.backlog.len() >= limit {
                pool.free(skb);
                result = Err(DropReason::TxQueueFull);
                continue;
            }
            iface.backlog.push_back(pool, skb);
            continue;
        }
        if let Err(TxBusy(back)) = iface.dev.get_mut().transmit(pool, now, skb) {
            iface.backlog.push_back(pool, back);
        }
    }
    result
}

/// Give the device what the backlog holds, until it pushes back.
fn drain_backlog(pool: &mut SkbPool, iface: &mut Iface<'_>, now: Instant) {
    while let Some(skb) = iface.backlog.pop_front(pool) {
        if let Err(TxBusy(back)) = iface.dev.get_mut().transmit(pool, now, skb) {
            iface.backlog.push_front(pool, back);
            return;
        }
    }
}

/// True when the device's next pass may do something: used by `poll_at`.
pub(crate) fn has_backlog(iface: &Iface<'_>) -> bool {
    !iface.backlog.is_empty()
}

//! The virtual Ethernet pair (`veth`): two devices joined like the ends of
//! a cable. What one end transmits the other receives, in order; the ends
//! may sit in different namespaces, which is how namespaces are wired
//! together.
//!
//! Both ends are devices the world owns. An end only queues: `transmit`
//! puts the frame on its outgoing queue, and the world moves it to the
//! peer's incoming queue (Linux's `veth_xmit` handing the skb to the peer's
//! NAPI), from which the peer's `poll_rx` takes it. The frame is the same
//! sk_buff all the way: no copy. Like Linux's veth it advertises checksum
//! offload, scatter-gather and TSO: a `CHECKSUM_PARTIAL` packet crosses as
//! it is (the receiver trusts it, and finishes it if it forwards it to a
//! device that needs it), and GSO super-packets cross unsegmented.
//!
//! The carrier is up when both ends are up, as Linux's.

use super::{DevStats, Features, Medium, NetDevice, TsoLimits, TxBusy};
use crate::skb::{IfIndex, SkBuff, SkbPool, SkbQueue};
use crate::time::Instant;
use crate::wire::MacAddr;

/// One end of a veth pair.
pub struct Veth {
    peer: IfIndex,
    mac: MacAddr,
    open: bool,
    peer_open: bool,
    tx: SkbQueue,
    rx: SkbQueue,
    limit: usize,
    stats: DevStats,
}

impl Veth {
    /// Linux's default veth MTU.
    pub const MTU: u16 = 1500;

    /// An end whose peer is interface `peer`, with hardware address `mac`,
    /// holding at most `limit` frames each way between polls.
    pub const fn new(peer: IfIndex, mac: MacAddr, limit: usize) -> Veth {
        Veth {
            peer,
            mac,
            open: false,
            peer_open: false,
            tx: SkbQueue::new(),
            rx: SkbQueue::new(),
            limit,
            stats: DevStats::new(),
        }
    }

    /// The interface at the other end.
    pub fn peer(&self) -> IfIndex {
        self.peer
    }

    pub(crate) fn set_peer(&mut self, peer: IfIndex) {
        self.peer = peer;
    }

    /// True when the device is up (opened).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Tell this end whether the other end is up (it decides the carrier).
    pub(crate) fn set_peer_open(&mut self, up: bool) {
        self.peer_open = up;
    }

    /// The frames transmitted since the last call, for the peer.
    pub(crate) fn take_tx(&mut self) -> SkbQueue {
        core::mem::take(&mut self.tx)
    }

    /// True when frames wait to cross.
    pub(crate) fn has_tx(&self) -> bool {
        !self.tx.is_empty()
    }

    /// A frame from the peer. Down, with a full queue, or longer than this
    /// end's MTU `mtu` allows (a frame that is not a GSO super-packet, past
    /// the MTU plus an Ethernet header and a VLAN tag, as Linux's
    /// `is_skb_forwardable` judges), it is freed and counted (`rx_dropped`).
    pub(crate) fn deliver(&mut self, pool: &mut SkbPool, skb: SkBuff, mtu: u16) {
        let too_long = !pool.meta(&skb).gso.is_gso() && pool.len(&skb) > usize::from(mtu) + 14 + 4;
        if !self.open || self.rx.len() >= self.limit || too_long {
            self.stats.rx_dropped += 1;
            pool.free(skb);
            return;
        }
        if let Ok(m) = pool.meta_mut(&skb) {
            // Crossing into another device (maybe another namespace): what
            // the sender's stack attached to the packet stays behind
            // (`skb_scrub_packet`).
            m.oif = 0;
            m.iif = 0;
            m.mark = 0;
            m.ct = None;
        }
        self.rx.push_back(pool, skb);
    }

    /// Free every queued frame (the device goes down or away).
    pub fn purge(&mut self, pool: &mut SkbPool) {
        self.tx.purge(pool);
        self.rx.purge(pool);
    }
}

impl NetDevice for Veth {
    fn medium(&self) -> Medium {
        Medium::Ethernet
    }

    fn hw_addr(&self) -> Option<MacAddr> {
        Some(self.mac)
    }

    fn mtu(&self) -> u16 {
        Self::MTU
    }

    fn features(&self) -> Features {
        Features { tso: Some(TsoLimits { max_size: 65_536, max_segs: u16::MAX }), lro: false, ..Features::ALL }
    }

    fn link_up(&self) -> bool {
        self.open && self.peer_open
    }

    fn stats(&self) -> DevStats {
        self.stats
    }

    fn open(&mut self, _pool: &mut SkbPool) -> Result<(), super::OpenError> {
        self.open = true;
        Ok(())
    }

    fn stop(&mut self, pool: &mut SkbPool) {
        self.open = false;
        self.purge(pool);
    }

    fn transmit(&mut self, pool: &mut SkbPool, _now: Instant, skb: SkBuff) -> Result<(), TxBusy> {
        super::soft_queue_tx(&mut self.tx, self.limit, &mut self.stats, pool, skb)
    }

    fn poll_rx(&mut self, pool: &mut SkbPool, _now: Instant, budget: usize, rx: &mut SkbQueue) -> usize {
        super::soft_poll_rx(&mut self.rx, &mut self.stats, pool, budget, rx)
    }

    fn reclaim_tx(&mut self, _pool: &mut SkbPool, _now: Instant) -> usize {
        0
    }

    fn napi_scheduled(&self) -> bool {
        !self.rx.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skb::{OwnerId, PoolStorage};

    #[test]
    fn queues_bounded_and_carrier_needs_both_ends() {
        let mut st = Box::new(PoolStorage::<8, 8, 256, 1>::new());
        let mut pool = SkbPool::new(&mut st);
        let mut a = Veth::new(2, MacAddr([2, 0, 0, 0, 0, 1]), 2);
        let mut b = Veth::new(1, MacAddr([2, 0, 0, 0, 0, 2]), 2);
        assert!(!a.link_up());
        a.open(&mut pool).unwrap();
        assert!(!a.link_up(), "peer down");
        b.open(&mut pool).unwrap();
        a.set_peer_open(true);
        b.set_peer_open(true);
        assert!(a.link_up() && b.link_up());
        let mk = |pool: &mut SkbPool, v: u8| {
            let s = pool.alloc(OwnerId::SYSTEM).unwrap();
            pool.put_slice(&s, &[v; 60]).unwrap();
            s
        };
        for v in 1..=2 {
            let s = mk(&mut pool, v);
            a.transmit(&mut pool, Instant::ZERO, s).unwrap();
        }
        let s = mk(&mut pool, 3);
        let TxBusy(s) = a.transmit(&mut pool, Instant::ZERO, s).unwrap_err();
        pool.free(s);
        let mut q = a.take_tx();
        while let Some(s) = q.pop_front(&mut pool) {
            b.deliver(&mut pool, s, 1500);
        }
        let mut rx = SkbQueue::new();
        assert_eq!(b.poll_rx(&mut pool, Instant::ZERO, 64, &mut rx), 2);
        let got: Vec<u8> = rx.iter(&pool).map(|r| pool.data(&r)[0]).collect();
        assert_eq!(got, [1, 2]);
        rx.purge(&mut pool);
        // Longer than the receiving end's MTU allows: dropped there.
        let s = mk(&mut pool, 5);
        b.deliver(&mut pool, s, 41);
        assert_eq!(b.stats().rx_dropped, 1);
        let s = mk(&mut pool, 6);
        b.deliver(&mut pool, s, 42);
        assert_eq!(b.poll_rx(&mut pool, Instant::ZERO, 64, &mut rx), 1, "60 bytes fit 42 + 18");
        rx.purge(&mut pool);
        b.stop(&mut pool);
        let s = mk(&mut pool, 4);
        b.deliver(&mut pool, s, 1500);
        assert_eq!(b.stats().rx_dropped, 2);
        assert!(pool.stats().is_idle());
    }
}

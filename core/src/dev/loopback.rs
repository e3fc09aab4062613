//! The loopback device (`lo`): what is transmitted is received, in order.
//!
//! Like Linux's, it advertises every offload: checksums are never computed
//! (a `CHECKSUM_PARTIAL` packet arrives as `CHECKSUM_UNNECESSARY`) and GSO
//! super-packets cross as they are, never segmented.

use super::{DevStats, Features, Medium, NetDevice, TsoLimits, TxBusy};
use crate::skb::{Checksum, PacketType, SkBuff, SkbPool, SkbQueue};
use crate::time::Instant;
use crate::wire::MacAddr;

/// The loopback device, holding at most `limit` packets between a transmit
/// and the next poll.
pub struct Loopback {
    queue: SkbQueue,
    limit: usize,
    stats: DevStats,
}

impl Loopback {
    /// Linux's loopback MTU.
    pub const MTU: u16 = 65_535;

    /// A loopback device that queues up to `limit` packets.
    pub const fn new(limit: usize) -> Loopback {
        Loopback { queue: SkbQueue::new(), limit, stats: DevStats::new() }
    }

    /// Free whatever is still queued (when the device goes away).
    pub fn purge(&mut self, pool: &mut SkbPool) {
        self.queue.purge(pool);
    }
}

impl NetDevice for Loopback {
    fn medium(&self) -> Medium {
        Medium::Ip
    }

    fn hw_addr(&self) -> Option<MacAddr> {
        None
    }

    fn mtu(&self) -> u16 {
        Self::MTU
    }

    fn features(&self) -> Features {
        Features { tso: Some(TsoLimits { max_size: 65_535, max_segs: u16::MAX }), ..Features::ALL }
    }

    fn link_up(&self) -> bool {
        true
    }

    /// Down, what waits is freed like every device's queue, not delivered
    /// whenever the device comes back up.
    fn stop(&mut self, pool: &mut SkbPool) {
        self.purge(pool);
    }

    fn stats(&self) -> DevStats {
        self.stats
    }

    fn transmit(&mut self, pool: &mut SkbPool, now: Instant, skb: SkBuff) -> Result<(), TxBusy> {
        if self.queue.len() >= self.limit {
            self.stats.tx_busy += 1;
            return Err(TxBusy(skb));
        }
        if let Ok(meta) = pool.meta_mut(&skb) {
            if matches!(meta.csum, Checksum::Partial { .. }) {
                meta.csum = Checksum::Unnecessary;
            }
            meta.pkt_type = PacketType::Host;
            meta.tstamp = now;
            meta.oif = 0;
        }
        super::soft_queue_tx(&mut self.queue, self.limit, &mut self.stats, pool, skb)
    }

    fn poll_rx(&mut self, pool: &mut SkbPool, _now: Instant, budget: usize, rx: &mut SkbQueue) -> usize {
        super::soft_poll_rx(&mut self.queue, &mut self.stats, pool, budget, rx)
    }

    fn reclaim_tx(&mut self, _pool: &mut SkbPool, _now: Instant) -> usize {
        0
    }

    fn napi_scheduled(&self) -> bool {
        !self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skb::{OwnerId, PoolStorage};

    #[test]
    fn loops_back_in_order_with_backpressure() {
        let mut st = Box::new(PoolStorage::<8, 8, 256, 1>::new());
        let mut pool = SkbPool::new(&mut st);
        let mut lo = Loopback::new(2);
        let mk = |pool: &mut SkbPool, b: u8| {
            let s = pool.alloc(OwnerId::SYSTEM).unwrap();
            pool.put_slice(&s, &[b; 10]).unwrap();
            pool.meta_mut(&s).unwrap().csum = Checksum::Partial { start: 0, offset: 6 };
            s
        };
        let (a, b, c) = (mk(&mut pool, 1), mk(&mut pool, 2), mk(&mut pool, 3));
        lo.transmit(&mut pool, Instant::ZERO, a).unwrap();
        lo.transmit(&mut pool, Instant::ZERO, b).unwrap();
        let TxBusy(c) = lo.transmit(&mut pool, Instant::ZERO, c).unwrap_err();
        assert_eq!(lo.stats().tx_busy, 1);
        let mut rx = SkbQueue::new();
        assert_eq!(lo.poll_rx(&mut pool, Instant::ZERO, 1, &mut rx), 1);
        lo.transmit(&mut pool, Instant::ZERO, c).unwrap();
        assert_eq!(lo.poll_rx(&mut pool, Instant::ZERO, 64, &mut rx), 2);
        let got: Vec<u8> = rx.iter(&pool).map(|r| pool.data(&r)[0]).collect();
        assert_eq!(got, [1, 2, 3]);
        assert!(rx.iter(&pool).all(|r| pool.meta(&r).csum == Checksum::Unnecessary));
        assert_eq!((lo.stats().rx_packets, lo.stats().rx_bytes), (3, 30));
        rx.purge(&mut pool);
        assert!(pool.stats().is_idle());
    }
}

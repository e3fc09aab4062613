//! The TUN device: an IP interface whose other side is the application
//! (Linux's `drivers/net/tun.c` in `IFF_TUN | IFF_NO_PI` mode).
//!
//! What the stack sends through the interface (routed to it, like the
//! seed's `ip route add 10.0.0.0/24 dev tun0`) is not put on a wire: it
//! waits in a bounded queue until the application reads it, whole IPv4
//! packets with no link-layer header, as a program reads `/dev/net/tun`.
//! What the application writes enters the stack as if received on the
//! interface. A tunnel or a VPN is built on exactly that: read a packet,
//! encapsulate it (in UDP, say), send it elsewhere; receive, decapsulate,
//! write.
//!
//! Bounds: each direction holds at most `limit` packets. A packet the
//! stack sends to a full queue (the application does not read) is dropped
//! and counted (`tx_dropped`), as Linux's `tun_net_xmit` drops when the
//! socket's queue is full; a packet written while the device is down or its
//! receive queue is full is refused ([`TunError`]) and counted
//! (`rx_dropped`). The device offers no offloads, so what the application
//! reads has its checksums filled in and is never a GSO super-packet.
//!
//! The carrier is up while the interface is up (Linux's follows the file
//! descriptor being attached; here the application is always attached).
//! This device lives inside the world; the host shim's bridge to a Linux
//! TUN device (`skbnet tun`) is a separate thing, a driver on the other
//! side of the kernel.

use super::{DevStats, Features, Medium, NetDevice, TxBusy};
use crate::skb::{SkBuff, SkbPool, SkbQueue};
use crate::time::Instant;
use crate::wire::MacAddr;

/// Why the application could not write a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TunError {
    /// The interface is down (Linux: `EIO`).
    Down,
    /// The receive queue is full: the stack has not polled (`ENOBUFS`).
    Full,
    /// No buffer for the packet, or it is empty or bigger than the MTU
    /// allows (`EINVAL` / `ENOMEM`).
    BadPacket,
    /// The interface is not a TUN device (`EBADFD`).
    NotTun,
}

/// A TUN device.
pub struct Tun {
    open: bool,
    /// Packets the stack sent, for the application to read.
    tx: SkbQueue,
    /// Packets the application wrote, for the stack's next poll.
    rx: SkbQueue,
    limit: usize,
    stats: DevStats,
}

impl Tun {
    /// Linux's default TUN MTU.
    pub const MTU: u16 = 1500;

    /// A TUN device holding at most `limit` packets each way.
    pub const fn new(limit: usize) -> Tun {
        Tun { open: false, tx: SkbQueue::new(), rx: SkbQueue::new(), limit, stats: DevStats::new() }
    }

    /// True when the device is up.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Packets waiting for the application to read them.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }

    /// The oldest packet the stack sent (the application's `read`), now
    /// the caller's to free.
    pub fn read(&mut self, pool: &mut SkbPool) -> Option<SkBuff> {
        self.tx.pop_front(pool)
    }

    /// A packet from the application (its `write`), for the stack. On
    /// error the packet is freed.
    pub fn write(&mut self, pool: &mut SkbPool, skb: SkBuff) -> Result<(), TunError> {
        let err = if !self.open {
            Some(TunError::Down)
        } else if self.rx.len() >= self.limit {
            Some(TunError::Full)
        } else {
            None
        };
        if let Some(e) = err {
            self.stats.rx_dropped += 1;
            pool.free(skb);
            return Err(e);
        }
        self.rx.push_back(pool, skb);
        Ok(())
    }

    /// Free every queued packet (the device goes down or away).
    pub fn purge(&mut self, pool: &mut SkbPool) {
        self.tx.purge(pool);
        self.rx.purge(pool);
    }
}

impl NetDevice for Tun {
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
        Features::NONE
    }

    fn link_up(&self) -> bool {
        self.open
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
        // A full queue drops rather than pushes back: the application may
        // never read, and the stack must not wait for it.
        if !self.open || self.tx.len() >= self.limit {
            self.stats.tx_dropped += 1;
            pool.free(skb);
            return Ok(());
        }
        self.stats.tx_packets += 1;
        self.stats.tx_bytes += pool.len(&skb) as u64;
        self.tx.push_back(pool, skb);
        Ok(())
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

//! Network devices: the driver boundary (Linux's `struct net_device` and
//! `net_device_ops`), NAPI-style polling, and the software fallbacks the
//! stack uses when a device lacks an offload.
//!
//! A driver implements [`NetDevice`]. The stack hands it packets with
//! [`NetDevice::transmit`] (a full ring gives the packet back, so nothing is
//! lost), collects received packets with [`NetDevice::poll_rx`] under a budget,
//! and lets it free completed transmissions with [`NetDevice::reclaim_tx`].
//! Interrupts only record that work is waiting ([`NetDevice::napi_scheduled`]);
//! the work itself happens in these polls, in batches, as NAPI does it.
//!
//! What a device cannot do, the stack does in software before the device
//! sees the packet ([`xmit::validate_xmit`]): finish `CHECKSUM_PARTIAL`
//! checksums, segment GSO super-packets ([`gso`]), linearize chains for
//! devices without scatter-gather. On receive, [`gro`] merges consecutive
//! TCP segments of a flow within one poll when the device has no LRO.
//!
//! Beside drivers, the world owns devices of its own: [`loopback`], the
//! ends of [`veth`] pairs that join namespaces, and [`bridge`]s (learning
//! switches whose ports are other interfaces).

pub mod bridge;
pub mod gro;
pub mod gso;
pub mod loopback;
pub mod tun;
pub mod veth;
pub mod xmit;

use crate::skb::{SkBuff, SkbPool, SkbQueue};
use crate::time::Instant;
use crate::wire::MacAddr;

/// What a device's frames carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Medium {
    /// Ethernet II frames; the stack resolves neighbours with ARP.
    Ethernet,
    /// Bare IP packets (TUN, loopback); no link-layer header, no ARP.
    Ip,
}

/// Limits of a device's TCP segmentation offload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TsoLimits {
    /// Largest super-packet, headers included (`gso_max_size`).
    pub max_size: u32,
    /// Most segments one super-packet may become (`gso_max_segs`).
    pub max_segs: u16,
}

/// Offloads a device advertises (Linux's `NETIF_F_*` bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Features {
    /// Finishes `CHECKSUM_PARTIAL` TCP/UDP checksums over IPv4 (`NETIF_F_IP_CSUM`).
    pub tx_csum: bool,
    /// Verifies received TCP/UDP checksums and says so (`NETIF_F_RXCSUM`).
    pub rx_csum: bool,
    /// Takes packets made of several buffers (`NETIF_F_SG`).
    pub sg: bool,
    /// Segments TCP super-packets itself (`NETIF_F_TSO`), within these limits.
    pub tso: Option<TsoLimits>,
    /// Merges received TCP segments itself (`NETIF_F_LRO`, hardware GRO).
    pub lro: bool,
    /// Most buffers one packet may span with `sg` (a transmit takes one
    /// descriptor per buffer; Linux's `MAX_SKB_FRAGS` and the per-driver
    /// limits behind `skb_linearize`). A super-packet spanning more is
    /// segmented in software, any other packet linearized.
    pub max_frags: u16,
}

impl Features {
    /// Every offload, with TSO up to 64 KiB: what a modern NIC (or TUN with
    /// `IFF_VNET_HDR`) offers.
    pub const ALL: Features = Features {
        tx_csum: true,
        rx_csum: true,
        sg: true,
        tso: Some(TsoLimits { max_size: 65_536, max_segs: 64 }),
        lro: true,
        max_frags: u16::MAX,
    };
    /// No offload at all: the stack does everything in software.
    /// (`max_frags` is left unlimited, so `Features { sg: true, ..NONE }`
    /// means scatter-gather without a limit.)
    pub const NONE: Features =
        Features { tx_csum: false, rx_csum: false, sg: false, tso: None, lro: false, max_frags: u16::MAX };
}

/// Per-device counters (Linux's `rtnl_link_stats64`, plus ring events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DevStats {
    /// Packets received and handed to the stack.
    pub rx_packets: u64,
    /// Bytes of those packets.
    pub rx_bytes: u64,
    /// Packets transmitted (completed by the device).
    pub tx_packets: u64,
    /// Bytes of those packets.
    pub tx_bytes: u64,
    /// Received frames with errors (truncated, bad length, bad descriptor).
    pub rx_errors: u64,
    /// Transmissions that failed.
    pub tx_errors: u64,
    /// Received frames dropped for lack of memory after the device took them.
    pub rx_dropped: u64,
    /// Packets dropped on the way out (too big, unsupported).
    pub tx_dropped: u64,
    /// Frames the device missed because no receive descriptor was free.
    pub rx_missed: u64,
    /// Times `transmit` found the ring (or byte-queue limit) full.
    pub tx_busy: u64,
    /// Receive interrupts raised.
    pub rx_interrupts: u64,
    /// Transmit-completion interrupts raised.
    pub tx_interrupts: u64,
}

impl DevStats {
    /// All zero.
    pub const fn new() -> DevStats {
        DevStats {
            rx_packets: 0,
            rx_bytes: 0,
            tx_packets: 0,
            tx_bytes: 0,
            rx_errors: 0,
            tx_errors: 0,
            rx_dropped: 0,
            tx_dropped: 0,
            rx_missed: 0,
            tx_busy: 0,
            rx_interrupts: 0,
            tx_interrupts: 0,
        }
    }
}

impl Default for DevStats {
    fn default() -> DevStats {
        DevStats::new()
    }
}

/// Why a device could not be brought up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OpenError {
    /// The pool's buffers are too small for the device's receive buffers.
    BufferTooSmall,
    /// The pool had no memory (or no owner slot) for the receive ring.
    NoMemory,
}

/// The ring is full: the packet comes back to the caller, who keeps it and
/// tries again once [`NetDevice::reclaim_tx`] has made room.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "the packet is still the caller's"]
pub struct TxBusy(pub SkBuff);

/// The driver boundary. A real driver, the simulated NIC, loopback and veth
/// implement it.
pub trait NetDevice {
    /// What the device's frames carry.
    fn medium(&self) -> Medium;
    /// The hardware address (Ethernet devices).
    fn hw_addr(&self) -> Option<MacAddr>;
    /// Largest IP packet the device sends without segmentation (the MTU).
    fn mtu(&self) -> u16;
    /// The offloads the device performs.
    fn features(&self) -> Features;
    /// True when the link is up (carrier).
    fn link_up(&self) -> bool;
    /// Counters.
    fn stats(&self) -> DevStats;

    /// Bring the device up (`ndo_open`): post receive buffers, raise the
    /// link. Called when its interface is set up.
    fn open(&mut self, _pool: &mut SkbPool) -> Result<(), OpenError> {
        Ok(())
    }

    /// Take the device down (`ndo_stop`): give every buffer it holds back
    /// to the pool. Called when its interface is set down.
    fn stop(&mut self, _pool: &mut SkbPool) {}

    /// Queue `skb` for transmission (`ndo_start_xmit`). The packet must
    /// already suit the device's [`Features`] (see [`xmit::validate_xmit`]).
    /// When the ring or the byte-queue limit is full the packet comes back
    /// in [`TxBusy`] and nothing is lost.
    fn transmit(&mut self, pool: &mut SkbPool, now: Instant, skb: SkBuff) -> Result<(), TxBusy>;

    /// Move up to `budget` received packets onto `rx` (the NAPI poll) and
    /// return how many. Receiving fewer than `budget` means the device is
    /// drained and may re-enable its receive interrupt.
    fn poll_rx(&mut self, pool: &mut SkbPool, now: Instant, budget: usize, rx: &mut SkbQueue) -> usize;

    /// Free the packets whose transmission the device completed and return
    /// how many.
    fn reclaim_tx(&mut self, pool: &mut SkbPool, now: Instant) -> usize;

    /// Let the device advance to `now` on its own side of the bus: simulated
    /// hardware processes its rings, a host bridge moves frames to and from
    /// its file descriptor. Real drivers leave this empty: their hardware
    /// runs by itself.
    fn tick(&mut self, _pool: &mut SkbPool, _now: Instant) {}

    /// True when an interrupt recorded work to do (or the device has no
    /// interrupts and must always be polled).
    fn napi_scheduled(&self) -> bool {
        true
    }

    /// When the device next needs [`NetDevice::tick`] or a poll even without
    /// an interrupt (timers such as interrupt moderation, a frame due on a
    /// simulated wire), if ever.
    fn poll_at(&self) -> Option<Instant> {
        None
    }
}

/// Put `skb` on a software device's bounded queue (veth, bridge, loopback),
/// counting it as transmitted; a full queue pushes back with [`TxBusy`] so
/// the caller keeps the packet, as a full ring would.
pub(crate) fn soft_queue_tx(
    q: &mut SkbQueue,
    limit: usize,
    stats: &mut DevStats,
    pool: &mut SkbPool,
    skb: SkBuff,
) -> Result<(), TxBusy> {
    if q.len() >= limit {
        stats.tx_busy += 1;
        return Err(TxBusy(skb));
    }
    stats.tx_packets += 1;
    stats.tx_bytes += pool.len(&skb) as u64;
    q.push_back(pool, skb);
    Ok(())
}

/// Move up to `budget` packets from a software device's receive queue to
/// `rx`, counting them as received; returns how many moved.
pub(crate) fn soft_poll_rx(
    q: &mut SkbQueue,
    stats: &mut DevStats,
    pool: &mut SkbPool,
    budget: usize,
    rx: &mut SkbQueue,
) -> usize {
    let mut n = 0;
    while n < budget {
        let Some(skb) = q.pop_front(pool) else { break };
        stats.rx_packets += 1;
        stats.rx_bytes += pool.len(&skb) as u64;
        rx.push_back(pool, skb);
        n += 1;
    }
    n
}

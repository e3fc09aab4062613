//! The simulated NIC: descriptor rings in host memory, the device model that
//! works them ([`crate::hw`]), and the driver that feeds them
//! ([`crate::driver`]), behind skbnet's [`NetDevice`] trait.
//!
//! The two halves meet only where real ones do: descriptors, the head and
//! tail registers, the interrupt line, and the packet bytes in the pool that
//! descriptors point at. The world runs the hardware with
//! [`SimNic::run_hardware`] (giving it the port its PHY is cabled to) and the
//! stack runs the driver through [`NetDevice`].

use core::time::Duration;

use skbnet::dev::{DevStats, Features, Medium, NetDevice, OpenError, TxBusy};
use skbnet::skb::{OwnerId, SkBuff, SkbPool, SkbQueue};
use skbnet::time::Instant;
use skbnet::wire::MacAddr;

use crate::bql::Dql;
use crate::desc::{Ring, RxDesc, TxDesc};
use crate::hw::{HwBuffers, HwState};
use crate::irq::IrqLine;
use crate::port::Port;

/// Interrupt moderation (what `ethtool -C` sets): an interrupt fires once
/// `frames` events are pending, or `usecs` after the first pending one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coalesce {
    /// Receive: frames before an interrupt (`rx-frames`; 0 or 1 = every frame).
    pub rx_frames: u32,
    /// Receive: longest wait for an interrupt (`rx-usecs`).
    pub rx_usecs: u32,
    /// Transmit completion: completions before an interrupt (`tx-frames`).
    pub tx_frames: u32,
    /// Transmit completion: longest wait (`tx-usecs`).
    pub tx_usecs: u32,
}

impl Coalesce {
    /// An interrupt for every event.
    pub const IMMEDIATE: Coalesce = Coalesce { rx_frames: 1, rx_usecs: 0, tx_frames: 1, tx_usecs: 0 };
}

/// `n` microseconds (moderation and LRO timers are configured in them).
pub(crate) fn usecs(n: u32) -> Duration {
    Duration::from_micros(u64::from(n))
}

/// How a simulated NIC is built.
#[derive(Clone, Copy, Debug)]
pub struct NicConfig {
    /// Its MAC address (ignored for [`Medium::Ip`]).
    pub mac: MacAddr,
    /// Ethernet frames or bare IP packets.
    pub medium: Medium,
    /// Largest IP packet per frame.
    pub mtu: u16,
    /// The offloads the hardware performs (its `NETIF_F_*`).
    pub offloads: Features,
    /// Bytes of each receive buffer the driver posts.
    pub rx_buf_len: u16,
    /// Headroom reserved before each receive buffer (`NET_SKB_PAD`).
    pub rx_headroom: u16,
    /// Interrupt moderation.
    pub coalesce: Coalesce,
    /// Smallest byte-queue limit.
    pub bql_min: u32,
    /// Largest byte-queue limit.
    pub bql_max: u32,
    /// Most TCP segments LRO merges into one packet.
    pub lro_max_segs: u16,
    /// Longest an LRO context stays open before it is written back.
    pub lro_usecs: u32,
    /// Receive-buffer memory the RX ring may hold, in bytes (its owner limit).
    pub rx_mem_limit: u32,
}

impl NicConfig {
    /// An Ethernet NIC with a 1500-byte MTU, 2048-byte buffers with 64 bytes
    /// of headroom, every offload, and an interrupt per event.
    pub fn ethernet(mac: MacAddr) -> NicConfig {
        NicConfig {
            mac,
            medium: Medium::Ethernet,
            mtu: 1500,
            offloads: Features::ALL,
            rx_buf_len: 1984,
            rx_headroom: 64,
            coalesce: Coalesce::IMMEDIATE,
            bql_min: 3028,
            bql_max: 1 << 20,
            lro_max_segs: 44,
            lro_usecs: 20,
            rx_mem_limit: u32::MAX,
        }
    }
}

/// A simulated NIC with `TXN` transmit and `RXN` receive descriptors, a
/// device that handles frames (and TSO super-packets) of up to `FRAME`
/// bytes, and its PHY cabled to port `P`.
pub struct SimNic<const TXN: usize, const RXN: usize, const FRAME: usize, P: Port> {
    pub(crate) cfg: NicConfig,
    pub(crate) port: P,
    pub(crate) tx: Ring<TxDesc, TXN>,
    pub(crate) rx: Ring<RxDesc, RXN>,
    pub(crate) hw: HwState,
    pub(crate) bufs: HwBuffers<FRAME>,
    pub(crate) tx_skbs: [Option<SkBuff>; TXN],
    pub(crate) rx_skbs: [Option<SkBuff>; RXN],
    pub(crate) tx_clean: u16,
    pub(crate) rx_clean: u16,
    pub(crate) irq: IrqLine,
    pub(crate) rx_owner: Option<OwnerId>,
    pub(crate) bql: Dql,
    pub(crate) stats: DevStats,
    /// Open (`ndo_open` succeeded).
    pub(crate) link_up: bool,
    /// The PHY's link status, sampled from the port on every run of the
    /// hardware (as a driver reads it on a link-change interrupt).
    pub(crate) carrier: bool,
    /// When the driver rang the TX doorbell the device has not answered
    /// yet (it answers on its next run).
    pub(crate) tx_doorbell: Option<Instant>,
}

impl<const TXN: usize, const RXN: usize, const FRAME: usize, P: Port> SimNic<TXN, RXN, FRAME, P> {
    /// A NIC built as `cfg` says, cabled to `port`, closed (no buffers
    /// posted, link down).
    pub fn new(cfg: NicConfig, port: P) -> Self {
        SimNic {
            cfg,
            port,
            tx: Ring::new(),
            rx: Ring::new(),
            hw: HwState::new(),
            bufs: HwBuffers::new(),
            tx_skbs: core::array::from_fn(|_| None),
            rx_skbs: core::array::from_fn(|_| None),
            tx_clean: 0,
            rx_clean: 0,
            irq: IrqLine::new(),
            rx_owner: None,
            bql: Dql::new(cfg.bql_min, cfg.bql_max),
            stats: DevStats::new(),
            link_up: false,
            carrier: false,
            tx_doorbell: None,
        }
    }

    /// Bring the NIC up (`ndo_open`): register the RX ring's memory owner,
    /// post receive buffers, raise the link.
    pub fn open(&mut self, pool: &mut SkbPool) -> Result<(), OpenError> {
        let need = usize::from(self.cfg.rx_headroom) + usize::from(self.cfg.rx_buf_len);
        if pool.buf_size() < need {
            return Err(OpenError::BufferTooSmall);
        }
        if self.rx_owner.is_none() {
            self.rx_owner = Some(pool.register_owner(self.cfg.rx_mem_limit).map_err(|_| OpenError::NoMemory)?);
        }
        self.refill_rx(pool);
        if self.posted_rx() == 0 {
            return Err(OpenError::NoMemory);
        }
        self.link_up = true;
        self.carrier = self.port.carrier();
        Ok(())
    }

    /// Take the NIC down (`ndo_stop`): free every buffer on both rings and
    /// release the RX ring's owner. Packets still in the TX ring are dropped
    /// and counted.
    pub fn close(&mut self, pool: &mut SkbPool) {
        for slot in self.tx_skbs.iter_mut() {
            if let Some(skb) = slot.take() {
                self.stats.tx_dropped += 1;
                pool.free(skb);
            }
        }
        for slot in self.rx_skbs.iter_mut() {
            if let Some(skb) = slot.take() {
                pool.free(skb);
            }
        }
        self.tx = Ring::new();
        self.rx = Ring::new();
        self.tx_clean = 0;
        self.rx_clean = 0;
        self.bql = Dql::new(self.cfg.bql_min, self.cfg.bql_max);
        self.hw = HwState::new();
        if let Some(owner) = self.rx_owner.take() {
            let _ = pool.release_owner(owner);
        }
        self.link_up = false;
        self.tx_doorbell = None;
    }

    /// Run the hardware until `now`: process the TX ring onto the port, take
    /// frames from the port into the RX ring, raise moderated interrupts.
    pub fn run_hardware(&mut self, now: Instant, pool: &mut SkbPool) {
        self.hw_run(now, pool);
    }

    /// The descriptor rings, as any code with access to the host memory they
    /// live in could write them: for tests and fuzzing of the device model
    /// against a misbehaving driver. The device must survive any contents.
    pub fn rings_mut(&mut self) -> (&mut Ring<TxDesc, TXN>, &mut Ring<RxDesc, RXN>) {
        (&mut self.tx, &mut self.rx)
    }

    /// The port the PHY is cabled to.
    pub fn port(&self) -> &P {
        &self.port
    }

    /// The port, for changing what is plugged in.
    pub fn port_mut(&mut self) -> &mut P {
        &mut self.port
    }

    /// The configuration.
    pub fn config(&self) -> &NicConfig {
        &self.cfg
    }

    /// Change interrupt moderation (`ethtool -C`).
    pub fn set_coalesce(&mut self, c: Coalesce) {
        self.cfg.coalesce = c;
    }

    /// The current byte-queue limit.
    pub fn bql_limit(&self) -> u32 {
        self.bql.limit()
    }

    /// Counters the device itself keeps (missed frames, segments, merges).
    pub fn hw_stats(&self) -> crate::hw::HwStats {
        self.hw.stats
    }

    /// Interrupts raised so far.
    pub fn interrupts(&self) -> u32 {
        self.irq.raised()
    }

    /// Receive buffers currently posted to the device.
    pub fn posted_rx(&self) -> usize {
        self.rx_skbs.iter().filter(|s| s.is_some()).count()
    }

    /// When the hardware next needs to run: a TX doorbell it has not
    /// answered, a timer expiring (interrupt moderation, the LRO flush), or
    /// a frame arriving on the port.
    pub fn hw_poll_at(&self) -> Option<Instant> {
        let timer = self.hw.timer_deadline(&self.cfg.coalesce, self.cfg.lro_usecs);
        [self.tx_doorbell, timer, self.port.next_arrival()].into_iter().flatten().min()
    }
}

impl<const TXN: usize, const RXN: usize, const FRAME: usize, P: Port> NetDevice for SimNic<TXN, RXN, FRAME, P> {
    fn medium(&self) -> Medium {
        self.cfg.medium
    }

    fn hw_addr(&self) -> Option<MacAddr> {
        (self.cfg.medium == Medium::Ethernet).then_some(self.cfg.mac)
    }

    fn mtu(&self) -> u16 {
        self.cfg.mtu
    }

    fn features(&self) -> Features {
        // A packet takes a descriptor per buffer and the ring keeps one
        // free, so the stack must not hand over more buffers than that.
        let ring = u16::try_from(TXN.saturating_sub(1)).unwrap_or(u16::MAX).max(1);
        Features { max_frags: self.cfg.offloads.max_frags.min(ring), ..self.cfg.offloads }
    }

    fn link_up(&self) -> bool {
        self.link_up && self.carrier
    }

    fn stats(&self) -> DevStats {
        let mut s = self.stats;
        s.rx_missed = self.hw.stats.rx_missed;
        s
    }

    fn open(&mut self, pool: &mut SkbPool) -> Result<(), OpenError> {
        SimNic::open(self, pool)
    }

    fn stop(&mut self, pool: &mut SkbPool) {
        self.close(pool);
    }

    fn transmit(&mut self, pool: &mut SkbPool, now: Instant, skb: SkBuff) -> Result<(), TxBusy> {
        self.driver_xmit(pool, now, skb)
    }

    fn poll_rx(&mut self, pool: &mut SkbPool, now: Instant, budget: usize, rx: &mut SkbQueue) -> usize {
        self.driver_poll_rx(pool, now, budget, rx)
    }

    fn reclaim_tx(&mut self, pool: &mut SkbPool, now: Instant) -> usize {
        self.driver_reclaim_tx(pool, now)
    }

    fn napi_scheduled(&self) -> bool {
        self.irq.scheduled()
    }

    fn tick(&mut self, pool: &mut SkbPool, now: Instant) {
        self.hw_run(now, pool);
    }

    fn poll_at(&self) -> Option<Instant> {
        self.hw_poll_at()
    }
}

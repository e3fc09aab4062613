//! The bridge: a learning Ethernet switch whose ports are other
//! interfaces of its namespace (Linux's `br_handle_frame`,
//! `br_forward`, `br_fdb`).
//!
//! A frame arriving on a port teaches the bridge where its source address
//! lives (the forwarding database, [`Fdb`]); it then goes to the port where
//! its destination lives, or to every other port when that is unknown or
//! the frame is broadcast or multicast (flooding), and up the bridge's own
//! stack when addressed to the bridge or to everyone. Entries age out
//! after [`Fdb::AGEING`] without traffic, so a host that moved is found
//! again by flooding. There is no spanning tree: a topology with a loop
//! floods without end, as a Linux bridge with STP off does (each copy costs
//! a buffer from the pool, so the loop ends when the pool is empty).
//!
//! The bridge device itself only queues what its own stack sends; the
//! world forwards that like a frame arriving from no port.

use core::time::Duration;

use super::{DevStats, Features, Medium, NetDevice, TsoLimits, TxBusy};
use crate::skb::{IfIndex, SkBuff, SkbPool, SkbQueue};
use crate::time::Instant;
use crate::wire::MacAddr;

/// The bridge device.
pub struct Bridge {
    mac: MacAddr,
    open: bool,
    carrier: bool,
    tx: SkbQueue,
    limit: usize,
    stats: DevStats,
}

impl Bridge {
    /// A bridge with hardware address `mac`, holding at most `limit` frames
    /// its stack sent until the world forwards them.
    pub const fn new(mac: MacAddr, limit: usize) -> Bridge {
        Bridge { mac, open: false, carrier: false, tx: SkbQueue::new(), limit, stats: DevStats::new() }
    }

    /// True when the device is up.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Set the carrier (some port has one), as the world sees its ports.
    pub(crate) fn set_carrier(&mut self, on: bool) {
        self.carrier = on;
    }

    /// What the bridge's own stack sent since the last call.
    pub(crate) fn take_tx(&mut self) -> SkbQueue {
        core::mem::take(&mut self.tx)
    }

    /// True when frames wait to be forwarded.
    pub(crate) fn has_tx(&self) -> bool {
        !self.tx.is_empty()
    }

    /// Count a frame delivered up the bridge's own stack.
    pub(crate) fn count_rx(&mut self, bytes: usize) {
        self.stats.rx_packets += 1;
        self.stats.rx_bytes += bytes as u64;
    }

    /// Count a frame the bridge dropped.
    pub(crate) fn count_drop(&mut self) {
        self.stats.tx_dropped += 1;
    }

    /// Free every queued frame.
    pub fn purge(&mut self, pool: &mut SkbPool) {
        self.tx.purge(pool);
    }
}

impl NetDevice for Bridge {
    fn medium(&self) -> Medium {
        Medium::Ethernet
    }

    fn hw_addr(&self) -> Option<MacAddr> {
        Some(self.mac)
    }

    fn mtu(&self) -> u16 {
        1500
    }

    fn features(&self) -> Features {
        Features { tso: Some(TsoLimits { max_size: 65_536, max_segs: u16::MAX }), lro: false, ..Features::ALL }
    }

    fn link_up(&self) -> bool {
        self.open && self.carrier
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

    fn poll_rx(&mut self, _pool: &mut SkbPool, _now: Instant, _budget: usize, _rx: &mut SkbQueue) -> usize {
        0
    }

    fn reclaim_tx(&mut self, _pool: &mut SkbPool, _now: Instant) -> usize {
        0
    }

    fn napi_scheduled(&self) -> bool {
        false
    }
}

/// A forwarding database entry: `mac` was last seen behind `port` of `bridge`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FdbEntry {
    /// The bridge.
    pub bridge: IfIndex,
    /// The address learned.
    pub mac: MacAddr,
    /// The port it lives behind.
    pub port: IfIndex,
    /// When a frame from it was last seen.
    pub updated: Instant,
}

/// The forwarding database of every bridge of a world, over caller-provided
/// slots (`bridge fdb`). Lookups scan the slots: the table is small, and
/// the scan is bounded by its size.
pub struct Fdb<'a> {
    slots: &'a mut [Option<FdbEntry>],
}

impl<'a> Fdb<'a> {
    /// How long an entry lives without traffic (Linux's `ageing_time`, 300 s).
    pub const AGEING: Duration = Duration::from_secs(300);

    /// A database over `slots`.
    pub fn new(slots: &'a mut [Option<FdbEntry>]) -> Fdb<'a> {
        Fdb { slots }
    }

    fn live(e: &FdbEntry, now: Instant) -> bool {
        now.saturating_duration_since(e.updated) < Self::AGEING
    }

    /// Where `mac` lives on `bridge`, if known and not aged out.
    pub fn lookup(&self, bridge: IfIndex, mac: MacAddr, now: Instant) -> Option<IfIndex> {
        self.slots.iter().flatten().find(|e| e.bridge == bridge && e.mac == mac && Self::live(e, now)).map(|e| e.port)
    }

    /// Learn that `mac` lives behind `port`. When full, the entry seen
    /// longest ago makes room.
    pub fn learn(&mut self, bridge: IfIndex, mac: MacAddr, port: IfIndex, now: Instant) {
        if !mac.is_unicast() || mac == MacAddr::ZERO || self.slots.is_empty() {
            return;
        }
        let entry = FdbEntry { bridge, mac, port, updated: now };
        if let Some(e) = self.slots.iter_mut().flatten().find(|e| e.bridge == bridge && e.mac == mac) {
            *e = entry;
            return;
        }
        let i = self.slots.iter().position(Option::is_none).unwrap_or_else(|| {
            (0..self.slots.len()).min_by_key(|&i| self.slots[i].map_or(Instant::ZERO, |e| e.updated)).unwrap_or(0)
        });
        self.slots[i] = Some(entry);
    }

    /// Forget entries that aged out.
    pub fn expire(&mut self, now: Instant) {
        for s in self.slots.iter_mut() {
            if s.is_some_and(|e| !Self::live(&e, now)) {
                *s = None;
            }
        }
    }

    /// Forget every entry of `bridge`, or (with `port`) behind one port.
    pub fn flush(&mut self, bridge: IfIndex, port: Option<IfIndex>) {
        for s in self.slots.iter_mut() {
            if s.is_some_and(|e| e.bridge == bridge && port.is_none_or(|p| p == e.port)) {
                *s = None;
            }
        }
    }

    /// Every entry of `bridge`.
    pub fn entries(&self, bridge: IfIndex) -> impl Iterator<Item = &FdbEntry> + '_ {
        self.slots.iter().flatten().filter(move |e| e.bridge == bridge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_ages_and_evicts() {
        let mut slots = [None; 2];
        let mut fdb = Fdb::new(&mut slots);
        let (a, b, c) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]), MacAddr([2, 0, 0, 0, 0, 3]));
        let t = Instant::from_secs(10);
        fdb.learn(9, a, 1, t);
        fdb.learn(9, MacAddr::BROADCAST, 1, t);
        assert_eq!(fdb.entries(9).count(), 1, "only unicast sources are learned");
        fdb.learn(9, b, 2, t + Duration::from_secs(1));
        assert_eq!(fdb.lookup(9, a, t), Some(1));
        assert_eq!(fdb.lookup(8, a, t), None, "per bridge");
        fdb.learn(9, a, 3, t + Duration::from_secs(2));
        assert_eq!(fdb.lookup(9, a, t), Some(3), "moved");
        fdb.learn(9, c, 1, t + Duration::from_secs(3));
        assert_eq!(fdb.lookup(9, b, t), None, "the oldest made room");
        assert_eq!(fdb.lookup(9, c, t + Fdb::AGEING + Duration::from_secs(3)), None, "aged out");
        fdb.expire(t + Fdb::AGEING + Duration::from_secs(2));
        assert_eq!(fdb.entries(9).count(), 1);
        fdb.flush(9, Some(1));
        assert_eq!(fdb.entries(9).count(), 0);
    }
}

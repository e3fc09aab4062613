//! A link: the cable between two NICs (or a NIC and the TUN bridge), with a
//! rate, a delay, an MTU, and seeded loss, duplication, reordering and
//! corruption. Everything is driven by the `now` it is given, so a seed
//! replays the same faults on the same calls.
//!
//! Frames are copied in when sent and out when received, as a wire would
//! ([`Link::send`], [`Link::recv`]), or written and read in place in their
//! slot by a NIC's DMA ([`Link::send_with`], [`Link::recv_with`]); in
//! flight they sit in `SLOTS` fixed slots of `FRAME` bytes each, shared by
//! both directions. A tap sees every frame as it is delivered (so drops are
//! absent and corruption, duplicates and reordering are visible).
//!
//! A sending device may leave a frame's TCP/UDP checksum for the link to
//! finish ([`PendingCsum`]): silicon computes it for free as the frame
//! leaves, a simulation pays for it in CPU time. The link finishes it the
//! moment anything could see the bytes: before a tap records the frame,
//! before a bit is flipped in it, before [`Link::recv`] copies it out, and
//! whenever the receiver asks ([`LinkFrame::finish`]). A receiving device
//! that only needs to know whether the checksum would verify, and then
//! keeps the frame's payload but not its TCP header (a segment LRO merges
//! into an earlier one), can decide that from the headers alone: see
//! [`LinkFrame::pending`]. Nothing observable differs from a link that
//! carried every checksum finished.

use core::time::Duration;

use heapless::Deque;
use heapless::binary_heap::{BinaryHeap, Min};
use skbnet::time::Instant;
use skbnet::wire::checksum::InetSum;

use crate::pcap::{ByteSink, Direction, PcapNgWriter};
use crate::rng::{Chance, SimRng};

/// One end of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The first end.
    A,
    /// The second end.
    B,
}

impl Side {
    /// The other end.
    pub fn peer(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// A link's physical and fault parameters.
#[derive(Clone, Copy, Debug)]
pub struct LinkConfig {
    /// Largest frame the link carries, link-layer header included (1514 for
    /// Ethernet with a 1500-byte MTU); larger frames are dropped as giants.
    pub max_frame: usize,
    /// Bits per second; `0` is unlimited (no serialization delay).
    pub rate_bps: u64,
    /// One-way propagation delay.
    pub delay: Duration,
    /// Probability a frame is lost.
    pub loss: f64,
    /// Probability a frame is delivered twice.
    pub duplicate: f64,
    /// Probability a frame is held back by `reorder_delay`, letting later frames pass.
    pub reorder: f64,
    /// How long a reordered frame is held back.
    pub reorder_delay: Duration,
    /// Probability one bit of a frame is flipped.
    pub corrupt: f64,
    /// Most frames queued or in flight per direction (beyond: tail drop).
    pub queue_frames: usize,
}

impl LinkConfig {
    /// A perfect Ethernet cable for a 1500-byte MTU: no delay, no faults.
    pub const fn ethernet() -> LinkConfig {
        LinkConfig {
            max_frame: 1514,
            rate_bps: 0,
            delay: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            corrupt: 0.0,
            queue_frames: usize::MAX,
        }
    }
}

/// Counters of one direction of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames handed to the link.
    pub sent: u64,
    /// Frames delivered to the far end (duplicates included).
    pub delivered: u64,
    /// Bytes delivered.
    pub delivered_bytes: u64,
    /// Frames lost on purpose.
    pub lost: u64,
    /// Frames dropped because the queue or the slots were full.
    pub queue_drops: u64,
    /// Frames dropped for exceeding `max_frame`.
    pub giants: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Frames held back to be reordered.
    pub reordered: u64,
    /// Frames with a flipped bit.
    pub corrupted: u64,
}

/// Something that watches frames cross a link.
pub trait Tap {
    /// `frame` was delivered at `now`, sent from `from`.
    fn capture(&mut self, now: Instant, from: Side, frame: &[u8]);

    /// Whether [`Tap::capture`] would record anything now. While it says
    /// no, the link need not finish pending checksums for the tap's sake.
    fn active(&self) -> bool {
        true
    }
}

/// No tap.
pub struct NoTap;

impl Tap for NoTap {
    fn capture(&mut self, _now: Instant, _from: Side, _frame: &[u8]) {}

    fn active(&self) -> bool {
        false
    }
}

/// A TCP or UDP checksum the sending device left unfinished in a frame, in
/// the `CHECKSUM_PARTIAL` form: the one's-complement sum of the frame's
/// bytes from `start` to its end belongs, complemented, in the 16-bit
/// field at `start + offset`, which holds the folded pseudo-header sum
/// until then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingCsum {
    /// Where the summed bytes begin (the L4 header), from the frame's start.
    pub start: u16,
    /// Where the field lies, from `start`.
    pub offset: u16,
}

impl PendingCsum {
    /// True if the field lies inside a frame of `len` bytes.
    pub fn fits(&self, len: usize) -> bool {
        usize::from(self.start) + usize::from(self.offset) + 2 <= len
    }

    /// Finish the checksum in `frame`: sum from `start` to the end (the
    /// field holding the seed) and store the complement. A field that does
    /// not fit leaves the frame as it is.
    pub fn finish(&self, frame: &mut [u8]) {
        if !self.fits(frame.len()) {
            return;
        }
        let field = usize::from(self.start) + usize::from(self.offset);
        let value = InetSum::new().add(&frame[usize::from(self.start)..]).finish();
        frame[field..field + 2].copy_from_slice(&value.to_be_bytes());
    }
}

/// A frame handed to a receiver in its link slot, perhaps with its
/// checksum still pending.
pub struct LinkFrame<'a> {
    bytes: &'a mut [u8],
    csum: Option<PendingCsum>,
}

impl<'a> LinkFrame<'a> {
    /// A frame whose bytes are all final (one copied off a TUN device, say).
    pub fn finished(bytes: &'a mut [u8]) -> LinkFrame<'a> {
        LinkFrame { bytes, csum: None }
    }

    /// The frame's length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True for an empty frame.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The checksum still to be finished, if one is. Its field then holds
    /// the seed, and the checksum would verify at the receiver exactly when
    /// that seed is the frame's pseudo-header sum: the finished value is the
    /// complement of the seed plus the rest of the bytes, so pseudo-header,
    /// bytes and finished value sum to negative zero only then.
    pub fn pending(&self) -> Option<PendingCsum> {
        self.csum
    }

    /// The bytes as they are: with the seed in a pending checksum's field.
    pub fn bytes(&self) -> &[u8] {
        self.bytes
    }

    /// Finish a pending checksum, so [`Self::bytes`] are what crossed the wire.
    pub fn finish(&mut self) {
        if let Some(c) = self.csum.take() {
            c.finish(self.bytes);
        }
    }
}

/// A tap that records a link as one interface of a shared pcapng writer:
/// side A's frames are outbound, side B's inbound.
pub struct PcapNgTap<'w, W: ByteSink> {
    writer: &'w core::cell::RefCell<PcapNgWriter<W>>,
    iface: u32,
}

impl<'w, W: ByteSink> PcapNgTap<'w, W> {
    /// A tap writing to interface `iface` of `writer` (see [`PcapNgWriter::add_interface`]).
    pub fn new(writer: &'w core::cell::RefCell<PcapNgWriter<W>>, iface: u32) -> Self {
        PcapNgTap { writer, iface }
    }
}

impl<W: ByteSink> Tap for PcapNgTap<'_, W> {
    fn capture(&mut self, now: Instant, from: Side, frame: &[u8]) {
        let dir = if from == Side::A { Direction::Outbound } else { Direction::Inbound };
        // A failed write is counted by the writer; the link carries on.
        if let Ok(mut w) = self.writer.try_borrow_mut() {
            let _ = w.write_packet(self.iface, now, dir, frame);
        }
    }
}

/// Why a frame was not accepted by [`Link::send`]. The link counted it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// On its way (perhaps to be lost, as the fault model decides: a lost
    /// frame also reports `Sent`, the sender cannot tell).
    Sent,
    /// Larger than the link's maximum frame.
    Giant,
    /// The direction's queue or the link's slots were full.
    QueueFull,
}

/// A frame on its way: when it is due, its place in the sending order, and
/// its slot with the frame's length and pending checksum (kept here, in the
/// queue the receiver reads anyway, rather than beside the slot's bytes in
/// a cache line of their own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InFlight {
    due: Instant,
    seq: u64,
    slot: u16,
    len: u16,
    csum: Option<PendingCsum>,
}

/// Frames are delivered in order of due time, then of sending (`seq` is
/// unique, so no two frames compare equal).
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The frames in flight in one direction, delivered in order of due time
/// and then of sending. A frame due no earlier than the last one queued
/// (every frame, on a link that neither reorders nor changes its delay)
/// joins a FIFO in O(1); one due earlier waits in a heap. The next frame
/// is the earlier of the two fronts, so the order is exactly that of one
/// heap of them all.
struct Flight<const N: usize> {
    fifo: Deque<InFlight, N>,
    early: BinaryHeap<InFlight, Min, N>,
}

impl<const N: usize> Flight<N> {
    const fn new() -> Self {
        Flight { fifo: Deque::new(), early: BinaryHeap::new() }
    }

    fn len(&self) -> usize {
        self.fifo.len() + self.early.len()
    }

    /// Queue a frame; at most `N` are ever in flight (one per link slot),
    /// so both queues have room.
    fn push(&mut self, f: InFlight) {
        let _ = if self.fifo.back().is_none_or(|last| last.due <= f.due) {
            self.fifo.push_back(f)
        } else {
            self.early.push(f)
        };
    }

    fn peek(&self) -> Option<InFlight> {
        match (self.fifo.front(), self.early.peek()) {
            (Some(a), Some(b)) => Some(*a.min(b)),
            (a, b) => a.or(b).copied(),
        }
    }

    fn pop(&mut self) -> Option<InFlight> {
        let next = self.peek()?;
        if self.fifo.front() == Some(&next) { self.fifo.pop_front() } else { self.early.pop() }
    }
}

const NIL: u16 = u16::MAX;

/// The fault probabilities, converted once from the configuration.
#[derive(Clone, Copy)]
struct Faults {
    loss: Chance,
    duplicate: Chance,
    reorder: Chance,
    corrupt: Chance,
}

impl Faults {
    fn of(cfg: &LinkConfig) -> Faults {
        Faults {
            loss: Chance::new(cfg.loss),
            duplicate: Chance::new(cfg.duplicate),
            reorder: Chance::new(cfg.reorder),
            corrupt: Chance::new(cfg.corrupt),
        }
    }
}

/// A two-ended link with `SLOTS` frames of at most `FRAME` bytes in flight.
pub struct Link<const SLOTS: usize, const FRAME: usize, T: Tap = NoTap> {
    cfg: LinkConfig,
    faults: Faults,
    rng: SimRng,
    slots: [[u8; FRAME]; SLOTS],
    /// The free slots, a list threaded through `next_free` from `free`.
    next_free: [u16; SLOTS],
    free: u16,
    flight: [Flight<SLOTS>; 2],
    /// When each direction finishes serializing its last frame, in
    /// nanoseconds (a 64-byte frame at 10 Gb/s takes 51 ns).
    busy_until_ns: [u64; 2],
    /// Remainders of the serialization divisions, so rounding never drifts.
    busy_carry: [u128; 2],
    stats: [LinkStats; 2],
    seq: u64,
    /// The cable is in: the devices at both ends see a carrier.
    plugged: bool,
    tap: T,
}

impl<const SLOTS: usize, const FRAME: usize, T: Tap> Link<SLOTS, FRAME, T> {
    /// A link with `cfg`, its faults drawn from `seed`, watched by `tap`.
    pub fn new(cfg: LinkConfig, seed: u64, tap: T) -> Self {
        const { assert!(SLOTS >= 1 && SLOTS < NIL as usize && FRAME <= u16::MAX as usize) };
        Link {
            cfg,
            faults: Faults::of(&cfg),
            rng: SimRng::new(seed),
            slots: [[0; FRAME]; SLOTS],
            next_free: core::array::from_fn(|i| if i + 1 < SLOTS { i as u16 + 1 } else { NIL }),
            free: 0,
            flight: [Flight::new(), Flight::new()],
            busy_until_ns: [0; 2],
            busy_carry: [0; 2],
            stats: [LinkStats::default(); 2],
            seq: 0,
            plugged: true,
            tap,
        }
    }

    /// The link's configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.cfg
    }

    /// Change the configuration (for example to start losing frames mid-test).
    pub fn set_config(&mut self, cfg: LinkConfig) {
        self.cfg = cfg;
        self.faults = Faults::of(&cfg);
    }

    /// True while the cable is in.
    pub fn plugged(&self) -> bool {
        self.plugged
    }

    /// Pull the cable out or put it back. The devices at both ends lose or
    /// regain their carrier (on their next run); frames on the wire when it
    /// comes out are lost, and so is anything sent while it is out.
    pub fn set_plugged(&mut self, plugged: bool) {
        self.plugged = plugged;
        if plugged {
            return;
        }
        for d in 0..2 {
            // Bounded: each pass empties one slot.
            while let Some(f) = self.flight[d].pop() {
                self.put_slot(f.slot);
                self.stats[d].lost += 1;
            }
        }
    }

    /// Counters of frames sent from `side`.
    pub fn stats(&self, from: Side) -> LinkStats {
        self.stats[from.index()]
    }

    /// Frames queued or in flight from `side`.
    pub fn in_flight(&self, from: Side) -> usize {
        self.flight[from.index()].len()
    }

    /// The tap, for reading what it recorded.
    pub fn tap(&self) -> &T {
        &self.tap
    }

    /// The tap, to change what it does.
    pub fn tap_mut(&mut self) -> &mut T {
        &mut self.tap
    }

    /// Put a frame on the wire at `now` from `from`.
    pub fn send(&mut self, now: Instant, from: Side, frame: &[u8]) -> SendOutcome {
        self.send_with(now, from, frame.len(), |slot| {
            slot.copy_from_slice(frame);
            None
        })
    }

    /// Put a frame of `len` bytes on the wire at `now` from `from`, written
    /// by `fill` straight into the link's slot (as a NIC's DMA engine feeds
    /// its PHY without a staging copy). `fill` returns the checksum it left
    /// for the link to finish, if any (a field that does not fit the frame
    /// is ignored, as a device would leave it). `fill` is not called for a
    /// frame the link drops (a giant, a full queue) or loses; a duplicated
    /// frame is filled once and copied.
    pub fn send_with(
        &mut self,
        now: Instant,
        from: Side,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Option<PendingCsum>,
    ) -> SendOutcome {
        let d = from.index();
        self.stats[d].sent += 1;
        if len > self.cfg.max_frame || len > FRAME {
            self.stats[d].giants += 1;
            return SendOutcome::Giant;
        }
        if self.flight[d].len() >= self.cfg.queue_frames {
            self.stats[d].queue_drops += 1;
            return SendOutcome::QueueFull;
        }
        if !self.plugged {
            self.stats[d].lost += 1;
            return SendOutcome::Sent;
        }
        // Serialization: the frame starts when the previous one finished.
        let start_ns = (now.micros() * 1000).max(self.busy_until_ns[d]);
        self.busy_until_ns[d] = start_ns + self.serialization_ns(d, len);
        let mut due = Instant::from_micros(self.busy_until_ns[d].div_ceil(1000)) + self.cfg.delay;
        if self.rng.chance(self.faults.loss) {
            self.stats[d].lost += 1;
            return SendOutcome::Sent;
        }
        if self.rng.chance(self.faults.reorder) {
            self.stats[d].reordered += 1;
            due += self.cfg.reorder_delay;
        }
        let copies = if self.rng.chance(self.faults.duplicate) { 2 } else { 1 };
        let corrupt = self.rng.chance(self.faults.corrupt);
        let bit = self.rng.below(len as u64 * 8);
        let Some(first) = self.take_slot() else {
            self.stats[d].queue_drops += 1;
            return SendOutcome::QueueFull;
        };
        let bytes = &mut self.slots[usize::from(first)][..len];
        let mut csum = fill(bytes).filter(|c| c.fits(len));
        if corrupt && let Some(c) = csum.take() {
            // The bit flips in what crossed the wire: the finished frame.
            c.finish(bytes);
        }
        for copy in 0..copies {
            let slot = if copy == 0 {
                first
            } else {
                let Some(slot) = self.take_slot() else {
                    self.stats[d].queue_drops += 1;
                    break;
                };
                self.copy_slot(first, slot, len);
                slot
            };
            if corrupt && len > 0 {
                self.slots[usize::from(slot)][(bit / 8) as usize] ^= 1 << (bit % 8);
            }
            self.seq += 1;
            self.flight[d].push(InFlight { due, seq: self.seq, slot, len: len as u16, csum });
        }
        if corrupt {
            self.stats[d].corrupted += 1;
        }
        if copies == 2 {
            self.stats[d].duplicated += 1;
        }
        SendOutcome::Sent
    }

    /// Take the next frame due at `to` by `now`, copying it into `buf`.
    /// Returns its length, or `None` if nothing is due. A frame longer than
    /// `buf` is cut to fit (the receiver counts it as an error).
    pub fn recv(&mut self, now: Instant, to: Side, buf: &mut [u8]) -> Option<usize> {
        self.recv_with(now, to, |mut frame| {
            frame.finish();
            let n = frame.len().min(buf.len());
            buf[..n].copy_from_slice(&frame.bytes()[..n]);
            n
        })
    }

    /// Hand the next frame due at `to` by `now` to `take`, in place in the
    /// link's slot (as a NIC's DMA engine reads its PHY's FIFO), and return
    /// what `take` returns; `None` if nothing is due. The frame's checksum
    /// may still be pending (see [`LinkFrame`]).
    pub fn recv_with<R>(&mut self, now: Instant, to: Side, take: impl FnOnce(LinkFrame<'_>) -> R) -> Option<R> {
        let from = to.peer();
        let d = from.index();
        let next = self.flight[d].peek()?;
        if next.due > now {
            return None;
        }
        let _ = self.flight[d].pop();
        let len = usize::from(next.len);
        let bytes = &mut self.slots[usize::from(next.slot)][..len];
        let mut csum = next.csum;
        if self.tap.active() {
            if let Some(c) = csum.take() {
                c.finish(bytes);
            }
            self.tap.capture(next.due, from, bytes);
        }
        let r = take(LinkFrame { bytes, csum });
        self.stats[d].delivered += 1;
        self.stats[d].delivered_bytes += len as u64;
        self.put_slot(next.slot);
        Some(r)
    }

    /// When the next frame towards `to` is due, if any.
    pub fn next_due(&self, to: Side) -> Option<Instant> {
        self.flight[to.peer().index()].peek().map(|f| f.due)
    }

    /// When any frame on the link is next due.
    pub fn poll_at(&self) -> Option<Instant> {
        match (self.next_due(Side::A), self.next_due(Side::B)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Wire time of `len` bytes in direction `d`, in whole nanoseconds,
    /// carrying the remainder to the next frame.
    fn serialization_ns(&mut self, d: usize, len: usize) -> u64 {
        if self.cfg.rate_bps == 0 {
            return 0;
        }
        let rate = u128::from(self.cfg.rate_bps);
        let bits_ns = len as u128 * 8 * 1_000_000_000 + self.busy_carry[d];
        self.busy_carry[d] = bits_ns % rate;
        (bits_ns / rate) as u64
    }

    /// Copy the first `len` bytes of slot `from` into slot `to`.
    fn copy_slot(&mut self, from: u16, to: u16, len: usize) {
        let (from, to) = (usize::from(from), usize::from(to));
        let (src, dst) = if from < to {
            let (lo, hi) = self.slots.split_at_mut(to);
            (&lo[from], &mut hi[0])
        } else {
            let (lo, hi) = self.slots.split_at_mut(from);
            (&hi[0], &mut lo[to])
        };
        dst[..len].copy_from_slice(&src[..len]);
    }

    fn take_slot(&mut self) -> Option<u16> {
        let slot = self.free;
        if slot == NIL {
            return None;
        }
        self.free = self.next_free[usize::from(slot)];
        Some(slot)
    }

    fn put_slot(&mut self, slot: u16) {
        self.next_free[usize::from(slot)] = self.free;
        self.free = slot;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestLink = Link<64, 1514>;

    fn frame(i: u32, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[..4].copy_from_slice(&i.to_be_bytes());
        f
    }

    fn drain(link: &mut TestLink, now: Instant, to: Side) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 1514];
        while let Some(n) = link.recv(now, to, &mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    }

    #[test]
    fn flight_order_is_that_of_one_heap() {
        // Random sends and deliveries, dues mostly rising with some earlier
        // (reordered or sent after a delay change): the FIFO and its heap
        // give exactly the order a single heap does.
        let mut rng = SimRng::new(3);
        let (mut flight, mut reference) = (Flight::<64>::new(), BinaryHeap::<InFlight, Min, 64>::new());
        let (mut clock, mut seq) = (0u64, 0u64);
        for _ in 0..20_000 {
            if flight.len() < 64 && rng.below(3) != 0 {
                clock += rng.below(5);
                let due = Instant::from_micros(clock.saturating_sub(rng.below(4) * rng.below(2) * 10));
                seq += 1;
                let f = InFlight { due, seq, slot: seq as u16, len: 0, csum: None };
                flight.push(f);
                assert!(reference.push(f).is_ok());
            } else {
                assert!(flight.peek() == reference.peek().copied());
                assert!(flight.pop() == reference.pop());
            }
            assert_eq!(flight.len(), reference.len());
        }
    }

    #[test]
    fn perfect_link_delivers_in_order_both_ways() {
        let mut link = TestLink::new(LinkConfig::ethernet(), 1, NoTap);
        for i in 0..10 {
            assert_eq!(link.send(Instant::ZERO, Side::A, &frame(i, 60)), SendOutcome::Sent);
        }
        link.send(Instant::ZERO, Side::B, &frame(99, 60));
        let got = drain(&mut link, Instant::ZERO, Side::B);
        assert_eq!(got, (0..10).map(|i| frame(i, 60)).collect::<Vec<_>>());
        assert_eq!(drain(&mut link, Instant::ZERO, Side::A), vec![frame(99, 60)]);
        assert_eq!(link.stats(Side::A).delivered, 10);
        assert_eq!(link.stats(Side::A).delivered_bytes, 600);
    }

    #[test]
    fn rate_and_delay_set_delivery_times() {
        let cfg = LinkConfig { rate_bps: 1_000_000, delay: Duration::from_millis(5), ..LinkConfig::ethernet() };
        let mut link = TestLink::new(cfg, 1, NoTap);
        // 1250 bytes at 1 Mb/s take 10 ms on the wire.
        for i in 0..3 {
            link.send(Instant::ZERO, Side::A, &frame(i, 1250));
        }
        assert_eq!(link.next_due(Side::B), Some(Instant::from_millis(15)));
        assert!(drain(&mut link, Instant::from_micros(14_999), Side::B).is_empty());
        assert_eq!(drain(&mut link, Instant::from_millis(15), Side::B).len(), 1);
        assert_eq!(link.next_due(Side::B), Some(Instant::from_millis(25)));
        assert_eq!(drain(&mut link, Instant::from_millis(35), Side::B).len(), 2);
        assert_eq!(link.poll_at(), None);
    }

    #[test]
    fn sub_microsecond_frames_still_add_up() {
        // 64-byte frames at 10 Gb/s take 51.2 ns each: 1000 of them take 51.2 us.
        let cfg = LinkConfig { rate_bps: 10_000_000_000, ..LinkConfig::ethernet() };
        let mut link = Link::<1024, 64>::new(cfg, 1, NoTap);
        for i in 0..1000 {
            link.send(Instant::ZERO, Side::A, &frame(i, 64));
        }
        let mut buf = [0u8; 64];
        let mut last = 0;
        while let Some(due) = link.next_due(Side::B) {
            last = due.micros();
            link.recv(due, Side::B, &mut buf);
        }
        assert_eq!(last, 52, "51.2 us, rounded up to the microsecond");
    }

    #[test]
    fn giants_and_full_queues_are_dropped_and_counted() {
        let cfg = LinkConfig { queue_frames: 2, rate_bps: 1_000_000, ..LinkConfig::ethernet() };
        let mut link = TestLink::new(cfg, 1, NoTap);
        assert_eq!(link.send(Instant::ZERO, Side::A, &frame(0, 1515)), SendOutcome::Giant);
        assert_eq!(link.send(Instant::ZERO, Side::A, &frame(1, 100)), SendOutcome::Sent);
        assert_eq!(link.send(Instant::ZERO, Side::A, &frame(2, 100)), SendOutcome::Sent);
        assert_eq!(link.send(Instant::ZERO, Side::A, &frame(3, 100)), SendOutcome::QueueFull);
        let s = link.stats(Side::A);
        assert_eq!((s.sent, s.giants, s.queue_drops), (4, 1, 1));
        // The slots (64) bound the link even with an unlimited queue.
        let mut link = TestLink::new(LinkConfig::ethernet(), 1, NoTap);
        let sent = (0..100).filter(|&i| link.send(Instant::ZERO, Side::A, &frame(i, 60)) == SendOutcome::Sent).count();
        assert_eq!(sent, 64);
        assert_eq!(link.stats(Side::A).queue_drops, 36);
    }

    fn faulty() -> LinkConfig {
        LinkConfig {
            rate_bps: 100_000_000,
            delay: Duration::from_millis(1),
            loss: 0.1,
            duplicate: 0.05,
            reorder: 0.1,
            reorder_delay: Duration::from_millis(2),
            corrupt: 0.05,
            ..LinkConfig::ethernet()
        }
    }

    fn run_faulty(seed: u64) -> (Vec<(u64, Vec<u8>)>, LinkStats) {
        let mut link = TestLink::new(faulty(), seed, NoTap);
        let mut out = Vec::new();
        let mut buf = [0u8; 1514];
        for i in 0..2000u32 {
            let now = Instant::from_micros(u64::from(i) * 100);
            link.send(now, Side::A, &frame(i, 200));
            while let Some(n) = link.recv(now, Side::B, &mut buf) {
                out.push((now.micros(), buf[..n].to_vec()));
            }
        }
        let later = Instant::from_secs(1);
        while let Some(n) = link.recv(later, Side::B, &mut buf) {
            out.push((later.micros(), buf[..n].to_vec()));
        }
        (out, link.stats(Side::A))
    }

    #[test]
    fn a_seed_replays_identically_and_faults_happen_at_their_rates() {
        let (a, sa) = run_faulty(42);
        let (b, sb) = run_faulty(42);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        let (c, _) = run_faulty(43);
        assert_ne!(a, c, "another seed, other faults");
        assert!((150..250).contains(&sa.lost), "{sa:?}");
        assert!((50..150).contains(&sa.duplicated), "{sa:?}");
        assert!((120..240).contains(&sa.reordered), "{sa:?}");
        assert!((50..150).contains(&sa.corrupted), "{sa:?}");
        assert_eq!(sa.delivered, 2000 - sa.lost + sa.duplicated, "{sa:?}");
        assert_eq!(a.len() as u64, sa.delivered);
    }

    #[test]
    fn reordering_lets_later_frames_pass_and_corruption_flips_one_bit() {
        let cfg = LinkConfig { reorder: 1.0, reorder_delay: Duration::from_millis(1), ..LinkConfig::ethernet() };
        let mut link = TestLink::new(cfg, 5, NoTap);
        link.send(Instant::ZERO, Side::A, &frame(1, 60));
        link.set_config(LinkConfig::ethernet());
        link.send(Instant::ZERO, Side::A, &frame(2, 60));
        let got = drain(&mut link, Instant::from_millis(1), Side::B);
        assert_eq!(got, vec![frame(2, 60), frame(1, 60)]);

        let cfg = LinkConfig { corrupt: 1.0, ..LinkConfig::ethernet() };
        let mut link = TestLink::new(cfg, 9, NoTap);
        let sent = frame(7, 300);
        link.send(Instant::ZERO, Side::A, &sent);
        let got = drain(&mut link, Instant::ZERO, Side::B).remove(0);
        let flipped: u32 = got.iter().zip(&sent).map(|(a, b)| (a ^ b).count_ones()).sum();
        assert_eq!(flipped, 1);
    }

    #[test]
    fn the_tap_sees_delivered_frames_with_their_time() {
        struct Count(Vec<(u64, Side, usize)>);
        impl Tap for Count {
            fn capture(&mut self, now: Instant, from: Side, frame: &[u8]) {
                self.0.push((now.micros(), from, frame.len()));
            }
        }
        let cfg = LinkConfig { delay: Duration::from_micros(30), ..LinkConfig::ethernet() };
        let mut link = Link::<8, 1514, Count>::new(cfg, 1, Count(Vec::new()));
        link.send(Instant::from_micros(10), Side::B, &frame(0, 77));
        let mut buf = [0; 1514];
        assert!(link.recv(Instant::from_micros(100), Side::A, &mut buf).is_some());
        assert_eq!(link.tap().0, vec![(40, Side::B, 77)]);
    }
}

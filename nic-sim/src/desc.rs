//! Descriptors and rings: the memory the driver and the device share.
//!
//! A descriptor ring lives in host memory. The driver fills descriptors and
//! hands them to the device by setting [`OWN`] and writing the ring's tail
//! register (the doorbell); the device processes descriptors from its head
//! register up to the tail, writes back status, clears [`OWN`] and advances
//! the head. A buffer address is a [`DmaAddr`]: which packet in the pool and
//! where in it, standing in for a bus address (the device reads and writes
//! the pool, as a real one reads and writes RAM).

use skbnet::skb::SkbRef;

/// The device owns the descriptor (set by the driver, cleared by the device).
pub const OWN: u16 = 1 << 0;
/// First descriptor of a packet.
pub const SOP: u16 = 1 << 1;
/// Last descriptor of a packet.
pub const EOP: u16 = 1 << 2;
/// Descriptor done: the device wrote status back.
pub const DD: u16 = 1 << 3;
/// TX: insert the L4 checksum (`csum_start`/`csum_offset`, field seeded with
/// the pseudo-header sum).
pub const TX_CSUM: u16 = 1 << 4;
/// TX: segment this TCP packet into `mss`-sized frames (`hdr_len` bytes of headers).
pub const TX_TSO: u16 = 1 << 5;
/// RX: the IPv4 header checksum was verified good.
pub const RX_L3_OK: u16 = 1 << 6;
/// RX: the TCP or UDP checksum was verified good.
pub const RX_L4_OK: u16 = 1 << 7;
/// RX: the TCP or UDP checksum was verified bad.
pub const RX_L4_BAD: u16 = 1 << 8;
/// RX: several segments were coalesced into this packet (LRO/RSC).
pub const RX_RSC: u16 = 1 << 9;
/// RX: the frame was longer than its buffers and was cut.
pub const RX_TRUNCATED: u16 = 1 << 10;
/// RX: the host on the far side left the TCP or UDP checksum for the
/// receiver to finish (virtio-net's `NEEDS_CSUM` on receive): the field at
/// `csum_start + csum_offset` holds the pseudo-header sum, and the packet
/// goes up as `CHECKSUM_PARTIAL`, so a router that forwards it finishes
/// the sum instead of sending the seed on.
pub const RX_CSUM_PARTIAL: u16 = 1 << 11;

/// A bus address: bytes of a pooled packet, from `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaAddr {
    /// The packet.
    pub skb: SkbRef,
    /// Byte offset into the packet.
    pub offset: u32,
}

/// A transmit descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxDesc {
    /// Buffer to send.
    pub addr: Option<DmaAddr>,
    /// Bytes in this buffer.
    pub len: u16,
    /// `OWN`, `SOP`, `EOP`, `DD`, `TX_CSUM`, `TX_TSO`.
    pub flags: u16,
    /// Checksum start, from the start of the frame (with `TX_CSUM`).
    pub csum_start: u16,
    /// Checksum field, from `csum_start` (with `TX_CSUM`).
    pub csum_offset: u16,
    /// Segment payload size (with `TX_TSO`).
    pub mss: u16,
    /// Bytes of headers copied into every segment (with `TX_TSO`).
    pub hdr_len: u16,
}

/// A receive descriptor: the driver posts a buffer, the device writes a frame
/// into it and reports what it found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxDesc {
    /// Buffer to fill.
    pub addr: Option<DmaAddr>,
    /// Room in the buffer.
    pub buf_len: u16,
    /// `OWN`, `SOP`, `EOP`, `DD`, `RX_*` status bits.
    pub flags: u16,
    /// Bytes the device wrote into this buffer.
    pub len: u16,
    /// Segments coalesced (with `RX_RSC`, on the first descriptor).
    pub rsc_segs: u16,
    /// Their payload size (with `RX_RSC`, on the first descriptor).
    pub rsc_mss: u16,
    /// Where the checksummed bytes start, from the start of the frame
    /// (with `RX_CSUM_PARTIAL`, on the first descriptor).
    pub csum_start: u16,
    /// The checksum field, from `csum_start` (with `RX_CSUM_PARTIAL`).
    pub csum_offset: u16,
}

/// A ring of `N` descriptors with its head (device) and tail (driver) registers.
#[derive(Debug)]
pub struct Ring<D, const N: usize> {
    /// The descriptors.
    pub desc: [D; N],
    /// Next descriptor the device processes (written by the device).
    pub(crate) head: u16,
    /// One past the last descriptor the driver handed over (the doorbell).
    pub(crate) tail: u16,
}

impl<D: Copy + Default, const N: usize> Ring<D, N> {
    /// An empty ring.
    pub fn new() -> Self {
        const { assert!(N >= 2 && N <= 32_768, "a ring holds 2..=32768 descriptors") };
        Ring { desc: [D::default(); N], head: 0, tail: 0 }
    }

    /// The head register: the next descriptor the device processes.
    pub fn head(&self) -> u16 {
        self.head
    }

    /// The tail register: one past the last descriptor handed to the device.
    pub fn tail(&self) -> u16 {
        self.tail
    }

    /// Write the tail register (the doorbell). Like hardware, the register
    /// keeps only the bits that index the ring.
    pub fn set_tail(&mut self, tail: u16) {
        self.tail = (usize::from(tail) % N) as u16;
    }

    /// The index after `i`.
    pub fn next(i: u16) -> u16 {
        if usize::from(i) + 1 == N { 0 } else { i + 1 }
    }

    /// The index before `i`.
    pub fn prev(i: u16) -> u16 {
        if i == 0 { (N - 1) as u16 } else { i - 1 }
    }

    /// Descriptors between `from` and `to` going forward.
    pub fn distance(from: u16, to: u16) -> usize {
        (usize::from(to) + N - usize::from(from)) % N
    }
}

impl<D: Copy + Default, const N: usize> Default for Ring<D, N> {
    fn default() -> Self {
        Self::new()
    }
}

//! Packet captures: classic pcap and pcapng, written to any byte sink.
//!
//! Wireshark and tshark open both. Classic pcap holds one link type; pcapng
//! holds several interfaces in one file, so a simulated world can record every
//! link, one interface each, and a reader sees each packet hop by hop.
//! Timestamps are the simulation's `now`, in microseconds.

use skbnet::time::Instant;

/// Where capture bytes go: a file on a host, a buffer in a test, a UART on a board.
pub trait ByteSink {
    /// Write all of `bytes` or fail.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), SinkError>;
}

/// A sink refused bytes (full, closed, I/O error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SinkError;

impl<const N: usize> ByteSink for heapless::Vec<u8, N> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        self.extend_from_slice(bytes).map_err(|_| SinkError)
    }
}

/// A sink over any `std::io::Write` (a file, a `Vec<u8>`).
#[cfg(feature = "std")]
pub struct IoSink<W: std::io::Write>(pub W);

#[cfg(feature = "std")]
impl<W: std::io::Write> ByteSink for IoSink<W> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        self.0.write_all(bytes).map_err(|_| SinkError)
    }
}

/// Link-layer header type of captured packets (the tcpdump LINKTYPE_ values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// `LINKTYPE_ETHERNET` (1): frames start with an Ethernet header.
    Ethernet,
    /// `LINKTYPE_IPV4` (228): packets start with an IPv4 header (IP medium).
    Ipv4,
    /// `LINKTYPE_RAW` (101): packets start with an IPv4 or an IPv6 header,
    /// as on a TUN device, where Linux may send either.
    Raw,
}

impl LinkType {
    fn code(self) -> u16 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::Ipv4 => 228,
            LinkType::Raw => 101,
        }
    }
}

/// Direction of a captured packet relative to its interface (pcapng `epb_flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received by the interface's owner.
    Inbound,
    /// Sent by the interface's owner.
    Outbound,
}

/// Most bytes of one packet to keep.
pub const SNAPLEN: u32 = 262_144;

fn ts_parts(t: Instant) -> (u32, u32) {
    let us = t.micros();
    ((us / 1_000_000) as u32, (us % 1_000_000) as u32)
}

/// A classic pcap writer (microsecond timestamps, little-endian).
pub struct PcapWriter<W: ByteSink> {
    sink: W,
    errors: u32,
}

impl<W: ByteSink> PcapWriter<W> {
    /// Write the global header for `link` and return the writer.
    pub fn new(mut sink: W, link: LinkType) -> Result<Self, SinkError> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&u32::from(link.code()).to_le_bytes());
        sink.write_all(&h)?;
        Ok(PcapWriter { sink, errors: 0 })
    }

    /// Append one packet captured at `t`.
    pub fn write_packet(&mut self, t: Instant, bytes: &[u8]) -> Result<(), SinkError> {
        let kept = bytes.len().min(SNAPLEN as usize);
        let (sec, usec) = ts_parts(t);
        let mut r = [0u8; 16];
        r[0..4].copy_from_slice(&sec.to_le_bytes());
        r[4..8].copy_from_slice(&usec.to_le_bytes());
        r[8..12].copy_from_slice(&(kept as u32).to_le_bytes());
        r[12..16].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        let res = self.sink.write_all(&r).and_then(|_| self.sink.write_all(&bytes[..kept]));
        self.count(res)
    }

    /// Packets the sink refused.
    pub fn errors(&self) -> u32 {
        self.errors
    }

    /// The sink back.
    pub fn into_inner(self) -> W {
        self.sink
    }

    fn count(&mut self, res: Result<(), SinkError>) -> Result<(), SinkError> {
        if res.is_err() {
            self.errors += 1;
        }
        res
    }
}

/// A pcapng writer: one section, any number of interfaces.
pub struct PcapNgWriter<W: ByteSink> {
    sink: W,
    interfaces: u32,
    errors: u32,
}

const PAD: [u8; 4] = [0; 4];

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl<W: ByteSink> PcapNgWriter<W> {
    /// Write the section header and return the writer.
    pub fn new(mut sink: W) -> Result<Self, SinkError> {
        let mut b = [0u8; 28];
        b[0..4].copy_from_slice(&0x0a0d_0d0au32.to_le_bytes());
        b[4..8].copy_from_slice(&28u32.to_le_bytes());
        b[8..12].copy_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        b[12..14].copy_from_slice(&1u16.to_le_bytes());
        b[16..24].copy_from_slice(&(-1i64).to_le_bytes());
        b[24..28].copy_from_slice(&28u32.to_le_bytes());
        sink.write_all(&b)?;
        Ok(PcapNgWriter { sink, interfaces: 0, errors: 0 })
    }

    /// Describe a new interface (one per link) and return its id. `name`
    /// shows in Wireshark's interface column.
    pub fn add_interface(&mut self, name: &str, link: LinkType) -> Result<u32, SinkError> {
        let name = &name.as_bytes()[..name.len().min(200)];
        let opt_len = 4 + name.len() + pad4(name.len()) + 4;
        let total = 20 + opt_len;
        let mut head = [0u8; 16];
        head[0..4].copy_from_slice(&1u32.to_le_bytes());
        head[4..8].copy_from_slice(&(total as u32).to_le_bytes());
        head[8..10].copy_from_slice(&link.code().to_le_bytes());
        head[12..16].copy_from_slice(&SNAPLEN.to_le_bytes());
        let mut opt = [0u8; 4];
        opt[0..2].copy_from_slice(&2u16.to_le_bytes());
        opt[2..4].copy_from_slice(&(name.len() as u16).to_le_bytes());
        let tail = [0u8; 4];
        let res = self
            .sink
            .write_all(&head)
            .and_then(|_| self.sink.write_all(&opt))
            .and_then(|_| self.sink.write_all(name))
            .and_then(|_| self.sink.write_all(&PAD[..pad4(name.len())]))
            .and_then(|_| self.sink.write_all(&tail))
            .and_then(|_| self.sink.write_all(&(total as u32).to_le_bytes()));
        self.count(res)?;
        self.interfaces += 1;
        Ok(self.interfaces - 1)
    }

    /// Append one packet seen on interface `iface` at `t`, travelling `dir`.
    pub fn write_packet(&mut self, iface: u32, t: Instant, dir: Direction, bytes: &[u8]) -> Result<(), SinkError> {
        let kept = bytes.len().min(SNAPLEN as usize);
        let us = t.micros();
        let total = 28 + kept + pad4(kept) + 12 + 4;
        let mut head = [0u8; 28];
        head[0..4].copy_from_slice(&6u32.to_le_bytes());
        head[4..8].copy_from_slice(&(total as u32).to_le_bytes());
        head[8..12].copy_from_slice(&iface.to_le_bytes());
        head[12..16].copy_from_slice(&((us >> 32) as u32).to_le_bytes());
        head[16..20].copy_from_slice(&(us as u32).to_le_bytes());
        head[20..24].copy_from_slice(&(kept as u32).to_le_bytes());
        head[24..28].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        // epb_flags (code 2, 4 bytes): bits 0-1 are the direction.
        let flags: u32 = match dir {
            Direction::Inbound => 1,
            Direction::Outbound => 2,
        };
        let mut opts = [0u8; 12];
        opts[0..2].copy_from_slice(&2u16.to_le_bytes());
        opts[2..4].copy_from_slice(&4u16.to_le_bytes());
        opts[4..8].copy_from_slice(&flags.to_le_bytes());
        let res = self
            .sink
            .write_all(&head)
            .and_then(|_| self.sink.write_all(&bytes[..kept]))
            .and_then(|_| self.sink.write_all(&PAD[..pad4(kept)]))
            .and_then(|_| self.sink.write_all(&opts))
            .and_then(|_| self.sink.write_all(&(total as u32).to_le_bytes()));
        self.count(res)
    }

    /// Interfaces described so far.
    pub fn interfaces(&self) -> u32 {
        self.interfaces
    }

    /// Writes the sink refused.
    pub fn errors(&self) -> u32 {
        self.errors
    }

    /// The sink back.
    pub fn into_inner(self) -> W {
        self.sink
    }

    fn count(&mut self, res: Result<(), SinkError>) -> Result<(), SinkError> {
        if res.is_err() {
            self.errors += 1;
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_header_and_record_layout() {
        let sink: heapless::Vec<u8, 256> = heapless::Vec::new();
        let mut w = PcapWriter::new(sink, LinkType::Ethernet).unwrap();
        w.write_packet(Instant::from_micros(3_000_042), &[1, 2, 3]).unwrap();
        let b = w.into_inner();
        assert_eq!(&b[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&b[20..24], &[1, 0, 0, 0]);
        assert_eq!(&b[24..28], &3u32.to_le_bytes(), "seconds");
        assert_eq!(&b[28..32], &42u32.to_le_bytes(), "microseconds");
        assert_eq!(&b[32..40], &[3, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(&b[40..], &[1, 2, 3]);
    }

    #[test]
    fn pcapng_blocks_are_aligned_and_closed() {
        let sink: heapless::Vec<u8, 512> = heapless::Vec::new();
        let mut w = PcapNgWriter::new(sink).unwrap();
        assert_eq!(w.add_interface("h1-r1", LinkType::Ethernet).unwrap(), 0);
        assert_eq!(w.add_interface("tun", LinkType::Ipv4).unwrap(), 1);
        w.write_packet(1, Instant::from_micros(5), Direction::Outbound, &[0x45; 21]).unwrap();
        let b = w.into_inner();
        // Walk the blocks: each starts and ends with its total length, a multiple of 4.
        let mut off = 0;
        let mut types = Vec::new();
        while off < b.len() {
            let ty = u32::from_le_bytes(b[off..off + 4].try_into().unwrap());
            let len = u32::from_le_bytes(b[off + 4..off + 8].try_into().unwrap()) as usize;
            assert_eq!(len % 4, 0);
            assert_eq!(u32::from_le_bytes(b[off + len - 4..off + len].try_into().unwrap()) as usize, len);
            types.push(ty);
            off += len;
        }
        assert_eq!(off, b.len());
        assert_eq!(types, [0x0a0d_0d0a, 1, 1, 6]);
    }

    #[test]
    fn a_full_sink_is_counted_not_fatal() {
        let sink: heapless::Vec<u8, 40> = heapless::Vec::new();
        let mut w = PcapWriter::new(sink, LinkType::Ipv4).unwrap();
        assert!(w.write_packet(Instant::ZERO, &[0; 64]).is_err());
        assert_eq!(w.errors(), 1);
    }
}

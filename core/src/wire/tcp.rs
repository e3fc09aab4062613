//! TCP segments (RFC 9293) and their options (MSS, window scale and
//! timestamps from RFC 7323, SACK from RFC 2018): the header checks of
//! `tcp_v4_rcv`, the option parser `tcp_parse_options`, and the option
//! writer `tcp_options_write` with Linux's exact layouts.
//!
//! ```text
//!  0          2          4     8     12           13      14       16         18       20
//!  | src port | dst port | seq | ack | doff|rsvd  | flags | window | checksum | urgent | options ...
//! ```
//!
//! The view covers the whole segment (the IPv4 payload): the checksum
//! helpers sum all of it with the pseudo-header.

use core::fmt;
use core::net::Ipv4Addr;
use core::ops::{BitAnd, BitOr, BitOrAssign};

use super::checksum::{self, InetSum};
use super::{IpProtocol, WireError, be16, be32, put16, put32};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
    pub const OPTIONS: usize = 20;
}

/// Option kinds (IANA "TCP Option Kind Numbers").
mod kind {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WSCALE: u8 = 3;
    pub const SACK_PERM: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// The eight TCP flag bits of header byte 13.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TcpFlags(u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// The acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// The urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// No flag set.
    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    /// The flags of a header byte.
    pub const fn from_bits(bits: u8) -> TcpFlags {
        TcpFlags(bits)
    }

    /// The header byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True when every flag of `other` is set here.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// These flags without those of `other`.
    pub const fn without(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & !other.0)
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & rhs.0)
    }
}

impl fmt::Display for TcpFlags {
    /// As tcpdump: `[S.]` for SYN-ACK, `[P.]`, `[none]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("[none]");
        }
        f.write_str("[")?;
        for (i, c) in "FSRP.UEW".chars().enumerate() {
            if self.0 & (1 << i) != 0 {
                write!(f, "{c}")?;
            }
        }
        f.write_str("]")
    }
}

/// Up to four SACK blocks, each `(left edge, right edge)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SackBlocks {
    blocks: [(u32, u32); 4],
    len: u8,
}

impl SackBlocks {
    /// Most blocks an option can hold.
    pub const MAX: usize = 4;

    /// No blocks.
    pub const fn new() -> SackBlocks {
        SackBlocks { blocks: [(0, 0); 4], len: 0 }
    }

    /// The first (up to) four of `blocks`.
    pub fn from_slice(blocks: &[(u32, u32)]) -> SackBlocks {
        let mut s = SackBlocks::new();
        for &(l, r) in blocks.iter().take(Self::MAX) {
            s.push(l, r);
        }
        s
    }

    /// Add a block; false (and nothing added) when four are there already.
    pub fn push(&mut self, left: u32, right: u32) -> bool {
        match self.blocks.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = (left, right);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The blocks.
    pub fn as_slice(&self) -> &[(u32, u32)] {
        &self.blocks[..usize::from(self.len).min(Self::MAX)]
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One TCP option, as [`TcpPacket::options`] yields it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TcpOption {
    /// End of option list (what follows is padding).
    Eol,
    /// No operation (padding between options).
    Nop,
    /// Maximum segment size.
    Mss(u16),
    /// Window scale shift count.
    WindowScale(u8),
    /// SACK permitted.
    SackPermitted,
    /// SACK blocks.
    Sack(SackBlocks),
    /// Timestamps.
    Timestamps {
        /// Timestamp value.
        tsval: u32,
        /// Timestamp echo reply.
        tsecr: u32,
    },
    /// An option this stack does not use, skipped by its length.
    Unknown {
        /// Option kind.
        kind: u8,
        /// Option length, kind and length bytes included.
        len: u8,
    },
}

impl fmt::Display for TcpOption {
    /// As tcpdump prints it inside `options [...]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TcpOption::Eol => f.write_str("eol"),
            TcpOption::Nop => f.write_str("nop"),
            TcpOption::Mss(mss) => write!(f, "mss {mss}"),
            TcpOption::WindowScale(ws) => write!(f, "wscale {ws}"),
            TcpOption::SackPermitted => f.write_str("sackOK"),
            TcpOption::Sack(blocks) => {
                write!(f, "sack {} ", blocks.len())?;
                blocks.as_slice().iter().try_for_each(|(l, r)| write!(f, "{{{l}:{r}}}"))
            }
            TcpOption::Timestamps { tsval, tsecr } => write!(f, "TS val {tsval} ecr {tsecr}"),
            TcpOption::Unknown { kind, .. } => write!(f, "unknown-{kind}"),
        }
    }
}

/// Iterator over the options of a segment, made by [`TcpPacket::options`].
///
/// A known option with the wrong length yields [`WireError::BadOption`] and
/// the walk goes on after it; a length that is below 2 or runs past the
/// header yields [`WireError::BadOption`] and ends the walk, as
/// `tcp_parse_options` stops there. Every step consumes at least one byte,
/// so the walk ends within the option bytes.
#[derive(Clone, Debug)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptions<'a> {
    /// The options in `bytes` (a header's option area).
    pub fn new(bytes: &'a [u8]) -> TcpOptions<'a> {
        TcpOptions { rest: bytes }
    }
}

impl Iterator for TcpOptions<'_> {
    type Item = Result<TcpOption, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, after) = self.rest.split_first()?;
        match kind {
            kind::EOL => {
                self.rest = &[];
                Some(Ok(TcpOption::Eol))
            }
            kind::NOP => {
                self.rest = after;
                Some(Ok(TcpOption::Nop))
            }
            _ => {
                let len = after.first().map_or(0, |&l| usize::from(l));
                let Some((opt, rest)) = self.rest.split_at_checked(len).filter(|_| len >= 2) else {
                    self.rest = &[];
                    return Some(Err(WireError::BadOption));
                };
                self.rest = rest;
                Some(parse_option(kind, &opt[2..]))
            }
        }
    }
}

/// An option of `kind` whose bytes after kind and length are `data`.
fn parse_option(kind: u8, data: &[u8]) -> Result<TcpOption, WireError> {
    Ok(match (kind, data.len()) {
        (kind::MSS, 2) => TcpOption::Mss(be16(data, 0)),
        (kind::WSCALE, 1) => TcpOption::WindowScale(data[0]),
        (kind::SACK_PERM, 0) => TcpOption::SackPermitted,
        (kind::SACK, n) if n % 8 == 0 && (8..=32).contains(&n) => {
            let mut blocks = SackBlocks::new();
            for b in data.as_chunks::<8>().0 {
                blocks.push(be32(b, 0), be32(b, 4));
            }
            TcpOption::Sack(blocks)
        }
        (kind::TIMESTAMP, 8) => TcpOption::Timestamps { tsval: be32(data, 0), tsecr: be32(data, 4) },
        (kind::MSS | kind::WSCALE | kind::SACK_PERM | kind::SACK | kind::TIMESTAMP, _) => {
            return Err(WireError::BadOption);
        }
        (kind, n) => TcpOption::Unknown { kind, len: (n + 2) as u8 },
    })
}

/// A view of a TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Length of a header without options.
    pub const MIN_HEADER_LEN: usize = 20;

    /// A view with no validation: accessors panic on a buffer shorter than
    /// the header.
    pub const fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// A view of a validated segment.
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Check that the fixed header is there ([`WireError::Truncated`]), the
    /// data offset is at least 5 ([`WireError::BadHeaderLen`]) and the
    /// header with its options fits ([`WireError::Truncated`]).
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        if len < Self::MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.header_len() < Self::MIN_HEADER_LEN {
            return Err(WireError::BadHeaderLen);
        }
        if self.header_len() > len {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ)
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ACK)
    }

    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    /// The flags.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }

    /// Receive window (unscaled).
    pub fn window(&self) -> u16 {
        be16(self.buffer.as_ref(), field::WINDOW)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        be16(self.buffer.as_ref(), field::URGENT)
    }

    /// The raw option bytes (padding included).
    pub fn option_bytes(&self) -> &[u8] {
        self.buffer.as_ref().get(field::OPTIONS..self.header_len()).unwrap_or(&[])
    }

    /// The options, parsed one by one.
    pub fn options(&self) -> TcpOptions<'_> {
        TcpOptions::new(self.option_bytes())
    }

    /// The payload: everything after the header.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }

    /// True when the checksum over the pseudo-header and the whole segment
    /// is correct.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        self.sum(src, dst).fold() == 0xffff
    }

    fn sum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> InetSum {
        let seg = self.buffer.as_ref();
        let mut s = checksum::pseudo_header_v4(src, dst, IpProtocol::TCP, seg.len() as u16);
        s.add(seg);
        s
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Set the source port.
    pub fn set_src_port(&mut self, port: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    /// Set the destination port.
    pub fn set_dst_port(&mut self, port: u16) {
        put16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    /// Set the sequence number.
    pub fn set_seq_number(&mut self, seq: u32) {
        put32(self.buffer.as_mut(), field::SEQ, seq);
    }

    /// Set the acknowledgment number.
    pub fn set_ack_number(&mut self, ack: u32) {
        put32(self.buffer.as_mut(), field::ACK, ack);
    }

    /// Set the header length in bytes (a multiple of 4 from 20 to 60); the
    /// reserved bits are kept.
    pub fn set_header_len(&mut self, len: usize) {
        let b = &mut self.buffer.as_mut()[field::DATA_OFF];
        *b = ((len / 4) as u8) << 4 | (*b & 0x0f);
    }

    /// Set the flags.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.0;
    }

    /// Set the window.
    pub fn set_window(&mut self, window: u16) {
        put16(self.buffer.as_mut(), field::WINDOW, window);
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, csum: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, csum);
    }

    /// Set the urgent pointer.
    pub fn set_urgent(&mut self, urgent: u16) {
        put16(self.buffer.as_mut(), field::URGENT, urgent);
    }

    /// The option bytes, for writing.
    pub fn option_bytes_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        self.buffer.as_mut().get_mut(field::OPTIONS..end).unwrap_or(&mut [])
    }

    /// The payload, for writing.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        self.buffer.as_mut().get_mut(start..).unwrap_or(&mut [])
    }

    /// Compute and store the checksum over the pseudo-header and the
    /// whole segment.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let csum = self.sum(src, dst).finish();
        self.set_checksum(csum);
    }
}

impl<T: AsRef<[u8]>> fmt::Display for TcpPacket<T> {
    /// `sport > dport: ` and the rest as tcpdump prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::pretty::tcp(f, None, self.buffer.as_ref())
    }
}

/// TCP options to write, in Linux's layout (`tcp_options_write`).
///
/// | segment | layout | bytes |
/// | --- | --- | --- |
/// | SYN with timestamps | `mss, sackOK, TS, nop, wscale` | 20 |
/// | SYN without timestamps | `mss, nop, nop, sackOK, nop, wscale` | 12 |
/// | data | `nop, nop, TS` | 12 |
/// | data with SACK | `nop, nop, TS, nop, nop, sack` | 12 + 4 + 8n |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TcpOptionsRepr {
    /// Maximum segment size (SYN only).
    pub mss: Option<u16>,
    /// Window scale shift (SYN only).
    pub window_scale: Option<u8>,
    /// SACK permitted (SYN only).
    pub sack_permitted: bool,
    /// `(tsval, tsecr)`.
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks; as many are written as fit in 40 bytes.
    pub sack: SackBlocks,
}

impl TcpOptionsRepr {
    /// Most option bytes a header holds.
    pub const MAX_LEN: usize = 40;

    /// What the options of a segment say, as `tcp_parse_options` reads
    /// them: malformed options are ignored, a later option of a kind
    /// overrides an earlier one.
    pub fn parse(options: TcpOptions<'_>) -> TcpOptionsRepr {
        let mut r = TcpOptionsRepr::default();
        for opt in options.flatten() {
            match opt {
                TcpOption::Mss(mss) => r.mss = Some(mss),
                TcpOption::WindowScale(ws) => r.window_scale = Some(ws),
                TcpOption::SackPermitted => r.sack_permitted = true,
                TcpOption::Sack(blocks) => r.sack = blocks,
                TcpOption::Timestamps { tsval, tsecr } => r.timestamps = Some((tsval, tsecr)),
                TcpOption::Eol | TcpOption::Nop | TcpOption::Unknown { .. } => {}
            }
        }
        r
    }

    /// Bytes of everything but the SACK blocks.
    fn fixed_len(&self) -> usize {
        let mss = if self.mss.is_some() { 4 } else { 0 };
        let ts_or_sackok = match (self.timestamps, self.sack_permitted) {
            (Some(_), _) => 12,
            (None, true) => 4,
            (None, false) => 0,
        };
        let ws = if self.window_scale.is_some() { 4 } else { 0 };
        mss + ts_or_sackok + ws
    }

    /// SACK blocks that fit after the other options (`tcp_established_options`).
    fn sack_blocks(&self) -> &[(u32, u32)] {
        let room = Self::MAX_LEN.saturating_sub(self.fixed_len() + 4) / 8;
        let blocks = self.sack.as_slice();
        &blocks[..blocks.len().min(room)]
    }

    /// Bytes the options take (a multiple of 4, at most 40).
    pub fn len(&self) -> usize {
        let sack = self.sack_blocks().len();
        self.fixed_len() + if sack > 0 { 4 + 8 * sack } else { 0 }
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Write the options at the start of `buf`; returns their length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.len();
        let mut w = Cursor { buf: buf.get_mut(..len).ok_or(WireError::Truncated)?, at: 0 };
        if let Some(mss) = self.mss {
            w.put(&[kind::MSS, 4]);
            w.put(&mss.to_be_bytes());
        }
        match (self.timestamps, self.sack_permitted) {
            (Some((tsval, tsecr)), sack_ok) => {
                let head = if sack_ok { [kind::SACK_PERM, 2] } else { [kind::NOP, kind::NOP] };
                w.put(&head);
                w.put(&[kind::TIMESTAMP, 10]);
                w.put(&tsval.to_be_bytes());
                w.put(&tsecr.to_be_bytes());
            }
            (None, true) => w.put(&[kind::NOP, kind::NOP, kind::SACK_PERM, 2]),
            (None, false) => {}
        }
        if let Some(ws) = self.window_scale {
            w.put(&[kind::NOP, kind::WSCALE, 3, ws]);
        }
        let blocks = self.sack_blocks();
        if !blocks.is_empty() {
            w.put(&[kind::NOP, kind::NOP, kind::SACK, 2 + 8 * blocks.len() as u8]);
            for &(left, right) in blocks {
                w.put(&left.to_be_bytes());
                w.put(&right.to_be_bytes());
            }
        }
        Ok(len)
    }
}

/// Sequential writes into a buffer sized beforehand.
struct Cursor<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }
}

/// A TCP segment to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Window (unscaled).
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Options.
    pub options: TcpOptionsRepr,
    /// Payload.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// The fields of a checked segment (options as [`TcpOptionsRepr::parse`]
    /// reads them).
    pub fn parse<T: AsRef<[u8]>>(p: &'a TcpPacket<T>) -> TcpRepr<'a> {
        TcpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq: p.seq_number(),
            ack: p.ack_number(),
            flags: p.flags(),
            window: p.window(),
            urgent: p.urgent(),
            options: TcpOptionsRepr::parse(p.options()),
            payload: p.payload(),
        }
    }

    /// Header bytes, options included.
    pub fn header_len(&self) -> usize {
        TcpPacket::<&[u8]>::MIN_HEADER_LEN + self.options.len()
    }

    /// Bytes of the whole segment.
    pub fn len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Never true: a segment has at least its header. Present for clippy's
    /// `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Write the segment with its checksum for these addresses at the start
    /// of `buf`; returns its length. [`WireError::BadLength`] past 65535
    /// bytes.
    pub fn emit(&self, buf: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<usize, WireError> {
        if self.len() > usize::from(u16::MAX) {
            return Err(WireError::BadLength);
        }
        let b = buf.get_mut(..self.len()).ok_or(WireError::Truncated)?;
        b[..field::OPTIONS].fill(0);
        let mut p = TcpPacket::new_unchecked(b);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_seq_number(self.seq);
        p.set_ack_number(self.ack);
        p.set_header_len(self.header_len());
        p.set_flags(self.flags);
        p.set_window(self.window);
        p.set_urgent(self.urgent);
        self.options.emit(p.option_bytes_mut())?;
        p.payload_mut().copy_from_slice(self.payload);
        p.fill_checksum(src, dst);
        Ok(self.len())
    }
}

#[cfg(test)]
mod tests;

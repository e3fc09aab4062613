//! IPv4 headers (RFC 791): the checks of `ip_rcv_core`, the fields
//! `ip_local_deliver`, `ip_forward` and the fragment code read and write,
//! and the header `ip_build_and_send_pkt` / `__ip_queue_xmit` emit.
//!
//! ```text
//!  0        1          2            4       6              8     9      10     12    16    20
//!  | v|ihl  | dscp|ecn | total len  | ident | flags|offset | ttl | proto | csum | src | dst | options
//! ```
//!
//! Options are not interpreted; [`Ipv4Packet::options`] gives their bytes
//! intact. The payload ends at the total length, so Ethernet padding after
//! a short packet is excluded.

use core::net::Ipv4Addr;

use super::checksum::{self, InetSum};
use super::{IpProtocol, WireError, be16, ipv4_at, put16};

mod field {
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const TOTAL_LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

const DF: u16 = 0x4000;
const MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
///
/// Once [`Self::new_checked`] or [`Self::new_quoted`] succeeded, no accessor
/// panics; [`Self::payload`] and [`Self::options`] clamp to the bytes present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Length of a header without options.
    pub const MIN_HEADER_LEN: usize = 20;

    /// A view with no validation: accessors panic on a buffer shorter than
    /// the header.
    pub const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// A view of a packet that passes [`Self::check_len`].
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// A view of the header quoted inside an ICMP error (RFC 792: the header
    /// and the first 8 bytes of the payload): validated like
    /// [`Self::check_len`] but the total length may exceed the bytes present.
    pub fn new_quoted(buffer: T) -> Result<Ipv4Packet<T>, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_header()?;
        Ok(p)
    }

    //= https://www.rfc-editor.org/rfc/rfc1812#section-5.2.2
    //# (1) The packet length reported by the Link Layer must be large enough
    //# to hold the minimum length legal IP datagram (20 bytes).
    //# (3) The IP version number must be 4.
    //# (4) The IP header length field must be large enough to hold the
    //# minimum length legal IP datagram (20 bytes = 5 words).
    //# (5) The IP total length field must be large enough to hold the IP
    //# datagram header, whose length is specified in the IP header length
    //# field.
    /// Validate as `ip_rcv_core` does: at least 20 bytes
    /// ([`WireError::Truncated`]), version 4 ([`WireError::BadVersion`]), IHL
    /// at least 5 ([`WireError::BadHeaderLen`]), the header present
    /// ([`WireError::Truncated`]), total length at least the header
    /// ([`WireError::BadTotalLen`], `InHdrErrors`) and at most the buffer
    /// ([`WireError::Truncated`], `InTruncatedPkts`). The checksum is not
    /// verified here: see [`Self::verify_checksum`].
    pub fn check_len(&self) -> Result<(), WireError> {
        self.check_header()?;
        let total = usize::from(self.total_len());
        if total < self.header_len() {
            return Err(WireError::BadTotalLen);
        }
        if total > self.buffer.as_ref().len() {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// The header checks shared by both constructors.
    fn check_header(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        if b.len() < Self::MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 4 {
            return Err(WireError::BadVersion);
        }
        if self.header_len() < Self::MIN_HEADER_LEN {
            return Err(WireError::BadHeaderLen);
        }
        if self.header_len() > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole buffer (header, payload and whatever follows it).
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Version (4 once checked).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Differentiated services code point.
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Explicit congestion notification bits.
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Total length of header and payload.
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::TOTAL_LEN)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }

    /// The don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLAGS_FRAG) & DF != 0
    }

    /// The more-fragments flag.
    pub fn more_frags(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLAGS_FRAG) & MF != 0
    }

    /// Fragment offset in bytes (the field times 8).
    pub fn frag_offset(&self) -> u16 {
        (be16(self.buffer.as_ref(), field::FLAGS_FRAG) & OFFSET_MASK) * 8
    }

    /// True for any fragment: more fragments follow or the offset is not 0
    /// (`ip_is_fragment`).
    pub fn is_fragment(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLAGS_FRAG) & (MF | OFFSET_MASK) != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The protocol of the payload.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    pub fn src(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), field::SRC)
    }

    /// Destination address.
    pub fn dst(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), field::DST)
    }

    /// The option bytes, as they are (empty for a 20-byte header).
    pub fn options(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(Self::MIN_HEADER_LEN..self.header_len()).unwrap_or(&[])
    }

    /// The payload: from the end of the header to the total length, or to
    /// the end of the buffer if that comes first (a quoted header).
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let (start, end) = self.payload_range();
        b.get(start..end).unwrap_or(&[])
    }

    /// Payload bounds, clamped to the buffer.
    fn payload_range(&self) -> (usize, usize) {
        let len = self.buffer.as_ref().len();
        let start = self.header_len().min(len);
        let end = usize::from(self.total_len()).clamp(start, len);
        (start, end)
    }

    /// The header bytes (fixed part and options).
    fn header(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(..self.header_len()).unwrap_or(b)
    }

    //= https://www.rfc-editor.org/rfc/rfc791#section-3.1
    //# The checksum field is the 16 bit one's complement of the one's
    //# complement sum of all 16 bit words in the header.
    /// True when the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.header()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Set version and header length (bytes, a multiple of 4 from 20 to 60).
    pub fn set_version_and_header_len(&mut self, version: u8, header_len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = version << 4 | ((header_len / 4) as u8 & 0x0f);
    }

    /// Set the DSCP (6 bits).
    pub fn set_dscp(&mut self, dscp: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = dscp << 2 | (*b & 0x03);
    }

    /// Set the ECN bits (2 bits).
    pub fn set_ecn(&mut self, ecn: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & !0x03) | (ecn & 0x03);
    }

    /// Set the total length.
    pub fn set_total_len(&mut self, len: u16) {
        put16(self.buffer.as_mut(), field::TOTAL_LEN, len);
    }

    /// Set the identification.
    pub fn set_ident(&mut self, ident: u16) {
        put16(self.buffer.as_mut(), field::IDENT, ident);
    }

    /// Set or clear don't-fragment.
    pub fn set_dont_frag(&mut self, on: bool) {
        self.set_flag(DF, on);
    }

    /// Set or clear more-fragments.
    pub fn set_more_frags(&mut self, on: bool) {
        self.set_flag(MF, on);
    }

    /// Set the fragment offset in bytes (a multiple of 8; the rest is dropped).
    pub fn set_frag_offset(&mut self, offset: u16) {
        let b = self.buffer.as_mut();
        let flags = be16(b, field::FLAGS_FRAG) & !OFFSET_MASK;
        put16(b, field::FLAGS_FRAG, flags | (offset / 8));
    }

    fn set_flag(&mut self, bit: u16, on: bool) {
        let b = self.buffer.as_mut();
        let v = be16(b, field::FLAGS_FRAG);
        put16(b, field::FLAGS_FRAG, if on { v | bit } else { v & !bit });
    }

    /// Set the time to live.
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Set the protocol.
    pub fn set_protocol(&mut self, protocol: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol.0;
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, csum: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, csum);
    }

    /// Set the source address.
    pub fn set_src(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC..field::SRC + 4].copy_from_slice(&addr.octets());
    }

    /// Set the destination address.
    pub fn set_dst(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST..field::DST + 4].copy_from_slice(&addr.octets());
    }

    /// The option bytes, for writing.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        self.buffer.as_mut().get_mut(Self::MIN_HEADER_LEN..end).unwrap_or(&mut [])
    }

    /// The payload (bounded as [`Self::payload`]), for writing.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = self.payload_range();
        self.buffer.as_mut().get_mut(start..end).unwrap_or(&mut [])
    }

    /// Recompute the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let csum = checksum::checksum(self.header());
        self.set_checksum(csum);
    }

    //= https://www.rfc-editor.org/rfc/rfc1624#section-3
    //# HC' = ~(~HC + ~m + m')
    /// Decrement the TTL by one and update the checksum incrementally, as
    /// `ip_decrease_ttl` does when forwarding. The caller checked TTL > 1.
    pub fn dec_ttl(&mut self) {
        let old = be16(self.buffer.as_ref(), field::TTL);
        let ttl = self.ttl().wrapping_sub(1);
        self.set_ttl(ttl);
        let new = be16(self.buffer.as_ref(), field::TTL);
        let csum = checksum::update_u16(self.checksum(), old, new);
        self.set_checksum(csum);
    }
}

impl<T: AsRef<[u8]>> core::fmt::Display for Ipv4Packet<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&super::pretty::Packet(self.buffer.as_ref()), f)
    }
}

/// An IPv4 header without options, to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Payload protocol.
    pub protocol: IpProtocol,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub ident: u16,
    /// Don't fragment.
    pub dont_frag: bool,
    /// Payload length in bytes (total length minus 20).
    pub payload_len: u16,
    /// DSCP (6 bits).
    pub dscp: u8,
    /// ECN (2 bits).
    pub ecn: u8,
}

impl Ipv4Repr {
    /// Length of the header this writes.
    pub const HEADER_LEN: usize = 20;

    /// The fields of a checked packet (options and fragment fields aside).
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) -> Ipv4Repr {
        Ipv4Repr {
            src: p.src(),
            dst: p.dst(),
            protocol: p.protocol(),
            ttl: p.ttl(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
            payload_len: p.payload().len() as u16,
            dscp: p.dscp(),
            ecn: p.ecn(),
        }
    }

    /// Write a complete 20-byte header with its checksum at the start of
    /// `buf`; returns 20. [`WireError::BadTotalLen`] if the total length
    /// would pass 65535.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let total = self.payload_len.checked_add(Self::HEADER_LEN as u16).ok_or(WireError::BadTotalLen)?;
        let b = buf.get_mut(..Self::HEADER_LEN).ok_or(WireError::Truncated)?;
        b.fill(0);
        let mut p = Ipv4Packet::new_unchecked(b);
        p.set_version_and_header_len(4, Self::HEADER_LEN);
        p.set_dscp(self.dscp);
        p.set_ecn(self.ecn);
        p.set_total_len(total);
        p.set_ident(self.ident);
        p.set_dont_frag(self.dont_frag);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src(self.src);
        p.set_dst(self.dst);
        p.fill_checksum();
        Ok(Self::HEADER_LEN)
    }

    /// The pseudo-header sum for the payload's TCP or UDP checksum.
    pub fn pseudo_header(&self) -> InetSum {
        checksum::pseudo_header_v4(self.src, self.dst, self.protocol, self.payload_len)
    }
}

#[cfg(test)]
mod tests;

//! UDP datagrams (RFC 768): the length and checksum checks of
//! `__udp4_lib_rcv` and the header `udp_send_skb` writes.
//!
//! ```text
//!  0          2          4        6          8
//!  | src port | dst port | length | checksum | payload ...
//! ```

use core::net::Ipv4Addr;

use super::checksum::{self, InetSum};
use super::{IpProtocol, WireError, be16, put16};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// A view of a UDP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Length of the header.
    pub const HEADER_LEN: usize = 8;

    /// A view with no validation: accessors panic on a buffer shorter than
    /// the header or than the length field.
    pub const fn new_unchecked(buffer: T) -> UdpPacket<T> {
        UdpPacket { buffer }
    }

    /// A view of a validated datagram.
    pub fn new_checked(buffer: T) -> Result<UdpPacket<T>, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Check that the header is there ([`WireError::Truncated`]), that the
    /// length field covers it ([`WireError::BadLength`]) and that the buffer
    /// holds that many bytes ([`WireError::Truncated`]). Bytes past the
    /// length field are ignored, as `pskb_trim_rcsum` drops them.
    pub fn check_len(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        if b.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = usize::from(self.len());
        if len < Self::HEADER_LEN {
            return Err(WireError::BadLength);
        }
        if len > b.len() {
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

    /// The length field: header plus payload.
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    /// True when the length field says there is no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= Self::HEADER_LEN
    }

    /// The checksum field (0: the sender computed none).
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The payload, up to the length field.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(Self::HEADER_LEN..self.end()).unwrap_or(&[])
    }

    /// The datagram's bytes, header included, up to the length field.
    fn datagram(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(..self.end()).unwrap_or(b)
    }

    fn end(&self) -> usize {
        usize::from(self.len()).clamp(Self::HEADER_LEN, self.buffer.as_ref().len())
    }

    //= https://www.rfc-editor.org/rfc/rfc768
    //# An all zero transmitted checksum value means that the transmitter
    //# generated no checksum
    /// True when the checksum is correct for these addresses, or absent (0).
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        self.sum(src, dst).fold() == 0xffff
    }

    /// Pseudo-header and datagram summed.
    fn sum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> InetSum {
        let data = self.datagram();
        let mut s = checksum::pseudo_header_v4(src, dst, IpProtocol::UDP, data.len() as u16);
        s.add(data);
        s
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Set the source port.
    pub fn set_src_port(&mut self, port: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    /// Set the destination port.
    pub fn set_dst_port(&mut self, port: u16) {
        put16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    /// Set the length field.
    pub fn set_len(&mut self, len: u16) {
        put16(self.buffer.as_mut(), field::LENGTH, len);
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, csum: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, csum);
    }

    /// The payload (up to the length field), for writing.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.end();
        self.buffer.as_mut().get_mut(Self::HEADER_LEN..end).unwrap_or(&mut [])
    }

    //= https://www.rfc-editor.org/rfc/rfc768
    //# If the computed checksum is zero, it is transmitted as all ones
    /// Compute and store the checksum over the pseudo-header and the
    /// datagram (up to the length field).
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let csum = match self.sum(src, dst).finish() {
            0 => 0xffff,
            c => c,
        };
        self.set_checksum(csum);
    }
}

/// A UDP datagram to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload.
    pub payload: &'a [u8],
}

impl UdpRepr<'_> {
    /// Bytes the datagram takes.
    pub fn len(&self) -> usize {
        UdpPacket::<&[u8]>::HEADER_LEN + self.payload.len()
    }

    /// True when the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// Write header, payload and checksum for these addresses at the start
    /// of `buf`; returns the datagram's length. [`WireError::BadLength`] if
    /// it would pass 65535 bytes.
    pub fn emit(&self, buf: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<usize, WireError> {
        let len = u16::try_from(self.len()).map_err(|_| WireError::BadLength)?;
        let b = buf.get_mut(..self.len()).ok_or(WireError::Truncated)?;
        let mut p = UdpPacket::new_unchecked(b);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(len);
        p.payload_mut().copy_from_slice(self.payload);
        p.fill_checksum(src, dst);
        Ok(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn datagram() -> [u8; 12] {
        let mut b = [0x13, 0x88, 0x00, 0x07, 0x00, 0x0c, 0, 0, b'p', b'i', b'n', b'g'];
        UdpPacket::new_unchecked(&mut b[..]).fill_checksum(SRC, DST);
        b
    }

    #[test]
    fn fields_and_checksum() {
        let b = datagram();
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.len(), p.is_empty()), (5000, 7, 12, false));
        assert_eq!(p.payload(), b"ping");
        // 0a00+0001+0a00+0002+0011+000c (pseudo) + 1388+0007+000c + 7069+6e67 = 0x1068b -> 068c
        assert_eq!(p.checksum(), !0x068c);
        assert!(p.verify_checksum(SRC, DST));
        assert!(!p.verify_checksum(SRC, Ipv4Addr::new(10, 0, 0, 3)));
        let mut z = b;
        z[6..8].fill(0);
        assert!(UdpPacket::new_checked(&z[..]).unwrap().verify_checksum(SRC, Ipv4Addr::BROADCAST), "0 = none");
    }

    #[test]
    fn length_errors() {
        let b = datagram();
        assert_eq!(UdpPacket::new_checked(&b[..7]).err(), Some(WireError::Truncated));
        assert_eq!(UdpPacket::new_checked(&b[..11]).err(), Some(WireError::Truncated));
        let mut short = b;
        short[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(UdpPacket::new_checked(&short[..]).err(), Some(WireError::BadLength));
        let mut trimmed = b;
        trimmed[4..6].copy_from_slice(&10u16.to_be_bytes());
        let p = UdpPacket::new_checked(&trimmed[..]).unwrap();
        assert_eq!(p.payload(), b"pi", "bytes past the length field are not payload");
        let empty = UdpPacket::new_checked(&[0, 1, 0, 2, 0, 8, 0, 0][..]).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.payload(), &[] as &[u8]);
    }

    #[test]
    fn zero_sum_goes_out_as_ffff() {
        // Ports chosen so the whole sum is 0xffff with the field at 0.
        let (src, dst) = (Ipv4Addr::new(0, 0, 0, 0), Ipv4Addr::new(0, 0, 0, 0));
        // pseudo: 0x11 + 8 = 0x19; header: ports + len 8 -> choose src port = 0xffff - 0x19 - 8.
        let mut b = [0u8; 8];
        let mut p = UdpPacket::new_unchecked(&mut b[..]);
        p.set_src_port(0xffff - 0x19 - 8);
        p.set_len(8);
        p.fill_checksum(src, dst);
        assert_eq!(p.checksum(), 0xffff);
        assert!(p.verify_checksum(src, dst));
    }

    #[test]
    fn repr_emits_what_the_view_reads() {
        let r = UdpRepr { src_port: 5000, dst_port: 7, payload: b"ping" };
        let mut out = [0u8; 16];
        assert_eq!(r.emit(&mut out, SRC, DST), Ok(12));
        assert_eq!(out[..12], datagram());
        assert_eq!(r.emit(&mut out[..11], SRC, DST), Err(WireError::Truncated));
        let big = std::vec![0u8; 65528];
        let r = UdpRepr { payload: &big, ..r };
        let mut out = std::vec![0u8; 65536];
        assert_eq!(r.emit(&mut out, SRC, DST), Err(WireError::BadLength));
        assert!(!r.is_empty() && r.len() == 65536);
    }
}

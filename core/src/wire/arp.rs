//! ARP packets for IPv4 over Ethernet (RFC 826), the only kind `arp_rcv`
//! in `net/ipv4/arp.c` acts on for us. Other hardware or protocol types are
//! refused as [`WireError::Unsupported`].
//!
//! ```text
//!  0      2      4    5    6    8     14    18    24    28
//!  | htype | ptype | hlen | plen | op | sha | spa | tha | tpa |
//! ```

use core::fmt;
use core::net::Ipv4Addr;

use super::{EtherType, MacAddr, WireError, be16, ipv4_at, put16};

mod field {
    use core::ops::Range;

    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: usize = 14;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: usize = 24;
}

/// ARP hardware type of Ethernet.
const HTYPE_ETHERNET: u16 = 1;

/// An ARP operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ArpOp {
    /// Who has this address? (1)
    Request,
    /// This address is at... (2)
    Reply,
    /// Any other code.
    Other(u16),
}

impl ArpOp {
    /// The operation of a code.
    pub fn from_code(code: u16) -> ArpOp {
        match code {
            1 => ArpOp::Request,
            2 => ArpOp::Reply,
            n => ArpOp::Other(n),
        }
    }

    /// The code on the wire.
    pub fn code(self) -> u16 {
        match self {
            ArpOp::Request => 1,
            ArpOp::Reply => 2,
            ArpOp::Other(n) => n,
        }
    }
}

/// A view of an Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Length of an Ethernet/IPv4 ARP packet.
    pub const LEN: usize = 28;

    /// A view with no validation: accessors panic on a buffer shorter than
    /// [`Self::LEN`].
    pub const fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// A view of a validated packet.
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Check that this is Ethernet/IPv4 ARP ([`WireError::Unsupported`]
    /// otherwise) and that all 28 bytes are there ([`WireError::Truncated`]).
    pub fn check_len(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        if b.len() < field::OPER {
            return Err(WireError::Truncated);
        }
        let eth_ipv4 = be16(b, field::HTYPE) == HTYPE_ETHERNET
            && be16(b, field::PTYPE) == EtherType::IPV4.0
            && b[field::HLEN] == 6
            && b[field::PLEN] == 4;
        if !eth_ipv4 {
            return Err(WireError::Unsupported);
        }
        if b.len() < Self::LEN {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type (1 for Ethernet once checked).
    pub fn hardware_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type ([`EtherType::IPV4`] once checked).
    pub fn protocol_type(&self) -> EtherType {
        EtherType(be16(self.buffer.as_ref(), field::PTYPE))
    }

    /// The operation.
    pub fn operation(&self) -> ArpOp {
        ArpOp::from_code(be16(self.buffer.as_ref(), field::OPER))
    }

    /// Sender hardware address.
    pub fn sender_hw(&self) -> MacAddr {
        MacAddr(self.buffer.as_ref()[field::SHA].try_into().unwrap_or_default())
    }

    /// Sender protocol address.
    pub fn sender_ip(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), field::SPA)
    }

    /// Target hardware address.
    pub fn target_hw(&self) -> MacAddr {
        MacAddr(self.buffer.as_ref()[field::THA].try_into().unwrap_or_default())
    }

    /// Target protocol address.
    pub fn target_ip(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Write the Ethernet/IPv4 constants (htype, ptype, hlen, plen).
    pub fn set_eth_ipv4(&mut self) {
        let b = self.buffer.as_mut();
        put16(b, field::HTYPE, HTYPE_ETHERNET);
        put16(b, field::PTYPE, EtherType::IPV4.0);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
    }

    /// Set the operation.
    pub fn set_operation(&mut self, op: ArpOp) {
        put16(self.buffer.as_mut(), field::OPER, op.code());
    }

    /// Set the sender hardware address.
    pub fn set_sender_hw(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&addr.0);
    }

    /// Set the sender protocol address.
    pub fn set_sender_ip(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA..field::SPA + 4].copy_from_slice(&addr.octets());
    }

    /// Set the target hardware address.
    pub fn set_target_hw(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&addr.0);
    }

    /// Set the target protocol address.
    pub fn set_target_ip(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA..field::TPA + 4].copy_from_slice(&addr.octets());
    }
}

impl<T: AsRef<[u8]>> fmt::Display for ArpPacket<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::pretty::arp(f, self.buffer.as_ref())
    }
}

/// An Ethernet/IPv4 ARP packet to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpRepr {
    /// Operation.
    pub op: ArpOp,
    /// Sender hardware address.
    pub sender_hw: MacAddr,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address ([`MacAddr::ZERO`] in a request).
    pub target_hw: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// The fields of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &ArpPacket<T>) -> ArpRepr {
        ArpRepr {
            op: p.operation(),
            sender_hw: p.sender_hw(),
            sender_ip: p.sender_ip(),
            target_hw: p.target_hw(),
            target_ip: p.target_ip(),
        }
    }

    /// Write the 28 bytes at the start of `buf`; returns their count.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let b = buf.get_mut(..ArpPacket::<&[u8]>::LEN).ok_or(WireError::Truncated)?;
        let mut p = ArpPacket::new_unchecked(b);
        p.set_eth_ipv4();
        p.set_operation(self.op);
        p.set_sender_hw(self.sender_hw);
        p.set_sender_ip(self.sender_ip);
        p.set_target_hw(self.target_hw);
        p.set_target_ip(self.target_ip);
        Ok(ArpPacket::<&[u8]>::LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10, 0, 0, 1, 0, 0, 0, 0, 0,
        0, 10, 0, 0, 2,
    ];

    #[test]
    fn request_fields() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!((p.hardware_type(), p.protocol_type(), p.operation()), (1, EtherType::IPV4, ArpOp::Request));
        assert_eq!((p.sender_hw(), p.sender_ip()), (MacAddr([2, 0, 0, 0, 0, 1]), Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!((p.target_hw(), p.target_ip()), (MacAddr::ZERO, Ipv4Addr::new(10, 0, 0, 2)));
    }

    #[test]
    fn errors() {
        assert_eq!(ArpPacket::new_checked(&REQUEST[..5]).err(), Some(WireError::Truncated));
        assert_eq!(ArpPacket::new_checked(&REQUEST[..27]).err(), Some(WireError::Truncated));
        for (at, v) in [(1, 6), (3, 0xdd), (4, 8), (5, 16)] {
            let mut b = REQUEST;
            b[at] = v;
            assert_eq!(ArpPacket::new_checked(&b[..]).err(), Some(WireError::Unsupported), "byte {at}");
        }
        let mut padded = [0u8; 46];
        padded[..28].copy_from_slice(&REQUEST);
        assert!(ArpPacket::new_checked(&padded[..]).is_ok(), "Ethernet padding is fine");
    }

    #[test]
    fn ops() {
        for (code, op) in [(1, ArpOp::Request), (2, ArpOp::Reply), (3, ArpOp::Other(3))] {
            assert_eq!((ArpOp::from_code(code), op.code()), (op, code));
        }
    }

    #[test]
    fn repr_round_trip_and_setters() {
        let r = ArpRepr::parse(&ArpPacket::new_checked(&REQUEST[..]).unwrap());
        let mut out = [0xffu8; 28];
        assert_eq!(r.emit(&mut out), Ok(28));
        assert_eq!(out, REQUEST);
        assert_eq!(r.emit(&mut out[..27]), Err(WireError::Truncated));
        let reply = ArpRepr {
            op: ArpOp::Reply,
            sender_hw: MacAddr([2, 0, 0, 0, 0, 2]),
            sender_ip: r.target_ip,
            target_hw: r.sender_hw,
            target_ip: r.sender_ip,
        };
        reply.emit(&mut out).unwrap();
        assert_eq!(&out[6..8], &[0, 2]);
        assert_eq!(&out[8..18], &[2, 0, 0, 0, 0, 2, 10, 0, 0, 2]);
        assert_eq!(&out[18..28], &[2, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
        assert_eq!(ArpRepr::parse(&ArpPacket::new_checked(&out[..]).unwrap()), reply);
    }
}

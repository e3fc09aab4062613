//! Zero-copy views of the packet formats the stack speaks (Ethernet II with
//! 802.1Q, ARP, IPv4, ICMPv4, UDP, TCP and its options) and the Internet
//! checksum they share.
//!
//! This is the part of Linux that lives in `include/uapi/linux/{if_ether,
//! if_arp,ip,icmp,udp,tcp}.h` and `include/net/checksum.h` with
//! `lib/checksum.c`: header layouts, field accessors and checksum helpers,
//! used in place on the bytes of an sk_buff by every layer above.
//!
//! # Views
//!
//! Each protocol has a view, such as [`Ipv4Packet<T>`], over any
//! `T: AsRef<[u8]>` (and `AsMut<[u8]>` for the setters). Build one with
//! `new_checked`, which validates everything the accessors rely on and says
//! what is wrong with a [`WireError`]; after it succeeded, **no accessor can
//! panic, whatever the bytes**. `new_unchecked` skips the validation for
//! bytes the caller built itself (its accessors may panic on a short
//! buffer). Setters write the field in place and leave checksums alone;
//! `fill_checksum` recomputes them, and the [`checksum`] module updates them
//! incrementally.
//!
//! The plain "Repr" structs ([`Ipv4Repr`], [`TcpRepr`], ...) build whole
//! headers from values. They are for tests and control paths (ARP replies,
//! ICMP errors, SYN-ACKs); the fast path reads and writes bytes in place.
//!
//! # Printing
//!
//! [`pretty::Frame`] and [`pretty::Packet`] print a frame or an IPv4 packet
//! on one line the way tcpdump does, and never panic on garbage.

mod arp;
pub mod checksum;
mod ethernet;
mod icmpv4;
mod ipv4;
pub mod pretty;
mod tcp;
mod udp;

pub use arp::{ArpOp, ArpPacket, ArpRepr};
pub use checksum::InetSum;
pub use ethernet::{EthernetFrame, EthernetRepr, VlanTag};
pub use icmpv4::{DstUnreachable, Icmpv4Packet, Icmpv4Repr, Icmpv4Type, TimeExceeded};
pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use tcp::{SackBlocks, TcpFlags, TcpOption, TcpOptions, TcpOptionsRepr, TcpPacket, TcpRepr};
pub use udp::{UdpPacket, UdpRepr};

use core::fmt;

/// What is wrong with a packet's bytes. Each variant maps onto a drop
/// reason, so counters can say why a packet went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WireError {
    /// The buffer is shorter than the header, or than a length field says
    /// (IPv4: `InTruncatedPkts`).
    Truncated,
    /// The IP version field is not 4.
    BadVersion,
    /// A header-length field (IPv4 IHL, TCP data offset) is below the minimum.
    BadHeaderLen,
    /// The IPv4 total length is smaller than the header (`InHdrErrors`).
    BadTotalLen,
    /// A length field other than IPv4's is inconsistent (UDP length below 8).
    BadLength,
    /// A TCP option has an impossible length.
    BadOption,
    /// A valid packet of a kind this stack does not handle (an ARP packet
    /// that is not Ethernet/IPv4, an ICMP message with no quoted header).
    Unsupported,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireError::Truncated => "truncated",
            WireError::BadVersion => "bad IP version",
            WireError::BadHeaderLen => "bad header length",
            WireError::BadTotalLen => "bad IP total length",
            WireError::BadLength => "bad length field",
            WireError::BadOption => "bad option",
            WireError::Unsupported => "unsupported",
        })
    }
}

impl core::error::Error for WireError {}

/// An EtherType (IEEE 802), host order. Open-ended: any value is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EtherType(pub u16);

impl EtherType {
    /// Internet Protocol version 4.
    pub const IPV4: EtherType = EtherType(0x0800);
    /// Address Resolution Protocol.
    pub const ARP: EtherType = EtherType(0x0806);
    /// IEEE 802.1Q VLAN tag.
    pub const VLAN: EtherType = EtherType(0x8100);
    /// Internet Protocol version 6.
    pub const IPV6: EtherType = EtherType(0x86DD);

    /// The name tcpdump gives it (`"Unknown"` for others).
    pub fn name(self) -> &'static str {
        match self {
            EtherType::IPV4 => "IPv4",
            EtherType::ARP => "ARP",
            EtherType::VLAN => "802.1Q",
            EtherType::IPV6 => "IPv6",
            _ => "Unknown",
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:04x})", self.name(), self.0)
    }
}

/// An IP protocol number (the IPv4 `protocol` field). Open-ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    /// Internet Control Message Protocol.
    pub const ICMP: IpProtocol = IpProtocol(1);
    /// Transmission Control Protocol.
    pub const TCP: IpProtocol = IpProtocol(6);
    /// User Datagram Protocol.
    pub const UDP: IpProtocol = IpProtocol(17);
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IpProtocol::ICMP => f.write_str("ICMP"),
            IpProtocol::TCP => f.write_str("TCP"),
            IpProtocol::UDP => f.write_str("UDP"),
            IpProtocol(n) => write!(f, "ip-proto-{n}"),
        }
    }
}

/// An Ethernet (EUI-48) address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// `00:00:00:00:00:00` (ARP's "unknown" target).
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// The address in the first six bytes of `b`, `None` if shorter.
    pub fn from_bytes(b: &[u8]) -> Option<MacAddr> {
        Some(MacAddr(b.get(..6)?.try_into().ok()?))
    }

    /// The six bytes.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// All ones.
    pub fn is_broadcast(&self) -> bool {
        *self == MacAddr::BROADCAST
    }

    /// The group bit is set (broadcast included).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// The group bit is clear.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// Read a big-endian `u16` at `at`; the caller checked the bounds.
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Read a big-endian `u32` at `at`; the caller checked the bounds.
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Write a big-endian `u16` at `at`.
fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Write a big-endian `u32` at `at`.
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// The IPv4 address at `at`; the caller checked the bounds.
fn ipv4_at(b: &[u8], at: usize) -> core::net::Ipv4Addr {
    core::net::Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_classes_and_display() {
        let m = MacAddr([0x02, 0x00, 0x5e, 0x10, 0xab, 0x01]);
        assert_eq!(std::format!("{m}"), "02:00:5e:10:ab:01");
        assert!(m.is_unicast() && !m.is_multicast() && !m.is_broadcast());
        let g = MacAddr([0x01, 0x00, 0x5e, 0, 0, 1]);
        assert!(g.is_multicast() && !g.is_unicast() && !g.is_broadcast());
        assert!(MacAddr::BROADCAST.is_broadcast() && MacAddr::BROADCAST.is_multicast());
        assert_eq!(MacAddr::from_bytes(&[1, 2, 3, 4, 5]), None);
        assert_eq!(MacAddr::from_bytes(&[1, 2, 3, 4, 5, 6, 7]), Some(MacAddr([1, 2, 3, 4, 5, 6])));
    }

    #[test]
    fn names_print_like_tcpdump() {
        assert_eq!(std::format!("{}", EtherType::IPV4), "IPv4 (0x0800)");
        assert_eq!(std::format!("{}", EtherType(0x88b5)), "Unknown (0x88b5)");
        assert_eq!(std::format!("{}", IpProtocol::TCP), "TCP");
        assert_eq!(std::format!("{}", IpProtocol(47)), "ip-proto-47");
        assert_eq!(std::format!("{}", WireError::BadOption), "bad option");
    }
}

//! ICMPv4 messages (RFC 792): echo, destination unreachable (with the
//! next-hop MTU of RFC 1191), time exceeded and parameter problem, and the
//! IPv4 header quoted inside an error. Linux's `net/ipv4/icmp.c` reads them
//! in `icmp_rcv` and writes them in `icmp_send` and `icmp_echo`.
//!
//! ```text
//!  0      1      2          4                   8
//!  | type | code | checksum | rest of header    | data ...
//!                           | ident  | seq      |          echo
//!                           | unused | next MTU |          frag needed
//!                           | ptr |   unused    |          parameter problem
//! ```
//!
//! The view covers the whole message: the IPv4 payload.

use super::checksum;
use super::ipv4::Ipv4Packet;
use core::net::Ipv4Addr;

use super::{WireError, be16, ipv4_at, put16};

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const IDENT: usize = 4;
    pub const SEQ: usize = 6;
    pub const POINTER: usize = 4;
    pub const UNUSED: usize = 4;
    pub const MTU: usize = 6;
    pub const GATEWAY: usize = 4;
    pub const DATA: usize = 8;
}

/// An ICMPv4 message type. Open-ended: any value is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Icmpv4Type(pub u8);

impl Icmpv4Type {
    /// Echo reply.
    pub const ECHO_REPLY: Icmpv4Type = Icmpv4Type(0);
    /// Destination unreachable.
    pub const DST_UNREACHABLE: Icmpv4Type = Icmpv4Type(3);
    /// Source quench (deprecated by RFC 6633).
    pub const SOURCE_QUENCH: Icmpv4Type = Icmpv4Type(4);
    /// Redirect.
    pub const REDIRECT: Icmpv4Type = Icmpv4Type(5);
    /// Echo request.
    pub const ECHO_REQUEST: Icmpv4Type = Icmpv4Type(8);
    /// Time exceeded.
    pub const TIME_EXCEEDED: Icmpv4Type = Icmpv4Type(11);
    /// Parameter problem.
    pub const PARAM_PROBLEM: Icmpv4Type = Icmpv4Type(12);
    /// Timestamp request.
    pub const TIMESTAMP: Icmpv4Type = Icmpv4Type(13);
    /// Timestamp reply.
    pub const TIMESTAMP_REPLY: Icmpv4Type = Icmpv4Type(14);
    /// The highest type RFC 792 and its updates assigned for IPv4 hosts
    /// (address mask reply, RFC 950); Linux's `NR_ICMP_TYPES`.
    pub const MAX_KNOWN: u8 = 18;

    /// True for the error messages, which quote an IPv4 header
    /// (`icmp_is_err`).
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Icmpv4Type::DST_UNREACHABLE
                | Icmpv4Type::SOURCE_QUENCH
                | Icmpv4Type::REDIRECT
                | Icmpv4Type::TIME_EXCEEDED
                | Icmpv4Type::PARAM_PROBLEM
        )
    }
}

/// The codes of a destination-unreachable message (RFC 792, RFC 1122,
/// RFC 1812).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DstUnreachable {
    /// 0: network unreachable.
    NetUnreachable,
    /// 1: host unreachable.
    HostUnreachable,
    /// 2: protocol unreachable.
    ProtoUnreachable,
    /// 3: port unreachable.
    PortUnreachable,
    /// 4: fragmentation needed and DF set (carries the next-hop MTU).
    FragNeeded,
    /// 5: source route failed.
    SrcRouteFailed,
    /// 6: destination network unknown.
    NetUnknown,
    /// 7: destination host unknown.
    HostUnknown,
    /// 8: source host isolated.
    HostIsolated,
    /// 9: network administratively prohibited.
    NetProhibited,
    /// 10: host administratively prohibited.
    HostProhibited,
    /// 11: network unreachable for TOS.
    NetUnreachableTos,
    /// 12: host unreachable for TOS.
    HostUnreachableTos,
    /// 13: communication administratively prohibited (filtered).
    AdminProhibited,
    /// 14: host precedence violation.
    HostPrecedence,
    /// 15: precedence cutoff in effect.
    PrecedenceCutoff,
    /// Any other code.
    Other(u8),
}

const UNREACHABLE_CODES: [DstUnreachable; 16] = [
    DstUnreachable::NetUnreachable,
    DstUnreachable::HostUnreachable,
    DstUnreachable::ProtoUnreachable,
    DstUnreachable::PortUnreachable,
    DstUnreachable::FragNeeded,
    DstUnreachable::SrcRouteFailed,
    DstUnreachable::NetUnknown,
    DstUnreachable::HostUnknown,
    DstUnreachable::HostIsolated,
    DstUnreachable::NetProhibited,
    DstUnreachable::HostProhibited,
    DstUnreachable::NetUnreachableTos,
    DstUnreachable::HostUnreachableTos,
    DstUnreachable::AdminProhibited,
    DstUnreachable::HostPrecedence,
    DstUnreachable::PrecedenceCutoff,
];

impl DstUnreachable {
    /// The meaning of a code.
    pub fn from_code(code: u8) -> DstUnreachable {
        UNREACHABLE_CODES.get(usize::from(code)).copied().unwrap_or(DstUnreachable::Other(code))
    }

    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            DstUnreachable::Other(n) => n,
            known => UNREACHABLE_CODES.iter().position(|&c| c == known).unwrap_or(0) as u8,
        }
    }
}

/// The codes of a time-exceeded message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TimeExceeded {
    /// 0: TTL exceeded in transit.
    TtlExceeded,
    /// 1: fragment reassembly time exceeded.
    FragReassembly,
    /// Any other code.
    Other(u8),
}

impl TimeExceeded {
    /// The meaning of a code.
    pub fn from_code(code: u8) -> TimeExceeded {
        match code {
            0 => TimeExceeded::TtlExceeded,
            1 => TimeExceeded::FragReassembly,
            n => TimeExceeded::Other(n),
        }
    }

    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            TimeExceeded::TtlExceeded => 0,
            TimeExceeded::FragReassembly => 1,
            TimeExceeded::Other(n) => n,
        }
    }
}

/// A view of an ICMPv4 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Length of the header (type, code, checksum, rest of header).
    pub const HEADER_LEN: usize = 8;

    /// A view with no validation: accessors panic on fewer than 8 bytes.
    pub const fn new_unchecked(buffer: T) -> Icmpv4Packet<T> {
        Icmpv4Packet { buffer }
    }

    /// A view of a validated message.
    pub fn new_checked(buffer: T) -> Result<Icmpv4Packet<T>, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Check that the 8-byte header is there ([`WireError::Truncated`]).
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type.
    pub fn msg_type(&self) -> Icmpv4Type {
        Icmpv4Type(self.buffer.as_ref()[field::TYPE])
    }

    /// Message code.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Echo identifier (echo request and reply).
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }

    /// Echo sequence number (echo request and reply).
    pub fn echo_seq(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SEQ)
    }

    //= https://www.rfc-editor.org/rfc/rfc1191#section-4
    //# The router MUST include the MTU of that next-hop network in the
    //# low-order 16 bits of the ICMP header field that is labelled
    //# "unused" in the ICMP specification.
    /// Next-hop MTU of a fragmentation-needed message (0 from routers that
    /// predate RFC 1191).
    pub fn next_hop_mtu(&self) -> u16 {
        be16(self.buffer.as_ref(), field::MTU)
    }

    /// The octet a parameter-problem message points at.
    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[field::POINTER]
    }

    /// The gateway address of a redirect message.
    pub fn gateway(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), field::GATEWAY)
    }

    /// The code of a destination-unreachable message.
    pub fn dst_unreachable(&self) -> Option<DstUnreachable> {
        (self.msg_type() == Icmpv4Type::DST_UNREACHABLE).then(|| DstUnreachable::from_code(self.code()))
    }

    /// The code of a time-exceeded message.
    pub fn time_exceeded(&self) -> Option<TimeExceeded> {
        (self.msg_type() == Icmpv4Type::TIME_EXCEEDED).then(|| TimeExceeded::from_code(self.code()))
    }

    /// The bytes after the 8-byte header: echo data, or an error's quote.
    pub fn data(&self) -> &[u8] {
        self.buffer.as_ref().get(field::DATA..).unwrap_or(&[])
    }

    /// The IPv4 header quoted by an error message, with whatever of its
    /// payload follows (the first 8 bytes at least, from a conforming
    /// sender). [`WireError::Unsupported`] for a message that is not an
    /// error; the quote's own error if it is not a valid IPv4 header.
    pub fn inner(&self) -> Result<Ipv4Packet<&[u8]>, WireError> {
        if !self.msg_type().is_error() {
            return Err(WireError::Unsupported);
        }
        Ipv4Packet::new_quoted(self.data())
    }

    /// True when the checksum over the whole message is correct.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    /// Set the message type.
    pub fn set_msg_type(&mut self, t: Icmpv4Type) {
        self.buffer.as_mut()[field::TYPE] = t.0;
    }

    /// Set the code.
    pub fn set_code(&mut self, code: u8) {
        self.buffer.as_mut()[field::CODE] = code;
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, csum: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, csum);
    }

    /// Set the echo identifier.
    pub fn set_echo_ident(&mut self, ident: u16) {
        put16(self.buffer.as_mut(), field::IDENT, ident);
    }

    /// Set the echo sequence number.
    pub fn set_echo_seq(&mut self, seq: u16) {
        put16(self.buffer.as_mut(), field::SEQ, seq);
    }

    /// Set the next-hop MTU (clears the unused half before it).
    pub fn set_next_hop_mtu(&mut self, mtu: u16) {
        put16(self.buffer.as_mut(), field::UNUSED, 0);
        put16(self.buffer.as_mut(), field::MTU, mtu);
    }

    /// Set the parameter-problem pointer (clears the unused bytes after it).
    pub fn set_pointer(&mut self, pointer: u8) {
        let b = self.buffer.as_mut();
        b[field::POINTER..field::DATA].fill(0);
        b[field::POINTER] = pointer;
    }

    /// The bytes after the header, for writing.
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut().get_mut(field::DATA..).unwrap_or(&mut [])
    }

    /// Recompute the checksum over the whole message.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let csum = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(csum);
    }
}

/// An ICMPv4 message to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    /// Echo request with its data.
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
        /// Data.
        data: &'a [u8],
    },
    /// Echo reply with its data.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
        /// Data.
        data: &'a [u8],
    },
    /// Destination unreachable.
    DstUnreachable {
        /// Why.
        reason: DstUnreachable,
        /// Next-hop MTU for [`DstUnreachable::FragNeeded`] (else 0).
        next_hop_mtu: u16,
        /// The offending datagram's start (see [`Icmpv4Repr::error_quote`]).
        quote: &'a [u8],
    },
    /// Time exceeded.
    TimeExceeded {
        /// Why.
        reason: TimeExceeded,
        /// The offending datagram's start.
        quote: &'a [u8],
    },
    /// Parameter problem.
    ParamProblem {
        /// The octet of the offending header at fault.
        pointer: u8,
        /// The offending datagram's start.
        quote: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    //= https://www.rfc-editor.org/rfc/rfc1812#section-4.3.2.3
    //# the ICMP datagram SHOULD contain as much of the original datagram as
    //# possible without the length of the ICMP datagram exceeding 576 bytes.
    /// Most bytes of the offending datagram an error quotes, as `icmp_send`
    /// does: 576 minus the IPv4 and ICMP headers.
    pub const QUOTE_MAX: usize = 576 - 20 - 8;

    /// The part of `datagram` an error about it should quote.
    pub fn error_quote(datagram: &[u8]) -> &[u8] {
        &datagram[..datagram.len().min(Self::QUOTE_MAX)]
    }

    /// The message a checked view holds; [`WireError::Unsupported`] for
    /// types this enum does not describe.
    pub fn parse<T: AsRef<[u8]>>(p: &'a Icmpv4Packet<T>) -> Result<Icmpv4Repr<'a>, WireError> {
        let (ident, seq, data) = (p.echo_ident(), p.echo_seq(), p.data());
        Ok(match p.msg_type() {
            Icmpv4Type::ECHO_REQUEST => Icmpv4Repr::EchoRequest { ident, seq, data },
            Icmpv4Type::ECHO_REPLY => Icmpv4Repr::EchoReply { ident, seq, data },
            Icmpv4Type::DST_UNREACHABLE => Icmpv4Repr::DstUnreachable {
                reason: DstUnreachable::from_code(p.code()),
                next_hop_mtu: p.next_hop_mtu(),
                quote: data,
            },
            Icmpv4Type::TIME_EXCEEDED => {
                Icmpv4Repr::TimeExceeded { reason: TimeExceeded::from_code(p.code()), quote: data }
            }
            Icmpv4Type::PARAM_PROBLEM => Icmpv4Repr::ParamProblem { pointer: p.pointer(), quote: data },
            _ => return Err(WireError::Unsupported),
        })
    }

    /// The data or quote the message carries.
    fn body(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => data,
            Icmpv4Repr::DstUnreachable { quote, .. }
            | Icmpv4Repr::TimeExceeded { quote, .. }
            | Icmpv4Repr::ParamProblem { quote, .. } => quote,
        }
    }

    /// Bytes the message takes.
    pub fn len(&self) -> usize {
        Icmpv4Packet::<&[u8]>::HEADER_LEN + self.body().len()
    }

    /// Never true: a message has at least its header. Present for clippy's
    /// `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Write the message with its checksum at the start of `buf`; returns
    /// its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let b = buf.get_mut(..self.len()).ok_or(WireError::Truncated)?;
        b[..Icmpv4Packet::<&[u8]>::HEADER_LEN].fill(0);
        let mut p = Icmpv4Packet::new_unchecked(b);
        let (t, code) = match *self {
            Icmpv4Repr::EchoRequest { ident, seq, .. } => {
                p.set_echo_ident(ident);
                p.set_echo_seq(seq);
                (Icmpv4Type::ECHO_REQUEST, 0)
            }
            Icmpv4Repr::EchoReply { ident, seq, .. } => {
                p.set_echo_ident(ident);
                p.set_echo_seq(seq);
                (Icmpv4Type::ECHO_REPLY, 0)
            }
            Icmpv4Repr::DstUnreachable { reason, next_hop_mtu, .. } => {
                p.set_next_hop_mtu(next_hop_mtu);
                (Icmpv4Type::DST_UNREACHABLE, reason.code())
            }
            Icmpv4Repr::TimeExceeded { reason, .. } => (Icmpv4Type::TIME_EXCEEDED, reason.code()),
            Icmpv4Repr::ParamProblem { pointer, .. } => {
                p.set_pointer(pointer);
                (Icmpv4Type::PARAM_PROBLEM, 0)
            }
        };
        p.set_msg_type(t);
        p.set_code(code);
        p.data_mut().copy_from_slice(self.body());
        p.fill_checksum();
        Ok(self.len())
    }
}

#[cfg(test)]
mod tests;

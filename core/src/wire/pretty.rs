//! One line per packet, the way `tcpdump -n` prints it (with `-e` for whole
//! frames), for logs, traces and test failures. Linux has no counterpart in
//! the kernel; this is the view a network engineer reads packets in.
//!
//! ```text
//! IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 123, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
//! IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64
//! 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 10.0.0.2 tell 10.0.0.1, length 28
//! ```
//!
//! The printers read the bytes defensively: they never panic, whatever the
//! input, and mark a header cut short as tcpdump does (`[|tcp]`).
//! Sequence numbers are absolute (tcpdump's `-S`): a printer of single
//! packets has no connection to make them relative to.

use core::fmt::{self, Formatter};
use core::net::Ipv4Addr;

use super::arp::ArpPacket;
use super::ethernet::EthernetFrame;
use super::icmpv4::{DstUnreachable, Icmpv4Packet, Icmpv4Type};
use super::ipv4::Ipv4Packet;
use super::tcp::{TcpFlags, TcpPacket};
use super::udp::UdpPacket;
use super::{EtherType, IpProtocol, MacAddr, be16};

/// An Ethernet frame to print (tcpdump `-e -n`).
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a>(pub &'a [u8]);

/// An IPv4 packet to print (tcpdump `-n` on a TUN device).
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a>(pub &'a [u8]);

impl fmt::Display for Frame<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b.len() < EthernetFrame::<&[u8]>::HEADER_LEN {
            return f.write_str("[|ether]");
        }
        let eth = EthernetFrame::new_unchecked(b);
        write!(f, "{} > {}, ethertype {}, length {}", eth.src(), eth.dst(), eth.outer_ethertype(), b.len())?;
        let sep = match eth.outer_ethertype() {
            EtherType::VLAN if b.len() < EthernetFrame::<&[u8]>::VLAN_HEADER_LEN => return f.write_str(": [|vlan]"),
            EtherType::VLAN => {
                write!(f, ": {}, ethertype {}", eth.vlan().unwrap_or_default(), eth.ethertype())?;
                ", "
            }
            _ => ": ",
        };
        let payload = eth.payload();
        match eth.ethertype() {
            EtherType::IPV4 => {
                f.write_str(sep)?;
                ip(f, payload, false)
            }
            EtherType::ARP => {
                f.write_str(sep)?;
                arp_body(f, payload)
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Packet<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        ip(f, self.0, true)
    }
}

/// Print an IPv4 packet, with tcpdump's `IP ` in front when `prefix`.
fn ip(f: &mut Formatter<'_>, b: &[u8], prefix: bool) -> fmt::Result {
    if prefix {
        f.write_str("IP ")?;
    }
    let min = Ipv4Packet::<&[u8]>::MIN_HEADER_LEN;
    if b.len() < min {
        return f.write_str("[|ip]");
    }
    let p = Ipv4Packet::new_unchecked(b);
    let (hlen, total) = (p.header_len(), usize::from(p.total_len()));
    if p.version() != 4 {
        return write!(f, "bad-version {}", p.version());
    }
    if hlen < min {
        return write!(f, "bad-hlen {hlen}");
    }
    if hlen > b.len() {
        return f.write_str("[|ip]");
    }
    if total < hlen {
        return write!(f, "bad-len {total}");
    }
    if total > b.len() {
        write!(f, "truncated-ip - {} bytes missing! ", total - b.len())?;
    }
    // Clamped to the bytes present: the view's payload never panics.
    let payload = p.payload();
    let (src, dst) = (p.src(), p.dst());
    if p.frag_offset() != 0 {
        return write!(f, "{src} > {dst}: ip-proto-{}", p.protocol().0);
    }
    match p.protocol() {
        IpProtocol::TCP => tcp(f, Some((src, dst)), payload),
        IpProtocol::UDP => udp(f, src, dst, payload, p.more_frags()),
        IpProtocol::ICMP => icmp(f, src, dst, payload),
        other => write!(f, "{src} > {dst}: ip-proto-{} {}", other.0, payload.len()),
    }
}

/// Print `src.sport > dst.dport: ` (or ports alone without addresses).
fn endpoints(f: &mut Formatter<'_>, addrs: Option<(Ipv4Addr, Ipv4Addr)>, sport: u16, dport: u16) -> fmt::Result {
    match addrs {
        Some((s, d)) => write!(f, "{s}.{sport} > {d}.{dport}: "),
        None => write!(f, "{sport} > {dport}: "),
    }
}

/// Print a TCP segment (the whole IPv4 payload), with the addresses in
/// front if given.
pub(super) fn tcp(f: &mut Formatter<'_>, addrs: Option<(Ipv4Addr, Ipv4Addr)>, seg: &[u8]) -> fmt::Result {
    if seg.len() < TcpPacket::<&[u8]>::MIN_HEADER_LEN {
        if let Some((s, d)) = addrs {
            write!(f, "{s} > {d}: ")?;
        }
        return f.write_str("[|tcp]");
    }
    let p = TcpPacket::new_unchecked(seg);
    endpoints(f, addrs, p.src_port(), p.dst_port())?;
    let hlen = p.header_len();
    if hlen < TcpPacket::<&[u8]>::MIN_HEADER_LEN {
        return write!(f, "tcp {} [bad hdr length {hlen} - too short, < 20]", seg.len());
    }
    if hlen > seg.len() {
        return write!(f, "[bad hdr length {hlen} - too long, > {}]", seg.len());
    }
    tcp_details(f, &p, seg.len() - hlen)
}

/// Flags, numbers, options and length of a checked segment.
fn tcp_details(f: &mut Formatter<'_>, p: &TcpPacket<&[u8]>, len: usize) -> fmt::Result {
    let flags = p.flags();
    write!(f, "Flags {flags}")?;
    if len > 0 || flags.bits() & (TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST).bits() != 0 {
        write!(f, ", seq {}", p.seq_number())?;
        if len > 0 {
            write!(f, ":{}", p.seq_number().wrapping_add(len as u32))?;
        }
    }
    if flags.contains(TcpFlags::ACK) {
        write!(f, ", ack {}", p.ack_number())?;
    }
    write!(f, ", win {}", p.window())?;
    if flags.contains(TcpFlags::URG) {
        write!(f, ", urg {}", p.urgent())?;
    }
    if !p.option_bytes().is_empty() {
        f.write_str(", options [")?;
        for (i, opt) in p.options().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match opt {
                Ok(opt) => write!(f, "{opt}")?,
                Err(_) => f.write_str("[bad opt]")?,
            }
        }
        f.write_str("]")?;
    }
    write!(f, ", length {len}")
}

/// Print a UDP datagram; `fragmented` when it is the first of several
/// fragments (its length field then covers bytes not here).
fn udp(f: &mut Formatter<'_>, src: Ipv4Addr, dst: Ipv4Addr, seg: &[u8], fragmented: bool) -> fmt::Result {
    let hdr = UdpPacket::<&[u8]>::HEADER_LEN;
    if seg.len() < hdr {
        return write!(f, "{src} > {dst}: [|udp]");
    }
    let p = UdpPacket::new_unchecked(seg);
    endpoints(f, Some((src, dst)), p.src_port(), p.dst_port())?;
    let ulen = usize::from(p.len());
    if ulen < hdr {
        return write!(f, "truncated-udplength {ulen}");
    }
    if ulen > seg.len() && !fragmented {
        return write!(f, "UDP, bad length {} > {}", ulen - hdr, seg.len() - hdr);
    }
    write!(f, "UDP, length {}", ulen - hdr)
}

/// Print an ICMP message.
fn icmp(f: &mut Formatter<'_>, src: Ipv4Addr, dst: Ipv4Addr, msg: &[u8]) -> fmt::Result {
    write!(f, "{src} > {dst}: ")?;
    let Ok(p) = Icmpv4Packet::new_checked(msg) else {
        return f.write_str("[|icmp]");
    };
    f.write_str("ICMP ")?;
    match p.msg_type() {
        Icmpv4Type::ECHO_REQUEST => write!(f, "echo request, id {}, seq {}", p.echo_ident(), p.echo_seq())?,
        Icmpv4Type::ECHO_REPLY => write!(f, "echo reply, id {}, seq {}", p.echo_ident(), p.echo_seq())?,
        Icmpv4Type::DST_UNREACHABLE => match p.inner() {
            Ok(inner) => unreachable(f, &p, &inner)?,
            Err(_) => return f.write_str("[|icmp]"),
        },
        Icmpv4Type::TIME_EXCEEDED => match p.code() {
            0 => f.write_str("time exceeded in-transit")?,
            1 => f.write_str("ip reassembly time exceeded")?,
            c => write!(f, "time exceeded-#{c}")?,
        },
        Icmpv4Type::PARAM_PROBLEM if p.code() == 0 => write!(f, "parameter problem - octet {}", p.pointer())?,
        Icmpv4Type::PARAM_PROBLEM => write!(f, "parameter problem - code {}", p.code())?,
        Icmpv4Type::SOURCE_QUENCH => f.write_str("source quench")?,
        Icmpv4Type::REDIRECT => redirect(f, &p)?,
        Icmpv4Type::TIMESTAMP => write!(f, "time stamp query id {} seq {}", p.echo_ident(), p.echo_seq())?,
        Icmpv4Type::TIMESTAMP_REPLY => write!(f, "time stamp reply id {} seq {}", p.echo_ident(), p.echo_seq())?,
        Icmpv4Type(t) => write!(f, "type-#{t}")?,
    }
    write!(f, ", length {}", msg.len())
}

/// The text of a destination-unreachable message (tcpdump's `unr2str`).
fn unreachable(f: &mut Formatter<'_>, p: &Icmpv4Packet<&[u8]>, inner: &Ipv4Packet<&[u8]>) -> fmt::Result {
    let dst = inner.dst();
    let what = match DstUnreachable::from_code(p.code()) {
        DstUnreachable::ProtoUnreachable => return write!(f, "{dst} protocol {} unreachable", inner.protocol().0),
        DstUnreachable::PortUnreachable => return port_unreachable(f, inner),
        DstUnreachable::FragNeeded => {
            return match p.next_hop_mtu() {
                0 => write!(f, "{dst} unreachable - need to frag"),
                mtu => write!(f, "{dst} unreachable - need to frag (mtu {mtu})"),
            };
        }
        DstUnreachable::NetUnreachable => ("net ", ""),
        DstUnreachable::HostUnreachable => ("host ", ""),
        DstUnreachable::SrcRouteFailed => ("", " - source route failed"),
        DstUnreachable::NetUnknown => ("net ", " - unknown"),
        DstUnreachable::HostUnknown => ("host ", " - unknown"),
        DstUnreachable::HostIsolated => ("", " - source host isolated"),
        DstUnreachable::NetProhibited => ("net ", " - admin prohibited"),
        DstUnreachable::HostProhibited => ("host ", " - admin prohibited"),
        DstUnreachable::NetUnreachableTos => ("net ", " - tos prohibited"),
        DstUnreachable::HostUnreachableTos => ("host ", " - tos prohibited"),
        DstUnreachable::AdminProhibited => ("host ", " - admin prohibited filter"),
        DstUnreachable::HostPrecedence => ("host ", " - host precedence violation"),
        DstUnreachable::PrecedenceCutoff => ("host ", " - precedence cutoff"),
        DstUnreachable::Other(c) => return write!(f, "{dst} unreachable - #{c}"),
    };
    write!(f, "{}{dst} unreachable{}", what.0, what.1)
}

/// `10.0.0.2 udp port 7 unreachable`, from the quoted header and ports.
fn port_unreachable(f: &mut Formatter<'_>, inner: &Ipv4Packet<&[u8]>) -> fmt::Result {
    let dst = inner.dst();
    let Some(dport) = inner.payload().get(2..4).map(|b| be16(b, 0)) else {
        return f.write_str("[|icmp]");
    };
    match inner.protocol() {
        IpProtocol::TCP => write!(f, "{dst} tcp port {dport} unreachable"),
        IpProtocol::UDP => write!(f, "{dst} udp port {dport} unreachable"),
        p => write!(f, "{dst} protocol {} port {dport} unreachable", p.0),
    }
}

/// `redirect 10.0.0.9 to host 10.0.0.254`.
fn redirect(f: &mut Formatter<'_>, p: &Icmpv4Packet<&[u8]>) -> fmt::Result {
    let Ok(inner) = p.inner() else {
        return f.write_str("[|icmp]");
    };
    let kind = match p.code() {
        0 => "net",
        1 => "host",
        2 => "tos net",
        3 => "tos host",
        _ => "#",
    };
    write!(f, "redirect {} to {kind} {}", inner.dst(), p.gateway())
}

/// Print an ARP packet after tcpdump's `ARP, ` (see [`ArpPacket`]'s Display).
pub(super) fn arp(f: &mut Formatter<'_>, b: &[u8]) -> fmt::Result {
    f.write_str("ARP, ")?;
    arp_body(f, b)
}

/// The ARP text proper, as tcpdump prints it after an Ethernet header.
fn arp_body(f: &mut Formatter<'_>, b: &[u8]) -> fmt::Result {
    if let Err(e) = ArpPacket::new_checked(b) {
        return match (e, b.get(..4)) {
            (super::WireError::Unsupported, Some(h)) => {
                write!(f, "htype {}, ptype 0x{:04x}, length {}", be16(h, 0), be16(h, 2), b.len())
            }
            _ => f.write_str("[|arp]"),
        };
    }
    let p = ArpPacket::new_unchecked(b);
    match p.operation() {
        super::ArpOp::Request => {
            write!(f, "Request who-has {}", p.target_ip())?;
            if p.target_hw() != MacAddr::ZERO {
                write!(f, " ({})", p.target_hw())?;
            }
            write!(f, " tell {}", p.sender_ip())?;
        }
        super::ArpOp::Reply => write!(f, "Reply {} is-at {}", p.sender_ip(), p.sender_hw())?,
        super::ArpOp::Other(op) => write!(f, "opcode {op}, {} > {}", p.sender_ip(), p.target_ip())?,
    }
    write!(f, ", length {}", b.len())
}

#[cfg(test)]
mod tests;

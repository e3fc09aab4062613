//! The bodies of the fuzz targets in `fuzz/`, one per parser (the simulated
//! NIC's and the whole stack's live in their own modules), kept here so that
//! `tests/tests/fuzz_corpus.rs` runs every corpus file through the same code
//! on stable, and the cargo-fuzz targets stay thin wrappers.
//!
//! Each body parses arbitrary bytes, walks every accessor and the option
//! iterator, prints with `Display`, and checks properties that must hold for
//! any input: a fixed-up checksum verifies, a parsed "Repr" emits bytes that
//! parse back to it, setters that write back what was read change nothing.
//! A panic anywhere is a finding.

use core::fmt::{self, Write};
use core::hint::black_box;
use core::net::Ipv4Addr;

use skbnet::wire::checksum::{self, InetSum};
use skbnet::wire::pretty::{Frame, Packet};
use skbnet::wire::{
    ArpPacket, ArpRepr, EthernetFrame, EthernetRepr, Icmpv4Packet, Icmpv4Repr, Ipv4Packet, TcpOptionsRepr, TcpPacket,
    TcpRepr, UdpPacket, UdpRepr,
};

/// A fuzz target's body: takes any bytes, panics only on a finding.
pub type Body = fn(&[u8]);

/// Every fuzz target: its name (the folder under `fuzz/corpus/`) and body.
pub const TARGETS: &[(&str, Body)] = &[
    ("ethernet", ethernet),
    ("arp", arp),
    ("ipv4", ipv4),
    ("icmpv4", icmpv4),
    ("udp", udp),
    ("tcp", tcp),
    ("pretty", pretty),
    ("checksum", checksum_split),
    ("nic", crate::fuzz_nic::nic),
    ("stack", crate::fuzz_stack::stack),
    ("tcp_conn", crate::fuzz_tcp::tcp_conn),
];

/// A `fmt::Write` that drops the text and counts it.
struct Sink(usize);

impl Write for Sink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Format `v` into a sink; the text must not be empty.
fn print(v: impl fmt::Display) {
    let mut sink = Sink(0);
    write!(sink, "{v}").expect("Display never fails");
    assert!(sink.0 > 0, "a printer printed nothing");
}

/// The first 8 bytes as two addresses (for pseudo-headers), and the rest.
fn addrs_and_rest(data: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, &[u8])> {
    let (a, rest) = data.split_first_chunk::<4>()?;
    let (b, rest) = rest.split_first_chunk::<4>()?;
    Some((Ipv4Addr::from(*a), Ipv4Addr::from(*b), rest))
}

/// Ethernet: header fields, payload bounds, the tag, Repr round trip.
pub fn ethernet(data: &[u8]) {
    print(Frame(data));
    let Ok(f) = EthernetFrame::new_checked(data) else { return };
    black_box((f.dst(), f.src(), f.outer_ethertype(), f.ethertype()));
    assert_eq!(f.vlan().is_some(), f.outer_ethertype() == skbnet::wire::EtherType::VLAN);
    assert_eq!(f.header_len() + f.payload().len(), data.len());
    let repr = EthernetRepr::parse(&f);
    let mut out = vec![0u8; repr.header_len()];
    assert_eq!(repr.emit(&mut out), Ok(f.header_len()));
    assert_eq!(out, data[..f.header_len()]);
    let mut copy = data.to_vec();
    let mut g = EthernetFrame::new_checked(&mut copy[..]).expect("same bytes");
    g.set_dst(f.dst());
    g.set_src(f.src());
    g.set_ethertype(f.ethertype());
    if let Some(tag) = f.vlan() {
        g.set_vlan(tag).expect("tagged");
    }
    assert_eq!(copy, data, "writing back what was read changes nothing");
    print(f);
}

/// ARP: Ethernet/IPv4 only, fields, Repr round trip.
pub fn arp(data: &[u8]) {
    let Ok(p) = ArpPacket::new_checked(data) else {
        print(ArpPacket::new_unchecked(data));
        return;
    };
    black_box((p.hardware_type(), p.protocol_type(), p.operation()));
    let repr = ArpRepr::parse(&p);
    let mut out = [0u8; 28];
    assert_eq!(repr.emit(&mut out), Ok(28));
    assert_eq!(out[..], data[..28]);
    print(p);
}

/// IPv4: validation, bounds, checksums, incremental TTL update, the
/// lenient quoted view.
pub fn ipv4(data: &[u8]) {
    print(Packet(data));
    if let Ok(q) = Ipv4Packet::new_quoted(data) {
        walk_ipv4(&q);
    }
    let Ok(p) = Ipv4Packet::new_checked(data) else { return };
    walk_ipv4(&p);
    assert!(p.header_len() >= 20 && p.header_len() + p.payload().len() == usize::from(p.total_len()));
    assert_eq!(p.options().len(), p.header_len() - 20);
    let was_valid = p.verify_checksum();
    let mut copy = data.to_vec();
    let mut q = Ipv4Packet::new_checked(&mut copy[..]).expect("same bytes");
    q.dec_ttl();
    assert_eq!(q.verify_checksum(), was_valid, "RFC 1624 keeps a checksum valid (or invalid)");
    q.fill_checksum();
    assert!(q.verify_checksum());
    print(p);
}

/// Every IPv4 accessor.
fn walk_ipv4(p: &Ipv4Packet<&[u8]>) {
    black_box((p.version(), p.header_len(), p.dscp(), p.ecn(), p.total_len(), p.ident()));
    black_box((p.dont_frag(), p.more_frags(), p.frag_offset(), p.is_fragment(), p.ttl(), p.protocol()));
    black_box((p.checksum(), p.src(), p.dst(), p.options(), p.payload(), p.verify_checksum()));
}

/// ICMPv4: fields, the quoted header, checksum, Repr round trip.
pub fn icmpv4(data: &[u8]) {
    let Ok(p) = Icmpv4Packet::new_checked(data) else { return };
    black_box((p.msg_type(), p.code(), p.checksum(), p.echo_ident(), p.echo_seq(), p.next_hop_mtu()));
    black_box((p.pointer(), p.gateway(), p.dst_unreachable(), p.time_exceeded(), p.data()));
    if let Ok(inner) = p.inner() {
        walk_ipv4(&inner);
    }
    let mut copy = data.to_vec();
    let mut q = Icmpv4Packet::new_checked(&mut copy[..]).expect("same bytes");
    q.fill_checksum();
    assert!(q.verify_checksum());
    if let Ok(repr) = Icmpv4Repr::parse(&p) {
        let mut out = vec![0u8; repr.len()];
        assert_eq!(repr.emit(&mut out), Ok(data.len()));
        let back = Icmpv4Packet::new_checked(&out[..]).expect("emitted");
        assert!(back.verify_checksum());
        assert_eq!(Icmpv4Repr::parse(&back), Ok(repr));
    }
}

/// UDP (after 8 bytes of addresses): length rules, checksum, Repr.
pub fn udp(data: &[u8]) {
    let Some((src, dst, seg)) = addrs_and_rest(data) else { return };
    let Ok(p) = UdpPacket::new_checked(seg) else { return };
    black_box((p.src_port(), p.dst_port(), p.checksum(), p.verify_checksum(src, dst)));
    assert_eq!(p.payload().len() + 8, usize::from(p.len()));
    assert_eq!(p.is_empty(), p.payload().is_empty());
    let mut copy = seg.to_vec();
    let mut q = UdpPacket::new_checked(&mut copy[..]).expect("same bytes");
    q.fill_checksum(src, dst);
    assert!(q.checksum() != 0 && q.verify_checksum(src, dst));
    let repr = UdpRepr { src_port: p.src_port(), dst_port: p.dst_port(), payload: p.payload() };
    let mut out = vec![0u8; repr.len()];
    assert_eq!(repr.emit(&mut out, src, dst), Ok(usize::from(p.len())));
    assert_eq!(out, copy[..out.len()], "the Repr writes what fill_checksum wrote");
}

/// TCP (after 8 bytes of addresses): header, every option, checksum, Repr.
pub fn tcp(data: &[u8]) {
    let Some((src, dst, seg)) = addrs_and_rest(data) else { return };
    let Ok(p) = TcpPacket::new_checked(seg) else { return };
    black_box((p.src_port(), p.dst_port(), p.seq_number(), p.ack_number(), p.flags(), p.window()));
    black_box((p.checksum(), p.urgent(), p.payload(), p.verify_checksum(src, dst)));
    let options = p.options().count();
    assert!(options <= p.option_bytes().len(), "every option step consumes a byte");
    for opt in p.options().flatten() {
        print(opt);
    }
    print(p.flags());
    print(p);
    let mut copy = seg.to_vec();
    let mut q = TcpPacket::new_checked(&mut copy[..]).expect("same bytes");
    q.fill_checksum(src, dst);
    assert!(q.verify_checksum(src, dst));
    tcp_repr_round_trip(&p, src, dst);
}

/// Parse a segment into a Repr, emit it, parse again: the same fields; the
/// SACK blocks of the second parse are a prefix (Linux's layout may fit
/// fewer than a tighter sender did).
fn tcp_repr_round_trip(p: &TcpPacket<&[u8]>, src: Ipv4Addr, dst: Ipv4Addr) {
    let repr = TcpRepr::parse(p);
    let mut out = vec![0u8; repr.len()];
    if repr.emit(&mut out, src, dst).is_err() {
        assert!(repr.len() > usize::from(u16::MAX));
        return;
    }
    let back = TcpPacket::new_checked(&out[..]).expect("emitted");
    assert!(back.verify_checksum(src, dst));
    assert!(back.options().all(|o| o.is_ok()), "we emit well-formed options");
    let again = TcpRepr::parse(&back);
    let (sack_a, sack_b) = (repr.options.sack, again.options.sack);
    assert!(sack_a.as_slice().starts_with(sack_b.as_slice()));
    assert_eq!(without_sack(again), without_sack(repr));
}

/// A segment Repr with its SACK blocks removed.
fn without_sack(r: TcpRepr<'_>) -> TcpRepr<'_> {
    TcpRepr { options: TcpOptionsRepr { sack: Default::default(), ..r.options }, ..r }
}

/// The printers on frames and on raw IPv4 packets.
pub fn pretty(data: &[u8]) {
    print(Frame(data));
    print(Packet(data));
    print(Packet(data.get(14..).unwrap_or(&[])));
    print(ArpPacket::new_unchecked(data.get(14..).unwrap_or(&[])));
    if data.len() >= 20 {
        print(TcpPacket::new_unchecked(data).flags());
    }
}

/// The checksum: a split at fuzz-chosen offsets sums as the whole, and
/// equals the byte-pair algorithm of RFC 1071.
pub fn checksum_split(data: &[u8]) {
    let Some((&cuts, body)) = data.split_first() else { return };
    let (a, rest) = body.split_at(usize::from(cuts & 0x0f).min(body.len()));
    let (b, c) = rest.split_at(usize::from(cuts >> 4).min(rest.len()));
    let mut split = InetSum::new();
    split.add(a).add(b).add(c);
    let whole = checksum::checksum(body);
    assert_eq!(split.finish(), whole);
    let mut pairs: u32 = 0;
    for pair in body.chunks(2) {
        pairs += u32::from(u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]));
        pairs = (pairs & 0xffff) + (pairs >> 16);
    }
    assert_eq!(!(pairs as u16), whole);
}

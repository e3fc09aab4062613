//! The fuzz corpora as ordinary tests on stable: every file of
//! `fuzz/corpus/<target>/` goes through the target's body
//! (`skbnet_tests::fuzz_bodies`), so a crash a campaign found and saved
//! stays fixed without nightly.
//!
//! The corpora are seeded with real packets that this file builds (with
//! skbnet's emitters and, for an independent layout, etherparse's). Seeds
//! have fixed names and contents: writing them again changes nothing.

use std::collections::BTreeSet;
use std::fs;
use std::net::Ipv4Addr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Once;

use etherparse::{PacketBuilder, TcpOptionElement};
use proptest::prelude::*;
use skbnet::wire::{
    ArpOp, ArpRepr, DstUnreachable, EtherType, EthernetRepr, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, MacAddr,
    SackBlocks, TcpFlags, TcpOptionsRepr, TcpRepr, TimeExceeded, UdpRepr, VlanTag,
};
use skbnet_tests::fuzz_bodies::TARGETS;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const MAC_A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const MAC_B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

/// An IPv4 packet A -> B around `payload`.
fn ip(protocol: IpProtocol, payload: &[u8]) -> Vec<u8> {
    let r = Ipv4Repr {
        src: A,
        dst: B,
        protocol,
        ttl: 64,
        ident: 0x1c46,
        dont_frag: true,
        payload_len: payload.len() as u16,
        dscp: 0,
        ecn: 0,
    };
    let mut p = vec![0u8; 20];
    r.emit(&mut p).unwrap();
    p.extend_from_slice(payload);
    p
}

fn eth(vlan: Option<VlanTag>, ethertype: EtherType, payload: &[u8]) -> Vec<u8> {
    let r = EthernetRepr { dst: MAC_B, src: MAC_A, vlan, ethertype };
    let mut f = vec![0u8; r.header_len()];
    r.emit(&mut f).unwrap();
    f.extend_from_slice(payload);
    f
}

fn tcp_seg(flags: TcpFlags, options: TcpOptionsRepr, payload: &[u8]) -> Vec<u8> {
    let r = TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: 1000,
        ack: 2000,
        flags,
        window: 64240,
        urgent: 0,
        options,
        payload,
    };
    let mut s = vec![0u8; r.len()];
    r.emit(&mut s, A, B).unwrap();
    s
}

fn udp_dgram(payload: &[u8]) -> Vec<u8> {
    let r = UdpRepr { src_port: 5000, dst_port: 7, payload };
    let mut d = vec![0u8; r.len()];
    r.emit(&mut d, A, B).unwrap();
    d
}

fn icmp_msg(r: Icmpv4Repr<'_>) -> Vec<u8> {
    let mut m = vec![0u8; r.len()];
    r.emit(&mut m).unwrap();
    m
}

fn arp_pkt(op: ArpOp, target_hw: MacAddr) -> Vec<u8> {
    let r = ArpRepr { op, sender_hw: MAC_A, sender_ip: A, target_hw, target_ip: B };
    let mut p = vec![0u8; 28];
    r.emit(&mut p).unwrap();
    p
}

fn with_addrs(seg: &[u8]) -> Vec<u8> {
    [&A.octets()[..], &B.octets(), seg].concat()
}

/// The TCP segments of the seeds.
fn tcp_segments() -> Vec<(&'static str, Vec<u8>)> {
    let syn_opts = |ts| TcpOptionsRepr {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: ts,
        sack: SackBlocks::new(),
    };
    let data_opts = TcpOptionsRepr {
        timestamps: Some((100, 50)),
        sack: SackBlocks::from_slice(&[(3000, 4000), (5000, 6000)]),
        ..TcpOptionsRepr::default()
    };
    let mut unknown = tcp_seg(TcpFlags::ACK, TcpOptionsRepr { timestamps: Some((1, 2)), ..Default::default() }, b"x");
    unknown[20..22].copy_from_slice(&[30, 2]);
    vec![
        ("syn-ts", tcp_seg(TcpFlags::SYN, syn_opts(Some((1, 0))), &[])),
        ("synack-no-ts", tcp_seg(TcpFlags::SYN | TcpFlags::ACK, syn_opts(None), &[])),
        ("data-sack", tcp_seg(TcpFlags::PSH | TcpFlags::ACK, data_opts, b"GET / HTTP/1.0\r\n\r\n")),
        ("rst", tcp_seg(TcpFlags::RST, TcpOptionsRepr::default(), &[])),
        ("unknown-option", unknown),
        ("etherparse-syn", etherparse_syn()),
    ]
}

/// A SYN built by etherparse, with its own option layout.
fn etherparse_syn() -> Vec<u8> {
    let b = PacketBuilder::ipv4(A.octets(), B.octets(), 64)
        .tcp(40001, 443, 77, 1024)
        .syn()
        .options(&[
            TcpOptionElement::MaximumSegmentSize(536),
            TcpOptionElement::WindowScale(2),
            TcpOptionElement::Timestamp(9, 0),
        ])
        .unwrap();
    let mut p = Vec::new();
    b.write(&mut p, &[]).unwrap();
    p[20..].to_vec()
}

/// ICMP messages of the seeds.
fn icmp_messages() -> Vec<(&'static str, Vec<u8>)> {
    let offending = ip(IpProtocol::UDP, &udp_dgram(&[0x55; 40]));
    let quote = &offending[..28];
    let mut redirect = icmp_msg(Icmpv4Repr::TimeExceeded { reason: TimeExceeded::TtlExceeded, quote });
    redirect[0] = 5;
    redirect[1] = 1;
    redirect[4..8].copy_from_slice(&[10, 0, 0, 254]);
    let mut m = vec![
        ("echo-request", icmp_msg(Icmpv4Repr::EchoRequest { ident: 1, seq: 1, data: &[0xa5; 56] })),
        ("echo-reply", icmp_msg(Icmpv4Repr::EchoReply { ident: 1, seq: 2, data: b"abcdefgh" })),
        (
            "frag-needed",
            icmp_msg(Icmpv4Repr::DstUnreachable { reason: DstUnreachable::FragNeeded, next_hop_mtu: 1400, quote }),
        ),
        (
            "port-unreachable",
            icmp_msg(Icmpv4Repr::DstUnreachable {
                reason: DstUnreachable::PortUnreachable,
                next_hop_mtu: 0,
                quote: Icmpv4Repr::error_quote(&offending),
            }),
        ),
        ("ttl-exceeded", icmp_msg(Icmpv4Repr::TimeExceeded { reason: TimeExceeded::TtlExceeded, quote })),
        ("param-problem", icmp_msg(Icmpv4Repr::ParamProblem { pointer: 1, quote })),
    ];
    let mut fixed = skbnet::wire::Icmpv4Packet::new_unchecked(&mut redirect[..]);
    fixed.fill_checksum();
    m.push(("redirect", redirect));
    m
}

/// IPv4 packets of the seeds.
fn ipv4_packets() -> Vec<(&'static str, Vec<u8>)> {
    let mut options = ip(IpProtocol::UDP, &udp_dgram(b"rr"));
    options.splice(20..20, [7, 7, 4, 0, 0, 0, 0, 1]);
    let mut p = Ipv4Packet::new_unchecked(&mut options[..]);
    p.set_version_and_header_len(4, 28);
    p.set_total_len(38);
    p.fill_checksum();
    let mut first = ip(IpProtocol::UDP, &udp_dgram(&[7; 1472]));
    first[24..26].copy_from_slice(&3008u16.to_be_bytes());
    let mut later = ip(IpProtocol::UDP, &[7; 1480]);
    for (frag, offset, more) in [(&mut first, 0, true), (&mut later, 1480, false)] {
        let mut p = Ipv4Packet::new_unchecked(&mut frag[..]);
        p.set_dont_frag(false);
        p.set_more_frags(more);
        p.set_frag_offset(offset);
        p.fill_checksum();
    }
    let mut v = vec![
        ("udp", ip(IpProtocol::UDP, &udp_dgram(b"hello world!"))),
        ("options", options),
        ("first-fragment", first),
        ("last-fragment", later),
    ];
    for (name, seg) in tcp_segments().into_iter().take(3) {
        v.push((name, ip(IpProtocol::TCP, &seg)));
    }
    for (name, msg) in icmp_messages().into_iter().take(3) {
        v.push((name, ip(IpProtocol::ICMP, &msg)));
    }
    v
}

/// Ethernet frames of the seeds.
fn frames() -> Vec<(&'static str, Vec<u8>)> {
    let mut padded = eth(None, EtherType::ARP, &arp_pkt(ArpOp::Request, MacAddr::ZERO));
    padded.resize(60, 0);
    let mut v = vec![
        ("arp-request-padded", padded),
        ("arp-reply", eth(None, EtherType::ARP, &arp_pkt(ArpOp::Reply, MAC_B))),
        (
            "vlan-udp",
            eth(
                Some(VlanTag { pcp: 5, dei: false, vid: 100 }),
                EtherType::IPV4,
                &ip(IpProtocol::UDP, &udp_dgram(b"v")),
            ),
        ),
        ("ipv6-unparsed", eth(None, EtherType::IPV6, &[0x60, 0, 0, 0, 0, 0, 59, 64])),
    ];
    for (name, packet) in ipv4_packets() {
        v.push((name, eth(None, EtherType::IPV4, &packet)));
    }
    v
}

/// Programs for the NIC body (see `skbnet_tests::fuzz_nic`): send a TCP
/// frame and a TSO super-packet through, scribble a descriptor, inject a
/// raw frame, and let the hardware, the polls and the clock run.
fn nic_programs() -> Vec<(&'static str, Vec<u8>)> {
    let frame = eth(None, EtherType::IPV4, &ip(IpProtocol::UDP, &udp_dgram(b"nic")));
    let send = |f: &[u8], flags: u8| {
        let mut p = vec![0u8];
        p.extend_from_slice(&(f.len() as u16).to_be_bytes());
        p.extend_from_slice(f);
        p.extend_from_slice(&[flags, 0, 98, 0, 6, 5, 180]);
        p
    };
    let run = [4u8, 6, 5, 64, 7, 3, 4, 5, 64];
    let all_offloads = [0x1f, 0x1f];
    let mut plain = all_offloads.to_vec();
    plain.extend(send(&frame, 0));
    plain.extend(run);
    let mut tso = all_offloads.to_vec();
    tso.extend(send(&[frame.as_slice(); 3].concat(), 7));
    tso.extend(run);
    let mut scribble = vec![0, 0];
    scribble.extend([1, 3, 0, 0, 0, 0, 40, 0x00, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
    scribble.extend([2, 5, 1, 0, 0, 0, 0xff, 0, 1, 6]);
    scribble.extend([3, 1, 0, frame.len() as u8]);
    scribble.extend(&frame);
    scribble.extend([8, 0]);
    scribble.extend(run);
    vec![("plain", plain), ("tso", tso), ("scribble", scribble)]
}

/// Every seed: (target, name, bytes).
fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut all = Vec::new();
    let mut add = |target, list: Vec<(&'static str, Vec<u8>)>| {
        all.extend(list.into_iter().map(|(name, bytes)| (target, name, bytes)));
    };
    add("ethernet", frames());
    add("pretty", frames());
    add("ipv4", ipv4_packets());
    add("icmpv4", icmp_messages());
    add("tcp", tcp_segments().into_iter().map(|(n, s)| (n, with_addrs(&s))).collect());
    let mut no_csum = udp_dgram(b"no checksum");
    no_csum[6..8].fill(0);
    add("udp", vec![("echo", with_addrs(&udp_dgram(b"hello world!"))), ("no-checksum", with_addrs(&no_csum))]);
    add(
        "arp",
        vec![
            ("request", arp_pkt(ArpOp::Request, MacAddr::ZERO)),
            ("reply", arp_pkt(ArpOp::Reply, MAC_B)),
            ("probe", arp_pkt(ArpOp::Request, MAC_B)),
        ],
    );
    add("checksum", vec![("odd-cuts", [&[0x53][..], &ip(IpProtocol::UDP, &udp_dgram(b"odd"))].concat())]);
    add("nic", nic_programs());
    all
}

/// Write the seeds (once per test run); a file already right is not touched.
fn write_seeds() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (target, name, bytes) in seeds() {
            let dir = corpus_dir().join(target);
            let path = dir.join(format!("seed-{name}"));
            if fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
                fs::create_dir_all(&dir).unwrap();
                fs::write(&path, &bytes).unwrap();
            }
        }
    });
}

#[test]
fn seeds_are_in_place_with_fixed_names_and_contents() {
    write_seeds();
    let mut names = BTreeSet::new();
    for (target, name, bytes) in seeds() {
        assert!(names.insert((target, name)), "duplicate seed {target}/{name}");
        assert_eq!(fs::read(corpus_dir().join(target).join(format!("seed-{name}"))).unwrap(), bytes);
    }
    let targets: BTreeSet<&str> = TARGETS.iter().map(|(t, _)| *t).collect();
    let seeded: BTreeSet<&str> = names.iter().map(|(t, _)| *t).collect();
    assert_eq!(targets, seeded, "every target has seeds");
    assert_eq!(seeds(), seeds(), "seeds are deterministic");
}

/// Run every corpus file of `target`; report all that panicked.
fn run_corpus(target: &str) {
    write_seeds();
    let body = TARGETS.iter().find(|(t, _)| *t == target).map(|(_, b)| *b).unwrap();
    let dir = corpus_dir().join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let bytes = fs::read(path).unwrap();
            catch_unwind(AssertUnwindSafe(|| body(&bytes))).is_err()
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{} of {} inputs failed: {failed:#?}", failed.len(), files.len());
}

macro_rules! corpus_tests {
    ($($target:ident),*) => {$(
        #[test]
        fn $target() {
            run_corpus(stringify!($target));
        }
    )*};
}

corpus_tests!(ethernet, arp, ipv4, icmpv4, udp, tcp, pretty, checksum, nic);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The fuzz bodies as a property test on stable: every seed, cut short
    /// and with bytes overwritten, goes through its target's body.
    #[test]
    fn mutated_seeds_never_break_a_body(
        pick in any::<usize>(), cut in any::<usize>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
    ) {
        let all = seeds();
        let (target, _, seed) = &all[pick % all.len()];
        let mut bytes = seed.clone();
        for (at, value) in edits {
            let n = bytes.len();
            bytes[at % n] = value;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        let body = TARGETS.iter().find(|(t, _)| t == target).map(|(_, b)| *b).unwrap();
        body(&bytes);
    }
}

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
use skbnet::stats::DropReason;
use skbnet::wire::{
    ArpOp, ArpRepr, DstUnreachable, EtherType, EthernetRepr, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, MacAddr,
    SackBlocks, TcpFlags, TcpOptionsRepr, TcpRepr, TimeExceeded, UdpRepr, VlanTag,
};
use skbnet_tests::fuzz_bodies::TARGETS;
use skbnet_tests::fuzz_stack::{
    ALL_OFFLOADS, ANSWER_ARP, ECHO, ETH0_IP, ETH0_MAC, ETH1_IP, ETH1_MAC, FIX_CHECKSUMS, GATEWAY_IP, PEER0_IP,
    UDP_PORT, arp_frame, control, peer_mac, program,
};

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

/// An Ethernet/IPv4 frame from `src` on link 0 (to eth0) or link 1 (to
/// eth1) of the stack body, written by etherparse: `build` adds the
/// transport header to the IPv4 step, then the payload follows. The IP
/// header checksum is recomputed after `edit` changes the packet.
fn stack_frame(
    link: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    build: impl FnOnce(etherparse::PacketBuilderStep<etherparse::IpHeaders>, &mut Vec<u8>),
    edit: impl FnOnce(&mut [u8]),
) -> Vec<u8> {
    let (from, to) = if link == 0 { (peer_mac(PEER0_IP), ETH0_MAC) } else { (peer_mac(GATEWAY_IP), ETH1_MAC) };
    let mut f = Vec::new();
    build(PacketBuilder::ethernet2(from, to).ipv4(src.octets(), dst.octets(), 64), &mut f);
    edit(&mut f[14..]);
    Ipv4Packet::new_unchecked(&mut f[14..]).fill_checksum();
    f
}

/// A UDP datagram on link 0 from the neighbour, DF clear.
fn stack_udp(dst: Ipv4Addr, dport: u16, payload: &[u8], edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let build = |b: etherparse::PacketBuilderStep<etherparse::IpHeaders>, f: &mut Vec<u8>| {
        b.udp(5353, dport).write(f, payload).unwrap()
    };
    stack_frame(0, PEER0_IP, dst, build, |p| {
        p[6] &= !0x40;
        edit(p)
    })
}

/// An echo request on `link` from `src` to `dst`.
fn stack_ping(link: u8, src: Ipv4Addr, dst: Ipv4Addr, seq: u16) -> Vec<u8> {
    let build = |b: etherparse::PacketBuilderStep<etherparse::IpHeaders>, f: &mut Vec<u8>| {
        b.icmpv4_echo_request(0x77, seq).write(f, &[0xa5; 56]).unwrap()
    };
    stack_frame(link, src, dst, build, |_| {})
}

/// A TCP segment on link 0 from the neighbour, DF clear (so a router may
/// fragment it), with IP ID `id`.
fn stack_tcp(dst: Ipv4Addr, syn: bool, seq: u32, id: u16, payload: &[u8]) -> Vec<u8> {
    let build = |b: etherparse::PacketBuilderStep<etherparse::IpHeaders>, f: &mut Vec<u8>| {
        let t = b.tcp(40000, 80, seq, 64240);
        let t = if syn { t.syn() } else { t.ack(1) };
        t.write(f, payload).unwrap()
    };
    stack_frame(0, PEER0_IP, dst, build, |p| {
        p[4..6].copy_from_slice(&id.to_be_bytes());
        p[6] &= !0x40;
    })
}

/// `frame` (Ethernet/IPv4, DF clear) cut into fragments carrying `size`
/// bytes of payload each (a multiple of 8).
fn fragments(frame: &[u8], size: usize) -> Vec<Vec<u8>> {
    let (eth, ip) = frame.split_at(14);
    let (hdr, payload) = ip.split_at(20);
    let chunks: Vec<&[u8]> = payload.chunks(size).collect();
    let last = chunks.len() - 1;
    let mut out = Vec::new();
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mut f = [eth, hdr, chunk].concat();
        let mut p = Ipv4Packet::new_unchecked(&mut f[14..]);
        p.set_total_len((20 + chunk.len()) as u16);
        p.set_more_frags(i != last);
        p.set_frag_offset((i * size) as u16);
        p.fill_checksum();
        out.push(f);
    }
    out
}

/// Programs for the whole-stack body (see `skbnet_tests::fuzz_stack`): the
/// traffic a router meets, each under offload and peer settings that lead
/// it down different paths.
fn stack_programs() -> Vec<(&'static str, Vec<u8>)> {
    let everything = ALL_OFFLOADS | ANSWER_ARP | ECHO | FIX_CHECKSUMS;
    let far = Ipv4Addr::new(10, 0, 2, 99);
    let beyond = Ipv4Addr::new(192, 0, 2, 1);
    let stranger = Ipv4Addr::new(10, 0, 1, 3);
    let arp = [
        arp_frame(1, peer_mac(stranger), stranger, [0; 6], ETH0_IP),
        arp_frame(1, peer_mac(PEER0_IP), PEER0_IP, [0; 6], PEER0_IP),
        arp_frame(2, peer_mac(GATEWAY_IP), GATEWAY_IP, ETH1_MAC, ETH1_IP),
    ];
    let pings = [
        stack_ping(0, PEER0_IP, ETH0_IP, 1),
        stack_ping(0, PEER0_IP, ETH1_IP, 2),
        stack_ping(1, GATEWAY_IP, ETH1_IP, 3),
        stack_ping(0, PEER0_IP, far, 4),
        stack_ping(0, PEER0_IP, beyond, 5),
    ];
    let udp = [stack_udp(ETH0_IP, UDP_PORT, b"echo me", |_| {}), stack_udp(ETH0_IP, 9, b"nobody", |_| {})];
    let big = stack_udp(ETH0_IP, UDP_PORT, &payload(3000), |_| {});
    let through = stack_udp(far, 9, &payload(1400), |_| {});
    let through_df = stack_udp(far, 9, &payload(1400), |p| p[6] |= 0x40);
    let ttl_one = stack_udp(far, 9, b"expiring", |p| p[8] = 1);
    let syns = [stack_tcp(ETH0_IP, true, 1000, 1, &[]), stack_tcp(far, true, 1000, 2, &[])];
    let train: Vec<Vec<u8>> =
        (0..4u16).map(|i| stack_tcp(far, false, 1 + u32::from(i) * 1400, 10 + i, &payload(1400))).collect();
    let mut first_only = fragments(&big, 1480);
    first_only.truncate(1);
    let odd = [
        eth(Some(VlanTag { pcp: 0, dei: false, vid: 7 }), EtherType::IPV4, &udp[0][14..]),
        eth(None, EtherType::IPV6, &[0x60, 0, 0, 0, 0, 0, 59, 64]),
        udp[0][..30].to_vec(),
    ];
    // Each frame polled alone, or all arriving in one poll (for GRO and LRO).
    let on = |link: u8, frames: &[Vec<u8>]| -> Vec<(u8, Vec<u8>)> {
        frames.iter().map(|f| (control(link, false, 0), f.clone())).collect()
    };
    let burst = |link: u8, frames: &[Vec<u8>]| -> Vec<(u8, Vec<u8>)> {
        let last = frames.len() - 1;
        frames.iter().enumerate().map(|(i, f)| (control(link, i != last, 0), f.clone())).collect()
    };
    let prog = |config: u8, records: Vec<(u8, Vec<u8>)>| {
        let refs: Vec<(u8, &[u8])> = records.iter().map(|(c, f)| (*c, f.as_slice())).collect();
        program(config, &refs)
    };
    let pings_on_their_links = [on(0, &pings[..2]), on(1, &pings[2..3]), on(0, &pings[3..])].concat();
    let later = vec![(control(0, false, 0), first_only[0].clone()), (control(1, false, 63), pings[2].clone())];
    vec![
        ("arp", prog(everything, [on(0, &arp[..2]), on(1, &arp[2..])].concat())),
        ("ping", prog(everything, pings_on_their_links.clone())),
        ("ping-no-arp-answers", prog(0, pings_on_their_links)),
        ("udp", prog(everything, on(0, &udp))),
        ("udp-fragments", prog(everything, on(0, &fragments(&big, 1480)))),
        ("forward-fragmenting", prog(everything, on(0, &[through, through_df, ttl_one]))),
        ("forward-fragments", prog(ANSWER_ARP, on(0, &fragments(&stack_udp(far, 9, &payload(2000), |_| {}), 1480)))),
        ("tcp-syn", prog(everything, on(0, &syns))),
        ("tcp-train-gro", prog(ANSWER_ARP | (ALL_OFFLOADS & !0x08), burst(0, &train))),
        ("tcp-train-lro", prog(ANSWER_ARP | ALL_OFFLOADS, burst(0, &train))),
        ("reassembly-timeout", prog(everything, later)),
        ("odd-frames", prog(everything, on(0, &odd))),
    ]
}

/// `n` bytes of a recognisable pattern.
fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Programs for the one-connection target: each state, with data both
/// ways, loss and reordering, a window closing, and the closes.
fn tcp_conn_programs() -> Vec<(&'static str, Vec<u8>)> {
    use skbnet_tests::fuzz_tcp::{Op, STATES, program};
    const ACK: u8 = 16;
    let data = |seq: i16, len: u16| Op::Seg { flags: ACK | 8, seq, ack: 0, win: 65_535, len };
    let mut all = Vec::new();
    for (i, name) in STATES.iter().enumerate() {
        let ops = [
            Op::Send(3000),
            data(0, 1000),
            data(2000, 1000),
            data(1000, 1000),
            Op::RecvFlags(100, 1),
            Op::RecvFlags(500, 2),
            Op::RecvFlags(5000, 3),
            Op::Recv(5000),
            Op::Seg { flags: ACK, seq: 0, ack: 0, win: 65_535, len: 0 },
            Op::Wait(20),
            Op::Burst(6),
            Op::Recv(20_000),
            Op::Seg { flags: ACK | 1, seq: 0, ack: 0, win: 65_535, len: 0 },
            Op::Close,
            Op::Wait(255),
        ];
        all.push((*name, program(i as u8, 0x1f, 0x1f, &ops)));
    }
    let attacks = [
        Op::Seg { flags: 4, seq: 10, ack: 0, win: 0, len: 0 },
        Op::Seg { flags: 2, seq: 5, ack: 0, win: 100, len: 0 },
        Op::Seg { flags: ACK, seq: 0, ack: 30_000, win: 100, len: 10 },
        Op::Seg { flags: ACK | 64, seq: 0, ack: -5, win: 0, len: 0 },
        Op::Send(60_000),
        Op::Wait(40),
        Op::Opt(1),
        Op::Close,
    ];
    all.push(("established-attacks", program(2, 0x0f, 0, &attacks)));
    all
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
    add("stack", stack_programs());
    add("tcp_conn", tcp_conn_programs());
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

/// The whole-stack seeds do what they are named for: each reaches its path
/// through the stack (so the fuzzer starts from there), and the body
/// counts what a router would.
#[test]
fn stack_seeds_reach_the_paths_they_are_named_for() {
    let progs: std::collections::BTreeMap<_, _> = stack_programs().into_iter().collect();
    let run = |name: &str| skbnet_tests::fuzz_stack::run(&progs[name]);
    let s = run("arp");
    assert_eq!((s.ip.InReceives, s.drops.total()), (0, 0), "ARP is answered and learned, not counted as IP");
    let s = run("ping");
    assert_eq!((s.icmp.InEchos, s.icmp.OutEchoReps, s.ip.ForwDatagrams), (3, 3, 2));
    let s = run("ping-no-arp-answers");
    assert_eq!((s.drops.get(DropReason::NeighFailed), s.icmp.OutDestUnreachs), (3, 3));
    let s = run("udp");
    assert_eq!((s.udp.InDatagrams, s.udp.OutDatagrams, s.udp.NoPorts), (1, 1, 1), "echoed, and port unreachable");
    let s = run("udp-fragments");
    assert_eq!((s.ip.ReasmOKs, s.udp.InDatagrams, s.ip.FragCreates), (1, 1, 2), "reassembled, echoed in fragments");
    let s = run("forward-fragmenting");
    assert_eq!((s.ip.ForwDatagrams, s.ip.FragOKs, s.ip.FragFails, s.icmp.OutTimeExcds), (1, 1, 1, 1));
    let s = run("forward-fragments");
    assert_eq!((s.ip.ForwDatagrams, s.ip.FragCreates), (2, 2), "the 1500-byte fragment split again");
    // The listener answers the SYN for the router (how often is TCP's
    // business: the handshake is never completed); the other is forwarded.
    let s = run("tcp-syn");
    assert_eq!((s.tcp.InSegs, s.ip.ForwDatagrams), (1, 1));
    assert!(s.tcp.OutSegs >= 1, "a SYN-ACK");
    for name in ["tcp-train-gro", "tcp-train-lro"] {
        let s = run(name);
        assert_eq!((s.ip.InReceives, s.ip.ForwDatagrams), (1, 1), "{name}: four segments merged into one");
    }
    let s = run("reassembly-timeout");
    assert_eq!((s.ip.ReasmTimeout, s.icmp.OutTimeExcds), (1, 1));
    let s = run("odd-frames");
    assert_eq!((s.drops.get(DropReason::UnknownEtherType), s.drops.get(DropReason::BadHeaderLen)), (2, 1));
}

/// The one-connection seeds reach their states and move data: the data
/// segments are read back in order through the reordering, our data is
/// acknowledged, and the run ends with nothing left.
#[test]
fn tcp_conn_seeds_move_data_in_each_state() {
    let progs: std::collections::BTreeMap<_, _> = tcp_conn_programs().into_iter().collect();
    let run = |name: &str| skbnet_tests::fuzz_tcp::run(&progs[name]);
    for name in ["established-passive", "established-active", "fin-wait-1", "fin-wait-2"] {
        let s = run(name);
        assert!(s.read >= 3000, "{name}: read {}", s.read);
        assert!(s.stats.tcp_ext.TCPOFOQueue >= 1, "{name}: a reordered segment waited");
    }
    for name in ["established-passive", "established-active", "close-wait"] {
        assert_eq!(run(name).written, 3000, "{name}");
    }
    let s = run("syn-sent");
    assert_eq!((s.read, s.stats.tcp.ActiveOpens), (0, 1), "no SYN-ACK came: nothing to read");
    let s = run("listen");
    assert_eq!(s.read, 0);
    let s = run("established-attacks");
    assert!(s.stats.tcp_ext.TCPChallengeACK >= 1 && s.stats.tcp_ext.TCPSYNChallenge == 1, "{:?}", s.stats.tcp_ext);
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

corpus_tests!(ethernet, arp, ipv4, icmpv4, udp, tcp, pretty, checksum, nic, stack, tcp_conn);

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

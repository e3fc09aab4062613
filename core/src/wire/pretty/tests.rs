//! The printers against lines tcpdump prints for the same packets, and
//! their behaviour on cut and malformed bytes.

use super::*;
use crate::wire::{
    ArpOp, ArpRepr, EthernetRepr, Icmpv4Repr, Ipv4Repr, SackBlocks, TcpOptionsRepr, TcpRepr, UdpRepr, VlanTag,
};
use std::string::String;
use std::vec::Vec;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const MAC_A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const MAC_B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

fn ip_header(protocol: IpProtocol, payload_len: usize) -> Vec<u8> {
    let r = Ipv4Repr {
        src: A,
        dst: B,
        protocol,
        ttl: 64,
        ident: 1,
        dont_frag: true,
        payload_len: payload_len as u16,
        dscp: 0,
        ecn: 0,
    };
    let mut h = std::vec![0u8; 20];
    r.emit(&mut h).unwrap();
    h
}

fn tcp_packet(r: &TcpRepr) -> Vec<u8> {
    let mut p = ip_header(IpProtocol::TCP, r.len());
    let mut seg = std::vec![0u8; r.len()];
    r.emit(&mut seg, A, B).unwrap();
    p.extend_from_slice(&seg);
    p
}

fn syn() -> TcpRepr<'static> {
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: 123,
        ack: 0,
        flags: TcpFlags::SYN,
        window: 64240,
        urgent: 0,
        options: TcpOptionsRepr {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((1, 0)),
            sack: SackBlocks::new(),
        },
        payload: &[],
    }
}

fn show(b: &[u8]) -> String {
    std::format!("{}", Packet(b))
}

fn icmp_packet(r: &Icmpv4Repr) -> Vec<u8> {
    let mut p = ip_header(IpProtocol::ICMP, r.len());
    let mut m = std::vec![0u8; r.len()];
    r.emit(&mut m).unwrap();
    p.extend_from_slice(&m);
    p
}

fn udp_packet(payload: &[u8]) -> Vec<u8> {
    let r = UdpRepr { src_port: 5000, dst_port: 7, payload };
    let mut p = ip_header(IpProtocol::UDP, r.len());
    let mut d = std::vec![0u8; r.len()];
    r.emit(&mut d, A, B).unwrap();
    p.extend_from_slice(&d);
    p
}

#[test]
fn tcp_syn() {
    assert_eq!(
        show(&tcp_packet(&syn())),
        "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 123, win 64240, \
         options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"
    );
}

#[test]
fn tcp_data_ack_and_sack() {
    let data = TcpRepr {
        flags: TcpFlags::PSH | TcpFlags::ACK,
        ack: 999,
        options: TcpOptionsRepr {
            timestamps: Some((5, 4)),
            sack: SackBlocks::from_slice(&[(2000, 3000)]),
            ..TcpOptionsRepr::default()
        },
        payload: b"hello",
        ..syn()
    };
    assert_eq!(
        show(&tcp_packet(&data)),
        "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 123:128, ack 999, win 64240, \
         options [nop,nop,TS val 5 ecr 4,nop,nop,sack 1 {2000:3000}], length 5"
    );
    let ack = TcpRepr { flags: TcpFlags::ACK, options: TcpOptionsRepr::default(), payload: &[], ..data };
    assert_eq!(show(&tcp_packet(&ack)), "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 999, win 64240, length 0");
    let urg = TcpRepr { flags: TcpFlags::URG | TcpFlags::ACK | TcpFlags::FIN, urgent: 3, ..ack };
    assert_eq!(
        show(&tcp_packet(&urg)),
        "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [F.U], seq 123, ack 999, win 64240, urg 3, length 0"
    );
}

#[test]
fn tcp_bad_headers() {
    let mut p = tcp_packet(&syn());
    p[20 + 12] = 0x40;
    assert_eq!(show(&p), "IP 10.0.0.1.40000 > 10.0.0.2.80: tcp 40 [bad hdr length 16 - too short, < 20]");
    p[20 + 12] = 0xf0;
    assert_eq!(show(&p), "IP 10.0.0.1.40000 > 10.0.0.2.80: [bad hdr length 60 - too long, > 40]");
    let mut p = tcp_packet(&syn());
    p[20 + 20..20 + 24].copy_from_slice(&[2, 40, 5, 30]);
    assert_eq!(
        show(&p),
        "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 123, win 64240, options [[bad opt]], length 0"
    );
    let cut = tcp_packet(&syn());
    let mut cut = cut[..30].to_vec();
    cut[2..4].copy_from_slice(&30u16.to_be_bytes());
    assert_eq!(show(&cut), "IP 10.0.0.1 > 10.0.0.2: [|tcp]");
}

#[test]
fn icmp_echo_and_errors() {
    let data = [0u8; 56];
    let echo = Icmpv4Repr::EchoRequest { ident: 1, seq: 1, data: &data };
    assert_eq!(show(&icmp_packet(&echo)), "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64");
    let reply = Icmpv4Repr::EchoReply { ident: 7, seq: 9, data: &data[..8] };
    assert_eq!(show(&icmp_packet(&reply)), "IP 10.0.0.1 > 10.0.0.2: ICMP echo reply, id 7, seq 9, length 16");
    let quote = udp_packet(b"0123456789");
    let cases: [(Icmpv4Repr, &str); 8] = [
        (
            Icmpv4Repr::DstUnreachable {
                reason: DstUnreachable::PortUnreachable,
                next_hop_mtu: 0,
                quote: &quote[..28],
            },
            "ICMP 10.0.0.2 udp port 7 unreachable, length 36",
        ),
        (
            Icmpv4Repr::DstUnreachable { reason: DstUnreachable::FragNeeded, next_hop_mtu: 1400, quote: &quote[..28] },
            "ICMP 10.0.0.2 unreachable - need to frag (mtu 1400), length 36",
        ),
        (
            Icmpv4Repr::DstUnreachable { reason: DstUnreachable::FragNeeded, next_hop_mtu: 0, quote: &quote[..28] },
            "ICMP 10.0.0.2 unreachable - need to frag, length 36",
        ),
        (
            Icmpv4Repr::DstUnreachable {
                reason: DstUnreachable::HostUnreachable,
                next_hop_mtu: 0,
                quote: &quote[..28],
            },
            "ICMP host 10.0.0.2 unreachable, length 36",
        ),
        (
            Icmpv4Repr::DstUnreachable {
                reason: DstUnreachable::ProtoUnreachable,
                next_hop_mtu: 0,
                quote: &quote[..28],
            },
            "ICMP 10.0.0.2 protocol 17 unreachable, length 36",
        ),
        (
            Icmpv4Repr::DstUnreachable {
                reason: DstUnreachable::AdminProhibited,
                next_hop_mtu: 0,
                quote: &quote[..28],
            },
            "ICMP host 10.0.0.2 unreachable - admin prohibited filter, length 36",
        ),
        (
            Icmpv4Repr::TimeExceeded { reason: super::super::TimeExceeded::TtlExceeded, quote: &quote[..28] },
            "ICMP time exceeded in-transit, length 36",
        ),
        (Icmpv4Repr::ParamProblem { pointer: 8, quote: &quote[..28] }, "ICMP parameter problem - octet 8, length 36"),
    ];
    for (r, text) in cases {
        assert_eq!(show(&icmp_packet(&r)), std::format!("IP 10.0.0.1 > 10.0.0.2: {text}"));
    }
}

#[test]
fn icmp_odd_ones() {
    let mut p = icmp_packet(&Icmpv4Repr::EchoRequest { ident: 1, seq: 2, data: &[] });
    p[20] = 42;
    assert_eq!(show(&p), "IP 10.0.0.1 > 10.0.0.2: ICMP type-#42, length 8");
    let quote = udp_packet(b"x");
    let mut p =
        icmp_packet(&Icmpv4Repr::TimeExceeded { reason: super::super::TimeExceeded::FragReassembly, quote: &quote });
    assert_eq!(show(&p), "IP 10.0.0.1 > 10.0.0.2: ICMP ip reassembly time exceeded, length 37");
    p[20] = 5;
    p[21] = 1;
    p[24..28].copy_from_slice(&[10, 0, 0, 254]);
    assert_eq!(show(&p), "IP 10.0.0.1 > 10.0.0.2: ICMP redirect 10.0.0.2 to host 10.0.0.254, length 37");
    let mut cut = icmp_packet(&Icmpv4Repr::DstUnreachable {
        reason: DstUnreachable::PortUnreachable,
        next_hop_mtu: 0,
        quote: &quote[..12],
    });
    assert_eq!(show(&cut), "IP 10.0.0.1 > 10.0.0.2: ICMP [|icmp]");
    cut.truncate(26);
    cut[2..4].copy_from_slice(&26u16.to_be_bytes());
    assert_eq!(show(&cut), "IP 10.0.0.1 > 10.0.0.2: [|icmp]");
}

#[test]
fn udp_lines() {
    assert_eq!(show(&udp_packet(b"hello world!")), "IP 10.0.0.1.5000 > 10.0.0.2.7: UDP, length 12");
    let mut p = udp_packet(b"hello world!");
    p[24..26].copy_from_slice(&100u16.to_be_bytes());
    assert_eq!(show(&p), "IP 10.0.0.1.5000 > 10.0.0.2.7: UDP, bad length 92 > 12");
    p[24..26].copy_from_slice(&7u16.to_be_bytes());
    assert_eq!(show(&p), "IP 10.0.0.1.5000 > 10.0.0.2.7: truncated-udplength 7");
}

#[test]
fn fragments_as_tcpdump_shows_them() {
    // First fragment of a 3008-byte UDP datagram: the length is the whole one.
    let mut first = udp_packet(&[0u8; 1472]);
    first[24..26].copy_from_slice(&3008u16.to_be_bytes());
    let mut ip = Ipv4Packet::new_unchecked(&mut first[..]);
    ip.set_dont_frag(false);
    ip.set_more_frags(true);
    ip.fill_checksum();
    assert_eq!(show(&first), "IP 10.0.0.1.5000 > 10.0.0.2.7: UDP, length 3000");
    let mut ip = Ipv4Packet::new_unchecked(&mut first[..]);
    ip.set_frag_offset(1480);
    assert_eq!(show(&first), "IP 10.0.0.1 > 10.0.0.2: ip-proto-17");
}

#[test]
fn ip_level_problems() {
    let p = udp_packet(b"abc");
    assert_eq!(show(&p[..19]), "IP [|ip]");
    let mut v6 = p.clone();
    v6[0] = 0x65;
    assert_eq!(show(&v6), "IP bad-version 6");
    let mut h = p.clone();
    h[0] = 0x43;
    assert_eq!(show(&h), "IP bad-hlen 12");
    h[0] = 0x4f;
    assert_eq!(show(&h), "IP [|ip]");
    let mut l = p.clone();
    l[2..4].copy_from_slice(&10u16.to_be_bytes());
    assert_eq!(show(&l), "IP bad-len 10");
    assert_eq!(show(&p[..29]), "IP truncated-ip - 2 bytes missing! 10.0.0.1.5000 > 10.0.0.2.7: UDP, bad length 3 > 1");
    let mut gre = p.clone();
    gre[9] = 47;
    assert_eq!(show(&gre), "IP 10.0.0.1 > 10.0.0.2: ip-proto-47 11");
}

fn frame(vlan: Option<VlanTag>, ethertype: EtherType, payload: &[u8]) -> Vec<u8> {
    let r = EthernetRepr { dst: MAC_B, src: MAC_A, vlan, ethertype };
    let mut f = std::vec![0u8; r.header_len()];
    r.emit(&mut f).unwrap();
    f.extend_from_slice(payload);
    f
}

#[test]
fn frames_print_like_tcpdump_e() {
    let f = frame(None, EtherType::IPV4, &tcp_packet(&syn()));
    assert_eq!(
        std::format!("{}", Frame(&f)),
        "02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype IPv4 (0x0800), length 74: \
         10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 123, win 64240, \
         options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"
    );
    let tagged = frame(Some(VlanTag { pcp: 3, dei: false, vid: 10 }), EtherType::IPV4, &udp_packet(b"hi"));
    assert_eq!(
        std::format!("{}", Frame(&tagged)),
        "02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype 802.1Q (0x8100), length 48: \
         vlan 10, p 3, ethertype IPv4 (0x0800), 10.0.0.1.5000 > 10.0.0.2.7: UDP, length 2"
    );
    let other = frame(None, EtherType(0x88b5), &[1, 2, 3]);
    assert_eq!(
        std::format!("{}", Frame(&other)),
        "02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype Unknown (0x88b5), length 17"
    );
    assert_eq!(std::format!("{}", Frame(&other[..13])), "[|ether]");
    assert_eq!(std::format!("{}", Frame(&tagged[..17])).rsplit(": ").next(), Some("[|vlan]"));
}

#[test]
fn arp_lines() {
    let req = ArpRepr { op: ArpOp::Request, sender_hw: MAC_A, sender_ip: A, target_hw: MacAddr::ZERO, target_ip: B };
    let mut b = [0u8; 28];
    req.emit(&mut b).unwrap();
    let p = ArpPacket::new_checked(&b[..]).unwrap();
    assert_eq!(std::format!("{p}"), "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28");
    let f = frame(None, EtherType::ARP, &b);
    assert_eq!(
        std::format!("{}", Frame(&f)),
        "02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype ARP (0x0806), length 42: \
         Request who-has 10.0.0.2 tell 10.0.0.1, length 28"
    );
    let reply = ArpRepr { op: ArpOp::Reply, sender_hw: MAC_B, sender_ip: B, target_hw: MAC_A, target_ip: A };
    reply.emit(&mut b).unwrap();
    assert_eq!(
        std::format!("{}", ArpPacket::new_unchecked(&b[..])),
        "ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28"
    );
    let unicast_probe = ArpRepr { target_hw: MAC_B, ..req };
    unicast_probe.emit(&mut b).unwrap();
    assert_eq!(
        std::format!("{}", ArpPacket::new_unchecked(&b[..])),
        "ARP, Request who-has 10.0.0.2 (02:00:00:00:00:02) tell 10.0.0.1, length 28"
    );
    ArpRepr { op: ArpOp::Other(3), ..req }.emit(&mut b).unwrap();
    assert_eq!(std::format!("{}", ArpPacket::new_unchecked(&b[..])), "ARP, opcode 3, 10.0.0.1 > 10.0.0.2, length 28");
    b[1] = 6;
    assert_eq!(std::format!("{}", ArpPacket::new_unchecked(&b[..])), "ARP, htype 6, ptype 0x0800, length 28");
    assert_eq!(std::format!("{}", ArpPacket::new_unchecked(&b[..3])), "ARP, [|arp]");
}

#[test]
fn view_displays() {
    let p = tcp_packet(&syn());
    assert_eq!(std::format!("{}", Ipv4Packet::new_unchecked(&p[..])), show(&p));
    assert_eq!(
        std::format!("{}", TcpPacket::new_unchecked(&p[20..])),
        "40000 > 80: Flags [S], seq 123, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"
    );
    let f = frame(None, EtherType::IPV4, &p);
    assert_eq!(std::format!("{}", EthernetFrame::new_unchecked(&f[..])), std::format!("{}", Frame(&f)));
}

#[test]
fn never_panics_on_prefixes_of_real_packets() {
    let quote = udp_packet(b"q");
    let packets = [
        frame(None, EtherType::IPV4, &tcp_packet(&syn())),
        frame(Some(VlanTag::default()), EtherType::IPV4, &udp_packet(b"abc")),
        frame(
            None,
            EtherType::IPV4,
            &icmp_packet(&Icmpv4Repr::DstUnreachable {
                reason: DstUnreachable::PortUnreachable,
                next_hop_mtu: 0,
                quote: &quote,
            }),
        ),
    ];
    for f in &packets {
        for n in 0..=f.len() {
            let mut s = String::new();
            fmt::write(&mut s, format_args!("{}", Frame(&f[..n]))).unwrap();
            assert!(!s.is_empty());
            fmt::write(&mut s, format_args!("{}", Packet(f.get(14..n).unwrap_or(&[])))).unwrap();
        }
    }
}

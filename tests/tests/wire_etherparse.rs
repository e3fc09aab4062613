//! Differential tests of `skbnet::wire` against etherparse, an independent
//! implementation: what etherparse builds we parse to the same fields, and
//! what we build etherparse parses to the same fields with checksums it
//! finds valid. Proptest generates thousands of packets per run.

use std::net::Ipv4Addr;

use etherparse::icmpv4::{DestUnreachableHeader, ParameterProblemHeader, TimeExceededCode};
use etherparse::{
    ArpHardwareId, ArpOperation, EtherType as EpEtherType, IcmpEchoHeader, Icmpv4Type as EpIcmpType, IpNumber,
    Ipv4Header, LinkExtHeader, NetHeaders, PacketBuilder, PacketHeaders, SingleVlanHeader, TcpOptionElement,
    TransportHeader, VlanId, VlanPcp,
};
use proptest::prelude::*;
use skbnet::wire::{
    ArpOp, ArpPacket, ArpRepr, DstUnreachable, EtherType, EthernetFrame, EthernetRepr, Icmpv4Packet, Icmpv4Repr,
    Icmpv4Type, IpProtocol, Ipv4Packet, Ipv4Repr, MacAddr, SackBlocks, TcpFlags, TcpOption, TcpOptionsRepr, TcpPacket,
    TcpRepr, TimeExceeded, UdpPacket, UdpRepr, VlanTag,
};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(1000)
}

fn vlan_tag() -> impl Strategy<Value = Option<VlanTag>> {
    proptest::option::of((0u8..8, any::<bool>(), 0u16..4096).prop_map(|(pcp, dei, vid)| VlanTag { pcp, dei, vid }))
}

fn addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

/// etherparse's Ethernet (and VLAN) step for these addresses and tag.
fn ep_link(src: [u8; 6], dst: [u8; 6], vlan: Option<VlanTag>) -> etherparse::PacketBuilderStep<etherparse::VlanHeader> {
    let tag = vlan.unwrap_or_default();
    let header = SingleVlanHeader {
        pcp: VlanPcp::try_new(tag.pcp).unwrap(),
        drop_eligible_indicator: tag.dei,
        vlan_id: VlanId::try_new(tag.vid).unwrap(),
        ether_type: EpEtherType::IPV4,
    };
    PacketBuilder::ethernet2(src, dst).vlan(etherparse::VlanHeader::Single(header))
}

/// Our Ethernet view of `frame`, checked against the inputs.
fn our_frame(frame: &[u8], src: [u8; 6], dst: [u8; 6], vlan: Option<VlanTag>, ethertype: EtherType) -> &[u8] {
    let f = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!((f.src(), f.dst(), f.vlan(), f.ethertype()), (MacAddr(src), MacAddr(dst), vlan, ethertype));
    &frame[f.header_len()..]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn etherparse_udp_we_parse(
        src_mac in any::<[u8; 6]>(), dst_mac in any::<[u8; 6]>(), vlan in vlan_tag(),
        src in addr(), dst in addr(), ttl in any::<u8>(), sport in any::<u16>(), dport in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut frame = Vec::new();
        let builder = match vlan {
            Some(_) => ep_link(src_mac, dst_mac, vlan).ipv4(src.octets(), dst.octets(), ttl).udp(sport, dport),
            None => PacketBuilder::ethernet2(src_mac, dst_mac).ipv4(src.octets(), dst.octets(), ttl).udp(sport, dport),
        };
        builder.write(&mut frame, &payload).unwrap();
        let ip_bytes = our_frame(&frame, src_mac, dst_mac, vlan, EtherType::IPV4);
        let ip = Ipv4Packet::new_checked(ip_bytes).unwrap();
        prop_assert!(ip.verify_checksum());
        prop_assert_eq!((ip.src(), ip.dst(), ip.ttl(), ip.protocol()), (src, dst, ttl, IpProtocol::UDP));
        prop_assert_eq!(usize::from(ip.total_len()), 28 + payload.len());
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        prop_assert_eq!((udp.src_port(), udp.dst_port(), usize::from(udp.len())), (sport, dport, 8 + payload.len()));
        prop_assert_eq!(udp.payload(), &payload[..]);
        prop_assert!(udp.checksum() != 0 && udp.verify_checksum(src, dst));
    }

    #[test]
    fn etherparse_ipv4_header_we_parse(
        src in addr(), dst in addr(), ttl in any::<u8>(), proto in any::<u8>(), ident in any::<u16>(),
        dscp in 0u8..64, ecn in 0u8..4, df in any::<bool>(), mf in any::<bool>(), frag in 0u16..8192,
        options in (0usize..11).prop_flat_map(|n| proptest::collection::vec(any::<u8>(), 4 * n)),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut h = Ipv4Header::new(0, ttl, IpNumber(proto), src.octets(), dst.octets()).unwrap();
        h.identification = ident;
        h.dscp = etherparse::IpDscp::try_new(dscp).unwrap();
        h.ecn = etherparse::IpEcn::try_new(ecn).unwrap();
        h.dont_fragment = df;
        h.more_fragments = mf;
        h.fragment_offset = etherparse::IpFragOffset::try_new(frag).unwrap();
        h.options = etherparse::Ipv4Options::try_from(&options[..]).unwrap();
        h.set_payload_len(payload.len()).unwrap();
        h.header_checksum = h.calc_header_checksum();
        let mut bytes = Vec::new();
        h.write(&mut bytes).unwrap();
        bytes.extend_from_slice(&payload);
        let p = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        prop_assert!(p.verify_checksum());
        prop_assert_eq!((p.src(), p.dst(), p.ttl(), p.protocol().0, p.ident()), (src, dst, ttl, proto, ident));
        prop_assert_eq!((p.dscp(), p.ecn(), p.dont_frag(), p.more_frags()), (dscp, ecn, df, mf));
        prop_assert_eq!(p.frag_offset(), frag * 8);
        prop_assert_eq!((p.header_len(), p.options(), p.payload()), (20 + options.len(), &options[..], &payload[..]));
        prop_assert_eq!(p.checksum(), h.header_checksum);
    }

    #[test]
    fn etherparse_tcp_with_options_we_parse(
        src in addr(), dst in addr(), sport in any::<u16>(), dport in any::<u16>(), seq in any::<u32>(),
        ack in any::<u32>(), window in any::<u16>(), flags in any::<u8>(),
        elements in proptest::collection::vec(tcp_element(), 0..6),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let elements = fit_options(elements);
        let mut header = etherparse::TcpHeader::new(sport, dport, seq, window);
        header.acknowledgment_number = ack;
        set_ep_flags(&mut header, flags);
        header.set_options(&elements).unwrap();
        let mut packet = Vec::new();
        PacketBuilder::ipv4(src.octets(), dst.octets(), 64).tcp_header(header).write(&mut packet, &payload).unwrap();
        let ip = Ipv4Packet::new_checked(&packet[..]).unwrap();
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        prop_assert_eq!((tcp.src_port(), tcp.dst_port(), tcp.seq_number(), tcp.ack_number()), (sport, dport, seq, ack));
        prop_assert_eq!((tcp.window(), tcp.flags().bits(), tcp.payload()), (window, flags, &payload[..]));
        prop_assert!(tcp.verify_checksum(src, dst));
        let ours: Vec<TcpOption> = tcp.options().map(Result::unwrap)
            .filter(|o| !matches!(o, TcpOption::Nop | TcpOption::Eol)).collect();
        let theirs: Vec<TcpOption> = elements.iter().filter_map(from_ep_option).collect();
        prop_assert_eq!(ours, theirs);
    }

    #[test]
    fn etherparse_icmp_we_parse(kind in 0u8..5, id in any::<u16>(), seq in any::<u16>(), code in 0u8..16,
        mtu in any::<u16>(), data in proptest::collection::vec(any::<u8>(), 0..100)) {
        let (src, dst) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let echo = IcmpEchoHeader { id, seq };
        let t = match kind {
            0 => EpIcmpType::EchoRequest(echo),
            1 => EpIcmpType::EchoReply(echo),
            2 => EpIcmpType::DestinationUnreachable(DestUnreachableHeader::from_values(code, mtu).unwrap()),
            3 => EpIcmpType::TimeExceeded(if code % 2 == 0 { TimeExceededCode::TtlExceededInTransit } else { TimeExceededCode::FragmentReassemblyTimeExceeded }),
            _ => EpIcmpType::ParameterProblem(ParameterProblemHeader::PointerIndicatesError(code)),
        };
        let mut packet = Vec::new();
        PacketBuilder::ipv4(src, dst, 64).icmpv4(t.clone()).write(&mut packet, &data).unwrap();
        let ip = Ipv4Packet::new_checked(&packet[..]).unwrap();
        prop_assert_eq!(ip.protocol(), IpProtocol::ICMP);
        let p = Icmpv4Packet::new_checked(ip.payload()).unwrap();
        prop_assert!(p.verify_checksum());
        prop_assert_eq!(p.data(), &data[..]);
        match t {
            EpIcmpType::EchoRequest(_) | EpIcmpType::EchoReply(_) => {
                let want = if kind == 0 { Icmpv4Type::ECHO_REQUEST } else { Icmpv4Type::ECHO_REPLY };
                prop_assert_eq!((p.msg_type(), p.echo_ident(), p.echo_seq()), (want, id, seq));
            }
            EpIcmpType::DestinationUnreachable(h) => {
                prop_assert_eq!(p.dst_unreachable(), Some(DstUnreachable::from_code(code)));
                let want_mtu = if let DestUnreachableHeader::FragmentationNeeded { next_hop_mtu } = h { next_hop_mtu } else { 0 };
                prop_assert_eq!(p.next_hop_mtu(), want_mtu);
            }
            EpIcmpType::TimeExceeded(c) => prop_assert_eq!(p.time_exceeded(), Some(TimeExceeded::from_code(c.code_u8()))),
            _ => prop_assert_eq!((p.msg_type(), p.pointer()), (Icmpv4Type::PARAM_PROBLEM, code)),
        }
    }

    #[test]
    fn etherparse_arp_we_parse(src_mac in any::<[u8; 6]>(), tha in any::<[u8; 6]>(), spa in addr(), tpa in addr(), reply in any::<bool>()) {
        let op = if reply { ArpOperation::REPLY } else { ArpOperation::REQUEST };
        let arp = etherparse::ArpPacket::new(ArpHardwareId::ETHERNET, EpEtherType::IPV4, op, &src_mac, &spa.octets(), &tha, &tpa.octets()).unwrap();
        let mut frame = Vec::new();
        PacketBuilder::ethernet2(src_mac, [0xff; 6]).arp(arp).write(&mut frame).unwrap();
        let body = our_frame(&frame, src_mac, [0xff; 6], None, EtherType::ARP);
        let p = ArpPacket::new_checked(body).unwrap();
        let want = ArpRepr { op: if reply { ArpOp::Reply } else { ArpOp::Request }, sender_hw: MacAddr(src_mac), sender_ip: spa, target_hw: MacAddr(tha), target_ip: tpa };
        prop_assert_eq!(ArpRepr::parse(&p), want);
    }

    #[test]
    fn we_build_udp_etherparse_parses(
        src_mac in any::<[u8; 6]>(), dst_mac in any::<[u8; 6]>(), vlan in vlan_tag(), src in addr(), dst in addr(),
        ttl in any::<u8>(), ident in any::<u16>(), df in any::<bool>(), dscp in 0u8..64, ecn in 0u8..4,
        sport in any::<u16>(), dport in any::<u16>(), payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let udp = UdpRepr { src_port: sport, dst_port: dport, payload: &payload };
        let ip = Ipv4Repr { src, dst, protocol: IpProtocol::UDP, ttl, ident, dont_frag: df, payload_len: udp.len() as u16, dscp, ecn };
        let frame = build_frame(MacAddr(src_mac), MacAddr(dst_mac), vlan, &ip, |b| udp.emit(b, src, dst).unwrap());
        let h = PacketHeaders::from_ethernet_slice(&frame).unwrap();
        check_link(&h, src_mac, dst_mac, vlan);
        let iph = check_ip(&h, &ip);
        let Some(TransportHeader::Udp(u)) = &h.transport else { panic!("not UDP: {:?}", h.transport) };
        prop_assert_eq!((u.source_port, u.destination_port, usize::from(u.length)), (sport, dport, 8 + payload.len()));
        prop_assert_eq!(h.payload.slice(), &payload[..]);
        prop_assert_eq!(u.checksum, u.calc_checksum_ipv4(&iph, &payload).unwrap());
    }

    #[test]
    fn we_build_tcp_etherparse_parses(
        src in addr(), dst in addr(), sport in any::<u16>(), dport in any::<u16>(), seq in any::<u32>(), ack in any::<u32>(),
        flags in any::<u8>(), window in any::<u16>(), urgent in any::<u16>(), options in our_options(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let tcp = TcpRepr { src_port: sport, dst_port: dport, seq, ack, flags: TcpFlags::from_bits(flags), window, urgent, options, payload: &payload };
        let ip = Ipv4Repr { src, dst, protocol: IpProtocol::TCP, ttl: 64, ident: 1, dont_frag: true, payload_len: tcp.len() as u16, dscp: 0, ecn: 0 };
        let frame = build_frame(MacAddr([2; 6]), MacAddr([4; 6]), None, &ip, |b| tcp.emit(b, src, dst).unwrap());
        let h = PacketHeaders::from_ethernet_slice(&frame).unwrap();
        let iph = check_ip(&h, &ip);
        let Some(TransportHeader::Tcp(t)) = &h.transport else { panic!("not TCP: {:?}", h.transport) };
        prop_assert_eq!((t.source_port, t.destination_port, t.sequence_number, t.acknowledgment_number), (sport, dport, seq, ack));
        prop_assert_eq!((t.window_size, t.urgent_pointer, ep_flags(t)), (window, urgent, flags));
        prop_assert_eq!(h.payload.slice(), &payload[..]);
        prop_assert_eq!(t.checksum, t.calc_checksum_ipv4(&iph, &payload).unwrap());
        let theirs: Vec<TcpOption> = t.options.elements_iter().map(Result::unwrap).filter_map(|e| from_ep_option(&e)).collect();
        let reread = TcpOptionsRepr::parse(skbnet::wire::TcpOptions::new(&frame[14 + 20 + 20..14 + 20 + tcp.header_len()]));
        prop_assert_eq!(reread, options);
        prop_assert_eq!(theirs, expected_options(&options));
    }

    #[test]
    fn we_build_icmp_etherparse_parses(kind in 0u8..5, id in any::<u16>(), seq in any::<u16>(), code in 0u8..16,
        mtu in any::<u16>(), data in proptest::collection::vec(any::<u8>(), 0..100)) {
        let msg = match kind {
            0 => Icmpv4Repr::EchoRequest { ident: id, seq, data: &data },
            1 => Icmpv4Repr::EchoReply { ident: id, seq, data: &data },
            2 => Icmpv4Repr::DstUnreachable { reason: DstUnreachable::from_code(code), next_hop_mtu: if code == 4 { mtu } else { 0 }, quote: &data },
            3 => Icmpv4Repr::TimeExceeded { reason: TimeExceeded::from_code(code % 2), quote: &data },
            _ => Icmpv4Repr::ParamProblem { pointer: code, quote: &data },
        };
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let ip = Ipv4Repr { src, dst, protocol: IpProtocol::ICMP, ttl: 64, ident: 9, dont_frag: false, payload_len: msg.len() as u16, dscp: 0, ecn: 0 };
        let frame = build_frame(MacAddr([2; 6]), MacAddr([4; 6]), None, &ip, |b| msg.emit(b).unwrap());
        let h = PacketHeaders::from_ethernet_slice(&frame).unwrap();
        check_ip(&h, &ip);
        let Some(TransportHeader::Icmpv4(i)) = &h.transport else { panic!("not ICMP: {:?}", h.transport) };
        prop_assert_eq!(h.payload.slice(), &data[..]);
        prop_assert_eq!(i.checksum, i.icmp_type.calc_checksum(&data));
        let want = match kind {
            0 => EpIcmpType::EchoRequest(IcmpEchoHeader { id, seq }),
            1 => EpIcmpType::EchoReply(IcmpEchoHeader { id, seq }),
            2 => EpIcmpType::DestinationUnreachable(DestUnreachableHeader::from_values(code, if code == 4 { mtu } else { 0 }).unwrap()),
            3 => EpIcmpType::TimeExceeded(if code % 2 == 0 { TimeExceededCode::TtlExceededInTransit } else { TimeExceededCode::FragmentReassemblyTimeExceeded }),
            _ => EpIcmpType::ParameterProblem(ParameterProblemHeader::PointerIndicatesError(code)),
        };
        prop_assert_eq!(&i.icmp_type, &want);
    }

    #[test]
    fn we_build_arp_etherparse_parses(sha in any::<[u8; 6]>(), tha in any::<[u8; 6]>(), spa in addr(), tpa in addr(), op in 1u16..3) {
        let r = ArpRepr { op: ArpOp::from_code(op), sender_hw: MacAddr(sha), sender_ip: spa, target_hw: MacAddr(tha), target_ip: tpa };
        let eth = EthernetRepr { dst: MacAddr::BROADCAST, src: MacAddr(sha), vlan: None, ethertype: EtherType::ARP };
        let mut frame = vec![0u8; 42];
        eth.emit(&mut frame).unwrap();
        r.emit(&mut frame[14..]).unwrap();
        let h = PacketHeaders::from_ethernet_slice(&frame).unwrap();
        let Some(NetHeaders::Arp(a)) = &h.net else { panic!("not ARP: {:?}", h.net) };
        let a = a.try_eth_ipv4().unwrap();
        prop_assert_eq!((a.operation, a.sender_mac, a.sender_ipv4, a.target_mac, a.target_ipv4), (ArpOperation(op), sha, spa.octets(), tha, tpa.octets()));
    }
}

/// An Ethernet frame around an IPv4 header from `ip` and an L4 part that
/// `l4` writes into the rest.
fn build_frame(
    src: MacAddr,
    dst: MacAddr,
    vlan: Option<VlanTag>,
    ip: &Ipv4Repr,
    l4: impl FnOnce(&mut [u8]) -> usize,
) -> Vec<u8> {
    let eth = EthernetRepr { dst, src, vlan, ethertype: EtherType::IPV4 };
    let mut frame = vec![0u8; eth.header_len() + 20 + usize::from(ip.payload_len)];
    let at = eth.emit(&mut frame).unwrap();
    ip.emit(&mut frame[at..]).unwrap();
    assert_eq!(l4(&mut frame[at + 20..]), usize::from(ip.payload_len));
    frame
}

fn check_link(h: &PacketHeaders<'_>, src: [u8; 6], dst: [u8; 6], vlan: Option<VlanTag>) {
    let eth = h.link.clone().and_then(|l| l.ethernet2()).unwrap();
    assert_eq!((eth.source, eth.destination), (src, dst));
    let theirs = h.link_exts.first().map(|e| match e {
        LinkExtHeader::Vlan(v) => {
            VlanTag { pcp: v.pcp.value(), dei: v.drop_eligible_indicator, vid: v.vlan_id.value() }
        }
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(theirs, vlan);
}

/// The IPv4 header etherparse read, compared with what we built; it must
/// carry a valid checksum.
fn check_ip(h: &PacketHeaders<'_>, ip: &Ipv4Repr) -> Ipv4Header {
    let Some(NetHeaders::Ipv4(iph, _)) = &h.net else { panic!("not IPv4: {:?}", h.net) };
    assert_eq!((Ipv4Addr::from(iph.source), Ipv4Addr::from(iph.destination)), (ip.src, ip.dst));
    assert_eq!(
        (iph.time_to_live, iph.protocol.0, iph.identification, iph.dont_fragment),
        (ip.ttl, ip.protocol.0, ip.ident, ip.dont_frag)
    );
    assert_eq!((iph.dscp.value(), iph.ecn.value(), iph.total_len), (ip.dscp, ip.ecn, ip.payload_len + 20));
    assert_eq!(iph.header_checksum, iph.calc_header_checksum());
    iph.clone()
}

fn tcp_element() -> impl Strategy<Value = TcpOptionElement> {
    prop_oneof![
        Just(TcpOptionElement::Noop),
        any::<u16>().prop_map(TcpOptionElement::MaximumSegmentSize),
        any::<u8>().prop_map(TcpOptionElement::WindowScale),
        Just(TcpOptionElement::SelectiveAcknowledgementPermitted),
        (any::<(u32, u32)>(), proptest::collection::vec(any::<(u32, u32)>(), 0..4)).prop_map(|(first, rest)| {
            let mut more = [None; 3];
            for (slot, b) in more.iter_mut().zip(rest) {
                *slot = Some(b);
            }
            TcpOptionElement::SelectiveAcknowledgement(first, more)
        }),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| TcpOptionElement::Timestamp(a, b)),
    ]
}

/// Bytes an etherparse option element takes.
fn ep_len(e: &TcpOptionElement) -> usize {
    match e {
        TcpOptionElement::Noop => 1,
        TcpOptionElement::MaximumSegmentSize(_) => 4,
        TcpOptionElement::WindowScale(_) => 3,
        TcpOptionElement::SelectiveAcknowledgementPermitted => 2,
        TcpOptionElement::SelectiveAcknowledgement(_, more) => 10 + 8 * more.iter().flatten().count(),
        TcpOptionElement::Timestamp(..) => 10,
    }
}

/// The longest prefix of `elements` that fits in 40 option bytes.
fn fit_options(elements: Vec<TcpOptionElement>) -> Vec<TcpOptionElement> {
    let mut used = 0;
    elements
        .into_iter()
        .take_while(|e| {
            used += ep_len(e);
            used <= 40
        })
        .collect()
}

fn from_ep_option(e: &TcpOptionElement) -> Option<TcpOption> {
    Some(match *e {
        TcpOptionElement::Noop => return None,
        TcpOptionElement::MaximumSegmentSize(m) => TcpOption::Mss(m),
        TcpOptionElement::WindowScale(w) => TcpOption::WindowScale(w),
        TcpOptionElement::SelectiveAcknowledgementPermitted => TcpOption::SackPermitted,
        TcpOptionElement::SelectiveAcknowledgement(first, more) => {
            let blocks: Vec<(u32, u32)> = std::iter::once(first).chain(more.into_iter().flatten()).collect();
            TcpOption::Sack(SackBlocks::from_slice(&blocks))
        }
        TcpOptionElement::Timestamp(val, ecr) => TcpOption::Timestamps { tsval: val, tsecr: ecr },
    })
}

/// Our options, in the order Linux's layout writes them.
fn expected_options(o: &TcpOptionsRepr) -> Vec<TcpOption> {
    let mut v = Vec::new();
    v.extend(o.mss.map(TcpOption::Mss));
    if o.sack_permitted {
        v.push(TcpOption::SackPermitted);
    }
    v.extend(o.timestamps.map(|(tsval, tsecr)| TcpOption::Timestamps { tsval, tsecr }));
    v.extend(o.window_scale.map(TcpOption::WindowScale));
    if !o.sack.is_empty() {
        v.push(TcpOption::Sack(o.sack));
    }
    v
}

/// Option sets whose SACK blocks fit beside the rest (as the TCP layer
/// builds them: SYN options never carry blocks).
fn our_options() -> impl Strategy<Value = TcpOptionsRepr> {
    let syn = (any::<Option<u16>>(), any::<Option<u8>>(), any::<bool>(), any::<Option<(u32, u32)>>()).prop_map(
        |(mss, window_scale, sack_permitted, timestamps)| TcpOptionsRepr {
            mss,
            window_scale,
            sack_permitted,
            timestamps,
            sack: SackBlocks::new(),
        },
    );
    let data = (any::<Option<(u32, u32)>>(), proptest::collection::vec(any::<(u32, u32)>(), 0..5)).prop_map(
        |(timestamps, blocks)| {
            let room = if timestamps.is_some() { 3 } else { 4 };
            let n = blocks.len().min(room);
            TcpOptionsRepr { timestamps, sack: SackBlocks::from_slice(&blocks[..n]), ..TcpOptionsRepr::default() }
        },
    );
    prop_oneof![syn, data]
}

fn set_ep_flags(h: &mut etherparse::TcpHeader, bits: u8) {
    let b = |i: u8| bits & (1 << i) != 0;
    (h.fin, h.syn, h.rst, h.psh, h.ack, h.urg, h.ece, h.cwr) = (b(0), b(1), b(2), b(3), b(4), b(5), b(6), b(7));
}

fn ep_flags(h: &etherparse::TcpHeader) -> u8 {
    [h.fin, h.syn, h.rst, h.psh, h.ack, h.urg, h.ece, h.cwr].iter().enumerate().map(|(i, &f)| u8::from(f) << i).sum()
}

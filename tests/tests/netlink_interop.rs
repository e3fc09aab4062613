//! skbnet's netlink against an independent implementation,
//! netlink-packet-route (and netlink-packet-core under it): every message
//! type skbnet reads or writes is encoded by one side and decoded by the
//! other, both ways, and a world carries out netlink-packet-route's
//! requests and answers in messages netlink-packet-route reads.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkDeserializable, NetlinkHeader,
    NetlinkMessage, NetlinkPayload, NetlinkSerializable,
};
use netlink_packet_route::address::{AddressAttribute, AddressHeader, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoPortKind, InfoVeth, LinkAttribute, LinkFlags, LinkHeader, LinkInfo, LinkLayerType,
    LinkMessage, State,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteMetric, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use skbnet::ip::fib::Route;
use skbnet::netlink::NlSock;
use skbnet::netlink::addr::{AddrMsg, CacheInfo, IfAddrMsg};
use skbnet::netlink::family::{NftMsg, NsMsg};
use skbnet::netlink::link::{IfInfoMsg, LinkKind, LinkMsg, NetnsRef, VethPeer};
use skbnet::netlink::msg::{NlWriter, NoRoom, messages};
use skbnet::netlink::route::RouteMsg;
use skbnet::netlink::uapi as u;
use skbnet::netns::{Name, NsId, SmallWorldStorage, World};
use skbnet::skb::{BufInfo, Head, OwnerSlot, PoolParts, SkbPool};
use skbnet::wire::MacAddr;

type Msg = NetlinkMessage<RouteNetlinkMessage>;

fn name(s: &str) -> Option<Name> {
    Some(Name::try_from(s).unwrap())
}

/// One of our messages: header and body.
fn ours(ty: u16, flags: u16, seq: u32, body: impl FnOnce(&mut NlWriter<'_>) -> Result<(), NoRoom>) -> Vec<u8> {
    let mut buf = vec![0u8; 2048];
    let mut w = NlWriter::new(&mut buf);
    let m = w.begin(ty, flags, seq, 77).unwrap();
    body(&mut w).unwrap();
    w.end(m);
    let n = w.len();
    buf.truncate(n);
    buf
}

/// Decode with netlink-packet-route, checking the header.
fn theirs(bytes: &[u8], seq: u32) -> RouteNetlinkMessage {
    let m = Msg::deserialize(bytes).expect("netlink-packet-route decodes it");
    assert_eq!(m.header.length as usize, bytes.len());
    assert_eq!((m.header.sequence_number, m.header.port_number), (seq, 77));
    match m.payload {
        NetlinkPayload::InnerMessage(x) => x,
        other => panic!("{other:?}"),
    }
}

/// Encode theirs.
fn encode(flags: u16, seq: u32, inner: RouteNetlinkMessage) -> Vec<u8> {
    let mut h = NetlinkHeader::default();
    h.flags = flags;
    h.sequence_number = seq;
    h.port_number = 77;
    let mut m = Msg::new(h, NetlinkPayload::InnerMessage(inner));
    m.finalize();
    let mut buf = vec![0u8; m.buffer_len()];
    m.serialize(&mut buf);
    buf
}

/// The one message of `bytes`, by our parser: header type and payload.
fn parse_ours(bytes: &[u8]) -> (skbnet::netlink::NlHeader, Vec<u8>) {
    let all: Vec<_> = messages(bytes).collect();
    assert_eq!(all.len(), 1);
    let m = all[0].unwrap();
    assert_eq!(m.header.len as usize, bytes.len());
    (m.header, m.payload.to_vec())
}

fn veth_request() -> LinkMsg {
    LinkMsg {
        name: name("veth0"),
        mtu: Some(1400),
        kind: Some(LinkKind::Veth),
        peer: Some(VethPeer { name: name("veth1"), netns: Some(NetnsRef::Fd(1)), ..VethPeer::default() }),
        ..LinkMsg::default()
    }
}

#[test]
fn links_we_write_decode_with_netlink_packet_route() {
    // RTM_NEWLINK creating a veth pair, its peer in namespace 1.
    let b = ours(u::RTM_NEWLINK, u::NLM_F_REQUEST | u::NLM_F_CREATE | u::NLM_F_EXCL, 1, |w| veth_request().emit(w));
    let RouteNetlinkMessage::NewLink(l) = theirs(&b, 1) else { panic!() };
    assert!(l.attributes.contains(&LinkAttribute::IfName("veth0".into())));
    assert!(l.attributes.contains(&LinkAttribute::Mtu(1400)));
    let info =
        l.attributes.iter().find_map(|a| if let LinkAttribute::LinkInfo(i) = a { Some(i) } else { None }).unwrap();
    assert!(info.contains(&LinkInfo::Kind(InfoKind::Veth)));
    let peer = info
        .iter()
        .find_map(|i| if let LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))) = i { Some(p) } else { None })
        .expect("the peer");
    assert!(peer.attributes.contains(&LinkAttribute::IfName("veth1".into())));
    assert!(peer.attributes.contains(&LinkAttribute::NetNsFd(1)));

    // RTM_NEWLINK moving a link and setting it up; RTM_DELLINK; RTM_GETLINK by name.
    let set = LinkMsg {
        header: IfInfoMsg { index: 4, flags: u::IFF_UP, change: u::IFF_UP, ..IfInfoMsg::default() },
        netns: Some(NetnsRef::Pid(2)),
        master: Some(9),
        ..LinkMsg::default()
    };
    let RouteNetlinkMessage::NewLink(l) = theirs(&ours(u::RTM_NEWLINK, u::NLM_F_REQUEST, 2, |w| set.emit(w)), 2) else {
        panic!()
    };
    assert_eq!((l.header.index, l.header.flags, l.header.change_mask), (4, LinkFlags::Up, LinkFlags::Up));
    assert!(l.attributes.contains(&LinkAttribute::NetNsPid(2)) && l.attributes.contains(&LinkAttribute::Controller(9)));
    let del = LinkMsg { header: IfInfoMsg { index: 4, ..IfInfoMsg::default() }, ..LinkMsg::default() };
    let RouteNetlinkMessage::DelLink(l) = theirs(&ours(u::RTM_DELLINK, u::NLM_F_REQUEST, 3, |w| del.emit(w)), 3) else {
        panic!()
    };
    assert_eq!(l.header.index, 4);
    let get = LinkMsg { name: name("br0"), ..LinkMsg::default() };
    let RouteNetlinkMessage::GetLink(l) = theirs(&ours(u::RTM_GETLINK, u::NLM_F_REQUEST, 4, |w| get.emit(w)), 4) else {
        panic!()
    };
    assert_eq!(l.attributes, [LinkAttribute::IfName("br0".into())]);

    // A reply: a bridge port whose peer lives in namespace 1.
    let reply = LinkMsg {
        header: IfInfoMsg {
            family: 0,
            ty: u::ARPHRD_ETHER,
            index: 5,
            flags: u::IFF_UP | u::IFF_BROADCAST | u::IFF_MULTICAST | u::IFF_RUNNING | u::IFF_LOWER_UP,
            change: 0,
        },
        name: name("veth0"),
        address: Some(MacAddr([2, 1, 2, 3, 4, 5])),
        broadcast: Some(MacAddr::BROADCAST),
        mtu: Some(1500),
        link: Some(6),
        link_netnsid: Some(1),
        master: Some(4),
        txqlen: Some(1000),
        operstate: Some(u::IF_OPER_UP),
        carrier: Some(1),
        kind: Some(LinkKind::Veth),
        slave_kind: Some(LinkKind::Bridge),
        ..LinkMsg::default()
    };
    let RouteNetlinkMessage::NewLink(l) = theirs(&ours(u::RTM_NEWLINK, u::NLM_F_MULTI, 5, |w| reply.emit(w)), 5) else {
        panic!()
    };
    assert_eq!(l.header.link_layer_type, LinkLayerType::Ether);
    assert!(l.header.flags.contains(LinkFlags::Up | LinkFlags::LowerUp | LinkFlags::Running));
    for a in [
        LinkAttribute::Address(vec![2, 1, 2, 3, 4, 5]),
        LinkAttribute::Broadcast(vec![0xff; 6]),
        LinkAttribute::Link(6),
        LinkAttribute::LinkNetNsId(1),
        LinkAttribute::Controller(4),
        LinkAttribute::TxQueueLen(1000),
        LinkAttribute::OperState(State::Up),
        LinkAttribute::Carrier(1),
    ] {
        assert!(l.attributes.contains(&a), "{a:?} in {:?}", l.attributes);
    }
    let info =
        l.attributes.iter().find_map(|a| if let LinkAttribute::LinkInfo(i) = a { Some(i) } else { None }).unwrap();
    assert!(info.contains(&LinkInfo::Kind(InfoKind::Veth)) && info.contains(&LinkInfo::PortKind(InfoPortKind::Bridge)));
}

#[test]
fn links_netlink_packet_route_writes_decode_with_ours() {
    let mut peer = LinkMessage::default();
    peer.attributes = vec![LinkAttribute::IfName("veth1".into()), LinkAttribute::NetNsFd(3)];
    let mut m = LinkMessage::default();
    m.attributes = vec![
        LinkAttribute::IfName("veth0".into()),
        LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]),
    ];
    let b = encode(NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, 1, RouteNetlinkMessage::NewLink(m));
    let (h, p) = parse_ours(&b);
    assert_eq!((h.ty, h.seq, h.pid), (u::RTM_NEWLINK, 1, 77));
    let l = LinkMsg::parse(&p).unwrap();
    assert_eq!(l, veth_request_without_mtu(3));

    let mut m = LinkMessage::default();
    m.header = LinkHeader { index: 7, flags: LinkFlags::Up, change_mask: LinkFlags::Up, ..LinkHeader::default() };
    m.attributes = vec![LinkAttribute::NetNsFd(2), LinkAttribute::Controller(3), LinkAttribute::Mtu(1280)];
    let (h, p) = parse_ours(&encode(NLM_F_REQUEST | NLM_F_ACK, 2, RouteNetlinkMessage::SetLink(m.clone())));
    assert_eq!(h.ty, 19, "RTM_SETLINK is not one skbnet takes; the body still reads");
    let l = LinkMsg::parse(&p).unwrap();
    assert_eq!((l.header.index, l.header.flags, l.header.change), (7, u::IFF_UP, u::IFF_UP));
    assert_eq!((l.netns, l.master, l.mtu), (Some(NetnsRef::Fd(2)), Some(3), Some(1280)));
    for (ty, inner) in [
        (u::RTM_NEWLINK, RouteNetlinkMessage::NewLink(m.clone())),
        (u::RTM_DELLINK, RouteNetlinkMessage::DelLink(m.clone())),
        (u::RTM_GETLINK, RouteNetlinkMessage::GetLink(m.clone())),
    ] {
        let (h, p) = parse_ours(&encode(NLM_F_REQUEST, 3, inner));
        assert_eq!(h.ty, ty);
        assert_eq!(LinkMsg::parse(&p).unwrap().header.index, 7);
    }
}

fn veth_request_without_mtu(peer_ns: u32) -> LinkMsg {
    LinkMsg {
        name: name("veth0"),
        kind: Some(LinkKind::Veth),
        peer: Some(VethPeer { name: name("veth1"), netns: Some(NetnsRef::Fd(peer_ns)), ..VethPeer::default() }),
        ..LinkMsg::default()
    }
}

#[test]
fn addresses_both_ways() {
    let a = AddrMsg {
        header: IfAddrMsg { family: u::AF_INET, prefix_len: 24, flags: u::IFA_F_PERMANENT, scope: 0, index: 3 },
        address: Some(Ipv4Addr::new(192, 168, 76, 1)),
        local: Some(Ipv4Addr::new(192, 168, 76, 1)),
        broadcast: Some(Ipv4Addr::new(192, 168, 76, 255)),
        label: name("veth0"),
        flags: Some(u32::from(u::IFA_F_PERMANENT)),
        cacheinfo: Some(CacheInfo::FOREVER),
    };
    for (ty, seq) in [(u::RTM_NEWADDR, 1), (u::RTM_DELADDR, 2), (u::RTM_GETADDR, 3)] {
        let b = ours(ty, u::NLM_F_REQUEST, seq, |w| a.emit(w));
        let m = match theirs(&b, seq) {
            RouteNetlinkMessage::NewAddress(m) if ty == u::RTM_NEWADDR => m,
            RouteNetlinkMessage::DelAddress(m) if ty == u::RTM_DELADDR => m,
            RouteNetlinkMessage::GetAddress(m) if ty == u::RTM_GETADDR => m,
            other => panic!("{other:?}"),
        };
        assert_eq!((m.header.family, m.header.prefix_len, m.header.index), (AddressFamily::Inet, 24, 3));
        for x in [
            AddressAttribute::Address(IpAddr::V4(Ipv4Addr::new(192, 168, 76, 1))),
            AddressAttribute::Local(IpAddr::V4(Ipv4Addr::new(192, 168, 76, 1))),
            AddressAttribute::Broadcast(Ipv4Addr::new(192, 168, 76, 255)),
            AddressAttribute::Label("veth0".into()),
        ] {
            assert!(m.attributes.contains(&x), "{x:?}");
        }
        // And back: their encoding of what they decoded reads as ours.
        let back = encode(NLM_F_REQUEST, seq, RouteNetlinkMessage::NewAddress(m));
        let (_, p) = parse_ours(&back);
        assert_eq!(AddrMsg::parse(&p).unwrap(), a);
    }
    let mut m = AddressMessage::default();
    m.header = AddressHeader { family: AddressFamily::Inet, prefix_len: 16, index: 9, ..AddressHeader::default() };
    m.attributes = vec![AddressAttribute::Local(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)))];
    let (h, p) = parse_ours(&encode(NLM_F_REQUEST | NLM_F_ACK, 4, RouteNetlinkMessage::DelAddress(m)));
    let x = AddrMsg::parse(&p).unwrap();
    assert_eq!(
        (h.ty, x.header.prefix_len, x.header.index, x.addr()),
        (u::RTM_DELADDR, 16, 9, Some(Ipv4Addr::new(10, 1, 0, 1)))
    );
}

#[test]
fn routes_both_ways() {
    let mut r = Route::unicast(Ipv4Addr::new(10, 0, 0, 0), 8, Some(Ipv4Addr::new(192, 168, 76, 1)), 3);
    r.metric = 100;
    r.mtu = 1400;
    r.prefsrc = Some(Ipv4Addr::new(192, 168, 76, 2));
    let m = RouteMsg::from_route(&r);
    for (ty, seq) in [(u::RTM_NEWROUTE, 1), (u::RTM_DELROUTE, 2), (u::RTM_GETROUTE, 3)] {
        let b = ours(ty, u::NLM_F_REQUEST, seq, |w| m.emit(w));
        let x = match theirs(&b, seq) {
            RouteNetlinkMessage::NewRoute(x) if ty == u::RTM_NEWROUTE => x,
            RouteNetlinkMessage::DelRoute(x) if ty == u::RTM_DELROUTE => x,
            RouteNetlinkMessage::GetRoute(x) if ty == u::RTM_GETROUTE => x,
            other => panic!("{other:?}"),
        };
        assert_eq!(x.header.address_family, AddressFamily::Inet);
        assert_eq!((x.header.destination_prefix_length, x.header.table), (8, u::RT_TABLE_MAIN));
        assert_eq!(
            (x.header.protocol, x.header.scope, x.header.kind),
            (RouteProtocol::Boot, RouteScope::Universe, RouteType::Unicast)
        );
        for a in [
            RouteAttribute::Destination(RouteAddress::Inet(Ipv4Addr::new(10, 0, 0, 0))),
            RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::new(192, 168, 76, 1))),
            RouteAttribute::PrefSource(RouteAddress::Inet(Ipv4Addr::new(192, 168, 76, 2))),
            RouteAttribute::Oif(3),
            RouteAttribute::Priority(100),
            RouteAttribute::Table(254),
            RouteAttribute::Metrics(vec![RouteMetric::Mtu(1400)]),
        ] {
            assert!(x.attributes.contains(&a), "{a:?} in {:?}", x.attributes);
        }
        let (_, p) = parse_ours(&encode(NLM_F_REQUEST, seq, RouteNetlinkMessage::NewRoute(x)));
        assert_eq!(RouteMsg::parse(&p).unwrap().to_route().unwrap(), r);
    }
    // `ip route add default via 192.168.1.1` as netlink-packet-route writes it.
    let x = unicast_route(None, Ipv4Addr::new(192, 168, 1, 1));
    let (h, p) =
        parse_ours(&encode(NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, 4, RouteNetlinkMessage::NewRoute(x)));
    let got = RouteMsg::parse(&p).unwrap().to_route().unwrap();
    assert_eq!(h.flags, u::NLM_F_REQUEST | u::NLM_F_CREATE | u::NLM_F_EXCL | u::NLM_F_ACK);
    assert_eq!(
        (got.dst, got.prefix_len, got.gateway, got.oif),
        (Ipv4Addr::UNSPECIFIED, 0, Some(Ipv4Addr::new(192, 168, 1, 1)), 0)
    );
}

/// A message of skbnet's own family, for netlink-packet-core: the
/// netlink layer (header, flags, numbers, payload) reads it like any other.
#[derive(Debug, Clone, PartialEq)]
struct Own(u16, Vec<u8>);

impl NetlinkSerializable for Own {
    fn message_type(&self) -> u16 {
        self.0
    }
    fn buffer_len(&self) -> usize {
        self.1.len()
    }
    fn serialize(&self, buffer: &mut [u8]) {
        buffer.copy_from_slice(&self.1);
    }
}

impl NetlinkDeserializable for Own {
    type Error = std::convert::Infallible;
    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, Self::Error> {
        Ok(Own(header.message_type, payload.to_vec()))
    }
}

#[test]
fn our_own_family_through_netlink_packet_core() {
    let ns = NsMsg { id: 2, name: name("ns1") };
    let nft = NftMsg { cmd: Some("add table inet filter"), output: None };
    let cases: Vec<(u16, Vec<u8>)> = vec![
        (u::SKBNET_NEWNS, ours(u::SKBNET_NEWNS, u::NLM_F_REQUEST | u::NLM_F_ACK, 1, |w| ns.emit(w))),
        (u::SKBNET_DELNS, ours(u::SKBNET_DELNS, u::NLM_F_REQUEST, 1, |w| ns.emit(w))),
        (
            u::SKBNET_GETNS,
            ours(u::SKBNET_GETNS, u::NLM_F_REQUEST | u::NLM_F_DUMP, 1, |w| NsMsg { id: -1, name: None }.emit(w)),
        ),
        (u::SKBNET_NFT, ours(u::SKBNET_NFT, u::NLM_F_REQUEST | u::NLM_F_ACK, 1, |w| nft.emit(w))),
    ];
    for (ty, b) in cases {
        let m = NetlinkMessage::<Own>::deserialize(&b).unwrap();
        assert_eq!((m.header.message_type, m.header.sequence_number, m.header.port_number), (ty, 1, 77));
        let NetlinkPayload::InnerMessage(Own(_, payload)) = m.payload else { panic!() };
        // Its attributes walk with netlink-packet-core's iterator too.
        let nlas: Vec<_> = netlink_packet_core::NlasIterator::new(&payload[4..]).map(Result::unwrap).collect();
        match ty {
            u::SKBNET_NFT => {
                assert_eq!(NftMsg::parse(&payload).unwrap(), nft);
                assert_eq!(nlas[0].value(), b"add table inet filter\0");
            }
            u::SKBNET_GETNS => assert!(nlas.is_empty()),
            _ => {
                assert_eq!(NsMsg::parse(&payload).unwrap(), ns);
                assert_eq!((nlas[0].kind(), nlas[0].value()), (u::SKBNA_NAME, &b"ns1\0"[..]));
            }
        }
        // And what netlink-packet-core writes back reads as ours.
        let mut back = NetlinkMessage::new(m.header, NetlinkPayload::InnerMessage(Own(ty, payload.clone())));
        back.finalize();
        let mut buf = vec![0u8; back.buffer_len()];
        back.serialize(&mut buf);
        assert_eq!(buf, b);
    }
}

/// A small world for the exchanges.
fn world() -> World<'static> {
    let storage = Box::leak(Box::new(SmallWorldStorage::new()));
    let pool = SkbPool::from_parts(PoolParts {
        heads: Box::leak(vec![Head::EMPTY; 512].into_boxed_slice()),
        info: Box::leak(vec![BufInfo::EMPTY; 256].into_boxed_slice()),
        data: Box::leak(vec![0u8; 256 * 2048].into_boxed_slice()),
        owners: Box::leak(vec![OwnerSlot::EMPTY; 32].into_boxed_slice()),
        buf_size: 2048,
    })
    .unwrap();
    World::new(storage, pool, [3; 16]).unwrap()
}

/// Carry out `req`, every reply decoded by netlink-packet-route.
fn exchange(w: &mut World<'static>, sock: &mut NlSock, req: &[u8]) -> Vec<Msg> {
    let mut out = vec![0u8; 512];
    let mut all = Vec::new();
    let mut rest = req;
    for _ in 0..1000 {
        let n = if sock.dumping() {
            w.netlink_recv(sock, &mut out).unwrap()
        } else if rest.is_empty() {
            break;
        } else {
            let s = w.netlink_send(sock, rest, &mut out).unwrap();
            rest = &rest[s.consumed..];
            s.written
        };
        let mut at = 0;
        while at < n {
            let m = Msg::deserialize(&out[at..n]).expect("netlink-packet-route decodes the reply");
            at += (m.header.length as usize + 3) & !3;
            all.push(m);
        }
    }
    all
}

fn acked(replies: &[Msg], seq: u32) {
    assert_eq!(replies.len(), 1, "{replies:?}");
    let m = &replies[0];
    assert_eq!((m.header.sequence_number, m.header.port_number), (seq, 5));
    let NetlinkPayload::Error(e) = &m.payload else { panic!("{m:?}") };
    assert_eq!(e.code, None, "an acknowledgement");
}

#[test]
fn a_world_answers_netlink_packet_route() {
    let mut w = world();
    let ns1 = w.add_netns("ns1").unwrap();
    let mut s = w.netlink_socket(NsId::INIT, 5).unwrap();
    // ip link add veth0 type veth peer name veth1 netns ns1
    let mut peer = LinkMessage::default();
    peer.attributes = vec![LinkAttribute::IfName("veth1".into()), LinkAttribute::NetNsFd(i32::from(ns1.0))];
    let mut m = LinkMessage::default();
    m.attributes = vec![
        LinkAttribute::IfName("veth0".into()),
        LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]),
    ];
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    acked(&exchange(&mut w, &mut s, &encode(flags, 1, RouteNetlinkMessage::NewLink(m.clone()))), 1);
    let v0 = w.iface_by_name(NsId::INIT, "veth0").unwrap();
    assert!(w.iface_by_name(ns1, "veth1").is_some());
    // Again: EEXIST, with the request's numbers.
    let r = exchange(&mut w, &mut s, &encode(flags, 2, RouteNetlinkMessage::NewLink(m)));
    let NetlinkPayload::Error(e) = &r[0].payload else { panic!() };
    assert_eq!((e.code.map(|c| c.get()), r[0].header.sequence_number), (Some(-17), 2));
    // ip link set veth0 up
    let mut m = LinkMessage::default();
    m.header =
        LinkHeader { index: u32::from(v0), flags: LinkFlags::Up, change_mask: LinkFlags::Up, ..LinkHeader::default() };
    acked(&exchange(&mut w, &mut s, &encode(NLM_F_REQUEST | NLM_F_ACK, 3, RouteNetlinkMessage::NewLink(m))), 3);
    // ip addr add 192.168.76.1/24 dev veth0
    let mut a = AddressMessage::default();
    a.header =
        AddressHeader { family: AddressFamily::Inet, prefix_len: 24, index: u32::from(v0), ..AddressHeader::default() };
    a.attributes = vec![
        AddressAttribute::Local(IpAddr::V4(Ipv4Addr::new(192, 168, 76, 1))),
        AddressAttribute::Address(IpAddr::V4(Ipv4Addr::new(192, 168, 76, 1))),
    ];
    acked(&exchange(&mut w, &mut s, &encode(flags, 4, RouteNetlinkMessage::NewAddress(a))), 4);
    // ip route add 10.0.0.0/8 via 192.168.76.2
    let r = unicast_route(Some((Ipv4Addr::new(10, 0, 0, 0), 8)), Ipv4Addr::new(192, 168, 76, 2));
    acked(&exchange(&mut w, &mut s, &encode(flags, 5, RouteNetlinkMessage::NewRoute(r.clone()))), 5);
    // ip route add 172.16.0.0/12 via 192.168.76.3 proto dhcp: the origin
    // is kept as given (it was stored as boot), so a DHCP client can find
    // its own routes again.
    let mut dhcp = unicast_route(Some((Ipv4Addr::new(172, 16, 0, 0), 12)), Ipv4Addr::new(192, 168, 76, 3));
    dhcp.header.protocol = RouteProtocol::Dhcp;
    acked(&exchange(&mut w, &mut s, &encode(flags, 51, RouteNetlinkMessage::NewRoute(dhcp))), 51);

    // Dumps, read back by netlink-packet-route: links, addresses, routes.
    let dump =
        |ty: fn(LinkMessage) -> RouteNetlinkMessage| encode(NLM_F_REQUEST | NLM_F_DUMP, 6, ty(LinkMessage::default()));
    let links = exchange(&mut w, &mut s, &dump(RouteNetlinkMessage::GetLink));
    assert!(matches!(links.last().unwrap().payload, NetlinkPayload::Done(_)));
    let names: Vec<String> = links
        .iter()
        .filter_map(|m| match &m.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                l.attributes.iter().find_map(|a| if let LinkAttribute::IfName(n) = a { Some(n.clone()) } else { None })
            }
            _ => None,
        })
        .collect();
    assert_eq!(names, ["lo", "veth0"]);
    let mut get = AddressMessage::default();
    get.header.family = AddressFamily::Inet;
    let addrs = exchange(&mut w, &mut s, &encode(NLM_F_REQUEST | NLM_F_DUMP, 7, RouteNetlinkMessage::GetAddress(get)));
    let locals: Vec<IpAddr> = addrs
        .iter()
        .filter_map(|m| match &m.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(a)) => {
                a.attributes.iter().find_map(|x| if let AddressAttribute::Local(ip) = x { Some(*ip) } else { None })
            }
            _ => None,
        })
        .collect();
    assert_eq!(locals, [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V4(Ipv4Addr::new(192, 168, 76, 1))]);
    let mut get = RouteMessage::default();
    get.header.address_family = AddressFamily::Inet;
    let routes = exchange(&mut w, &mut s, &encode(NLM_F_REQUEST | NLM_F_DUMP, 8, RouteNetlinkMessage::GetRoute(get)));
    let gw = routes.iter().any(|m| match &m.payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(x)) => {
            x.attributes.contains(&RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::new(192, 168, 76, 2))))
        }
        _ => false,
    });
    assert!(gw, "the route through the gateway is listed");
    let protocol_of = |dst: Ipv4Addr| {
        routes.iter().find_map(|m| match &m.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(x))
                if x.attributes.contains(&RouteAttribute::Destination(RouteAddress::Inet(dst))) =>
            {
                Some(x.header.protocol)
            }
            _ => None,
        })
    };
    assert_eq!(protocol_of(Ipv4Addr::new(10, 0, 0, 0)), Some(RouteProtocol::Boot));
    assert_eq!(protocol_of(Ipv4Addr::new(172, 16, 0, 0)), Some(RouteProtocol::Dhcp));
    assert!(routes.iter().all(|m| m.header.sequence_number == 8 && m.header.port_number == 5));

    // ip route del, ip addr del, ip link del.
    acked(&exchange(&mut w, &mut s, &encode(NLM_F_REQUEST | NLM_F_ACK, 9, RouteNetlinkMessage::DelRoute(r))), 9);
    let mut a = AddressMessage::default();
    a.header =
        AddressHeader { family: AddressFamily::Inet, prefix_len: 24, index: u32::from(v0), ..AddressHeader::default() };
    a.attributes = vec![AddressAttribute::Local(IpAddr::V4(Ipv4Addr::new(192, 168, 76, 1)))];
    acked(&exchange(&mut w, &mut s, &encode(NLM_F_REQUEST | NLM_F_ACK, 10, RouteNetlinkMessage::DelAddress(a))), 10);
    let mut l = LinkMessage::default();
    l.header.index = u32::from(v0);
    acked(&exchange(&mut w, &mut s, &encode(NLM_F_REQUEST | NLM_F_ACK, 11, RouteNetlinkMessage::DelLink(l))), 11);
    assert!(w.iface_by_name(ns1, "veth1").is_none(), "the peer went too");
    w.shutdown();
    assert!(w.pool_ref().stats().is_idle());
}

/// The inner messages of `replies`, in order.
fn inner(replies: &[Msg]) -> Vec<RouteNetlinkMessage> {
    replies
        .iter()
        .filter_map(|m| match &m.payload {
            NetlinkPayload::InnerMessage(x) => Some(x.clone()),
            _ => None,
        })
        .collect()
}

/// Read every notification waiting for `sock`, each decoded by
/// netlink-packet-route.
fn notifications(w: &mut World<'static>, sock: &mut NlSock) -> Vec<Msg> {
    let mut out = vec![0u8; 512];
    let mut all = Vec::new();
    for _ in 0..100 {
        let n = w.netlink_recv(sock, &mut out).unwrap();
        if n == 0 {
            break;
        }
        let mut at = 0;
        while at < n {
            let m = Msg::deserialize(&out[at..n]).expect("netlink-packet-route decodes the notification");
            at += (m.header.length as usize + 3) & !3;
            all.push(m);
        }
    }
    all
}

#[test]
fn setlink_single_gets_and_notifications_with_netlink_packet_route() {
    let mut w = world();
    let ns1 = w.add_netns("ns1").unwrap();
    let (v0, v1) = w.add_veth(NsId::INIT, "veth0", ns1, "veth1").unwrap();
    w.set_link_up(v1, true).unwrap();
    let mut s = w.netlink_socket(NsId::INIT, 5).unwrap();
    let mut mon = w.netlink_socket(NsId::INIT, 6).unwrap();
    for g in [u::RTNLGRP_LINK, u::RTNLGRP_IPV4_IFADDR, u::RTNLGRP_IPV4_ROUTE] {
        w.netlink_subscribe(&mut mon, g).unwrap();
    }

    // RTM_SETLINK (what libraries send for `set`): up, and MTU 1400.
    let mut m = LinkMessage::default();
    m.header =
        LinkHeader { index: u32::from(v0), flags: LinkFlags::Up, change_mask: LinkFlags::Up, ..LinkHeader::default() };
    m.attributes = vec![LinkAttribute::Mtu(1400)];
    let req = encode(NLM_F_REQUEST | NLM_F_ACK, 1, RouteNetlinkMessage::SetLink(m));
    assert_eq!(parse_ours(&req).0.ty, u::RTM_SETLINK);
    acked(&exchange(&mut w, &mut s, &req), 1);
    let info = w.iface_info(v0).unwrap();
    assert_eq!((info.up, info.mtu), (true, 1400));
    // RTM_SETLINK of a link that does not exist: ENODEV, nothing created.
    let mut m = LinkMessage::default();
    m.attributes = vec![LinkAttribute::IfName("nosuch".into()), LinkAttribute::Mtu(1400)];
    let r = exchange(&mut w, &mut s, &encode(NLM_F_REQUEST | NLM_F_ACK, 2, RouteNetlinkMessage::SetLink(m)));
    let NetlinkPayload::Error(e) = &r[0].payload else { panic!("{r:?}") };
    assert_eq!((e.code.map(|c| c.get()), r[0].header.sequence_number), (Some(-19), 2));
    assert!(w.iface_by_name(NsId::INIT, "nosuch").is_none());
    // RTM_SETLINK by name, down again.
    let mut m = LinkMessage::default();
    m.header.change_mask = LinkFlags::Up;
    m.attributes = vec![LinkAttribute::IfName("veth0".into())];
    acked(&exchange(&mut w, &mut s, &encode(NLM_F_REQUEST | NLM_F_ACK, 3, RouteNetlinkMessage::SetLink(m))), 3);
    assert!(!w.iface_info(v0).unwrap().up);
    let mut m = LinkMessage::default();
    m.header =
        LinkHeader { index: u32::from(v0), flags: LinkFlags::Up, change_mask: LinkFlags::Up, ..LinkHeader::default() };
    acked(&exchange(&mut w, &mut s, &encode(NLM_F_REQUEST | NLM_F_ACK, 4, RouteNetlinkMessage::SetLink(m))), 4);

    // An address and a route, for the notifications and `ip route get`.
    let mut a = AddressMessage::default();
    a.header =
        AddressHeader { family: AddressFamily::Inet, prefix_len: 24, index: u32::from(v0), ..AddressHeader::default() };
    a.attributes = vec![AddressAttribute::Local(IpAddr::V4(Ipv4Addr::new(192, 168, 76, 1)))];
    let create = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    acked(&exchange(&mut w, &mut s, &encode(create, 5, RouteNetlinkMessage::NewAddress(a))), 5);
    let r = unicast_route(Some((Ipv4Addr::new(10, 0, 0, 0), 8)), Ipv4Addr::new(192, 168, 76, 2));
    acked(&exchange(&mut w, &mut s, &encode(create, 6, RouteNetlinkMessage::NewRoute(r))), 6);

    // RTM_GETLINK of one link (no dump): one RTM_NEWLINK, decoded.
    let mut get = LinkMessage::default();
    get.header.index = u32::from(v0);
    let replies = exchange(&mut w, &mut s, &encode(NLM_F_REQUEST, 7, RouteNetlinkMessage::GetLink(get)));
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!((replies[0].header.sequence_number, replies[0].header.port_number), (7, 5));
    let [RouteNetlinkMessage::NewLink(l)] = &inner(&replies)[..] else { panic!("{replies:?}") };
    assert_eq!(l.header.index, u32::from(v0));
    assert!(l.header.flags.contains(LinkFlags::Up));
    assert!(l.attributes.contains(&LinkAttribute::IfName("veth0".into())));
    assert!(l.attributes.contains(&LinkAttribute::Mtu(1400)));
    // RTM_GETROUTE of one destination (`ip route get 10.1.2.3`).
    let mut get = RouteMessage::default();
    get.header.address_family = AddressFamily::Inet;
    get.header.destination_prefix_length = 32;
    get.attributes = vec![RouteAttribute::Destination(RouteAddress::Inet(Ipv4Addr::new(10, 1, 2, 3)))];
    let replies = exchange(&mut w, &mut s, &encode(NLM_F_REQUEST, 8, RouteNetlinkMessage::GetRoute(get)));
    assert_eq!(replies.len(), 1, "{replies:?}");
    let [RouteNetlinkMessage::NewRoute(x)] = &inner(&replies)[..] else { panic!("{replies:?}") };
    assert_eq!(x.header.destination_prefix_length, 32);
    for want in [
        RouteAttribute::Destination(RouteAddress::Inet(Ipv4Addr::new(10, 1, 2, 3))),
        RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::new(192, 168, 76, 2))),
        RouteAttribute::Oif(u32::from(v0)),
        RouteAttribute::PrefSource(RouteAddress::Inet(Ipv4Addr::new(192, 168, 76, 1))),
    ] {
        assert!(x.attributes.contains(&want), "{want:?} in {x:?}");
    }

    // Every notification decodes, in the order of the changes that caused
    // them, carrying the request's sequence number and port id.
    let events = notifications(&mut w, &mut mon);
    let kinds: Vec<(u32, &str)> = events
        .iter()
        .map(|m| {
            let k = match &m.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(_)) => "newlink",
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(_)) => "newaddr",
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(_)) => "newroute",
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(_)) => "delroute",
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(m.header.port_number, if m.header.sequence_number == 0 { 0 } else { 5 });
            (m.header.sequence_number, k)
        })
        .collect();
    assert!(kinds.windows(2).all(|p| p[0].0 <= p[1].0), "in order: {kinds:?}");
    for want in [(1, "newlink"), (3, "newlink"), (4, "newlink"), (5, "newaddr"), (5, "newroute"), (6, "newroute")] {
        assert!(kinds.contains(&want), "{want:?} in {kinds:?}");
    }
    let addr = events.iter().find_map(|m| match &m.payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(a)) => Some(a),
        _ => None,
    });
    let addr = addr.unwrap();
    assert_eq!((addr.header.index, addr.header.prefix_len), (u32::from(v0), 24));
    assert!(addr.attributes.contains(&AddressAttribute::Local(IpAddr::V4(Ipv4Addr::new(192, 168, 76, 1)))));

    // `ip tuntap add dev tun0 mode tun` as netlink-packet-route writes a
    // link of kind tun, and our reply about it as it reads one.
    let mut m = LinkMessage::default();
    m.attributes =
        vec![LinkAttribute::IfName("tun0".into()), LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Tun)])];
    acked(&exchange(&mut w, &mut s, &encode(create, 9, RouteNetlinkMessage::NewLink(m))), 9);
    let mut get = LinkMessage::default();
    get.attributes = vec![LinkAttribute::IfName("tun0".into())];
    let replies = exchange(&mut w, &mut s, &encode(NLM_F_REQUEST, 10, RouteNetlinkMessage::GetLink(get)));
    let [RouteNetlinkMessage::NewLink(l)] = &inner(&replies)[..] else { panic!("{replies:?}") };
    assert_eq!(l.header.link_layer_type, LinkLayerType::None);
    let info = l.attributes.iter().find_map(|a| if let LinkAttribute::LinkInfo(i) = a { Some(i) } else { None });
    assert_eq!(info.unwrap(), &vec![LinkInfo::Kind(InfoKind::Tun)]);
    w.shutdown();
    assert!(w.pool_ref().stats().is_idle());
}

/// A unicast route in the main table as `ip route add` asks for it (boot
/// protocol, universe scope): to `dst` (address and prefix length), or the
/// default route without one, via `gw`.
fn unicast_route(dst: Option<(Ipv4Addr, u8)>, gw: Ipv4Addr) -> RouteMessage {
    let mut r = RouteMessage::default();
    r.header = RouteHeader {
        address_family: AddressFamily::Inet,
        destination_prefix_length: dst.map_or(0, |(_, len)| len),
        table: u::RT_TABLE_MAIN,
        protocol: RouteProtocol::Boot,
        scope: RouteScope::Universe,
        kind: RouteType::Unicast,
        ..RouteHeader::default()
    };
    r.attributes = dst.map(|(a, _)| RouteAttribute::Destination(RouteAddress::Inet(a))).into_iter().collect();
    r.attributes.push(RouteAttribute::Gateway(RouteAddress::Inet(gw)));
    r
}

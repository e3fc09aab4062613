//! The fuzz body of netlink: arbitrary bytes as a buffer of requests to a
//! configured world (two namespaces, a veth pair between them, a bridge
//! with a port, addresses and routes, rule tables with a filter chain in
//! the initial namespace, so `SKBNET_NFT` commands change and list real
//! rules), with a monitor listening.
//!
//! The first byte chooses the sending socket's namespace (bit 0), the size
//! of the reply buffer (bits 1..=3: from 256 bytes, the least that always
//! makes progress, up to 4 KiB, so dumps go on across calls), and whether
//! the requests come in one call or one message at a time (bit 4). The
//! rest is the requests. Nothing may panic; every reply must be a
//! well-formed message carrying the socket's port id; every notification
//! must be well-formed; and after the world shuts down the pool must be
//! completely free.

use core::net::Ipv4Addr;

use skbnet::netfilter::NftStorage;
use skbnet::netlink::addr::{AddrMsg, IfAddrMsg};
use skbnet::netlink::family::{NftMsg, NsMsg};
use skbnet::netlink::link::{IfInfoMsg, LinkKind, LinkMsg, NetnsRef, VethPeer};
use skbnet::netlink::msg::{NlWriter, NoRoom, messages};
use skbnet::netlink::route::{RouteMsg, RtMsg};
use skbnet::netlink::uapi::*;
use skbnet::netlink::{NlSock, REPLY_ROOM};
use skbnet::netns::{Name, NsId, SmallWorldStorage, World};
use skbnet::skb::{PoolStorage, SkbPool};
use skbnet::time::Instant;

/// The fuzz world's rule tables: small, so nft commands reach their limits.
type FuzzNft = NftStorage<4, 8, 32, 8, 64, 16>;

/// Reply buffer sizes the first byte chooses from.
const OUT_SIZES: [usize; 8] = [REPLY_ROOM, REPLY_ROOM + 3, 300, 512, 700, 1024, 2048, 4096];

/// What a run saw: replies by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Acknowledgements.
    pub acks: usize,
    /// Errors.
    pub errors: usize,
    /// Objects (single replies and dump entries).
    pub objects: usize,
    /// Ends of dumps.
    pub dones: usize,
    /// Notifications the monitor read.
    pub events: usize,
}

/// Run `data` (see the module documentation).
pub fn netlink(data: &[u8]) {
    run(data);
}

/// Run `data` and say what came back.
pub fn run(data: &[u8]) -> Outcome {
    let mut o = Outcome::default();
    let Some((&cfg, reqs)) = data.split_first() else { return o };
    let mut storage = Box::new(SmallWorldStorage::new());
    let mut mem = Box::new(PoolStorage::<256, 128, 2048, 32>::new());
    let mut nft_mem = Box::new(FuzzNft::new());
    let mut w = World::new(&mut storage, SkbPool::new(&mut mem), [9; 16]).expect("world");
    w.attach_nft(&mut nft_mem).expect("rule tables");
    let ns1 = setup(&mut w);
    let ns = if cfg & 1 == 0 { NsId::INIT } else { ns1 };
    let mut sock = w.netlink_socket(ns, 4242).expect("socket");
    let mut mon = w.netlink_socket(ns, 4343).expect("monitor");
    for g in [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV4_RULE, SKBNETGRP_NETNS] {
        w.netlink_subscribe(&mut mon, g).expect("group");
    }
    let mut out = vec![0u8; OUT_SIZES[usize::from(cfg >> 1) & 7]];
    let one_by_one = cfg & 0x10 != 0;
    let mut rest = reqs;
    // Bounded: each round carries out a message or reads part of a dump.
    for round in 0.. {
        assert!(round < 100_000, "no progress");
        let n = if sock.dumping() {
            w.netlink_recv(&mut sock, &mut out).expect("room for a message")
        } else if rest.is_empty() {
            break;
        } else {
            let take = if one_by_one { first_len(rest) } else { rest.len() };
            let sent = w.netlink_send(&mut sock, &rest[..take], &mut out).expect("room for a reply");
            assert!(sent.consumed > 0 || sent.written > 0, "progress");
            rest = &rest[sent.consumed.min(rest.len())..];
            sent.written
        };
        check_replies(&out[..n], &sock, &mut o);
        w.poll(Instant::from_millis(round));
    }
    // The monitor reads everything that happened, overflow included.
    for _ in 0..1000 {
        let n = w.netlink_recv(&mut mon, &mut out).expect("room");
        if n == 0 {
            break;
        }
        for m in messages(&out[..n]) {
            let m = m.expect("well-formed notification");
            parse_body(m.header.ty, m.payload);
            o.events += 1;
        }
    }
    w.poll(Instant::from_secs(400));
    w.shutdown();
    assert!(w.pool_ref().stats().is_idle(), "a buffer leaked: {:?}", w.pool_ref().stats());
    o
}

/// Bytes of the first message (its aligned length, or all if it is bad).
fn first_len(b: &[u8]) -> usize {
    let len = b.get(..4).map_or(b.len(), |x| u32::from_ne_bytes([x[0], x[1], x[2], x[3]]) as usize);
    if len < 16 || len > b.len() { b.len() } else { ((len + 3) & !3).min(b.len()) }
}

/// Every reply is a whole message for this socket, and reads with the
/// typed parsers.
fn check_replies(b: &[u8], sock: &NlSock, o: &mut Outcome) {
    for m in messages(b) {
        let m = m.expect("well-formed reply");
        assert_eq!(m.header.pid, sock.pid(), "reply for the socket");
        parse_body(m.header.ty, m.payload);
        match m.header.ty {
            NLMSG_ERROR if m.payload[..4] == [0; 4] => o.acks += 1,
            NLMSG_ERROR => o.errors += 1,
            NLMSG_DONE => o.dones += 1,
            _ => o.objects += 1,
        }
    }
}

/// What a message says, read the way a client reads it: the world's own
/// messages must parse.
fn parse_body(ty: u16, p: &[u8]) {
    let ok = match ty {
        RTM_NEWLINK | RTM_DELLINK => LinkMsg::parse(p).is_ok(),
        RTM_NEWADDR | RTM_DELADDR => AddrMsg::parse(p).is_ok(),
        RTM_NEWROUTE | RTM_DELROUTE => RouteMsg::parse(p).is_ok(),
        SKBNET_NEWNS | SKBNET_DELNS => NsMsg::parse(p).is_ok(),
        SKBNET_NFT => NftMsg::parse(p).is_ok(),
        NLMSG_ERROR => p.len() >= 20,
        NLMSG_DONE => p.len() == 4,
        _ => false,
    };
    assert!(ok, "the world wrote a message it cannot read: type {ty}, {p:?}");
}

/// ns1; veth0 (here, 192.168.76.1/24, up) and veth1 (ns1, .2, up); br0
/// with port p0, whose peer q0 is in ns1; a default route in ns1; table
/// `inet filter` with an input chain and a rule here.
fn setup(w: &mut World<'_>) -> NsId {
    let ns1 = w.add_netns("ns1").expect("ns1");
    let (v0, v1) = w.add_veth(NsId::INIT, "veth0", ns1, "veth1").expect("veth");
    w.add_addr(v0, Ipv4Addr::new(192, 168, 76, 1), 24).expect("addr");
    w.add_addr(v1, Ipv4Addr::new(192, 168, 76, 2), 24).expect("addr");
    for i in [v0, v1] {
        w.set_link_up(i, true).expect("up");
    }
    w.add_route_via(ns1, Ipv4Addr::UNSPECIFIED, 0, Ipv4Addr::new(192, 168, 76, 1)).expect("route");
    let br = w.add_bridge(NsId::INIT, "br0").expect("bridge");
    let (p0, _) = w.add_veth(NsId::INIT, "p0", ns1, "q0").expect("veth");
    w.set_master(p0, br).expect("port");
    w.set_link_up(br, true).expect("up");
    for cmd in [
        "add table inet filter",
        "add chain inet filter input { type filter hook input priority 0 ; policy accept ; }",
        "add rule inet filter input tcp dport 22 drop",
    ] {
        w.nft(NsId::INIT, cmd, &mut String::new()).expect("nft setup");
    }
    ns1
}

/// One request, as the seeds write them.
pub fn request(ty: u16, flags: u16, body: impl FnOnce(&mut NlWriter<'_>) -> Result<(), NoRoom>) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let mut w = NlWriter::new(&mut buf);
    let m = w.begin(ty, flags | NLM_F_REQUEST, 1, 0).expect("room");
    body(&mut w).expect("room");
    w.end(m);
    let n = w.len();
    buf.truncate(n);
    buf
}

fn name(s: &str) -> Option<Name> {
    Name::try_from(s).ok()
}

/// The seeds: the seed's configuration commands and listings as requests
/// (veth2 gets index 9: seven interfaces exist before it, and ns2's `lo`),
/// each behind a configuration byte.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let create = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let veth = LinkMsg {
        name: name("veth2"),
        kind: Some(LinkKind::Veth),
        peer: Some(VethPeer { name: name("veth3"), netns: Some(NetnsRef::Fd(1)), ..VethPeer::default() }),
        ..LinkMsg::default()
    };
    let up = LinkMsg {
        header: IfInfoMsg { flags: IFF_UP, change: IFF_UP, ..IfInfoMsg::default() },
        name: name("veth2"),
        ..LinkMsg::default()
    };
    let addr = AddrMsg {
        header: IfAddrMsg { family: AF_INET, prefix_len: 24, index: 9, ..IfAddrMsg::default() },
        local: Some(Ipv4Addr::new(10, 1, 1, 1)),
        address: Some(Ipv4Addr::new(10, 1, 1, 1)),
        ..AddrMsg::default()
    };
    let route = RouteMsg {
        header: RtMsg {
            family: AF_INET,
            dst_len: 8,
            table: RT_TABLE_MAIN,
            protocol: RTPROT_BOOT,
            kind: RTN_UNICAST,
            ..RtMsg::default()
        },
        dst: Some(Ipv4Addr::new(10, 0, 0, 0)),
        gateway: Some(Ipv4Addr::new(192, 168, 76, 2)),
        ..RouteMsg::default()
    };
    let get_route = RouteMsg {
        header: RtMsg { family: AF_INET, dst_len: 32, ..RtMsg::default() },
        dst: Some(Ipv4Addr::new(10, 9, 9, 9)),
        ..RouteMsg::default()
    };
    let dumps: Vec<u8> = [
        request(RTM_GETLINK, NLM_F_DUMP, |w| LinkMsg::default().emit(w)),
        request(RTM_GETADDR, NLM_F_DUMP, |w| {
            w.bytes(&IfAddrMsg { family: AF_INET, ..IfAddrMsg::default() }.to_bytes())
        }),
        request(RTM_GETROUTE, NLM_F_DUMP, |w| w.bytes(&RtMsg { family: AF_INET, ..RtMsg::default() }.to_bytes())),
        request(SKBNET_GETNS, NLM_F_DUMP, |w| NsMsg { id: -1, name: None }.emit(w)),
    ]
    .concat();
    let seed = |cfg: u8, reqs: Vec<Vec<u8>>| [vec![cfg], reqs.concat()].concat();
    vec![
        (
            "configure",
            seed(
                0x10,
                vec![
                    request(SKBNET_NEWNS, create, |w| NsMsg { id: -1, name: name("ns2") }.emit(w)),
                    request(RTM_NEWLINK, create, |w| veth.emit(w)),
                    request(RTM_NEWLINK, NLM_F_ACK, |w| up.emit(w)),
                    request(RTM_NEWADDR, create, |w| addr.emit(w)),
                    request(RTM_NEWROUTE, create, |w| route.emit(w)),
                    request(RTM_GETROUTE, 0, |w| get_route.emit(w)),
                ],
            ),
        ),
        ("dumps-small-buffer", seed(0x00, vec![dumps.clone()])),
        ("dumps-in-ns1", seed(0x0b, vec![dumps])),
        (
            "delete",
            seed(
                0x0e,
                vec![
                    request(RTM_DELLINK, NLM_F_ACK, |w| LinkMsg { name: name("veth0"), ..LinkMsg::default() }.emit(w)),
                    request(SKBNET_DELNS, NLM_F_ACK, |w| NsMsg { id: -1, name: name("ns1") }.emit(w)),
                ],
            ),
        ),
        (
            "nft",
            seed(
                0x02,
                vec![request(SKBNET_NFT, NLM_F_ACK, |w| NftMsg { cmd: Some("list ruleset"), output: None }.emit(w))],
            ),
        ),
        (
            "nft-change",
            seed(
                0x1c,
                [
                    "add rule inet filter input ip saddr 192.168.1.0/24 drop",
                    "add set inet filter blocked { type ipv4_addr ; }",
                    "add element inet filter blocked { 10.0.0.1, 10.0.0.2 }",
                    "add table ip nat",
                    "add chain ip nat postrouting { type nat hook postrouting priority 100 ; }",
                    "add rule ip nat postrouting ip saddr 10.100.0.0/24 oif \"veth0\" masquerade",
                    "-a list ruleset",
                    "add rule inet filter nosuch drop",
                    "flush chain inet filter input",
                    "delete table ip nat",
                ]
                .iter()
                .map(|c| request(SKBNET_NFT, NLM_F_ACK, |w| NftMsg { cmd: Some(c), output: None }.emit(w)))
                .collect(),
            ),
        ),
        (
            "setlink-and-tun",
            seed(
                0x00,
                vec![
                    request(RTM_SETLINK, NLM_F_ACK, |w| {
                        LinkMsg { mtu: Some(1400), name: name("veth0"), ..LinkMsg::default() }.emit(w)
                    }),
                    request(RTM_NEWLINK, create, |w| {
                        LinkMsg { name: name("tun0"), kind: Some(LinkKind::Tun), ..LinkMsg::default() }.emit(w)
                    }),
                ],
            ),
        ),
        ("bad-length", seed(0x00, vec![vec![8, 0, 0, 0, 16, 0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0]])),
    ]
}

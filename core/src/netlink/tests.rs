//! The netlink interface of a whole world: the seed's configuration as
//! messages, replies and their numbers, hostile requests (each refused
//! with an error and nothing changed), dumps across small buffers, and
//! notifications with their overflow.

use core::net::Ipv4Addr;

use super::addr::{AddrMsg, IfAddrMsg};
use super::family::NsMsg;
use super::link::{IfInfoMsg, LinkKind, LinkMsg, NetnsRef, VethPeer};
use super::msg::{NlHeader, NlWriter, NoRoom, messages};
use super::route::{RouteMsg, RtMsg};
use super::uapi::*;
use super::{Errno, NlSock, REPLY_ROOM};
use crate::netns::{Name, NsId, SmallWorldStorage, World};
use crate::skb::{PoolStorage, SkbPool};
use crate::stats::DropReason;
use crate::wire::MacAddr;

fn world() -> World<'static> {
    let storage = Box::leak(Box::new(SmallWorldStorage::new()));
    let pool = SkbPool::new(Box::leak(Box::new(PoolStorage::<512, 256, 2048, 64>::new())));
    World::new(storage, pool, [7; 16]).unwrap()
}

fn name(s: &str) -> Option<Name> {
    Some(Name::try_from(s).unwrap())
}

/// One message.
fn msg(ty: u16, flags: u16, seq: u32, body: impl FnOnce(&mut NlWriter<'_>) -> Result<(), NoRoom>) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let mut w = NlWriter::new(&mut buf);
    let m = w.begin(ty, flags | NLM_F_REQUEST, seq, 0).unwrap();
    body(&mut w).unwrap();
    w.end(m);
    let n = w.len();
    buf.truncate(n);
    buf
}

/// Send and read every reply, dumps to their end.
fn talk(w: &mut World<'static>, sock: &mut NlSock, req: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 4096];
    let mut replies = Vec::new();
    let mut rest = req;
    for _ in 0..1000 {
        if sock.dumping() {
            let n = w.netlink_recv(sock, &mut out).unwrap();
            replies.extend_from_slice(&out[..n]);
        } else if rest.is_empty() {
            break;
        } else {
            let s = w.netlink_send(sock, rest, &mut out).unwrap();
            replies.extend_from_slice(&out[..s.written]);
            rest = &rest[s.consumed..];
        }
    }
    replies
}

/// The errno of every `NLMSG_ERROR` in `replies` (0: an acknowledgement),
/// checking that each carries `seq` and the socket's port id.
fn errors(replies: &[u8], seq: u32, pid: u32) -> Vec<i32> {
    messages(replies)
        .map(Result::unwrap)
        .filter(|m| m.header.ty == NLMSG_ERROR)
        .map(|m| {
            assert_eq!((m.header.seq, m.header.pid), (seq, pid), "reply numbers");
            -i32::from_ne_bytes(m.payload[..4].try_into().unwrap())
        })
        .collect()
}

fn veth(a: &str, b: &str, peer_ns: Option<u32>) -> impl FnOnce(&mut NlWriter<'_>) -> Result<(), NoRoom> {
    let m = LinkMsg {
        name: name(a),
        kind: Some(LinkKind::Veth),
        peer: Some(VethPeer { name: name(b), netns: peer_ns.map(NetnsRef::Fd), ..VethPeer::default() }),
        ..LinkMsg::default()
    };
    move |w| m.emit(w)
}

fn set_link(index: u16, f: impl FnOnce(&mut LinkMsg)) -> impl FnOnce(&mut NlWriter<'_>) -> Result<(), NoRoom> {
    let mut m = LinkMsg { header: IfInfoMsg { index: i32::from(index), ..IfInfoMsg::default() }, ..LinkMsg::default() };
    f(&mut m);
    move |w| m.emit(w)
}

fn up(m: &mut LinkMsg) {
    m.header.flags = IFF_UP;
    m.header.change = IFF_UP;
}

fn addr(index: u16, a: Ipv4Addr, len: u8) -> impl FnOnce(&mut NlWriter<'_>) -> Result<(), NoRoom> {
    let m = AddrMsg {
        header: IfAddrMsg { family: AF_INET, prefix_len: len, index: u32::from(index), ..IfAddrMsg::default() },
        local: Some(a),
        address: Some(a),
        ..AddrMsg::default()
    };
    move |w| m.emit(w)
}

const CREATE: u16 = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

/// The seed's example, as messages: ns1, a veth pair with one end moved
/// there, addresses, links up. Returns (veth0, veth1, ns1).
fn seed(w: &mut World<'static>) -> (u16, u16, NsId) {
    let mut s = w.netlink_socket(NsId::INIT, 100).unwrap();
    let r = talk(w, &mut s, &msg(SKBNET_NEWNS, CREATE, 1, |w| NsMsg { id: -1, name: name("ns1") }.emit(w)));
    assert_eq!(errors(&r, 1, 100), [0]);
    let ns1 = w.netns_by_name("ns1").unwrap();
    let r = talk(w, &mut s, &msg(RTM_NEWLINK, CREATE, 2, veth("veth0", "veth1", None)));
    assert_eq!(errors(&r, 2, 100), [0]);
    let (v0, v1) = (w.iface_by_name(NsId::INIT, "veth0").unwrap(), w.iface_by_name(NsId::INIT, "veth1").unwrap());
    let r = talk(
        w,
        &mut s,
        &msg(RTM_NEWLINK, NLM_F_ACK, 3, set_link(v1, |m| m.netns = Some(NetnsRef::Fd(u32::from(ns1.0))))),
    );
    assert_eq!(errors(&r, 3, 100), [0]);
    assert_eq!(w.iface_by_name(ns1, "veth1"), Some(v1));
    let r = talk(w, &mut s, &msg(RTM_NEWADDR, CREATE, 4, addr(v0, Ipv4Addr::new(192, 168, 76, 1), 24)));
    assert_eq!(errors(&r, 4, 100), [0]);
    let r = talk(w, &mut s, &msg(RTM_NEWLINK, NLM_F_ACK, 5, set_link(v0, up)));
    assert_eq!(errors(&r, 5, 100), [0]);
    let mut s1 = w.netlink_socket(ns1, 101).unwrap();
    let r = talk(w, &mut s1, &msg(RTM_NEWADDR, CREATE, 6, addr(v1, Ipv4Addr::new(192, 168, 76, 2), 24)));
    assert_eq!(errors(&r, 6, 101), [0]);
    let r = talk(w, &mut s1, &msg(RTM_NEWLINK, NLM_F_ACK, 7, set_link(v1, up)));
    assert_eq!(errors(&r, 7, 101), [0]);
    (v0, v1, ns1)
}

/// Everything every namespace lists, as bytes.
fn snapshot(w: &mut World<'static>) -> Vec<u8> {
    let mut all = Vec::new();
    let ids: Vec<NsId> = w.netns_ids().collect();
    for ns in ids {
        let mut s = w.netlink_socket(ns, 1).unwrap();
        for ty in [RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, SKBNET_GETNS] {
            all.extend(talk(w, &mut s, &msg(ty, NLM_F_DUMP, 0, |_| Ok(()))));
        }
    }
    all
}

#[test]
fn seed_example_as_messages_then_ping_crosses() {
    let mut w = world();
    let (v0, v1, ns1) = seed(&mut w);
    assert!(w.iface_info(v0).unwrap().carrier && w.iface_info(v1).unwrap().carrier, "both ends up: carrier");
    // ip netns exec ns1 ping 192.168.76.1
    let sock = w.socket(ns1, crate::socket::SockType::Ping).unwrap();
    let echo = [8u8, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4];
    let to = core::net::SocketAddr::from((Ipv4Addr::new(192, 168, 76, 1), 0));
    w.sendmsg(sock, &echo, Some(to)).unwrap();
    let mut now = crate::time::Instant::ZERO;
    for _ in 0..20 {
        w.poll(now);
        now = now.saturating_add(core::time::Duration::from_millis(1));
    }
    let mut buf = [0u8; 64];
    let got = w.recvmsg(sock, &mut buf).unwrap();
    assert_eq!((buf[0], &buf[8..12], *got.from.ip()), (0, &[1, 2, 3, 4][..], Ipv4Addr::new(192, 168, 76, 1)));
    w.close(sock).unwrap();
    // The link listing shows the peer in another namespace.
    let mut s = w.netlink_socket(NsId::INIT, 9).unwrap();
    let r = talk(&mut w, &mut s, &msg(RTM_GETLINK, NLM_F_ACK, 8, set_link(v0, |_| {})));
    let link = messages(&r).map(Result::unwrap).find(|m| m.header.ty == RTM_NEWLINK).unwrap();
    let l = LinkMsg::parse(link.payload).unwrap();
    assert_eq!((l.link, l.link_netnsid, l.kind), (Some(u32::from(v1)), Some(i32::from(ns1.0)), Some(LinkKind::Veth)));
    assert_eq!(l.header.flags & (IFF_UP | IFF_LOWER_UP), IFF_UP | IFF_LOWER_UP);
    assert_eq!(errors(&r, 8, 9), [0]);
    w.shutdown();
    assert!(w.pool_ref().stats().is_idle());
}

/// A hostile or wrong request: its bytes, and the errno it must get.
struct Case {
    what: &'static str,
    req: Vec<u8>,
    errno: i32,
}

fn raw(header: NlHeader, body: &[u8]) -> Vec<u8> {
    let mut v = header.to_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

#[test]
fn hostile_requests_get_an_error_and_change_nothing() {
    let mut w = world();
    let (v0, v1, ns1) = seed(&mut w);
    let req = |len: u32, ty: u16| NlHeader { len, ty, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 42, pid: 0 };
    let link_with = |extra: &[u8]| {
        let mut body = IfInfoMsg { index: i32::from(v0), ..IfInfoMsg::default() }.to_bytes().to_vec();
        body.extend_from_slice(extra);
        raw(req(16 + body.len() as u32, RTM_NEWLINK), &body)
    };
    let mut nested = vec![8u8, 0, 1, 0, 0, 0, 0, 0];
    for _ in 0..8 {
        let mut o = ((nested.len() + 4) as u16).to_ne_bytes().to_vec();
        o.extend_from_slice(&(IFLA_LINKINFO | NLA_F_NESTED).to_ne_bytes());
        o.extend_from_slice(&nested);
        nested = o;
    }
    let cases = [
        Case { what: "length shorter than the header", req: raw(req(8, RTM_NEWLINK), &[0; 16]), errno: 22 },
        Case { what: "length beyond the buffer", req: raw(req(400, RTM_NEWLINK), &[0; 16]), errno: 22 },
        Case { what: "truncated header", req: vec![20, 0, 0, 0, 16, 0], errno: 22 },
        Case { what: "ifinfomsg truncated", req: raw(req(24, RTM_NEWLINK), &[0; 8]), errno: 22 },
        Case { what: "unknown attribute", req: link_with(&[8, 0, 0xe7, 0x03, 1, 0, 0, 0]), errno: 22 },
        Case { what: "attribute length 2", req: link_with(&[2, 0, 3, 0]), errno: 22 },
        Case { what: "attribute past the end", req: link_with(&[64, 0, 3, 0, b'x', 0, 0, 0]), errno: 22 },
        Case { what: "u32 of 3 bytes", req: link_with(&[7, 0, 4, 0, 1, 2, 3, 0]), errno: 22 },
        Case { what: "nested too deep", req: link_with(&nested), errno: 22 },
        Case {
            what: "name with a slash",
            req: msg(RTM_NEWLINK, CREATE, 42, |w| {
                LinkMsg { name: name("a/b"), kind: Some(LinkKind::Bridge), ..LinkMsg::default() }.emit(w)
            }),
            errno: 22,
        },
        Case {
            what: "veth without a peer",
            req: msg(RTM_NEWLINK, CREATE, 42, |w| {
                LinkMsg { name: name("v9"), kind: Some(LinkKind::Veth), ..LinkMsg::default() }.emit(w)
            }),
            errno: 22,
        },
        Case {
            what: "unknown kind",
            req: msg(RTM_NEWLINK, CREATE, 42, |w| {
                w.bytes(&IfInfoMsg::default().to_bytes())?;
                w.attr_str(IFLA_IFNAME, "vx0")?;
                let n = w.nest(IFLA_LINKINFO)?;
                w.attr_str(IFLA_INFO_KIND, "vxlan")?;
                w.end_nest(n);
                Ok(())
            }),
            errno: 95,
        },
        Case {
            what: "duplicate veth with EXCL",
            req: msg(RTM_NEWLINK, CREATE, 42, veth("veth0", "x1", None)),
            errno: 17,
        },
        Case { what: "veth peer name taken", req: msg(RTM_NEWLINK, CREATE, 42, veth("x0", "veth0", None)), errno: 17 },
        Case {
            what: "duplicate address with EXCL",
            req: msg(RTM_NEWADDR, CREATE, 42, addr(v0, Ipv4Addr::new(192, 168, 76, 1), 24)),
            errno: 17,
        },
        Case {
            what: "duplicate route with EXCL",
            req: msg(RTM_NEWROUTE, CREATE, 42, |w| {
                let mut m =
                    RouteMsg::from_route(&crate::ip::fib::Route::unicast(Ipv4Addr::new(192, 168, 76, 0), 24, None, v0));
                m.header.protocol = RTPROT_KERNEL;
                m.prefsrc = None;
                m.emit(w)
            }),
            errno: 17,
        },
        Case {
            what: "duplicate namespace",
            req: msg(SKBNET_NEWNS, CREATE, 42, |w| NsMsg { id: -1, name: name("ns1") }.emit(w)),
            errno: 17,
        },
        Case {
            what: "address on another namespace's link",
            req: msg(RTM_NEWADDR, CREATE, 42, addr(v1, Ipv4Addr::new(10, 9, 9, 9), 24)),
            errno: 19,
        },
        Case {
            what: "link of another namespace up",
            req: msg(RTM_NEWLINK, NLM_F_ACK, 42, set_link(v1, up)),
            errno: 19,
        },
        Case {
            what: "move to a namespace that does not exist",
            req: msg(RTM_NEWLINK, NLM_F_ACK, 42, set_link(v0, |m| m.netns = Some(NetnsRef::Fd(77)))),
            errno: 2,
        },
        Case {
            what: "IPv6 address",
            req: msg(RTM_NEWADDR, CREATE, 42, |w| {
                w.bytes(
                    &IfAddrMsg { family: AF_INET6, prefix_len: 64, index: u32::from(v0), ..IfAddrMsg::default() }
                        .to_bytes(),
                )?;
                w.attr(IFA_LOCAL, &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
            }),
            errno: 22,
        },
        Case {
            what: "address of 3 bytes",
            req: msg(RTM_NEWADDR, CREATE, 42, |w| {
                w.bytes(
                    &IfAddrMsg { family: AF_INET, prefix_len: 24, index: u32::from(v0), ..IfAddrMsg::default() }
                        .to_bytes(),
                )?;
                w.attr(IFA_LOCAL, &[10, 0, 0])
            }),
            errno: 22,
        },
        Case {
            what: "prefix 33",
            req: msg(RTM_NEWADDR, CREATE, 42, addr(v0, Ipv4Addr::new(10, 1, 1, 1), 33)),
            errno: 22,
        },
        Case {
            what: "route with host bits",
            req: msg(RTM_NEWROUTE, CREATE, 42, |w| {
                RouteMsg::from_route(&crate::ip::fib::Route::unicast(Ipv4Addr::new(10, 0, 0, 1), 8, None, v0)).emit(w)
            }),
            errno: 22,
        },
        Case {
            what: "route to an unreachable gateway",
            req: msg(RTM_NEWROUTE, CREATE, 42, |w| {
                RouteMsg::from_route(&crate::ip::fib::Route::unicast(
                    Ipv4Addr::UNSPECIFIED,
                    0,
                    Some(Ipv4Addr::new(10, 7, 7, 7)),
                    0,
                ))
                .emit(w)
            }),
            errno: 101,
        },
        Case {
            what: "route lookup without a destination",
            req: msg(RTM_GETROUTE, NLM_F_ACK, 42, |w| {
                RouteMsg { header: RtMsg { family: AF_INET, ..RtMsg::default() }, ..RouteMsg::default() }.emit(w)
            }),
            errno: 22,
        },
        Case { what: "delete the loopback", req: msg(RTM_DELLINK, NLM_F_ACK, 42, set_link(1, |_| {})), errno: 95 },
        Case {
            what: "delete the initial namespace",
            req: msg(SKBNET_DELNS, NLM_F_ACK, 42, |w| NsMsg { id: 0, name: None }.emit(w)),
            errno: 1,
        },
        Case {
            what: "delete an address that is not there",
            req: msg(RTM_DELADDR, NLM_F_ACK, 42, addr(v0, Ipv4Addr::new(1, 2, 3, 4), 24)),
            errno: 99,
        },
        Case {
            what: "not a request",
            req: raw(NlHeader { len: 32, ty: RTM_NEWLINK, flags: NLM_F_ACK, seq: 42, pid: 0 }, &[0; 16]),
            errno: 22,
        },
        Case { what: "control type", req: raw(req(20, NLMSG_DONE), &[0; 4]), errno: 22 },
        Case { what: "unknown type", req: raw(req(16, 0x7777), &[]), errno: 95 },
        Case {
            what: "nft without a command",
            req: msg(SKBNET_NFT, NLM_F_ACK, 42, |w| super::family::NftMsg::default().emit(w)),
            errno: 22,
        },
    ];
    let before = snapshot(&mut w);
    for c in cases {
        let mut s = w.netlink_socket(NsId::INIT, 7).unwrap();
        let r = talk(&mut w, &mut s, &c.req);
        let seq = if c.what == "truncated header" { 0 } else { 42 };
        assert_eq!(errors(&r, seq, 7), [c.errno], "{}", c.what);
        assert!(messages(&r).all(|m| m.is_ok_and(|m| m.header.ty == NLMSG_ERROR)), "{}: only the error", c.what);
        assert_eq!(snapshot(&mut w), before, "{}: state changed", c.what);
    }
    // A socket whose namespace went away (and came back as another one).
    let mut s1 = w.netlink_socket(ns1, 8).unwrap();
    w.del_netns(ns1).unwrap();
    w.add_netns("ns1").unwrap();
    let r = talk(&mut w, &mut s1, &msg(RTM_GETLINK, NLM_F_DUMP, 5, |_| Ok(())));
    assert_eq!(errors(&r, 5, 8), [2]);
}

#[test]
fn dumps_go_on_across_small_buffers() {
    let mut w = world();
    let lo = w.loopback(NsId::INIT).unwrap();
    for i in 0..40u8 {
        w.add_route(NsId::INIT, crate::ip::fib::Route::unicast(Ipv4Addr::new(10, i, 0, 0), 16, None, lo)).unwrap();
    }
    let total = w.routes(NsId::INIT).count();
    let mut s = w.netlink_socket(NsId::INIT, 3).unwrap();
    let req = msg(RTM_GETROUTE, NLM_F_DUMP, 11, |w| {
        RouteMsg { header: RtMsg { family: AF_INET, ..RtMsg::default() }, ..RouteMsg::default() }.emit(w)
    });
    let mut tiny = [0u8; 64];
    assert_eq!(w.netlink_send(&mut s, &req, &mut tiny), Err(super::NeedRoom { need: REPLY_ROOM }));
    let mut out = vec![0u8; REPLY_ROOM];
    let sent = w.netlink_send(&mut s, &req, &mut out).unwrap();
    assert_eq!(sent.consumed, req.len());
    let mut routes = 0;
    let mut done = false;
    let mut n = sent.written;
    let mut calls = 1;
    loop {
        for m in messages(&out[..n]).map(Result::unwrap) {
            assert_eq!((m.header.seq, m.header.pid), (11, 3));
            assert!(m.header.flags & NLM_F_MULTI != 0);
            match m.header.ty {
                RTM_NEWROUTE => routes += 1,
                NLMSG_DONE => done = true,
                t => panic!("type {t}"),
            }
        }
        if done {
            break;
        }
        n = w.netlink_recv(&mut s, &mut out).unwrap();
        calls += 1;
        assert!(calls < 100);
    }
    assert_eq!(routes, total);
    assert!(calls > 5, "the dump took several reads");
    assert!(!s.dumping());
    // A second dump while one runs is refused.
    let mut s = w.netlink_socket(NsId::INIT, 4).unwrap();
    let mut out = vec![0u8; REPLY_ROOM * 2];
    let sent = w.netlink_send(&mut s, &req, &mut out).unwrap();
    assert!(s.dumping() && errors(&out[..sent.written], 11, 4).is_empty());
    let sent = w.netlink_send(&mut s, &req, &mut out).unwrap();
    assert_eq!(errors(&out[..sent.written], 11, 4), [16]);
    assert!(s.dumping(), "the first dump goes on");
}

/// Regression: an address deleted while a dump of addresses ran shifted
/// the ones after it under the dump's position, so one was skipped and
/// nothing said so. Now every message from the change on, the DONE
/// included, carries `NLM_F_DUMP_INTR`; a dump nothing disturbs carries it
/// nowhere.
#[test]
fn an_address_dump_disturbed_midway_says_so() {
    let mut w = world();
    let lo = w.loopback(NsId::INIT).unwrap();
    let extra: Vec<Ipv4Addr> = (2..5).map(|i| Ipv4Addr::new(127, 0, 1, i)).collect();
    for a in &extra {
        w.add_addr(lo, *a, 32).unwrap();
    }
    let req = msg(RTM_GETADDR, NLM_F_DUMP, 21, |w| {
        AddrMsg { header: IfAddrMsg { family: AF_INET, ..IfAddrMsg::default() }, ..AddrMsg::default() }.emit(w)
    });
    // Messages in the first read, and (type, DUMP_INTR bit) of every message.
    let run = |w: &mut World<'static>, disturb: bool| {
        let mut s = w.netlink_socket(NsId::INIT, 7).unwrap();
        let mut out = vec![0u8; REPLY_ROOM];
        let n = w.netlink_send(&mut s, &req, &mut out).unwrap().written;
        let first = messages(&out[..n]).count();
        let mut all = out[..n].to_vec();
        if disturb {
            w.del_addr(lo, extra[0]).unwrap();
        }
        while s.dumping() {
            let n = w.netlink_recv(&mut s, &mut out).unwrap();
            all.extend_from_slice(&out[..n]);
        }
        let flags: Vec<(u16, u16)> =
            messages(&all).map(Result::unwrap).map(|m| (m.header.ty, m.header.flags & NLM_F_DUMP_INTR)).collect();
        (first, flags)
    };
    let (first, calm) = run(&mut w, false);
    assert!(first >= 1 && first + 1 < calm.len(), "the dump took several reads: {first} of {}", calm.len());
    assert!(calm.iter().all(|&(_, f)| f == 0), "{calm:?}");
    let (first, disturbed) = run(&mut w, true);
    assert_eq!(disturbed.last(), Some(&(NLMSG_DONE, NLM_F_DUMP_INTR)), "the DONE says it");
    assert!(disturbed[..first].iter().all(|&(_, f)| f == 0), "written before the change: {disturbed:?}");
    assert!(disturbed[first..].iter().all(|&(_, f)| f == NLM_F_DUMP_INTR), "after it: {disturbed:?}");
}

#[test]
fn notifications_in_order_and_overflow_reported() {
    let mut w = world();
    let mut mon = w.netlink_socket(NsId::INIT, 50).unwrap();
    for g in [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE] {
        w.netlink_subscribe(&mut mon, g).unwrap();
    }
    let (v0, _, _) = seed(&mut w);
    let mut out = vec![0u8; 8192];
    let n = w.netlink_recv(&mut mon, &mut out).unwrap();
    let kinds: Vec<(u16, u32)> = messages(&out[..n]).map(Result::unwrap).map(|m| (m.header.ty, m.header.seq)).collect();
    // veth0 and veth1 made (seq 2), veth1 leaves (seq 3: gone from here, and
    // veth0's peer now elsewhere), the address and its three routes (seq 4),
    // veth0 up (seq 5) and its carrier when veth1 comes up in ns1 (seq 7).
    let want = [
        (RTM_NEWLINK, 2),
        (RTM_NEWLINK, 2),
        (RTM_DELLINK, 3),
        (RTM_NEWLINK, 3),
        (RTM_NEWADDR, 4),
        (RTM_NEWROUTE, 4),
        (RTM_NEWROUTE, 4),
        (RTM_NEWROUTE, 4),
        (RTM_NEWLINK, 5),
        (RTM_NEWLINK, 7),
    ];
    assert_eq!(kinds, want);
    assert_eq!(w.netlink_recv(&mut mon, &mut out), Ok(0), "nothing more");
    // 200 changes nobody reads: the log keeps 64.
    for i in 0..100u8 {
        w.add_addr(v0, Ipv4Addr::new(10, 0, i, 1), 32).unwrap();
        w.del_addr(v0, Ipv4Addr::new(10, 0, i, 1)).unwrap();
    }
    w.add_addr(v0, Ipv4Addr::new(10, 200, 0, 1), 32).unwrap();
    let n = w.netlink_recv(&mut mon, &mut out).unwrap();
    let got: Vec<_> = messages(&out[..n]).map(Result::unwrap).collect();
    assert_eq!(got[0].header.ty, NLMSG_ERROR);
    assert_eq!(i32::from_ne_bytes(got[0].payload[..4].try_into().unwrap()), -105);
    let last = got.last().unwrap();
    assert_eq!(last.header.ty, RTM_NEWROUTE, "the newest change is still there");
    let mut total = got.len() - 1;
    loop {
        let n = w.netlink_recv(&mut mon, &mut out).unwrap();
        if n == 0 {
            break;
        }
        total += messages(&out[..n]).count();
    }
    assert!(total <= 64);
}

#[test]
fn deleting_a_namespace_leaves_nothing_behind() {
    let mut w = world();
    let idle = w.pool_ref().stats();
    let (v0, v1, ns1) = seed(&mut w);
    let sock = w.socket(ns1, crate::socket::SockType::Udp).unwrap();
    w.bind(sock, core::net::SocketAddr::from((Ipv4Addr::UNSPECIFIED, 5000))).unwrap();
    let mut s = w.netlink_socket(NsId::INIT, 1).unwrap();
    let r = talk(&mut w, &mut s, &msg(SKBNET_DELNS, NLM_F_ACK, 9, |w| NsMsg { id: -1, name: name("ns1") }.emit(w)));
    assert_eq!(errors(&r, 9, 1), [0]);
    assert!(w.netns_by_name("ns1").is_none());
    assert!(w.iface_info(v1).is_none() && w.iface_info(v0).is_none(), "the veth took its peer along");
    assert_eq!(w.routes(ns1).count(), 0);
    assert!(w.routes(NsId::INIT).all(|r| r.oif != v0));
    assert_eq!(w.recvmsg(sock, &mut [0; 8]).unwrap_err(), crate::socket::Errno::BadFd);
    assert_eq!(w.pool_ref().stats().heads_in_use, idle.heads_in_use);
    // The name and the slot can be used again.
    let again = w.add_netns("ns1").unwrap();
    assert_eq!(w.ifaces(again).count(), 1);
}

#[test]
fn bridge_learns_floods_and_forwards() {
    let mut w = world();
    let br = w.add_bridge(NsId::INIT, "br0").unwrap();
    w.set_link_up(br, true).unwrap();
    let mut ends = Vec::new();
    for (i, n) in ["a", "b"].iter().enumerate() {
        let ns = w.add_netns(n).unwrap();
        let (port, end) = w.add_veth(NsId::INIT, &format!("p{i}"), ns, "eth0").unwrap();
        w.set_master(port, br).unwrap();
        w.set_link_up(port, true).unwrap();
        w.set_link_up(end, true).unwrap();
        w.add_addr(end, Ipv4Addr::new(10, 0, 0, 1 + i as u8), 24).unwrap();
        ends.push((ns, port));
    }
    assert!(w.iface_info(br).unwrap().carrier);
    let sock = w.socket(ends[0].0, crate::socket::SockType::Ping).unwrap();
    let to = core::net::SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 0));
    w.sendmsg(sock, &[8, 0, 0, 0, 0, 0, 0, 1], Some(to)).unwrap();
    let mut now = crate::time::Instant::ZERO;
    for _ in 0..20 {
        w.poll(now);
        now = now.saturating_add(core::time::Duration::from_millis(1));
    }
    assert_eq!(w.recvmsg(sock, &mut [0; 16]).unwrap().len, 8);
    let learned: Vec<_> = w.fdb_entries(br).map(|e| e.port).collect();
    assert!(learned.contains(&ends[0].1) && learned.contains(&ends[1].1), "both hosts learned: {learned:?}");
    // Entries age out.
    w.poll(now.saturating_add(crate::dev::bridge::Fdb::AGEING));
    assert_eq!(w.fdb_entries(br).count(), 0);
    w.close(sock).unwrap();
    w.shutdown();
    assert!(w.pool_ref().stats().is_idle());
}

fn route(
    dst: Ipv4Addr,
    len: u8,
    via: Option<Ipv4Addr>,
    oif: Option<u32>,
) -> impl FnOnce(&mut NlWriter<'_>) -> Result<(), NoRoom> {
    let m = RouteMsg { oif, ..route_msg(dst, len, via) };
    move |w| m.emit(w)
}

/// A unicast route in the main table as `ip route add` asks for it.
fn route_msg(dst: Ipv4Addr, len: u8, via: Option<Ipv4Addr>) -> RouteMsg {
    RouteMsg {
        header: RtMsg {
            family: AF_INET,
            dst_len: len,
            table: RT_TABLE_MAIN,
            protocol: RTPROT_BOOT,
            scope: RT_SCOPE_UNIVERSE,
            kind: RTN_UNICAST,
            ..RtMsg::default()
        },
        dst: (len > 0).then_some(dst),
        gateway: via,
        ..RouteMsg::default()
    }
}

/// The prefix lengths of `ifindex`'s addresses, by address.
fn addrs_of(w: &World<'static>, ifindex: u16) -> Vec<(Ipv4Addr, u8)> {
    w.iface(ifindex).unwrap().addrs.iter().map(|a| (a.addr, a.prefix_len)).collect()
}

#[test]
fn addr_replace_changes_the_prefix_and_a_refused_one_changes_nothing() {
    let mut w = world();
    let (v0, _, _) = seed(&mut w);
    let mut s = w.netlink_socket(NsId::INIT, 5).unwrap();
    let a = Ipv4Addr::new(192, 168, 76, 1);
    const REPLACE: u16 = NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    // `ip addr add` of an address that exists: EEXIST, nothing changed.
    let before = snapshot(&mut w);
    let r = talk(&mut w, &mut s, &msg(RTM_NEWADDR, CREATE, 1, addr(v0, a, 16)));
    assert_eq!(errors(&r, 1, 5), [super::Errno::Exist.code()]);
    // NLM_F_REPLACE with NLM_F_EXCL: still EEXIST.
    let r = talk(&mut w, &mut s, &msg(RTM_NEWADDR, REPLACE | NLM_F_EXCL, 2, addr(v0, a, 16)));
    assert_eq!(errors(&r, 2, 5), [super::Errno::Exist.code()]);
    let other = Ipv4Addr::new(192, 168, 76, 9);
    // A bad prefix length: EINVAL.
    let r = talk(&mut w, &mut s, &msg(RTM_NEWADDR, REPLACE, 4, addr(v0, a, 33)));
    assert_eq!(errors(&r, 4, 5), [super::Errno::Inval.code()]);
    assert!(snapshot(&mut w) == before, "refused requests changed nothing");
    // `ip addr replace 192.168.76.1/24 dev veth0`: the same address and
    // prefix is acknowledged and changes nothing.
    let r = talk(&mut w, &mut s, &msg(RTM_NEWADDR, REPLACE, 5, addr(v0, a, 24)));
    assert_eq!(errors(&r, 5, 5), [0]);
    assert!(snapshot(&mut w) == before);
    // `ip addr replace 192.168.76.1/16 dev veth0`: one address, its prefix
    // and its connected route changed, and a route through a gateway on
    // the device kept (a delete-and-add flushed it with the last address).
    let far = Ipv4Addr::new(10, 9, 0, 0);
    w.add_route_via(NsId::INIT, far, 16, Ipv4Addr::new(192, 168, 76, 254)).unwrap();
    let r = talk(&mut w, &mut s, &msg(RTM_NEWADDR, REPLACE, 6, addr(v0, a, 16)));
    assert!(w.routes(NsId::INIT).any(|r| r.dst == far && r.oif == v0), "the gateway route survived");
    assert_eq!(errors(&r, 6, 5), [0]);
    assert_eq!(addrs_of(&w, v0), [(a, 16)]);
    let connected: Vec<_> =
        w.routes(NsId::INIT).filter(|r| r.oif == v0 && r.gateway.is_none()).map(|r| r.prefix_len).collect();
    assert!(connected.contains(&16) && !connected.contains(&24), "connected route follows: {connected:?}");
    // `ip addr replace` of a new address with NLM_F_CREATE adds it.
    let r = talk(&mut w, &mut s, &msg(RTM_NEWADDR, REPLACE, 7, addr(v0, other, 24)));
    assert_eq!(errors(&r, 7, 5), [0]);
    assert_eq!(addrs_of(&w, v0), [(a, 16), (other, 24)]);
    // Without NLM_F_CREATE too: Linux's IPv4 adds a new address whatever
    // the flags (only routes insist on NLM_F_CREATE).
    let third = Ipv4Addr::new(192, 168, 77, 1);
    let r = talk(&mut w, &mut s, &msg(RTM_NEWADDR, NLM_F_ACK | NLM_F_REPLACE, 8, addr(v0, third, 24)));
    assert_eq!(errors(&r, 8, 5), [0]);
    assert_eq!(addrs_of(&w, v0), [(a, 16), (other, 24), (third, 24)]);
}

#[test]
fn route_replace_swaps_the_route_and_a_refused_one_changes_nothing() {
    let mut w = world();
    let (v0, _, _) = seed(&mut w);
    let mut s = w.netlink_socket(NsId::INIT, 6).unwrap();
    let any = Ipv4Addr::UNSPECIFIED;
    let (gw1, gw2) = (Ipv4Addr::new(192, 168, 76, 2), Ipv4Addr::new(192, 168, 76, 3));
    const REPLACE: u16 = NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    let defaults = |w: &World<'static>| -> Vec<_> {
        w.routes(NsId::INIT).filter(|r| r.prefix_len == 0).map(|r| (r.gateway, r.oif)).collect()
    };
    // `ip route replace default via 192.168.76.2` with none there: created.
    let r = talk(&mut w, &mut s, &msg(RTM_NEWROUTE, REPLACE, 1, route(any, 0, Some(gw1), None)));
    assert_eq!(errors(&r, 1, 6), [0]);
    assert_eq!(defaults(&w), [(Some(gw1), v0)]);
    // `ip route add` of the same prefix and metric: EEXIST.
    let before = snapshot(&mut w);
    let r = talk(&mut w, &mut s, &msg(RTM_NEWROUTE, CREATE, 2, route(any, 0, Some(gw2), None)));
    assert_eq!(errors(&r, 2, 6), [super::Errno::Exist.code()]);
    // Replacing with a gateway on no connected network: ENETUNREACH, and
    // the old route is still there.
    let far = Some(Ipv4Addr::new(10, 9, 9, 9));
    let r = talk(&mut w, &mut s, &msg(RTM_NEWROUTE, REPLACE, 3, route(any, 0, far, None)));
    assert_eq!(errors(&r, 3, 6), [super::Errno::NetUnreach.code()]);
    // Replacing through a device that does not exist: ENODEV.
    let r = talk(&mut w, &mut s, &msg(RTM_NEWROUTE, REPLACE, 4, route(any, 0, Some(gw2), Some(999))));
    assert_eq!(errors(&r, 4, 6), [super::Errno::NoDev.code()]);
    // `ip route change` (NLM_F_REPLACE without NLM_F_CREATE) of a prefix
    // that has no route: ENOENT.
    let net = Ipv4Addr::new(10, 1, 0, 0);
    let r = talk(&mut w, &mut s, &msg(RTM_NEWROUTE, NLM_F_ACK | NLM_F_REPLACE, 5, route(net, 16, Some(gw2), None)));
    assert_eq!(errors(&r, 5, 6), [super::Errno::NoEnt.code()]);
    assert!(snapshot(&mut w) == before, "refused requests changed nothing");
    // `ip route replace default via 192.168.76.3`: still one default route,
    // now through the new gateway.
    let r = talk(&mut w, &mut s, &msg(RTM_NEWROUTE, REPLACE, 6, route(any, 0, Some(gw2), None)));
    assert_eq!(errors(&r, 6, 6), [0]);
    assert_eq!(defaults(&w), [(Some(gw2), v0)]);
    // Replacing a route by one just like it leaves one route.
    let count = w.routes(NsId::INIT).count();
    let r = talk(&mut w, &mut s, &msg(RTM_NEWROUTE, REPLACE, 7, route(any, 0, Some(gw2), None)));
    assert_eq!(errors(&r, 7, 6), [0]);
    assert_eq!(w.routes(NsId::INIT).count(), count, "replacing a route by itself adds nothing");
}

/// Send an Ethernet frame from `src` to `dst` out of interface `from`, as
/// its host's driver would, and let the world carry it.
fn send_frame(w: &mut World<'static>, from: u16, src: MacAddr, dst: MacAddr, now: crate::time::Instant) {
    let pool = w.pool();
    let skb = pool.alloc(crate::skb::OwnerId::SYSTEM).unwrap();
    let b = pool.put(&skb, 60).unwrap();
    b[..6].copy_from_slice(&dst.0);
    b[6..12].copy_from_slice(&src.0);
    b[12..14].copy_from_slice(&[0x88, 0xb5]); // the local experimental ethertype: no stack takes it
    w.dev_queue_xmit(from, skb, now).unwrap();
    for _ in 0..4 {
        w.poll(now);
    }
}

/// Frames each interface of `ends` received so far.
fn rx_counts(w: &World<'static>, ends: &[u16]) -> Vec<u64> {
    ends.iter().map(|&e| w.device_stats(e).unwrap().rx_packets).collect()
}

/// Frames each interface of `ends` received since `before`.
fn rx_since(w: &World<'static>, ends: &[u16], before: &[u64]) -> Vec<u64> {
    rx_counts(w, ends).iter().zip(before).map(|(a, b)| a - b).collect()
}

#[test]
fn bridge_floods_unknown_unicast_but_not_back_and_forwards_once_learned() {
    let mut w = world();
    let br = w.add_bridge(NsId::INIT, "br0").unwrap();
    w.set_link_up(br, true).unwrap();
    // Four hosts, each behind its own port (the small world has room for
    // three more namespaces: the last two hosts share one).
    let (mut ports, mut ends) = (Vec::new(), Vec::new());
    for i in 0..4 {
        let ns = if i < 3 { w.add_netns(&format!("h{i}")).unwrap() } else { w.netns_by_name("h2").unwrap() };
        let (port, end) = w.add_veth(NsId::INIT, &format!("p{i}"), ns, &format!("eth{}", i / 3)).unwrap();
        w.set_master(port, br).unwrap();
        w.set_link_up(port, true).unwrap();
        w.set_link_up(end, true).unwrap();
        ports.push(port);
        ends.push(end);
    }
    let mac: Vec<MacAddr> = ends.iter().map(|&e| w.hw_addr(e).unwrap()).collect();
    let mut now = crate::time::Instant::ZERO;
    w.poll(now);
    assert_eq!(w.fdb_entries(br).count(), 0);

    // Host 0 sends to host 1, whom the bridge does not know: flooded to
    // hosts 1, 2 and 3, never back to host 0.
    let before = rx_counts(&w, &ends);
    send_frame(&mut w, ends[0], mac[0], mac[1], now);
    assert_eq!(rx_since(&w, &ends, &before), [0, 1, 1, 1], "flooded, not back out of the ingress port");
    let learned: Vec<_> = w.fdb_entries(br).map(|e| (e.mac, e.port)).collect();
    assert_eq!(learned, [(mac[0], ports[0])], "the source was learned on its port");

    // Host 1 answers host 0, whom the bridge knows: port 0 only.
    now = now.saturating_add(core::time::Duration::from_secs(1));
    let before = rx_counts(&w, &ends);
    send_frame(&mut w, ends[1], mac[1], mac[0], now);
    assert_eq!(rx_since(&w, &ends, &before), [1, 0, 0, 0], "forwarded to the learned port only");
    // Now both are known: host 0 to host 1 goes to port 1 only.
    let before = rx_counts(&w, &ends);
    send_frame(&mut w, ends[0], mac[0], mac[1], now);
    assert_eq!(rx_since(&w, &ends, &before), [0, 1, 0, 0]);
    // Host 0's address shows up behind port 2 (a host that moved): the
    // bridge follows it, and a frame to it from port 2 is not sent back.
    let before = rx_counts(&w, &ends);
    send_frame(&mut w, ends[2], mac[0], mac[3], now);
    assert_eq!(rx_since(&w, &ends, &before), [1, 1, 0, 1], "unknown destination: flooded except to port 2");
    assert!(w.fdb_entries(br).any(|e| e.mac == mac[0] && e.port == ports[2]), "the address moved to port 2");
    let other_host = |w: &World<'static>| w.stats(NsId::INIT).unwrap().drops.get(DropReason::OtherHost);
    let dropped = other_host(&w);
    send_frame(&mut w, ends[2], mac[2], mac[0], now);
    assert_eq!(rx_since(&w, &ends, &before), [1, 1, 0, 1], "to its own port: dropped, not sent back");
    assert_eq!(other_host(&w), dropped + 1, "and counted");
    // A multicast source is no address to learn: dropped, counted as such.
    let before = rx_counts(&w, &ends);
    send_frame(&mut w, ends[1], MacAddr([1, 0, 0x5e, 0, 0, 9]), mac[0], now);
    assert_eq!(rx_since(&w, &ends, &before), [0, 0, 0, 0]);
    assert_eq!(w.stats(NsId::INIT).unwrap().drops.get(DropReason::BadSrcMac), 1);

    // Broadcast floods too, never back out of the ingress port.
    let before = rx_counts(&w, &ends);
    send_frame(&mut w, ends[3], mac[3], MacAddr([0xff; 6]), now);
    assert_eq!(rx_since(&w, &ends, &before), [1, 1, 1, 0]);

    // After ageing, every entry is gone and unicast floods again.
    now = now.saturating_add(crate::dev::bridge::Fdb::AGEING).saturating_add(core::time::Duration::from_secs(1));
    w.poll(now);
    assert_eq!(w.fdb_entries(br).count(), 0, "aged out");
    let before = rx_counts(&w, &ends);
    send_frame(&mut w, ends[1], mac[1], mac[0], now);
    assert_eq!(rx_since(&w, &ends, &before), [1, 0, 1, 1], "flooding again after ageing");

    // A port that goes down takes what was learned behind it along:
    // frames for those addresses flood to the ports still up.
    assert!(w.fdb_entries(br).any(|e| e.mac == mac[1] && e.port == ports[1]));
    w.set_link_up(ports[1], false).unwrap();
    assert!(!w.fdb_entries(br).any(|e| e.port == ports[1]), "nothing learned on a port that is down");
    let before = rx_counts(&w, &ends);
    send_frame(&mut w, ends[0], mac[0], mac[1], now);
    assert_eq!(rx_since(&w, &ends, &before), [0, 0, 1, 1], "flooded to the ports still up");
    // So does a port whose far end goes down (the port loses its carrier,
    // `br_port_carrier_check`): a host unplugged is no longer behind it.
    send_frame(&mut w, ends[2], mac[2], mac[0], now);
    assert!(w.fdb_entries(br).any(|e| e.mac == mac[2] && e.port == ports[2]));
    w.set_link_up(ends[2], false).unwrap();
    assert!(!w.fdb_entries(br).any(|e| e.port == ports[2]), "forgotten when the peer went down");
    w.shutdown();
    assert!(w.pool_ref().stats().is_idle());
}

/// An IPv4 ICMP echo request from `src` to `dst`, checksums filled in.
fn echo_request(src: Ipv4Addr, dst: Ipv4Addr, id: u16) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 28 + 4, 0, 1, 0x40, 0, 64, 1, 0, 0];
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let ip_sum = crate::wire::checksum::checksum(&p);
    p[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    let mut icmp = vec![8, 0, 0, 0];
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&[0, 1, 0xde, 0xad, 0xbe, 0xef]);
    let sum = crate::wire::checksum::checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&icmp);
    p
}

#[test]
fn tun_device_from_netlink_carries_packets_to_and_from_the_application() {
    use crate::dev::tun::TunError;
    let mut w = world();
    let mut s = w.netlink_socket(NsId::INIT, 3).unwrap();
    // ip tuntap add dev tun0 mode tun: RTM_NEWLINK of kind "tun".
    let tun = LinkMsg { name: name("tun0"), kind: Some(LinkKind::Tun), ..LinkMsg::default() };
    let r = talk(&mut w, &mut s, &msg(RTM_NEWLINK, CREATE, 1, |w| tun.emit(w)));
    assert_eq!(errors(&r, 1, 3), [0]);
    let t = w.iface_by_name(NsId::INIT, "tun0").unwrap();
    // Down: writing is refused.
    let (us, peer) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    assert_eq!(w.tun_write(t, &echo_request(peer, us, 1)), Err(TunError::Down));
    // ip link set tun0 up; ip addr add 10.0.0.1/24 dev tun0.
    let r = talk(&mut w, &mut s, &msg(RTM_NEWLINK, NLM_F_ACK, 2, set_link(t, up)));
    assert_eq!(errors(&r, 2, 3), [0]);
    let r = talk(&mut w, &mut s, &msg(RTM_NEWADDR, CREATE, 3, addr(t, us, 24)));
    assert_eq!(errors(&r, 3, 3), [0]);
    // It lists as Linux lists a TUN device: kind tun, point-to-point, no ARP.
    let r = talk(&mut w, &mut s, &msg(RTM_GETLINK, 0, 4, set_link(t, |_| {})));
    let l = messages(&r).map(Result::unwrap).find(|m| m.header.ty == RTM_NEWLINK).unwrap();
    let l = LinkMsg::parse(l.payload).unwrap();
    assert_eq!((l.kind, l.header.ty), (Some(LinkKind::Tun), ARPHRD_NONE));
    assert_eq!(l.header.flags & (IFF_POINTOPOINT | IFF_NOARP | IFF_UP), IFF_POINTOPOINT | IFF_NOARP | IFF_UP);

    // The application writes an echo request; the stack answers through
    // the device, and the application reads the whole IPv4 reply.
    w.tun_write(t, &echo_request(peer, us, 7)).unwrap();
    let now = crate::time::Instant::ZERO;
    w.poll(now);
    let mut buf = [0u8; 1500];
    let n = w.tun_read(t, &mut buf).unwrap().expect("a reply");
    let reply = &buf[..n];
    assert_eq!((reply[0] >> 4, reply[9]), (4, 1), "IPv4, ICMP");
    assert_eq!((&reply[12..16], &reply[16..20]), (&us.octets()[..], &peer.octets()[..]));
    assert_eq!((reply[20], &reply[24..26]), (0, &7u16.to_be_bytes()[..]), "an echo reply to id 7");
    assert_eq!(crate::wire::checksum::checksum(&reply[..20]), 0, "the IP checksum is filled in");
    assert_eq!(w.tun_read(t, &mut buf), Ok(None));

    // What the stack routes to the device waits for the application; when
    // it does not read, the queue fills and the rest is dropped, counted.
    let sock = w.socket(NsId::INIT, crate::socket::SockType::Udp).unwrap();
    let to = core::net::SocketAddr::from((peer, 9));
    for _ in 0..100 {
        let _ = w.sendmsg(sock, b"through the tunnel", Some(to));
        w.poll(now);
    }
    let st = w.device_stats(t).unwrap();
    assert!(st.tx_dropped > 0 && st.tx_packets >= 1, "{st:?}");
    let n = w.tun_read(t, &mut buf).unwrap().unwrap();
    assert_eq!((buf[9], &buf[n - 18..n]), (17, &b"through the tunnel"[..]), "a UDP datagram, whole");
    // Writes beyond the receive queue are refused and counted.
    let mut refused = 0;
    for i in 0..200u16 {
        if w.tun_write(t, &echo_request(peer, us, i)) == Err(TunError::Full) {
            refused += 1;
        }
    }
    assert!(refused > 0);
    assert_eq!(w.device_stats(t).unwrap().rx_dropped, refused + 1, "and the write while down");
    assert_eq!(w.tun_write(t, &[]), Err(TunError::BadPacket));
    assert_eq!(w.tun_write(t, &[0u8; 1501]), Err(TunError::BadPacket));
    // Once the stack has polled, garbage is taken, and dropped by the stack.
    w.poll(now);
    while w.tun_read(t, &mut buf).unwrap().is_some() {}
    w.tun_write(t, &[0xff; 40]).unwrap();
    w.poll(now);
    assert_eq!(w.tun_read(t, &mut buf), Ok(None));
    w.close(sock).unwrap();
    // ip tuntap del dev tun0 mode tun: RTM_DELLINK; its queues go back to the pool.
    let r = talk(&mut w, &mut s, &msg(RTM_DELLINK, NLM_F_ACK, 5, set_link(t, |_| {})));
    assert_eq!(errors(&r, 5, 3), [0]);
    assert!(w.iface_by_name(NsId::INIT, "tun0").is_none());
    assert_eq!(w.tun_read(t, &mut buf), Err(TunError::NotTun));
    w.shutdown();
    assert!(w.pool_ref().stats().is_idle());
}

/// Send one request with an output buffer of exactly `room` bytes.
fn send_in(w: &mut World<'static>, sock: &mut NlSock, req: &[u8], room: usize) -> Vec<u8> {
    let mut out = vec![0u8; room];
    let s = w.netlink_send(sock, req, &mut out).unwrap();
    assert_eq!(s.consumed, req.len());
    out.truncate(s.written);
    out
}

#[test]
fn nft_replies_that_do_not_fit_never_follow_a_change() {
    use super::family::NftMsg;
    let mut w = world();
    w.attach_nft(Box::leak(Box::new(crate::netfilter::NftStorage::<4, 8, 32, 8, 64, 16>::new()))).unwrap();
    let mut s = w.netlink_socket(NsId::INIT, 8).unwrap();
    let mut mon = w.netlink_socket(NsId::INIT, 9).unwrap();
    w.netlink_subscribe(&mut mon, RTNLGRP_IPV4_RULE).unwrap();
    let nft =
        |seq: u32, cmd: &str| msg(SKBNET_NFT, NLM_F_ACK, seq, move |w| NftMsg { cmd: Some(cmd), output: None }.emit(w));
    // Changes in the smallest buffer a request is taken with: each is
    // acknowledged, and the rules group hears of it.
    let mut cmds = vec![
        "add table inet filter".to_string(),
        "add chain inet filter input { type filter hook input priority 0 ; policy accept ; }".to_string(),
        "add rule inet filter input ip saddr 192.168.1.0/24 drop".to_string(),
    ];
    cmds.extend((20..30).map(|p| format!("add rule inet filter input tcp dport {p} drop")));
    for (i, c) in cmds.iter().enumerate() {
        let r = send_in(&mut w, &mut s, &nft(i as u32, c), REPLY_ROOM);
        assert_eq!(errors(&r, i as u32, 8), [0], "{c}");
    }
    let mut out = vec![0u8; 4096];
    let n = w.netlink_recv(&mut mon, &mut out).unwrap();
    assert_eq!(messages(&out[..n]).count(), cmds.len(), "one rules event a change");
    // A listing longer than the buffer: EMSGSIZE, nothing written before
    // the error, the rule set as it was and no event.
    let mut before = String::new();
    w.nft(NsId::INIT, "list ruleset", &mut before).unwrap();
    assert!(before.len() > REPLY_ROOM, "the listing needs more than one buffer");
    let r = send_in(&mut w, &mut s, &nft(40, "list ruleset"), REPLY_ROOM);
    assert_eq!(errors(&r, 40, 8), [Errno::MsgSize.code()]);
    assert!(messages(&r).all(|m| m.unwrap().header.ty == NLMSG_ERROR), "no partial listing");
    let mut after = String::new();
    w.nft(NsId::INIT, "list ruleset", &mut after).unwrap();
    assert_eq!(before, after);
    assert_eq!(w.netlink_recv(&mut mon, &mut out).unwrap(), 0, "a listing is no event");
    // With room, the same listing comes back whole before its ack.
    let r = send_in(&mut w, &mut s, &nft(41, "list ruleset"), 4096);
    assert_eq!(errors(&r, 41, 8), [0]);
    let text: String = messages(&r)
        .map(Result::unwrap)
        .filter(|m| m.header.ty == SKBNET_NFT)
        .map(|m| NftMsg::parse(m.payload).unwrap().output.unwrap().to_string())
        .collect();
    assert_eq!(text, before);
}

/// `ip route del` matches as Linux's `fib_table_delete`: a request without
/// a metric (or with 0) deletes the route whatever its metric, a preferred
/// source narrows the match, table 0 is the main table, and host bits past
/// the prefix are refused rather than masked.
#[test]
fn route_delete_matches_as_linux_does() {
    let mut w = world();
    let (v0, _, _) = seed(&mut w);
    let mut s = w.netlink_socket(NsId::INIT, 8).unwrap();
    let net = Ipv4Addr::new(10, 1, 0, 0);
    let gw = Some(Ipv4Addr::new(192, 168, 76, 2));
    let ours = Ipv4Addr::new(192, 168, 76, 1);
    let req = |dst: Ipv4Addr, len: u8, table: u8, priority: Option<u32>, prefsrc: Option<Ipv4Addr>| {
        let m = RouteMsg {
            header: RtMsg { family: AF_INET, dst_len: len, table, scope: RT_SCOPE_NOWHERE, ..RtMsg::default() },
            dst: Some(dst),
            priority,
            prefsrc,
            ..RouteMsg::default()
        };
        move |w: &mut NlWriter<'_>| m.emit(w)
    };
    let add = |w: &mut World<'static>, s: &mut NlSock, seq, metric, prefsrc| {
        let m = RouteMsg { priority: Some(metric), prefsrc, ..route_msg(net, 16, gw) };
        let r = talk(w, s, &msg(RTM_NEWROUTE, CREATE, seq, move |w| m.emit(w)));
        assert_eq!(errors(&r, seq, 8), [0]);
    };
    let metrics = |w: &World<'static>| -> Vec<u32> {
        w.routes(NsId::INIT).filter(|r| r.dst == net && r.oif == v0).map(|r| r.metric).collect()
    };
    add(&mut w, &mut s, 1, 100, None);
    // Host bits past the prefix: EINVAL, nothing deleted.
    let r = talk(&mut w, &mut s, &msg(RTM_DELROUTE, NLM_F_ACK, 2, req(Ipv4Addr::new(10, 1, 0, 1), 16, 0, None, None)));
    assert_eq!(errors(&r, 2, 8), [super::Errno::Inval.code()]);
    // No metric given: the metric-100 route goes.
    let r = talk(&mut w, &mut s, &msg(RTM_DELROUTE, NLM_F_ACK, 3, req(net, 16, RT_TABLE_MAIN, None, None)));
    assert_eq!(errors(&r, 3, 8), [0]);
    assert_eq!(metrics(&w), Vec::<u32>::new());
    // Metric 0 is no metric either; a preferred source picks among routes.
    add(&mut w, &mut s, 4, 100, None);
    add(&mut w, &mut s, 5, 200, Some(ours));
    let r = talk(&mut w, &mut s, &msg(RTM_DELROUTE, NLM_F_ACK, 6, req(net, 16, 0, Some(0), Some(ours))));
    assert_eq!(errors(&r, 6, 8), [0]);
    assert_eq!(metrics(&w), [100], "the route with that source went");
    // Table 0 is the main table, not every table: our address's local
    // route is not found there.
    let r = talk(&mut w, &mut s, &msg(RTM_DELROUTE, NLM_F_ACK, 7, req(ours, 32, 0, None, None)));
    assert_eq!(errors(&r, 7, 8), [super::Errno::Srch.code()]);
    assert!(w.routes(NsId::INIT).any(|r| r.dst == ours && r.prefix_len == 32), "the local route stays");
}

/// A route metric Linux knows but this stack does not keep (`ip route add
/// ... initcwnd 10`) is refused as not supported, by name; a metric number
/// nobody defines is an unknown attribute.
#[test]
fn an_unkept_route_metric_is_refused_by_name() {
    let mut w = world();
    seed(&mut w);
    let mut s = w.netlink_socket(NsId::INIT, 9).unwrap();
    let with_metric = |ty: u16| {
        let m = route_msg(Ipv4Addr::new(10, 3, 0, 0), 16, Some(Ipv4Addr::new(192, 168, 76, 2)));
        move |w: &mut NlWriter<'_>| {
            m.emit(w)?;
            let n = w.nest(RTA_METRICS | crate::netlink::uapi::NLA_F_NESTED)?;
            w.attr_u32(ty, 10)?;
            w.end_nest(n);
            Ok(())
        }
    };
    const RTAX_INITCWND: u16 = 16;
    let r = talk(&mut w, &mut s, &msg(RTM_NEWROUTE, CREATE, 1, with_metric(RTAX_INITCWND)));
    assert_eq!(errors(&r, 1, 9), [super::Errno::OpNotSupp.code()]);
    let text = String::from_utf8_lossy(&r);
    assert!(text.contains("route metric not supported"), "the extended ack names it");
    let r = talk(&mut w, &mut s, &msg(RTM_NEWROUTE, CREATE, 2, with_metric(200)));
    assert_eq!(errors(&r, 2, 9), [super::Errno::Inval.code()]);
    assert!(!w.routes(NsId::INIT).any(|r| r.dst == Ipv4Addr::new(10, 3, 0, 0)), "nothing added");
}

//! The first end-to-end path, in-process: two hosts and a router in three
//! namespaces, joined by simulated NICs on links.
//!
//! ```text
//!  h1 eth0 10.0.1.2/24 ---- 10.0.1.1/24 eth0  r  eth1 10.0.2.1/24 ---- 10.0.2.2/24 eth0 h2
//!                link a (MTU 1500)                      link b (MTU 1000)
//! ```

mod common;

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use common::*;
use skbnet::dev::Features;
use skbnet::ip::fib::{Route, RouteKind};
use skbnet::netns::{NsId, SmallWorldStorage, World};
use skbnet::socket::{Errno, SockId, SockOpt, SockType};
use skbnet::stats::DropReason;
use skbnet::time::Instant;
use skbnet_nic_sim::link::{LinkConfig, NoTap, Side};

const H1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const R1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const R2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
const H2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

/// The three namespaces and the clock.
struct Topo {
    h1: NsId,
    r: NsId,
    h2: NsId,
    now: Instant,
}

/// Build the topology and run `f` on it; afterwards the world shuts down
/// and the pool must be completely free.
fn with_topo(offloads: Features, f: impl FnOnce(&mut World<'_>, &mut Topo)) {
    let mut mem = storage();
    let link_a = Box::new(RefCell::new(TestLink::new(LinkConfig::ethernet(), 1, NoTap)));
    let link_b =
        Box::new(RefCell::new(TestLink::new(LinkConfig { max_frame: 1014, ..LinkConfig::ethernet() }, 2, NoTap)));
    let mk = |mac: u8, link, side, mtu| {
        nic([2, 0, 0, 0, 0, mac], link, side, |c| {
            c.offloads = offloads;
            c.mtu = mtu;
        })
    };
    let mut h1_nic = mk(0x11, &link_a, Side::A, 1500);
    let mut r_nic0 = mk(0x21, &link_a, Side::B, 1500);
    let mut r_nic1 = mk(0x22, &link_b, Side::A, 1000);
    let mut h2_nic = mk(0x31, &link_b, Side::B, 1000);
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut world = World::new(&mut ws, mem.pool(), [7; 16]).unwrap();
    let (h1, r, h2) = (world.add_netns("h1").unwrap(), world.add_netns("r").unwrap(), world.add_netns("h2").unwrap());
    let i = world.add_device(h1, "eth0", &mut *h1_nic).unwrap();
    world.set_link_up(i, true).unwrap();
    world.add_addr(i, H1, 24).unwrap();
    let i = world.add_device(r, "eth0", &mut *r_nic0).unwrap();
    world.set_link_up(i, true).unwrap();
    world.add_addr(i, R1, 24).unwrap();
    let i = world.add_device(r, "eth1", &mut *r_nic1).unwrap();
    world.set_link_up(i, true).unwrap();
    world.add_addr(i, R2, 24).unwrap();
    let i = world.add_device(h2, "eth0", &mut *h2_nic).unwrap();
    world.set_link_up(i, true).unwrap();
    world.add_addr(i, H2, 24).unwrap();
    world.add_route_via(h1, Ipv4Addr::UNSPECIFIED, 0, R1).unwrap();
    world.add_route_via(h2, Ipv4Addr::UNSPECIFIED, 0, R2).unwrap();
    let mut s = world.sysctl(r).unwrap();
    s.ip_forward = true;
    world.set_sysctl(r, s).unwrap();
    let mut t = Topo { h1, r, h2, now: Instant::ZERO };
    f(&mut world, &mut t);
    world.shutdown();
    let st = world.pool_ref().stats();
    assert!(st.is_idle(), "pool not free at the end: {st:?}");
    assert_eq!(st.bad_handles, 0);
}

/// Poll the world every 100 us of virtual time until `done` or `limit` passes.
fn run(w: &mut World<'_>, t: &mut Topo, limit_ms: u64, mut done: impl FnMut(&mut World<'_>) -> bool) -> bool {
    let end = t.now + core::time::Duration::from_millis(limit_ms);
    while t.now < end {
        w.poll(t.now);
        if done(w) {
            return true;
        }
        let next = w.poll_at().unwrap_or(end).max(t.now + core::time::Duration::from_micros(1));
        t.now = next.min(t.now + core::time::Duration::from_millis(10));
    }
    false
}

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

fn udp(w: &mut World<'_>, ns: NsId, port: u16) -> SockId {
    let s = w.socket(ns, SockType::Udp).unwrap();
    w.bind(s, sa(Ipv4Addr::UNSPECIFIED, port)).unwrap();
    s
}

/// Wait for a datagram on `s` and return it with its sender.
fn recv(w: &mut World<'_>, t: &mut Topo, s: SockId) -> Result<(Vec<u8>, SocketAddrV4), Errno> {
    let mut out = Err(Errno::WouldBlock);
    run(w, t, 5_000, |w| {
        let mut buf = vec![0u8; 70_000];
        out = w.recvmsg(s, &mut buf).map(|m| (buf[..m.len].to_vec(), m.from));
        out != Err(Errno::WouldBlock)
    });
    out
}

/// Listen on `to`'s port in `ns`, connect the client socket `c` there, and
/// run until both ends are up: the accepted socket and the listener.
fn establish(w: &mut World<'_>, t: &mut Topo, c: SockId, ns: NsId, to: SocketAddr) -> (SockId, SockId) {
    let l = w.socket(ns, SockType::Tcp).unwrap();
    w.bind(l, sa(Ipv4Addr::UNSPECIFIED, to.port())).unwrap();
    w.listen(l, 1).unwrap();
    assert_eq!(w.connect(c, to), Err(Errno::InProgress));
    let mut s = None;
    let up = run(w, t, 1_000, |w| {
        s = s.or_else(|| w.accept(l).ok().map(|(s, _)| s));
        s.is_some() && w.events(c).is_ok_and(|e| e.writable)
    });
    assert!(up, "no connection to {to}: {:?}", w.stats(ns).map(|st| st.drops));
    (s.unwrap(), l)
}

/// Send `data` from `c` to `s` (connected TCP sockets) for up to `ms`,
/// calling `each` with what has arrived so far after every read; returns
/// the bytes that arrived.
fn stream(
    w: &mut World<'_>,
    t: &mut Topo,
    (c, s): (SockId, SockId),
    data: &[u8],
    ms: u64,
    mut each: impl FnMut(&mut World<'_>, usize),
) -> Vec<u8> {
    let (mut sent, mut got, mut buf) = (0, Vec::new(), vec![0u8; 65_536]);
    run(w, t, ms, |w| {
        if let Ok(n) = w.sendmsg(c, &data[sent..], None) {
            sent += n;
        }
        while let Ok(m) = w.recvmsg(s, &mut buf) {
            got.extend_from_slice(&buf[..m.len]);
        }
        each(w, got.len());
        got.len() == data.len()
    });
    got
}

fn echo_request(seq: u16, data: &[u8]) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0, 0, 0];
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(data);
    m
}

#[test]
fn ping_across_the_router() {
    with_topo(Features::ALL, |w, t| {
        let p = w.socket(t.h1, SockType::Ping).unwrap();
        for seq in 0..5u16 {
            let data = payload_of(56 + usize::from(seq) * 100, seq as u8);
            w.sendmsg(p, &echo_request(seq, &data), Some(sa(H2, 0))).unwrap();
            let (reply, from) = recv(w, t, p).unwrap();
            assert_eq!(*from.ip(), H2);
            assert_eq!(reply[0], 0, "echo reply");
            assert_eq!(u16::from_be_bytes([reply[6], reply[7]]), seq);
            assert_eq!(&reply[8..], &data[..], "data byte for byte");
        }
        let r = w.stats(t.r).unwrap();
        assert_eq!(r.ip.ForwDatagrams, 10, "5 requests and 5 replies forwarded");
        assert_eq!(w.stats(t.h2).unwrap().icmp.InEchos, 5);
        assert_eq!(w.stats(t.h2).unwrap().icmp.OutEchoReps, 5);
        w.close(p).unwrap();
    });
}

#[test]
fn udp_echo_across_the_router() {
    with_topo(Features::ALL, |w, t| {
        let server = udp(w, t.h2, 7);
        let client = w.socket(t.h1, SockType::Udp).unwrap();
        w.connect(client, sa(H2, 7)).unwrap();
        for i in 0..20u8 {
            let msg = payload_of(1 + usize::from(i) * 40, i);
            assert_eq!(w.sendmsg(client, &msg, None), Ok(msg.len()));
            let (got, from) = recv(w, t, server).unwrap();
            assert_eq!(got, msg);
            assert_eq!(*from.ip(), H1);
            w.sendmsg(server, &got, Some(SocketAddr::V4(from))).unwrap();
            let (back, from) = recv(w, t, client).unwrap();
            assert_eq!(back, msg, "the echo, byte for byte");
            assert_eq!(from, SocketAddrV4::new(H2, 7));
        }
        let (h1, h2) = (w.stats(t.h1).unwrap().udp, w.stats(t.h2).unwrap().udp);
        assert_eq!((h1.OutDatagrams, h1.InDatagrams, h2.InDatagrams, h2.OutDatagrams), (20, 20, 20, 20));
        w.close(client).unwrap();
        w.close(server).unwrap();
    });
}

#[test]
fn a_closed_port_answers_port_unreachable_to_a_connected_socket() {
    with_topo(Features::ALL, |w, t| {
        let client = w.socket(t.h1, SockType::Udp).unwrap();
        w.connect(client, sa(H2, 9999)).unwrap();
        w.sendmsg(client, b"anyone?", None).unwrap();
        assert_eq!(recv(w, t, client), Err(Errno::ConnRefused));
        assert_eq!(w.stats(t.h2).unwrap().udp.NoPorts, 1);
        assert_eq!(w.stats(t.h2).unwrap().drops.get(DropReason::NoSocket), 1);
        assert_eq!(w.stats(t.h1).unwrap().icmp.InDestUnreachs, 1);
        w.close(client).unwrap();
    });
}

#[test]
fn ttl_expiry_is_answered_by_the_router() {
    with_topo(Features::ALL, |w, t| {
        // A time exceeded is a soft error (Linux's icmp_err_convert): a
        // connected socket hears it only with IP_RECVERR.
        let quiet = w.socket(t.h1, SockType::Udp).unwrap();
        let client = w.socket(t.h1, SockType::Udp).unwrap();
        w.setsockopt(client, SockOpt::RecvErr(true)).unwrap();
        for s in [quiet, client] {
            w.setsockopt(s, SockOpt::Ttl(1)).unwrap();
            w.connect(s, sa(H2, 7)).unwrap();
            w.sendmsg(s, b"short-lived", None).unwrap();
        }
        assert_eq!(recv(w, t, client), Err(Errno::HostUnreachable));
        assert_eq!(recv(w, t, quiet), Err(Errno::WouldBlock), "no IP_RECVERR: not reported");
        let r = w.stats(t.r).unwrap();
        assert_eq!(r.icmp.OutTimeExcds, 2);
        assert_eq!(r.drops.get(DropReason::TtlExpired), 2);
        assert_eq!(r.ip.ForwDatagrams, 0);
        assert_eq!(w.stats(t.h1).unwrap().icmp.InTimeExcds, 2);
        w.close(client).unwrap();
        w.close(quiet).unwrap();
    });
}

#[test]
fn fragments_cross_a_smaller_mtu_link_and_reassemble() {
    with_topo(Features::ALL, |w, t| {
        let server = udp(w, t.h2, 7);
        let client = w.socket(t.h1, SockType::Udp).unwrap();
        w.connect(client, sa(H2, 7)).unwrap();
        let msg = payload_of(4000, 9);
        w.sendmsg(client, &msg, None).unwrap();
        let (got, _) = recv(w, t, server).unwrap();
        assert_eq!(got, msg, "reassembled byte for byte");
        let (h1, r, h2) = (w.stats(t.h1).unwrap().ip, w.stats(t.r).unwrap().ip, w.stats(t.h2).unwrap().ip);
        assert_eq!((h1.FragOKs, h1.FragCreates), (1, 3), "4028 bytes in 1500-byte fragments");
        assert_eq!(r.ForwDatagrams, 3);
        // 1500, 1500 and 1068 bytes: each is above 1000, each splits in two.
        assert_eq!((r.FragOKs, r.FragCreates), (3, 6), "every fragment split again for MTU 1000");
        assert_eq!((h2.ReasmReqds, h2.ReasmOKs), (6, 1));
        // And back, fragmented by h2 for its own link.
        w.sendmsg(server, &got, Some(sa(H1, w.local_addr(client).unwrap().port()))).unwrap();
        assert_eq!(recv(w, t, client).unwrap().0, msg);
        w.close(client).unwrap();
        w.close(server).unwrap();
    });
}

#[test]
fn fragmentation_needed_teaches_the_path_mtu() {
    with_topo(Features::ALL, |w, t| {
        let _server = udp(w, t.h2, 7);
        let client = w.socket(t.h1, SockType::Udp).unwrap();
        w.setsockopt(client, SockOpt::MtuDiscover(true)).unwrap();
        w.connect(client, sa(H2, 7)).unwrap();
        let big = payload_of(1400, 1);
        assert_eq!(w.sendmsg(client, &big, None), Ok(1400), "fits the first link");
        assert_eq!(recv(w, t, client), Err(Errno::MsgSize), "the router said: next hop MTU 1000");
        assert_eq!(w.stats(t.r).unwrap().ip.FragFails, 1);
        assert_eq!(w.sendmsg(client, &big, None), Err(Errno::MsgSize), "the learned path MTU applies at once");
        assert_eq!(w.sendmsg(client, &big[..972], None), Ok(972), "972 + 28 = 1000 fits");
        w.close(client).unwrap();
    });
}

#[test]
fn an_unreachable_neighbour_does_not_block_other_traffic() {
    with_topo(Features::ALL, |w, t| {
        let ghost = Ipv4Addr::new(10, 0, 1, 99);
        let lost = w.socket(t.h1, SockType::Udp).unwrap();
        // Host unreachable is a soft error: heard with IP_RECVERR.
        w.setsockopt(lost, SockOpt::RecvErr(true)).unwrap();
        w.connect(lost, sa(ghost, 5000)).unwrap();
        for _ in 0..20 {
            let _ = w.sendmsg(lost, &[0u8; 100], None);
        }
        // Meanwhile the router and h2 stay reachable.
        let p = w.socket(t.h1, SockType::Ping).unwrap();
        w.sendmsg(p, &echo_request(1, b"still here"), Some(sa(H2, 0))).unwrap();
        assert_eq!(&recv(w, t, p).unwrap().0[8..], b"still here");
        let st = w.stats(t.h1).unwrap();
        assert_eq!(st.drops.get(DropReason::NeighQueueFull), 12, "8 wait, the rest are dropped and counted");
        // Three requests a second apart, then the waiting packets are answered.
        assert_eq!(recv(w, t, lost), Err(Errno::HostUnreachable));
        let st = w.stats(t.h1).unwrap();
        assert_eq!(st.drops.get(DropReason::NeighFailed), 8);
        assert!(w.now() >= Instant::from_secs(3));
        w.close(lost).unwrap();
        w.close(p).unwrap();
    });
}

#[test]
fn the_same_traffic_passes_without_offloads() {
    with_topo(Features::NONE, |w, t| {
        let server = udp(w, t.h2, 7);
        let client = w.socket(t.h1, SockType::Udp).unwrap();
        w.connect(client, sa(H2, 7)).unwrap();
        for len in [1, 900, 1472, 3000, 65_507] {
            let msg = payload_of(len, len as u8);
            w.sendmsg(client, &msg, None).unwrap();
            assert_eq!(recv(w, t, server).unwrap().0, msg, "{len} bytes");
        }
        w.close(client).unwrap();
        w.close(server).unwrap();
    });
}

#[test]
fn loopback_and_local_addresses_deliver_through_lo() {
    with_topo(Features::ALL, |w, t| {
        let server = udp(w, t.h1, 53);
        let client = w.socket(t.h1, SockType::Udp).unwrap();
        for dst in [Ipv4Addr::LOCALHOST, H1] {
            w.sendmsg(client, b"local", Some(sa(dst, 53))).unwrap();
            let (got, from) = recv(w, t, server).unwrap();
            assert_eq!((got.as_slice(), *from.ip()), (&b"local"[..], dst));
        }
        assert_eq!(w.stats(t.r).unwrap().ip.InReceives, 0, "nothing left h1");
        w.close(client).unwrap();
        w.close(server).unwrap();
    });
}

/// Regression: the ICMP error path refused every loopback source, so a UDP
/// socket connected to a closed port on 127.0.0.1 never heard ECONNREFUSED
/// (Linux reports it at once).
#[test]
fn a_closed_loopback_port_refuses_a_connected_socket() {
    with_topo(Features::ALL, |w, t| {
        let client = w.socket(t.h1, SockType::Udp).unwrap();
        w.connect(client, sa(Ipv4Addr::LOCALHOST, 9999)).unwrap();
        w.sendmsg(client, b"anyone?", None).unwrap();
        assert_eq!(recv(w, t, client), Err(Errno::ConnRefused));
        let h1 = w.stats(t.h1).unwrap();
        assert_eq!((h1.udp.NoPorts, h1.icmp.OutDestUnreachs, h1.icmp.InDestUnreachs), (1, 1, 1));
        w.close(client).unwrap();
    });
}

/// Fragmentation needed is exempt from the ICMP rate limit (Linux's
/// `icmpv4_mask_allow`): path-MTU discovery must not black-hole a path
/// because the router has spent its tokens on other errors.
#[test]
fn fragmentation_needed_is_sent_when_the_icmp_bucket_is_empty() {
    with_topo(Features::ALL, |w, t| {
        let mut sc = w.sysctl(t.r).unwrap();
        (sc.icmp_msgs_per_sec, sc.icmp_msgs_burst) = (1, 2);
        w.set_sysctl(t.r, sc).unwrap();
        let _server = udp(w, t.h2, 7);
        let short = w.socket(t.h1, SockType::Udp).unwrap();
        w.setsockopt(short, SockOpt::Ttl(1)).unwrap();
        w.connect(short, sa(H2, 7)).unwrap();
        for _ in 0..4 {
            w.sendmsg(short, b"expires", None).unwrap();
        }
        run(w, t, 50, |_| false);
        let r = w.stats(t.r).unwrap();
        assert_eq!((r.icmp.OutTimeExcds, r.icmp.OutRateLimitGlobal), (2, 2), "the bucket is empty");
        let big = w.socket(t.h1, SockType::Udp).unwrap();
        w.setsockopt(big, SockOpt::MtuDiscover(true)).unwrap();
        w.connect(big, sa(H2, 7)).unwrap();
        assert_eq!(w.sendmsg(big, &payload_of(1400, 3), None), Ok(1400));
        assert_eq!(recv(w, t, big), Err(Errno::MsgSize), "the router still said: next hop MTU 1000");
        let r = w.stats(t.r).unwrap();
        assert_eq!((r.icmp.OutDestUnreachs, r.icmp.OutRateLimitGlobal), (1, 2));
        w.close(short).unwrap();
        w.close(big).unwrap();
    });
}

/// Regression: the router's NIC merges (LRO) full-size TCP segments of
/// 948 bytes, whose 1000-byte packets fit the MTU-1000 link exactly.
/// Forwarding judged a merged packet by `gso_size` plus 60 bytes of
/// headers instead of its real headers (52), so every merged packet was
/// refused with ICMP "need to frag (mtu 1000)" and the connection stalled
/// in retransmissions. Each segment fits, so the packet must be forwarded.
#[test]
fn lro_merged_segments_that_fit_the_next_hop_are_forwarded() {
    with_topo(Features::ALL, |w, t| {
        let c = w.socket(t.h1, SockType::Tcp).unwrap();
        let (s, l) = establish(w, t, c, t.h2, sa(H2, 5001));
        assert_eq!(w.tcp_info(c).unwrap().mss, 948, "960 announced by h2, less 12 bytes of timestamps");
        let data = payload_of(64 * 1024, 3);
        let (mut sent, mut got, mut buf) = (0, Vec::new(), vec![0u8; 65_536]);
        let done = run(w, t, 2_000, |w| {
            if let Ok(n) = w.sendmsg(c, &data[sent..], None) {
                sent += n;
            }
            while let Ok(m) = w.recvmsg(s, &mut buf) {
                got.extend_from_slice(&buf[..m.len]);
            }
            got.len() == data.len()
        });
        assert!(done && got == data, "{} of {} bytes arrived", got.len(), data.len());
        let r = w.stats(t.r).unwrap();
        assert_eq!((r.ip.FragFails, r.drops.get(DropReason::FragNeeded)), (0, 0), "nothing refused");
        assert_eq!(w.stats(t.h1).unwrap().tcp.RetransSegs, 0);
        for id in [c, s, l] {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn a_blackhole_route_on_the_router_discards_silently_and_frees() {
    with_topo(Features::ALL, |w, t| {
        let _server = udp(w, t.h2, 7);
        let hole = Route { kind: RouteKind::Blackhole, ..Route::unicast(H2, 32, None, 0) };
        w.add_route(t.r, hole).unwrap();
        let client = w.socket(t.h1, SockType::Udp).unwrap();
        w.connect(client, sa(H2, 7)).unwrap();
        for i in 0..5u8 {
            w.sendmsg(client, &[i; 300], None).unwrap();
        }
        // No ICMP comes back: a blackhole says nothing.
        assert_eq!(recv(w, t, client), Err(Errno::WouldBlock));
        let r = w.stats(t.r).unwrap();
        assert_eq!(r.ip.InNoRoutes, 5);
        assert_eq!(r.drops.get(DropReason::NoRoute), 5);
        assert_eq!((r.ip.ForwDatagrams, r.icmp.OutDestUnreachs), (0, 0));
        // with_topo checks that the five datagrams went back to the pool.
        w.close(client).unwrap();
    });
}

#[test]
fn a_permanent_neighbour_sends_what_waited_for_its_address() {
    with_topo(Features::ALL, |w, t| {
        // h1 reaches h2's subnet through a gateway that never answers ARP.
        let gw = Ipv4Addr::new(10, 0, 1, 77);
        w.add_route_via(t.h1, Ipv4Addr::new(10, 0, 2, 0), 24, gw).unwrap();
        let server = udp(w, t.h2, 7);
        let client = w.socket(t.h1, SockType::Udp).unwrap();
        w.connect(client, sa(H2, 7)).unwrap();
        w.sendmsg(client, b"waited for the gateway", None).unwrap();
        run(w, t, 500, |_| false);
        assert_eq!(w.stats(t.h2).unwrap().udp.InDatagrams, 0, "still waiting for ARP");
        // The administrator names the gateway's MAC: the router's eth0.
        let eth0 = w.iface_by_name(t.h1, "eth0").unwrap();
        w.add_neigh(eth0, gw, skbnet::wire::MacAddr([2, 0, 0, 0, 0, 0x21])).unwrap();
        let (got, from) = recv(w, t, server).unwrap();
        assert_eq!(got, b"waited for the gateway");
        assert_eq!(*from.ip(), H1);
        let h1 = w.stats(t.h1).unwrap();
        assert_eq!(h1.drops.get(DropReason::NeighFailed), 0);
        w.close(client).unwrap();
        w.close(server).unwrap();
    });
}

#[test]
fn a_tun_device_on_the_router_reaches_hosts_behind_ethernet() {
    // The VPN shape: an application behind tun0 on the router pings h1.
    // What it writes has no room for an Ethernet header; forwarding must
    // make some, first through the ARP queue and then directly.
    with_topo(Features::ALL, |w, t| {
        let tun = w.add_tun(t.r, "tun0").unwrap();
        w.set_link_up(tun, true).unwrap();
        w.add_addr(tun, Ipv4Addr::new(10, 8, 0, 1), 24).unwrap();
        let app = Ipv4Addr::new(10, 8, 0, 2);
        for seq in 1..=2u16 {
            let mut req = Vec::new();
            etherparse::PacketBuilder::ipv4(app.octets(), H1.octets(), 64)
                .icmpv4_echo_request(0x77, seq)
                .write(&mut req, b"through the tunnel")
                .unwrap();
            w.tun_write(tun, &req).unwrap();
            let mut buf = [0u8; 1500];
            let mut n = None;
            run(w, t, 2_000, |w| {
                n = w.tun_read(tun, &mut buf).unwrap();
                n.is_some()
            });
            let n = n.unwrap_or_else(|| panic!("no echo reply {seq} came back through tun0"));
            let reply = etherparse::SlicedPacket::from_ip(&buf[..n]).unwrap();
            let Some(etherparse::NetSlice::Ipv4(ip)) = &reply.net else { panic!("not IPv4") };
            assert_eq!((ip.header().source_addr(), ip.header().destination_addr()), (H1, app));
            let Some(etherparse::TransportSlice::Icmpv4(icmp)) = &reply.transport else { panic!("not ICMP") };
            assert_eq!(
                icmp.icmp_type(),
                etherparse::Icmpv4Type::EchoReply(etherparse::IcmpEchoHeader { id: 0x77, seq })
            );
            assert_eq!(icmp.payload(), b"through the tunnel");
        }
        let r = w.stats(t.r).unwrap();
        assert_eq!(r.ip.ForwDatagrams, 4, "two requests out, two replies back");
        assert_eq!(r.drops.total(), 0, "{:?}", r.drops);
    });
}

#[test]
fn packets_waiting_for_arp_when_the_link_goes_down_are_counted() {
    with_topo(Features::ALL, |w, t| {
        let lost = w.socket(t.h1, SockType::Udp).unwrap();
        w.connect(lost, sa(Ipv4Addr::new(10, 0, 1, 99), 5000)).unwrap();
        for _ in 0..5 {
            w.sendmsg(lost, &[0u8; 100], None).unwrap();
        }
        run(w, t, 100, |_| false);
        assert_eq!(w.stats(t.h1).unwrap().drops.get(DropReason::LinkDown), 0);
        let eth0 = w.iface_by_name(t.h1, "eth0").unwrap();
        w.set_link_up(eth0, false).unwrap();
        let st = w.stats(t.h1).unwrap();
        assert_eq!(st.drops.get(DropReason::LinkDown), 5, "the five that waited for 10.0.1.99");
        assert_eq!(st.drops.get(DropReason::NeighFailed), 0);
        w.close(lost).unwrap();
    });
}

#[test]
fn what_loopback_holds_when_it_goes_down_is_not_delivered_later() {
    with_topo(Features::ALL, |w, t| {
        let server = udp(w, t.h1, 53);
        let client = w.socket(t.h1, SockType::Udp).unwrap();
        // Sent, not yet polled: the datagram waits in lo's queue.
        w.sendmsg(client, b"stale", Some(sa(Ipv4Addr::LOCALHOST, 53))).unwrap();
        let lo = w.iface_by_name(t.h1, "lo").unwrap();
        w.set_link_up(lo, false).unwrap();
        w.set_link_up(lo, true).unwrap();
        assert_eq!(recv(w, t, server), Err(Errno::WouldBlock), "freed when lo went down");
        w.close(client).unwrap();
        w.close(server).unwrap();
    });
}

/// Deleting one of two addresses in a subnet promotes the other: the
/// subnet and broadcast routes stay, now with the survivor as their source,
/// so the host stops sending from the address it gave up.
#[test]
fn the_second_address_in_a_subnet_takes_over_when_the_first_goes() {
    with_topo(Features::ALL, |w, t| {
        let eth0 = w.iface_by_name(t.h1, "eth0").unwrap();
        let second = Ipv4Addr::new(10, 0, 1, 3);
        w.add_addr(eth0, second, 24).unwrap();
        w.del_addr(eth0, H1).unwrap();
        let subnet: Vec<Route> = w
            .routes(t.h1)
            .filter(|r| r.oif == eth0 && r.gateway.is_none() && r.kind != RouteKind::Local)
            .copied()
            .collect();
        let mut kept: Vec<_> = subnet.iter().map(|r| (r.dst, r.prefix_len, r.kind, r.prefsrc)).collect();
        kept.sort_by_key(|k| k.0);
        let bcast = Ipv4Addr::new(10, 0, 1, 255);
        assert_eq!(
            kept,
            [
                (Ipv4Addr::new(10, 0, 1, 0), 24, RouteKind::Unicast, Some(second)),
                (bcast, 32, RouteKind::Broadcast, Some(second)),
            ],
            "both shared routes kept, with the survivor as source"
        );
        assert!(w.routes(t.h1).all(|r| r.prefsrc != Some(H1) && r.dst != H1), "nothing of the old address is left");
        // On the wire: the router hears from the survivor.
        let rs = udp(w, t.r, 9);
        let c = w.socket(t.h1, SockType::Udp).unwrap();
        w.sendmsg(c, b"who am i", Some(sa(R1, 9))).unwrap();
        let (got, from) = recv(w, t, rs).unwrap();
        assert_eq!((got.as_slice(), *from.ip()), (&b"who am i"[..], second));
        w.close(c).unwrap();
        w.close(rs).unwrap();
    });
}

/// A socket whose address is deleted stops sending from it (Linux's
/// `ip_route_output` refuses a source that is not local with `EINVAL`):
/// a datagram is refused, and a connection's segments stay queued and go
/// out once the address is back, from it.
#[test]
fn a_deleted_address_is_not_used_as_a_source() {
    with_topo(Features::ALL, |w, t| {
        let eth0 = w.iface_by_name(t.h1, "eth0").unwrap();
        let keep = Ipv4Addr::new(10, 0, 1, 3);
        w.add_addr(eth0, keep, 24).unwrap();
        let u = w.socket(t.h1, SockType::Udp).unwrap();
        w.bind(u, sa(H1, 5000)).unwrap();
        let c = w.socket(t.h1, SockType::Tcp).unwrap();
        w.bind(c, sa(H1, 0)).unwrap();
        let (s, l) = establish(w, t, c, t.h2, sa(H2, 5001));
        w.del_addr(eth0, H1).unwrap();
        assert_eq!(w.sendmsg(u, b"from nowhere", Some(sa(H2, 9))), Err(Errno::InvalidArgument));
        assert_eq!(w.sendmsg(c, b"later", None), Ok(5), "queued");
        let mut buf = [0u8; 16];
        assert!(!run(w, t, 1_500, |w| w.recvmsg(s, &mut buf).is_ok()), "nothing left h1 from the deleted address");
        w.add_addr(eth0, H1, 24).unwrap();
        let mut got = 0;
        assert!(run(w, t, 5_000, |w| {
            got = w.recvmsg(s, &mut buf).map_or(got, |m| m.len);
            got > 0
        }));
        assert_eq!((&buf[..got], *w.peer_addr(s).unwrap().ip()), (&b"later"[..], H1), "retransmitted once it was back");
        for id in [u, c, s, l] {
            w.close(id).unwrap();
        }
    });
}

/// A socket bound to the broadcast address (to hear broadcasts) sends from
/// a real address: RFC 1122 §3.2.1.3 forbids a broadcast source.
#[test]
fn a_socket_bound_to_broadcast_sends_from_a_real_address() {
    with_topo(Features::ALL, |w, t| {
        let rs = udp(w, t.r, 9);
        let b = w.socket(t.h1, SockType::Udp).unwrap();
        w.bind(b, sa(Ipv4Addr::BROADCAST, 6000)).unwrap();
        w.sendmsg(b, b"hello", Some(sa(R1, 9))).unwrap();
        let (got, from) = recv(w, t, rs).unwrap();
        assert_eq!((got.as_slice(), from), (&b"hello"[..], SocketAddrV4::new(H1, 6000)));
        w.close(b).unwrap();
        w.close(rs).unwrap();
    });
}

/// The whole of 127.0.0.0/8 is local (`local 127.0.0.0/8 dev lo`): a
/// connection to 127.0.0.5 answers from 127.0.0.5, and so does a ping.
#[test]
fn any_loopback_address_answers_from_itself() {
    with_topo(Features::ALL, |w, t| {
        let five = Ipv4Addr::new(127, 0, 0, 5);
        let c = w.socket(t.h1, SockType::Tcp).unwrap();
        let (s, l) = establish(w, t, c, t.h1, sa(five, 7000));
        assert_eq!(w.sendmsg(s, b"from five", None), Ok(9));
        let mut buf = [0u8; 16];
        let mut got = 0;
        assert!(run(w, t, 1_000, |w| {
            got = w.recvmsg(c, &mut buf).map_or(got, |m| m.len);
            got > 0
        }));
        assert_eq!(&buf[..got], b"from five");
        assert_eq!(*w.local_addr(s).unwrap().ip(), five);
        let p = w.socket(t.h1, SockType::Ping).unwrap();
        w.sendmsg(p, &echo_request(1, b"abcd"), Some(sa(five, 0))).unwrap();
        let (reply, from) = recv(w, t, p).unwrap();
        assert_eq!((reply[0], *from.ip(), &reply[8..]), (0, five, &b"abcd"[..]));
        for id in [p, c, s, l] {
            w.close(id).unwrap();
        }
    });
}

/// Lowering the MTU under an established connection (`ip link set eth0 mtu
/// 800`): the next segment no longer fits the route, so the connection
/// takes the smaller MSS (RFC 1122 §4.2.2.6's MMS_S shrank; Linux learns it
/// from the ICMP error `ip_fragment` sends itself) and carries on, instead
/// of failing every send for ever.
#[test]
fn a_connection_carries_on_when_its_mtu_is_lowered() {
    with_topo(Features::ALL, |w, t| {
        let c = w.socket(t.h1, SockType::Tcp).unwrap();
        let (s, l) = establish(w, t, c, t.h2, sa(H2, 5001));
        assert_eq!(w.tcp_info(c).unwrap().mss, 948);
        let data = payload_of(256 * 1024, 5);
        let mut lowered = false;
        let eth0 = w.iface_by_name(t.h1, "eth0").unwrap();
        let got = stream(w, t, (c, s), &data, 3_000, |w, arrived| {
            if !lowered && arrived > 64 * 1024 {
                w.set_mtu(eth0, 800).unwrap();
                lowered = true;
            }
        });
        assert!(lowered);
        assert!(got == data, "{} of {} bytes arrived", got.len(), data.len());
        assert_eq!(w.tcp_info(c).unwrap().mss, 800 - 40 - 12, "the MTU's, less headers and timestamps");
        let h1 = w.stats(t.h1).unwrap();
        assert!(h1.drops.get(DropReason::FragNeeded) >= 1, "the first too-big segment was refused");
        for id in [c, s, l] {
            w.close(id).unwrap();
        }
    });
}

/// An interface that loses its last address stops doing IP: every route
/// through it goes, the default route too (Linux's `fib_disable_ip`), so
/// nothing is sent out of it from an address it no longer has.
#[test]
fn the_last_address_takes_every_route_through_its_interface_along() {
    with_topo(Features::ALL, |w, t| {
        let eth0 = w.iface_by_name(t.h1, "eth0").unwrap();
        assert!(w.routes(t.h1).any(|r| r.oif == eth0 && r.prefix_len == 0), "the default route via 10.0.1.1");
        w.del_addr(eth0, H1).unwrap();
        assert_eq!(w.routes(t.h1).filter(|r| r.oif == eth0).count(), 0, "{:?}", w.routes(t.h1).collect::<Vec<_>>());
        let c = w.socket(t.h1, SockType::Udp).unwrap();
        assert_eq!(w.sendmsg(c, b"x", Some(sa(H2, 9))), Err(Errno::NetUnreachable));
        // The address back brings its own routes, not the default one.
        w.add_addr(eth0, H1, 24).unwrap();
        assert!(w.routes(t.h1).all(|r| r.prefix_len != 0));
        assert_eq!(w.sendmsg(c, b"x", Some(sa(H2, 9))), Err(Errno::NetUnreachable));
        w.sendmsg(c, b"x", Some(sa(R1, 9))).unwrap();
        w.close(c).unwrap();
    });
}

/// `ip route add ... src A` takes only one of the host's addresses as the
/// preferred source (Linux: "Invalid prefsrc address"); the route it makes
/// is the source of what leaves by it.
#[test]
fn a_routes_preferred_source_must_be_one_of_ours() {
    with_topo(Features::ALL, |w, t| {
        let eth0 = w.iface_by_name(t.h1, "eth0").unwrap();
        let via = |src| Route { prefsrc: Some(src), ..Route::unicast(Ipv4Addr::new(10, 0, 2, 0), 24, Some(R1), eth0) };
        assert!(w.add_route(t.h1, via(Ipv4Addr::new(10, 9, 9, 9))).is_err(), "not ours");
        assert!(w.routes(t.h1).all(|r| r.dst != Ipv4Addr::new(10, 0, 2, 0)), "nothing added");
        let second = Ipv4Addr::new(10, 0, 1, 3);
        w.add_addr(eth0, second, 24).unwrap();
        w.add_route(t.h1, via(second)).unwrap();
        let rs = udp(w, t.h2, 9);
        let c = w.socket(t.h1, SockType::Udp).unwrap();
        w.sendmsg(c, b"src", Some(sa(H2, 9))).unwrap();
        let (_, from) = recv(w, t, rs).unwrap();
        assert_eq!(*from.ip(), second, "the route's source");
        w.close(c).unwrap();
        w.close(rs).unwrap();
    });
}

/// Deleting a namespace sends the drivers it was lent home to the initial
/// namespace, under the first free `devN` when their name is taken there,
/// however many `devN` are taken too (Linux's `dev%d`). A driver must never
/// be left in a namespace that no longer exists.
#[test]
fn a_deleted_namespace_sends_its_driver_home_under_a_free_name() {
    with_topo(Features::ALL, |w, t| {
        let eth0 = w.iface_by_name(t.h1, "eth0").unwrap();
        for taken in ["eth0".to_string(), "dev0".to_string(), format!("dev{eth0}")] {
            w.add_bridge(NsId::INIT, &taken).unwrap();
        }
        w.del_netns(t.h1).unwrap();
        let info = w.iface_info(eth0).unwrap();
        assert_eq!((info.ns, info.name.as_str(), info.up), (NsId::INIT, "dev1", false));
        assert_eq!(w.iface_by_name(NsId::INIT, "dev1"), Some(eth0));
    });
}

/// Two interfaces with addresses in one subnet each have their own subnet
/// route (Linux appends the second): when one loses its address the other
/// still reaches the subnet.
#[test]
fn two_interfaces_on_one_subnet_each_keep_a_route() {
    with_topo(Features::ALL, |w, t| {
        let eth0 = w.iface_by_name(t.h1, "eth0").unwrap();
        let (v0, peer) = w.add_veth(t.h1, "v0", NsId::INIT, "v0peer").unwrap();
        let mine = Ipv4Addr::new(10, 0, 1, 5);
        for i in [v0, peer] {
            w.set_link_up(i, true).unwrap();
        }
        w.add_addr(v0, mine, 24).unwrap();
        let subnet = |w: &World<'_>| {
            let mut r: Vec<_> = w
                .routes(t.h1)
                .filter(|r| r.dst == Ipv4Addr::new(10, 0, 1, 0) && r.prefix_len == 24)
                .map(|r| (r.oif, r.prefsrc))
                .collect();
            r.sort();
            r
        };
        assert_eq!(subnet(w), [(eth0, Some(H1)), (v0, Some(mine))]);
        w.del_addr(eth0, H1).unwrap();
        assert_eq!(subnet(w), [(v0, Some(mine))], "v0 still reaches the subnet");
        let c = w.socket(t.h1, SockType::Udp).unwrap();
        let before = w.device_stats(v0).unwrap().tx_packets;
        w.sendmsg(c, b"by v0", Some(sa(R1, 9))).unwrap();
        run(w, t, 10, |_| false);
        assert!(w.device_stats(v0).unwrap().tx_packets > before, "it left by v0 (an ARP request for 10.0.1.1)");
        w.close(c).unwrap();
    });
}

/// Linux's `inet_bind` takes any address its local table knows: 127.0.0.2
/// (all of 127/8 is local), and a subnet's broadcast address, where a
/// socket hears that subnet's broadcasts and sends from the interface's
/// own address.
#[test]
fn a_socket_binds_to_any_loopback_address_and_to_its_subnets_broadcast() {
    with_topo(Features::ALL, |w, t| {
        let two = w.socket(t.h2, SockType::Udp).unwrap();
        w.bind(two, sa(Ipv4Addr::new(127, 0, 0, 2), 53)).unwrap();
        let bcast = Ipv4Addr::new(10, 0, 2, 255);
        let b = w.socket(t.h2, SockType::Udp).unwrap();
        w.setsockopt(b, SockOpt::Broadcast(true)).unwrap();
        w.bind(b, sa(bcast, 5000)).unwrap();
        let stranger = w.socket(t.h2, SockType::Udp).unwrap();
        assert_eq!(w.bind(stranger, sa(Ipv4Addr::new(10, 0, 7, 1), 1)), Err(Errno::AddrNotAvail), "not ours");
        // The router sends to the subnet's broadcast address: heard.
        let r = w.socket(t.r, SockType::Udp).unwrap();
        w.setsockopt(r, SockOpt::Broadcast(true)).unwrap();
        w.sendmsg(r, b"to all of 10.0.2.0/24", Some(sa(bcast, 5000))).unwrap();
        let (got, from) = recv(w, t, b).unwrap();
        assert_eq!((got.as_slice(), *from.ip()), (&b"to all of 10.0.2.0/24"[..], R2));
        // Its answer leaves from h2's own address, not the broadcast one.
        w.sendmsg(b, b"heard", Some(sa(R2, from.port()))).unwrap();
        let (got, from) = recv(w, t, r).unwrap();
        assert_eq!((got.as_slice(), *from.ip()), (&b"heard"[..], H2));
        for id in [two, b, r, stranger] {
            w.close(id).unwrap();
        }
    });
}

/// A path narrower than the 552-byte floor (`ip_rt_min_pmtu`): the router
/// reports MTU 296, h1 keeps 552 (a forged report may not shrink a path
/// to nothing) and locks the path, so TCP sends without DF and the router
/// fragments. Before, DF stayed set: every segment drew another
/// fragmentation-needed and the connection black-holed.
#[test]
fn a_path_below_the_pmtu_floor_is_crossed_by_fragments() {
    with_topo(Features::ALL, |w, t| {
        let c = w.socket(t.h1, SockType::Tcp).unwrap();
        let (s, l) = establish(w, t, c, t.h2, sa(H2, 5002));
        let narrow = w.iface_by_name(t.r, "eth1").unwrap();
        w.set_mtu(narrow, 296).unwrap();
        let data = payload_of(64 * 1024, 9);
        let got = stream(w, t, (c, s), &data, 10_000, |_, _| {});
        assert!(got == data, "{} of {} bytes arrived", got.len(), data.len());
        assert_eq!(w.tcp_info(c).unwrap().mss, 552 - 40 - 12, "the floor's MSS");
        let r = w.stats(t.r).unwrap().ip;
        assert!(r.FragCreates > 0 && r.FragOKs > 0, "the router fragmented: {r:?}");
        for id in [c, s, l] {
            w.close(id).unwrap();
        }
    });
}

//! The outcome on the wire of every kind of match and of the chain
//! verdicts: source ports and port ranges, anonymous and named sets of
//! addresses, prefixes and ports (changed while traffic flows), `icmp
//! type`, `ip length` and `meta length`, `meta mark set` in one hook seen by
//! `meta mark` in a later one, `iifname` and `oifname`, and `jump`, `goto`
//! and `return` through regular chains. Each test sends datagrams, checks
//! which arrived and what crossed the server's link, and compares the
//! rules' counters with the packets sent; the pool is free at the end.

mod nf_common;

use std::net::Ipv4Addr;

use nf_common::*;
use skbnet::netfilter::NftErrorKind;
use skbnet::netns::{NsId, World};
use skbnet::socket::{Errno, SockId, SockType};
use skbnet::stats::DropReason;
use skbnet_nic_sim::link::Side;

/// Virtual time a datagram gets to arrive.
const WAIT_MS: u64 = 300;

/// Send `len` bytes from `ns`, from source port `sport` (0: any), to
/// `dst`:`dport`, where `server` is bound; true when `server` got them.
#[allow(clippy::too_many_arguments)]
fn delivered(
    w: &mut World<'_>,
    t: &mut Topo<'_>,
    ns: NsId,
    sport: u16,
    dst: Ipv4Addr,
    dport: u16,
    server: SockId,
    len: usize,
) -> bool {
    let c = w.socket(ns, SockType::Udp).unwrap();
    w.bind(c, sa(Ipv4Addr::UNSPECIFIED, sport)).unwrap();
    w.sendmsg(c, &vec![0x5a; len], Some(sa(dst, dport))).unwrap();
    let got = recv(w, t, server, WAIT_MS);
    w.close(c).unwrap();
    match got {
        Ok((data, _)) => {
            assert_eq!(data.len(), len);
            true
        }
        Err(Errno::WouldBlock) => false,
        Err(e) => panic!("the server's socket: {e:?}"),
    }
}

/// UDP servers on `ports` in the server's namespace.
fn servers(w: &mut World<'_>, t: &Topo<'_>, ports: &[u16]) -> Vec<SockId> {
    ports.iter().map(|&p| udp_bound(w, t.s, p)).collect()
}

/// The UDP datagrams (source port, destination port) that crossed the
/// server's link towards the server, in order.
fn udp_to_server(t: &Topo<'_>) -> Vec<(Ipv4Addr, u16, u16)> {
    seen(t.links[0])
        .into_iter()
        .filter(|p| p.proto == 17 && p.dst == S && p.from == Side::A)
        .map(|p| (p.src, p.sport, p.dport))
        .collect()
}

/// The listing line of the rule starting with `rule` in `listing`.
fn line_of<'l>(listing: &'l str, rule: &str) -> &'l str {
    listing.lines().map(str::trim).find(|l| l.starts_with(rule)).unwrap_or_else(|| panic!("no {rule:?} in {listing}"))
}

/// A TCP connection from `ns`, source port `sport`, to the server's port 80
/// (listener `l`): true when the handshake completes.
fn tcp_from(w: &mut World<'_>, t: &mut Topo<'_>, ns: NsId, sport: u16, l: SockId) -> bool {
    let c = w.socket(ns, SockType::Tcp).unwrap();
    w.bind(c, sa(Ipv4Addr::UNSPECIFIED, sport)).unwrap();
    assert_eq!(w.connect(c, sa(S, 80)), Err(Errno::InProgress));
    let mut server = None;
    let ok = run(w, t, 1_500, |w| {
        server = server.or_else(|| w.accept(l).ok().map(|(s, _)| s));
        server.is_some() && w.events(c).is_ok_and(|e| e.writable)
    });
    if let Some(s) = server {
        w.close(s).unwrap();
    }
    w.close(c).unwrap();
    advance(w, t, 100);
    ok
}

#[test]
fn source_ports_and_port_ranges() {
    with_topo::<64>(Opts::default(), |w, t| {
        let s = t.s;
        nft(w, s, "add table inet f");
        nft(w, s, "add chain inet f input { type filter hook input priority 0 ; policy accept ; }");
        nft(w, s, "add rule inet f input udp sport 5000-5009 counter drop");
        nft(w, s, "add rule inet f input udp dport 2000-2999 counter drop");
        nft(w, s, "add rule inet f input tcp sport 6000 counter drop");
        let ports = [7, 1999, 2000, 2999, 3000];
        let srv = servers(w, t, &ports);
        let (c1, s7) = (t.c1, srv[0]);
        // One first, so the neighbours on the way are resolved.
        assert!(delivered(w, t, c1, 4999, S, 7, s7, 10), "just below the range");
        clear_wire(t);
        assert!(!delivered(w, t, c1, 5000, S, 7, s7, 10), "the range's first port");
        assert!(!delivered(w, t, c1, 5009, S, 7, s7, 10), "its last");
        assert!(delivered(w, t, c1, 5010, S, 7, s7, 10), "just above");
        for (i, want) in [(1, true), (2, false), (3, false), (4, true)] {
            assert_eq!(delivered(w, t, c1, 4000, S, ports[i], srv[i], 20), want, "dport {}", ports[i]);
        }
        // On the wire: every datagram reached the server's link; the rules
        // dropped them at its input.
        let wire = udp_to_server(t);
        let want: Vec<(Ipv4Addr, u16, u16)> = [(5000, 7), (5009, 7), (5010, 7), (4000, 1999), (4000, 2000)]
            .into_iter()
            .chain([(4000, 2999), (4000, 3000)])
            .map(|(sp, dp)| (C1, sp, dp))
            .collect();
        assert_eq!(wire, want);
        assert_eq!(w.stats(s).unwrap().drops.get(DropReason::Netfilter), 4);
        // TCP: a SYN from port 6000 is dropped, one from 6001 answered.
        let l = listener(w, s, 80);
        clear_wire(t);
        assert!(!tcp_from(w, t, c1, 6000, l), "tcp sport 6000 is dropped");
        let wire = seen(t.links[0]);
        assert!(wire.iter().any(|p| p.sport == 6000 && p.dst == S && p.kind & 0x02 != 0), "the SYN reached s");
        assert!(!wire.iter().any(|p| p.src == S), "and nothing answered it");
        assert!(tcp_from(w, t, c1, 6001, l), "tcp sport 6001 passes");
        let listing = nft(w, s, "list chain inet f input");
        assert_eq!(line_of(&listing, "udp sport"), "udp sport 5000-5009 counter packets 2 bytes 76 drop");
        assert_eq!(line_of(&listing, "udp dport"), "udp dport 2000-2999 counter packets 2 bytes 96 drop");
        let syns = line_of(&listing, "tcp sport");
        assert!(syns.starts_with("tcp sport 6000 counter packets ") && !syns.contains("packets 0 "), "{syns}");
        for id in srv.into_iter().chain([l]) {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn anonymous_and_named_sets_of_addresses_prefixes_and_ports() {
    with_topo::<64>(Opts::default(), |w, t| {
        let s = t.s;
        nft(w, s, "add table inet f");
        nft(w, s, "add chain inet f input { type filter hook input priority 0 ; policy accept ; }");
        nft(
            w,
            s,
            "add set inet f blocked { type ipv4_addr ; flags interval ; elements = { 192.168.1.0/24, 10.9.9.9 } ; }",
        );
        nft(w, s, "add set inet f ports { type inet_service ; elements = { 9, 13 } ; }");
        nft(w, s, "add rule inet f input ip saddr @blocked counter drop");
        nft(w, s, "add rule inet f input udp dport @ports counter drop");
        nft(w, s, "add rule inet f input udp dport { 17, 19-21 } counter drop");
        nft(w, s, "add rule inet f input ip saddr { 10.100.0.0/30 } udp dport 37 counter drop");
        let ports = [7, 9, 13, 17, 19, 20, 22, 37];
        let srv = servers(w, t, &ports);
        let (c1, c2) = (t.c1, t.c2);
        let ok = |w: &mut World<'_>, t: &mut Topo<'_>, ns, i: usize| delivered(w, t, ns, 0, S, ports[i], srv[i], 32);
        assert!(ok(w, t, c1, 0), "c1 is not in @blocked");
        assert!(!ok(w, t, c2, 0), "c2 is in 192.168.1.0/24");
        let want = [(1, false), (2, false), (3, false), (4, false), (5, false), (6, true), (7, false)];
        for (i, pass) in want {
            assert_eq!(ok(w, t, c1, i), pass, "udp dport {}", ports[i]);
        }
        // The named sets change while traffic flows.
        nft(w, s, "add element inet f blocked { 10.100.0.2 }");
        assert!(!ok(w, t, c1, 0), "c1 is blocked now");
        nft(w, s, "delete element inet f blocked { 192.168.1.0/24 }");
        assert!(ok(w, t, c2, 0), "c2 is not any more");
        nft(w, s, "delete element inet f ports { 13 }");
        nft(w, s, "delete element inet f blocked { 10.100.0.2 }");
        assert!(ok(w, t, c1, 2), "13 left @ports");
        // Every datagram crossed the server's link.
        assert_eq!(udp_to_server(t).len(), 12);
        let listing = nft(w, s, "list table inet f");
        assert!(listing.contains("\t\telements = { 10.9.9.9 }\n"), "{listing}");
        assert!(listing.contains("\t\telements = { 9 }\n"), "{listing}");
        assert_eq!(line_of(&listing, "ip saddr @blocked"), "ip saddr @blocked counter packets 2 bytes 120 drop");
        assert_eq!(line_of(&listing, "udp dport @ports"), "udp dport @ports counter packets 2 bytes 120 drop");
        assert_eq!(
            line_of(&listing, "udp dport { 17"),
            "udp dport { 17, 19-21 } counter packets 3 bytes 180 drop",
            "17, 19 and 20; not 22"
        );
        assert_eq!(
            line_of(&listing, "ip saddr { 10"),
            "ip saddr { 10.100.0.0/30 } udp dport 37 counter packets 1 bytes 60 drop"
        );
        for id in srv {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn icmp_type_and_packet_lengths() {
    with_topo::<64>(Opts::default(), |w, t| {
        let r = t.r;
        nft(w, r, "add table ip f");
        nft(w, r, "add chain ip f fwd { type filter hook forward priority 0 ; }");
        nft(w, r, "add rule ip f fwd icmp type echo-request ip length 101-65535 counter drop");
        nft(w, r, "add rule ip f fwd icmp type echo-reply counter");
        nft(w, r, "add rule ip f fwd meta length 1000-1200 udp dport 7 counter drop");
        let p = w.socket(t.c1, SockType::Ping).unwrap();
        w.sendmsg(p, &echo_request(1, &[1; 56]), Some(sa(S, 0))).unwrap();
        assert_eq!(recv(w, t, p, WAIT_MS).unwrap().0.len(), 64, "an 84-byte request passes");
        w.sendmsg(p, &echo_request(2, &[2; 200]), Some(sa(S, 0))).unwrap();
        assert_eq!(recv(w, t, p, WAIT_MS), Err(Errno::WouldBlock), "a 228-byte one is dropped");
        let srv = servers(w, t, &[7]);
        assert!(delivered(w, t, t.c1, 0, S, 7, srv[0], 100));
        assert!(!delivered(w, t, t.c1, 0, S, 7, srv[0], 1000), "1028 bytes is in 1000-1200");
        assert!(delivered(w, t, t.c1, 0, S, 7, srv[0], 1300), "1328 bytes is not");
        // The server saw one request and answered it; the big one never left r.
        let wire = seen(t.links[0]);
        let icmp: Vec<(u8, usize)> = wire.iter().filter(|x| x.proto == 1).map(|x| (x.kind, x.payload_len)).collect();
        assert_eq!(icmp, [(8, 64), (0, 64)]);
        assert_eq!(udp_to_server(t).iter().map(|x| x.2).collect::<Vec<_>>(), [7, 7]);
        let l = nft(w, r, "list table ip f");
        assert_eq!(
            line_of(&l, "icmp type echo-request"),
            "icmp type echo-request ip length 101-65535 counter packets 1 bytes 228 drop"
        );
        assert_eq!(line_of(&l, "icmp type echo-reply"), "icmp type echo-reply counter packets 1 bytes 84");
        assert_eq!(line_of(&l, "meta length"), "meta length 1000-1200 udp dport 7 counter packets 1 bytes 1028 drop");
        w.close(p).unwrap();
        w.close(srv[0]).unwrap();
    });
}

#[test]
fn a_mark_set_at_prerouting_is_matched_at_forward_with_interface_names() {
    with_topo::<64>(Opts::default(), |w, t| {
        let r = t.r;
        nft(w, r, "add table ip f");
        nft(w, r, "add chain ip f pre { type filter hook prerouting priority -150 ; }");
        nft(w, r, "add chain ip f fwd { type filter hook forward priority 0 ; }");
        nft(w, r, "add rule ip f pre iifname \"eth2\" meta mark set 0x7");
        nft(w, r, "add rule ip f fwd meta mark 0x7 udp dport 9 counter drop");
        nft(w, r, "add rule ip f fwd meta mark 7 counter");
        nft(w, r, "add rule ip f fwd iifname \"eth1\" oifname \"eth0\" udp dport 13 counter drop");
        nft(w, r, "add rule ip f fwd iifname \"eth0\" oifname \"eth1\" counter");
        let ports = [7, 9, 13];
        let srv = servers(w, t, &ports);
        let (c1, c2) = (t.c1, t.c2);
        let ok = |w: &mut World<'_>, t: &mut Topo<'_>, ns, i: usize| delivered(w, t, ns, 0, S, ports[i], srv[i], 10);
        assert!(!ok(w, t, c2, 1), "c2's datagrams are marked: port 9 is dropped");
        assert!(ok(w, t, c1, 1), "c1's are not");
        assert!(ok(w, t, c2, 0), "c2 to port 7 passes, counted as marked");
        assert!(!ok(w, t, c1, 2), "eth1 to eth0, port 13: dropped");
        assert!(ok(w, t, c2, 2), "eth2 to eth0 passes, marked");
        let from: Vec<(Ipv4Addr, u16)> = udp_to_server(t).into_iter().map(|x| (x.0, x.2)).collect();
        assert_eq!(from, [(C1, 9), (C2, 7), (C2, 13)], "only what passed crossed r");
        let l = nft(w, r, "list table ip f");
        assert_eq!(
            line_of(&l, "meta mark 0x00000007 udp"),
            "meta mark 0x00000007 udp dport 9 counter packets 1 bytes 38 drop"
        );
        assert_eq!(line_of(&l, "meta mark 0x00000007 counter"), "meta mark 0x00000007 counter packets 2 bytes 76");
        assert_eq!(
            line_of(&l, "iifname \"eth1\""),
            "iifname \"eth1\" oifname \"eth0\" udp dport 13 counter packets 1 bytes 38 drop"
        );
        // Nothing came back through r: the servers do not answer.
        assert_eq!(line_of(&l, "iifname \"eth0\""), "iifname \"eth0\" oifname \"eth1\" counter packets 0 bytes 0");
        assert_eq!(w.stats(r).unwrap().drops.get(DropReason::Netfilter), 2);
        for id in srv {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn jump_returns_and_goto_does_not() {
    with_topo::<64>(Opts::default(), |w, t| {
        let s = t.s;
        nft(w, s, "add table inet f");
        nft(w, s, "add chain inet f input { type filter hook input priority 0 ; policy accept ; }");
        nft(w, s, "add chain inet f sub");
        nft(w, s, "add chain inet f tail");
        nft(w, s, "add rule inet f input udp dport 7-9 jump sub");
        nft(w, s, "add rule inet f input udp dport 7-9 counter");
        nft(w, s, "add rule inet f input udp dport 13 goto tail");
        nft(w, s, "add rule inet f input udp dport 13 counter drop");
        nft(w, s, "add rule inet f sub udp dport 7 counter return");
        nft(w, s, "add rule inet f sub udp dport 8 counter drop");
        nft(w, s, "add rule inet f sub counter");
        nft(w, s, "add rule inet f tail counter");
        let ports = [7, 8, 9, 13];
        let srv = servers(w, t, &ports);
        let ok = |w: &mut World<'_>, t: &mut Topo<'_>, i: usize| delivered(w, t, t.c1, 0, S, ports[i], srv[i], 12);
        assert!(ok(w, t, 0), "7: return from sub, on through input, accepted by the policy");
        assert!(!ok(w, t, 1), "8: dropped in sub");
        assert!(ok(w, t, 2), "9: falls off the end of sub, back in input");
        assert!(ok(w, t, 3), "13: goes to tail, whose end ends input too: the drop after it is not reached");
        assert_eq!(udp_to_server(t).len(), 4);
        let l = nft(w, s, "list table inet f");
        assert_eq!(line_of(&l, "udp dport 7-9 counter"), "udp dport 7-9 counter packets 2 bytes 80", "7 and 9");
        assert_eq!(line_of(&l, "udp dport 13 counter"), "udp dport 13 counter packets 0 bytes 0 drop");
        assert_eq!(line_of(&l, "udp dport 7 counter"), "udp dport 7 counter packets 1 bytes 40 return");
        assert_eq!(line_of(&l, "udp dport 8 counter"), "udp dport 8 counter packets 1 bytes 40 drop");
        let counters: Vec<&str> = l.lines().map(str::trim).filter(|x| x.starts_with("counter packets")).collect();
        assert_eq!(counters, ["counter packets 1 bytes 40", "counter packets 1 bytes 40"], "9 in sub, 13 in tail");
        assert_eq!(w.nft_tables().unwrap().stats().stack_overflow, 0);
        for id in srv {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn a_mark_set_in_a_nat_chain_marks_the_packet() {
    with_topo::<64>(Opts::default(), |w, t| {
        let r = t.r;
        nft(w, r, "add table ip nat");
        nft(w, r, "add chain ip nat pre { type nat hook prerouting priority dstnat ; }");
        nft(w, r, "add rule ip nat pre ip saddr 10.100.0.2 udp dport 9 meta mark set 0x9");
        nft(w, r, "add table ip f");
        nft(w, r, "add chain ip f fwd { type filter hook forward priority 0 ; }");
        nft(w, r, "add rule ip f fwd meta mark 0x9 counter drop");
        // The filter chain cannot reach a NAT statement through a jump.
        nft(w, r, "add chain ip f sub");
        let mut out = String::new();
        let e = w.nft(r, "add rule ip f sub masquerade", &mut out).map(|_| ());
        assert!(e.is_ok(), "nothing reaches sub yet");
        let e = w.nft(r, "add rule ip f fwd jump sub", &mut out).unwrap_err();
        assert_eq!(e.kind, NftErrorKind::Invalid("snat and masquerade belong in a nat chain at postrouting or input"));
        let srv = servers(w, t, &[7, 9]);
        assert!(delivered(w, t, t.c1, 0, S, 7, srv[0], 10), "not marked");
        assert!(!delivered(w, t, t.c1, 0, S, 9, srv[1], 10), "marked in the NAT chain, dropped at forward");
        assert!(delivered(w, t, t.c2, 0, S, 9, srv[1], 10), "c2's are not marked");
        assert_eq!(udp_to_server(t).iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(), [(C1, 7), (C2, 9)]);
        let l = nft(w, r, "list table ip f");
        assert_eq!(line_of(&l, "meta mark"), "meta mark 0x00000009 counter packets 1 bytes 38 drop");
        for id in srv {
            w.close(id).unwrap();
        }
    });
}

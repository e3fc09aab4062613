//! Filtering, observed on the wire: the seed's `nft` examples (a subnet
//! dropped on input, ssh dropped while other ports pass), `reject` with
//! ICMP and TCP resets, `ct state` letting only established traffic back
//! in, counters that match the packets sent, rate-limited `log`.

mod nf_common;

use nf_common::*;
use skbnet::netfilter::CtStats;
use skbnet::socket::{Errno, SockType};
use skbnet::stats::DropReason;
use skbnet_nic_sim::link::Side;

#[test]
fn a_subnet_is_dropped_on_input() {
    with_topo::<64>(Opts::default(), |w, t| {
        let s = t.s;
        nft(w, s, "sudo nft add table inet filter");
        nft(w, s, r"sudo nft add chain inet filter input { type filter hook input priority 0 \; policy accept \; }");
        nft(w, s, "sudo nft add rule inet filter input ip saddr 192.168.1.0/24 counter drop");
        let server = udp_bound(w, s, 7);
        for (ns, src) in [(t.c1, C1), (t.c2, C2)] {
            let c = w.socket(ns, SockType::Udp).unwrap();
            w.connect(c, sa(S, 7)).unwrap();
            for i in 0..5u8 {
                w.sendmsg(c, &[i; 100], None).unwrap();
            }
            let got: Vec<_> = (0..5).filter_map(|_| recv(w, t, server, 200).ok()).collect();
            if src == C1 {
                assert_eq!(got.len(), 5, "10.100.0.0/24 passes");
                assert!(got.iter().all(|(_, from)| *from.ip() == C1));
            } else {
                assert!(got.is_empty(), "192.168.1.0/24 is dropped");
            }
            w.close(c).unwrap();
        }
        // On the wire: c2's datagrams reached the server's link, and nothing answered them.
        let wire = seen(t.links[0]);
        let from_c2 = wire.iter().filter(|p| p.src == C2 && p.proto == 17).count();
        assert_eq!(from_c2, 5, "the router forwarded them");
        assert!(!wire.iter().any(|p| p.dst == C2), "the server answered nothing to c2");
        assert_eq!(w.stats(s).unwrap().drops.get(DropReason::Netfilter), 5);
        let listing = nft(w, s, "sudo nft list table inet filter");
        assert_eq!(
            listing,
            "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\
             \t\tip saddr 192.168.1.0/24 counter packets 5 bytes 640 drop\n\t}\n}\n"
        );
        w.close(server).unwrap();
    });
}

#[test]
fn ssh_is_dropped_while_other_ports_pass() {
    with_topo::<64>(Opts::default(), |w, t| {
        let s = t.s;
        nft(w, s, "nft add table inet filter");
        nft(w, s, "nft add chain inet filter input { type filter hook input priority 0 ; policy accept ; }");
        nft(w, s, "nft add rule inet filter input tcp dport 22 drop");
        let ssh = listener(w, s, 22);
        let web = listener(w, s, 80);
        let (c, srv) = connect(w, t, t.c1, sa(S, 80), web, 2_000).expect("port 80 passes");
        assert_eq!(w.sendmsg(c, b"GET /", None), Ok(5));
        let mut buf = [0u8; 16];
        assert!(run(w, t, 1_000, |w| w.recvmsg(srv, &mut buf).is_ok_and(|m| m.len == 5)));
        clear_wire(t);
        assert_eq!(connect(w, t, t.c1, sa(S, 22), ssh, 5_000).unwrap_err(), Errno::TimedOut, "ssh never answers");
        let wire = seen(t.links[0]);
        let syns = wire.iter().filter(|p| p.dport == 22 && p.kind & 0x02 != 0 && p.dst == S).count();
        assert!(syns >= 2, "the SYN and its retransmissions reached the server ({syns})");
        assert!(!wire.iter().any(|p| p.src == S && p.sport == 22), "and none was answered");
        assert!(w.stats(s).unwrap().drops.get(DropReason::Netfilter) >= 2);
        for id in [c, srv, ssh, web] {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn reject_answers_with_the_right_icmp_or_reset() {
    with_topo::<64>(Opts::default(), |w, t| {
        let s = t.s;
        nft(w, s, "add table inet filter");
        nft(w, s, "add chain inet filter input { type filter hook input priority 0; }");
        nft(w, s, "add rule inet filter input tcp dport 23 reject with tcp reset");
        nft(w, s, "add rule inet filter input tcp dport 25 reject with icmp type host-unreachable");
        nft(w, s, "add rule inet filter input udp dport 9 reject");
        let telnet = listener(w, s, 23);
        let smtp = listener(w, s, 25);
        assert_eq!(connect(w, t, t.c1, sa(S, 23), telnet, 2_000).unwrap_err(), Errno::ConnRefused);
        let wire = seen(t.links[0]);
        let rst = wire.iter().find(|p| p.src == S && p.sport == 23).expect("a reset on the wire");
        assert_eq!(rst.kind & 0x14, 0x14, "RST+ACK answering a SYN");
        assert_eq!((rst.dst, rst.payload_len), (C1, 0));
        clear_wire(t);
        assert_eq!(connect(w, t, t.c1, sa(S, 25), smtp, 2_000).unwrap_err(), Errno::HostUnreachable);
        let icmp = seen(t.links[0]).into_iter().find(|p| p.src == S && p.proto == 1).expect("ICMP on the wire");
        assert_eq!((icmp.kind, icmp.dst), (3, C1));
        clear_wire(t);
        let u = w.socket(t.c1, SockType::Udp).unwrap();
        w.connect(u, sa(S, 9)).unwrap();
        w.sendmsg(u, b"discard me", None).unwrap();
        assert_eq!(recv(w, t, u, 1_000), Err(Errno::ConnRefused), "port unreachable");
        let icmp = seen(t.links[0]).into_iter().find(|p| p.src == S && p.proto == 1).expect("ICMP on the wire");
        assert_eq!(icmp.kind, 3);
        let n = w.nft_tables().unwrap().stats();
        assert_eq!(n.rejected, 3);
        for id in [u, telnet, smtp] {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn ct_state_lets_only_established_traffic_back_in() {
    with_topo::<64>(Opts::default(), |w, t| {
        let c1 = t.c1;
        nft(w, c1, "add table inet fw");
        nft(w, c1, "add chain inet fw input { type filter hook input priority 0; policy drop; }");
        nft(w, c1, "add rule inet fw input ct state established,related counter accept");
        nft(w, c1, "add rule inet fw input iifname \"lo\" accept");
        nft(w, c1, "add rule inet fw input ct state new counter drop");
        // Out and back: TCP, UDP and ping.
        let web = listener(w, t.s, 80);
        let (c, srv) = connect(w, t, c1, sa(S, 80), web, 2_000).expect("outgoing connection");
        w.sendmsg(srv, b"reply", None).unwrap();
        let mut buf = [0u8; 8];
        assert!(run(w, t, 1_000, |w| w.recvmsg(c, &mut buf).is_ok_and(|m| m.len == 5)));
        let echo = udp_bound(w, t.s, 7);
        let u = w.socket(c1, SockType::Udp).unwrap();
        w.connect(u, sa(S, 7)).unwrap();
        w.sendmsg(u, b"ping", None).unwrap();
        let (_, from) = recv(w, t, echo, 500).unwrap();
        w.sendmsg(echo, b"pong", Some(std::net::SocketAddr::V4(from))).unwrap();
        assert_eq!(recv(w, t, u, 500).unwrap().0, b"pong");
        let p = w.socket(c1, SockType::Ping).unwrap();
        w.sendmsg(p, &echo_request(1, b"hi"), Some(sa(S, 0))).unwrap();
        assert_eq!(&recv(w, t, p, 500).unwrap().0[8..], b"hi");
        // An ICMP error about our own datagram is related: it comes in.
        let closed = w.socket(c1, SockType::Udp).unwrap();
        w.connect(closed, sa(S, 4444)).unwrap();
        w.sendmsg(closed, b"?", None).unwrap();
        assert_eq!(recv(w, t, closed, 500), Err(Errno::ConnRefused));
        // New connections from outside do not.
        let ssh = listener(w, c1, 22);
        assert_eq!(connect(w, t, t.s, sa(C1, 22), ssh, 3_000).unwrap_err(), Errno::TimedOut);
        let stray = w.socket(t.s, SockType::Udp).unwrap();
        w.sendmsg(stray, b"unsolicited", Some(sa(C1, 5353))).unwrap();
        let listen5353 = udp_bound(w, c1, 5353);
        assert_eq!(recv(w, t, listen5353, 300), Err(Errno::WouldBlock));
        let listing = nft(w, c1, "list chain inet fw input");
        assert!(listing.contains("ct state new counter packets"), "{listing}");
        assert!(!listing.contains("ct state new counter packets 0 "), "new connections were counted: {listing}");
        for id in [c, srv, web, echo, u, p, closed, ssh, stray, listen5353] {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn counters_match_the_packets_sent() {
    with_topo::<64>(Opts::default(), |w, t| {
        let r = t.r;
        nft(w, r, "add table ip f");
        nft(w, r, "add chain ip f fwd { type filter hook forward priority 0; }");
        nft(w, r, "add rule ip f fwd ip saddr 10.100.0.2 udp dport 7 counter");
        nft(w, r, "add rule ip f fwd ip protocol icmp counter");
        let echo = udp_bound(w, t.s, 7);
        let u = w.socket(t.c1, SockType::Udp).unwrap();
        w.connect(u, sa(S, 7)).unwrap();
        let mut want_bytes = 0;
        for i in 0..37usize {
            let len = 10 + i * 30;
            w.sendmsg(u, &vec![1u8; len], None).unwrap();
            want_bytes += 28 + len;
            recv(w, t, echo, 500).unwrap();
        }
        let p = w.socket(t.c1, SockType::Ping).unwrap();
        for seq in 0..4 {
            w.sendmsg(p, &echo_request(seq, &[0; 56]), Some(sa(S, 0))).unwrap();
            recv(w, t, p, 500).unwrap();
        }
        let l = nft(w, r, "list table ip f");
        assert!(l.contains(&format!("ip saddr 10.100.0.2 udp dport 7 counter packets 37 bytes {want_bytes}\n")), "{l}");
        assert!(l.contains("ip protocol icmp counter packets 8 bytes 672\n"), "4 requests and 4 replies: {l}");
        // The wire agrees.
        let wire = seen(t.links[0]);
        assert_eq!(wire.iter().filter(|x| x.proto == 17 && x.dport == 7 && x.from == Side::A).count(), 37);
        for id in [echo, u, p] {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn log_writes_lines_rate_limited() {
    with_topo::<64>(Opts::default(), |w, t| {
        let s = t.s;
        nft(w, s, "add table inet f");
        nft(w, s, "add chain inet f input { type filter hook input priority 0; }");
        nft(w, s, "add rule inet f input udp dport 9 log prefix \"disc: \" drop");
        let u = w.socket(t.c1, SockType::Udp).unwrap();
        w.connect(u, sa(S, 9)).unwrap();
        // One first, so every neighbour on the way is resolved.
        w.sendmsg(u, b"x", None).unwrap();
        advance(w, t, 200);
        for _ in 0..30 {
            w.sendmsg(u, b"x", None).unwrap();
        }
        advance(w, t, 200);
        let n = w.nft_tables().unwrap();
        assert_eq!(n.log_stats(), (10, 21), "a burst of ten, the rest held back");
        let line = n.last_log().to_string();
        assert!(
            line.starts_with("disc: IN=eth0 OUT= SRC=10.100.0.2 DST=198.51.100.2 LEN=29 TTL=63 PROTO=UDP SPT="),
            "{line}"
        );
        assert!(line.ends_with("DPT=9"), "{line}");
        advance(w, t, 5_000);
        w.sendmsg(u, b"x", None).unwrap();
        advance(w, t, 100);
        assert_eq!(w.nft_tables().unwrap().log_stats().0, 11, "the bucket refilled");
        assert_eq!(w.conntrack_stats(), CtStats::default(), "no ct rule: no tracking");
        w.close(u).unwrap();
    });
}

/// Regression: deleting a namespace left its nft tables and tracked
/// connections behind, keyed by its NsId, so the next namespace created
/// in that slot started with them: its rules ran, its conntrack was on.
#[test]
fn a_deleted_namespace_takes_its_rules_and_connections_along() {
    with_topo::<1024>(Opts::default(), |w, t| {
        let tmp = w.add_netns("tmp").unwrap();
        nft(w, tmp, "add table inet filter");
        nft(w, tmp, "add chain inet filter output { type filter hook output priority 0 ; policy accept ; }");
        nft(w, tmp, "add rule inet filter output ct state new counter");
        let server = udp_bound(w, tmp, 53);
        let client = w.socket(tmp, SockType::Udp).unwrap();
        w.sendmsg(client, b"tracked", Some(sa(std::net::Ipv4Addr::LOCALHOST, 53))).unwrap();
        assert_eq!(recv(w, t, server, 1000).unwrap().0, b"tracked");
        assert_eq!(w.conntrack(tmp).count(), 1);
        w.del_netns(tmp).unwrap();
        let again = w.add_netns("again").unwrap();
        assert_eq!(again, tmp, "the slot is reused");
        assert_eq!(nft(w, again, "list ruleset"), "", "no rules inherited");
        assert_eq!(w.conntrack(again).count(), 0, "no connections inherited");
        // And the name is free for a table of its own.
        nft(w, again, "add table inet filter");
    });
}

/// An `iif` rule holds an interface index, as Linux's does. When that
/// interface is deleted its index must not pass to the next interface made
/// (which would take the freed slot): the accept rule for a trusted link
/// would then let a stranger's link in.
#[test]
fn a_rule_for_a_deleted_interface_does_not_let_the_next_one_in() {
    with_topo::<64>(Opts::default(), |w, t| {
        let (s, x) = (t.s, w.add_netns("x").unwrap());
        let ours = std::net::Ipv4Addr::new(10, 9, 0, 1);
        let theirs = std::net::Ipv4Addr::new(10, 9, 0, 2);
        let pair = |w: &mut skbnet::netns::World<'_>, a: &str, b: &str| {
            let (i, p) = w.add_veth(s, a, x, b).unwrap();
            for (ifx, ip) in [(i, ours), (p, theirs)] {
                w.set_link_up(ifx, true).unwrap();
                w.add_addr(ifx, ip, 30).unwrap();
            }
            (i, p)
        };
        let (trusted, _) = pair(w, "trusted", "t");
        nft(w, s, "add table inet filter");
        nft(w, s, "add chain inet filter input { type filter hook input priority 0 ; policy drop ; }");
        nft(w, s, "add rule inet filter input iif \"trusted\" accept");
        let server = udp_bound(w, s, 7);
        let send = |w: &mut skbnet::netns::World<'_>, what: &[u8]| {
            let c = w.socket(x, SockType::Udp).unwrap();
            w.sendmsg(c, what, Some(sa(ours, 7))).unwrap();
            c
        };
        let c = send(w, b"over the trusted link");
        assert_eq!(recv(w, t, server, 200).unwrap().0, b"over the trusted link");
        w.close(c).unwrap();

        w.del_link(trusted).unwrap();
        let (guest, _) = pair(w, "guest", "g");
        assert_ne!(guest, trusted, "a deleted interface's index is not handed out again");
        assert!(w.iface_info(trusted).is_none(), "the old index names nothing");
        let before = w.stats(s).unwrap().drops.get(DropReason::Netfilter);
        let c = send(w, b"over the guest link");
        assert_eq!(recv(w, t, server, 200), Err(Errno::WouldBlock), "the trusted rule does not match the guest");
        assert_eq!(w.stats(s).unwrap().drops.get(DropReason::Netfilter), before + 1, "dropped by the policy");
        let listed = nft(w, s, "list ruleset");
        assert!(listed.contains(&format!("iif {trusted} accept")), "the rule still names the old index:\n{listed}");
        w.close(c).unwrap();
        w.close(server).unwrap();
    });
}

/// `counter packets N bytes M` may start a counter anywhere; at the top it
/// wraps to zero, as the kernel's do, instead of overflowing.
#[test]
fn a_counter_preset_to_its_maximum_wraps() {
    with_topo::<64>(Opts::default(), |w, t| {
        let s = t.s;
        nft(w, s, "add table inet filter");
        nft(w, s, "add chain inet filter output { type filter hook output priority 0 ; policy accept ; }");
        nft(
            w,
            s,
            "add rule inet filter output udp dport 9 counter packets 18446744073709551615 bytes 18446744073709551615",
        );
        let c = w.socket(s, SockType::Udp).unwrap();
        w.sendmsg(c, b"tick", Some(sa(std::net::Ipv4Addr::LOCALHOST, 9))).unwrap();
        advance(w, t, 5);
        let listed = nft(w, s, "list ruleset");
        assert!(listed.contains("counter packets 0 bytes 31"), "{listed}");
        w.close(c).unwrap();
    });
}

/// A packet an OUTPUT rule drops fails its send with EPERM, as Linux's
/// `ip_local_out` reports NF_DROP ("sendmsg: Operation not permitted").
#[test]
fn an_output_drop_fails_the_send_with_eperm() {
    with_topo::<64>(Opts::default(), |w, t| {
        let c1 = t.c1;
        nft(w, c1, "add table inet filter");
        nft(w, c1, "add chain inet filter output { type filter hook output priority 0 ; policy accept ; }");
        nft(w, c1, "add rule inet filter output udp dport 9 drop");
        let u = w.socket(c1, SockType::Udp).unwrap();
        assert_eq!(w.sendmsg(u, b"blocked", Some(sa(S, 9))), Err(Errno::Perm));
        assert_eq!(Errno::Perm.code(), 1);
        assert_eq!(w.sendmsg(u, b"allowed", Some(sa(S, 10))), Ok(7));
        w.close(u).unwrap();
    });
}

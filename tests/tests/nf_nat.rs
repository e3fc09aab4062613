//! NAT, observed on the wire: the seed's masquerading router (TCP, UDP and
//! ping from a private namespace, replies translated back, the
//! connections in conntrack), port forwarding with DNAT, ICMP errors
//! translated with the packet they quote, and bulk TCP through the NAT
//! with TSO and GRO on, byte for byte, every checksum verified by
//! etherparse.

mod nf_common;

use nf_common::*;
use sha2::{Digest, Sha256};
use skbnet::dev::Features;
use skbnet::netfilter::TcpCtState;
use skbnet::socket::{Errno, SockOpt, SockType};
use skbnet_nic_sim::link::Side;

/// The seed's NAT configuration on the router, word for word.
fn masquerade(w: &mut skbnet::netns::World<'_>, t: &Topo<'_>) {
    nft(w, t.r, "nft add table ip nat");
    nft(w, t.r, "nft add chain ip nat postrouting {\n    type nat hook postrouting priority 100\\;\n}");
    nft(w, t.r, "nft add rule ip nat postrouting ip saddr 10.100.0.0/24 oif \"eth0\" masquerade");
}

fn no_routes_back() -> Opts {
    Opts { server_routes: false, ..Opts::default() }
}

#[test]
fn a_private_host_reaches_a_server_through_a_masquerading_router() {
    with_topo::<64>(no_routes_back(), |w, t| {
        masquerade(w, t);
        // TCP.
        let web = listener(w, t.s, 80);
        let (c, srv) = connect(w, t, t.c1, sa(S, 80), web, 2_000).expect("through the NAT");
        assert_eq!(*w.peer_addr(srv).unwrap().ip(), R0, "the server sees the router's address");
        w.sendmsg(c, b"GET / HTTP/1.0\r\n\r\n", None).unwrap();
        let mut buf = [0u8; 64];
        assert!(run(w, t, 1_000, |w| w.recvmsg(srv, &mut buf).is_ok_and(|m| m.len == 18)));
        w.sendmsg(srv, b"HTTP/1.0 200 OK\r\n", None).unwrap();
        assert!(run(w, t, 1_000, |w| w.recvmsg(c, &mut buf).is_ok_and(|m| m.len == 17)));
        // UDP.
        let echo = udp_bound(w, t.s, 53);
        let u = w.socket(t.c1, SockType::Udp).unwrap();
        w.connect(u, sa(S, 53)).unwrap();
        w.sendmsg(u, b"query", None).unwrap();
        let (_, from) = recv(w, t, echo, 500).unwrap();
        assert_eq!(*from.ip(), R0);
        w.sendmsg(echo, b"answer", Some(std::net::SocketAddr::V4(from))).unwrap();
        let (got, back) = recv(w, t, u, 500).unwrap();
        assert_eq!((got.as_slice(), back), (&b"answer"[..], std::net::SocketAddrV4::new(S, 53)));
        // Ping.
        let p = w.socket(t.c1, SockType::Ping).unwrap();
        for seq in 0..3 {
            w.sendmsg(p, &echo_request(seq, b"abcdefgh"), Some(sa(S, 0))).unwrap();
            let (reply, from) = recv(w, t, p, 500).unwrap();
            assert_eq!((reply[0], *from.ip(), &reply[8..]), (0, S, &b"abcdefgh"[..]));
        }
        assert_eq!(w.stats(t.s).unwrap().icmp.InEchos, 3);
        // On the outside link only the router's address appears; inside, only c1's.
        let outside = seen(t.links[0]);
        assert!(outside.iter().all(|x| x.src != C1 && x.dst != C1), "no private address outside");
        assert!(outside.iter().filter(|x| x.from == Side::A).all(|x| x.src == R0));
        let inside = seen(t.links[1]);
        assert!(inside.iter().filter(|x| x.from == Side::B && x.proto != 0).all(|x| x.dst == C1 || x.dst == R1));
        assert!(inside.iter().any(|x| x.src == S && x.dst == C1 && x.proto == 6), "TCP translated back");
        assert!(inside.iter().any(|x| x.src == S && x.dst == C1 && x.proto == 17), "UDP translated back");
        assert!(inside.iter().any(|x| x.src == S && x.dst == C1 && x.proto == 1 && x.kind == 0), "echo replies");
        // The connections, as conntrack -L shows them.
        let entries: Vec<_> = w.conntrack(t.r).collect();
        assert_eq!(entries.len(), 3, "{entries:#?}");
        for e in &entries {
            assert_eq!((e.orig.src, e.orig.dst, e.reply.src, e.reply.dst), (C1, S, S, R0));
            assert!(e.snat && !e.dnat && e.seen_reply);
        }
        let tcp = entries.iter().find(|e| e.orig.proto == 6).unwrap();
        assert_eq!(tcp.tcp_state, TcpCtState::Established);
        assert!(tcp.assured);
        let line = tcp.to_string();
        assert!(line.starts_with("tcp      6 431999 ESTABLISHED src=10.100.0.2 dst=198.51.100.2 sport="), "{line}");
        assert!(line.contains("src=198.51.100.2 dst=198.51.100.1 sport=80 dport="), "{line}");
        assert!(line.ends_with("[ASSURED] mark=0 use=1"), "{line}");
        assert!(w.conntrack(t.s).next().is_none(), "the server tracks nothing");
        // Closing walks the TCP states down to TIME_WAIT.
        w.close(c).unwrap();
        w.close(srv).unwrap();
        advance(w, t, 500);
        let st = w.conntrack(t.r).find(|e| e.orig.proto == 6).map(|e| e.tcp_state);
        assert_eq!(st, Some(TcpCtState::TimeWait));
        for id in [web, echo, u, p] {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn dnat_forwards_a_port_to_an_inner_host() {
    with_topo::<64>(no_routes_back(), |w, t| {
        masquerade(w, t);
        nft(w, t.r, "add chain ip nat prerouting { type nat hook prerouting priority -100; }");
        nft(w, t.r, "add rule ip nat prerouting iif eth0 tcp dport 8080 dnat to 10.100.0.2:80");
        nft(w, t.r, "add rule ip nat prerouting iif eth0 udp dport 5353 dnat to 10.100.0.2");
        let inner = listener(w, t.c1, 80);
        let (c, srv) = connect(w, t, t.s, sa(R0, 8080), inner, 2_000).expect("forwarded to c1");
        assert_eq!(*w.peer_addr(srv).unwrap().ip(), S, "no source NAT on the way in");
        assert_eq!(w.peer_addr(c).unwrap(), std::net::SocketAddrV4::new(R0, 8080));
        let data = skbnet_tests::net::pattern(100_000, 5);
        let mut sent = 0;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        assert!(run(w, t, 10_000, |w| {
            if sent < data.len()
                && let Ok(n) = w.sendmsg(srv, &data[sent..], None)
            {
                sent += n;
            }
            while let Ok(m) = w.recvmsg(c, &mut buf) {
                got.extend_from_slice(&buf[..m.len]);
            }
            got.len() == data.len()
        }));
        assert!(got == data, "the inner host's bytes arrive intact");
        let u_in = udp_bound(w, t.c1, 5353);
        let u = w.socket(t.s, SockType::Udp).unwrap();
        w.sendmsg(u, b"mdns?", Some(sa(R0, 5353))).unwrap();
        let (_, from) = recv(w, t, u_in, 500).unwrap();
        assert_eq!(*from.ip(), S);
        w.sendmsg(u_in, b"here", Some(std::net::SocketAddr::V4(from))).unwrap();
        let (_, back) = recv(w, t, u, 500).unwrap();
        assert_eq!(back, std::net::SocketAddrV4::new(R0, 5353), "the reply comes from the forwarded port");
        let outside = seen(t.links[0]);
        assert!(outside.iter().all(|x| x.src != C1 && x.dst != C1));
        let e: Vec<_> = w.conntrack(t.r).filter(|e| e.dnat).collect();
        assert_eq!(e.len(), 2);
        for id in [c, srv, inner, u_in, u] {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn icmp_errors_are_translated_with_the_packet_they_quote() {
    with_topo::<64>(no_routes_back(), |w, t| {
        masquerade(w, t);
        // From outside: the server's port unreachable about a translated datagram.
        let u = w.socket(t.c1, SockType::Udp).unwrap();
        w.connect(u, sa(S, 9999)).unwrap();
        w.sendmsg(u, b"anyone?", None).unwrap();
        assert_eq!(recv(w, t, u, 1_000), Err(Errno::ConnRefused), "the error reached the private socket");
        let inside = seen(t.links[1]);
        let err = inside.iter().find(|x| x.proto == 1 && x.kind == 3).expect("the ICMP error inside");
        assert_eq!((err.src, err.dst), (S, C1));
        // The quoted packet is the one c1 sent, not the translated one.
        let frames = t.links[1].borrow().tap().0.clone();
        let f = frames.iter().map(|(_, _, f)| f).find(|f| f.len() > 34 + 28 && f[23] == 1 && f[34] == 3).unwrap();
        let quoted = &f[42..];
        assert_eq!(&quoted[12..16], &C1.octets(), "quoted source translated back");
        assert_eq!(&quoted[16..20], &S.octets());
        assert_eq!(
            u16::from_be_bytes([quoted[20], quoted[21]]),
            w.local_addr(u).unwrap().port(),
            "quoted source port translated back"
        );
        // From the router itself: TTL exceeded about a reply on its way in.
        let p = w.socket(t.c1, SockType::Udp).unwrap();
        w.setsockopt(p, SockOpt::Ttl(1)).unwrap();
        // A soft error: heard with IP_RECVERR.
        w.setsockopt(p, SockOpt::RecvErr(true)).unwrap();
        w.connect(p, sa(S, 7)).unwrap();
        w.sendmsg(p, b"short-lived", None).unwrap();
        assert_eq!(recv(w, t, p, 1_000), Err(Errno::HostUnreachable), "time exceeded from the router");
        assert_eq!(w.stats(t.r).unwrap().icmp.OutTimeExcds, 1);
        w.close(u).unwrap();
        w.close(p).unwrap();
    });
}

fn bulk(opts: Opts, bytes: usize) {
    with_topo::<64>(opts, |w, t| {
        masquerade(w, t);
        let sink = listener(w, t.s, 5001);
        let (c, srv) = connect(w, t, t.c1, sa(S, 5001), sink, 2_000).expect("connect");
        let data = skbnet_tests::net::pattern(bytes, 11);
        let (mut sent, mut got, mut buf) = (0, Vec::with_capacity(bytes), vec![0u8; 65_536]);
        let mut closed = false;
        let done = run(w, t, 60_000, |w| {
            while sent < data.len() {
                match w.sendmsg(c, &data[sent..], None) {
                    Ok(n) => sent += n,
                    Err(_) => break,
                }
            }
            if sent == data.len() && !closed {
                w.shutdown_socket(c, skbnet::socket::Shutdown::Write).unwrap();
                closed = true;
            }
            loop {
                match w.recvmsg(srv, &mut buf) {
                    Ok(m) if m.len > 0 => got.extend_from_slice(&buf[..m.len]),
                    _ => break,
                }
            }
            got.len() == data.len()
        });
        assert!(done, "{} of {} bytes", got.len(), data.len());
        assert_eq!(Sha256::digest(&got), Sha256::digest(&data), "SHA-256 of what arrived");
        assert!(got == data, "byte for byte");
        // Every frame on both links decodes, with every checksum right
        // (`seen` asserts that), and none outside carries c1's address.
        let outside = seen(t.links[0]);
        let inside = seen(t.links[1]);
        assert!(outside.iter().all(|x| x.src != C1 && x.dst != C1));
        let outside_payload: usize =
            outside.iter().filter(|x| x.from == Side::A && x.proto == 6).map(|x| x.payload_len).sum();
        assert!(outside_payload >= bytes, "{outside_payload} payload bytes left the router");
        assert!(inside.len() > 100);
        let forwarded = w.stats(t.r).unwrap().ip.ForwDatagrams as usize;
        let segments = inside.iter().filter(|x| x.from == Side::A && x.payload_len > 0).count();
        // Hardware LRO or software GRO merged segments: super-packets went
        // through the NAT and were cut again (by TSO or software GSO).
        assert!(forwarded < segments, "merged super-packets went through the NAT: {forwarded} < {segments}");
        let e = w.conntrack(t.r).find(|e| e.orig.proto == 6).unwrap();
        assert!(e.bytes[0] as usize >= bytes, "conntrack counted {} bytes", e.bytes[0]);
        let ct = w.conntrack_stats();
        assert_eq!((ct.invalid, ct.drop), (0, 0), "every segment within the tracked windows: {ct:?}");
        for id in [c, srv, sink] {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn bulk_tcp_through_nat_with_tso_and_gro() {
    bulk(Opts { server_routes: false, offloads: Features::ALL, bufs: 8192 }, 4 << 20);
}

#[test]
fn bulk_tcp_through_nat_without_offloads() {
    bulk(Opts { server_routes: false, offloads: Features::NONE, bufs: 8192 }, 1 << 20);
}

/// Source NAT of the host's own TCP: its segments leave `CHECKSUM_PARTIAL`
/// with only the pseudo-header sum in the field, which NAT must move to
/// the new address for the device (or the software fallback) to finish.
fn local_snat(offloads: Features) {
    with_topo::<64>(Opts { offloads, ..Opts::default() }, |w, t| {
        let alias = std::net::Ipv4Addr::new(10, 100, 0, 3);
        let eth0 = w.iface_by_name(t.c1, "eth0").unwrap();
        w.add_addr(eth0, alias, 24).unwrap();
        nft(w, t.c1, "add table ip nat");
        nft(w, t.c1, "add chain ip nat post { type nat hook postrouting priority srcnat; }");
        nft(w, t.c1, "add rule ip nat post oif eth0 ip daddr 198.51.100.2 snat to 10.100.0.3");
        let sink = listener(w, t.s, 5001);
        let (c, srv) = connect(w, t, t.c1, sa(S, 5001), sink, 2_000).expect("connect");
        assert_eq!(*w.peer_addr(srv).unwrap().ip(), alias);
        let data = skbnet_tests::net::pattern(300_000, 3);
        let (mut sent, mut got, mut buf) = (0, Vec::new(), vec![0u8; 65_536]);
        assert!(run(w, t, 20_000, |w| {
            if sent < data.len()
                && let Ok(n) = w.sendmsg(c, &data[sent..], None)
            {
                sent += n;
            }
            while let Ok(m) = w.recvmsg(srv, &mut buf) {
                got.extend_from_slice(&buf[..m.len]);
            }
            got.len() == data.len()
        }));
        assert!(got == data);
        let wire = seen(t.links[1]);
        assert!(wire.iter().filter(|x| x.from == Side::A && x.proto == 6).all(|x| x.src == alias));
        assert!(wire.iter().filter(|x| x.from == Side::A && x.payload_len > 0).count() > 100);
        for id in [c, srv, sink] {
            w.close(id).unwrap();
        }
    });
}

#[test]
fn local_snat_with_checksum_offload() {
    local_snat(Features::ALL);
}

#[test]
fn local_snat_without_checksum_offload() {
    local_snat(Features::NONE);
}

/// A masqueraded flow follows the router's outside address. When that
/// address changes (a DHCP renewal, say) the flow's entry goes with the
/// old address, so the next datagram is translated to the new one and its
/// answer comes back; a UDP flow would otherwise keep its stale entry alive
/// for ever. Taking the outside link down forgets what left through it.
#[test]
fn masqueraded_flows_follow_the_routers_outside_address() {
    with_topo::<64>(no_routes_back(), |w, t| {
        masquerade(w, t);
        let echo = udp_bound(w, t.s, 53);
        let u = w.socket(t.c1, SockType::Udp).unwrap();
        w.connect(u, sa(S, 53)).unwrap();
        let ask = |w: &mut skbnet::netns::World<'_>, t: &mut Topo<'_>, q: &[u8]| {
            w.sendmsg(u, q, None).unwrap();
            let (got, from) = recv(w, t, echo, 500).unwrap();
            assert_eq!(got, q);
            w.sendmsg(echo, b"answer", Some(std::net::SocketAddr::V4(from))).unwrap();
            assert_eq!(recv(w, t, u, 500).unwrap().0, b"answer", "the answer finds its way back");
            *from.ip()
        };
        assert_eq!(ask(w, t, b"one"), R0);
        assert_eq!(w.conntrack(t.r).count(), 1);
        let renewed = std::net::Ipv4Addr::new(198, 51, 100, 3);
        w.add_addr(t.r_out, renewed, 24).unwrap();
        assert_eq!(w.conntrack(t.r).count(), 1, "a new address alone changes nothing");
        w.del_addr(t.r_out, R0).unwrap();
        assert_eq!(w.conntrack(t.r).count(), 0, "the flow that took R0 is forgotten");
        assert_eq!(ask(w, t, b"two"), renewed, "translated to the address the router has now");
        let e = w.conntrack(t.r).next().unwrap();
        assert_eq!((e.orig.src, e.reply.dst), (C1, renewed));
        w.set_link_up(t.r_out, false).unwrap();
        assert_eq!(w.conntrack(t.r).count(), 0, "the link went down: its flows go");
        w.set_link_up(t.r_out, true).unwrap();
        assert_eq!(ask(w, t, b"three"), renewed);
        for id in [echo, u] {
            w.close(id).unwrap();
        }
    });
}

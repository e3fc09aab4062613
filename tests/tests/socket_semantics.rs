//! The socket calls answer as Linux's do, for the sequences ported code
//! relies on: what a connected datagram socket learns (its own address,
//! the errors that end its conversation and not the passing ones), the
//! errno of a call made in the wrong state, and when a socket polls
//! writable.

mod nf_common;

use std::net::{Ipv4Addr, SocketAddrV4};

use nf_common::*;
use skbnet::socket::{Errno, RecvFlags, Shutdown, SockOpt, SockType};

#[test]
fn a_connected_udp_socket_learns_its_own_address() {
    with_topo::<64>(Opts::default(), |w, t| {
        let u = w.socket(t.c1, SockType::Udp).unwrap();
        assert_eq!(w.local_addr(u).unwrap(), SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        w.connect(u, sa(S, 53)).unwrap();
        let local = w.local_addr(u).unwrap();
        assert_eq!(*local.ip(), C1, "getsockname after connect: the route's source");
        assert_ne!(local.port(), 0);
        // And the datagram goes from there.
        let server = udp_bound(w, t.s, 53);
        w.sendmsg(u, b"q", None).unwrap();
        assert_eq!(recv(w, t, server, 500).unwrap().1, local);
        w.close(u).unwrap();
        w.close(server).unwrap();
    });
}

#[test]
fn datagram_calls_in_the_wrong_state_get_linuxs_errno() {
    with_topo::<64>(Opts::default(), |w, t| {
        let u = w.socket(t.c1, SockType::Udp).unwrap();
        assert_eq!(w.sendmsg(u, b"where?", None), Err(Errno::DestAddrReq), "unconnected, no address");
        assert_eq!(w.sendmsg(u, b"port 0", Some(sa(S, 0))), Err(Errno::InvalidArgument));
        let bcast = Ipv4Addr::new(10, 100, 0, 255);
        assert_eq!(w.connect(u, sa(bcast, 9)), Err(Errno::Access), "a broadcast peer needs SO_BROADCAST");
        w.setsockopt(u, SockOpt::Broadcast(true)).unwrap();
        w.connect(u, sa(bcast, 9)).unwrap();
        let p = w.socket(t.c1, SockType::Ping).unwrap();
        assert_eq!(w.sendmsg(p, &echo_request(1, b"all"), Some(sa(bcast, 0))), Err(Errno::Access));
        for id in [u, p] {
            w.close(id).unwrap();
        }
    });
}

/// A port unreachable ends the conversation: the next send on the
/// connected socket reports it, once. A host unreachable may pass, so
/// without IP_RECVERR nothing is reported.
#[test]
fn a_connected_udp_socket_hears_hard_errors_on_its_next_send() {
    with_topo::<64>(Opts::default(), |w, t| {
        let u = w.socket(t.c1, SockType::Udp).unwrap();
        w.connect(u, sa(S, 9)).unwrap();
        w.sendmsg(u, b"anyone?", None).unwrap();
        assert!(run(w, t, 500, |w| w.events(u).is_ok_and(|e| e.error)), "the port unreachable arrived");
        assert_eq!(w.sendmsg(u, b"again", None), Err(Errno::ConnRefused), "reported by the send");
        assert!(!w.events(u).unwrap().error, "and cleared");
        assert_eq!(w.sendmsg(u, b"again", None), Ok(5));
        w.close(u).unwrap();
    });
}

#[test]
fn stream_calls_in_the_wrong_state_get_linuxs_errno() {
    with_topo::<64>(Opts::default(), |w, t| {
        let l = listener(w, t.s, 80);
        assert_eq!(w.connect(l, sa(S, 80)), Err(Errno::IsConnected), "a listener");
        let fresh = w.socket(t.c1, SockType::Tcp).unwrap();
        assert_eq!(w.sendmsg(fresh, b"x", None), Err(Errno::Pipe), "never connected");
        assert_eq!(w.connect(fresh, sa(Ipv4Addr::BROADCAST, 80)), Err(Errno::NetUnreachable));
        w.close(fresh).unwrap();
        // 0.0.0.0 is this host.
        let (c, srv) = connect(w, t, t.s, sa(Ipv4Addr::UNSPECIFIED, 80), l, 1_000).unwrap();
        assert_eq!(*w.peer_addr(c).unwrap().ip(), Ipv4Addr::LOCALHOST);
        // Shut for writing, a socket polls writable, so a writer wakes and
        // learns EPIPE (tcp_poll).
        w.shutdown_socket(c, Shutdown::Write).unwrap();
        assert!(w.events(c).unwrap().writable);
        assert_eq!(w.sendmsg(c, b"x", None), Err(Errno::Pipe));
        for id in [c, srv, l] {
            w.close(id).unwrap();
        }
    });
}

/// A non-blocking connect that fails is reported once by the next connect
/// (or ECONNABORTED if a send took the error first), and the socket is
/// unconnected again: never EISCONN, which ported code takes for success.
/// The connect after that is a new attempt, which can succeed.
#[test]
fn a_failed_connect_is_reported_once_and_can_be_retried() {
    with_topo::<64>(Opts::default(), |w, t| {
        let c = w.socket(t.c1, SockType::Tcp).unwrap();
        assert_eq!(w.connect(c, sa(S, 80)), Err(Errno::InProgress));
        assert_eq!(w.peer_addr(c), Err(Errno::NotConnected), "still connecting");
        assert!(run(w, t, 1_000, |w| w.events(c).is_ok_and(|e| e.error)), "refused by a reset");
        assert_eq!(w.connect(c, sa(S, 80)), Err(Errno::ConnRefused), "the error, once");
        assert_eq!(w.peer_addr(c), Err(Errno::NotConnected));
        assert_eq!(w.shutdown_socket(c, Shutdown::Both), Err(Errno::NotConnected));
        // Again, the error taken by a send this time.
        assert_eq!(w.connect(c, sa(S, 80)), Err(Errno::InProgress), "a new attempt");
        assert!(run(w, t, 1_000, |w| w.events(c).is_ok_and(|e| e.error)));
        assert_eq!(w.sendmsg(c, b"x", None), Err(Errno::ConnRefused));
        assert_eq!(w.connect(c, sa(S, 80)), Err(Errno::ConnAborted), "already reported");
        // Now someone listens: the retry connects.
        let l = listener(w, t.s, 80);
        assert_eq!(w.connect(c, sa(S, 80)), Err(Errno::InProgress));
        let mut srv = None;
        assert!(run(w, t, 1_000, |w| {
            srv = srv.or_else(|| w.accept(l).ok().map(|(s, _)| s));
            srv.is_some() && w.events(c).is_ok_and(|e| e.writable)
        }));
        assert_eq!(w.peer_addr(c).unwrap(), SocketAddrV4::new(S, 80));
        assert_eq!(w.connect(c, sa(S, 80)), Err(Errno::IsConnected), "connected now");
        for id in [c, srv.unwrap(), l] {
            w.close(id).unwrap();
        }
    });
}

/// `shutdown` marks a datagram socket as Linux's does: a send after the
/// write side is shut is EPIPE, a read after the read side is shut gets
/// what was queued, then end of file, and poll reports both.
#[test]
fn shutdown_marks_a_datagram_socket() {
    with_topo::<64>(Opts::default(), |w, t| {
        let server = udp_bound(w, t.s, 53);
        let u = w.socket(t.c1, SockType::Udp).unwrap();
        assert_eq!(w.shutdown_socket(u, Shutdown::Write), Err(Errno::NotConnected), "not connected, but marked");
        assert_eq!(w.sendmsg(u, b"x", Some(sa(S, 53))), Err(Errno::Pipe));
        assert!(w.events(u).unwrap().writable, "a writer wakes to learn EPIPE");
        let v = w.socket(t.c1, SockType::Udp).unwrap();
        w.connect(v, sa(S, 53)).unwrap();
        w.sendmsg(v, b"ask", None).unwrap();
        let (_, from) = recv(w, t, server, 500).unwrap();
        w.sendmsg(server, b"late", Some(std::net::SocketAddr::V4(from))).unwrap();
        assert!(run(w, t, 500, |w| w.events(v).is_ok_and(|e| e.readable)));
        w.shutdown_socket(v, Shutdown::Read).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(w.recvmsg(v, &mut buf).unwrap().len, 4, "what was queued first");
        assert_eq!(w.recvmsg(v, &mut buf).unwrap().len, 0, "then end of file");
        let e = w.events(v).unwrap();
        assert!(e.readable && !e.hangup);
        w.shutdown_socket(v, Shutdown::Write).unwrap();
        assert!(w.events(v).unwrap().hangup, "both sides shut");
        for id in [u, v, server] {
            w.close(id).unwrap();
        }
    });
}

/// A failed connect forgets the source the route chose (Linux's
/// `inet_reset_saddr`): the address may be why it failed, and a retry from
/// it after it was deleted could never succeed.
#[test]
fn a_retry_after_a_failed_connect_picks_its_source_again() {
    with_topo::<64>(Opts::default(), |w, t| {
        let eth0 = w.iface_by_name(t.c1, "eth0").unwrap();
        let c = w.socket(t.c1, SockType::Tcp).unwrap();
        assert_eq!(w.connect(c, sa(S, 80)), Err(Errno::InProgress));
        assert!(run(w, t, 1_000, |w| w.events(c).is_ok_and(|e| e.error)));
        assert_eq!(w.connect(c, sa(S, 80)), Err(Errno::ConnRefused));
        // The host is renumbered: 10.100.0.2 goes, 10.100.0.3 stays.
        let renumbered = Ipv4Addr::new(10, 100, 0, 3);
        w.add_addr(eth0, renumbered, 24).unwrap();
        w.del_addr(eth0, C1).unwrap();
        let l = listener(w, t.s, 80);
        assert_eq!(w.connect(c, sa(S, 80)), Err(Errno::InProgress), "not EINVAL for the old source");
        let mut srv = None;
        assert!(run(w, t, 1_000, |w| {
            srv = srv.or_else(|| w.accept(l).ok().map(|(s, _)| s));
            srv.is_some() && w.events(c).is_ok_and(|e| e.writable)
        }));
        assert_eq!(*w.local_addr(c).unwrap().ip(), renumbered);
        assert_eq!(*w.peer_addr(srv.unwrap()).unwrap().ip(), renumbered);
        for id in [c, srv.unwrap(), l] {
            w.close(id).unwrap();
        }
    });
}

/// `MSG_PEEK` leaves a datagram queued, `MSG_PEEK | MSG_TRUNC` with no
/// buffer sizes the next one, and `MSG_TRUNC` reports a datagram's whole
/// length when the buffer held less (udp_recvmsg).
#[test]
fn a_datagram_can_be_peeked_at_and_sized() {
    with_topo::<64>(Opts::default(), |w, t| {
        let server = udp_bound(w, t.s, 53);
        let u = w.socket(t.c1, SockType::Udp).unwrap();
        w.connect(u, sa(S, 53)).unwrap();
        let from = w.local_addr(u).unwrap();
        w.sendmsg(u, b"first datagram", None).unwrap();
        w.sendmsg(u, b"second", None).unwrap();
        let sns = t.s;
        assert!(run(w, t, 500, |w| w.stats(sns).is_some_and(|s| s.udp.InDatagrams == 2)));
        let mut buf = [0u8; 64];
        let sized = w.recvmsg_flags(server, &mut [], RecvFlags { peek: true, trunc: true }).unwrap();
        assert_eq!((sized.len, sized.truncated, sized.from), (14, true, from), "the size of the next one");
        for _ in 0..2 {
            let m = w.recvmsg_flags(server, &mut buf, RecvFlags::PEEK).unwrap();
            assert_eq!((&buf[..m.len], m.from, m.truncated), (&b"first datagram"[..], from, false));
        }
        let mut short = [0u8; 5];
        let m = w.recvmsg_flags(server, &mut short, RecvFlags::TRUNC).unwrap();
        assert_eq!((m.len, m.truncated, &short), (14, true, b"first"), "whole length, 5 bytes copied");
        let m = w.recvmsg(server, &mut buf).unwrap();
        assert_eq!(&buf[..m.len], b"second", "the first was consumed by the MSG_TRUNC read");
        assert_eq!(w.recvmsg_flags(server, &mut buf, RecvFlags::PEEK), Err(Errno::WouldBlock));
        // A pending error is reported by a peek too, once.
        w.close(server).unwrap();
        w.sendmsg(u, b"anyone?", None).unwrap();
        assert!(run(w, t, 500, |w| w.events(u).is_ok_and(|e| e.error)));
        assert_eq!(w.recvmsg_flags(u, &mut buf, RecvFlags::PEEK), Err(Errno::ConnRefused));
        assert_eq!(w.recvmsg_flags(u, &mut buf, RecvFlags::PEEK), Err(Errno::WouldBlock));
        w.close(u).unwrap();
    });
}

/// On a stream, `MSG_PEEK` copies across segment boundaries without
/// consuming, and `MSG_TRUNC` consumes without copying (tcp_recvmsg).
#[test]
fn a_stream_can_be_peeked_at_and_skipped() {
    with_topo::<64>(Opts::default(), |w, t| {
        let l = listener(w, t.s, 80);
        let (c, srv) = connect(w, t, t.c1, sa(S, 80), l, 1_000).unwrap();
        w.set_tcp_option(c, skbnet::tcp::TcpOpt::NoDelay(true)).unwrap();
        for part in [&b"GET /"[..], b"index", b".html"] {
            assert_eq!(w.sendmsg(c, part, None), Ok(part.len()));
            let sns = t.s;
            let before = w.stats(sns).unwrap().tcp.InSegs;
            assert!(run(w, t, 500, |w| w.stats(sns).is_some_and(|s| s.tcp.InSegs > before)));
        }
        let mut buf = [0u8; 64];
        assert!(run(w, t, 500, |w| w.recvmsg_flags(srv, &mut buf, RecvFlags::PEEK).is_ok_and(|m| m.len == 15)));
        assert_eq!(&buf[..15], b"GET /index.html", "three segments in one peek");
        let mut head = [0u8; 4];
        assert_eq!(w.recvmsg_flags(srv, &mut head, RecvFlags::PEEK).unwrap().len, 4);
        assert_eq!(&head, b"GET ");
        assert_eq!(w.recvmsg_flags(srv, &mut head, RecvFlags::TRUNC).unwrap().len, 4, "skipped");
        let mut counted = [0xAAu8; 3];
        assert_eq!(w.recvmsg_flags(srv, &mut counted, RecvFlags { peek: true, trunc: true }).unwrap().len, 3);
        assert_eq!(counted, [0xAA; 3], "counted, not copied");
        let m = w.recvmsg(srv, &mut buf).unwrap();
        assert_eq!(&buf[..m.len], b"/index.html", "what the skip left");
        assert_eq!(w.recvmsg_flags(srv, &mut buf, RecvFlags::PEEK), Err(Errno::WouldBlock));
        for id in [c, srv, l] {
            w.close(id).unwrap();
        }
    });
}

/// Among UDP sockets sharing a port with SO_REUSEADDR and matching a
/// datagram equally well, the one bound last receives it, as in Linux
/// (new sockets go to the head of the port's chain and the first best
/// match wins): a restarted daemon takes over from the old instance. A
/// better match (a connected socket) still beats both.
fn reuse_bound<H: skbnet::netfilter::NfHooks>(
    w: &mut skbnet::netns::World<'_, H>,
    ns: skbnet::netns::NsId,
) -> skbnet::socket::SockId {
    let s = w.socket(ns, SockType::Udp).unwrap();
    w.setsockopt(s, SockOpt::ReuseAddr(true)).unwrap();
    w.bind(s, sa(Ipv4Addr::UNSPECIFIED, 5353)).unwrap();
    s
}

#[test]
fn the_newest_of_equal_reuseaddr_sockets_receives() {
    with_topo::<64>(Opts::default(), |w, t| {
        let ns = t.s;
        let (old, new) = (reuse_bound(w, ns), reuse_bound(w, ns));
        let c = w.socket(t.c1, SockType::Udp).unwrap();
        w.sendmsg(c, b"to whom?", Some(sa(S, 5353))).unwrap();
        let (got, client) = recv(w, t, new, 500).unwrap();
        assert_eq!(got, b"to whom?", "the newest");
        assert_eq!(recv(w, t, old, 50), Err(Errno::WouldBlock), "the old one hears nothing");
        let peer = reuse_bound(w, ns);
        w.connect(peer, client.into()).unwrap();
        let newest = reuse_bound(w, ns);
        w.sendmsg(c, b"again", Some(sa(S, 5353))).unwrap();
        assert_eq!(recv(w, t, peer, 500).map(|m| m.0), Ok(b"again".to_vec()), "the connected one");
        assert_eq!(recv(w, t, newest, 50), Err(Errno::WouldBlock));
        for id in [old, new, c, peer, newest] {
            w.close(id).unwrap();
        }
    });
}

/// Socket buffers are limits on what waits, not caps on one datagram, as
/// in Linux: a datagram larger than SO_RCVBUF is delivered into an empty
/// buffer (the next waits until it is read), and one larger than SO_SNDBUF
/// is sent from an empty one. A socket that polls writable takes a send
/// (it used to say writable, then refuse a datagram of three buffers with
/// EAGAIN for ever).
#[test]
fn a_datagram_larger_than_the_socket_buffers_still_goes() {
    with_topo::<64>(Opts::default(), |w, t| {
        let ns_s = t.s;
        let server = udp_bound(w, ns_s, 7000);
        w.setsockopt(server, SockOpt::RcvBuf(4096)).unwrap();
        let c = w.socket(t.c1, SockType::Udp).unwrap();
        w.setsockopt(c, SockOpt::SndBuf(4096)).unwrap();
        let big: Vec<u8> = (0..6000u32).map(|i| (i * 7) as u8).collect();
        assert!(w.events(c).unwrap().writable);
        assert_eq!(w.sendmsg(c, &big, Some(sa(S, 7000))), Ok(6000), "from an empty send buffer");
        // It arrives in the empty receive buffer and waits there.
        assert!(run(w, t, 500, |w| w.events(server).is_ok_and(|e| e.readable)), "delivered");
        // A second one finds the receive buffer full: dropped and counted.
        assert!(w.events(c).unwrap().writable);
        let full = w.stats(ns_s).unwrap().udp.RcvbufErrors;
        assert_eq!(w.sendmsg(c, &big, Some(sa(S, 7000))), Ok(6000));
        assert!(run(w, t, 500, |w| w.stats(ns_s).is_some_and(|st| st.udp.RcvbufErrors == full + 1)));
        assert_eq!(recv(w, t, server, 500).map(|m| m.0), Ok(big.clone()), "the first, whole");
        assert_eq!(recv(w, t, server, 50), Err(Errno::WouldBlock), "the second was dropped");
        for id in [server, c] {
            w.close(id).unwrap();
        }
    });
}

/// A datagram the device queue has no room for is lost the way UDP may
/// lose any: Linux's `udp_send_skb` counts SndbufErrors and reports
/// success, unless the socket asked for errors with IP_RECVERR (ENOBUFS).
#[test]
fn a_full_device_queue_is_a_silent_loss_unless_errors_are_asked_for() {
    with_topo::<64>(Opts::default(), |w, t| {
        let c1 = t.c1;
        let mut sc = w.sysctl(c1).unwrap();
        sc.tx_queue_len = 1;
        w.set_sysctl(c1, sc).unwrap();
        let quiet = w.socket(c1, SockType::Udp).unwrap();
        let loud = w.socket(c1, SockType::Udp).unwrap();
        w.setsockopt(loud, SockOpt::RecvErr(true)).unwrap();
        let data = [0x42u8; 1400];
        // The router's address resolved first, so nothing waits for ARP.
        w.sendmsg(quiet, b"hello", Some(sa(S, 9))).unwrap();
        run(w, t, 100, |_| false);
        // Without polling, the NIC's ring and byte-queue limit fill, then
        // the one-packet backlog: later sends find no room.
        let results: Vec<_> = (0..100).map(|_| w.sendmsg(quiet, &data, Some(sa(S, 9)))).collect();
        assert!(results.iter().all(|r| *r == Ok(1400)), "every send reports success");
        let lost = w.stats(c1).unwrap().udp.SndbufErrors;
        assert!(lost > 0, "some were lost and counted");
        assert_eq!(w.sendmsg(loud, &data, Some(sa(S, 9))), Err(Errno::NoBufs), "IP_RECVERR hears it");
        assert_eq!(w.stats(c1).unwrap().udp.SndbufErrors, lost + 1);
        run(w, t, 100, |_| false);
        for id in [quiet, loud] {
            w.close(id).unwrap();
        }
    });
}

/// Fragments are charged to the socket that sent the datagram, as Linux's
/// are: SO_SNDBUF holds back a sender of datagrams bigger than the MTU
/// with EAGAIN, and what it was allowed to send arrives whole. (Charged to
/// the system, they let such a sender fill the device queue, and the rest
/// was lost.)
#[test]
fn fragments_count_against_the_senders_buffer() {
    with_topo::<64>(Opts::default(), |w, t| {
        let ns_s = t.s;
        let server = udp_bound(w, ns_s, 7001);
        let c = w.socket(t.c1, SockType::Udp).unwrap();
        // The router's address resolved first, so nothing waits for ARP.
        w.sendmsg(c, b"hello", Some(sa(S, 7001))).unwrap();
        assert_eq!(recv(w, t, server, 500).map(|m| m.0), Ok(b"hello".to_vec()));
        w.setsockopt(c, SockOpt::SndBuf(16 * 1024)).unwrap();
        let big: Vec<u8> = (0..8000u32).map(|i| (i * 13) as u8).collect();
        let sent = (0..100).take_while(|_| w.sendmsg(c, &big, Some(sa(S, 7001))) == Ok(8000)).count();
        assert!((1..10).contains(&sent), "held back after {sent} datagrams");
        assert_eq!(w.sendmsg(c, &big, Some(sa(S, 7001))), Err(Errno::WouldBlock));
        let mut got = 0;
        while let Ok((data, _)) = recv(w, t, server, 500) {
            assert_eq!(data, big, "datagram {got}, whole");
            got += 1;
        }
        assert_eq!(got, sent, "every datagram the socket took arrived");
        assert!(w.events(c).unwrap().writable, "and the buffer drained");
        for id in [server, c] {
            w.close(id).unwrap();
        }
    });
}

//! Opening connections, as packet traces (RFC 9293 §3.5): the peer's
//! segments go in at known times, ours are checked field by field.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use skbnet::socket::{Errno, SockType};
use skbnet::stats::DropReason;
use skbnet::time::Instant;
use skbnet_tests::trace::{PEER, Pkt, TraceConfig, US, with_trace};

/// The options a Linux peer puts on its SYN.
fn linux_syn(p: Pkt) -> Pkt {
    p.mss(1460).sack_perm().ts(100, 0).wscale(7)
}

fn plain(p: Pkt) -> Pkt {
    p
}

#[test]
fn syn_ack_carries_our_options_and_the_handshake_completes() {
    with_trace(TraceConfig::default(), |t| {
        let l = t.listen(80);
        t.inject(&linux_syn(Pkt::syn(40_000, 80, 1000)));
        let sa = t.expect_one();
        assert_eq!(sa.flags(), "S.");
        assert_eq!((sa.sport, sa.dport, sa.ack), (80, 40_000, 1001));
        assert_eq!(sa.mss, Some(1460), "MTU 1500 less 40");
        assert!(sa.sack_perm);
        assert_eq!(sa.wscale, Some(7));
        assert_eq!(sa.ts.map(|t| t.1), Some(100), "TSecr echoes the SYN's TSval");
        assert!(sa.df, "TCP sets DF (path MTU discovery)");
        assert!(sa.payload.is_empty());
        assert_eq!(t.w.accept(l), Err(Errno::WouldBlock), "not before the ACK");
        let iss = sa.seq;
        t.inject(&Pkt::ack(40_000, 80, 1001, iss.wrapping_add(1)).ts(101, sa.ts.unwrap().0));
        t.expect_none();
        let (s, peer) = t.w.accept(l).unwrap();
        assert_eq!(peer, SocketAddrV4::new(PEER, 40_000));
        assert_eq!(t.w.local_addr(s).unwrap(), SocketAddrV4::new(US, 80));
        let info = t.w.tcp_info(s).unwrap();
        assert_eq!(info.state, skbnet::tcp::TcpState::Established);
        assert_eq!(info.mss, 1448, "1460 less 12 bytes of timestamps");
        assert!(info.sack && info.timestamps);
        assert_eq!(info.wscale, (7, 7));
        let st = t.stats();
        assert_eq!((st.tcp.PassiveOpens, st.tcp.CurrEstab, st.tcp.InSegs, st.tcp.OutSegs), (1, 1, 2, 1));
    });
}

#[test]
fn a_syn_without_options_gets_none_back_and_536_byte_segments() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, plain, 5000);
        let info = t.w.tcp_info(f.sock).unwrap();
        assert_eq!(info.mss, 536, "RFC 9293 §3.7.1: no MSS option means 536");
        assert!(!info.sack && !info.timestamps);
        assert_eq!(info.wscale, (0, 0), "RFC 7323 §2.2: no scaling unless both sent the option");
        t.w.sendmsg(f.sock, &[7u8; 1200], None).unwrap();
        let segs = t.out();
        assert_eq!(segs.iter().map(|s| s.payload.len()).collect::<Vec<_>>(), [536, 536, 128]);
        assert!(segs.iter().all(|s| s.ts.is_none() && s.sack.is_empty()));
        assert!(segs.iter().all(|s| s.window > 0 && u32::from(s.window) <= 65_535));
        f.our_nxt = f.our_nxt.wrapping_add(1200);
        t.inject(&f.pkt());
    });
}

#[test]
fn connect_sends_a_syn_with_options_and_acks_the_syn_ack() {
    with_trace(TraceConfig::default(), |t| {
        let (s, syn) = t.connect(443);
        assert_eq!(syn.flags(), "S");
        assert_eq!(syn.dport, 443);
        assert_eq!(syn.mss, Some(1460));
        assert!(syn.sack_perm);
        assert_eq!(syn.wscale, Some(7));
        assert_eq!(syn.ts.map(|t| t.1), Some(0), "TSecr zero on a SYN");
        assert!(!t.w.events(s).unwrap().writable, "not connected yet");
        let mut sa = linux_syn(Pkt::syn(443, syn.sport, 9000));
        sa.ack = Some(syn.seq.wrapping_add(1));
        sa.ts = Some((500, syn.ts.unwrap().0));
        t.inject(&sa);
        let ack = t.expect_one();
        assert_eq!(ack.flags(), ".");
        assert_eq!((ack.seq, ack.ack), (syn.seq.wrapping_add(1), 9001));
        assert_eq!(ack.ts.map(|t| t.1), Some(500));
        assert!(t.w.events(s).unwrap().writable);
        assert_eq!(t.w.peer_addr(s).unwrap(), SocketAddrV4::new(PEER, 443));
        assert_eq!(t.w.local_addr(s).unwrap(), SocketAddrV4::new(US, syn.sport), "the route's source filled in");
        assert_eq!(t.w.connect(s, SocketAddr::V4(SocketAddrV4::new(PEER, 443))), Err(Errno::IsConnected));
        let st = t.stats();
        assert_eq!((st.tcp.ActiveOpens, st.tcp.CurrEstab), (1, 1));
    });
}

#[test]
fn an_unanswered_syn_backs_off_six_times_then_times_out() {
    with_trace(TraceConfig::default(), |t| {
        let start = t.now;
        let (s, syn) = t.connect(443);
        t.advance(Duration::from_secs(200));
        let again = t.out();
        let at: Vec<u64> = again.iter().map(|o| (o.at - start).as_secs()).collect();
        // RFC 6298 §5.5 doubling from the 1 s initial RTO, tcp_syn_retries = 6.
        assert_eq!(at, [1, 3, 7, 15, 31, 63]);
        assert!(again.iter().all(|o| o.syn && o.seq == syn.seq), "the same SYN each time");
        let ev = t.w.events(s).unwrap();
        assert!(ev.error && ev.hangup);
        assert_eq!(t.w.connect(s, SocketAddr::V4(SocketAddrV4::new(PEER, 443))), Err(Errno::TimedOut));
        let st = t.stats();
        assert_eq!((st.tcp.AttemptFails, st.tcp.RetransSegs, st.tcp_ext.TCPAbortOnTimeout), (1, 6, 1));
        t.w.close(s).unwrap();
        assert_eq!(t.w.poll_at(), None, "no timer left");
        let _ = Instant::ZERO;
    });
}

#[test]
fn a_reset_answering_our_syn_refuses_the_connection() {
    with_trace(TraceConfig::default(), |t| {
        let (s, syn) = t.connect(443);
        // A reset whose ACK is not ours is ignored (RFC 9293 §3.10.7.3).
        t.inject(&Pkt::ack(443, syn.sport, 0, syn.seq.wrapping_add(7)).rst());
        t.expect_none();
        assert!(!t.w.events(s).unwrap().error);
        t.inject(&Pkt::ack(443, syn.sport, 0, syn.seq.wrapping_add(1)).rst());
        t.expect_none();
        assert!(t.w.events(s).unwrap().error);
        let mut b = [0u8; 4];
        assert_eq!(t.w.recvmsg(s, &mut b), Err(Errno::ConnRefused));
        assert_eq!(t.stats().tcp.AttemptFails, 1);
        t.w.close(s).unwrap();
    });
}

#[test]
fn a_syn_ack_acking_something_else_gets_a_reset() {
    with_trace(TraceConfig::default(), |t| {
        let (s, syn) = t.connect(443);
        let mut sa = Pkt::syn(443, syn.sport, 9000);
        sa.ack = Some(syn.seq.wrapping_add(5));
        t.inject(&sa);
        let r = t.expect_one();
        //= RFC 9293 §3.10.7.3: <SEQ=SEG.ACK><CTL=RST>
        assert_eq!(r.flags(), "R");
        assert_eq!(r.seq, syn.seq.wrapping_add(5));
        assert!(!t.w.events(s).unwrap().writable, "still connecting");
        assert_eq!(t.stats().drops.get(DropReason::TcpInvalidAck), 1);
        t.w.close(s).unwrap();
    });
}

#[test]
fn segments_for_no_socket_get_resets() {
    with_trace(TraceConfig::default(), |t| {
        t.inject(&Pkt::syn(40_000, 81, 77).mss(1460));
        let r = t.expect_one();
        assert_eq!(r.flags(), "R.");
        assert_eq!((r.seq, r.ack), (0, 78), "<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>");
        t.inject(&Pkt::ack(40_000, 81, 77, 12_345).data(b"xyz"));
        let r = t.expect_one();
        assert_eq!(r.flags(), "R");
        assert_eq!(r.seq, 12_345, "<SEQ=SEG.ACK><CTL=RST>");
        t.inject(&Pkt::ack(40_000, 81, 77, 12_345).rst());
        t.expect_none();
        let st = t.stats();
        assert_eq!(st.drops.get(DropReason::TcpNoSocket), 3);
        assert_eq!(st.tcp.OutRsts, 2);
    });
}

#[test]
fn simultaneous_open_completes() {
    with_trace(TraceConfig::default(), |t| {
        let (s, syn) = t.connect(5555);
        // The peer's SYN crosses ours.
        t.inject(&Pkt::syn(5555, syn.sport, 3000).mss(1460));
        let sa = t.expect_one();
        assert_eq!(sa.flags(), "S.");
        assert_eq!((sa.seq, sa.ack), (syn.seq, 3001), "our SYN again, now acknowledging theirs");
        assert_eq!(sa.wscale, None, "the peer offered no scaling");
        // Its SYN-ACK arrives: both sides are established.
        let mut theirs = Pkt::syn(5555, syn.sport, 3000).mss(1460);
        theirs.ack = Some(syn.seq.wrapping_add(1));
        t.inject(&theirs);
        assert!(t.w.events(s).unwrap().writable);
        assert_eq!(t.w.tcp_info(s).unwrap().state, skbnet::tcp::TcpState::Established);
        t.w.sendmsg(s, b"hi", None).unwrap();
        let d = t.expect_one();
        assert_eq!((d.seq, d.ack, &d.payload[..]), (syn.seq.wrapping_add(1), 3001, &b"hi"[..]));
    });
}

#[test]
fn the_listener_retransmits_its_syn_ack_then_forgets() {
    with_trace(TraceConfig::default(), |t| {
        let start = t.now;
        let l = t.listen(80);
        t.inject(&Pkt::syn(40_000, 80, 1000).mss(1460));
        let sa = t.expect_one();
        // The SYN again (our SYN-ACK was lost): the same SYN-ACK.
        t.inject(&Pkt::syn(40_000, 80, 1000).mss(1460));
        let again = t.expect_one();
        assert_eq!((again.seq, again.ack), (sa.seq, sa.ack));
        t.advance(Duration::from_secs(100));
        let at: Vec<u64> = t.out().iter().map(|o| (o.at - start).as_secs()).collect();
        assert_eq!(at, [1, 3, 7, 15, 31], "tcp_synack_retries = 5");
        // The request is gone: its ACK now finds nothing but a listener.
        t.inject(&Pkt::ack(40_000, 80, 1001, sa.seq.wrapping_add(1)));
        let r = t.expect_one();
        assert!(r.rst, "an ACK for a forgotten request is answered with a reset: {r:?}");
        assert_eq!(t.w.accept(l), Err(Errno::WouldBlock));
    });
}

#[test]
fn a_full_accept_queue_drops_syns_and_counts_them() {
    with_trace(TraceConfig::default(), |t| {
        let l = t.listen_backlog(80, 1);
        t.inject(&Pkt::syn(40_000, 80, 1000));
        let sa = t.expect_one();
        t.inject(&Pkt::ack(40_000, 80, 1001, sa.seq.wrapping_add(1)));
        t.inject(&Pkt::syn(40_001, 80, 2000));
        t.expect_none();
        let st = t.stats();
        assert_eq!((st.tcp_ext.ListenOverflows, st.tcp_ext.ListenDrops), (1, 1));
        assert_eq!(st.drops.get(DropReason::TcpListenOverflow), 1);
        // Accepting makes room.
        t.w.accept(l).unwrap();
        t.inject(&Pkt::syn(40_001, 80, 2000));
        assert!(t.expect_one().syn);
    });
}

#[test]
fn syn_cookies_answer_when_the_syn_queue_is_full() {
    with_trace(TraceConfig::default(), |t| {
        let l = t.listen_backlog(80, 2);
        for port in [40_000, 40_001] {
            t.inject(&Pkt::syn(port, 80, 1000).mss(1460));
            t.expect_one();
        }
        // The third handshake gets a cookie: nothing is kept for it.
        t.inject(&linux_syn(Pkt::syn(40_002, 80, 7000)));
        let sa = t.expect_one();
        assert_eq!(sa.flags(), "S.");
        assert_eq!(sa.wscale, Some(7), "options still offered; the cookie's timestamp carries the peer's");
        assert_eq!(t.stats().tcp_ext.SyncookiesSent, 1);
        // A forged cookie is refused with a reset.
        t.inject(&Pkt::ack(40_002, 80, 7001, sa.seq.wrapping_add(99)).ts(101, sa.ts.unwrap().0));
        assert!(t.expect_one().rst);
        assert_eq!(t.stats().tcp_ext.SyncookiesFailed, 1);
        // The real ACK proves it; the connection is rebuilt with the options.
        t.inject(&Pkt::ack(40_002, 80, 7001, sa.seq.wrapping_add(1)).ts(101, sa.ts.unwrap().0));
        t.expect_none();
        assert_eq!(t.stats().tcp_ext.SyncookiesRecv, 1);
        let (s, peer) = t.w.accept(l).unwrap();
        assert_eq!(peer.port(), 40_002);
        let info = t.w.tcp_info(s).unwrap();
        assert_eq!(info.mss, 1448, "the cookie said 1460; timestamps take 12");
        assert_eq!(info.wscale, (7, 7));
        assert!(info.sack && info.timestamps);
    });
}

#[test]
fn isns_and_ephemeral_ports_are_not_predictable_in_sequence() {
    with_trace(TraceConfig::default(), |t| {
        let mut ports = Vec::new();
        let mut isns = Vec::new();
        for _ in 0..8 {
            let (s, syn) = t.connect(443);
            ports.push(syn.sport);
            isns.push(syn.seq);
            t.w.close(s).unwrap();
        }
        let sequential = ports.windows(2).filter(|w| w[1] == w[0].wrapping_add(1)).count();
        assert!(sequential <= 1, "ports {ports:?}");
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ports.len(), "a port per connection: {ports:?}");
        // RFC 6528: each 4-tuple gets its own offset, so ISNs of
        // successive connections are far apart.
        let close = isns.windows(2).filter(|w| w[1].wrapping_sub(w[0]) < 1_000_000).count();
        assert_eq!(close, 0, "isns {isns:?}");
        let (lo, hi) = t.w.sysctl(t.ns).unwrap().local_port_range;
        assert!(ports.iter().all(|&p| (lo..=hi).contains(&p)));
    });
}

#[test]
fn tcp_to_a_broadcast_address_is_dropped() {
    with_trace(TraceConfig::default(), |t| {
        let _l = t.listen(80);
        let mut syn = Pkt::syn(40_000, 80, 1).mss(1460);
        syn.dst = Some(Ipv4Addr::new(10, 0, 0, 255));
        t.inject(&syn);
        t.expect_none();
        assert_eq!(t.stats().drops.get(DropReason::TcpNotUnicast), 1);
        let s = t.w.socket(t.ns, SockType::Tcp).unwrap();
        for dst in [Ipv4Addr::new(10, 0, 0, 255), Ipv4Addr::BROADCAST, Ipv4Addr::new(224, 0, 0, 1)] {
            let r = t.w.connect(s, SocketAddr::V4(SocketAddrV4::new(dst, 80)));
            assert!(matches!(r, Err(Errno::InvalidArgument | Errno::NetUnreachable)), "{dst}: {r:?}");
        }
        t.expect_none();
    });
}

#[test]
fn reuse_addr_shares_a_port_but_never_with_a_listener() {
    use skbnet::socket::SockOpt;
    with_trace(TraceConfig::default(), |t| {
        let any = |p| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, p));
        let mk = |t: &mut skbnet_tests::trace::Trace<'_, '_>| {
            let s = t.w.socket(t.ns, SockType::Tcp).unwrap();
            t.w.setsockopt(s, SockOpt::ReuseAddr(true)).unwrap();
            s
        };
        let (a, b) = (mk(t), mk(t));
        t.w.bind(a, any(8080)).unwrap();
        t.w.bind(b, any(8080)).unwrap();
        t.w.listen(a, 4).unwrap();
        assert_eq!(t.w.listen(b, 4), Err(Errno::AddrInUse), "one listener per port");
        let c = mk(t);
        assert_eq!(t.w.bind(c, any(8080)), Err(Errno::AddrInUse), "a listener's port is not shared");
        let d = t.w.socket(t.ns, SockType::Tcp).unwrap();
        assert_eq!(t.w.bind(d, any(8080)), Err(Errno::AddrInUse), "without SO_REUSEADDR");
    });
}

//! Closing, aborting and defending connections, as packet traces: the
//! FIN handshakes of RFC 9293 §3.6 (active, passive, simultaneous, half
//! close), TIME-WAIT, resets and `SO_LINGER`, the timeouts (user timeout,
//! keepalive, orphaned FIN-WAIT-2), and RFC 5961's answers to blind
//! resets, SYNs and ACKs.

use std::time::Duration;

use skbnet::socket::{Errno, Shutdown};
use skbnet::stats::DropReason;
use skbnet::tcp::{TcpOpt, TcpState};
use skbnet_tests::trace::{Flow, Pkt, Trace, TraceConfig, with_trace};

fn opts(p: Pkt) -> Pkt {
    p.mss(1000).sack_perm().ts(100, 0)
}

fn state(t: &Trace<'_, '_>, f: &Flow) -> TcpState {
    t.w.tcp_info(f.sock).unwrap().state
}

fn table(t: &Trace<'_, '_>) -> Vec<(TcpState, bool)> {
    t.w.tcp_table(t.ns).map(|e| (e.state, e.orphan)).collect()
}

#[test]
fn an_active_close_goes_through_fin_wait_to_time_wait_and_ends() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, opts, 1000);
        let l = f.listener.unwrap();
        t.w.shutdown_socket(f.sock, Shutdown::Write).unwrap();
        let fin = t.expect_one();
        assert_eq!((fin.flags(), fin.seq), ("F.".to_string(), f.our_nxt));
        assert_eq!(state(t, &f), TcpState::FinWait1);
        assert_eq!(t.w.sendmsg(f.sock, b"late", None), Err(Errno::Pipe));
        f.saw(&fin);
        f.our_nxt = f.our_nxt.wrapping_add(1);
        t.inject(&f.pkt());
        assert_eq!(state(t, &f), TcpState::FinWait2);
        let p = f.pkt().fin();
        f.peer_nxt = f.peer_nxt.wrapping_add(1);
        t.inject(&p);
        let ack = t.expect_one();
        assert_eq!(ack.ack, f.peer_nxt, "the peer's FIN acknowledged");
        let mut b = [0u8; 4];
        assert_eq!(t.w.recvmsg(f.sock, &mut b).unwrap().len, 0, "end of stream");
        t.w.close(f.sock).unwrap();
        assert_eq!(t.w.tcp_info(f.sock), Err(Errno::BadFd), "the id is dead after close");
        assert!(table(t).contains(&(TcpState::TimeWait, true)), "{:?}", table(t));
        assert_eq!(t.stats().tcp_ext.TW, 1);
        // The peer did not hear our ACK and sends its FIN again: TIME-WAIT
        // answers it (RFC 9293 §3.10.7.4, TIME-WAIT STATE).
        t.advance(Duration::from_secs(30));
        t.inject(&p);
        assert_eq!(t.expect_one().ack, f.peer_nxt);
        // 60 s after that, it is gone and nothing is left armed.
        t.advance(Duration::from_secs(61));
        t.w.close(l).unwrap();
        assert!(table(t).is_empty(), "{:?}", table(t));
        assert_eq!(t.w.poll_at(), None);
        assert_eq!(t.stats().tcp.CurrEstab, 0);
    });
}

#[test]
fn a_passive_close_goes_through_close_wait_and_last_ack() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, opts, 1000);
        let p = f.data(b"bye").fin();
        f.peer_nxt = f.peer_nxt.wrapping_add(1);
        t.inject(&p);
        assert_eq!(t.expect_one().ack, f.peer_nxt);
        assert_eq!(state(t, &f), TcpState::CloseWait);
        let mut b = [0u8; 8];
        assert_eq!(t.w.recvmsg(f.sock, &mut b).unwrap().len, 3);
        assert_eq!(t.w.recvmsg(f.sock, &mut b).unwrap().len, 0);
        // We may still send in CLOSE-WAIT.
        t.w.sendmsg(f.sock, b"ok", None).unwrap();
        let d = t.expect_one();
        assert_eq!(d.payload, b"ok");
        t.w.close(f.sock).unwrap();
        let fin = t.expect_one();
        assert!(fin.fin);
        assert!(table(t).contains(&(TcpState::LastAck, true)));
        f.saw(&fin);
        f.our_nxt = fin.seq.wrapping_add(1);
        t.inject(&f.pkt());
        t.expect_none();
        assert_eq!(table(t), [(TcpState::Listen, false)], "the orphan is gone, no TIME-WAIT on this side");
        assert_eq!(t.w.poll_at(), None);
    });
}

#[test]
fn a_half_closed_connection_keeps_receiving() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, opts, 1000);
        t.w.shutdown_socket(f.sock, Shutdown::Write).unwrap();
        let fin = t.expect_one();
        f.saw(&fin);
        f.our_nxt = f.our_nxt.wrapping_add(1);
        t.inject(&f.pkt());
        for i in 0..5u8 {
            let p = f.data(&[i; 500]);
            t.inject(&p);
        }
        let acks = t.out();
        assert_eq!(acks.last().unwrap().ack, f.peer_nxt);
        let mut b = [0u8; 4096];
        assert_eq!(t.w.recvmsg(f.sock, &mut b).unwrap().len, 2500);
        assert_eq!(state(t, &f), TcpState::FinWait2);
    });
}

#[test]
fn a_simultaneous_close_passes_through_closing() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, opts, 1000);
        t.w.shutdown_socket(f.sock, Shutdown::Write).unwrap();
        let ours = t.expect_one();
        // The peer's FIN crosses ours: it does not acknowledge our FIN yet.
        let p = f.pkt().fin();
        f.peer_nxt = f.peer_nxt.wrapping_add(1);
        t.inject(&p);
        assert_eq!(t.expect_one().ack, f.peer_nxt);
        assert_eq!(state(t, &f), TcpState::Closing);
        f.saw(&ours);
        f.our_nxt = ours.seq.wrapping_add(1);
        t.inject(&f.pkt());
        assert_eq!(state(t, &f), TcpState::Closed);
        t.w.close(f.sock).unwrap();
        assert!(table(t).contains(&(TcpState::TimeWait, true)));
    });
}

#[test]
fn a_new_syn_may_reopen_a_connection_in_time_wait() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, opts, 1000);
        t.w.close(f.sock).unwrap();
        let fin = t.expect_one();
        f.saw(&fin);
        f.our_nxt = fin.seq.wrapping_add(1);
        let p = f.pkt().fin();
        f.peer_nxt = f.peer_nxt.wrapping_add(1);
        t.inject(&p);
        t.expect_one();
        assert!(table(t).contains(&(TcpState::TimeWait, true)));
        // RFC 9293 §3.6.1: a SYN above the old sequence space reopens it,
        // our new ISN above everything the old connection used.
        t.advance(Duration::from_secs(1));
        f.tick(1000);
        let syn = Pkt::syn(40_000, 80, f.peer_nxt.wrapping_add(100_000)).mss(1000).sack_perm().ts(f.ts.unwrap(), 0);
        t.inject(&syn);
        let sa = t.expect_one();
        assert_eq!(sa.flags(), "S.");
        assert!(sa.seq.wrapping_sub(f.our_nxt) as i32 > 0, "new ISN above the old connection's");
        assert!(!table(t).contains(&(TcpState::TimeWait, true)));
        // An old SYN, below the old sequence space and timestamps, is an
        // old duplicate: TIME-WAIT answers it with an ACK (the peer then resets).
        t.inject(&Pkt::ack(40_000, 80, syn.seq.wrapping_add(1), sa.seq.wrapping_add(1)).ts(f.ts.unwrap(), 0));
        t.w.accept(f.listener.unwrap()).unwrap();
    });
}

#[test]
fn linger_zero_and_unread_data_abort_with_a_reset() {
    with_trace(TraceConfig::default(), |t| {
        let f = t.passive_open(80, opts, 1000);
        t.w.set_tcp_option(f.sock, TcpOpt::Linger(Some(Duration::ZERO))).unwrap();
        t.w.sendmsg(f.sock, &[1u8; 3000], None).unwrap();
        let _ = t.out();
        t.w.close(f.sock).unwrap();
        let r = t.expect_one();
        assert_eq!(r.flags(), "R.");
        assert_eq!(t.stats().tcp_ext.TCPAbortOnLinger, 1);
        assert_eq!(table(t), [(TcpState::Listen, false)]);

        let mut g = t.passive_open(81, opts, 5000);
        let p = g.data(b"never read");
        t.inject(&p);
        let _ = t.out();
        t.w.close(g.sock).unwrap();
        //= RFC 2525 §2.17: closing with unread data sends a reset.
        let r = t.expect_one();
        assert_eq!((r.flags(), r.seq), ("R.".to_string(), g.our_nxt));
        assert_eq!(t.stats().tcp_ext.TCPAbortOnClose, 1);
        assert_eq!(t.w.poll_at(), None);
    });
}

#[test]
fn an_exact_reset_ends_the_connection_and_the_error_is_reported_once() {
    with_trace(TraceConfig::default(), |t| {
        let f = t.passive_open(80, opts, 1000);
        t.inject(&Pkt::ack(40_000, 80, f.peer_nxt, f.our_nxt).rst());
        t.expect_none();
        assert_eq!(state(t, &f), TcpState::Closed);
        let ev = t.w.events(f.sock).unwrap();
        assert!(ev.error && ev.hangup && ev.readable);
        let mut b = [0u8; 4];
        assert_eq!(t.w.recvmsg(f.sock, &mut b), Err(Errno::ConnReset));
        assert_eq!(t.w.sendmsg(f.sock, b"x", None), Err(Errno::Pipe));
        let st = t.stats();
        assert_eq!((st.tcp.EstabResets, st.tcp.CurrEstab), (1, 0));
        assert_eq!(st.drops.total(), 0, "an exact reset is taken, not dropped");
    });
}

#[test]
fn an_in_window_reset_with_a_wrong_sequence_gets_a_challenge_ack() {
    with_trace(TraceConfig::default(), |t| {
        let f = t.passive_open(80, opts, 1000);
        //= RFC 5961 §3.2: in the window but not exactly RCV.NXT.
        t.inject(&Pkt::ack(40_000, 80, f.peer_nxt.wrapping_add(10), f.our_nxt).rst());
        let c = t.expect_one();
        assert_eq!((c.flags(), c.seq, c.ack), (".".to_string(), f.our_nxt, f.peer_nxt));
        assert_eq!(state(t, &f), TcpState::Established);
        // Outside the window: dropped silently.
        t.inject(&Pkt::ack(40_000, 80, f.peer_nxt.wrapping_add(10_000_000), f.our_nxt).rst());
        t.expect_none();
        let st = t.stats();
        assert_eq!(st.tcp_ext.TCPChallengeACK, 1);
        assert_eq!((st.drops.get(DropReason::TcpRstNotExact), st.drops.get(DropReason::TcpBadSeq)), (1, 1));
    });
}

#[test]
fn a_syn_on_an_established_connection_gets_a_challenge_ack() {
    with_trace(TraceConfig::default(), |t| {
        let f = t.passive_open(80, opts, 1000);
        for seq in [f.peer_nxt.wrapping_add(5), f.peer_nxt.wrapping_sub(50_000)] {
            t.inject(&Pkt::syn(40_000, 80, seq).mss(1000));
            let c = t.expect_one();
            //= RFC 5961 §4.2: whatever its sequence number.
            assert_eq!((c.flags(), c.seq, c.ack), (".".to_string(), f.our_nxt, f.peer_nxt));
        }
        assert_eq!(state(t, &f), TcpState::Established);
        let st = t.stats();
        assert_eq!(st.tcp_ext.TCPSYNChallenge, 2);
        // The one in the window is an invalid SYN; the other fails the
        // sequence check first.
        assert_eq!((st.drops.get(DropReason::TcpInvalidSyn), st.drops.get(DropReason::TcpBadSeq)), (1, 1));
    });
}

#[test]
fn an_ack_for_data_never_sent_is_answered_and_its_data_refused() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, opts, 1000);
        let mut p = f.data(b"payload");
        p.ack = Some(f.our_nxt.wrapping_add(5000));
        t.inject(&p);
        //= RFC 5961 §5.2: discard it and send an ACK.
        let a = t.expect_one();
        assert_eq!((a.seq, a.ack), (f.our_nxt, f.peer_nxt.wrapping_sub(7)));
        let mut b = [0u8; 16];
        assert_eq!(t.w.recvmsg(f.sock, &mut b), Err(Errno::WouldBlock), "its data was not taken");
        assert_eq!(t.stats().tcp_ext.TCPACKSkippedSeq, 1);
        // An ACK older than any window we had: a challenge ACK.
        f.peer_nxt = f.peer_nxt.wrapping_sub(7);
        let mut old = f.data(b"x");
        old.ack = Some(f.our_nxt.wrapping_sub(1_000_000));
        t.inject(&old);
        assert_eq!(t.expect_one().ack, f.peer_nxt.wrapping_sub(1));
        let st = t.stats();
        assert_eq!(st.tcp_ext.TCPChallengeACK, 1);
        assert_eq!((st.drops.get(DropReason::TcpAckUnsentData), st.drops.get(DropReason::TcpOldAck)), (1, 1));
    });
}

#[test]
fn challenge_acks_are_limited_to_a_thousand_a_second() {
    with_trace(TraceConfig::default(), |t| {
        let f = t.passive_open(80, opts, 1000);
        let bad: Vec<Pkt> =
            (0..1500u32).map(|i| Pkt::ack(40_000, 80, f.peer_nxt.wrapping_add(1 + i), f.our_nxt).rst()).collect();
        for chunk in bad.chunks(100) {
            t.inject_many(chunk);
        }
        let n = t.out().len();
        assert_eq!(n, 1000, "RFC 5961 §7: challenge ACKs limited per second");
        assert_eq!(state(t, &f), TcpState::Established);
    });
}

#[test]
fn the_user_timeout_ends_a_connection_whose_data_is_not_acknowledged() {
    with_trace(TraceConfig::default(), |t| {
        let f = t.passive_open(80, opts, 1000);
        t.w.set_tcp_option(f.sock, TcpOpt::UserTimeout(Duration::from_secs(5))).unwrap();
        let start = t.now;
        t.w.sendmsg(f.sock, b"anyone?", None).unwrap();
        t.advance(Duration::from_secs(20));
        let _ = t.out();
        assert_eq!(state(t, &f), TcpState::Closed);
        let mut b = [0u8; 4];
        assert_eq!(t.w.recvmsg(f.sock, &mut b), Err(Errno::TimedOut));
        // It died on the first retransmission timeout after 5 s, long
        // before tcp_retries2's fifteen.
        assert!(t.stats().tcp.RetransSegs < 8);
        assert_eq!(t.stats().tcp_ext.TCPAbortOnTimeout, 1);
        let _ = start;
    });
}

#[test]
fn keepalive_probes_an_idle_connection_and_ends_a_silent_one() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, opts, 1000);
        for o in [
            TcpOpt::KeepIdle(Duration::from_secs(10)),
            TcpOpt::KeepInterval(Duration::from_secs(2)),
            TcpOpt::KeepCount(3),
            TcpOpt::KeepAlive(true),
        ] {
            t.w.set_tcp_option(f.sock, o).unwrap();
        }
        let start = t.now;
        t.advance(Duration::from_secs(11));
        let p = t.expect_one();
        //= RFC 1122 §4.2.3.6: a probe is a segment the peer must answer:
        //= an ACK one below SND.NXT, no data.
        assert_eq!((p.seq, p.payload.len()), (f.our_nxt.wrapping_sub(1), 0));
        assert_eq!((p.at - start).as_secs(), 10);
        // Answered: the connection is idle again for 10 s.
        f.saw(&p);
        t.inject(&f.pkt());
        t.advance(Duration::from_secs(9));
        t.expect_none();
        // Now the peer is gone: three probes two seconds apart, then death.
        t.advance(Duration::from_secs(20));
        let probes = t.out();
        assert_eq!(probes.len(), 3, "{probes:?}");
        assert_eq!(state(t, &f), TcpState::Closed);
        let mut b = [0u8; 4];
        assert_eq!(t.w.recvmsg(f.sock, &mut b), Err(Errno::TimedOut));
        assert_eq!(t.stats().tcp_ext.TCPKeepAlive, 4);
    });
}

#[test]
fn an_orphan_waiting_in_fin_wait_2_gives_up_after_a_minute() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, opts, 1000);
        t.w.close(f.sock).unwrap();
        let fin = t.expect_one();
        f.saw(&fin);
        f.our_nxt = fin.seq.wrapping_add(1);
        t.inject(&f.pkt());
        assert!(table(t).contains(&(TcpState::FinWait2, true)));
        t.advance(Duration::from_secs(59));
        assert!(table(t).contains(&(TcpState::FinWait2, true)));
        t.advance(Duration::from_secs(2));
        t.expect_none();
        assert_eq!(table(t), [(TcpState::Listen, false)]);
        // Its late data is answered with a reset: nobody is there but the
        // listener, which sent no cookie to check it against.
        let p = f.data(b"late");
        t.inject(&p);
        assert!(t.expect_one().rst);
        assert_eq!(t.stats().tcp_ext.SyncookiesFailed, 0);
        // With no listener either, it is a segment for no socket.
        t.w.close(f.listener.unwrap()).unwrap();
        t.inject(&p);
        assert!(t.expect_one().rst);
        assert_eq!(t.stats().drops.get(DropReason::TcpNoSocket), 1);
    });
}

#[test]
fn closing_a_listener_resets_connections_it_never_handed_out() {
    with_trace(TraceConfig::default(), |t| {
        let l = t.listen(80);
        t.inject(&opts(Pkt::syn(40_000, 80, 1000)));
        let sa = t.expect_one();
        t.inject(&Pkt::ack(40_000, 80, 1001, sa.seq.wrapping_add(1)).ts(101, sa.ts.unwrap().0));
        t.inject(&opts(Pkt::syn(40_001, 80, 2000)));
        t.expect_one();
        t.w.close(l).unwrap();
        let r = t.expect_one();
        assert_eq!((r.flags(), r.dport), ("R.".to_string(), 40_000));
        assert!(table(t).is_empty(), "{:?}", table(t));
        assert_eq!(t.tcp_requests(), 0);
        // The handshake in progress is forgotten: its ACK meets no one.
        t.inject(&Pkt::ack(40_001, 80, 2001, 1));
        assert!(t.expect_one().rst);
    });
}

/// Regression: after `iperf3 -c ... -n 2M` the services' iperf3 server
/// closed a stream it had read to the end while the client's last data
/// was still in flight. The orphan went on queueing that data for nobody,
/// its window closed, and the client retransmitted into it until someone
/// reset the connection by hand. As in Linux (`tcp_rcv_state_process`,
/// `LINUX_MIB_TCPABORTONDATA`), new data on a closed socket aborts it.
#[test]
fn data_after_close_is_answered_with_a_reset_not_queued_for_nobody() {
    with_trace(TraceConfig::default(), |t| {
        // FIN-WAIT-1: the peer sends before it has seen our FIN.
        let mut f = t.passive_open(80, opts, 1000);
        t.w.close(f.sock).unwrap();
        let fin = t.expect_one();
        assert_eq!(fin.flags(), "F.");
        let p = f.data(&[7u8; 1000]);
        t.inject(&p);
        let r = t.expect_one();
        assert!(r.rst, "data for a closed socket is refused: {r:?}");
        assert_eq!(t.stats().tcp_ext.TCPAbortOnData, 1);
        assert_eq!(table(t), [(TcpState::Listen, false)]);

        // FIN-WAIT-2: our FIN is acknowledged, the peer's data goes on.
        let mut g = t.passive_open(81, opts, 5000);
        t.w.close(g.sock).unwrap();
        let fin = t.expect_one();
        g.saw(&fin);
        g.our_nxt = fin.seq.wrapping_add(1);
        t.inject(&g.pkt());
        t.expect_none();
        assert!(table(t).contains(&(TcpState::FinWait2, true)), "{:?}", table(t));
        let p = g.data(&[8u8; 1000]);
        t.inject(&p);
        assert!(t.expect_one().rst);
        assert_eq!(t.stats().tcp_ext.TCPAbortOnData, 2);
        assert!(!table(t).iter().any(|&(_, orphan)| orphan), "{:?}", table(t));
        // A bare ACK or a FIN with no new data is still the ordinary close.
        let mut h = t.passive_open(82, opts, 9000);
        t.w.close(h.sock).unwrap();
        let fin = t.expect_one();
        h.saw(&fin);
        h.our_nxt = fin.seq.wrapping_add(1);
        t.inject(&h.pkt().fin());
        assert_eq!(t.expect_one().flags(), ".");
        assert!(table(t).contains(&(TcpState::TimeWait, true)), "{:?}", table(t));
        assert_eq!(t.stats().tcp_ext.TCPAbortOnData, 2);
    });
}

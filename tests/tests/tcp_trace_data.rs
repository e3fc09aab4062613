//! Moving data, as packet traces: the send side's windows, Nagle, silly
//! window avoidance and zero-window probes; the receive side's ACK
//! policy, out-of-order queue with SACK, window scaling, PAWS, merged
//! segments and a FIN that arrives early.

use std::time::Duration;

use skbnet::dev::Features;
use skbnet::socket::{Errno, SockOpt};
use skbnet::stats::DropReason;
use skbnet::tcp::{TcpOpt, TcpState};
use skbnet_tests::trace::{Flow, Out, Pkt, Trace, TraceConfig, with_trace};

fn sack_ts(p: Pkt) -> Pkt {
    p.mss(1460).sack_perm().ts(100, 0)
}

fn mss_only(p: Pkt) -> Pkt {
    p.mss(1000)
}

/// The peer acknowledges everything seen so far.
fn ack_all(t: &mut Trace<'_, '_>, f: &mut Flow, seen: &[Out]) {
    for o in seen {
        f.saw(o);
        f.our_nxt = f.our_nxt.max(o.seq.wrapping_add(o.seg_len()));
    }
    t.inject(&f.pkt());
}

fn bytes(segs: &[Out]) -> usize {
    segs.iter().map(|s| s.payload.len()).sum()
}

#[test]
fn the_first_flight_is_ten_segments_and_slow_start_grows_it() {
    for offloads in [Features::ALL, Features::NONE] {
        with_trace(TraceConfig { offloads, ..TraceConfig::default() }, |t| {
            let mut f = t.passive_open(80, mss_only, 1);
            let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
            assert_eq!(t.w.sendmsg(f.sock, &data, None), Ok(100_000));
            let first = t.out();
            // RFC 6928: IW10, every segment MSS-sized, cut by the NIC's TSO
            // or by software GSO alike.
            assert_eq!(first.len(), 10, "{offloads:?}");
            assert!(first.iter().all(|s| s.payload.len() == 1000));
            assert_eq!(
                first.iter().map(|s| s.seq).collect::<Vec<_>>(),
                (0..10).map(|i| f.our_nxt + i * 1000).collect::<Vec<_>>()
            );
            let mut got = Vec::new();
            first.iter().for_each(|s| got.extend_from_slice(&s.payload));
            assert_eq!(got, data[..10_000], "bytes in order");
            t.advance(Duration::from_millis(5));
            t.expect_none();
            // An ACK of two segments frees two and slow start adds two.
            f.our_nxt = f.our_nxt.wrapping_add(2000);
            t.inject(&f.pkt());
            let next = t.out();
            assert_eq!(next.len(), 4, "{next:?}");
            assert_eq!(next[0].seq, first[9].seq.wrapping_add(1000));
            assert_eq!(t.w.tcp_info(f.sock).unwrap().cwnd, 12);
            ack_all(t, &mut f, &next);
            let _ = t.out();
        });
    }
}

#[test]
fn psh_marks_only_the_segment_that_ends_a_send_call() {
    for offloads in [Features::ALL, Features::NONE] {
        with_trace(TraceConfig { offloads, ..TraceConfig::default() }, |t| {
            let mut f = t.passive_open(80, mss_only, 1);
            // One call of 3.5 segments, then one of 1.5: RFC 9293 §3.9.1,
            // PSH on the last segment made from each call's data only, so
            // the receiver's GRO/LRO can merge the rest.
            assert_eq!(t.w.sendmsg(f.sock, &[1u8; 3500], None), Ok(3500));
            assert_eq!(t.w.sendmsg(f.sock, &[2u8; 1500], None), Ok(1500));
            let segs = t.out();
            assert_eq!(
                segs.iter().map(|s| (s.payload.len(), s.psh)).collect::<Vec<_>>(),
                [(1000, false), (1000, false), (1000, false), (500, true), (1000, false), (500, true)],
                "{offloads:?}"
            );
            // A retransmission cut to one segment from the end of a call
            // keeps PSH on the part that ends it, not on the part resent.
            t.advance(Duration::from_millis(1100));
            let rto = t.out();
            assert_eq!((rto[0].seq, rto[0].payload.len(), rto[0].psh), (segs[0].seq, 1000, false), "{rto:?}");
            ack_all(t, &mut f, &segs);
            t.expect_none();
        });
    }
}

#[test]
fn nagle_holds_a_small_segment_while_data_is_unacknowledged() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, mss_only, 1);
        t.w.sendmsg(f.sock, b"first", None).unwrap();
        let a = t.expect_one();
        assert_eq!(a.payload, b"first");
        t.w.sendmsg(f.sock, b"second", None).unwrap();
        t.w.sendmsg(f.sock, b"third", None).unwrap();
        t.expect_none();
        //= RFC 9293 §3.7.4: the held bytes go when the outstanding data is acknowledged.
        ack_all(t, &mut f, &[a]);
        let b = t.expect_one();
        assert_eq!(b.payload, b"secondthird", "coalesced");
        // With TCP_NODELAY small writes go at once.
        t.w.set_tcp_option(f.sock, TcpOpt::NoDelay(true)).unwrap();
        t.w.sendmsg(f.sock, b"x", None).unwrap();
        t.w.sendmsg(f.sock, b"y", None).unwrap();
        let xy = t.out();
        assert_eq!(xy.iter().map(|s| s.payload.clone()).collect::<Vec<_>>(), [b"x".to_vec(), b"y".to_vec()]);
    });
}

#[test]
fn a_small_window_is_not_filled_with_a_silly_segment_until_the_probe_timer() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, mss_only, 1);
        t.w.set_tcp_option(f.sock, TcpOpt::NoDelay(true)).unwrap();
        // The peer offers 64 KB first (max window), then only 300 bytes.
        f.window = 300;
        t.inject(&f.pkt());
        t.w.sendmsg(f.sock, &[1u8; 5000], None).unwrap();
        //= RFC 9293 §3.8.6.2.1: no segment below min(MSS, max window / 2).
        t.expect_none();
        // The probe timer runs on the RTO (200 ms here, the minimum).
        t.advance(Duration::from_millis(250));
        let probe = t.out();
        assert_eq!(probe.len(), 1, "{probe:?}");
        assert_eq!(probe[0].payload.len(), 300, "what the window allows, after the persist timer");
        // The window opens: the rest goes.
        f.window = 65_535;
        ack_all(t, &mut f, &probe);
        let rest = t.out();
        assert_eq!(bytes(&rest), 4700);
    });
}

#[test]
fn a_zero_window_is_probed_with_backoff_and_reopening_resumes_sending() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, mss_only, 1);
        f.window = 0;
        t.inject(&f.pkt());
        let start = t.now;
        t.w.sendmsg(f.sock, &[2u8; 3000], None).unwrap();
        t.expect_none();
        t.advance(Duration::from_secs(7));
        let probes = t.out();
        // RFC 9293 §3.8.6.1: probes at the RTO (200 ms), backing off
        // exponentially; each is an ACK from one below SND.UNA, no data.
        let at: Vec<u64> = probes.iter().map(|p| (p.at - start).as_millis() as u64).collect();
        assert_eq!(at, [200, 600, 1400, 3000, 6200]);
        assert!(probes.iter().all(|p| p.payload.is_empty() && p.seq == f.our_nxt.wrapping_sub(1)));
        assert_eq!(t.stats().tcp_ext.TCPWinProbe, 5);
        assert_eq!(
            t.w.tcp_info(f.sock).unwrap().state,
            TcpState::Established,
            "a zero window never kills the connection"
        );
        f.window = 65_535;
        t.inject(&f.pkt());
        assert_eq!(bytes(&t.out()), 3000);
    });
}

#[test]
fn a_window_that_shrinks_under_data_in_flight_is_respected() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, mss_only, 1);
        f.window = 8000;
        t.inject(&f.pkt());
        t.w.sendmsg(f.sock, &[3u8; 20_000], None).unwrap();
        let first = t.out();
        assert_eq!(bytes(&first), 8000);
        // The peer acknowledges 2000 but now offers only 1000 beyond: its
        // right edge moved back from +8000 to +3000 (RFC 9293 §3.8.6.2.2
        // discourages it; a sender must survive it).
        f.our_nxt = f.our_nxt.wrapping_add(2000);
        f.window = 1000;
        t.inject(&f.pkt());
        t.expect_none();
        // It takes the rest in flight and opens again: nothing is lost.
        f.our_nxt = f.our_nxt.wrapping_add(6000);
        f.window = 30_000;
        t.inject(&f.pkt());
        let rest = t.out();
        assert_eq!(bytes(&rest), 12_000);
        assert_eq!(rest[0].seq, f.our_nxt);
        assert_eq!(t.stats().tcp.RetransSegs, 0);
    });
}

#[test]
fn out_of_order_data_is_sacked_and_delivered_in_order() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, sack_ts, 1000);
        let base = f.peer_nxt;
        let a = f.data(&[b'a'; 100]);
        let b = f.data(&[b'b'; 100]);
        let c = f.data(&[b'c'; 100]);
        let d = f.data(&[b'd'; 100]);
        t.inject(&b);
        let ack = t.expect_one();
        //= RFC 2018 §4: an out-of-order segment is answered at once with
        //= its block first.
        assert_eq!(ack.ack, base);
        assert_eq!(ack.sack, [(base + 100, base + 200)]);
        t.inject(&d);
        let ack = t.expect_one();
        assert_eq!(ack.sack, [(base + 300, base + 400), (base + 100, base + 200)], "two holes, newest first");
        t.inject(&a);
        let ack = t.expect_one();
        assert_eq!((ack.ack, ack.sack.clone()), (base + 200, vec![(base + 300, base + 400)]));
        t.inject(&c);
        let ack = t.expect_one();
        assert_eq!((ack.ack, ack.sack.len()), (base + 400, 0));
        let mut buf = [0u8; 1000];
        let m = t.w.recvmsg(f.sock, &mut buf).unwrap();
        let want: Vec<u8> = [b'a', b'b', b'c', b'd'].iter().flat_map(|&x| [x; 100]).collect();
        assert_eq!(&buf[..m.len], &want[..]);
        assert_eq!(t.stats().tcp_ext.TCPOFOQueue, 2);
    });
}

#[test]
fn a_fin_ahead_of_a_gap_waits_for_the_data() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, sack_ts, 1000);
        let a = f.data(b"hello ");
        let b = f.data(b"world").fin();
        f.peer_nxt = f.peer_nxt.wrapping_add(1);
        t.inject(&b);
        t.expect_one();
        let mut buf = [0u8; 64];
        assert_eq!(t.w.recvmsg(f.sock, &mut buf), Err(Errno::WouldBlock), "no EOF before the gap fills");
        assert_eq!(t.w.tcp_info(f.sock).unwrap().state, TcpState::Established);
        t.inject(&a);
        let ack = t.expect_one();
        assert_eq!(ack.ack, f.peer_nxt, "data and FIN acknowledged together");
        assert_eq!(t.w.tcp_info(f.sock).unwrap().state, TcpState::CloseWait);
        let m = t.w.recvmsg(f.sock, &mut buf).unwrap();
        assert_eq!(&buf[..m.len], b"hello world");
        assert_eq!(t.w.recvmsg(f.sock, &mut buf).unwrap().len, 0, "then end of stream");
        assert!(t.w.events(f.sock).unwrap().readable);
    });
}

#[test]
fn acks_are_quick_at_first_then_every_second_segment_or_after_40_ms() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, sack_ts, 1000);
        let seg = vec![9u8; 1448];
        // Quick-ACK mode at the start of a connection: every segment.
        for _ in 0..16 {
            let p = f.data(&seg);
            t.inject(&p);
            assert_eq!(t.out().len(), 1);
        }
        // Then one full segment waits for the delayed-ACK timer...
        let sent = t.now;
        let p = f.data(&seg);
        t.inject(&p);
        t.expect_none();
        t.advance(Duration::from_millis(100));
        let late = t.expect_one();
        assert_eq!(late.ack, f.peer_nxt);
        let waited = late.at - sent;
        assert!(waited >= Duration::from_millis(40) && waited < Duration::from_millis(41), "{waited:?}");
        // ...and a second one is acknowledged at once (RFC 9293 §3.8.6.3).
        let p1 = f.data(&seg);
        let p2 = f.data(&seg);
        t.inject(&p1);
        t.expect_none();
        t.inject(&p2);
        assert_eq!(t.expect_one().ack, f.peer_nxt);
        assert!(t.stats().tcp_ext.DelayedACKs >= 1);
        let mut buf = vec![0u8; 65_536];
        while t.w.recvmsg(f.sock, &mut buf).is_ok_and(|m| m.len > 0) {}
    });
}

#[test]
fn merged_segments_from_gro_are_taken_as_one_and_acknowledged_once() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, sack_ts, 1000);
        // Leave quick-ACK mode first.
        for _ in 0..16 {
            let p = f.data(&[1u8; 1448]);
            t.inject(&p);
            let _ = t.out();
        }
        let before = t.stats().tcp.InSegs;
        let pkts: Vec<Pkt> = (0..8).map(|_| f.data(&[2u8; 1448])).collect();
        t.inject_many(&pkts);
        let acks = t.out();
        assert!(!acks.is_empty() && acks.len() <= 4, "{acks:?}");
        assert_eq!(acks.last().unwrap().ack, f.peer_nxt);
        assert_eq!(t.stats().tcp.InSegs - before, 8, "InSegs counts the segments a merged packet stands for");
        let mut buf = vec![0u8; 65_536];
        let mut n = 0;
        while let Ok(m) = t.w.recvmsg(f.sock, &mut buf) {
            if m.len == 0 {
                break;
            }
            n += m.len;
        }
        assert_eq!(n, 24 * 1448);
    });
}

#[test]
fn reading_one_byte_from_a_full_buffer_opens_no_silly_window() {
    with_trace(TraceConfig::default(), |t| {
        let l = t.listen(80);
        t.w.setsockopt(l, SockOpt::RcvBuf(16_384)).unwrap();
        t.inject(&mss_only(Pkt::syn(40_000, 80, 1)));
        let sa = t.expect_one();
        let mut f = Flow::for_test(80, 40_000, sa.seq.wrapping_add(1), 2);
        t.inject(&f.pkt());
        let (s, _) = t.w.accept(l).unwrap();
        f.sock = s;
        // Fill the buffer until the window closes.
        let mut last = None;
        for _ in 0..64 {
            let p = f.data(&[5u8; 1000]);
            t.inject(&p);
            if let Some(a) = t.out().pop() {
                last = Some(a);
            }
            if last.as_ref().is_some_and(|a| a.window == 0) {
                break;
            }
        }
        let closed = last.unwrap();
        assert_eq!(closed.window, 0, "the window closed");
        // One byte read: no window update (RFC 9293 §3.8.6.2.2).
        let mut one = [0u8; 1];
        assert_eq!(t.w.recvmsg(s, &mut one).unwrap().len, 1);
        t.expect_none();
        // A zero-window probe from the peer is answered, still with window 0.
        let probe = Pkt::ack(40_000, 80, f.peer_nxt.wrapping_sub(1), f.our_nxt);
        t.inject(&probe);
        let a = t.expect_one();
        assert_eq!((a.ack, a.window), (f.peer_nxt, 0));
        // Data beyond the closed window is dropped, not queued.
        let p = f.data(&[6u8; 1000]);
        f.peer_nxt = f.peer_nxt.wrapping_sub(1000);
        let before = t.stats();
        t.inject(&p);
        let a = t.expect_one();
        assert_eq!(a.ack, f.peer_nxt, "out of window: acknowledged, not taken");
        let after = t.stats();
        let zw = |s: &skbnet::stats::NetStats| (s.drops.get(DropReason::TcpZeroWindow), s.tcp_ext.TCPZeroWindowDrop);
        assert_eq!(
            (zw(&after).0 - zw(&before).0, zw(&after).1 - zw(&before).1),
            (1, 1),
            "counted as a zero-window drop"
        );
        // Reading half the buffer opens the window with an update.
        let mut buf = [0u8; 9000];
        t.w.recvmsg(s, &mut buf).unwrap();
        let upd = t.out();
        assert_eq!(upd.len(), 1, "{upd:?}");
        assert!(upd[0].window >= 1000, "{:?}", upd[0]);
    });
}

#[test]
fn window_scaling_shifts_both_ways() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, |p| p.mss(1000).wscale(4), 1);
        let info = t.w.tcp_info(f.sock).unwrap();
        assert_eq!(info.wscale, (7, 4));
        // Our window field is scaled by our shift of 7.
        let p = f.data(b"x");
        t.inject(&p);
        let a = t.expect_one();
        assert_eq!(u32::from(a.window) << 7, info.rcv_wnd & !127, "{a:?} {info:?}");
        // The peer's field of 100 means 1600 bytes.
        f.window = 100;
        t.inject(&f.pkt());
        assert_eq!(t.w.tcp_info(f.sock).unwrap().snd_wnd, 1600);
        t.w.set_tcp_option(f.sock, TcpOpt::NoDelay(true)).unwrap();
        t.w.sendmsg(f.sock, &[0u8; 5000], None).unwrap();
        assert_eq!(bytes(&t.out()), 1600);
    });
}

#[test]
fn paws_drops_a_segment_with_an_old_timestamp() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, sack_ts, 1000);
        f.tick(1000);
        let p = f.data(b"new");
        t.inject(&p);
        t.expect_one();
        // A segment whose TSval went backwards (an old duplicate from a
        // wrapped sequence space) is dropped with an ACK (RFC 7323 §5.3).
        let mut old = f.data(b"old");
        old.ts = Some((500, old.ts.unwrap().1));
        t.inject(&old);
        let a = t.expect_one();
        assert_eq!(a.ack, f.peer_nxt.wrapping_sub(3), "not taken");
        assert_eq!(t.stats().tcp_ext.PAWSEstab, 1);
        let mut buf = [0u8; 16];
        let m = t.w.recvmsg(f.sock, &mut buf).unwrap();
        assert_eq!(&buf[..m.len], b"new");
    });
}

#[test]
fn the_socket_table_shows_recv_q_and_send_q_as_ss_does() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, mss_only, 1);
        let queues = |t: &Trace<'_, '_>, state: TcpState| {
            let e = t.w.tcp_table(t.ns).find(|e| e.state == state).expect("an entry");
            (e.recv_q, e.send_q)
        };
        // A listener: connections waiting for accept, and the backlog.
        let l = t.w.tcp_table(t.ns).find(|e| e.state == TcpState::Listen).expect("the listener");
        assert_eq!(l.recv_q, 0);
        assert!(l.send_q > 0, "the backlog: {l:?}");
        // A connection: bytes received and unread, bytes sent and unacknowledged.
        assert_eq!(queues(t, TcpState::Established), (0, 0));
        t.inject(&f.data(&[1u8; 700]));
        assert_eq!(t.w.sendmsg(f.sock, &[2u8; 3000], None), Ok(3000));
        let sent = t.out();
        assert_eq!(queues(t, TcpState::Established), (700, 3000));
        let mut buf = [0u8; 200];
        assert_eq!(t.w.recvmsg(f.sock, &mut buf).unwrap().len, 200);
        f.our_nxt = f.our_nxt.wrapping_add(1000);
        f.saw(&sent[0]);
        t.inject(&f.pkt());
        assert_eq!(queues(t, TcpState::Established), (500, 2000));
    });
}

/// A pure ACK whose sequence number is the right edge of our window (the
/// peer filled the window with data that never reached us, then
/// acknowledged ours) still counts for its ACK: RFC 9293 §3.10.7.4 asks
/// for "special allowance" for valid ACKs, and Linux's `tcp_sequence`
/// takes a segment that starts at the edge. Refusing it lost the ACK and
/// the data was retransmitted on a perfect link (`tcp_sim` seed 7757).
#[test]
fn a_pure_ack_at_the_right_edge_of_our_window_still_acknowledges() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, mss_only, 1);
        t.w.sendmsg(f.sock, &[7u8; 1000], None).unwrap();
        let sent = t.out();
        assert_eq!(bytes(&sent), 1000);
        // No window scaling (mss_only): the field is our window in bytes.
        let wnd = u32::from(sent[0].window);
        assert!(wnd > 0);
        for o in &sent {
            f.saw(o);
            f.our_nxt = f.our_nxt.max(o.seq.wrapping_add(o.seg_len()));
        }
        // The peer's `wnd` bytes are lost; its ACK of our data sits at the edge.
        let edge = f.peer_nxt.wrapping_add(wnd);
        t.inject(&Pkt::ack(f.peer_port, f.our_port, edge, f.our_nxt).win(f.window));
        assert_eq!(t.w.tcp_info(f.sock).unwrap().in_flight, 0, "the ACK counted");
        t.advance(Duration::from_secs(2));
        let later: Vec<Out> = t.out().into_iter().filter(|o| !o.payload.is_empty()).collect();
        assert!(later.is_empty(), "nothing is retransmitted: {later:?}");
        // One byte past the edge is still refused (and answered with an ACK
        // that shows where we are), its ACK field ignored.
        t.w.sendmsg(f.sock, &[8u8; 10], None).unwrap();
        let more = t.out();
        assert_eq!(bytes(&more), 10);
        let beyond = Pkt::ack(f.peer_port, f.our_port, edge.wrapping_add(1), f.our_nxt.wrapping_add(10));
        t.inject(&beyond.win(f.window));
        let a = t.expect_one();
        assert_eq!(a.ack, f.peer_nxt, "answered with where we are");
        assert_eq!(t.w.tcp_info(f.sock).unwrap().in_flight, 10, "an unacceptable segment's ACK is not taken");
    });
}

/// What the receiver refuses is counted by why, with Linux's reasons: data
/// it had already, data at the right edge of the window (taken for its ACK,
/// its bytes dropped), a segment without ACK, and data after the peer's
/// FIN. Each duplicate or edge segment is answered at once; the one
/// without ACK is not.
#[test]
fn refused_segments_are_counted_by_reason() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, mss_only, 1000);
        let hello = f.data(b"hello");
        t.inject(&hello);
        let wnd = u32::from(t.expect_one().window);
        let drop = |t: &Trace<'_, '_>, why| t.stats().drops.get(why);
        t.inject(&hello);
        assert_eq!(t.expect_one().ack, f.peer_nxt, "a duplicate is acknowledged at once");
        assert_eq!(drop(t, DropReason::TcpOldData), 1);
        t.inject(&Pkt::ack(40_000, 80, f.peer_nxt.wrapping_add(wnd), f.our_nxt).data(b"beyond"));
        assert_eq!(t.expect_one().ack, f.peer_nxt);
        assert_eq!(drop(t, DropReason::TcpOverWindow), 1);
        let mut bare = f.pkt().data(b"x");
        bare.ack = None;
        t.inject(&bare);
        t.expect_none();
        assert_eq!(drop(t, DropReason::TcpFlags), 1);
        t.inject(&f.pkt().fin());
        f.peer_nxt = f.peer_nxt.wrapping_add(1);
        assert_eq!(t.expect_one().ack, f.peer_nxt, "the FIN is acknowledged");
        t.inject(&f.data(b"late"));
        assert_eq!(drop(t, DropReason::TcpOverWindow), 2, "nothing comes after a FIN");
        let mut b = [0u8; 16];
        assert_eq!(t.w.recvmsg(f.sock, &mut b).unwrap().len, 5);
        assert_eq!(&b[..5], b"hello", "only the first copy was taken");
        assert_eq!(t.stats().drops.total(), 4, "and nothing else was dropped");
    });
}

/// The right edge of the receive window is where our last ACK put it
/// (RFC 9293's RCV.WND shrinks as data arrives; Linux's
/// `tcp_receive_window`). Data that arrived after that ACK does not move
/// the edge: a segment beyond it is refused, not queued out of order.
#[test]
fn the_window_edge_stays_where_the_last_ack_put_it() {
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, mss_only, 1000);
        let seg = vec![3u8; 1000];
        let mut buf = vec![0u8; 65_536];
        // Past quick-ACK mode, reading as we go.
        let mut last = None;
        for _ in 0..16 {
            t.inject(&f.data(&seg));
            last = t.out().pop();
            while t.w.recvmsg(f.sock, &mut buf).is_ok_and(|m| m.len > 0) {}
        }
        let last = last.expect("quick ACKs");
        assert_eq!(last.ack, f.peer_nxt);
        let edge = last.ack.wrapping_add(u32::from(last.window));
        // One segment the delayed ACK holds: our next ACK has not gone out.
        t.inject(&f.data(&seg));
        t.expect_none();
        // Ten bytes starting exactly at the edge our last ACK announced.
        let before = t.stats().drops.get(DropReason::TcpOverWindow);
        t.inject(&Pkt::ack(40_000, 80, edge, f.our_nxt).data(&[9; 10]));
        let a = t.expect_one();
        assert_eq!(a.ack, f.peer_nxt, "answered at once, nothing past the gap taken");
        assert_eq!(t.stats().drops.get(DropReason::TcpOverWindow), before + 1, "beyond the window");
        // The queue holds the one segment, nothing from beyond the edge.
        assert_eq!(t.w.recvmsg(f.sock, &mut buf).unwrap().len, 1000);
        assert_eq!(t.w.recvmsg(f.sock, &mut buf), Err(Errno::WouldBlock));
    });
}

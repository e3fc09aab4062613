//! Round-trip time samples (RFC 6298, Linux's `tcp_ack_update_rtt`).

use std::time::Duration;

use skbnet::tcp::TcpOpt;
use skbnet_nic_sim::link::LinkConfig;
use skbnet_tests::net::{PairConfig, with_pair};
use skbnet_tests::trace::{Pkt, TraceConfig, with_trace};

/// Regression: with timestamps on, every RTT sample came from TSecr, whose
/// clock ticks once a millisecond, so a sub-millisecond handshake gave a
/// sample of zero (SRTT 1 us) or one tick (SRTT 1 ms), on both sides.
/// Linux takes the sample from when the acknowledged segment (or the
/// SYN-ACK) was sent, to the microsecond, and falls back to TSecr (at
/// least one tick) only when it was retransmitted (Karn's rule).
#[test]
fn the_handshake_rtt_is_measured_to_the_microsecond_with_timestamps_on() {
    let link = LinkConfig { delay: Duration::from_micros(250), ..LinkConfig::ethernet() };
    with_pair(PairConfig { link, ..PairConfig::default() }, |p| {
        let l = p.listener(5000, 2);
        // The first SYN waits for ARP (its sample counts that too, as in
        // Linux); the second finds the neighbour known.
        let (c1, s1) = p.connect_pair(l, 5000);
        let (c, s) = p.connect_pair(l, 5000);
        // SYN out and SYN-ACK back (or SYN-ACK out and ACK back): two
        // one-way delays of 250 us, and two small frames' time on the wire.
        let rtt = Duration::from_micros(500)..Duration::from_micros(600);
        for (who, id) in [("client", c), ("server", s)] {
            let info = p.w.tcp_info(id).unwrap();
            assert!(info.timestamps, "timestamps agreed");
            assert!(rtt.contains(&info.srtt), "{who}: srtt {:?}", info.srtt);
        }
        for id in [c1, s1, c, s, l] {
            p.w.close(id).unwrap();
        }
        p.advance(Duration::from_secs(1));
    });
}

/// Regression: the ACK that fills a hole also acknowledges what the peer
/// SACKed long before, and its send time made an RTT sample of the whole
/// recovery. On a lossy path against smoltcp the RTO grew to tens of
/// seconds and the transfer crawled. Linux takes no sample from a SACKed
/// segment, nor from an ACK that covers retransmitted data (Karn's rule
/// in `tcp_clean_rtx_queue`); without timestamps there is none here.
#[test]
fn an_ack_that_fills_a_hole_gives_no_rtt_sample() {
    const MSS: u32 = 1000;
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, |p: Pkt| p.mss(MSS as u16).sack_perm(), 1);
        t.w.set_tcp_option(f.sock, TcpOpt::NoDelay(true)).unwrap();
        t.w.sendmsg(f.sock, &[7u8; 6 * MSS as usize], None).unwrap();
        let segs = t.out();
        assert_eq!(segs.len(), 6);
        let (s, e) = (|i: usize| segs[i].seq, |i: usize| segs[i].seq.wrapping_add(MSS));
        // Segment 0 was lost; the peer SACKs 1 to 5 and we resend it.
        for last in 1..6 {
            f.our_nxt = s(0);
            t.inject(&f.pkt().sack(&[(s(1), e(last))]));
        }
        let resent = t.out();
        assert_eq!(resent.first().map(|o| o.seq), Some(s(0)), "{resent:?}");
        let srtt = t.w.tcp_info(f.sock).unwrap().srtt;
        // The retransmission's ACK comes 150 ms later (it waited in a
        // queue): it also covers 1 to 5, sent 150 ms before.
        t.advance(Duration::from_millis(150));
        f.our_nxt = e(5);
        t.inject(&f.pkt());
        let info = t.w.tcp_info(f.sock).unwrap();
        assert_eq!(info.in_flight, 0);
        assert_eq!(info.srtt, srtt, "no sample from SACKed segments or with retransmitted data");
    });
}

/// Regression (seeds 7193, 7517 and 7963 of `tcp_sim` with
/// `SKBNET_SIM_SEEDS=20000`): the peer held both segments but its ACK was
/// lost, so the timer resent the head; the peer answered that duplicate
/// echoing the TSval of the original flight (RFC 7323 §4.3 leaves
/// TS.Recent alone for it), and the echo made an RTT sample of the whole
/// timeout. At 13% loss the RTO sat at its 120 s ceiling and a transfer
/// outlived the simulation's hour. An echo older than the retransmission
/// gives no sample; one of the retransmission itself still does.
#[test]
fn an_echo_older_than_the_retransmission_gives_no_rtt_sample() {
    const MSS: u32 = 1000;
    with_trace(TraceConfig::default(), |t| {
        let mut f = t.passive_open(80, |p: Pkt| p.mss(MSS as u16).ts(1, 0), 1);
        t.w.set_tcp_option(f.sock, TcpOpt::NoDelay(true)).unwrap();
        // Timestamps take 12 bytes of each segment.
        let mss = u32::from(t.w.tcp_info(f.sock).unwrap().mss);
        t.w.sendmsg(f.sock, &vec![7u8; 2 * mss as usize], None).unwrap();
        let segs = t.out();
        assert_eq!(segs.len(), 2);
        let before = t.w.tcp_info(f.sock).unwrap();
        // The peer's ACK of both is lost; the timer resends the head.
        t.advance(before.rto + Duration::from_millis(1));
        let resent = t.out();
        assert_eq!(resent.iter().map(|o| o.seq).collect::<Vec<_>>(), [segs[0].seq], "{resent:?}");
        // Its answer echoes the original flight's TSval, 200 ms back.
        f.saw(&segs[1]);
        f.tick(200);
        f.our_nxt = segs[1].seq.wrapping_add(mss);
        t.advance(Duration::from_millis(5));
        t.inject(&f.pkt());
        let info = t.w.tcp_info(f.sock).unwrap();
        assert_eq!(info.in_flight, 0);
        assert_eq!(info.srtt, before.srtt, "no sample from an echo older than the retransmission");
        assert_eq!(info.rto, before.rto, "the backoff ends, the RTO stays");

        // Lost again, but this time the peer answers the retransmission
        // itself: its TSval comes back, a true 5 ms round trip.
        t.w.sendmsg(f.sock, &vec![8u8; mss as usize], None).unwrap();
        let seg = t.out();
        assert_eq!(seg.len(), 1);
        t.advance(info.rto + Duration::from_millis(1));
        let resent = t.out();
        assert_eq!(resent.len(), 1, "{resent:?}");
        t.advance(Duration::from_millis(5));
        f.saw(&resent[0]);
        f.tick(205);
        f.our_nxt = seg[0].seq.wrapping_add(mss);
        t.inject(&f.pkt());
        let after = t.w.tcp_info(f.sock).unwrap();
        assert_ne!(after.srtt, info.srtt, "the retransmission's own echo is a sample");
        assert!(after.srtt < Duration::from_millis(5), "{:?}", after.srtt);
    });
}

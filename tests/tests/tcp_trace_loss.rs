//! Loss and recovery, as packet traces: the retransmission timer
//! (RFC 6298) with Karn's rule and backoff, fast retransmit (RFC 5681),
//! NewReno partial ACKs (RFC 6582), SACK-based recovery (RFC 6675), and
//! a zero window meeting the timer.

use std::time::Duration;

use skbnet::tcp::{TcpOpt, TcpState};
use skbnet_tests::trace::{Flow, Out, PEER, PEER_MAC, Pkt, Trace, TraceConfig, US, US_MAC, with_trace};

const MSS: u32 = 1000;

fn reno_peer(p: Pkt) -> Pkt {
    p.mss(MSS as u16)
}

fn sack_peer(p: Pkt) -> Pkt {
    p.mss(MSS as u16).sack_perm()
}

/// Open a connection and send `n` full segments; returns them.
fn flight(t: &mut Trace<'_, '_>, opts: fn(Pkt) -> Pkt, n: usize) -> (Flow, Vec<Out>) {
    let f = t.passive_open(80, opts, 1);
    t.w.set_tcp_option(f.sock, TcpOpt::NoDelay(true)).unwrap();
    let mss = usize::from(t.w.tcp_info(f.sock).unwrap().mss);
    t.w.sendmsg(f.sock, &vec![7u8; n * mss], None).unwrap();
    let segs = t.out();
    assert_eq!(segs.len(), n.min(10));
    (f, segs)
}

/// The peer's ACK of everything before `seq`, with SACK blocks.
fn ack_to(f: &Flow, seq: u32, sack: &[(u32, u32)]) -> Pkt {
    let mut g = f.clone();
    g.our_nxt = seq;
    g.pkt().sack(sack)
}

#[test]
fn the_retransmission_timer_resends_the_head_and_backs_off() {
    with_trace(TraceConfig::default(), |t| {
        let (f, segs) = flight(t, reno_peer, 3);
        let rto = t.w.tcp_info(f.sock).unwrap().rto;
        let srtt = t.w.tcp_info(f.sock).unwrap().srtt;
        assert!(rto >= Duration::from_millis(200), "Linux's minimum RTO");
        let sent = segs[0].at;
        t.advance(rto * 7 + Duration::from_millis(1));
        let again = t.out();
        // RFC 6298 §5.4–5.6: the oldest segment, at RTO, 2 RTO, 4 RTO.
        assert_eq!(again.len(), 3, "{again:?}");
        assert!(again.iter().all(|s| s.seq == segs[0].seq && s.payload.len() == MSS as usize));
        for (s, k) in again.iter().zip([1, 3, 7]) {
            let late = (s.at - sent).abs_diff(rto * k);
            assert!(late < Duration::from_micros(20), "{s:?} expected {k} RTO after {sent:?}");
        }
        assert_eq!(t.stats().tcp_ext.TCPTimeouts, 3);
        assert_eq!(t.stats().tcp.RetransSegs, 3);
        // The ACK of a retransmitted segment gives no RTT sample (Karn),
        // and the window restarts from one segment: the next two go.
        t.inject(&ack_to(&f, segs[1].seq, &[]));
        let info = t.w.tcp_info(f.sock).unwrap();
        assert_eq!(info.srtt, srtt, "Karn's rule");
        assert_eq!(info.rto, rto, "backoff cleared by new data acknowledged");
        let rest = t.out();
        assert_eq!(rest.iter().map(|s| s.seq).collect::<Vec<_>>(), [segs[1].seq, segs[2].seq]);
        t.inject(&ack_to(&f, segs[2].seq.wrapping_add(MSS), &[]));
        t.expect_none();
        assert_eq!(t.w.poll_at(), None, "nothing in flight, no timer");
    });
}

#[test]
fn three_duplicate_acks_resend_the_lost_segment_at_once() {
    with_trace(TraceConfig::default(), |t| {
        let (f, segs) = flight(t, reno_peer, 6);
        // Segment 1 is lost; 2, 3 and 4 bring duplicate ACKs.
        let lost = segs[1].seq;
        t.inject(&ack_to(&f, lost, &[]));
        t.inject(&ack_to(&f, lost, &[]));
        t.inject(&ack_to(&f, lost, &[]));
        t.expect_none();
        t.inject(&ack_to(&f, lost, &[]));
        let r = t.out();
        assert!(!r.is_empty() && r[0].seq == lost, "{r:?}");
        assert!(
            r.iter().all(|s| s.seq == lost || s.seq.wrapping_sub(segs[5].seq) as i32 > 0),
            "nothing else resent: {r:?}"
        );
        let st = t.stats();
        assert_eq!((st.tcp_ext.TCPRenoRecovery, st.tcp_ext.TCPFastRetrans, st.tcp_ext.TCPTimeouts), (1, 1, 0));
        // The whole flight acknowledged: recovery over, at ssthresh.
        t.inject(&ack_to(&f, segs[5].seq.wrapping_add(MSS), &[]));
        let info = t.w.tcp_info(f.sock).unwrap();
        assert_eq!(info.cwnd, info.ssthresh);
        assert!(info.ssthresh < 10);
    });
}

#[test]
fn a_partial_ack_in_recovery_resends_the_next_hole() {
    with_trace(TraceConfig::default(), |t| {
        let (f, segs) = flight(t, reno_peer, 8);
        // Segments 1 and 4 are lost. Duplicate ACKs for 2, 3 start recovery.
        for _ in 0..4 {
            t.inject(&ack_to(&f, segs[1].seq, &[]));
        }
        let first = t.out();
        assert_eq!(first.first().map(|s| s.seq), Some(segs[1].seq), "{first:?}");
        // The retransmission fills hole 1: the ACK moves to hole 4, short
        // of the recovery point, a partial ACK (RFC 6582 §3.2 step 5):
        // the first unacknowledged segment goes at once.
        t.inject(&ack_to(&f, segs[4].seq, &[]));
        let second = t.out();
        assert_eq!(second.first().map(|s| s.seq), Some(segs[4].seq), "{second:?}");
        assert_eq!(t.stats().tcp_ext.TCPTimeouts, 0, "no timeout needed");
        assert_eq!(t.stats().tcp_ext.TCPRenoRecovery, 1, "one recovery for both holes");
        t.inject(&ack_to(&f, segs[7].seq.wrapping_add(MSS), &[]));
        let _ = t.out();
    });
}

#[test]
fn sack_blocks_showing_two_holes_resend_exactly_the_holes() {
    with_trace(TraceConfig::default(), |t| {
        let (f, segs) = flight(t, sack_peer, 10);
        let s = |i: usize| segs[i].seq;
        let e = |i: usize| segs[i].seq.wrapping_add(MSS);
        // Segments 2 and 5 are lost; the peer reports what it holds.
        t.inject(&ack_to(&f, s(2), &[]));
        t.inject(&ack_to(&f, s(2), &[(s(3), e(3))]));
        t.inject(&ack_to(&f, s(2), &[(s(3), e(4))]));
        t.inject(&ack_to(&f, s(2), &[(s(6), e(6)), (s(3), e(4))]));
        t.inject(&ack_to(&f, s(2), &[(s(6), e(7)), (s(3), e(4))]));
        t.inject(&ack_to(&f, s(2), &[(s(6), e(8)), (s(3), e(4))]));
        t.inject(&ack_to(&f, s(2), &[(s(6), e(9)), (s(3), e(4))]));
        let resent: Vec<u32> = t.out().iter().filter(|o| o.seq.wrapping_sub(s(9)) as i32 <= 0).map(|o| o.seq).collect();
        assert_eq!(resent, [s(2), s(5)], "exactly the holes (RFC 6675 §5)");
        let st = t.stats();
        assert_eq!((st.tcp_ext.TCPSACKRecovery, st.tcp_ext.TCPTimeouts), (1, 0));
        assert_eq!(st.tcp.RetransSegs, 2);
        t.inject(&ack_to(&f, e(9), &[]));
        let _ = t.out();
        assert_eq!(t.w.tcp_info(f.sock).unwrap().in_flight, 0);
    });
}

#[test]
fn the_timer_with_the_peer_window_at_zero_probes_and_never_gives_up() {
    with_trace(TraceConfig::default(), |t| {
        let (mut f, segs) = flight(t, reno_peer, 3);
        // The peer takes the first segment and closes its window: the
        // other two are beyond it, still unacknowledged.
        f.window = 0;
        t.inject(&ack_to(&f, segs[1].seq, &[]));
        // Long past tcp_retries2 timeouts, the peer keeps answering, with
        // its window still zero: the connection lives (Linux's rule:
        // only silence for RTO_MAX kills it).
        for _ in 0..20 {
            t.advance(Duration::from_secs(30));
            for o in t.out() {
                assert_eq!(o.seq, segs[1].seq, "the head is what goes: {o:?}");
                t.inject(&ack_to(&f, segs[1].seq, &[]));
                let _ = t.out();
            }
        }
        assert_eq!(t.w.tcp_info(f.sock).unwrap().state, TcpState::Established);
        // The window opens; from now on the peer takes what arrives in
        // order. The rest is delivered and acknowledged.
        f.window = 65_535;
        t.inject(&ack_to(&f, segs[1].seq, &[]));
        let mut nxt = segs[1].seq;
        for _ in 0..20 {
            t.advance(Duration::from_secs(10));
            for o in t.out() {
                if o.seq == nxt {
                    nxt = nxt.wrapping_add(o.payload.len() as u32);
                }
                t.inject(&ack_to(&f, nxt, &[]));
            }
        }
        assert_eq!(nxt, segs[2].seq.wrapping_add(MSS), "both segments resent");
        assert_eq!(t.w.tcp_info(f.sock).unwrap().in_flight, 0);
    });
}

#[test]
fn a_window_that_reopens_while_data_is_in_flight_resumes_sending() {
    with_trace(TraceConfig::default(), |t| {
        let (mut f, segs) = flight(t, reno_peer, 12);
        assert_eq!(segs.len(), 10);
        // The peer takes 4 and stops its window with 6 in flight.
        f.window = 0;
        t.inject(&ack_to(&f, segs[4].seq, &[]));
        t.expect_none();
        // A window update with the same ACK number: not a duplicate ACK
        // (RFC 5681 §2), no recovery; the queued two segments go.
        f.window = 20_000;
        t.inject(&ack_to(&f, segs[4].seq, &[]));
        let more = t.out();
        assert_eq!(more.len(), 2, "{more:?}");
        assert_eq!(more[0].seq, segs[9].seq.wrapping_add(MSS));
        let st = t.stats();
        assert_eq!((st.tcp.RetransSegs, st.tcp_ext.TCPRenoRecovery), (0, 0));
        t.inject(&ack_to(&f, more[1].seq.wrapping_add(MSS), &[]));
        let _ = t.out();
    });
}

#[test]
fn timestamps_measure_the_rtt_even_of_retransmitted_segments() {
    with_trace(TraceConfig::default(), |t| {
        let (mut f, segs) = flight(t, |p| p.mss(MSS as u16).ts(1, 0), 2);
        t.advance(Duration::from_millis(30));
        f.saw(&segs[1]);
        f.tick(30);
        // RFC 7323 §4: TSecr gives the RTT, 30 ms here; the handshake's
        // sample was about zero, so SRTT moves by an eighth (RFC 6298 §2.3).
        t.inject(&ack_to(&f, segs[1].seq.wrapping_add(segs[1].payload.len() as u32), &[]));
        let srtt = t.w.tcp_info(f.sock).unwrap().srtt;
        assert!(srtt >= Duration::from_micros(3700) && srtt <= Duration::from_micros(3800), "{srtt:?}");
    });
}

/// An ICMP error from a router about one of our segments (RFC 792): the
/// IPv4 header and first 8 bytes of the TCP header it quotes are ours.
fn icmp_about(o: &Out, ty: u8, code: u8, mtu: u16) -> Vec<u8> {
    use etherparse::{Icmpv4Header, Icmpv4Type, IpNumber, Ipv4Header};
    let mut quote_ip =
        Ipv4Header::new(20 + o.payload.len() as u16 + 12, 64, IpNumber::TCP, US.octets(), PEER.octets()).unwrap();
    quote_ip.dont_fragment = true;
    quote_ip.header_checksum = quote_ip.calc_header_checksum();
    let mut quote = Vec::new();
    quote_ip.write(&mut quote).unwrap();
    quote.extend_from_slice(&o.sport.to_be_bytes());
    quote.extend_from_slice(&o.dport.to_be_bytes());
    quote.extend_from_slice(&o.seq.to_be_bytes());
    let ty = match (ty, code) {
        (3, 4) => Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu: mtu,
        }),
        (3, 3) => Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::Port),
        _ => unreachable!(),
    };
    let icmp = Icmpv4Header::with_checksum(ty, &quote);
    let ip = Ipv4Header::new((icmp.header_len() + quote.len()) as u16, 64, IpNumber::ICMP, PEER.octets(), US.octets())
        .unwrap();
    let eth =
        etherparse::Ethernet2Header { source: PEER_MAC, destination: US_MAC, ether_type: etherparse::EtherType::IPV4 };
    let mut f = Vec::new();
    eth.write(&mut f).unwrap();
    ip.write(&mut f).unwrap();
    icmp.write(&mut f).unwrap();
    f.extend_from_slice(&quote);
    f
}

#[test]
fn fragmentation_needed_shrinks_the_segments_and_resends_at_once() {
    with_trace(TraceConfig::default(), |t| {
        let (f, segs) = flight(t, reno_peer, 2);
        // RFC 1191 §6.1 and RFC 5927 §4.1: an error quoting a segment in
        // flight lowers the MSS; the too-big segment goes again, smaller.
        t.inject_frame(&icmp_about(&segs[0], 3, 4, 900));
        assert_eq!(t.w.tcp_info(f.sock).unwrap().mss, 860);
        let again = t.out();
        assert_eq!(again.first().map(|s| (s.seq, s.payload.len())), Some((segs[0].seq, 860)), "{again:?}");
        // An error quoting a sequence number outside the flight is ignored.
        let mut stale = segs[0].clone();
        stale.seq = stale.seq.wrapping_sub(100_000);
        t.inject_frame(&icmp_about(&stale, 3, 4, 600));
        assert_eq!(t.w.tcp_info(f.sock).unwrap().mss, 860);
        t.inject(&ack_to(&f, segs[1].seq.wrapping_add(MSS), &[]));
        let _ = t.out();
    });
}

#[test]
fn port_unreachable_ends_a_connection_attempt() {
    with_trace(TraceConfig::default(), |t| {
        let (s, syn) = t.connect(9);
        t.inject_frame(&icmp_about(&syn, 3, 3, 0));
        let ev = t.w.events(s).unwrap();
        assert!(ev.error, "{ev:?}");
        assert_eq!(
            t.w.connect(s, std::net::SocketAddr::V4(std::net::SocketAddrV4::new(PEER, 9))),
            Err(skbnet::socket::Errno::ConnRefused)
        );
        assert_eq!(t.stats().tcp.AttemptFails, 1);
        t.w.close(s).unwrap();
    });
}

#[test]
fn tcp_maxseg_clamps_what_we_send_and_announce() {
    with_trace(TraceConfig::default(), |t| {
        let s = t.w.socket(t.ns, skbnet::socket::SockType::Tcp).unwrap();
        t.w.set_tcp_option(s, TcpOpt::MaxSeg(700)).unwrap();
        assert_eq!(t.w.set_tcp_option(s, TcpOpt::MaxSeg(10)), Err(skbnet::socket::Errno::InvalidArgument));
        t.w.connect(s, std::net::SocketAddr::V4(std::net::SocketAddrV4::new(PEER, 80))).unwrap_err();
        let syn = t.expect_one();
        assert_eq!(syn.mss, Some(700));
        let mut sa = Pkt::syn(80, syn.sport, 1).mss(1460);
        sa.ack = Some(syn.seq.wrapping_add(1));
        t.inject(&sa);
        t.expect_one();
        t.w.sendmsg(s, &[0u8; 2000], None).unwrap();
        let segs = t.out();
        assert_eq!(segs.iter().map(|o| o.payload.len()).collect::<Vec<_>>(), [700, 700, 600]);
    });
}

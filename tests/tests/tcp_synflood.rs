//! SYN flood (issue #6): while 10,000 SYNs from spoofed sources that never
//! answer arrive at a listener, 100 legitimate connections all complete —
//! handshake, data both ways, close — thanks to SYN cookies once the
//! request table is full. Nothing leaks: the request table drains, every
//! socket and TIME-WAIT entry goes, and the pool ends completely free.
//!
//! The listener is in namespace a (10.0.0.1); the legitimate clients are
//! in b (10.0.0.2); the spoofed SYNs are put on the link as if b's side
//! sent them, from addresses in 198.18.0.0/15 (RFC 2544's benchmarking
//! range). a reaches those through b, which does not forward: the SYN-ACKs
//! go nowhere, as they would to a spoofed host.

use std::net::Ipv4Addr;
use std::time::Duration;

use skbnet::netns::World;
use skbnet::socket::{Errno, SockId, SockType};
use skbnet::tcp::{Shutdown, TcpSockStat};
use skbnet_nic_sim::link::{LinkConfig, Side};
use skbnet_tests::net::{A_IP, B_IP, PairConfig, pattern, sa, with_pair};
use skbnet_tests::trace::Pkt;

const PORT: u16 = 80;
const SPOOFED: usize = 10_000;
const LEGIT: usize = 100;
/// Legitimate connections open at once (the world has 64 socket slots).
const CONCURRENT: usize = 10;
/// The flood lasts this long: SPOOFED / FLOOD_MS SYNs every millisecond.
const FLOOD_MS: u64 = 2_000;
const BACKLOG: u16 = 32;

/// xorshift64*: the spoofed sources, ports and sequence numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A SYN from a random host of 198.18.0.0/15 that will never answer.
fn spoofed_syn(r: &mut Rng) -> Vec<u8> {
    let x = r.next();
    let src = Ipv4Addr::new(198, 18 + (x & 1) as u8, (x >> 8) as u8, (x >> 16) as u8 | 1);
    let sport = 1024 + (x >> 24) as u16 % 60_000;
    let syn = Pkt::syn(sport, PORT, (x >> 32) as u32).mss(1460).sack_perm().ts((x >> 40) as u32, 0).wscale(7);
    Pkt { src: Some(src), dst: Some(A_IP), ..syn }.frame()
}

/// One legitimate connection: the client (in b) sends a request and shuts
/// its side; the server (in a) reads it all, answers, and closes; the
/// client reads the answer to its end and closes.
struct Legit {
    client: SockId,
    server: Option<SockId>,
    request: Vec<u8>,
    response: Vec<u8>,
    sent: usize,
    shut: bool,
    got_request: Vec<u8>,
    request_eof: bool,
    answered: usize,
    server_closed: bool,
    got_response: Vec<u8>,
    client_closed: bool,
}

impl Legit {
    fn done(&self) -> bool {
        self.server_closed && self.client_closed
    }

    /// Advance the client side.
    fn client_step(&mut self, w: &mut World<'_>, buf: &mut [u8], i: usize) {
        if self.client_closed {
            return;
        }
        let ev = w.events(self.client).expect("events");
        assert!(!ev.error, "conn {i}: client error {ev:?}");
        if !ev.writable && self.sent == 0 && !self.shut {
            return;
        }
        while self.sent < self.request.len() {
            match w.sendmsg(self.client, &self.request[self.sent..], None) {
                Ok(n) => self.sent += n,
                Err(Errno::WouldBlock) => break,
                Err(e) => panic!("conn {i}: client send: {e:?}"),
            }
        }
        if self.sent == self.request.len() && !self.shut {
            w.shutdown_socket(self.client, Shutdown::Write).expect("shutdown");
            self.shut = true;
        }
        loop {
            match w.recvmsg(self.client, buf) {
                Ok(m) if m.len == 0 => {
                    assert!(self.got_response == self.response, "conn {i}: the response differs");
                    w.close(self.client).expect("close");
                    self.client_closed = true;
                    return;
                }
                Ok(m) => self.got_response.extend_from_slice(&buf[..m.len]),
                Err(Errno::WouldBlock) => return,
                Err(e) => panic!("conn {i}: client recv: {e:?}"),
            }
        }
    }

    /// Advance the server side, once accepted.
    fn server_step(&mut self, w: &mut World<'_>, buf: &mut [u8], i: usize) {
        let Some(s) = self.server.filter(|_| !self.server_closed) else { return };
        while !self.request_eof {
            match w.recvmsg(s, buf) {
                Ok(m) if m.len == 0 => self.request_eof = true,
                Ok(m) => self.got_request.extend_from_slice(&buf[..m.len]),
                Err(Errno::WouldBlock) => return,
                Err(e) => panic!("conn {i}: server recv: {e:?}"),
            }
        }
        assert!(self.got_request == self.request, "conn {i}: the request differs");
        while self.answered < self.response.len() {
            match w.sendmsg(s, &self.response[self.answered..], None) {
                Ok(n) => self.answered += n,
                Err(Errno::WouldBlock) => return,
                Err(e) => panic!("conn {i}: server send: {e:?}"),
            }
        }
        // The close sends the FIN after the response; the connection
        // finishes in the background.
        w.close(s).expect("close");
        self.server_closed = true;
    }
}

fn zero(st: TcpSockStat) -> bool {
    st == TcpSockStat::default()
}

#[test]
fn legitimate_connections_complete_during_a_syn_flood() {
    let link = LinkConfig { delay: Duration::from_micros(500), rate_bps: 1_000_000_000, ..LinkConfig::ethernet() };
    with_pair(PairConfig { link, ..PairConfig::default() }, |p| {
        let (a, b) = (p.a, p.b);
        // The spoofed hosts are reached through b, which does not forward.
        p.w.add_route_via(a, Ipv4Addr::UNSPECIFIED, 0, B_IP).expect("default route");
        let l = p.w.socket(a, SockType::Tcp).expect("socket");
        p.w.bind(l, sa(Ipv4Addr::UNSPECIFIED, PORT)).expect("bind");
        p.w.listen(l, BACKLOG).expect("listen");
        let link = p.link;
        let mut rng = Rng(0x5eed_f10d);
        let mut conns: Vec<Legit> = Vec::new();
        let mut flooded = 0;
        let mut most_requests = 0;
        let mut buf = vec![0u8; 65_536];
        // Bounded: one millisecond a pass, for at most a minute.
        for ms in 0..60_000u64 {
            let now = p.now;
            let due = ((ms + 1) * SPOOFED as u64 / FLOOD_MS).min(SPOOFED as u64) as usize;
            while flooded < due {
                link.borrow_mut().send(now, Side::B, &spoofed_syn(&mut rng));
                flooded += 1;
            }
            // A new client every 20 ms, at most CONCURRENT at once.
            let open = conns.iter().filter(|c| !c.done()).count();
            if conns.len() < LEGIT && ms % 20 == 0 && open < CONCURRENT {
                let i = conns.len();
                let c = p.w.socket(b, SockType::Tcp).expect("client socket");
                assert_eq!(p.w.connect(c, sa(A_IP, PORT)), Err(Errno::InProgress));
                conns.push(Legit {
                    client: c,
                    server: None,
                    request: pattern(1 + i * 211 % 20_000, i as u64 * 2 + 1),
                    response: pattern(1 + i * 397 % 40_000, i as u64 * 2 + 2),
                    sent: 0,
                    shut: false,
                    got_request: Vec::new(),
                    request_eof: false,
                    answered: 0,
                    server_closed: false,
                    got_response: Vec::new(),
                    client_closed: false,
                });
            }
            p.run(Duration::from_millis(1), |w, _| {
                while let Ok((s, peer)) = w.accept(l) {
                    let c = conns
                        .iter_mut()
                        .find(|c| c.server.is_none() && w.local_addr(c.client).is_ok_and(|la| la == peer))
                        .expect("an accepted connection is one of ours");
                    c.server = Some(s);
                }
                for (i, c) in conns.iter_mut().enumerate() {
                    c.client_step(w, &mut buf, i);
                    c.server_step(w, &mut buf, i);
                }
                false
            });
            most_requests = most_requests.max(p.w.tcp_sockstat(a).syn_recv);
            if flooded == SPOOFED && conns.len() == LEGIT && conns.iter().all(Legit::done) {
                break;
            }
        }
        assert_eq!(flooded, SPOOFED);
        let finished = conns.iter().filter(|c| c.done()).count();
        assert_eq!((conns.len(), finished), (LEGIT, LEGIT), "legitimate connections did not all complete");
        let (sa_, sb_) = (*p.w.stats(a).expect("stats a"), *p.w.stats(b).expect("stats b"));
        let ctx = format!("a tcp {:?}\na ext {:?}\nb tcp {:?}\nb ext {:?}", sa_.tcp, sa_.tcp_ext, sb_.tcp, sb_.tcp_ext);
        assert!(sa_.tcp_ext.SyncookiesSent > 0, "the flood never filled the request table\n{ctx}");
        assert!(sa_.tcp_ext.SyncookiesRecv > 0, "no legitimate connection needed its cookie\n{ctx}");
        assert!(most_requests <= u32::from(BACKLOG), "the request table grew past the backlog: {most_requests}");
        assert_eq!((sa_.tcp.PassiveOpens, sb_.tcp.ActiveOpens), (LEGIT as u64, LEGIT as u64), "{ctx}");
        assert_eq!(sb_.tcp.AttemptFails, 0, "{ctx}");
        // The link is perfect: nothing is lost, so nothing may be resent.
        // A connection born of a cookie must not send TSvals older than its
        // SYN-ACK's, or the peer's PAWS drops them (this caught that bug).
        assert_eq!(sb_.tcp_ext.PAWSEstab, 0, "{ctx}");
        assert_eq!((sa_.tcp.RetransSegs, sb_.tcp.RetransSegs), (0, 0), "{ctx}");
        assert_eq!((sa_.tcp.OutRsts, sb_.tcp.OutRsts), (0, 0), "{ctx}");
        // Requests retransmit their SYN-ACK five times (63 s), TIME-WAIT
        // lasts 60 s: afterwards only the listener is left, then nothing.
        p.w.close(l).expect("close listener");
        let gone = p.run(Duration::from_secs(300), |w, _| zero(w.tcp_sockstat(a)) && zero(w.tcp_sockstat(b)));
        assert!(gone, "left behind: a {:?}, b {:?}", p.w.tcp_sockstat(a), p.w.tcp_sockstat(b));
        let quiet = p.run(Duration::from_secs(600), |w, _| w.poll_at().is_none());
        assert!(quiet, "a timer is still armed at {:?}", p.w.poll_at());
    });
}

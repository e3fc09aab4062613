//! Seeded simulation of TCP (issue #6): for each seed, two namespaces on a
//! link with seed-chosen loss (up to 20%), duplication, reordering,
//! corruption, delay, rate and queue limit run one to three connections with
//! seed-chosen sizes, directions, half-closes and socket options. Per seed
//! it checks that every byte arrives intact and in order, that every
//! connection closes on both sides, that no socket, TIME-WAIT entry,
//! handshake or timer outlives them, that the counters agree with what the
//! link did, and (in the harness) that the pool ends completely free.
//!
//! `SKBNET_SIM_SEEDS=N` runs seeds `0..N` (default 1000), or `F..F+N` with
//! `SKBNET_SIM_FIRST=F` (to sweep seeds no earlier run covered);
//! `SKBNET_SIM_SEED=S` runs seed `S` alone and prints its scenario and
//! counters. A failure prints its seed and scenario.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use skbnet::dev::Features;
use skbnet::netns::{NsId, World};
use skbnet::socket::{Errno, SockId, SockOpt, SockType};
use skbnet::tcp::cong::CongAlgo;
use skbnet::tcp::{Shutdown, TcpOpt, TcpSockStat};
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet_nic_sim::link::{LinkConfig, Side};
use skbnet_tests::net::{A_IP, A_MAC, B_IP, B_MAC, Pair, PairConfig, pattern, sa, with_pair};

/// SplitMix64: the scenario's choices, all drawn from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }

    fn unit(&mut self, max: f64) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * max
    }
}

/// How one end finishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Finish {
    /// `shutdown(SHUT_WR)` once everything is sent; `close` after EOF.
    ShutThenClose,
    /// `close` once everything is sent and EOF was read (the FIN goes with
    /// the close, and the connection may finish as an orphan).
    CloseAtEnd,
}

/// One end's plan.
#[derive(Clone, Debug)]
struct EndPlan {
    bytes: usize,
    finish: Finish,
    /// Send only after the peer's EOF (request, then response).
    send_after_eof: bool,
    nodelay: bool,
    sndbuf: Option<u32>,
    rcvbuf: Option<u32>,
    algo: CongAlgo,
    max_seg: u16,
    write_chunk: usize,
    read_chunk: usize,
    /// A slow reader: reads at most once per this many milliseconds (the
    /// harness steps at least once a second, so it does read).
    read_every_ms: Option<u64>,
}

#[derive(Clone, Debug)]
struct ConnPlan {
    start_ms: u64,
    /// Options on the listener (inherited) rather than on the accepted socket.
    server_opts_on_listener: bool,
    client: EndPlan,
    server: EndPlan,
}

#[derive(Clone, Debug)]
struct Scenario {
    seed: u64,
    link: LinkConfig,
    static_arp: bool,
    a_offloads: Features,
    b_offloads: Features,
    bufs: usize,
    conns: Vec<ConnPlan>,
}

fn end_plan(r: &mut Rng) -> EndPlan {
    let bytes = match r.range(0, 3) {
        0 => 0,
        1 | 2 => r.range(1, 64 << 10) as usize,
        _ => r.range(64 << 10, 256 << 10) as usize,
    };
    let buf = |r: &mut Rng| r.chance(0.4).then(|| r.range(4 << 10, 256 << 10) as u32);
    EndPlan {
        bytes,
        finish: if r.chance(0.5) { Finish::ShutThenClose } else { Finish::CloseAtEnd },
        send_after_eof: false,
        nodelay: r.chance(0.5),
        sndbuf: buf(r),
        rcvbuf: buf(r),
        algo: if r.chance(0.5) { CongAlgo::NewReno } else { CongAlgo::Cubic },
        max_seg: match r.range(0, 9) {
            0..=5 => 0,
            6 => r.range(88, 535) as u16,
            _ => r.range(536, 1460) as u16,
        },
        write_chunk: if r.chance(0.5) { 1 << 20 } else { r.range(1, 64 << 10) as usize },
        read_chunk: if r.chance(0.5) { 64 << 10 } else { r.range(1, 64 << 10) as usize },
        read_every_ms: r.chance(0.15).then(|| r.range(10, 2000)),
    }
}

fn link_config(r: &mut Rng) -> LinkConfig {
    if r.chance(0.1) {
        return LinkConfig::ethernet();
    }
    let loss = match r.range(0, 4) {
        0 => 0.0,
        1 | 2 => r.unit(0.05),
        _ => 0.05 + r.unit(0.15),
    };
    LinkConfig {
        rate_bps: if r.chance(0.4) { 0 } else { [2, 10, 100, 1000][r.range(0, 3) as usize] * 1_000_000 },
        delay: Duration::from_micros(r.range(0, 20_000)),
        loss,
        duplicate: if r.chance(0.5) { 0.0 } else { r.unit(0.05) },
        reorder: if r.chance(0.5) { 0.0 } else { r.unit(0.2) },
        reorder_delay: Duration::from_micros(r.range(100, 20_000)),
        corrupt: if r.chance(0.5) { 0.0 } else { r.unit(0.05) },
        queue_frames: if r.chance(0.5) { usize::MAX } else { r.range(8, 256) as usize },
        ..LinkConfig::ethernet()
    }
}

/// The scenario of `seed`. Unless `extreme`, one corner of the space is
/// trimmed after drawing (so a seed names the same scenario either way),
/// because TCP itself cannot promise to finish in it, Linux no more than
/// skbnet: above 5% loss, a client that waits for the server to speak
/// first. The handshake's last ACK and the five SYN-ACK retransmissions
/// that would bring another can all be lost, and the server then forgets
/// the request while the client waits, established, forever (a half-open
/// connection; seeds 2686 and 3781 with `SKBNET_SIM_EXTREME=1`, and 34265,
/// 54455 and 77384, whose clients had nothing to send). Above 15%
/// loss each direction carries at most 64 KiB, to keep the run short.
///
/// Segments under 536 bytes above 10% loss were trimmed too, until an RTT
/// sample from a stale timestamp echo stopped pushing the RTO to its
/// ceiling (`tcp_rtt.rs`); seeds 255 and 616 were the examples.
fn scenario(seed: u64, extreme: bool) -> Scenario {
    let mut sc = draw_scenario(seed);
    if !extreme {
        for c in &mut sc.conns {
            if sc.link.loss > 0.05 {
                c.client.send_after_eof = false;
                // A client with nothing to send waits for the server too.
                c.client.bytes = c.client.bytes.max(1);
            }
            for e in [&mut c.client, &mut c.server] {
                if sc.link.loss > 0.15 {
                    e.bytes = e.bytes.min(64 << 10);
                }
            }
        }
    }
    sc
}

fn draw_scenario(seed: u64) -> Scenario {
    let mut r = Rng(seed ^ 0x5eed_5eed_0000_0000);
    let link = link_config(&mut r);
    let offloads = |r: &mut Rng| if r.chance(0.5) { Features::ALL } else { Features::NONE };
    let (a_offloads, b_offloads) = (offloads(&mut r), offloads(&mut r));
    let n = match r.range(0, 9) {
        0..=4 => 1,
        5..=7 => 2,
        _ => 3,
    };
    let conns = (0..n)
        .map(|_| {
            let mut client = end_plan(&mut r);
            let mut server = end_plan(&mut r);
            // One end at least must end its stream without waiting for the
            // other's, or both would wait for an EOF forever.
            if client.finish == Finish::CloseAtEnd && server.finish == Finish::CloseAtEnd {
                server.finish = Finish::ShutThenClose;
            }
            // Request-response: the responder waits for the request's EOF,
            // so the requester must not wait for the response's.
            match r.range(0, 3) {
                0 => {
                    server.send_after_eof = true;
                    client.finish = Finish::ShutThenClose;
                }
                1 => {
                    client.send_after_eof = true;
                    server.finish = Finish::ShutThenClose;
                }
                _ => {}
            }
            ConnPlan { start_ms: r.range(0, 500), server_opts_on_listener: r.chance(0.5), client, server }
        })
        .collect();
    // ARP over a link that loses frames can fail three times in a row, and
    // then a connect fails with EHOSTUNREACH, as Linux's does; on such links
    // the neighbours are static so that every connection must complete.
    let static_arp = link.loss > 0.0 || link.corrupt > 0.0 || link.queue_frames != usize::MAX;
    Scenario { seed, link, static_arp, a_offloads, b_offloads, bufs: 2048, conns }
}

/// One end while it runs.
struct End {
    plan: EndPlan,
    id: Option<SockId>,
    out: Vec<u8>,
    sent: usize,
    shut: bool,
    expect: Vec<u8>,
    got: usize,
    eof: bool,
    closed: bool,
    connected: bool,
    next_read: Instant,
}

impl End {
    fn new(plan: EndPlan, out: Vec<u8>, expect: Vec<u8>) -> End {
        End {
            plan,
            id: None,
            out,
            sent: 0,
            shut: false,
            expect,
            got: 0,
            eof: false,
            closed: false,
            connected: false,
            next_read: Instant::ZERO,
        }
    }

    /// Send, read, shut down and close as far as the plan allows now.
    fn step(&mut self, w: &mut World<'_>, now: Instant, buf: &mut [u8], who: &str) {
        let Some(id) = self.id.filter(|_| !self.closed) else { return };
        if !self.connected {
            // As an application does with a non-blocking connect: wait until
            // poll says writable (or reports the failure) before anything else.
            let ev = w.events(id).unwrap_or_else(|e| panic!("{who}: events: {e:?}"));
            if !(ev.writable || ev.error || ev.hangup) {
                return;
            }
            self.connected = true;
        }
        if !self.plan.send_after_eof || self.eof {
            // Bounded: each pass takes bytes or stops.
            while self.sent < self.out.len() {
                let end = self.out.len().min(self.sent + self.plan.write_chunk);
                match w.sendmsg(id, &self.out[self.sent..end], None) {
                    Ok(n) => {
                        assert!(n > 0 && n <= end - self.sent, "{who}: sendmsg took {n}");
                        self.sent += n;
                    }
                    Err(Errno::WouldBlock) => break,
                    Err(e) => panic!("{who}: sendmsg: {e:?} after {} of {} bytes", self.sent, self.out.len()),
                }
            }
        }
        let all_sent = self.sent == self.out.len();
        if all_sent && !self.shut && self.plan.finish == Finish::ShutThenClose {
            w.shutdown_socket(id, Shutdown::Write).unwrap_or_else(|e| panic!("{who}: shutdown: {e:?}"));
            self.shut = true;
        }
        let gate_open = self.plan.read_every_ms.is_none_or(|_| now >= self.next_read);
        if let Some(ms) = self.plan.read_every_ms.filter(|_| gate_open) {
            self.next_read = now + Duration::from_millis(ms);
        }
        while gate_open && !self.eof {
            let n = self.plan.read_chunk.min(buf.len());
            match w.recvmsg(id, &mut buf[..n]) {
                Ok(m) if m.len == 0 => self.eof = true,
                Ok(m) => {
                    let want = self.expect.get(self.got..self.got + m.len);
                    assert!(
                        want == Some(&buf[..m.len]),
                        "{who}: {} bytes at offset {} differ from what was sent ({} expected in all)",
                        m.len,
                        self.got,
                        self.expect.len()
                    );
                    self.got += m.len;
                }
                Err(Errno::WouldBlock) => break,
                Err(e) => panic!("{who}: recvmsg: {e:?} after {} of {} bytes", self.got, self.expect.len()),
            }
        }
        if self.eof && all_sent && (self.shut || self.plan.finish == Finish::CloseAtEnd) {
            assert_eq!(self.got, self.expect.len(), "{who}: EOF before every byte arrived");
            w.close(id).unwrap_or_else(|e| panic!("{who}: close: {e:?}"));
            self.closed = true;
        }
    }
}

struct Live {
    plan: ConnPlan,
    port: u16,
    listener: Option<SockId>,
    started: bool,
    client: End,
    server: End,
}

/// The TCP options of a plan (they may change on a connected socket).
fn apply_tcp_opts(w: &mut World<'_>, id: SockId, p: &EndPlan) {
    w.set_tcp_option(id, TcpOpt::NoDelay(p.nodelay)).expect("nodelay");
    w.set_tcp_option(id, TcpOpt::Congestion(p.algo)).expect("congestion");
    if p.max_seg != 0 {
        w.set_tcp_option(id, TcpOpt::MaxSeg(p.max_seg)).expect("maxseg");
    }
}

/// The buffer sizes of a plan: set before `listen` or `connect`, as
/// tcp(7) asks, since a window already offered cannot be taken back.
fn apply_buf_opts(w: &mut World<'_>, id: SockId, p: &EndPlan) {
    if let Some(b) = p.sndbuf {
        w.setsockopt(id, SockOpt::SndBuf(b)).expect("sndbuf");
    }
    if let Some(b) = p.rcvbuf {
        w.setsockopt(id, SockOpt::RcvBuf(b)).expect("rcvbuf");
    }
}

impl Live {
    fn new(i: usize, plan: ConnPlan, seed: u64) -> Live {
        let c2s = pattern(plan.client.bytes, seed * 8 + i as u64 * 2 + 1);
        let s2c = pattern(plan.server.bytes, seed * 8 + i as u64 * 2 + 2);
        Live {
            port: 5000 + i as u16,
            listener: None,
            started: false,
            client: End::new(plan.client.clone(), c2s.clone(), s2c.clone()),
            server: End::new(plan.server.clone(), s2c, c2s),
            plan,
        }
    }

    fn done(&self) -> bool {
        self.client.closed && self.server.closed
    }

    fn step(&mut self, w: &mut World<'_>, ns: (NsId, NsId), now: Instant, buf: &mut [u8], i: usize) {
        if !self.started {
            if now < Instant::from_millis(self.plan.start_ms) {
                return;
            }
            self.started = true;
            let l = w.socket(ns.1, SockType::Tcp).expect("socket");
            apply_buf_opts(w, l, &self.plan.server);
            if self.plan.server_opts_on_listener {
                apply_tcp_opts(w, l, &self.plan.server);
            }
            w.bind(l, sa(std::net::Ipv4Addr::UNSPECIFIED, self.port)).expect("bind");
            w.listen(l, 4).expect("listen");
            self.listener = Some(l);
            let c = w.socket(ns.0, SockType::Tcp).expect("socket");
            apply_buf_opts(w, c, &self.plan.client);
            apply_tcp_opts(w, c, &self.plan.client);
            assert_eq!(w.connect(c, sa(B_IP, self.port)), Err(Errno::InProgress));
            self.client.id = Some(c);
        }
        if let Some(l) = self.listener
            && self.server.id.is_none()
            && let Ok((s, peer)) = w.accept(l)
        {
            let local = w.local_addr(self.client.id.expect("client")).expect("client address");
            assert_eq!(peer, local, "conn {i}: accepted the wrong peer");
            if !self.plan.server_opts_on_listener {
                apply_tcp_opts(w, s, &self.plan.server);
            }
            w.close(l).expect("close listener");
            self.listener = None;
            self.server.id = Some(s);
        }
        self.client.step(w, now, buf, &format!("conn {i} client"));
        self.server.step(w, now, buf, &format!("conn {i} server"));
    }
}

fn zero_sockstat(w: &World<'_>, ns: NsId) -> bool {
    w.tcp_sockstat(ns) == TcpSockStat::default()
}

/// Everything that must hold after the connections closed.
fn check_end(p: &mut Pair<'_, '_>, sc: &Scenario, verbose: bool) {
    let (a, b) = (p.a, p.b);
    // TIME-WAIT lasts 60 s; an orphan in LAST-ACK may retransmit its FIN
    // for longer at 20% loss.
    let gone = p.run(Duration::from_secs(1800), |w, _| zero_sockstat(w, a) && zero_sockstat(w, b));
    assert!(gone, "sockets left: a {:?}, b {:?}", p.w.tcp_sockstat(a), p.w.tcp_sockstat(b));
    // No TCP timer can be armed now; the neighbour entries go stale and are
    // collected within a few minutes, and then nothing is left to do.
    let quiet = p.run(Duration::from_secs(600), |w, _| w.poll_at().is_none());
    assert!(quiet, "a timer is still armed at {:?} (now {:?})", p.w.poll_at(), p.now);
    let link = p.link.borrow();
    let (la, lb) = (link.stats(Side::A), link.stats(Side::B));
    assert_eq!(link.in_flight(Side::A) + link.in_flight(Side::B), 0, "frames still on the link");
    drop(link);
    let sa = *p.w.stats(a).expect("stats a");
    let sb = *p.w.stats(b).expect("stats b");
    // Frames a NIC had no posted buffer for: a burst of small segments
    // longer than the receive ring is lost there, as on real hardware.
    let missed = |ns| p.w.ifaces(ns).filter_map(|i| p.w.device_stats(i)).map(|d| d.rx_missed).sum::<u64>();
    let (missed_a, missed_b) = (missed(a), missed(b));
    if verbose {
        print_stats(p);
    }
    let n = sc.conns.len() as u64;
    assert_eq!(sa.tcp.ActiveOpens, n, "ActiveOpens");
    assert_eq!(sb.tcp.PassiveOpens, n, "PassiveOpens");
    assert_eq!((sa.tcp.CurrEstab, sb.tcp.CurrEstab), (0, 0), "CurrEstab after every close");
    assert_eq!((sa.tcp.AttemptFails, sb.tcp.AttemptFails), (0, 0), "AttemptFails");
    assert_eq!((sa.tcp.EstabResets, sb.tcp.EstabResets), (0, 0), "EstabResets");
    assert_eq!(sb.tcp_ext.SyncookiesSent, 0, "no listener was ever full");
    for (name, s) in [("a", &sa), ("b", &sb)] {
        let x = &s.tcp_ext;
        let aborts = [x.TCPAbortOnData, x.TCPAbortOnClose, x.TCPAbortOnTimeout, x.TCPAbortOnLinger];
        assert_eq!(aborts, [0; 4], "{name}: an orderly run aborted a connection");
    }
    // Every checksum error was made by the link.
    if la.corrupted == 0 {
        assert_eq!(sb.tcp.InCsumErrors, 0, "b saw checksum errors the link did not make");
    }
    if lb.corrupted == 0 {
        assert_eq!(sa.tcp.InCsumErrors, 0, "a saw checksum errors the link did not make");
    }
    // On a perfect link nothing is reset, and nothing is resent unless the
    // receiver had to drop what it had no memory for (a window counts
    // bytes, memory is whole buffers: a peer sending segments smaller than
    // it was promised can fill the memory before the window), or a NIC
    // missed frames for want of posted buffers (seeds 33765 and 71229: a
    // window of 129-byte segments is a burst of 500 frames, twice the
    // receive ring, and the ACKs in it are lost too).
    let perfect = |l: &skbnet_nic_sim::link::LinkStats| {
        l.lost + l.queue_drops + l.duplicated + l.reordered + l.corrupted + l.giants == 0
    };
    if sc.link.rate_bps == 0 && perfect(&la) && perfect(&lb) {
        for (name, s, peer) in [("a", &sa, &sb), ("b", &sb, &sa)] {
            let x = &peer.tcp_ext;
            // A peer that dropped data for memory makes us retransmit; a
            // retransmitted FIN that crosses the peer's last ACK reaches
            // it in TIME-WAIT, which ACKs again, and that ACK finds us
            // closed and is answered with a reset (as between two Linux
            // hosts).
            if x.TCPRcvQDrop + x.TCPOFODrop + x.OfoPruned + missed_a + missed_b == 0 {
                assert_eq!(s.tcp.RetransSegs, 0, "{name}: retransmitted on a perfect link");
                assert_eq!(s.tcp_ext.TCPTimeouts, 0, "{name}: timeouts on a perfect link");
                assert_eq!(s.tcp.OutRsts, 0, "{name}: reset on a perfect link");
            }
            assert_eq!(s.tcp.InErrs, 0, "{name}: errors on a perfect link");
        }
    }
}

fn run_scenario(sc: &Scenario, verbose: bool) {
    let cfg = PairConfig {
        link: sc.link,
        seed: sc.seed,
        a_offloads: sc.a_offloads,
        b_offloads: sc.b_offloads,
        bufs: sc.bufs,
    };
    with_pair(cfg, |p| {
        let trace = std::env::var("SKBNET_SIM_TRACE").ok().filter(|_| verbose);
        p.link.borrow_mut().tap_mut().on = trace.is_some();
        let r = catch_unwind(AssertUnwindSafe(|| drive(p, sc, verbose)));
        if let Some(path) = trace {
            write_trace(p, &path);
        }
        if r.is_err() && verbose {
            print_stats(p);
        }
        if let Err(e) = r {
            std::panic::resume_unwind(e);
        }
    });
}

/// The link's and both namespaces' counters, for a seed run alone.
fn print_stats(p: &Pair<'_, '_>) {
    let link = p.link.borrow();
    eprintln!("link a->b {:?}\nlink b->a {:?}", link.stats(Side::A), link.stats(Side::B));
    for (name, ns) in [("a", p.a), ("b", p.b)] {
        let s = p.w.stats(ns).expect("stats");
        let drops: Vec<_> = s.drops.iter().collect();
        eprintln!("{name} tcp {:?}\n{name} ext {:?}\n{name} drops {drops:?}", s.tcp, s.tcp_ext);
        for i in p.w.ifaces(ns) {
            eprintln!("{name} dev {i} {:?}", p.w.device_stats(i));
        }
    }
    eprintln!("pool {:?}", p.w.pool_ref().stats());
}

/// Write what crossed the link, one line per frame, tcpdump style.
fn write_trace(p: &Pair<'_, '_>, path: &str) {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (t, from, f) in &p.link.borrow().tap().frames {
        let _ = writeln!(out, "{:>12} {from:?} {}", t.micros(), skbnet::wire::pretty::Frame(f));
    }
    std::fs::write(path, out).expect("write trace");
    eprintln!("trace of {} frames written to {path}", p.link.borrow().tap().frames.len());
}

fn drive(p: &mut Pair<'_, '_>, sc: &Scenario, verbose: bool) {
    if sc.static_arp {
        for (ns, ip, mac) in [(p.a, B_IP, B_MAC), (p.b, A_IP, A_MAC)] {
            let eth0 = p.w.iface_by_name(ns, "eth0").expect("eth0");
            p.w.add_neigh(eth0, ip, MacAddr(mac)).expect("static neighbour");
        }
    }
    {
        let mut conns: Vec<Live> =
            sc.conns.iter().cloned().enumerate().map(|(i, c)| Live::new(i, c, sc.seed)).collect();
        let ns = (p.a, p.b);
        let mut buf = vec![0u8; 64 << 10];
        let done = p.run(Duration::from_secs(3600), |w, now| {
            for (i, c) in conns.iter_mut().enumerate() {
                c.step(w, ns, now, &mut buf, i);
            }
            conns.iter().all(Live::done)
        });
        if !done {
            for (i, c) in conns.iter().enumerate() {
                for (who, e) in [("client", &c.client), ("server", &c.server)] {
                    let info = e.id.filter(|_| !e.closed).map(|id| p.w.tcp_info(id));
                    eprintln!(
                        "conn {i} {who}: sent {}/{} got {}/{} eof {} shut {} closed {} info {info:?}",
                        e.sent,
                        e.out.len(),
                        e.got,
                        e.expect.len(),
                        e.eof,
                        e.shut,
                        e.closed
                    );
                }
            }
            panic!("connections did not finish within an hour of virtual time (now {:?})", p.now);
        }
        check_end(p, sc, verbose);
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

/// Run one seed; on failure, say which and how to replay it.
fn run_seed(seed: u64, verbose: bool) -> Result<(), String> {
    let sc = scenario(seed, std::env::var_os("SKBNET_SIM_EXTREME").is_some());
    if verbose {
        eprintln!("{sc:#?}");
    }
    catch_unwind(AssertUnwindSafe(|| run_scenario(&sc, verbose))).map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("seed {seed} failed (replay: SKBNET_SIM_SEED={seed}): {msg}\n  scenario: {sc:?}")
    })
}

#[test]
fn seeded_simulation() {
    if let Some(seed) = env_u64("SKBNET_SIM_SEED") {
        if let Err(e) = run_seed(seed, true) {
            panic!("{e}");
        }
        return;
    }
    let seeds = env_u64("SKBNET_SIM_SEEDS").unwrap_or(1000);
    let first = env_u64("SKBNET_SIM_FIRST").unwrap_or(0);
    let end = first.saturating_add(seeds);
    let next = AtomicU64::new(first);
    let failures = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        break;
                    }
                    if let Err(e) = run_seed(seed, false) {
                        eprintln!("{e}");
                        failures.lock().expect("lock").push(seed);
                    }
                }
            });
        }
    });
    let mut failed = failures.into_inner().expect("lock");
    failed.sort_unstable();
    assert!(failed.is_empty(), "{} of seeds {first}..{end} failed: {failed:?}", failed.len());
}

//! The TCP scene: h2 listens, h1 connects across the router and sends
//! 256 KiB, h2 reads it and checks every byte against the pattern h1 sent,
//! then both sides close. The printout shows the handshake, the first data
//! segments and ACKs, and the close; the bulk in between is counted, not
//! printed (the pcapng file keeps every frame).
//!
//! The hosts announce different MSS values in their SYNs (h1 1460 for its
//! MTU of 1500, h2 960 for its MTU of 1000), and each sends segments no
//! larger than the smaller, less the 12 bytes of the timestamp option every
//! segment carries. So every segment fits the smaller-MTU link whole: the
//! router forwards it without fragmenting and no ICMP "need to frag" is
//! needed. (Were the small link between two routers, neither host would
//! know its MTU, and path MTU discovery would have to find it.)

use std::net::Ipv4Addr;
use std::time::Duration;

use skbnet::dev::DevStats;
use skbnet::netns::World;
use skbnet::socket::{Errno, SockId, SockType};
use skbnet::stats::NetStats;
use skbnet::tcp::cong::SSTHRESH_INFINITE;
use skbnet::tcp::{Shutdown, TcpInfo};
use skbnet::time::Instant;

use super::capture::Capture;
use super::scenes::{Demo, ms, sa};
use super::topo::{H1, H2};
use super::{Context, Failed};

/// The port h2 listens on (iperf's).
const PORT: u16 = 5001;
/// What h1 sends: enough for the congestion window to grow a few times.
const BYTES: usize = 256 * 1024;
/// TCP frames printed after the handshake before the rest are counted:
/// the first window on h1-r, and the first segments and ACKs on r-h2.
const SHOWN: u32 = 16;
/// Virtual time each step (handshake, transfer, close) may take.
const PATIENCE: Duration = Duration::from_secs(10);
/// The MTU of h1's link.
const MTU_H1: u16 = 1500;
/// The MTU of h2's link, the smaller.
const MTU_H2: u16 = 1000;
/// IPv4 and TCP headers without options.
const HEADERS: u16 = 40;
/// The timestamp option on every segment, padded (`nop,nop,TS`).
const TS_OPTION: u16 = 12;
/// How often the scene notes h1's congestion window.
const CWND_EVERY: Duration = Duration::from_millis(2);

/// Byte `i` of what h1 sends: a prime period, so a lost, repeated or
/// shifted segment shows.
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// The counters the summary compares before and after the scene.
struct Counters {
    h1: NetStats,
    h2: NetStats,
    h1_eth0: DevStats,
    r_eth0: DevStats,
}

/// The transfer in progress: both ends' progress, and h1's window over time.
struct Transfer<'c> {
    capture: &'c Capture,
    data: Vec<u8>,
    buf: Vec<u8>,
    /// h1's socket and h2's.
    c: SockId,
    s: SockId,
    started: Instant,
    sent: usize,
    got: usize,
    /// When h2 had read every byte.
    finished: Option<Instant>,
    /// h1's connection when every byte was acknowledged.
    acked: Option<TcpInfo>,
    /// h1's congestion window every [`CWND_EVERY`].
    cwnd: Vec<u32>,
    next_sample: Instant,
}

impl<'w> Demo<'w, '_> {
    /// A TCP connection across the router: handshake, 256 KiB checked byte
    /// for byte, close, and what it took.
    pub fn tcp_transfer(&mut self) -> Result<(), Failed> {
        self.scene(&format!(
            "TCP: h1 connects to {H2}:{PORT} across r and sends {} KiB; h2 reads and checks every byte",
            BYTES / 1024
        ))?;
        let before = self.tcp_counters();
        let (l, c, s, first_srtt) = self.tcp_connect()?;
        self.explain_mss(c, s)?;
        let x = self.tcp_send(c, s)?;
        self.tcp_close(l, c, s)?;
        self.tcp_summary(&x, first_srtt, &before)
    }

    /// h2 listens; h1 connects; h2 accepts. Returns the listener, h1's
    /// socket, h2's socket, and h1's round-trip time of the handshake.
    fn tcp_connect(&mut self) -> Result<(SockId, SockId, SockId, Duration), Failed> {
        let l = self.world.socket(self.topo.h2, SockType::Tcp).context("h2: socket")?;
        self.world.bind(l, sa(Ipv4Addr::UNSPECIFIED, PORT)).context("h2: bind")?;
        self.world.listen(l, 1).context("h2: listen")?;
        let c = self.world.socket(self.topo.h1, SockType::Tcp).context("h1: socket")?;
        match self.world.connect(c, sa(H2, PORT)) {
            Err(Errno::InProgress) => {}
            other => return Err(Failed(format!("h1: connect: expected EINPROGRESS, got {other:?}"))),
        }
        let port = self.world.local_addr(c).context("h1: local address")?.port();
        say!("  h2 listens on port {PORT}; h1 connects from port {port}: SYN, SYN-ACK, ACK");
        let start = self.now;
        let mut accepted = None;
        let done = self.run(self.now + PATIENCE, |w, _| {
            if accepted.is_none() {
                accepted = w.accept(l).ok();
            }
            accepted.is_some() && w.events(c).is_ok_and(|e| e.writable || e.error)
        })?;
        let Some((s, peer)) = accepted.filter(|_| done) else {
            return Err(Failed(format!("the handshake did not finish in {} s", PATIENCE.as_secs())));
        };
        if self.world.events(c).context("h1: poll")?.error {
            return Err(Failed("h1: connect failed".into()));
        }
        say!("  h2 accepted {peer}: connected in {}", ms(self.now - start));
        let srtt = self.world.tcp_info(c).context("h1: TCP_INFO")?.srtt;
        Ok((l, c, s, srtt))
    }

    /// Say what each side announced and sends, and check that a full
    /// segment fits the smaller-MTU link.
    fn explain_mss(&mut self, c: SockId, s: SockId) -> Result<(), Failed> {
        let h1 = self.world.tcp_info(c).context("h1: TCP_INFO")?;
        let h2 = self.world.tcp_info(s).context("h2: TCP_INFO")?;
        let (mss1, mss2) = (MTU_H1 - HEADERS, MTU_H2 - HEADERS);
        say!(
            "  MSS: h1 announced {mss1} (MTU {MTU_H1} less {HEADERS}), h2 announced {mss2} (MTU {MTU_H2} less {HEADERS});"
        );
        say!(
            "  both send at most {mss2} less {TS_OPTION} bytes of timestamp option: {} bytes of data a segment (h1), {} (h2)",
            h1.mss,
            h2.mss
        );
        let full = h1.mss + HEADERS + TS_OPTION;
        say!("  a full segment is a {full}-byte IPv4 packet: it fits r-h2 (MTU {MTU_H2}), so r forwards it whole");
        if !h1.timestamps || h1.mss != mss2 - TS_OPTION || h2.mss != h1.mss {
            return Err(Failed(format!("MSS not as explained: h1 {h1:?}, h2 {h2:?}")));
        }
        Ok(())
    }

    /// h1 sends the pattern and, once every byte is acknowledged (when
    /// `SIOCOUTQ` would say 0), shuts down its side; h2 reads and checks
    /// until the end of the stream.
    fn tcp_send(&mut self, c: SockId, s: SockId) -> Result<Transfer<'w>, Failed> {
        let capture = self.capture;
        capture.elide_tcp_after(SHOWN);
        let mut x = Transfer {
            capture,
            data: (0..BYTES).map(pattern).collect(),
            buf: vec![0; 65_536],
            c,
            s,
            started: self.now,
            sent: 0,
            got: 0,
            finished: None,
            acked: None,
            cwnd: Vec::new(),
            next_sample: self.now,
        };
        let mut failed = None;
        let done = self.run(self.now + PATIENCE, |w, now| {
            x.step(w, now).unwrap_or_else(|e| {
                failed = Some(e);
                true
            })
        })?;
        capture.print_all();
        if let Some(e) = failed {
            return Err(e);
        }
        if !done || x.acked.is_none() || x.finished.is_none() {
            let (sent, got) = (x.sent, x.got);
            return Err(Failed(format!(
                "the transfer did not finish in {} s: {sent} sent, {got} read",
                PATIENCE.as_secs()
            )));
        }
        say!("  h2 read {} bytes, then the end of the stream: every byte is the one h1 sent", x.got);
        Ok(x)
    }

    /// h2 has read the end of the stream and closes too; h1 reads the end
    /// of h2's stream and closes. h1 closed first, so its end of the
    /// connection waits in TIME-WAIT.
    fn tcp_close(&mut self, l: SockId, c: SockId, s: SockId) -> Result<(), Failed> {
        say!("  h2 closes its socket: FIN");
        self.world.close(s).context("h2: close")?;
        self.world.close(l).context("h2: close the listener")?;
        let mut buf = [0u8; 16];
        let mut got = Err(Errno::WouldBlock);
        let done = self.run(self.now + PATIENCE, |w, _| {
            got = w.recvmsg(c, &mut buf).map(|m| m.len);
            got != Err(Errno::WouldBlock)
        })?;
        if !done || got != Ok(0) {
            return Err(Failed(format!("h1: expected the end of h2's stream, got {got:?}")));
        }
        self.world.close(c).context("h1: close")?;
        say!("  h1 reads the end of h2's stream and closes; its end waits in TIME-WAIT (the shutdown ends it)");
        // Long enough for the last ACK to cross both links.
        self.advance_to(self.now + Duration::from_millis(2))
    }

    /// Bytes, time, goodput, h1's connection at the end, and the offloads.
    fn tcp_summary(&mut self, x: &Transfer<'_>, first_srtt: Duration, before: &Counters) -> Result<(), Failed> {
        let after = self.tcp_counters();
        let (Some(finished), Some(i)) = (x.finished, x.acked) else {
            return Err(Failed("the transfer did not finish".into()));
        };
        let took = finished - x.started;
        let mbps = BYTES as f64 * 8.0 / took.as_secs_f64() / 1e6;
        let retrans = after.h1.tcp.RetransSegs - before.h1.tcp.RetransSegs;
        say!(
            "  {BYTES} bytes from {H1} to {H2} in {} of virtual time: {mbps:.1} Mb/s of goodput; {retrans} segments retransmitted",
            ms(took)
        );
        let cwnd: Vec<String> = x.cwnd.iter().map(u32::to_string).collect();
        say!("  h1's congestion window every {} ms, in segments: {}", CWND_EVERY.as_millis(), cwnd.join(" "));
        let ssthresh = match i.ssthresh {
            SSTHRESH_INFINITE => "none (still in slow start)".to_string(),
            n => n.to_string(),
        };
        say!(
            "  h1 at the end: cwnd {}, ssthresh {ssthresh}, srtt {} ({} at the handshake: the rest is r's queue), rto {}",
            i.cwnd,
            ms(i.srtt),
            ms(first_srtt),
            ms(i.rto),
        );
        if u64::from(i.cwnd) * u64::from(i.mss) > u64::from(i.snd_wnd) {
            say!(
                "  h2's window of {} bytes ({} segments) held h1 back, not cwnd (slow start grows it to twice the flight)",
                i.snd_wnd,
                i.snd_wnd / u32::from(i.mss)
            );
        }
        say!(
            "  TSO: h1's TCP sent {} segments in {} packets; its NIC cut them into {} frames",
            after.h1.tcp.OutSegs - before.h1.tcp.OutSegs,
            after.h1.ip.OutRequests - before.h1.ip.OutRequests,
            after.h1_eth0.tx_packets - before.h1_eth0.tx_packets,
        );
        say!(
            "  LRO: r's NIC merged those frames into {} packets, forwarded whole (r's NIC cut them again)",
            after.r_eth0.rx_packets - before.r_eth0.rx_packets,
        );
        let (segs, packets) =
            (after.h2.tcp.InSegs - before.h2.tcp.InSegs, after.h2.ip.InReceives - before.h2.ip.InReceives);
        let why = if segs == packets { ": at 100 Mb/s they arrive too far apart to merge" } else { " (GRO)" };
        say!("  h2 took {segs} segments in {packets} packets{why}");
        if retrans > 0 {
            return Err(Failed(format!("{retrans} segments retransmitted on a link that loses nothing")));
        }
        Ok(())
    }

    /// The counters of h1, h2, h1's NIC and the router's NIC facing h1.
    fn tcp_counters(&self) -> Counters {
        let w = &self.world;
        let ns = |id| w.stats(id).copied().unwrap_or_default();
        let dev = |i| w.device_stats(i).unwrap_or_default();
        Counters {
            h1: ns(self.topo.h1),
            h2: ns(self.topo.h2),
            h1_eth0: dev(self.topo.h1_eth0),
            r_eth0: dev(self.topo.r_eth0),
        }
    }
}

impl Transfer<'_> {
    /// One round after a poll: h1 sends what fits, h2 reads and checks
    /// what arrived, h1 notes its window and, once all is acknowledged,
    /// sends its FIN. True once h2 has read the end of the stream.
    fn step(&mut self, w: &mut World<'_>, now: Instant) -> Result<bool, Failed> {
        while self.sent < BYTES {
            match w.sendmsg(self.c, &self.data[self.sent..], None) {
                Ok(n) => self.sent += n,
                Err(Errno::WouldBlock) => break,
                Err(e) => return Err(Failed(format!("h1: send: {e:?}"))),
            }
        }
        loop {
            match w.recvmsg(self.s, &mut self.buf) {
                Ok(m) if m.len == 0 => return Ok(true),
                Ok(m) if self.data.get(self.got..self.got + m.len) == Some(&self.buf[..m.len]) => self.got += m.len,
                Ok(m) => {
                    return Err(Failed(format!("h2: {} bytes at offset {} differ from what h1 sent", m.len, self.got)));
                }
                Err(Errno::WouldBlock) => break,
                Err(e) => return Err(Failed(format!("h2: recv: {e:?}"))),
            }
        }
        if self.got == BYTES && self.finished.is_none() {
            self.finished = Some(now);
        }
        if self.acked.is_some() {
            return Ok(false);
        }
        let info = w.tcp_info(self.c).context("h1: TCP_INFO")?;
        if now >= self.next_sample {
            self.cwnd.push(info.cwnd);
            self.next_sample += CWND_EVERY;
        }
        if self.sent == BYTES && info.in_flight == 0 && info.unsent == 0 {
            self.acked = Some(info);
            self.capture.print_all();
            say!("  h1: all {BYTES} bytes acknowledged; h1 shuts down its side: FIN");
            w.shutdown_socket(self.c, Shutdown::Write).context("h1: shutdown")?;
        }
        Ok(false)
    }
}

//! `ping` inside a namespace of the world: ICMP echo requests from a ping
//! socket (`SOCK_DGRAM`, `IPPROTO_ICMP`), printed as iputils' ping prints.
//!
//! A ping is a state machine the world's owner steps: it sends on its
//! schedule, reads replies as they come, and says when it is finished.
//! Round-trip times come from the host's real clock.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use skbnet::netns::NsId;
use skbnet::socket::{Errno, SockId, SockType};
use skbnet::time::Instant;

use super::host::Host;

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct PingArgs {
    /// The destination.
    pub dst: Ipv4Addr,
    /// Requests to send (`-c`); `None`: until stopped.
    pub count: Option<u32>,
    /// Between requests (`-i`).
    pub interval: Duration,
    /// Bytes of data after the ICMP header (`-s`).
    pub size: usize,
    /// How long to wait for the last reply (`-W`).
    pub wait: Duration,
}

impl PingArgs {
    /// Parse `ping [-c N] [-i S] [-s N] [-W S] DEST`; `default_count` when
    /// `-c` is not given.
    pub fn parse(args: &[String], default_count: Option<u32>) -> Result<PingArgs, String> {
        let mut p = PingArgs {
            dst: Ipv4Addr::UNSPECIFIED,
            count: default_count,
            interval: Duration::from_secs(1),
            size: 56,
            wait: Duration::from_secs(1),
        };
        let mut dst = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val =
                |name: &str| it.next().cloned().ok_or(format!("ping: option requires an argument -- '{name}'"));
            match a.as_str() {
                "-c" => p.count = Some(val("c")?.parse().map_err(|_| "ping: invalid count".to_string())?),
                "-i" => p.interval = secs(&val("i")?)?,
                "-W" => p.wait = secs(&val("W")?)?,
                "-s" => {
                    p.size = val("s")?.parse().map_err(|_| "ping: invalid packet size".to_string())?;
                    if p.size > 1400 {
                        return Err("ping: packet size too large (at most 1400 here)".into());
                    }
                }
                s if s.starts_with('-') => return Err(format!("ping: invalid option -- '{}'", &s[1..])),
                s => dst = Some(s.parse().map_err(|_| format!("ping: {s}: Name or service not known"))?),
            }
        }
        p.dst = dst.ok_or("ping: usage error: Destination address required")?;
        if p.count == Some(0) {
            return Err("ping: invalid argument: '0': out of range: 1 <= value <= 9223372036854775807".into());
        }
        Ok(p)
    }
}

fn secs(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e6)
        .map(Duration::from_secs_f64)
        .ok_or(format!("ping: bad timing value: {s}"))
}

/// A ping in progress.
pub struct Ping {
    args: PingArgs,
    sock: SockId,
    sent: u32,
    received: u32,
    errors: u32,
    next_send: Instant,
    started: Instant,
    last_sent: Instant,
    /// When each outstanding request left, by sequence number (host clock).
    outstanding: HashMap<u16, std::time::Instant>,
    rtts_ms: Vec<f64>,
    done: bool,
}

impl Ping {
    /// Open the socket and print the header line.
    pub fn start(host: &mut Host, ns: NsId, args: PingArgs, out: &mut dyn FnMut(String)) -> Result<Ping, String> {
        let w = host.world();
        let sock = w.socket(ns, SockType::Ping).map_err(|e| format!("ping: socket: {e}"))?;
        if let Err(e) = w.bind(sock, SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))) {
            let _ = w.close(sock);
            return Err(format!("ping: bind: {e}"));
        }
        out(format!("PING {0} ({0}) {1}({2}) bytes of data.", args.dst, args.size, args.size + 28));
        let now = host.now();
        Ok(Ping {
            args,
            sock,
            sent: 0,
            received: 0,
            errors: 0,
            next_send: now,
            started: now,
            last_sent: now,
            outstanding: HashMap::new(),
            rtts_ms: Vec::new(),
            done: false,
        })
    }

    /// Do what is due: send, read replies. Returns the exit status once
    /// finished (0: some reply came, 1: none).
    pub fn step(&mut self, host: &mut Host, out: &mut dyn FnMut(String)) -> Option<i32> {
        if self.done {
            return Some(self.status());
        }
        self.read(host, out);
        let now = host.now();
        let more = self.args.count.is_none_or(|c| self.sent < c);
        if more && now >= self.next_send {
            self.send(host, out);
            host.poll();
            self.read(host, out);
        }
        let all_sent = self.args.count.is_some_and(|c| self.sent >= c);
        let waited = now.saturating_duration_since(self.last_sent) >= self.args.wait.max(self.args.interval);
        if all_sent && (self.outstanding.is_empty() || waited) {
            self.finish(host, out);
            return Some(self.status());
        }
        None
    }

    /// When the ping next needs a step.
    pub fn wake_at(&self) -> Instant {
        let all_sent = self.args.count.is_some_and(|c| self.sent >= c);
        if all_sent { self.last_sent.saturating_add(self.args.wait.max(self.args.interval)) } else { self.next_send }
    }

    /// Stop early (the client went away): close the socket.
    pub fn abort(&mut self, host: &mut Host) {
        if !self.done {
            let _ = host.world().close(self.sock);
            self.done = true;
        }
    }

    fn status(&self) -> i32 {
        if self.received > 0 { 0 } else { 1 }
    }

    fn send(&mut self, host: &mut Host, out: &mut dyn FnMut(String)) {
        let seq = (self.sent + 1) as u16;
        let mut msg = vec![0u8; 8 + self.args.size];
        msg[0] = 8;
        msg[6..8].copy_from_slice(&seq.to_be_bytes());
        for (i, b) in msg[8..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let now = host.now();
        let to = SocketAddr::V4(SocketAddrV4::new(self.args.dst, 0));
        self.sent += 1;
        self.last_sent = now;
        self.next_send = now.saturating_add(self.args.interval);
        match host.world().sendmsg(self.sock, &msg, Some(to)) {
            Ok(_) => {
                self.outstanding.insert(seq, std::time::Instant::now());
            }
            Err(e) => {
                self.errors += 1;
                out(format!("ping: sendmsg: {}", errno_text(e)));
            }
        }
    }

    fn read(&mut self, host: &mut Host, out: &mut dyn FnMut(String)) {
        // Bounded: each round takes a queued reply.
        for _ in 0..1024 {
            let w = host.world();
            let (skb, from) = match w.recv_skb(self.sock) {
                Ok(x) => x,
                Err(Errno::WouldBlock) => return,
                Err(e) => {
                    self.errors += 1;
                    out(format!("From {} icmp_seq={} {}", self.args.dst, self.sent, errno_text(e)));
                    continue;
                }
            };
            let pool = w.pool();
            let meta = pool.meta(&skb);
            let ttl = pool.bytes_from(&skb, meta.network_header).get(8).copied().unwrap_or(0);
            let data = pool.data(&skb);
            let (kind, seq, len) =
                (data.first().copied(), data.get(6..8).map(|b| u16::from_be_bytes([b[0], b[1]])), pool.len(&skb));
            pool.free(skb);
            let (Some(0), Some(seq)) = (kind, seq) else { continue };
            let Some(at) = self.outstanding.remove(&seq) else { continue };
            let ms = at.elapsed().as_secs_f64() * 1000.0;
            self.received += 1;
            self.rtts_ms.push(ms);
            out(format!("{len} bytes from {}: icmp_seq={seq} ttl={ttl} time={}", from.ip(), rtt(ms)));
        }
    }

    fn finish(&mut self, host: &mut Host, out: &mut dyn FnMut(String)) {
        let _ = host.world().close(self.sock);
        self.done = true;
        let elapsed = self.last_sent.saturating_duration_since(self.started).as_millis();
        let loss = (100 * (self.sent - self.received)).checked_div(self.sent).unwrap_or(0);
        out(String::new());
        out(format!("--- {} ping statistics ---", self.args.dst));
        let errors = if self.errors > 0 { format!(", +{} errors", self.errors) } else { String::new() };
        out(format!(
            "{} packets transmitted, {} received{errors}, {loss}% packet loss, time {elapsed}ms",
            self.sent, self.received
        ));
        if !self.rtts_ms.is_empty() {
            let n = self.rtts_ms.len() as f64;
            let min = self.rtts_ms.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = self.rtts_ms.iter().cloned().fold(0.0, f64::max);
            let avg = self.rtts_ms.iter().sum::<f64>() / n;
            let mdev = (self.rtts_ms.iter().map(|x| (x - avg) * (x - avg)).sum::<f64>() / n).sqrt();
            out(format!("rtt min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms"));
        }
    }
}

/// iputils' format for a round-trip time.
fn rtt(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

/// How ping describes a socket error.
fn errno_text(e: Errno) -> &'static str {
    match e {
        Errno::HostUnreachable => "Destination Host Unreachable",
        Errno::NetUnreachable => "Destination Net Unreachable",
        Errno::ConnRefused => "Destination Port Unreachable",
        Errno::Access => "Packet filtered",
        Errno::Perm => "Operation not permitted",
        _ => "Network error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_like_iputils() {
        let p = PingArgs::parse(&args("-c 2 -i 0.2 192.168.76.1"), None).unwrap();
        assert_eq!((p.count, p.interval, p.dst), (Some(2), Duration::from_millis(200), Ipv4Addr::new(192, 168, 76, 1)));
        assert_eq!(PingArgs::parse(&args("10.0.0.1"), Some(4)).unwrap().count, Some(4));
        for bad in ["", "-c", "-c 0 1.2.3.4", "-x 1.2.3.4", "host", "-i -1 1.2.3.4"] {
            assert!(PingArgs::parse(&args(bad), None).is_err(), "{bad}");
        }
    }
}

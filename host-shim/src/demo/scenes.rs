//! The demo's scenes, driven through the socket API on a virtual clock:
//! the world is polled at `now` and the clock jumps to `poll_at()`. h2 runs
//! a UDP echo service on port 7 throughout. The TCP scene is in
//! [`super::tcp`], the NAT and firewall scene in [`super::nat`].

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use skbnet::netns::World;
use skbnet::socket::{Errno, SockId, SockType};
use skbnet::stats::IpMib;
use skbnet::time::Instant;

use super::capture::Capture;
use super::topo::{H2, Topo};
use super::{Context, Failed};

/// The echo service's port (`echo`, RFC 862).
const ECHO_PORT: u16 = 7;
/// A port nobody listens on (`discard`, RFC 863).
const CLOSED_PORT: u16 = 9;
/// Virtual time the demo waits for an answer before it gives up.
const PATIENCE: Duration = Duration::from_secs(2);
/// Echo requests the ping scene sends, one a second.
const PINGS: u16 = 3;
/// The datagram too big for the second link (1428 bytes in IPv4).
const BIG: usize = 1400;

/// A datagram received: its bytes and who sent it.
type Datagram = (Vec<u8>, SocketAddrV4);

/// The world, its clock, what prints its frames, and h2's echo service.
pub struct Demo<'w, 'a> {
    pub(super) world: &'w mut World<'a>,
    pub(super) topo: Topo,
    pub(super) now: Instant,
    pub(super) capture: &'w Capture,
    /// h2's echo socket and the buffer it receives into.
    echo: SockId,
    echo_buf: Vec<u8>,
}

pub(super) fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

pub(super) fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

impl<'w, 'a> Demo<'w, 'a> {
    /// Start the echo service on h2 at time zero.
    pub fn new(world: &'w mut World<'a>, topo: Topo, capture: &'w Capture) -> Result<Self, Failed> {
        let echo = world.socket(topo.h2, SockType::Udp).context("h2: echo socket")?;
        world.bind(echo, sa(Ipv4Addr::UNSPECIFIED, ECHO_PORT)).context("h2: bind the echo socket")?;
        Ok(Demo { world, topo, now: Instant::ZERO, capture, echo, echo_buf: vec![0; 65_536] })
    }

    /// Poll until `done` (given the world and the time) says so (true) or
    /// `deadline` passes (false).
    pub(super) fn run(
        &mut self,
        deadline: Instant,
        mut done: impl FnMut(&mut World<'a>, Instant) -> bool,
    ) -> Result<bool, Failed> {
        loop {
            self.world.poll(self.now);
            self.serve_echo()?;
            if done(self.world, self.now) {
                return Ok(true);
            }
            if self.now >= deadline {
                return Ok(false);
            }
            let next = self.world.poll_at().unwrap_or(deadline);
            self.now = next.max(self.now + Duration::from_micros(1)).min(deadline);
        }
    }

    /// Let time pass until `t`, doing whatever falls due meanwhile.
    pub(super) fn advance_to(&mut self, t: Instant) -> Result<(), Failed> {
        self.run(t, |_, _| false).map(drop)
    }

    /// Start a scene on the next whole second, so its frames are easy to find.
    pub(super) fn scene(&mut self, title: &str) -> Result<(), Failed> {
        self.advance_to(Instant::from_secs(self.now.micros().div_ceil(1_000_000)))?;
        say!("\n== {title}");
        Ok(())
    }

    /// The next datagram (or error) on `s`; a failure if none comes in time.
    pub(super) fn recv(&mut self, s: SockId, what: &str) -> Result<Result<Datagram, Errno>, Failed> {
        let mut got = Err(Errno::WouldBlock);
        let mut buf = vec![0u8; 65_536];
        let deadline = self.now + PATIENCE;
        let done = self.run(deadline, |w, _| {
            got = w.recvmsg(s, &mut buf).map(|m| (buf[..m.len].to_vec(), m.from));
            got != Err(Errno::WouldBlock)
        })?;
        if !done {
            return Err(Failed(format!("{what}: nothing after {} s", PATIENCE.as_secs())));
        }
        Ok(got)
    }

    /// h2's echo service: send every datagram back where it came from.
    fn serve_echo(&mut self) -> Result<(), Failed> {
        while let Ok(m) = self.world.recvmsg(self.echo, &mut self.echo_buf) {
            say!("  h2 echo service: {} bytes from {}, sent back", m.len, m.from);
            let data = &self.echo_buf[..m.len];
            self.world.sendmsg(self.echo, data, Some(SocketAddr::V4(m.from))).context("h2: echo")?;
        }
        Ok(())
    }

    /// Ping h2 from h1, one echo request a second, as `ping -c 3` does.
    pub fn ping(&mut self) -> Result<(), Failed> {
        say!("== ping {H2} from h1 (via r; the first request waits for ARP on both links)");
        let p = self.world.socket(self.topo.h1, SockType::Ping).context("h1: ping socket")?;
        let data: Vec<u8> = (0..56u8).map(|i| 0x10 + i).collect();
        for seq in 1..=PINGS {
            self.advance_to(Instant::from_secs(u64::from(seq - 1)))?;
            let mut req = vec![8, 0, 0, 0, 0, 0];
            req.extend_from_slice(&seq.to_be_bytes());
            req.extend_from_slice(&data);
            let sent = self.now;
            self.world.sendmsg(p, &req, Some(sa(H2, 0))).context("h1: ping")?;
            let (reply, from) = self.recv(p, "h1: echo reply")?.context("h1: echo reply")?;
            if reply.get(..2) != Some(&[0, 0]) || reply.get(6..8) != Some(&seq.to_be_bytes()) || reply[8..] != data {
                return Err(Failed(format!("h1: echo reply {seq} is not the request's answer: {reply:02x?}")));
            }
            say!("  {} bytes from {}: icmp_seq={seq} time={}", reply.len(), from.ip(), ms(self.now - sent));
        }
        say!("  {PINGS} packets transmitted, {PINGS} received, 0% packet loss");
        self.world.close(p).context("h1: close the ping socket")
    }

    /// A UDP datagram to h2's echo service and back.
    pub fn udp_echo(&mut self) -> Result<(), Failed> {
        self.scene(&format!("UDP echo: h1 sends a datagram to {H2}:{ECHO_PORT}, h2 sends it back"))?;
        let c = self.client()?;
        let msg = b"hello from h1";
        self.world.sendmsg(c, msg, None).context("h1: send")?;
        let (back, from) = self.recv(c, "h1: the echo")?.context("h1: the echo")?;
        if back != msg {
            return Err(Failed(format!("h1: the echo differs: {back:02x?}")));
        }
        say!("  h1 got its echo from {from}: {:?}", String::from_utf8_lossy(&back));
        self.world.close(c).context("h1: close")
    }

    /// A datagram too big for the second link: the router fragments it,
    /// h2 reassembles it; the echo comes back fragmented by h2.
    pub fn fragments(&mut self) -> Result<(), Failed> {
        self.scene(&format!(
            "fragmentation: {BIG} bytes of UDP (a {}-byte IPv4 packet) fit h1-r (MTU 1500) but not r-h2 (MTU 1000)",
            BIG + 28
        ))?;
        let c = self.client()?;
        let msg: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
        let before = self.ip_mibs();
        self.world.sendmsg(c, &msg, None).context("h1: send")?;
        let (back, _) = self.recv(c, "h1: the big echo")?.context("h1: the big echo")?;
        let after = self.ip_mibs();
        let d = |i: usize, f: fn(&IpMib) -> u64| f(&after[i]) - f(&before[i]);
        let (r_frags, h2_reasm) = (d(1, |m| m.FragCreates), d(2, |m| m.ReasmOKs));
        let (h2_frags, h1_reasm) = (d(2, |m| m.FragCreates), d(0, |m| m.ReasmOKs));
        say!("  r fragmented the datagram into {r_frags}; h2 reassembled it ({h2_reasm} datagram)");
        say!("  h2 fragmented its echo into {h2_frags}; r forwarded them; h1 reassembled it ({h1_reasm} datagram)");
        if back != msg || (r_frags, h2_reasm, h2_frags, h1_reasm) != (2, 1, 2, 1) {
            return Err(Failed("the big datagram did not travel as it should".into()));
        }
        say!("  h1 got all {} bytes back, byte for byte", back.len());
        self.world.close(c).context("h1: close")
    }

    /// A datagram to a port nobody listens on: ICMP port unreachable, and
    /// the connected socket reports `ECONNREFUSED`.
    pub fn closed_port(&mut self) -> Result<(), Failed> {
        self.scene(&format!("a closed port: h1 sends to {H2}:{CLOSED_PORT}, where nobody listens"))?;
        let c = self.world.socket(self.topo.h1, SockType::Udp).context("h1: socket")?;
        self.world.connect(c, sa(H2, CLOSED_PORT)).context("h1: connect")?;
        self.world.sendmsg(c, b"anyone?", None).context("h1: send")?;
        match self.recv(c, "h1: the answer")? {
            Err(Errno::ConnRefused) => say!("  h1's socket reports ECONNREFUSED ({})", Errno::ConnRefused),
            other => return Err(Failed(format!("h1: expected ECONNREFUSED, got {other:?}"))),
        }
        self.world.close(c).context("h1: close")
    }

    /// A UDP socket in h1 connected to h2's echo service.
    fn client(&mut self) -> Result<SockId, Failed> {
        let c = self.world.socket(self.topo.h1, SockType::Udp).context("h1: socket")?;
        self.world.connect(c, sa(H2, ECHO_PORT)).context("h1: connect")?;
        let port = self.world.local_addr(c).context("h1: local address")?.port();
        say!("  h1 sends from port {port} to {H2}:{ECHO_PORT}");
        Ok(c)
    }

    /// The IP counters of h1, r and h2.
    fn ip_mibs(&self) -> [IpMib; 3] {
        let t = self.topo;
        [t.h1, t.r, t.h2].map(|ns| self.world.stats(ns).map(|s| s.ip).unwrap_or_default())
    }
}

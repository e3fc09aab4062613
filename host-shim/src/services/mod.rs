//! Services a namespace offers its peers, as the small servers of a Unix
//! host do: echo (RFC 862) and discard (RFC 863) over TCP and UDP, an
//! HTTP/1.1 server with a status page, and a throughput server that speaks
//! iperf3's control protocol, so a stock `iperf3 -c` measures the stack.
//! Beside them, a [`Client`] pushes or pulls bytes to or from a listener.
//!
//! They are applications of skbnet's socket API and nothing more: each
//! service holds its sockets in one namespace of a [`World`], and
//! [`Services::poll`] moves them along without ever blocking. Call it after
//! every [`World::poll`]:
//!
//! ```ignore
//! let which = Service::parse_list("echo,discard,http,iperf")?;
//! let mut services = Services::start(&mut world, ns, &which)?;
//! loop {
//!     world.poll(now);
//!     services.poll(&mut world, now);
//!     // sleep until the earlier of world.poll_at(), services.poll_at()
//!     // and the next packet
//! }
//! services.shutdown(&mut world);
//! ```
//!
//! Everything is bounded, as in the core: at most [`Limits::conns`]
//! connections a service (more wait in the listener's backlog), at most
//! [`ACCEPTS_PER_POLL`] accepted and [`BYTES_PER_POLL`] moved per
//! connection and call, [`DATAGRAMS_PER_POLL`] datagrams a UDP service, and
//! every buffer a service keeps has a fixed ceiling. A peer that stalls is
//! timed out ([`Limits`]). When a call stopped at a bound,
//! [`Services::poll_at`] asks to be called again at once.

mod client;
mod http;
mod iperf;
mod status;
mod stream;

pub use client::{Client, ClientError, Direction, Report, push_bytes};

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::str::FromStr;
use std::time::Duration;

use skbnet::netfilter::NfHooks;
use skbnet::netns::{NsId, World};
use skbnet::socket::{Errno, SockId, SockType};
use skbnet::time::Instant;

use http::HttpServer;
use iperf::IperfServer;
use stream::{DatagramServer, StreamServer};

/// New connections a TCP service accepts in one call of [`Services::poll`].
pub const ACCEPTS_PER_POLL: usize = 4;
/// Bytes one connection moves (each way) in one call of [`Services::poll`].
pub const BYTES_PER_POLL: usize = 1 << 20;
/// Datagrams a UDP service handles in one call of [`Services::poll`].
pub const DATAGRAMS_PER_POLL: usize = 64;
/// Connections a TCP listener of the services queues for `accept`.
const BACKLOG: u16 = 16;

/// One service, as `--services` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// Echo (RFC 862) on TCP and UDP port 7: every byte comes back.
    Echo,
    /// Discard (RFC 863) on TCP and UDP port 9: every byte is dropped.
    Discard,
    /// HTTP/1.1 on TCP port 80: a status page of the namespace.
    Http,
    /// iperf3's protocol on TCP port 5201, for `iperf3 -c`.
    Iperf,
}

impl Service {
    /// Every service, in the order `--services` lists them.
    pub const ALL: [Service; 4] = [Service::Echo, Service::Discard, Service::Http, Service::Iperf];

    /// The name `--services` knows it by.
    pub fn name(self) -> &'static str {
        match self {
            Service::Echo => "echo",
            Service::Discard => "discard",
            Service::Http => "http",
            Service::Iperf => "iperf",
        }
    }

    /// The port it listens on.
    pub fn port(self) -> u16 {
        match self {
            Service::Echo => 7,
            Service::Discard => 9,
            Service::Http => 80,
            Service::Iperf => 5201,
        }
    }

    /// A comma-separated list such as `echo,discard,http,iperf` (or `all`),
    /// without repeats, in the order given.
    pub fn parse_list(list: &str) -> Result<Vec<Service>, UnknownService> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let found: Vec<Service> = if name == "all" { Service::ALL.to_vec() } else { vec![name.parse()?] };
            for s in found {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownService(pub String);

impl fmt::Display for UnknownService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
        write!(f, "unknown service `{}` (known: {}, or all)", self.0, known.join(", "))
    }
}

impl std::error::Error for UnknownService {}

impl FromStr for Service {
    type Err = UnknownService;

    fn from_str(s: &str) -> Result<Service, UnknownService> {
        Service::ALL.into_iter().find(|x| x.name() == s).ok_or_else(|| UnknownService(s.to_string()))
    }
}

/// The bounds the services keep to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections one TCP service holds at once; more wait in the
    /// listener's backlog until one ends.
    pub conns: usize,
    /// Largest HTTP request head (request line and headers), in bytes:
    /// beyond it the answer is 431.
    pub http_request_bytes: usize,
    /// Time a client has to send a whole HTTP request once it began: then 408.
    pub http_request_timeout: Duration,
    /// An HTTP connection idle between requests, or a peer not reading its
    /// response, is closed after this.
    pub http_idle: Duration,
    /// An echo or discard connection with no traffic is closed after this.
    pub stream_idle: Duration,
    /// Most parallel streams of one iperf3 test (`iperf3 -P`).
    pub iperf_streams: usize,
    /// Time an iperf3 client has for each step of the protocol outside the
    /// test itself (parameters, streams, results).
    pub iperf_step_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            conns: 8,
            http_request_bytes: 8 * 1024,
            http_request_timeout: Duration::from_secs(10),
            http_idle: Duration::from_secs(30),
            stream_idle: Duration::from_secs(600),
            iperf_streams: 8,
            iperf_step_timeout: Duration::from_secs(10),
        }
    }
}

/// What one service did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceStats {
    /// Connections accepted (TCP).
    pub accepted: u64,
    /// Connections open now (TCP).
    pub active: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Units of work done: datagrams (UDP), responses (HTTP), tests (iperf3).
    pub requests: u64,
    /// Connections that ended badly (reset, timed out, refused, malformed),
    /// and datagrams that could not be echoed.
    pub errors: u64,
}

/// The last iperf3 test, as the server saw it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IperfSummary {
    /// The client's control connection.
    pub client: SocketAddrV4,
    /// Parallel streams.
    pub streams: usize,
    /// The server sent (`-R`).
    pub reverse: bool,
    /// Both sent (`--bidir`).
    pub bidir: bool,
    /// Bytes the server received and sent on its streams, after the omitted seconds.
    pub bytes_received: u64,
    /// See `bytes_received`.
    pub bytes_sent: u64,
    /// Seconds the counted part of the test lasted.
    pub seconds: f64,
    /// Bytes the client said it sent or received (its results).
    pub client_bytes: u64,
}

/// What every service did since [`Services::start`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// TCP echo.
    pub echo_tcp: ServiceStats,
    /// UDP echo.
    pub echo_udp: ServiceStats,
    /// TCP discard.
    pub discard_tcp: ServiceStats,
    /// UDP discard.
    pub discard_udp: ServiceStats,
    /// HTTP.
    pub http: ServiceStats,
    /// iperf3.
    pub iperf: ServiceStats,
    /// The last iperf3 test that finished.
    pub last_iperf: Option<IperfSummary>,
}

impl Stats {
    /// Each service's counters with its name, as the status page lists them.
    pub fn rows(&self) -> [(&'static str, &ServiceStats); 6] {
        [
            ("echo/tcp", &self.echo_tcp),
            ("echo/udp", &self.echo_udp),
            ("discard/tcp", &self.discard_tcp),
            ("discard/udp", &self.discard_udp),
            ("http/tcp", &self.http),
            ("iperf3/tcp", &self.iperf),
        ]
    }
}

/// Why [`Services::start`] failed: which socket call, for which service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartError {
    /// The service.
    pub service: Service,
    /// The port it wanted.
    pub port: u16,
    /// UDP rather than TCP.
    pub udp: bool,
    /// The call that failed (`socket`, `bind`, `listen`).
    pub call: &'static str,
    /// What it said.
    pub errno: Errno,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = if self.udp { "udp" } else { "tcp" };
        write!(f, "{} service: {} on {proto} port {}: {:?}", self.service, self.call, self.port, self.errno)
    }
}

impl std::error::Error for StartError {}

impl From<StartError> for Errno {
    fn from(e: StartError) -> Errno {
        e.errno
    }
}

/// Running services of one namespace. See the [module documentation](self).
pub struct Services {
    ns: NsId,
    limits: Limits,
    started: Instant,
    /// The services opened, in [`Service::ALL`] order.
    running: Vec<Service>,
    stats: Stats,
    echo_tcp: Option<StreamServer>,
    echo_udp: Option<DatagramServer>,
    discard_tcp: Option<StreamServer>,
    discard_udp: Option<DatagramServer>,
    http: Option<HttpServer>,
    iperf: Option<IperfServer>,
    /// When the last poll stopped at a bound: call again at once.
    busy: Option<Instant>,
}

impl Services {
    /// Open the listeners of `which` in namespace `ns`, on every address,
    /// with the default [`Limits`].
    pub fn start<H: NfHooks>(w: &mut World<'_, H>, ns: NsId, which: &[Service]) -> Result<Services, StartError> {
        Services::start_with(w, ns, which, Limits::default())
    }

    /// [`Services::start`] with other bounds. On an error, what was opened
    /// is closed again.
    pub fn start_with<H: NfHooks>(
        w: &mut World<'_, H>,
        ns: NsId,
        which: &[Service],
        limits: Limits,
    ) -> Result<Services, StartError> {
        let mut s = Services {
            ns,
            limits,
            started: w.now(),
            running: Vec::new(),
            stats: Stats::default(),
            echo_tcp: None,
            echo_udp: None,
            discard_tcp: None,
            discard_udp: None,
            http: None,
            iperf: None,
            busy: None,
        };
        for &service in which {
            if let Err(e) = s.open(w, service) {
                s.shutdown(w);
                return Err(e);
            }
        }
        s.running = Service::ALL.into_iter().filter(|x| which.contains(x)).collect();
        Ok(s)
    }

    /// Open one service's sockets.
    fn open<H: NfHooks>(&mut self, w: &mut World<'_, H>, service: Service) -> Result<(), StartError> {
        let ns = self.ns;
        let tcp = |w: &mut World<'_, H>| listener(w, ns, service);
        let udp = |w: &mut World<'_, H>| datagram_socket(w, ns, service);
        match service {
            Service::Echo if self.echo_tcp.is_none() => {
                self.echo_tcp = Some(StreamServer::new(tcp(w)?, stream::Kind::Echo));
                self.echo_udp = Some(DatagramServer::new(udp(w)?, stream::Kind::Echo));
            }
            Service::Discard if self.discard_tcp.is_none() => {
                self.discard_tcp = Some(StreamServer::new(tcp(w)?, stream::Kind::Discard));
                self.discard_udp = Some(DatagramServer::new(udp(w)?, stream::Kind::Discard));
            }
            Service::Http if self.http.is_none() => self.http = Some(HttpServer::new(tcp(w)?)),
            Service::Iperf if self.iperf.is_none() => self.iperf = Some(IperfServer::new(tcp(w)?)),
            _ => {}
        }
        Ok(())
    }

    /// The namespace the services run in.
    pub fn ns(&self) -> NsId {
        self.ns
    }

    /// The services running, in [`Service::ALL`] order.
    pub fn running(&self) -> &[Service] {
        &self.running
    }

    /// What the services did so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Move every connection along: accept, read, answer, send, time out.
    /// Never blocks; the work is bounded (see the module documentation).
    pub fn poll<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant) {
        let page = status::Page { ns: self.ns, started: self.started, running: &self.running };
        let (lim, st) = (&self.limits, &mut self.stats);
        let mut busy = false;
        if let Some(s) = self.echo_tcp.as_mut() {
            busy |= s.poll(w, now, lim, &mut st.echo_tcp);
        }
        if let Some(s) = self.echo_udp.as_mut() {
            busy |= s.poll(w, &mut st.echo_udp);
        }
        if let Some(s) = self.discard_tcp.as_mut() {
            busy |= s.poll(w, now, lim, &mut st.discard_tcp);
        }
        if let Some(s) = self.discard_udp.as_mut() {
            busy |= s.poll(w, &mut st.discard_udp);
        }
        if let Some(s) = self.iperf.as_mut() {
            busy |= s.poll(w, now, lim, st);
        }
        if let Some(s) = self.http.as_mut() {
            busy |= s.poll(w, now, lim, st, &page);
        }
        self.busy = busy.then_some(now);
    }

    /// When [`Services::poll`] next has work without any packet arriving:
    /// at once when the last call stopped at a bound, else the earliest
    /// timeout of a connection; `None` when only packets can wake them.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.busy.is_some() {
            return self.busy;
        }
        let lim = &self.limits;
        [
            self.echo_tcp.as_ref().and_then(|s| s.poll_at(lim)),
            self.discard_tcp.as_ref().and_then(|s| s.poll_at(lim)),
            self.http.as_ref().and_then(|s| s.poll_at(lim)),
            self.iperf.as_ref().and_then(|s| s.poll_at()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Stop: close the listeners and UDP sockets, tell a running iperf3
    /// client the server is terminating, and close every connection (a
    /// normal close, so what was sent still arrives). Keep polling the world
    /// for a moment afterwards so the FINs go out. The services are empty
    /// afterwards; polling them again does nothing.
    pub fn shutdown<H: NfHooks>(&mut self, w: &mut World<'_, H>) {
        for s in [self.echo_tcp.take(), self.discard_tcp.take()].into_iter().flatten() {
            s.shutdown(w);
        }
        for s in [self.echo_udp.take(), self.discard_udp.take()].into_iter().flatten() {
            s.shutdown(w);
        }
        if let Some(s) = self.http.take() {
            s.shutdown(w);
        }
        if let Some(s) = self.iperf.take() {
            s.shutdown(w);
        }
        for st in [&mut self.stats.echo_tcp, &mut self.stats.discard_tcp, &mut self.stats.http, &mut self.stats.iperf] {
            st.active = 0;
        }
        self.running.clear();
        self.busy = None;
    }
}

/// `0.0.0.0:port`.
fn any(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
}

/// A TCP listener on the service's port. (Connections of an earlier run
/// in TIME-WAIT do not hold the port: no `SO_REUSEADDR` is needed.)
fn listener<H: NfHooks>(w: &mut World<'_, H>, ns: NsId, service: Service) -> Result<SockId, StartError> {
    let port = service.port();
    let err = |call, errno| StartError { service, port, udp: false, call, errno };
    let id = w.socket(ns, SockType::Tcp).map_err(|e| err("socket", e))?;
    let r = w
        .bind(id, any(port))
        .map_err(|e| err("bind", e))
        .and_then(|()| w.listen(id, BACKLOG).map_err(|e| err("listen", e)));
    match r {
        Ok(()) => Ok(id),
        Err(e) => {
            let _ = w.close(id);
            Err(e)
        }
    }
}

/// A UDP socket bound to the service's port.
fn datagram_socket<H: NfHooks>(w: &mut World<'_, H>, ns: NsId, service: Service) -> Result<SockId, StartError> {
    let port = service.port();
    let err = |call, errno| StartError { service, port, udp: true, call, errno };
    let id = w.socket(ns, SockType::Udp).map_err(|e| err("socket", e))?;
    match w.bind(id, any(port)) {
        Ok(()) => Ok(id),
        Err(e) => {
            let _ = w.close(id);
            Err(err("bind", e))
        }
    }
}

/// The connections waiting on `listener`, at most [`ACCEPTS_PER_POLL`]
/// and at most `room`, counted as accepted.
fn accept_new<H: NfHooks>(
    w: &mut World<'_, H>,
    listener: SockId,
    room: usize,
    st: &mut ServiceStats,
) -> Vec<(SockId, SocketAddrV4)> {
    let new: Vec<_> = (0..room.min(ACCEPTS_PER_POLL)).map_while(|_| w.accept(listener).ok()).collect();
    st.accepted += new.len() as u64;
    new
}

/// Queue `buf[*off..]` on `id` as far as its send buffer takes it,
/// advancing `off`. `None` when all of it went, else how the turn ends.
fn send_rest<H: NfHooks>(
    w: &mut World<'_, H>,
    id: SockId,
    buf: &[u8],
    off: &mut usize,
    st: &mut ServiceStats,
) -> Option<Turn> {
    while *off < buf.len() {
        match w.sendmsg(id, &buf[*off..], None) {
            Ok(n) => {
                *off += n;
                st.bytes_out += n as u64;
            }
            Err(Errno::WouldBlock) => return Some(Turn::Keep),
            Err(_) => return Some(Turn::Failed),
        }
    }
    None
}

/// Take whole packets off `id` and free them, without copying, up to
/// [`BYTES_PER_POLL`]: `Close` at the end of the stream, `Keep` when none
/// waits, `Busy` at the budget.
fn discard_rest<H: NfHooks>(w: &mut World<'_, H>, id: SockId, st: &mut ServiceStats) -> Turn {
    let mut budget = BYTES_PER_POLL;
    while budget > 0 {
        match w.recv_skb(id) {
            Ok((skb, _)) => {
                let n = w.pool_ref().len(&skb);
                w.pool().free(skb);
                budget = budget.saturating_sub(n.max(1));
                st.bytes_in += n as u64;
            }
            Err(Errno::WouldBlock) => return Turn::Keep,
            Err(Errno::NotConnected) => return Turn::Close,
            Err(_) => return Turn::Failed,
        }
    }
    Turn::Busy
}

/// How a connection's turn in [`Services::poll`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Turn {
    /// Waiting for the peer or for room to send.
    Keep,
    /// Stopped at a budget: more to do at once.
    Busy,
    /// Finished: close normally.
    Close,
    /// Reset, failed, refused or timed out: close, and count an error.
    Failed,
}

impl Turn {
    /// Whether connection `id` stays. Closes it otherwise (counting a
    /// failure), and notes in `busy` a stop at a budget.
    fn settle<H: NfHooks>(self, w: &mut World<'_, H>, id: SockId, st: &mut ServiceStats, busy: &mut bool) -> bool {
        match self {
            Turn::Keep => true,
            Turn::Busy => {
                *busy = true;
                true
            }
            Turn::Close | Turn::Failed => {
                st.errors += u64::from(self == Turn::Failed);
                let _ = w.close(id);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_without_repeats_and_name_what_they_refuse() {
        assert_eq!(Service::parse_list("echo,http,echo"), Ok(vec![Service::Echo, Service::Http]));
        assert_eq!(Service::parse_list("all").map(|v| v.len()), Ok(4));
        assert_eq!(Service::parse_list(" iperf , discard ,"), Ok(vec![Service::Iperf, Service::Discard]));
        assert_eq!(Service::parse_list(""), Ok(vec![]));
        let e = Service::parse_list("echo,ftp").unwrap_err();
        assert_eq!(e, UnknownService("ftp".into()));
        assert_eq!(e.to_string(), "unknown service `ftp` (known: echo, discard, http, iperf, or all)");
        assert_eq!(Service::Iperf.port(), 5201);
        assert_eq!("http".parse(), Ok(Service::Http));
    }
}

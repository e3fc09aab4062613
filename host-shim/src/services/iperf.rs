//! A throughput server that speaks iperf3's protocol, so a stock
//! `iperf3 -c ADDR` (with `-R`, `--bidir`, `-P n`, `-t`, `-n`, `-O`,
//! `--json`, `--get-server-output`) measures the stack.
//!
//! The protocol, as iperf3 3.x speaks it over TCP port 5201:
//!
//! 1. The client opens the control connection and sends its cookie: 36
//!    printable characters and a NUL ([`COOKIE_LEN`] bytes).
//! 2. Every step after that is a state byte from the server (a signed
//!    char, [`msg`]): `PARAM_EXCHANGE`, to which the client answers with its
//!    parameters as JSON, preceded by their length as a 32-bit big-endian
//!    number; then `CREATE_STREAMS`, to which the client opens `parallel`
//!    data connections to the same port (twice as many with `--bidir`),
//!    each starting with the same cookie.
//! 3. With every stream accepted the server sends `TEST_START` and
//!    `TEST_RUNNING`, and the data flows: from the client, or from the
//!    server with `reverse`, or both ways with `bidirectional` (the first
//!    `parallel` streams carry the client's data, the rest the server's).
//! 4. When its time or byte count is up the client sends `TEST_END` on the
//!    control connection. The server closes the streams and sends
//!    `EXCHANGE_RESULTS`; the client sends its results (length and JSON),
//!    the server its own, then `DISPLAY_RESULTS`; the client prints the
//!    summary and ends with `IPERF_DONE`.
//!
//! Results name each stream by an id that both sides assign in the order
//! the streams were made: 1, then 3, 4, 5, ... (iperf3 skips 2). A second
//! client while a test runs gets `ACCESS_DENIED`, and parameters the server
//! cannot honour get `SERVER_ERROR` with iperf3's error number, which the
//! client prints as text. One test runs at a time; each step outside the
//! test itself must finish within [`Limits::iperf_step_timeout`], and a test
//! that overruns its duration by [`GRACE`] is ended with `SERVER_TERMINATE`.
//!
//! Received data is taken off the sockets a packet at a time without
//! copying; sent data comes from one block of [`BLOCK`] bytes.

use std::net::SocketAddrV4;
use std::time::Duration;

use serde_json::{Value, json};
use skbnet::netfilter::NfHooks;
use skbnet::netns::World;
use skbnet::socket::{Errno, SockId, SockOpt, TcpOpt};
use skbnet::time::Instant;

use super::{BYTES_PER_POLL, IperfSummary, Limits, ServiceStats, Stats, accept_new};

/// The cookie's length: 36 characters and a NUL.
pub(crate) const COOKIE_LEN: usize = 37;
/// Largest JSON document (parameters or results) the server reads.
const MAX_JSON: usize = 64 * 1024;
/// Connections accepted but whose cookie has not yet come.
const MAX_PENDING: usize = 8;
/// Bytes offered to a sending stream in one `sendmsg`.
const BLOCK: usize = 128 * 1024;
/// How long a test may overrun its duration before the server ends it.
pub(crate) const GRACE: Duration = Duration::from_secs(10);
/// How long a test without a duration (`-n`, `-k`) may run.
const UNTIMED_MAX: Duration = Duration::from_secs(3600);
/// Longest test iperf3 accepts (`MAX_TIME`, a day).
const MAX_TIME_S: i64 = 86_400;
/// Largest block iperf3 accepts (`MAX_BLOCKSIZE`, 1 MiB).
const MAX_LEN: i64 = 1 << 20;
/// Socket buffers a client may ask for with `-w`, at most.
const MAX_WINDOW: u32 = 8 << 20;

/// iperf3's state bytes.
pub(crate) mod msg {
    /// The streams are made; the test starts.
    pub const TEST_START: u8 = 1;
    /// Data flows.
    pub const TEST_RUNNING: u8 = 2;
    /// (client) Time or bytes are up.
    pub const TEST_END: u8 = 4;
    /// Send your parameters.
    pub const PARAM_EXCHANGE: u8 = 9;
    /// Open the data streams.
    pub const CREATE_STREAMS: u8 = 10;
    /// The server is going away.
    pub const SERVER_TERMINATE: u8 = 11;
    /// (client) The client is going away.
    pub const CLIENT_TERMINATE: u8 = 12;
    /// Results follow, the client's first.
    pub const EXCHANGE_RESULTS: u8 = 13;
    /// Print the summary.
    pub const DISPLAY_RESULTS: u8 = 14;
    /// (client) All done.
    pub const IPERF_DONE: u8 = 16;
    /// Busy with another test (-1).
    pub const ACCESS_DENIED: u8 = 0xff;
    /// An error number and an errno follow (-2).
    pub const SERVER_ERROR: u8 = 0xfe;
}

/// iperf3's error numbers (`i_errno`) the server reports, and the errno beside one.
mod ierr {
    pub const IEDURATION: i32 = 5;
    pub const IENUMSTREAMS: i32 = 6;
    pub const IEBLOCKSIZE: i32 = 7;
    pub const IEOMIT: i32 = 12;
    pub const IEREVERSEBIDIR: i32 = 25;
    pub const IERECVPARAMS: i32 = 114;
    pub const IEPROTOCOL: i32 = 131;
    /// `EPROTONOSUPPORT`.
    pub const EPROTONOSUPPORT: i32 = 93;
}

/// A test's parameters, from the client's JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Params {
    /// Streams each way (`-P`).
    pub parallel: usize,
    /// The server sends (`-R`).
    pub reverse: bool,
    /// Both send (`--bidir`).
    pub bidir: bool,
    /// Seconds the client sends for (`-t`); zero with `-n` or `-k`.
    pub time_s: u64,
    /// Seconds at the start not counted (`-O`).
    pub omit_s: u64,
    /// Block size (`-l`).
    pub len: u64,
    /// Bytes to send in all (`-n`), or zero.
    pub num: u64,
    /// Blocks to send in all (`-k`), or zero.
    pub blockcount: u64,
    /// Socket buffer size (`-w`).
    pub window: Option<u32>,
    /// `TCP_NODELAY` on the streams (`-N`).
    pub nodelay: bool,
    /// The client wants the server's report (`--get-server-output`).
    pub server_output: bool,
}

impl Params {
    /// Streams in all.
    pub fn streams(&self) -> usize {
        if self.bidir { 2 * self.parallel } else { self.parallel }
    }

    /// Whether the `k`-th stream made (from zero) is one the server sends on.
    pub fn sends_on(&self, k: usize) -> bool {
        self.reverse || (self.bidir && k >= self.parallel)
    }

    /// Bytes the server may send in all, or `None` for no limit.
    pub fn send_limit(&self) -> Option<u64> {
        match (self.num, self.blockcount) {
            (0, 0) => None,
            (0, k) => Some(k.saturating_mul(self.len)),
            (n, _) => Some(n),
        }
    }
}

/// The client's parameters, or the error to report (`i_errno`, errno).
pub(crate) fn parse_params(json: &[u8], max_streams: usize) -> Result<Params, (i32, i32)> {
    let v: Value = serde_json::from_slice(json).map_err(|_| (ierr::IERECVPARAMS, 0))?;
    let o = v.as_object().ok_or((ierr::IERECVPARAMS, 0))?;
    // iperf3 reads numbers as C ints and flags by their presence.
    let int = |k: &str| o.get(k).and_then(Value::as_f64).map(|f| f as i64);
    let has = |k: &str| o.contains_key(k);
    if has("udp") || has("sctp") {
        return Err((ierr::IEPROTOCOL, ierr::EPROTONOSUPPORT));
    }
    let parallel = int("parallel").unwrap_or(1);
    if parallel < 1 || parallel > max_streams as i64 {
        return Err((ierr::IENUMSTREAMS, 0));
    }
    let (reverse, bidir) = (has("reverse"), has("bidirectional"));
    if reverse && bidir {
        return Err((ierr::IEREVERSEBIDIR, 0));
    }
    let time = int("time").unwrap_or(10);
    if !(0..=MAX_TIME_S).contains(&time) {
        return Err((ierr::IEDURATION, 0));
    }
    let omit = int("omit").unwrap_or(0);
    if !(0..=600).contains(&omit) {
        return Err((ierr::IEOMIT, 0));
    }
    let len = int("len").unwrap_or(128 * 1024);
    if !(1..=MAX_LEN).contains(&len) {
        return Err((ierr::IEBLOCKSIZE, 0));
    }
    Ok(Params {
        parallel: parallel as usize,
        reverse,
        bidir,
        time_s: time as u64,
        omit_s: omit as u64,
        len: len as u64,
        num: int("num").unwrap_or(0).max(0) as u64,
        blockcount: int("blockcount").unwrap_or(0).max(0) as u64,
        window: int("window").filter(|&w| w > 0).map(|w| w.min(i64::from(MAX_WINDOW)) as u32),
        nodelay: has("nodelay"),
        server_output: int("get_server_output").is_some_and(|v| v != 0),
    })
}

/// The bytes the client's results say its streams moved.
fn client_bytes(json: &[u8]) -> u64 {
    let Ok(v) = serde_json::from_slice::<Value>(json) else { return 0 };
    let streams = v.get("streams").and_then(Value::as_array);
    streams.into_iter().flatten().filter_map(|s| s.get("bytes").and_then(Value::as_f64)).map(|b| b as u64).sum()
}

/// The id iperf3 gives the `k`-th stream made (from zero): 1, 3, 4, 5, ...
pub(crate) fn stream_id(k: usize) -> u64 {
    if k == 0 { 1 } else { k as u64 + 2 }
}

/// A connection whose cookie is still coming.
struct Pending {
    id: SockId,
    peer: SocketAddrV4,
    cookie: [u8; COOKIE_LEN],
    got: usize,
    until: Instant,
}

/// Where a test is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// `PARAM_EXCHANGE` sent; reading the parameters.
    Params,
    /// `CREATE_STREAMS` sent; accepting streams.
    CreateStreams,
    /// Data flows until `TEST_END`.
    Running,
    /// `EXCHANGE_RESULTS` sent; reading the client's results.
    Results,
    /// Our results and `DISPLAY_RESULTS` sent; waiting for `IPERF_DONE`.
    Display,
    /// An error was queued for the client: close once it went.
    Refused,
}

/// One data connection.
struct Stream {
    id: SockId,
    /// The server sends on it (else it receives).
    send: bool,
    /// Bytes moved after the omitted seconds.
    bytes: u64,
    /// Still usable.
    open: bool,
}

/// The test in progress.
struct Test {
    ctrl: SockId,
    peer: SocketAddrV4,
    cookie: [u8; COOKIE_LEN],
    phase: Phase,
    /// The current step must end by then.
    until: Instant,
    /// Control bytes received and not yet used.
    rx: Vec<u8>,
    /// Control bytes to send.
    tx: Vec<u8>,
    params: Params,
    streams: Vec<Stream>,
    /// When `TEST_RUNNING` went out, and when counting began (after `-O`).
    start: Instant,
    counting: Instant,
    end: Option<Instant>,
    /// Everything the server sent, omitted seconds included (for `-n`, `-k`).
    sent_total: u64,
    client_bytes: u64,
}

/// How a test's turn ended.
enum Outcome {
    Keep,
    Busy,
    Finished,
    Failed,
}

/// The iperf3 service.
pub(crate) struct IperfServer {
    listener: SockId,
    pending: Vec<Pending>,
    test: Option<Test>,
    block: Vec<u8>,
}

impl IperfServer {
    /// The service on `listener`.
    pub(crate) fn new(listener: SockId) -> IperfServer {
        let block = (0..BLOCK).map(|i| (i % 251) as u8).collect();
        IperfServer { listener, pending: Vec::new(), test: None, block }
    }

    /// Accept, read cookies, and move the test along. True when it
    /// stopped at a bound.
    pub(crate) fn poll<H: NfHooks>(
        &mut self,
        w: &mut World<'_, H>,
        now: Instant,
        lim: &Limits,
        st: &mut Stats,
    ) -> bool {
        let until = now + lim.iperf_step_timeout;
        for (id, peer) in accept_new(w, self.listener, MAX_PENDING.saturating_sub(self.pending.len()), &mut st.iperf) {
            self.pending.push(Pending { id, peer, cookie: [0; COOKIE_LEN], got: 0, until });
        }
        self.cookies(w, now, lim, &mut st.iperf);
        let mut busy = false;
        if let Some(t) = self.test.as_mut() {
            match t.turn(w, now, lim, &self.block, &mut st.iperf) {
                Outcome::Keep => {}
                Outcome::Busy => busy = true,
                Outcome::Finished => {
                    st.iperf.requests += 1;
                    st.last_iperf = Some(t.summary());
                    t.close(w);
                    self.test = None;
                }
                Outcome::Failed => {
                    st.iperf.errors += 1;
                    t.close(w);
                    self.test = None;
                }
            }
        }
        let in_test = self.test.as_ref().map_or(0, |t| 1 + t.streams.iter().filter(|s| s.open).count());
        st.iperf.active = (self.pending.len() + in_test) as u64;
        busy
    }

    /// Read the cookies of new connections and give each its place: the
    /// control connection of a new test, a stream of the test, or a refusal.
    fn cookies<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant, lim: &Limits, st: &mut ServiceStats) {
        let mut i = 0;
        while i < self.pending.len() {
            let p = &mut self.pending[i];
            match w.recvmsg(p.id, &mut p.cookie[p.got..]) {
                Ok(m) if m.len > 0 => {
                    p.got += m.len;
                    st.bytes_in += m.len as u64;
                }
                Err(Errno::WouldBlock) if now < p.until => {}
                _ => {
                    // Closed, reset, or silent for too long.
                    st.errors += 1;
                    let _ = w.close(p.id);
                    self.pending.remove(i);
                    continue;
                }
            }
            if p.got < COOKIE_LEN {
                i += 1;
                continue;
            }
            let p = self.pending.remove(i);
            self.place(w, now, lim, p, st);
        }
    }

    /// A connection whose cookie came.
    fn place<H: NfHooks>(
        &mut self,
        w: &mut World<'_, H>,
        now: Instant,
        lim: &Limits,
        p: Pending,
        st: &mut ServiceStats,
    ) {
        match self.test.as_mut() {
            None => {
                let _ = w.set_tcp_option(p.id, TcpOpt::NoDelay(true));
                self.test = Some(Test {
                    ctrl: p.id,
                    peer: p.peer,
                    cookie: p.cookie,
                    phase: Phase::Params,
                    until: now + lim.iperf_step_timeout,
                    rx: Vec::new(),
                    tx: vec![msg::PARAM_EXCHANGE],
                    params: Params::default(),
                    streams: Vec::new(),
                    start: now,
                    counting: now,
                    end: None,
                    sent_total: 0,
                    client_bytes: 0,
                });
            }
            Some(t) if t.phase == Phase::CreateStreams && t.cookie == p.cookie => t.add_stream(w, now, p.id),
            Some(_) => {
                // Busy (iperf3's server does the same): one byte, then close.
                let _ = w.sendmsg(p.id, &[msg::ACCESS_DENIED], None);
                let _ = w.close(p.id);
                st.errors += 1;
            }
        }
    }

    /// The earliest deadline of a connection.
    pub(crate) fn poll_at(&self) -> Option<Instant> {
        let pending = self.pending.iter().map(|p| p.until);
        pending.chain(self.test.as_ref().map(|t| t.until)).min()
    }

    /// Tell a client in a test that the server is going, and close everything.
    pub(crate) fn shutdown<H: NfHooks>(mut self, w: &mut World<'_, H>) {
        let _ = w.close(self.listener);
        for p in self.pending.drain(..) {
            let _ = w.close(p.id);
        }
        if let Some(t) = self.test.as_mut() {
            if t.phase != Phase::Display {
                let _ = w.sendmsg(t.ctrl, &[msg::SERVER_TERMINATE], None);
            }
            t.close(w);
        }
    }
}

impl Test {
    /// Take stream `id`, and start the test when it was the last.
    fn add_stream<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant, id: SockId) {
        let send = self.params.sends_on(self.streams.len());
        if let Some(b) = self.params.window {
            let _ = w.setsockopt(id, SockOpt::RcvBuf(b));
            let _ = w.setsockopt(id, SockOpt::SndBuf(b));
        }
        if self.params.nodelay {
            let _ = w.set_tcp_option(id, TcpOpt::NoDelay(true));
        }
        self.streams.push(Stream { id, send, bytes: 0, open: true });
        if self.streams.len() < self.params.streams() {
            return;
        }
        self.tx.extend_from_slice(&[msg::TEST_START, msg::TEST_RUNNING]);
        self.phase = Phase::Running;
        self.start = now;
        self.counting = now + Duration::from_secs(self.params.omit_s);
        let length = match self.params.time_s {
            0 => UNTIMED_MAX,
            t => Duration::from_secs(t + self.params.omit_s) + GRACE,
        };
        self.until = now + length;
    }

    /// Send control bytes, read control bytes, act on them, move data.
    fn turn<H: NfHooks>(
        &mut self,
        w: &mut World<'_, H>,
        now: Instant,
        lim: &Limits,
        block: &[u8],
        st: &mut ServiceStats,
    ) -> Outcome {
        if self.flush(w, st).is_err() {
            return Outcome::Failed;
        }
        if self.phase == Phase::Refused {
            return if self.tx.is_empty() || now >= self.until { Outcome::Failed } else { Outcome::Keep };
        }
        let eof = match self.read(w, st) {
            Ok(eof) => eof,
            Err(_) => return Outcome::Failed,
        };
        // Each message moves the test one phase on; what came may hold more than one.
        for _ in 0..4 {
            let before = self.phase;
            if let Some(o) = self.act(w, now, lim, st) {
                return o;
            }
            if self.phase == before {
                break;
            }
        }
        if self.flush(w, st).is_err() {
            return Outcome::Failed;
        }
        if eof {
            // The client left: after its last word, that is the end.
            return if self.phase == Phase::Display { Outcome::Finished } else { Outcome::Failed };
        }
        if now >= self.until {
            if self.phase == Phase::Running {
                let _ = w.sendmsg(self.ctrl, &[msg::SERVER_TERMINATE], None);
            }
            return Outcome::Failed;
        }
        if self.phase == Phase::Running && self.move_data(w, now, block, st) {
            return Outcome::Busy;
        }
        Outcome::Keep
    }

    /// Queue the control bytes the socket takes.
    fn flush<H: NfHooks>(&mut self, w: &mut World<'_, H>, st: &mut ServiceStats) -> Result<(), Errno> {
        while !self.tx.is_empty() {
            match w.sendmsg(self.ctrl, &self.tx, None) {
                Ok(n) => {
                    self.tx.drain(..n);
                    st.bytes_out += n as u64;
                }
                Err(Errno::WouldBlock) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Read what the control connection has, as far as one length-prefixed
    /// document of [`MAX_JSON`] fits. True at the end of the client's stream.
    fn read<H: NfHooks>(&mut self, w: &mut World<'_, H>, st: &mut ServiceStats) -> Result<bool, Errno> {
        loop {
            let have = self.rx.len();
            let room = (4 + MAX_JSON).saturating_sub(have).min(4096);
            if room == 0 {
                return Ok(false);
            }
            self.rx.resize(have + room, 0);
            let r = w.recvmsg(self.ctrl, &mut self.rx[have..]);
            let n = r.map_or(0, |m| m.len);
            self.rx.truncate(have + n);
            st.bytes_in += n as u64;
            match r {
                Ok(m) if m.len == 0 => return Ok(true),
                Ok(_) => {}
                Err(Errno::WouldBlock) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    /// A whole length-prefixed document at the front of `rx`, taken off
    /// it; `Err` when its length is beyond [`MAX_JSON`].
    fn document(&mut self) -> Result<Option<Vec<u8>>, ()> {
        let Some(&[a, b, c, d]) = self.rx.get(..4) else { return Ok(None) };
        let len = u32::from_be_bytes([a, b, c, d]) as usize;
        if len > MAX_JSON {
            return Err(());
        }
        if self.rx.len() < 4 + len {
            return Ok(None);
        }
        let doc = self.rx[4..4 + len].to_vec();
        self.rx.drain(..4 + len);
        Ok(Some(doc))
    }

    /// Act on what the client said. `Some` when the test ends here.
    fn act<H: NfHooks>(
        &mut self,
        w: &mut World<'_, H>,
        now: Instant,
        lim: &Limits,
        st: &mut ServiceStats,
    ) -> Option<Outcome> {
        match self.phase {
            Phase::Params => match self.document() {
                Err(()) => return Some(Outcome::Failed),
                Ok(None) => {}
                Ok(Some(doc)) => match parse_params(&doc, lim.iperf_streams) {
                    Ok(p) => {
                        self.params = p;
                        self.tx.push(msg::CREATE_STREAMS);
                        self.phase = Phase::CreateStreams;
                        self.until = now + lim.iperf_step_timeout;
                    }
                    Err((ie, errno)) => {
                        self.tx.push(msg::SERVER_ERROR);
                        self.tx.extend_from_slice(&ie.to_be_bytes());
                        self.tx.extend_from_slice(&errno.to_be_bytes());
                        self.phase = Phase::Refused;
                    }
                },
            },
            Phase::Running => {
                let &m = self.rx.first()?;
                self.rx.remove(0);
                match m {
                    msg::TEST_END => {}
                    // The client gave up (Ctrl-C).
                    msg::CLIENT_TERMINATE => return Some(Outcome::Failed),
                    // A message out of turn.
                    _ => return Some(Outcome::Failed),
                }
                self.stop(w, now, st);
                self.tx.push(msg::EXCHANGE_RESULTS);
                self.phase = Phase::Results;
                self.until = now + lim.iperf_step_timeout;
            }
            Phase::Results => match self.document() {
                Err(()) => return Some(Outcome::Failed),
                Ok(None) => {}
                Ok(Some(doc)) => {
                    self.client_bytes = client_bytes(&doc);
                    let results = self.results();
                    self.tx.extend_from_slice(&(results.len() as u32).to_be_bytes());
                    self.tx.extend_from_slice(&results);
                    self.tx.push(msg::DISPLAY_RESULTS);
                    self.phase = Phase::Display;
                    self.until = now + lim.iperf_step_timeout;
                }
            },
            Phase::Display if !self.rx.is_empty() => {
                let done = self.rx[0] == msg::IPERF_DONE;
                return Some(if done { Outcome::Finished } else { Outcome::Failed });
            }
            // Nothing is expected from the client while streams are made.
            Phase::CreateStreams if !self.rx.is_empty() => return Some(Outcome::Failed),
            Phase::CreateStreams | Phase::Display | Phase::Refused => {}
        }
        None
    }

    /// Move data on every stream, each within its budget. True when one
    /// stopped at the budget rather than at an empty or full socket.
    fn move_data<H: NfHooks>(
        &mut self,
        w: &mut World<'_, H>,
        now: Instant,
        block: &[u8],
        st: &mut ServiceStats,
    ) -> bool {
        let counting = now >= self.counting;
        let mut busy = false;
        let limit = self.params.send_limit();
        for s in self.streams.iter_mut().filter(|s| s.open) {
            let mut budget = BYTES_PER_POLL;
            while budget > 0 {
                let moved = if s.send {
                    let left = limit.map_or(u64::MAX, |l| l.saturating_sub(self.sent_total));
                    let n = block.len().min(budget).min(usize::try_from(left).unwrap_or(usize::MAX));
                    if n == 0 {
                        break;
                    }
                    let r = w.sendmsg(s.id, &block[..n], None);
                    if let Ok(k) = r {
                        self.sent_total += k as u64;
                        st.bytes_out += k as u64;
                    }
                    r
                } else {
                    let r = w.recv_skb(s.id).map(|(skb, _)| {
                        let k = w.pool_ref().len(&skb);
                        w.pool().free(skb);
                        k
                    });
                    if let Ok(k) = r {
                        st.bytes_in += k as u64;
                    }
                    r
                };
                match moved {
                    Ok(k) => {
                        s.bytes += if counting { k as u64 } else { 0 };
                        budget = budget.saturating_sub(k.max(1));
                    }
                    Err(Errno::WouldBlock) => break,
                    // The client closed or reset the stream.
                    Err(_) => {
                        s.open = false;
                        break;
                    }
                }
            }
            busy |= budget == 0;
        }
        busy
    }

    /// `TEST_END`: count what already arrived, then close the streams.
    fn stop<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant, st: &mut ServiceStats) {
        let counting = now >= self.counting;
        for s in self.streams.iter_mut().filter(|s| s.open && !s.send) {
            for _ in 0..BYTES_PER_POLL / 1024 {
                let Ok((skb, _)) = w.recv_skb(s.id) else { break };
                let k = w.pool_ref().len(&skb) as u64;
                w.pool().free(skb);
                st.bytes_in += k;
                s.bytes += if counting { k } else { 0 };
            }
        }
        for s in &mut self.streams {
            let _ = w.close(s.id);
            s.open = false;
        }
        self.end = Some(now);
    }

    /// Seconds counted: from the end of the omitted ones to `TEST_END`.
    fn seconds(&self) -> f64 {
        self.end.map_or(0.0, |e| e.saturating_duration_since(self.counting).as_secs_f64())
    }

    /// Our results, as iperf3's `send_results` lays them out. No CPU
    /// figures and no retransmission counts: the socket API has neither.
    fn results(&self) -> Vec<u8> {
        let secs = self.seconds();
        let sender = self.streams.iter().any(|s| s.send);
        let streams: Vec<Value> = self
            .streams
            .iter()
            .enumerate()
            .map(|(k, s)| {
                json!({"id": stream_id(k), "bytes": s.bytes, "retransmits": -1, "jitter": 0, "errors": 0,
                       "packets": 0, "start_time": 0, "end_time": secs})
            })
            .collect();
        let mut r = json!({
            "cpu_util_total": 0, "cpu_util_user": 0, "cpu_util_system": 0,
            "sender_has_retransmits": if sender { 0 } else { -1 },
            "streams": streams,
        });
        if self.params.server_output {
            r["server_output_text"] = Value::String(self.report());
        }
        r.to_string().into_bytes()
    }

    /// The server's side of the test in a few lines.
    fn report(&self) -> String {
        let s = self.summary();
        let rate = |b: u64| if s.seconds > 0.0 { b as f64 * 8.0 / s.seconds / 1e6 } else { 0.0 };
        format!(
            "skbnet iperf3 service: test from {}, {} stream(s)\n{:.2} s: received {} bytes ({:.2} Mbit/s), sent {} bytes ({:.2} Mbit/s)\n",
            s.client,
            s.streams,
            s.seconds,
            s.bytes_received,
            rate(s.bytes_received),
            s.bytes_sent,
            rate(s.bytes_sent)
        )
    }

    /// The test for [`Stats::last_iperf`].
    fn summary(&self) -> IperfSummary {
        let sum = |send: bool| self.streams.iter().filter(|s| s.send == send).map(|s| s.bytes).sum();
        IperfSummary {
            client: self.peer,
            streams: self.params.parallel,
            reverse: self.params.reverse,
            bidir: self.params.bidir,
            bytes_received: sum(false),
            bytes_sent: sum(true),
            seconds: self.seconds(),
            client_bytes: self.client_bytes,
        }
    }

    /// Close the control connection and every stream still open.
    fn close<H: NfHooks>(&mut self, w: &mut World<'_, H>) {
        for s in self.streams.iter_mut().filter(|s| s.open) {
            let _ = w.close(s.id);
            s.open = false;
        }
        let _ = w.close(self.ctrl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_parse_as_iperf3_sends_them() {
        let json = br#"{"tcp":true,"omit":0,"time":2,"num":0,"blockcount":0,"parallel":2,"reverse":true,"len":131072,"pacing_timer":1000,"client_version":"3.12"}"#;
        let p = parse_params(json, 8).unwrap();
        assert_eq!((p.parallel, p.reverse, p.bidir, p.time_s, p.len), (2, true, false, 2, 131_072));
        assert_eq!(p.streams(), 2);
        assert!(p.sends_on(0) && p.sends_on(1));
        let p = parse_params(br#"{"tcp":true,"parallel":3,"bidirectional":true,"num":1000}"#, 8).unwrap();
        assert_eq!(p.streams(), 6);
        assert!(!p.sends_on(2) && p.sends_on(3));
        assert_eq!(p.send_limit(), Some(1000));
        let p = parse_params(br#"{"blockcount":3,"len":10}"#, 8).unwrap();
        assert_eq!(p.send_limit(), Some(30));
    }

    #[test]
    fn parameters_we_cannot_honour_get_iperf3_error_numbers() {
        assert_eq!(parse_params(br#"{"udp":true}"#, 8), Err((131, 93)));
        assert_eq!(parse_params(br#"{"parallel":9}"#, 8), Err((6, 0)));
        assert_eq!(parse_params(br#"{"parallel":0}"#, 8), Err((6, 0)));
        assert_eq!(parse_params(br#"{"reverse":true,"bidirectional":true}"#, 8), Err((25, 0)));
        assert_eq!(parse_params(br#"{"len":0}"#, 8), Err((7, 0)));
        assert_eq!(parse_params(br#"{"time":-1}"#, 8), Err((5, 0)));
        assert_eq!(parse_params(b"not json", 8), Err((114, 0)));
        assert_eq!(parse_params(b"[1]", 8), Err((114, 0)));
    }

    #[test]
    fn stream_ids_skip_two_as_iperf3_does() {
        assert_eq!((0..4).map(stream_id).collect::<Vec<_>>(), [1, 3, 4, 5]);
        assert_eq!(client_bytes(br#"{"streams":[{"id":1,"bytes":10},{"id":3,"bytes":5}]}"#), 15);
    }
}

//! An HTTP/1.1 server (RFC 9112) with one purpose: the status page.
//!
//! `GET /` is the page in HTML, `GET /status.txt` the same in plain text;
//! `HEAD` works on both; any other path is 404 and any other method 405.
//! Connections persist (HTTP/1.1's default, or HTTP/1.0 with
//! `Connection: keep-alive`) and requests may be pipelined; answers go in
//! order, one at a time. A request head is read into a buffer of at most
//! [`Limits::http_request_bytes`] (431 beyond it) and must be complete within
//! [`Limits::http_request_timeout`] of its first byte (408). The server
//! takes no request bodies (413). After an answer that closes the
//! connection the server shuts its side and reads until the client
//! closes, so a request still arriving cannot turn the close into a reset
//! that destroys the answer (RFC 9112 §9.6).

use std::time::Duration;

use skbnet::netfilter::NfHooks;
use skbnet::netns::World;
use skbnet::socket::{Errno, Shutdown, SockId};
use skbnet::time::Instant;

use super::status::{self, Format, Page};
use super::{BYTES_PER_POLL, Limits, ServiceStats, Stats, Turn, accept_new, discard_rest, send_rest};

/// Requests one connection may have answered in one call: the rest wait.
const REQUESTS_PER_POLL: usize = 4;
/// How long a closing connection waits for the client to close.
const LINGER: Duration = Duration::from_secs(2);

/// A request head, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    /// The method, as sent.
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The connection stays open after the answer.
    pub keep_alive: bool,
    /// A body follows the head (`Content-Length` above zero, or `Transfer-Encoding`).
    pub has_body: bool,
}

/// What the bytes received so far hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parsed<'a> {
    /// Not yet a whole head.
    Incomplete,
    /// A whole head, `used` bytes long with its blank line.
    Request(Request<'a>, usize),
    /// Not HTTP/1.x: answer with this status and close.
    Bad(u16),
}

/// Where the head ends: the length through its blank line (CRLF CRLF, or
/// bare LFs, which RFC 9112 §2.2 lets a server accept).
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(nl) = buf[i..].iter().position(|&b| b == b'\n') {
        let at = i + nl + 1;
        match buf.get(at..) {
            Some([b'\n', ..]) => return Some(at + 1),
            Some([b'\r', b'\n', ..]) => return Some(at + 2),
            _ => i = at,
        }
    }
    None
}

/// Parse the head at the start of `buf`. Empty lines before the request
/// line are skipped (RFC 9112 §2.2).
pub(crate) fn parse(buf: &[u8]) -> Parsed<'_> {
    let skip = buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    let Some(len) = head_end(&buf[skip..]) else { return Parsed::Incomplete };
    let Ok(head) = std::str::from_utf8(&buf[skip..skip + len]) else { return Parsed::Bad(400) };
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let mut words = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version), None) = (words.next(), words.next(), words.next(), words.next())
    else {
        return Parsed::Bad(400);
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
        return Parsed::Bad(400);
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        v if v.starts_with("HTTP/") => return Parsed::Bad(505),
        _ => return Parsed::Bad(400),
    };
    let Some(path) = path_of(target) else { return Parsed::Bad(400) };
    let mut req = Request { method, path, keep_alive: http11, has_body: false };
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else { return Parsed::Bad(400) };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Parsed::Bad(400);
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    req.keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") && !http11 {
                    req.keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            match value.parse::<u64>() {
                Ok(n) => req.has_body |= n > 0,
                Err(_) => return Parsed::Bad(400),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            req.has_body = true;
        }
    }
    Parsed::Request(req, skip + len)
}

/// The path of a request target: origin form (`/a?b`) or absolute form
/// (`http://host/a`), without the query.
fn path_of(target: &str) -> Option<&str> {
    let path = if target.starts_with('/') {
        target
    } else {
        let rest = target.strip_prefix("http://").or_else(|| target.strip_prefix("https://"))?;
        rest.find('/').map_or("/", |i| &rest[i..])
    };
    Some(path.split(['?', '#']).next().unwrap_or("/"))
}

/// The reason phrase of a status.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// A whole response: status line, headers, and the body unless `head_only`.
fn response(status: u16, content_type: &str, body: &[u8], keep_alive: bool, head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nServer: skbnet\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: {}\r\n",
        reason(status),
        body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    if status == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

/// A short error page.
fn error_response(status: u16, keep_alive: bool, head_only: bool) -> Vec<u8> {
    let body = format!("{status} {}\n", reason(status));
    response(status, "text/plain; charset=utf-8", body.as_bytes(), keep_alive, head_only)
}

/// The answer to a request.
fn answer<H: NfHooks>(w: &World<'_, H>, req: &Request<'_>, st: &Stats, page: &Page<'_>) -> (Vec<u8>, bool) {
    let head_only = req.method == "HEAD";
    if req.method != "GET" && !head_only {
        let keep = req.keep_alive && !req.has_body;
        return (error_response(405, keep, false), keep);
    }
    if req.has_body {
        return (error_response(413, false, head_only), false);
    }
    let (format, content_type) = match req.path {
        "/" | "/index.html" => (Format::Html, "text/html; charset=utf-8"),
        "/status.txt" => (Format::Text, "text/plain; charset=utf-8"),
        _ => return (error_response(404, req.keep_alive, head_only), req.keep_alive),
    };
    let body = status::render(w, st, page, format);
    (response(200, content_type, body.as_bytes(), req.keep_alive, head_only), req.keep_alive)
}

/// Where a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading requests and answering them.
    Serving,
    /// The last answer is queued and our side shut: reading until the
    /// client closes, or this deadline.
    Lingering(Instant),
}

/// One connection.
struct Conn {
    id: SockId,
    phase: Phase,
    /// Bytes of requests received and not yet answered.
    req: Vec<u8>,
    /// When the first byte of the request in `req` came.
    req_since: Option<Instant>,
    /// The answer being sent, from `off`, and whether to close after it.
    resp: Vec<u8>,
    off: usize,
    close_after: bool,
    /// Last time a byte moved.
    last: Instant,
}

/// The HTTP service.
pub(crate) struct HttpServer {
    listener: SockId,
    conns: Vec<Conn>,
}

impl HttpServer {
    /// The service on `listener`.
    pub(crate) fn new(listener: SockId) -> HttpServer {
        HttpServer { listener, conns: Vec::new() }
    }

    /// Accept, then give every connection its turn. True when some
    /// connection stopped at a bound.
    pub(crate) fn poll<H: NfHooks>(
        &mut self,
        w: &mut World<'_, H>,
        now: Instant,
        lim: &Limits,
        st: &mut Stats,
        page: &Page<'_>,
    ) -> bool {
        for (id, _) in accept_new(w, self.listener, lim.conns.saturating_sub(self.conns.len()), &mut st.http) {
            self.conns.push(Conn {
                id,
                phase: Phase::Serving,
                req: Vec::new(),
                req_since: None,
                resp: Vec::new(),
                off: 0,
                close_after: false,
                last: now,
            });
        }
        // The page shows this connection among the active ones.
        st.http.active = self.conns.len() as u64;
        let mut busy = false;
        self.conns.retain_mut(|c| {
            let turn = match c.phase {
                Phase::Serving => c.serve(w, now, lim, st, page),
                Phase::Lingering(until) => c.linger(w, now, until, &mut st.http),
            };
            turn.settle(w, c.id, &mut st.http, &mut busy)
        });
        st.http.active = self.conns.len() as u64;
        busy
    }

    /// The earliest timeout of a connection.
    pub(crate) fn poll_at(&self, lim: &Limits) -> Option<Instant> {
        self.conns.iter().map(|c| c.deadline(lim)).min()
    }

    /// Close the listener and every connection.
    pub(crate) fn shutdown<H: NfHooks>(self, w: &mut World<'_, H>) {
        let _ = w.close(self.listener);
        for c in self.conns {
            let _ = w.close(c.id);
        }
    }
}

impl Conn {
    /// When this connection times out.
    fn deadline(&self, lim: &Limits) -> Instant {
        match (self.phase, self.req_since) {
            (Phase::Lingering(until), _) => until,
            (Phase::Serving, Some(since)) if self.resp.is_empty() => {
                (since + lim.http_request_timeout).min(self.last + lim.http_idle)
            }
            _ => self.last + lim.http_idle,
        }
    }

    /// Send the answer in progress; answer what is buffered; read more.
    fn serve<H: NfHooks>(
        &mut self,
        w: &mut World<'_, H>,
        now: Instant,
        lim: &Limits,
        st: &mut Stats,
        page: &Page<'_>,
    ) -> Turn {
        let mut answered = 0;
        let mut budget = BYTES_PER_POLL;
        loop {
            if let Some(t) = self.flush(w, now, &mut st.http) {
                return t;
            }
            if self.close_after {
                // Everything is queued: end our side, then wait for theirs.
                let _ = w.shutdown_socket(self.id, Shutdown::Write);
                self.phase = Phase::Lingering(now + LINGER);
                return self.linger(w, now, now + LINGER, &mut st.http);
            }
            if answered == REQUESTS_PER_POLL || budget == 0 {
                return Turn::Busy;
            }
            match parse(&self.req) {
                Parsed::Request(req, used) => {
                    let (resp, keep) = answer(w, &req, st, page);
                    self.respond(resp, keep, used, now);
                    st.http.requests += 1;
                    answered += 1;
                    continue;
                }
                Parsed::Bad(status) => {
                    self.respond(error_response(status, false, false), false, self.req.len(), now);
                    st.http.errors += 1;
                    continue;
                }
                Parsed::Incomplete if self.req.len() >= lim.http_request_bytes => {
                    self.respond(error_response(431, false, false), false, self.req.len(), now);
                    st.http.errors += 1;
                    continue;
                }
                Parsed::Incomplete => {}
            }
            match self.read(w, now, lim, &mut st.http) {
                Ok(0) => return if self.req.is_empty() { Turn::Close } else { Turn::Failed },
                Ok(n) => budget = budget.saturating_sub(n),
                Err(Errno::WouldBlock) => return self.timeouts(now, lim, st),
                Err(_) => return Turn::Failed,
            }
        }
    }

    /// Queue `resp` and forget the `used` bytes of request it answers.
    fn respond(&mut self, resp: Vec<u8>, keep: bool, used: usize, now: Instant) {
        self.resp = resp;
        self.off = 0;
        self.close_after = !keep;
        self.req.drain(..used.min(self.req.len()));
        self.req_since = (!self.req.is_empty()).then_some(now);
        if !keep {
            self.req.clear();
            self.req_since = None;
        }
    }

    /// Send what the socket takes of the answer. `None` when all of it went.
    fn flush<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant, st: &mut ServiceStats) -> Option<Turn> {
        let sent = self.off;
        let stop = send_rest(w, self.id, &self.resp, &mut self.off, st);
        if self.off > sent {
            self.last = now;
        }
        if stop.is_some() {
            return stop;
        }
        self.resp = Vec::new();
        self.off = 0;
        None
    }

    /// Read more of a request, never past the head limit (plus one byte,
    /// so an overlong head shows).
    fn read<H: NfHooks>(
        &mut self,
        w: &mut World<'_, H>,
        now: Instant,
        lim: &Limits,
        st: &mut ServiceStats,
    ) -> Result<usize, Errno> {
        let have = self.req.len();
        let room = (lim.http_request_bytes + 1).saturating_sub(have).max(1);
        self.req.resize(have + room, 0);
        let r = w.recvmsg(self.id, &mut self.req[have..]);
        let n = r.map_or(0, |m| m.len);
        self.req.truncate(have + n);
        if n > 0 {
            st.bytes_in += n as u64;
            self.last = now;
            self.req_since.get_or_insert(now);
        }
        r.map(|m| m.len)
    }

    /// Nothing to read now: has the client taken too long?
    fn timeouts(&mut self, now: Instant, lim: &Limits, st: &mut Stats) -> Turn {
        if self.req_since.is_some_and(|t| now.saturating_duration_since(t) >= lim.http_request_timeout) {
            self.respond(error_response(408, false, false), false, self.req.len(), now);
            st.http.errors += 1;
            return Turn::Busy;
        }
        if now.saturating_duration_since(self.last) >= lim.http_idle {
            // Idle between requests: a quiet close, as servers do.
            return if self.req.is_empty() { Turn::Close } else { Turn::Failed };
        }
        Turn::Keep
    }

    /// Our side is shut: drop what the client still sends, and close when
    /// it closes (or resets), or when the time is up.
    fn linger<H: NfHooks>(&self, w: &mut World<'_, H>, now: Instant, until: Instant, st: &mut ServiceStats) -> Turn {
        if now >= until {
            return Turn::Close;
        }
        match discard_rest(w, self.id, st) {
            Turn::Failed => Turn::Close,
            turn => turn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Parsed<'_> {
        parse(s.as_bytes())
    }

    #[test]
    fn heads_parse_with_their_connection_and_body() {
        let r = Request { method: "GET", path: "/", keep_alive: true, has_body: false };
        assert_eq!(req("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Parsed::Request(r, 27));
        let r10 = Request { method: "HEAD", path: "/status.txt", keep_alive: false, has_body: false };
        assert_eq!(req("HEAD /status.txt?x=1 HTTP/1.0\n\n"), Parsed::Request(r10, 31));
        let Parsed::Request(r, _) = req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") else { panic!() };
        assert!(r.keep_alive);
        let Parsed::Request(r, _) = req("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n") else { panic!() };
        assert!(!r.keep_alive);
        let Parsed::Request(r, _) = req("POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc") else { panic!() };
        assert!(r.has_body);
        let Parsed::Request(r, used) = req("\r\nGET http://h:80/a/b?q HTTP/1.1\r\n\r\nGET") else { panic!() };
        assert_eq!((r.path, used), ("/a/b", 36));
    }

    #[test]
    fn partial_and_bad_heads_are_told_apart() {
        assert_eq!(req(""), Parsed::Incomplete);
        assert_eq!(req("GET / HTTP/1.1\r\nHost: x\r\n"), Parsed::Incomplete);
        assert_eq!(req("GET / HTTP/1.1\r\nHost: x\r\n\r"), Parsed::Incomplete);
        assert_eq!(req("GET /\r\n\r\n"), Parsed::Bad(400));
        assert_eq!(req("GET / HTTP/2.0\r\n\r\n"), Parsed::Bad(505));
        assert_eq!(req("GET / FTP/1.0\r\n\r\n"), Parsed::Bad(400));
        assert_eq!(req("GET x HTTP/1.1\r\n\r\n"), Parsed::Bad(400));
        assert_eq!(req("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"), Parsed::Bad(400));
        assert_eq!(req("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), Parsed::Bad(400));
        assert_eq!(req("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), Parsed::Bad(400));
        assert_eq!(parse(b"GET /\xff HTTP/1.1\r\n\r\n"), Parsed::Bad(400));
    }

    #[test]
    fn responses_carry_length_and_connection() {
        let r = String::from_utf8(response(200, "text/plain", b"hi", false, false)).unwrap();
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("Content-Length: 2\r\n") && r.contains("Connection: close\r\n"));
        assert!(r.ends_with("\r\n\r\nhi"));
        let r = String::from_utf8(response(405, "text/plain", b"no", true, true)).unwrap();
        assert!(r.contains("Allow: GET, HEAD\r\n") && r.ends_with("\r\n\r\n"));
    }
}

//! Echo (RFC 862) and discard (RFC 863), over TCP and over UDP.
//!
//! A TCP echo connection reads a buffer's worth, sends it back, and reads
//! again only when all of it went: a peer that sends without reading fills
//! our send buffer, then its own window, and is held back by TCP itself.
//! When the peer ends its stream we send what is left, then close.
//! Discard reads packets whole (zero-copy) and frees them.

use std::net::SocketAddr;

use skbnet::netfilter::NfHooks;
use skbnet::netns::World;
use skbnet::socket::{Errno, SockId};
use skbnet::time::Instant;

use super::{BYTES_PER_POLL, DATAGRAMS_PER_POLL, Limits, ServiceStats, Turn, accept_new, discard_rest, send_rest};

/// Bytes an echo connection holds between reading and sending back.
const ECHO_BUF: usize = 16 * 1024;
/// Largest UDP payload.
const DATAGRAM_MAX: usize = 65_535;

/// What the service does with what it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Send it back.
    Echo,
    /// Drop it.
    Discard,
}

/// One TCP connection.
struct Conn {
    id: SockId,
    /// Read and not yet sent back (echo), from `off`.
    pending: Vec<u8>,
    off: usize,
    /// The peer ended its stream.
    eof: bool,
    /// Last time a byte moved.
    last: Instant,
}

/// A TCP echo or discard service.
pub(crate) struct StreamServer {
    kind: Kind,
    listener: SockId,
    conns: Vec<Conn>,
}

impl StreamServer {
    /// The service on `listener`.
    pub(crate) fn new(listener: SockId, kind: Kind) -> StreamServer {
        StreamServer { kind, listener, conns: Vec::new() }
    }

    /// Accept, then give every connection its turn. True when some
    /// connection stopped at its byte budget.
    pub(crate) fn poll<H: NfHooks>(
        &mut self,
        w: &mut World<'_, H>,
        now: Instant,
        lim: &Limits,
        st: &mut ServiceStats,
    ) -> bool {
        for (id, _) in accept_new(w, self.listener, lim.conns.saturating_sub(self.conns.len()), st) {
            self.conns.push(Conn { id, pending: Vec::new(), off: 0, eof: false, last: now });
        }
        let mut busy = false;
        let kind = self.kind;
        self.conns.retain_mut(|c| {
            let turn = match kind {
                Kind::Echo => c.echo(w, now, st),
                Kind::Discard => c.discard(w, now, st),
            };
            let turn = match turn {
                Turn::Keep if now.saturating_duration_since(c.last) > lim.stream_idle => Turn::Failed,
                t => t,
            };
            turn.settle(w, c.id, st, &mut busy)
        });
        st.active = self.conns.len() as u64;
        busy
    }

    /// The earliest idle timeout.
    pub(crate) fn poll_at(&self, lim: &Limits) -> Option<Instant> {
        self.conns.iter().map(|c| c.last + lim.stream_idle).min()
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
    /// Send back what was read, read more, until the budget is spent or
    /// the socket has nothing to give or no room to take.
    fn echo<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant, st: &mut ServiceStats) -> Turn {
        let mut budget = BYTES_PER_POLL;
        loop {
            let sent = self.off;
            let stop = send_rest(w, self.id, &self.pending, &mut self.off, st);
            if self.off > sent {
                self.last = now;
            }
            if let Some(turn) = stop {
                return turn;
            }
            self.pending.clear();
            self.off = 0;
            if self.eof {
                return Turn::Close;
            }
            if budget == 0 {
                return Turn::Busy;
            }
            self.pending.resize(ECHO_BUF.min(budget), 0);
            match w.recvmsg(self.id, &mut self.pending) {
                Ok(m) => {
                    self.pending.truncate(m.len);
                    self.eof = m.len == 0;
                    budget -= m.len;
                    st.bytes_in += m.len as u64;
                    self.last = now;
                }
                Err(Errno::WouldBlock) => {
                    self.pending.clear();
                    return Turn::Keep;
                }
                Err(_) => return Turn::Failed,
            }
        }
    }

    /// Take whole packets off the socket and free them.
    fn discard<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant, st: &mut ServiceStats) -> Turn {
        let before = st.bytes_in;
        let turn = discard_rest(w, self.id, st);
        if st.bytes_in > before {
            self.last = now;
        }
        turn
    }
}

/// A UDP echo or discard service.
pub(crate) struct DatagramServer {
    kind: Kind,
    sock: SockId,
    buf: Vec<u8>,
}

/// Source ports a UDP echo never answers: port 0, and the small services
/// that answer everything (echo, discard, daytime, chargen, time), so two
/// of them cannot be set talking to each other forever with one spoofed
/// datagram (CVE-1999-0103).
fn is_loop_port(port: u16) -> bool {
    matches!(port, 0 | 7 | 9 | 13 | 19 | 37)
}

impl DatagramServer {
    /// The service on a bound UDP socket.
    pub(crate) fn new(sock: SockId, kind: Kind) -> DatagramServer {
        DatagramServer { kind, sock, buf: vec![0; DATAGRAM_MAX] }
    }

    /// Handle waiting datagrams. True when some were left for the next call.
    pub(crate) fn poll<H: NfHooks>(&mut self, w: &mut World<'_, H>, st: &mut ServiceStats) -> bool {
        for _ in 0..DATAGRAMS_PER_POLL {
            let m = match w.recvmsg(self.sock, &mut self.buf) {
                Ok(m) => m,
                Err(Errno::WouldBlock) => return false,
                // An ICMP error about an earlier answer, reported once: go on.
                Err(_) => {
                    st.errors += 1;
                    continue;
                }
            };
            st.requests += 1;
            st.bytes_in += m.len as u64;
            if self.kind == Kind::Discard {
                continue;
            }
            if is_loop_port(m.from.port()) {
                st.errors += 1;
                continue;
            }
            match w.sendmsg(self.sock, &self.buf[..m.len], Some(SocketAddr::V4(m.from))) {
                Ok(n) => st.bytes_out += n as u64,
                Err(_) => st.errors += 1,
            }
        }
        true
    }

    /// Close the socket.
    pub(crate) fn shutdown<H: NfHooks>(self, w: &mut World<'_, H>) {
        let _ = w.close(self.sock);
    }
}

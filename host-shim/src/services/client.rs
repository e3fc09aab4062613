//! A client that moves a known number of bytes over one TCP connection,
//! the way `nc` does against a listener: push sends N bytes then closes;
//! pull reads until the peer closes. Either way it reports the bytes, the
//! time, the goodput and the SHA-256 of the bytes, so the other end can
//! check that what arrived is what left.
//!
//! The pushed bytes are a fixed pseudo-random sequence (a xorshift
//! generator over a block of a prime length, repeated), so the same count
//! always has the same digest.

use std::fmt;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

use sha2::{Digest, Sha256};
use skbnet::netfilter::NfHooks;
use skbnet::netns::{NsId, World};
use skbnet::socket::{Errno, Shutdown, SockId, SockType};
use skbnet::tcp::TcpState;
use skbnet::time::Instant;

use super::BYTES_PER_POLL;

/// Length of the block the pushed bytes repeat: a prime, so no power-of-two
/// structure in the path lines up with it.
const PATTERN_LEN: usize = 65_521;
/// Bytes read in one `recvmsg`.
const READ_BUF: usize = 64 * 1024;

/// Which way the bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Send this many bytes, then close.
    Push(u64),
    /// Read until the peer closes.
    Pull,
}

/// What a finished transfer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// The peer.
    pub peer: SocketAddrV4,
    /// The direction.
    pub direction: Direction,
    /// Bytes sent (push) or received (pull).
    pub bytes: u64,
    /// From `connect` to the connection being established.
    pub connect_time: Duration,
    /// From the connection being established to the end: for a push, the
    /// peer acknowledging our FIN (every byte arrived); for a pull, the
    /// peer's FIN.
    pub transfer_time: Duration,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
}

impl Report {
    /// Bits of payload a second over the transfer time.
    pub fn goodput_bps(&self) -> f64 {
        let s = self.transfer_time.as_secs_f64();
        if s > 0.0 { self.bytes as f64 * 8.0 / s } else { 0.0 }
    }

    /// The digest in hexadecimal, as `sha256sum` prints it.
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.direction {
            Direction::Push(_) => "pushed",
            Direction::Pull => "pulled",
        };
        write!(
            f,
            "{verb} {} bytes {} {} in {:.3} s ({:.2} Mbit/s; connected in {:.3} ms), sha256 {}",
            self.bytes,
            if matches!(self.direction, Direction::Push(_)) { "to" } else { "from" },
            self.peer,
            self.transfer_time.as_secs_f64(),
            self.goodput_bps() / 1e6,
            self.connect_time.as_secs_f64() * 1e3,
            self.sha256_hex()
        )
    }
}

/// Why a transfer failed: what the client was doing and what the stack said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientError {
    /// `socket`, `connect`, `send` or `receive`.
    pub during: &'static str,
    /// The error.
    pub errno: Errno,
    /// Bytes moved before it.
    pub bytes: u64,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed after {} bytes: {:?} (errno {})", self.during, self.bytes, self.errno, self.errno.code())
    }
}

impl std::error::Error for ClientError {}

/// Where the transfer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connecting,
    Moving,
    /// Push: everything is queued and our FIN follows it; waiting for the
    /// peer to acknowledge it.
    Closing,
    Over,
}

/// A push or pull in progress, over one TCP connection: push sends N bytes
/// (a fixed pseudo-random sequence, see [`push_bytes`]) then closes; pull
/// reads until the peer closes. [`Client::connect`], then [`Client::poll`]
/// after each [`World::poll`] until it returns the [`Report`]; a caller that
/// sleeps between polls wakes by [`Client::poll_at`] too.
pub struct Client {
    sock: SockId,
    peer: SocketAddrV4,
    direction: Direction,
    phase: Phase,
    bytes: u64,
    hash: Sha256,
    began: Instant,
    connected: Instant,
    pattern: Vec<u8>,
    buf: Vec<u8>,
    outcome: Option<Result<Report, ClientError>>,
    /// When the last poll stopped at its budget: call again at once.
    busy: Option<Instant>,
}

impl Client {
    /// Open a connection from namespace `ns` to `peer` and start moving bytes
    /// once it is up. Fails at once only when the socket cannot be made or
    /// the peer cannot be routed to.
    pub fn connect<H: NfHooks>(
        w: &mut World<'_, H>,
        ns: NsId,
        peer: SocketAddrV4,
        direction: Direction,
    ) -> Result<Client, ClientError> {
        let fail = |during, errno| ClientError { during, errno, bytes: 0 };
        let sock = w.socket(ns, SockType::Tcp).map_err(|e| fail("socket", e))?;
        match w.connect(sock, SocketAddr::V4(peer)) {
            Ok(()) | Err(Errno::InProgress) => {}
            Err(e) => {
                let _ = w.close(sock);
                return Err(fail("connect", e));
            }
        }
        let pattern = match direction {
            Direction::Push(_) => pattern(),
            Direction::Pull => Vec::new(),
        };
        let now = w.now();
        Ok(Client {
            sock,
            peer,
            direction,
            phase: Phase::Connecting,
            bytes: 0,
            hash: Sha256::new(),
            began: now,
            connected: now,
            pattern,
            buf: Vec::new(),
            outcome: None,
            busy: None,
        })
    }

    /// Bytes moved so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Move the transfer along; `Some` once it ended (and from then on).
    /// Call after each [`World::poll`]; it never blocks and moves at most
    /// [`BYTES_PER_POLL`] a call.
    pub fn poll<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant) -> Option<Result<Report, ClientError>> {
        self.busy = None;
        if self.outcome.is_none() {
            let r = match self.phase {
                Phase::Connecting => self.connecting(w, now),
                Phase::Moving => self.poll_moving(w, now),
                Phase::Closing => self.closing(w, now),
                Phase::Over => Ok(()),
            };
            if let Err((during, errno)) = r {
                self.finish(w, Err(ClientError { during, errno, bytes: self.bytes }));
            }
        }
        self.outcome
    }

    /// When [`Client::poll`] next has work without a packet arriving: at
    /// once when the last call stopped at its budget, else `None` (only a
    /// packet, which wakes the world, moves the transfer on).
    pub fn poll_at(&self) -> Option<Instant> {
        self.busy
    }

    /// Whether the connection came up, or failed.
    fn connecting<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant) -> Result<(), (&'static str, Errno)> {
        let ev = w.events(self.sock).map_err(|e| ("connect", e))?;
        if ev.error || ev.hangup {
            // connect reports a failed attempt's error, once.
            let e = w.connect(self.sock, SocketAddr::V4(self.peer)).err().unwrap_or(Errno::ConnRefused);
            return Err(("connect", e));
        }
        if ev.writable {
            self.connected = now;
            self.phase = Phase::Moving;
            return self.poll_moving(w, now);
        }
        Ok(())
    }

    /// One turn of the moving phase.
    fn poll_moving<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant) -> Result<(), (&'static str, Errno)> {
        match self.direction {
            Direction::Push(total) => self.push(w, now, total),
            Direction::Pull => self.pull(w, now),
        }
    }

    /// Send the next bytes of the pattern; when all went, shut our side.
    fn push<H: NfHooks>(
        &mut self,
        w: &mut World<'_, H>,
        now: Instant,
        total: u64,
    ) -> Result<(), (&'static str, Errno)> {
        self.drain(w)?;
        let mut budget = BYTES_PER_POLL as u64;
        while self.bytes < total && budget > 0 {
            let off = (self.bytes % PATTERN_LEN as u64) as usize;
            let n = ((PATTERN_LEN - off) as u64).min(total - self.bytes).min(budget) as usize;
            match w.sendmsg(self.sock, &self.pattern[off..off + n], None) {
                Ok(k) => {
                    self.hash.update(&self.pattern[off..off + k]);
                    self.bytes += k as u64;
                    budget -= k as u64;
                }
                Err(Errno::WouldBlock) => return Ok(()),
                Err(e) => return Err(("send", e)),
            }
        }
        if self.bytes < total {
            // Stopped at the budget, with room to send more.
            self.busy = Some(now);
            return Ok(());
        }
        w.shutdown_socket(self.sock, Shutdown::Write).map_err(|e| ("send", e))?;
        self.phase = Phase::Closing;
        self.closing(w, now)
    }

    /// Read and hash what came; at the end of the stream, done.
    fn pull<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant) -> Result<(), (&'static str, Errno)> {
        self.buf.resize(READ_BUF, 0);
        let mut budget = BYTES_PER_POLL;
        while budget > 0 {
            match w.recvmsg(self.sock, &mut self.buf) {
                Ok(m) if m.len == 0 => {
                    self.done(w, now);
                    return Ok(());
                }
                Ok(m) => {
                    self.hash.update(&self.buf[..m.len]);
                    self.bytes += m.len as u64;
                    budget = budget.saturating_sub(m.len);
                }
                Err(Errno::WouldBlock) => return Ok(()),
                Err(e) => return Err(("receive", e)),
            }
        }
        self.busy = Some(now);
        Ok(())
    }

    /// A push's FIN is out: done once the peer acknowledged it (or closed too).
    fn closing<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant) -> Result<(), (&'static str, Errno)> {
        let eof = self.drain(w)?;
        let state = w.tcp_info(self.sock).map_err(|e| ("send", e))?.state;
        if eof || matches!(state, TcpState::FinWait2 | TcpState::TimeWait | TcpState::Closed) {
            self.done(w, now);
        }
        Ok(())
    }

    /// Throw away anything the peer sends a pusher, so closing never finds
    /// data unread (which would reset the connection). True at its end.
    fn drain<H: NfHooks>(&mut self, w: &mut World<'_, H>) -> Result<bool, (&'static str, Errno)> {
        for _ in 0..64 {
            match w.recv_skb(self.sock) {
                Ok((skb, _)) => w.pool().free(skb),
                Err(Errno::WouldBlock) => return Ok(false),
                Err(Errno::NotConnected) => return Ok(true),
                Err(e) => return Err(("receive", e)),
            }
        }
        Ok(false)
    }

    /// The transfer is complete.
    fn done<H: NfHooks>(&mut self, w: &mut World<'_, H>, now: Instant) {
        let report = Report {
            peer: self.peer,
            direction: self.direction,
            bytes: self.bytes,
            connect_time: self.connected.saturating_duration_since(self.began),
            transfer_time: now.saturating_duration_since(self.connected),
            sha256: self.hash.clone().finalize().into(),
        };
        self.finish(w, Ok(report));
    }

    /// Close the socket and keep the outcome.
    fn finish<H: NfHooks>(&mut self, w: &mut World<'_, H>, outcome: Result<Report, ClientError>) {
        let _ = w.close(self.sock);
        self.phase = Phase::Over;
        self.outcome = Some(outcome);
    }

    /// Give up: close the connection (a reset if data is unread).
    pub fn abort<H: NfHooks>(self, w: &mut World<'_, H>) {
        if self.outcome.is_none() {
            let _ = w.close(self.sock);
        }
    }
}

/// The block the pushed bytes repeat (xorshift64, a fixed seed).
fn pattern() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..PATTERN_LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 56) as u8
        })
        .collect()
}

/// The first `n` bytes a push sends, for a peer that wants to check them.
pub fn push_bytes(n: u64) -> impl Iterator<Item = u8> {
    let p = pattern();
    (0..n).map(move |i| p[(i % PATTERN_LEN as u64) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_is_fixed_and_repeats_at_a_prime() {
        let a: Vec<u8> = push_bytes(PATTERN_LEN as u64 + 3).collect();
        assert_eq!(a[..3], a[PATTERN_LEN..]);
        assert_eq!(a[..8], pattern()[..8]);
        assert!(a.iter().filter(|&&b| b == 0).count() < PATTERN_LEN / 128);
    }
}

//! The world the `ip` and `nft` commands talk to: a skbnet [`World`] with
//! its memory, a clock, and the netlink sockets of its clients.
//!
//! The clock is virtual for `skbnet script` (it jumps to the next deadline,
//! so a four-second ping takes no real time) and real for `skbnet daemon`.
//! Round-trip times are always measured with the host's real clock: they
//! are the time the stack really took.

use std::time::Duration;

use skbnet::netfilter::SmallNftStorage;
use skbnet::netlink::{NlSock, REPLY_ROOM};
use skbnet::netns::{NsId, World, WorldStorage};
use skbnet::skb::{BufInfo, Head, OwnerSlot, PoolParts, SkbPool};
use skbnet::time::Instant;

/// Namespaces a hosted world holds.
const NS: usize = 16;
/// Interfaces.
const IFACES: usize = 64;
/// Routes, all namespaces together.
const ROUTES: usize = 1024;
/// Neighbours.
const NEIGH: usize = 256;
/// Sockets.
const SOCKS: usize = 128;
/// Configuration changes kept for `ip monitor`.
const EVENTS: usize = 64;
/// Addresses bridges learn.
const FDB: usize = 256;
/// Pool buffers of 2 KiB.
const BUFS: usize = 2048;

/// The hosted world's storage.
type Storage = WorldStorage<'static, NS, IFACES, ROUTES, NEIGH, SOCKS, 16, 64, 256, EVENTS, FDB>;

/// Bytes a netlink exchange reads at a time.
pub const CHUNK: usize = 16 * 1024;

/// Where time comes from.
enum Clock {
    /// Virtual: moves only when told to.
    Virtual(Instant),
    /// Real: time since the world started.
    Real(std::time::Instant),
}

/// A world and its clock.
pub struct Host {
    world: World<'static>,
    clock: Clock,
    next_pid: u32,
}

impl Host {
    /// A fresh world (only the initial namespace, with `lo`), on virtual or
    /// real time. Its memory lives as long as the process.
    pub fn new(virtual_time: bool) -> Result<Host, String> {
        let storage: &'static mut Storage = Box::leak(Box::new(Storage::new()));
        let heads = Box::leak(vec![Head::EMPTY; BUFS * 2].into_boxed_slice());
        let info = Box::leak(vec![BufInfo::EMPTY; BUFS].into_boxed_slice());
        let data = Box::leak(vec![0u8; BUFS * 2048].into_boxed_slice());
        let owners = Box::leak(vec![OwnerSlot::EMPTY; SOCKS * 2 + 8].into_boxed_slice());
        let pool = SkbPool::from_parts(PoolParts { heads, info, data, owners, buf_size: 2048 })
            .map_err(|e| format!("pool: {e:?}"))?;
        // A script's world is the same on every run; a daemon's keys come
        // from the OS.
        let key = if virtual_time { *b"skbnet ip world!" } else { secret() };
        let mut world = World::new(storage, pool, key).map_err(|e| format!("world: {e:?}"))?;
        let tables: &'static mut SmallNftStorage = Box::leak(Box::new(SmallNftStorage::new()));
        world.attach_nft(tables).map_err(|e| format!("nft: {e}"))?;
        let clock = if virtual_time { Clock::Virtual(Instant::ZERO) } else { Clock::Real(std::time::Instant::now()) };
        Ok(Host { world, clock, next_pid: 1 })
    }

    /// The world.
    pub fn world(&mut self) -> &mut World<'static> {
        &mut self.world
    }

    /// The time now.
    pub fn now(&self) -> Instant {
        match &self.clock {
            Clock::Virtual(t) => *t,
            Clock::Real(start) => Instant::from_micros(start.elapsed().as_micros() as u64),
        }
    }

    /// True on virtual time.
    pub fn is_virtual(&self) -> bool {
        matches!(self.clock, Clock::Virtual(_))
    }

    /// Let the world do what is due now, until nothing more is (bounded).
    pub fn poll(&mut self) {
        for _ in 0..1000 {
            let now = self.now();
            self.world.poll(now);
            if self.world.poll_at().is_none_or(|t| t > now) {
                break;
            }
        }
    }

    /// Move virtual time to `t` (no earlier than now), polling at every
    /// deadline on the way. On real time, just poll.
    pub fn advance_to(&mut self, t: Instant) {
        if !self.is_virtual() {
            return self.poll();
        }
        // Bounded: each step reaches a later deadline or `t`.
        for _ in 0..100_000 {
            self.poll();
            let next = self.world.poll_at().unwrap_or(t).min(t).max(self.now());
            if let Clock::Virtual(now) = &mut self.clock {
                *now = next;
            }
            if next >= t {
                break;
            }
        }
        self.poll();
    }

    /// When the world next needs a poll, as a real delay from now (capped).
    pub fn idle_for(&self, cap: Duration) -> Duration {
        let now = self.now();
        self.world.poll_at().map_or(cap, |t| t.saturating_duration_since(now).min(cap))
    }

    /// A netlink socket in namespace `ns` (`""`: the initial one).
    pub fn open(&mut self, ns: &str) -> Result<NlSock, String> {
        let id = if ns.is_empty() {
            NsId::INIT
        } else {
            self.world
                .netns_by_name(ns)
                .ok_or_else(|| format!("Cannot open network namespace \"{ns}\": No such file or directory"))?
        };
        self.next_pid += 1;
        self.world.netlink_socket(id, self.next_pid).map_err(|e| e.to_string())
    }

    /// Carry out a buffer of requests and read every reply, dumps to their
    /// end. Returns the replies' bytes.
    pub fn request(&mut self, sock: &mut NlSock, req: &[u8]) -> Vec<u8> {
        let mut replies = Vec::new();
        let mut out = vec![0u8; CHUNK.max(REPLY_ROOM)];
        let mut rest = req;
        // Bounded: each round carries out at least one message or reads
        // part of a dump.
        for _ in 0..100_000 {
            if sock.dumping() {
                match self.world.netlink_recv(sock, &mut out) {
                    Ok(n) => replies.extend_from_slice(&out[..n]),
                    Err(_) => break,
                }
                continue;
            }
            if rest.is_empty() {
                break;
            }
            match self.world.netlink_send(sock, rest, &mut out) {
                Ok(sent) => {
                    replies.extend_from_slice(&out[..sent.written]);
                    rest = &rest[sent.consumed..];
                }
                Err(_) => break,
            }
        }
        self.poll();
        replies
    }

    /// The notifications waiting for `sock`.
    pub fn events(&mut self, sock: &mut NlSock) -> Vec<u8> {
        let mut out = vec![0u8; CHUNK];
        match self.world.netlink_recv(sock, &mut out) {
            Ok(n) => out[..n].to_vec(),
            Err(_) => Vec::new(),
        }
    }
}

/// The key for what the stack randomises, from the OS.
fn secret() -> [u8; 16] {
    let mut s = *b"skbnet ip world!";
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read as _;
        let _ = f.read_exact(&mut s);
    }
    s
}

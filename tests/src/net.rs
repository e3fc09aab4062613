//! Two namespaces of one world joined by simulated NICs on a link, with a
//! virtual clock: the bench for TCP tests, simulations and benchmarks.
//!
//! ```text
//!  a  eth0 10.0.0.1/24 ------------ link (config) ------------ 10.0.0.2/24 eth0  b
//! ```
//!
//! [`with_pair`] builds it, runs a closure on it, then shuts the world down
//! and checks that the pool is completely free. [`Pair::run`] advances
//! the clock from one [`World::poll_at`] deadline (or link delivery) to the
//! next, so a test of minutes of TCP timers takes milliseconds.

use core::cell::RefCell;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::time::Duration;

use skbnet::dev::Features;
use skbnet::netns::{NsId, SmallWorldStorage, World};
use skbnet::skb::{BufInfo, Head, OwnerSlot, PoolParts, SkbPool};
use skbnet::socket::{Errno, SockId, SockType};
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet_nic_sim::link::{Link, LinkConfig, Side, Tap};
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::LinkPort;

/// Namespace a's address.
pub const A_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Namespace b's address.
pub const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// a's MAC address.
pub const A_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// b's MAC address.
pub const B_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// A tap that records delivered frames while `on`.
#[derive(Default)]
pub struct Capture {
    /// Record from now on.
    pub on: bool,
    /// What was delivered: when, from which side, the frame.
    pub frames: Vec<(Instant, Side, Vec<u8>)>,
}

impl Tap for Capture {
    fn capture(&mut self, now: Instant, from: Side, frame: &[u8]) {
        if self.on {
            self.frames.push((now, from, frame.to_vec()));
        }
    }

    fn active(&self) -> bool {
        self.on
    }
}

/// The link: 1024 frames in flight each way, Ethernet-sized.
pub type PairLink = Link<1024, 1514, Capture>;
/// A NIC with rings of 256 and room for 64 KiB TSO packets.
pub type PairNic<'l> = SimNic<256, 256, 66_000, LinkPort<'l, 1024, 1514, Capture>>;

/// Pool memory on the heap.
pub struct Mem {
    heads: Vec<Head>,
    info: Vec<BufInfo>,
    data: Vec<u8>,
    owners: Vec<OwnerSlot>,
}

impl Mem {
    /// `bufs` buffers of 2048 bytes, twice as many heads, `owners` owner slots.
    pub fn new(bufs: usize, owners: usize) -> Mem {
        Mem {
            heads: vec![Head::EMPTY; bufs * 2],
            info: vec![BufInfo::EMPTY; bufs],
            data: vec![0; bufs * 2048],
            owners: vec![OwnerSlot::EMPTY; owners],
        }
    }

    /// The pool over this memory.
    pub fn pool(&mut self) -> SkbPool<'_> {
        SkbPool::from_parts(PoolParts {
            heads: &mut self.heads,
            info: &mut self.info,
            data: &mut self.data,
            owners: &mut self.owners,
            buf_size: 2048,
        })
        .expect("pool parts")
    }
}

/// How to build the pair.
#[derive(Clone, Copy, Debug)]
pub struct PairConfig {
    /// The link between the two.
    pub link: LinkConfig,
    /// The link's random seed (loss, reordering...).
    pub seed: u64,
    /// Offloads of a's NIC.
    pub a_offloads: Features,
    /// Offloads of b's NIC.
    pub b_offloads: Features,
    /// Pool buffers (2048 bytes each).
    pub bufs: usize,
}

impl Default for PairConfig {
    fn default() -> PairConfig {
        PairConfig {
            link: LinkConfig::ethernet(),
            seed: 1,
            a_offloads: Features::ALL,
            b_offloads: Features::ALL,
            bufs: 2048,
        }
    }
}

/// The running pair.
pub struct Pair<'w, 'l> {
    /// The world holding both namespaces.
    pub w: World<'w>,
    /// Namespace a.
    pub a: NsId,
    /// Namespace b.
    pub b: NsId,
    /// The virtual clock.
    pub now: Instant,
    /// The link, for its statistics and to change its behaviour mid-test.
    pub link: &'l RefCell<PairLink>,
}

/// Build the pair, run `f`, shut down, and check that every buffer and
/// head went back to the pool. It runs on a thread of its own with a large
/// stack: the link and the NICs are big and are built in place.
pub fn with_pair<R: Send>(cfg: PairConfig, f: impl FnOnce(&mut Pair<'_, '_>) -> R + Send) -> R {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(s, move || pair_body(cfg, f))
            .expect("thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

fn pair_body<R>(cfg: PairConfig, f: impl FnOnce(&mut Pair<'_, '_>) -> R) -> R {
    let mut mem = Mem::new(cfg.bufs, 512);
    let link = Box::new(RefCell::new(PairLink::new(cfg.link, cfg.seed, Capture::default())));
    let mk = |mac: [u8; 6], side, offloads| {
        let mut c = NicConfig::ethernet(MacAddr(mac));
        c.offloads = offloads;
        Box::new(PairNic::new(c, LinkPort::new(&link, side)))
    };
    let mut nic_a = mk(A_MAC, Side::A, cfg.a_offloads);
    let mut nic_b = mk(B_MAC, Side::B, cfg.b_offloads);
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut w = World::new(&mut ws, mem.pool(), *b"skbnet-pair-test").expect("world");
    let (a, b) = (w.add_netns("a").expect("ns a"), w.add_netns("b").expect("ns b"));
    for (ns, nic, ip) in [(a, &mut *nic_a, A_IP), (b, &mut *nic_b, B_IP)] {
        let i = w.add_device(ns, "eth0", nic).expect("device");
        w.set_link_up(i, true).expect("up");
        w.add_addr(i, ip, 24).expect("addr");
    }
    let mut p = Pair { w, a, b, now: Instant::ZERO, link: &link };
    let r = f(&mut p);
    p.w.shutdown();
    let st = p.w.pool_ref().stats();
    assert!(st.is_idle(), "pool not free at the end: {st:?}");
    assert_eq!(st.bad_handles, 0, "stale handles used");
    r
}

impl Pair<'_, '_> {
    /// Poll until `done` says so or `limit` of virtual time passes; the
    /// clock jumps to the next deadline of the world or the link (at most
    /// `max_step` at a time). Returns whether `done` was reached.
    pub fn run(&mut self, limit: Duration, mut done: impl FnMut(&mut World<'_>, Instant) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            self.w.poll(self.now);
            if done(&mut self.w, self.now) {
                return true;
            }
            if self.now >= end {
                return false;
            }
            let next = [self.w.poll_at(), self.link.borrow().poll_at()].into_iter().flatten().min().unwrap_or(end);
            self.now = next.max(self.now + Duration::from_micros(1)).min(end).min(self.now + Duration::from_secs(1));
        }
    }

    /// Advance the clock by `d`, polling on the way.
    pub fn advance(&mut self, d: Duration) {
        self.run(d, |_, _| false);
    }

    /// A listening socket in b on `port`.
    pub fn listener(&mut self, port: u16, backlog: u16) -> SockId {
        let l = self.w.socket(self.b, SockType::Tcp).expect("socket");
        self.w.bind(l, sa(Ipv4Addr::UNSPECIFIED, port)).expect("bind");
        self.w.listen(l, backlog).expect("listen");
        l
    }

    /// Connect from a to b's `port` and accept there: (client, server).
    pub fn connect_pair(&mut self, l: SockId, port: u16) -> (SockId, SockId) {
        let c = self.w.socket(self.a, SockType::Tcp).expect("socket");
        assert_eq!(self.w.connect(c, sa(B_IP, port)), Err(Errno::InProgress));
        let mut server = None;
        let ok = self.run(Duration::from_secs(30), |w, _| {
            if server.is_none() {
                server = w.accept(l).ok().map(|(s, _)| s);
            }
            server.is_some() && w.events(c).is_ok_and(|e| e.writable)
        });
        assert!(ok, "handshake did not complete");
        (c, server.expect("accepted"))
    }

    /// Move `data` from `from` to `to` (both connected), then close both
    /// directions in order; returns what `to` received.
    pub fn transfer(&mut self, from: SockId, to: SockId, data: &[u8], limit: Duration) -> Vec<u8> {
        let mut got = Vec::with_capacity(data.len());
        let mut sent = 0;
        let mut buf = vec![0u8; 65_536];
        let mut eof = false;
        let mut closed = false;
        self.run(limit, |w, _| {
            while sent < data.len() {
                match w.sendmsg(from, &data[sent..], None) {
                    Ok(n) => sent += n,
                    Err(Errno::WouldBlock) => break,
                    Err(e) => panic!("send: {e:?}"),
                }
            }
            if sent == data.len() && !closed {
                w.shutdown_socket(from, skbnet::socket::Shutdown::Write).expect("shutdown");
                closed = true;
            }
            loop {
                match w.recvmsg(to, &mut buf) {
                    Ok(m) if m.len == 0 => {
                        eof = true;
                        break;
                    }
                    Ok(m) => got.extend_from_slice(&buf[..m.len]),
                    Err(Errno::WouldBlock) => break,
                    Err(e) => panic!("recv: {e:?}"),
                }
            }
            eof
        });
        got
    }
}

/// An IPv4 socket address.
pub fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

/// `n` bytes of a pattern that a shifted or repeated block would break.
pub fn pattern(n: usize, salt: u64) -> Vec<u8> {
    let mut x = salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

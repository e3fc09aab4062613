//! smoltcp, an independent TCP/IP stack, as a host on a nic-sim link: the
//! peer of skbnet's TCP interop tests and the other side of the TCP
//! benchmark.
//!
//! ```text
//!  skbnet ns a  eth0 10.0.0.1/24 ------ link (config) ------ 10.0.0.2/24 smoltcp
//! ```
//!
//! [`SmolHost`] is one smoltcp interface on one end of a [`PairLink`], driven
//! by the caller's virtual clock. [`with_smol_pair`] builds skbnet (one
//! namespace on a simulated NIC) facing a smoltcp host, runs a closure on it,
//! then shuts skbnet down and checks that its pool is completely free, as
//! [`crate::net::with_pair`] does for two skbnet namespaces.
//! [`with_smol_duo`] puts smoltcp on both ends of the same kind of link, to
//! measure it beside skbnet.

use core::cell::{Cell, RefCell};
use core::net::Ipv4Addr;
use core::time::Duration;

use skbnet::dev::Features;
use skbnet::netns::{NsId, SmallWorldStorage, World};
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet_nic_sim::link::{LinkConfig, Side};
use skbnet_nic_sim::nic::NicConfig;
use skbnet_nic_sim::port::LinkPort;
use skbnet_nic_sim::smoltcp_phy::SmolPort;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

use crate::net::{A_IP, A_MAC, B_IP, B_MAC, Capture, Mem, PairLink, PairNic};

thread_local! {
    /// The virtual clock in milliseconds, for smoltcp's timestamp option:
    /// its TSval generator is a plain `fn() -> u32` and cannot be handed
    /// the clock. Each pair runs on a thread of its own, so this is per pair.
    static SMOL_MILLIS: Cell<u32> = const { Cell::new(0) };
}

/// TSval from the virtual clock (1 kHz, as skbnet's).
fn smol_tsval() -> u32 {
    SMOL_MILLIS.with(Cell::get)
}

/// skbnet's clock as smoltcp's.
pub fn smol_instant(t: Instant) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(t.micros() as i64)
}

/// smoltcp's clock as skbnet's.
pub fn our_instant(t: smoltcp::time::Instant) -> Instant {
    Instant::from_micros(u64::try_from(t.total_micros()).unwrap_or(0))
}

/// How a smoltcp TCP socket is set up.
#[derive(Clone, Copy, Debug)]
pub struct SmolTcpConfig {
    /// Receive buffer bytes (its window: 65 535 or less needs no scaling).
    pub rx_bytes: usize,
    /// Send buffer bytes.
    pub tx_bytes: usize,
    /// Send and answer the timestamp option (RFC 7323).
    pub timestamps: bool,
    /// smoltcp's congestion control.
    pub congestion: tcp::CongestionControl,
    /// Nagle's algorithm.
    pub nagle: bool,
}

impl Default for SmolTcpConfig {
    fn default() -> SmolTcpConfig {
        SmolTcpConfig {
            rx_bytes: 256 << 10,
            tx_bytes: 256 << 10,
            timestamps: true,
            congestion: tcp::CongestionControl::Cubic,
            nagle: true,
        }
    }
}

/// One smoltcp interface on one end of a link.
pub struct SmolHost<'l> {
    /// The interface.
    pub iface: Interface,
    /// Its sockets.
    pub sockets: SocketSet<'static>,
    port: SmolPort<'l, 1024, 1514, Capture>,
}

impl<'l> SmolHost<'l> {
    /// An interface with `mac` and `ip`/24 on the `side` end of `link`.
    pub fn new(link: &'l RefCell<PairLink>, side: Side, mac: [u8; 6], ip: Ipv4Addr, now: Instant) -> SmolHost<'l> {
        let mut port = SmolPort::ethernet(link, side);
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        config.random_seed = u64::from_le_bytes([mac[5], 0x5e, 0xed, 0, 0, 0, 0, 1]);
        let mut iface = Interface::new(config, &mut port, smol_instant(now));
        let [a, b, c, d] = ip.octets();
        iface.update_ip_addrs(|addrs| {
            addrs.push(IpCidr::new(IpAddress::v4(a, b, c, d), 24)).expect("one address");
        });
        SmolHost { iface, sockets: SocketSet::new(vec![]), port }
    }

    /// A new TCP socket.
    pub fn tcp_socket(&mut self, cfg: SmolTcpConfig) -> SocketHandle {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; cfg.rx_bytes]),
            tcp::SocketBuffer::new(vec![0; cfg.tx_bytes]),
        );
        if cfg.timestamps {
            s.set_tsval_generator(Some(smol_tsval));
        }
        s.set_congestion_control(cfg.congestion);
        s.set_nagle_enabled(cfg.nagle);
        self.sockets.add(s)
    }

    /// The TCP socket `h`.
    pub fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    /// Connect socket `h` from `local_port` to `to`.
    pub fn connect(&mut self, h: SocketHandle, to: (Ipv4Addr, u16), local_port: u16) {
        let [a, b, c, d] = to.0.octets();
        let cx = self.iface.context();
        self.sockets
            .get_mut::<tcp::Socket>(h)
            .connect(cx, (IpAddress::v4(a, b, c, d), to.1), local_port)
            .expect("smoltcp connect");
    }

    /// Receive, process and send everything due by `now`.
    pub fn poll(&mut self, now: Instant) {
        SMOL_MILLIS.with(|c| c.set(now.millis() as u32));
        self.iface.poll(smol_instant(now), &mut self.port, &mut self.sockets);
    }

    /// When the interface next needs a poll (not counting frames arriving).
    pub fn poll_at(&mut self, now: Instant) -> Option<Instant> {
        self.iface.poll_at(smol_instant(now), &self.sockets).map(our_instant)
    }
}

/// How to build the skbnet–smoltcp pair.
#[derive(Clone, Copy, Debug)]
pub struct SmolPairConfig {
    /// The link between the two.
    pub link: LinkConfig,
    /// The link's random seed.
    pub seed: u64,
    /// Offloads of skbnet's NIC.
    pub offloads: Features,
    /// skbnet's pool buffers (2048 bytes each).
    pub bufs: usize,
}

impl Default for SmolPairConfig {
    fn default() -> SmolPairConfig {
        SmolPairConfig { link: LinkConfig::ethernet(), seed: 1, offloads: Features::ALL, bufs: 2048 }
    }
}

/// skbnet (namespace `ns`, 10.0.0.1, link side A) facing smoltcp
/// (10.0.0.2, side B).
pub struct SmolPair<'w, 'l> {
    /// skbnet's world.
    pub w: World<'w>,
    /// skbnet's namespace.
    pub ns: NsId,
    /// The smoltcp host.
    pub smol: SmolHost<'l>,
    /// The virtual clock.
    pub now: Instant,
    /// The link.
    pub link: &'l RefCell<PairLink>,
}

/// Build the pair, run `f`, shut skbnet down and check that its pool is
/// free. It runs on a thread of its own with a large stack, as
/// [`crate::net::with_pair`] does.
pub fn with_smol_pair<R: Send>(cfg: SmolPairConfig, f: impl FnOnce(&mut SmolPair<'_, '_>) -> R + Send) -> R {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(s, move || smol_pair_body(cfg, f))
            .expect("thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

fn smol_pair_body<R>(cfg: SmolPairConfig, f: impl FnOnce(&mut SmolPair<'_, '_>) -> R) -> R {
    let mut mem = Mem::new(cfg.bufs, 64);
    let link = Box::new(RefCell::new(PairLink::new(cfg.link, cfg.seed, Capture::default())));
    let mut nc = NicConfig::ethernet(MacAddr(A_MAC));
    nc.offloads = cfg.offloads;
    let mut nic = Box::new(PairNic::new(nc, LinkPort::new(&link, Side::A)));
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut w = World::new(&mut ws, mem.pool(), *b"skbnet-smol-pair").expect("world");
    let ns = w.add_netns("a").expect("ns a");
    let i = w.add_device(ns, "eth0", &mut *nic).expect("device");
    w.set_link_up(i, true).expect("up");
    w.add_addr(i, A_IP, 24).expect("addr");
    let smol = SmolHost::new(&link, Side::B, B_MAC, B_IP, Instant::ZERO);
    let mut p = SmolPair { w, ns, smol, now: Instant::ZERO, link: &link };
    let r = f(&mut p);
    p.w.shutdown();
    let st = p.w.pool_ref().stats();
    assert!(st.is_idle(), "pool not free at the end: {st:?}");
    assert_eq!(st.bad_handles, 0, "stale handles used");
    r
}

impl SmolPair<'_, '_> {
    /// Poll both stacks until `done` says so or `limit` of virtual time
    /// passes; the clock jumps to the next deadline of either stack or the
    /// link (at least 1 µs, at most 1 s at a time). Returns whether `done`
    /// was reached.
    pub fn run(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut World<'_>, &mut SmolHost<'_>, Instant) -> bool,
    ) -> bool {
        let end = self.now + limit;
        loop {
            self.w.poll(self.now);
            self.smol.poll(self.now);
            if done(&mut self.w, &mut self.smol, self.now) {
                return true;
            }
            if self.now >= end {
                return false;
            }
            let next = [self.w.poll_at(), self.link.borrow().poll_at(), self.smol.poll_at(self.now)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(end);
            self.now = next.max(self.now + Duration::from_micros(1)).min(end).min(self.now + Duration::from_secs(1));
        }
    }
}

/// Two smoltcp hosts on one link: `a` (10.0.0.1, side A) and `b`
/// (10.0.0.2, side B), the same addresses and link as skbnet's pair, for
/// running smoltcp side by side with skbnet.
pub struct SmolDuo<'l> {
    /// The host on side A.
    pub a: SmolHost<'l>,
    /// The host on side B.
    pub b: SmolHost<'l>,
    /// The virtual clock.
    pub now: Instant,
    /// The link.
    pub link: &'l RefCell<PairLink>,
}

/// Build two smoltcp hosts on a link with `link` and `seed`, run `f` on a
/// thread with a large stack (the link is built in place).
pub fn with_smol_duo<R: Send>(link: LinkConfig, seed: u64, f: impl FnOnce(&mut SmolDuo<'_>) -> R + Send) -> R {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(s, move || {
                let link = Box::new(RefCell::new(PairLink::new(link, seed, Capture::default())));
                let a = SmolHost::new(&link, Side::A, A_MAC, A_IP, Instant::ZERO);
                let b = SmolHost::new(&link, Side::B, B_MAC, B_IP, Instant::ZERO);
                f(&mut SmolDuo { a, b, now: Instant::ZERO, link: &link })
            })
            .expect("thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

impl SmolDuo<'_> {
    /// Poll both hosts until `done` says so or `limit` of virtual time
    /// passes, stepping the clock as [`SmolPair::run`] does.
    pub fn run(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut SmolHost<'_>, &mut SmolHost<'_>, Instant) -> bool,
    ) -> bool {
        let end = self.now + limit;
        loop {
            self.a.poll(self.now);
            self.b.poll(self.now);
            if done(&mut self.a, &mut self.b, self.now) {
                return true;
            }
            if self.now >= end {
                return false;
            }
            let next = [self.a.poll_at(self.now), self.b.poll_at(self.now), self.link.borrow().poll_at()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(end);
            self.now = next.max(self.now + Duration::from_micros(1)).min(end).min(self.now + Duration::from_secs(1));
        }
    }
}

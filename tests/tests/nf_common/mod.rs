//! The netfilter tests' topology: two private hosts behind a router and a
//! server outside, four namespaces of one world joined by simulated NICs,
//! every link recorded so tests look at what crossed the wire.
//!
//! ```text
//!  c1 eth0 10.100.0.2/24 ---- link1 ---- eth1 10.100.0.1/24 \
//!                                                             r  eth0 198.51.100.1/24 ---- link0 ---- 198.51.100.2/24 eth0 s
//!  c2 eth0 192.168.1.2/24 --- link2 ---- eth2 192.168.1.1/24 /
//! ```
//!
//! The router forwards; the hosts route by default through it. The
//! server knows a route back to the private networks only when the test
//! asks (`Opts::server_routes`): behind a masquerading router it has none,
//! so a reply that was not translated back cannot arrive.
#![allow(dead_code)]

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use skbnet::dev::Features;
use skbnet::netfilter::{NfHooks, NftStorage};
use skbnet::netns::{NsId, World, WorldStorage};
use skbnet::skb::IfIndex;
use skbnet::socket::{Errno, SockId, SockType};
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet_nic_sim::link::{Link, LinkConfig, Side, Tap};
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::LinkPort;
use skbnet_tests::net::Mem;

pub const C1: Ipv4Addr = Ipv4Addr::new(10, 100, 0, 2);
pub const R1: Ipv4Addr = Ipv4Addr::new(10, 100, 0, 1);
pub const C2: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);
pub const R2: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
pub const R0: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const S: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

/// A tap that records every frame.
#[derive(Default)]
pub struct Wire(pub Vec<(Instant, Side, Vec<u8>)>);

impl Tap for Wire {
    fn capture(&mut self, now: Instant, from: Side, frame: &[u8]) {
        self.0.push((now, from, frame.to_vec()));
    }
}

pub type NfLink = Link<1024, 1514, Wire>;
pub type NfNic<'l> = SimNic<256, 256, 66_000, LinkPort<'l, 1024, 1514, Wire>>;

/// The rule storage the tests use: 8 tables, 32 chains, 1,100 rules, 16
/// sets of 2,048 elements in all, `CT` connections.
pub type Storage<const CT: usize> = NftStorage<8, 32, 1100, 16, 2048, CT>;

/// How to build the topology.
#[derive(Clone, Copy)]
pub struct Opts {
    pub offloads: Features,
    /// The server routes the private networks back through the router.
    pub server_routes: bool,
    /// Pool buffers.
    pub bufs: usize,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts { offloads: Features::ALL, server_routes: true, bufs: 4096 }
    }
}

/// The namespaces, the router's interfaces, the links and the clock.
pub struct Topo<'l> {
    pub c1: NsId,
    pub c2: NsId,
    pub r: NsId,
    pub s: NsId,
    /// The router's outside interface (`eth0`).
    pub r_out: IfIndex,
    /// link0 (router - server), link1 (c1 - router), link2 (c2 - router).
    pub links: [&'l RefCell<NfLink>; 3],
    pub now: Instant,
}

/// Build the topology with a connection table of `CT` entries, run `f`,
/// shut down, check the pool is free.
pub fn with_topo<const CT: usize>(opts: Opts, f: impl FnOnce(&mut World<'_>, &mut Topo<'_>) + Send) {
    with_topo_hooks::<CT, ()>(opts, (), f)
}

/// [`with_topo`] with static netfilter hooks `hooks` beside the tables.
pub fn with_topo_hooks<const CT: usize, H: NfHooks + Send>(
    opts: Opts,
    hooks: H,
    f: impl FnOnce(&mut World<'_, H>, &mut Topo<'_>) + Send,
) {
    std::thread::scope(|sc| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(sc, move || body::<CT, H>(opts, hooks, f))
            .expect("thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

fn mk_nic(mac: u8, link: &RefCell<NfLink>, side: Side, offloads: Features) -> Box<NfNic<'_>> {
    let mut c = NicConfig::ethernet(MacAddr([2, 0, 0, 0, 0, mac]));
    c.offloads = offloads;
    Box::new(NfNic::new(c, LinkPort::new(link, side)))
}

fn up<'a, H: NfHooks>(
    w: &mut World<'a, H>,
    ns: NsId,
    name: &str,
    nic: &'a mut dyn skbnet::dev::NetDevice,
    ip: Ipv4Addr,
    len: u8,
) -> IfIndex {
    let i = w.add_device(ns, name, nic).expect("device");
    w.set_link_up(i, true).expect("up");
    w.add_addr(i, ip, len).expect("addr");
    i
}

fn body<const CT: usize, H: NfHooks>(opts: Opts, hooks: H, f: impl FnOnce(&mut World<'_, H>, &mut Topo<'_>)) {
    let mut mem = Mem::new(opts.bufs, 64);
    let mut nft = Box::new(Storage::<CT>::new());
    let links: Vec<Box<RefCell<NfLink>>> =
        (0..3).map(|i| Box::new(RefCell::new(NfLink::new(LinkConfig::ethernet(), i + 1, Wire::default())))).collect();
    let mk = |mac, link, side| mk_nic(mac, link, side, opts.offloads);
    let mut s_nic = mk(0x01, &links[0], Side::B);
    let mut r0_nic = mk(0x02, &links[0], Side::A);
    let mut r1_nic = mk(0x03, &links[1], Side::B);
    let mut c1_nic = mk(0x04, &links[1], Side::A);
    let mut r2_nic = mk(0x05, &links[2], Side::B);
    let mut c2_nic = mk(0x06, &links[2], Side::A);
    let mut ws = Box::new(WorldStorage::<6, 16, 256, 64, 64, 8, 32, 128>::new());
    let mut w = World::with_hooks(&mut ws, mem.pool(), [9; 16], hooks).expect("world");
    w.attach_nft(&mut nft).expect("attach");
    let names = ["c1", "c2", "r", "s"];
    let [c1, c2, r, s] = names.map(|n| w.add_netns(n).expect("netns"));
    up(&mut w, s, "eth0", &mut *s_nic, S, 24);
    let r_out = up(&mut w, r, "eth0", &mut *r0_nic, R0, 24);
    up(&mut w, r, "eth1", &mut *r1_nic, R1, 24);
    up(&mut w, r, "eth2", &mut *r2_nic, R2, 24);
    up(&mut w, c1, "eth0", &mut *c1_nic, C1, 24);
    up(&mut w, c2, "eth0", &mut *c2_nic, C2, 24);
    w.add_route_via(c1, Ipv4Addr::UNSPECIFIED, 0, R1).expect("route");
    w.add_route_via(c2, Ipv4Addr::UNSPECIFIED, 0, R2).expect("route");
    if opts.server_routes {
        w.add_route_via(s, Ipv4Addr::new(10, 100, 0, 0), 24, R0).expect("route");
        w.add_route_via(s, Ipv4Addr::new(192, 168, 1, 0), 24, R0).expect("route");
    }
    let mut sys = w.sysctl(r).expect("sysctl");
    sys.ip_forward = true;
    w.set_sysctl(r, sys).expect("sysctl");
    let mut t = Topo { c1, c2, r, s, r_out, links: [&links[0], &links[1], &links[2]], now: Instant::ZERO };
    f(&mut w, &mut t);
    w.shutdown();
    let st = w.pool_ref().stats();
    assert!(st.is_idle(), "pool not free at the end: {st:?}");
    assert_eq!(st.bad_handles, 0);
}

/// Run `nft` in `ns`; panic with nft's report on error. Returns the output.
pub fn nft<H: NfHooks>(w: &mut World<'_, H>, ns: NsId, cmd: &str) -> String {
    let mut out = String::new();
    if let Err(e) = w.nft(ns, cmd, &mut out) {
        panic!("{}", e.report(cmd));
    }
    out
}

/// Poll until `done` or `limit_ms` of virtual time.
pub fn run<H: NfHooks>(
    w: &mut World<'_, H>,
    t: &mut Topo<'_>,
    limit_ms: u64,
    mut done: impl FnMut(&mut World<'_, H>) -> bool,
) -> bool {
    let end = t.now + Duration::from_millis(limit_ms);
    while t.now < end {
        w.poll(t.now);
        if done(w) {
            return true;
        }
        let links = t.links.iter().filter_map(|l| l.borrow().poll_at());
        let next = w.poll_at().into_iter().chain(links).min().unwrap_or(end);
        t.now = next.max(t.now + Duration::from_micros(1)).min(t.now + Duration::from_millis(10)).min(end);
    }
    w.poll(t.now);
    done(w)
}

/// Let `ms` of virtual time pass.
pub fn advance<H: NfHooks>(w: &mut World<'_, H>, t: &mut Topo<'_>, ms: u64) {
    run(w, t, ms, |_| false);
}

pub fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

pub fn udp_bound<H: NfHooks>(w: &mut World<'_, H>, ns: NsId, port: u16) -> SockId {
    let s = w.socket(ns, SockType::Udp).expect("socket");
    w.bind(s, sa(Ipv4Addr::UNSPECIFIED, port)).expect("bind");
    s
}

/// Wait up to `ms` for a datagram (or an error) on `s`.
pub fn recv<H: NfHooks>(
    w: &mut World<'_, H>,
    t: &mut Topo<'_>,
    s: SockId,
    ms: u64,
) -> Result<(Vec<u8>, SocketAddrV4), Errno> {
    let mut out = Err(Errno::WouldBlock);
    run(w, t, ms, |w| {
        let mut buf = vec![0u8; 70_000];
        out = w.recvmsg(s, &mut buf).map(|m| (buf[..m.len].to_vec(), m.from));
        out != Err(Errno::WouldBlock)
    });
    out
}

pub fn listener<H: NfHooks>(w: &mut World<'_, H>, ns: NsId, port: u16) -> SockId {
    let l = w.socket(ns, SockType::Tcp).expect("socket");
    w.bind(l, sa(Ipv4Addr::UNSPECIFIED, port)).expect("bind");
    w.listen(l, 8).expect("listen");
    l
}

/// Connect from `ns` to `to`, accepting on `l`; `None` when the handshake
/// does not complete within `ms` (the client socket is closed then).
pub fn connect<H: NfHooks>(
    w: &mut World<'_, H>,
    t: &mut Topo<'_>,
    ns: NsId,
    to: SocketAddr,
    l: SockId,
    ms: u64,
) -> Result<(SockId, SockId), Errno> {
    let c = w.socket(ns, SockType::Tcp).expect("socket");
    assert_eq!(w.connect(c, to), Err(Errno::InProgress));
    let mut server = None;
    let mut err = None;
    let ok = run(w, t, ms, |w| {
        if server.is_none() {
            server = w.accept(l).ok().map(|(s, _)| s);
        }
        if let Ok(e) = w.events(c)
            && e.error
        {
            err = Some(w.sendmsg(c, &[], None).err().unwrap_or(Errno::ConnRefused));
            return true;
        }
        server.is_some() && w.events(c).is_ok_and(|e| e.writable)
    });
    match (ok, err, server) {
        (true, None, Some(s)) => Ok((c, s)),
        (_, e, s) => {
            if let Some(s) = s {
                let _ = w.close(s);
            }
            let _ = w.close(c);
            Err(e.unwrap_or(Errno::TimedOut))
        }
    }
}

/// An echo request with `seq` and `data`.
pub fn echo_request(seq: u16, data: &[u8]) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0, 0, 0];
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(data);
    m
}

/// An IPv4 packet seen on a link, decoded by etherparse (independently of
/// skbnet) with its checksums verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub from: Side,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    /// ICMP type, or TCP flags.
    pub kind: u8,
    pub payload_len: usize,
}

/// The IPv4 packets of `link` recorded so far, decoded; every checksum
/// (IPv4 header, TCP, UDP, ICMP) must be right.
pub fn seen(link: &RefCell<NfLink>) -> Vec<Seen> {
    let mut out = Vec::new();
    for (_, from, f) in &link.borrow().tap().0 {
        let Ok(p) = SlicedPacket::from_ethernet(f) else { continue };
        let Some(NetSlice::Ipv4(ip)) = p.net else { continue };
        let h = ip.header();
        assert_eq!(h.header_checksum(), h.to_header().calc_header_checksum(), "IPv4 header checksum of {f:02x?}");
        let (src, dst) = (h.source_addr(), h.destination_addr());
        let proto = h.protocol().0;
        let payload = ip.payload().payload;
        let mut s = Seen { from: *from, src, dst, proto, sport: 0, dport: 0, kind: 0, payload_len: payload.len() };
        if h.is_fragmenting_payload() {
            out.push(s);
            continue;
        }
        match p.transport {
            Some(TransportSlice::Tcp(t)) => {
                let want = t.to_header().calc_checksum_ipv4(&h.to_header(), t.payload()).expect("tcp csum");
                assert!(
                    skbnet_tests::tcp_checksum_matches(want, t.checksum()),
                    "TCP checksum {:#06x}, want {want:#06x}, {src} -> {dst}",
                    t.checksum()
                );
                s.sport = t.source_port();
                s.dport = t.destination_port();
                s.kind = f[14 + usize::from(h.ihl()) * 4 + 13];
                s.payload_len = t.payload().len();
            }
            Some(TransportSlice::Udp(u)) => {
                if u.checksum() != 0 {
                    let want = u.to_header().calc_checksum_ipv4(&h.to_header(), u.payload()).expect("udp csum");
                    assert_eq!(u.checksum(), want, "UDP checksum {src} -> {dst}");
                }
                s.sport = u.source_port();
                s.dport = u.destination_port();
                s.payload_len = u.payload().len();
            }
            Some(TransportSlice::Icmpv4(i)) => {
                assert_eq!(skbnet::wire::checksum::checksum(i.slice()), 0, "ICMP checksum {src} -> {dst}");
                s.kind = i.type_u8();
                s.sport = u16::from_be_bytes([i.slice()[4], i.slice()[5]]);
            }
            _ => {}
        }
        out.push(s);
    }
    out
}

/// Forget what the links recorded.
pub fn clear_wire(t: &Topo<'_>) {
    for l in t.links {
        l.borrow_mut().tap_mut().0.clear();
    }
}

//! The rule engine's fuzz bodies.
//!
//! [`nft_parse`]: arbitrary text as nft commands (separated by NUL bytes)
//! against a namespace with two interfaces. Nothing may panic; an error's
//! span lies within its command and its report prints; a command that
//! fails leaves the ruleset as it was; after every command the ruleset
//! lists, the same way twice.
//!
//! [`nat_router`]: arbitrary frames through a router with NAT, filter
//! rules, a set, `reject`, `log` and a small connection table (so it
//! fills, evicts and expires), programmed like the stack target
//! ([`crate::fuzz_stack::program`]): a configuration byte, then records of
//! a control byte, a length and a frame. Nothing may panic, and after
//! [`World::shutdown`] every buffer is back in the pool and no stale handle
//! was used.
//!
//! ```text
//!  inside 10.0.1.0/24 ---- link 0 ---- eth0 10.0.1.1  r  eth1 10.0.2.1 ---- link 1 ---- gateway 10.0.2.2
//! ```

use crate::fuzz_input::{Input, features};
use core::cell::RefCell;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::time::Duration;

use skbnet::dev::NetDevice;
use skbnet::netfilter::NftStorage;
use skbnet::netns::{NsId, SmallWorldStorage, World};
use skbnet::skb::{PoolStorage, SkbPool};
use skbnet::socket::{SockId, SockType};
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet_nic_sim::link::{Link, LinkConfig, NoTap, Side};
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::LinkPort;

use crate::fuzz_stack::{arp_frame, arp_request, fix_checksums, peer_mac};

/// eth0's address (inside).
pub const INSIDE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
/// eth1's address (outside).
pub const OUTSIDE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
/// The default gateway, outside.
pub const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// eth0's MAC address.
pub const ETH0_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x11, 0x01];
/// eth1's MAC address.
pub const ETH1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x12, 0x01];

/// The router's rules: NAT both ways, a filter with conntrack states, a
/// set, rejects and a log.
pub const RULES: [&str; 22] = [
    "add table ip nat",
    "add chain ip nat pre { type nat hook prerouting priority dstnat; }",
    "add chain ip nat post { type nat hook postrouting priority srcnat; }",
    "add rule ip nat pre iif eth1 tcp dport 8080 dnat to 10.0.1.2:80",
    "add rule ip nat pre iif eth1 udp dport 5000-5010 dnat to 10.0.1.3",
    "add rule ip nat post oif eth1 ip saddr 10.0.1.0/24 masquerade to :40000-40063",
    "add rule ip nat post ip saddr 10.0.9.0/24 snat to 10.0.2.1",
    "add table inet filter",
    "add set inet filter bad { type ipv4_addr; flags interval; elements = { 10.0.1.128/25, 192.0.2.0/24 } }",
    "add chain inet filter fwd { type filter hook forward priority 0; policy accept; }",
    "add chain inet filter in { type filter hook input priority 0; }",
    "add chain inet filter sub",
    "add rule inet filter fwd ct state invalid counter drop",
    "add rule inet filter fwd ip saddr @bad log prefix \"bad \" drop",
    "add rule inet filter fwd tcp dport { 23, 25 } reject with tcp reset",
    "add rule inet filter fwd udp dport 9 reject",
    "add rule inet filter fwd ct state established,related accept",
    "add rule inet filter fwd jump sub",
    "add rule inet filter sub icmp type echo-request meta mark set 1 return",
    "add rule inet filter sub meta l4proto udp counter",
    "add rule inet filter in tcp dport 22 reject with icmp host-unreachable",
    "add rule inet filter in ct state new counter",
];

type FuzzLink = Link<64, 1514, NoTap>;
type FuzzNic<'l> = SimNic<16, 16, 66_000, LinkPort<'l, 64, 1514, NoTap>>;
type FuzzNft = NftStorage<4, 8, 32, 8, 64, 16>;

/// The largest frame a link carries.
const MAX_FRAME: usize = 1514;
/// How long the clock runs after the last record: past every UDP and
/// unreplied-TCP timeout, so connections expire.
const SETTLE: Duration = Duration::from_secs(200);
/// Commands run at most, per input.
const COMMANDS_MAX: usize = 64;

fn router<'a>(w: &mut World<'a>, eth0: &'a mut dyn NetDevice, eth1: &'a mut dyn NetDevice) -> NsId {
    let ns = w.add_netns("r").expect("namespace");
    for (name, nic, ip) in [("eth0", eth0, INSIDE_IP), ("eth1", eth1, OUTSIDE_IP)] {
        let i = w.add_device(ns, name, nic).expect("device");
        w.set_link_up(i, true).expect("up");
        w.add_addr(i, ip, 24).expect("address");
    }
    w.add_route_via(ns, Ipv4Addr::UNSPECIFIED, 0, GATEWAY_IP).expect("route");
    let mut s = w.sysctl(ns).expect("sysctl");
    s.ip_forward = true;
    w.set_sysctl(ns, s).expect("sysctl");
    ns
}

/// The parser's fuzz body (see the module documentation).
pub fn nft_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut pool_mem = Box::new(PoolStorage::<64, 32, 2048, 8>::new());
    let link = Box::new(RefCell::new(FuzzLink::new(LinkConfig::ethernet(), 1, NoTap)));
    let mk = |mac, side| Box::new(FuzzNic::new(NicConfig::ethernet(MacAddr(mac)), LinkPort::new(&link, side)));
    let (mut a, mut b) = (mk(ETH0_MAC, Side::A), mk(ETH1_MAC, Side::B));
    let mut nft_mem = Box::new(FuzzNft::new());
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut w = World::new(&mut ws, SkbPool::new(&mut pool_mem), [5; 16]).expect("world");
    w.attach_nft(&mut nft_mem).expect("attach");
    let ns = router(&mut w, &mut *a, &mut *b);
    for cmd in text.split('\0').take(COMMANDS_MAX) {
        let mut out = String::new();
        let mut before = String::new();
        w.nft(ns, "list ruleset", &mut before).expect("the ruleset always lists");
        if let Err(e) = w.nft(ns, cmd, &mut out) {
            let end = usize::from(e.span.start) + usize::from(e.span.len);
            assert!(end <= cmd.len(), "the span {:?} lies outside {cmd:?}", e.span);
            assert!(!format!("{}", e.report(cmd)).is_empty());
            let mut after = String::new();
            w.nft(ns, "list ruleset", &mut after).expect("the ruleset always lists");
            assert_eq!(before, after, "{cmd:?} failed but changed the ruleset");
        }
        let (mut l1, mut l2) = (String::new(), String::new());
        w.nft(ns, "list ruleset", &mut l1).expect("the ruleset always lists");
        w.nft(ns, "list ruleset", &mut l2).expect("the ruleset always lists");
        assert_eq!(l1, l2, "listing changes nothing");
    }
    w.shutdown();
}

/// The NAT router's fuzz body (see the module documentation).
pub fn nat_router(data: &[u8]) {
    let mut input = Input::new(data);
    let config = input.u8();
    let mut pool_mem = Box::new(PoolStorage::<256, 128, 2048, 32>::new());
    let links = [
        Box::new(RefCell::new(FuzzLink::new(LinkConfig::ethernet(), 1, NoTap))),
        Box::new(RefCell::new(FuzzLink::new(LinkConfig::ethernet(), 2, NoTap))),
    ];
    let mk = |mac, link| {
        let c = NicConfig { offloads: features(config), ..NicConfig::ethernet(MacAddr(mac)) };
        Box::new(FuzzNic::new(c, LinkPort::new(link, Side::B)))
    };
    let (mut a, mut b) = (mk(ETH0_MAC, &links[0]), mk(ETH1_MAC, &links[1]));
    let mut nft_mem = Box::new(FuzzNft::new());
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut w = World::new(&mut ws, SkbPool::new(&mut pool_mem), [6; 16]).expect("world");
    w.attach_nft(&mut nft_mem).expect("attach");
    let ns = router(&mut w, &mut *a, &mut *b);
    for cmd in RULES {
        w.nft(ns, cmd, &mut String::new()).unwrap_or_else(|e| panic!("{}", e.report(cmd)));
    }
    let sock = w.socket(ns, SockType::Udp).expect("socket");
    w.bind(sock, SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))).expect("bind");
    let mut now = Instant::ZERO;
    let link_refs = [&*links[0], &*links[1]];
    // Bounded: every record consumes at least its control byte.
    while input.pos < data.len() {
        let ctrl = input.u8();
        let len = usize::from(u16::from_be_bytes([input.u8(), input.u8()])) % (MAX_FRAME + 1);
        let mut frame = input.bytes(len).to_vec();
        if config & 0x80 != 0 {
            fix_checksums(&mut frame);
        }
        let wait_root = u64::from(ctrl >> 2);
        now += Duration::from_millis(wait_root * wait_root);
        link_refs[usize::from(ctrl & 1)].borrow_mut().send(now, Side::A, &frame);
        if ctrl & 2 == 0 {
            for _ in 0..3 {
                w.poll(now);
                serve(&mut w, &link_refs, sock, now, config & 0x20 != 0);
                now += Duration::from_micros(50);
            }
        }
    }
    let end = now + SETTLE;
    // Bounded: each round moves the clock by at least a millisecond.
    while now < end {
        w.poll(now);
        serve(&mut w, &link_refs, sock, now, false);
        now = w.poll_at().unwrap_or(end).clamp(now + Duration::from_millis(1), now + Duration::from_secs(1));
    }
    w.poll(now);
    assert!(w.conntrack(ns).count() <= w.nft_tables().map_or(0, |n| n.ct_capacity()));
    w.shutdown();
    let st = w.pool_ref().stats();
    assert!(st.is_idle(), "the stack leaked buffers: {st:?}");
    assert_eq!(st.bad_handles, 0, "the stack used a stale handle: {st:?}");
}

/// The far ends answer ARP (if configured); the router's UDP socket echoes
/// while `echo`.
fn serve(w: &mut World<'_>, links: &[&RefCell<FuzzLink>; 2], sock: SockId, now: Instant, echo: bool) {
    let mut buf = [0u8; MAX_FRAME];
    for link in links {
        // Bounded by what the link holds.
        loop {
            let got = link.borrow_mut().recv(now, Side::A, &mut buf);
            let Some(n) = got else { break };
            if let Some((sha, spa, tpa)) = arp_request(&buf[..n]) {
                let answer = arp_frame(2, peer_mac(tpa), tpa, sha, spa);
                link.borrow_mut().send(now, Side::A, &answer);
            }
        }
    }
    let mut data = [0u8; 2048];
    for _ in 0..64 {
        match w.recvmsg(sock, &mut data) {
            Ok(m) if echo => {
                let _ = w.sendmsg(sock, &data[..m.len], Some(SocketAddr::V4(m.from)));
            }
            Ok(_) => {}
            Err(skbnet::socket::Errno::WouldBlock) => break,
            // An ICMP error reported once; the datagrams wait behind it.
            Err(_) => {}
        }
    }
}

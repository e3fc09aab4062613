//! What a bridge forwards, frame by frame, as Linux's `br_handle_frame`
//! decides: a bridge `br0` (10.0.0.1/24) with two simulated NICs as ports,
//! each cabled to a link whose far side is the test. Frames go in on one
//! link; the test reads what comes out of either, and the counters.
//!
//! ```text
//!  test ---- link0 ---- eth0 \
//!                             br0 10.0.0.1/24
//!  test ---- link1 ---- eth1 /
//! ```

mod common;

use common::*;
use etherparse::PacketBuilder;
use skbnet::dev::Features;
use skbnet::netns::{NsId, SmallWorldStorage, World};
use skbnet::stats::DropReason;
use skbnet::time::Instant;
use skbnet_nic_sim::link::{NoTap, Side};

const ETH0: [u8; 6] = [0x02, 0, 0, 0, 0xb0, 0];
const ETH1: [u8; 6] = [0x02, 0, 0, 0, 0xb1, 0];
/// A host on link0, and one on link1.
const LEFT: [u8; 6] = [0x02, 0, 0, 0, 0, 0x11];
const RIGHT: [u8; 6] = [0x02, 0, 0, 0, 0, 0x22];
const BR_IP: [u8; 4] = [10, 0, 0, 1];
const LEFT_IP: [u8; 4] = [10, 0, 0, 9];

struct Bench<'l> {
    links: [&'l std::cell::RefCell<TestLink>; 2],
    ns: NsId,
    br: skbnet::skb::IfIndex,
    now: Instant,
}

/// Build the bridge, run `f`, shut down: the pool must be completely free.
fn with_bridge(f: impl FnOnce(&mut World<'_>, &mut Bench<'_>)) {
    let mut mem = storage();
    let (l0, l1) = (link(NoTap), link(NoTap));
    let mut eth0 = nic(ETH0, &l0, Side::B, |c| c.offloads = Features::NONE);
    let mut eth1 = nic(ETH1, &l1, Side::B, |c| c.offloads = Features::NONE);
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut w = World::new(&mut ws, mem.pool(), [3; 16]).unwrap();
    let ns = w.add_netns("sw").unwrap();
    let br = w.add_bridge(ns, "br0").unwrap();
    for (name, dev) in [("eth0", &mut *eth0), ("eth1", &mut *eth1)] {
        let port = w.add_device(ns, name, dev).unwrap();
        w.set_master(port, br).unwrap();
        w.set_link_up(port, true).unwrap();
    }
    w.set_link_up(br, true).unwrap();
    w.add_addr(br, BR_IP.into(), 24).unwrap();
    let mut b = Bench { links: [&l0, &l1], ns, br, now: Instant::ZERO };
    // Both hosts speak once, so the bridge knows where they are.
    for (i, mac) in [LEFT, RIGHT].into_iter().enumerate() {
        let hello = frame([0xff; 6], mac, 0x0800, &udp_to(LEFT_IP, [10, 0, 0, 255]));
        send(&mut w, &mut b, i, &[hello]);
    }
    f(&mut w, &mut b);
    w.shutdown();
    let st = w.pool_ref().stats();
    assert!(st.is_idle(), "pool not free after shutdown: {st:?}");
}

fn frame(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = [&dst[..], &src, &ethertype.to_be_bytes(), payload].concat();
    f.resize(f.len().max(60), 0);
    f
}

/// A UDP datagram (IPv4 packet) to port 9.
fn udp_to(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut p = Vec::new();
    PacketBuilder::ipv4(src, dst, 64).udp(4000, 9).write(&mut p, b"bridged").unwrap();
    p
}

/// Put `frames` on link `on` towards the bridge, let it work, and return
/// what came out of each link.
fn send(w: &mut World<'_>, b: &mut Bench<'_>, on: usize, frames: &[Vec<u8>]) -> [Vec<Vec<u8>>; 2] {
    for f in frames {
        b.links[on].borrow_mut().send(b.now, Side::A, f);
    }
    for _ in 0..10 {
        w.poll(b.now);
        b.now += core::time::Duration::from_micros(100);
    }
    let mut buf = [0u8; 1514];
    b.links.map(|l| {
        let mut out = Vec::new();
        while let Some(n) = l.borrow_mut().recv(b.now, Side::A, &mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    })
}

/// IEEE 802.1D never lets a bridge learn or forward a frame from the
/// all-zero address, nor does Linux (`is_valid_ether_addr`).
#[test]
fn a_frame_from_the_zero_address_is_dropped() {
    with_bridge(|w, b| {
        let before = w.stats(b.ns).unwrap().drops.get(DropReason::BadSrcMac);
        let out = send(w, b, 0, &[frame([0xff; 6], [0; 6], 0x0800, &udp_to(LEFT_IP, [10, 0, 0, 255]))]);
        assert_eq!(out, [vec![], vec![]] as [Vec<Vec<u8>>; 2], "not flooded");
        assert_eq!(w.stats(b.ns).unwrap().drops.get(DropReason::BadSrcMac), before + 1);
    });
}

/// 01:80:C2:00:00:0X is link-local (IEEE 802.1D 7.12.6): the bridge group
/// address (STP) is forwarded when STP is off, as Linux does; pause frames
/// are dropped; the rest (LACP, 802.1X, LLDP) reach the bridge's own stack
/// only.
#[test]
fn link_local_group_addresses_are_not_flooded() {
    with_bridge(|w, b| {
        let ll = |x: u8| frame([0x01, 0x80, 0xc2, 0, 0, x], LEFT, 0x88cc, &[0x5a; 46]);
        let out = send(w, b, 0, &[ll(0)]);
        assert_eq!(out[1], [ll(0)], "STP off: the bridge group address goes through");
        for x in [0x01, 0x02, 0x03, 0x0e] {
            let out = send(w, b, 0, &[ll(x)]);
            assert_eq!(out, [vec![], vec![]] as [Vec<Vec<u8>>; 2], "01:80:c2:00:00:{x:02x} stays on its link");
        }
    });
}

/// A frame to a port's own address is for the bridge (Linux keeps a local
/// FDB entry for every port's address): delivered to its stack, never
/// flooded out of the other ports.
#[test]
fn a_frame_to_a_ports_own_address_is_delivered_to_the_bridge() {
    with_bridge(|w, b| {
        let mut ping = Vec::new();
        PacketBuilder::ethernet2(LEFT, ETH0)
            .ipv4(LEFT_IP, BR_IP, 64)
            .icmpv4_echo_request(7, 1)
            .write(&mut ping, b"port mac")
            .unwrap();
        w.add_neigh(b.br, LEFT_IP.into(), skbnet::wire::MacAddr(LEFT)).unwrap();
        let out = send(w, b, 0, &[ping]);
        assert!(out[1].is_empty(), "not flooded: {:02x?}", out[1]);
        assert_eq!(out[0].len(), 1, "answered: {:02x?}", out[0]);
        let (eth, rest) = etherparse::Ethernet2Header::from_slice(&out[0][0]).unwrap();
        let (ip, icmp) = etherparse::Ipv4Header::from_slice(rest).unwrap();
        assert_eq!((eth.destination, ip.source, ip.destination, icmp[0]), (LEFT, BR_IP, LEFT_IP, 0), "echo reply");
    });
}

//! smoltcp, an independent stack, as skbnet's peer on a simulated link:
//! it answers our pings (through a skbnet ping socket), exchanges UDP
//! datagrams with us both ways byte for byte (a datagram larger than the
//! MTU is fragmented by one side and reassembled by the other, in each
//! direction), and each side resolves the other by ARP. Everything runs with
//! every NIC offload on and with none, and our pool is completely free after
//! shutdown.
//!
//! ```text
//!  skbnet "us" eth0 10.0.0.1/24 02:..:0a ---- link ---- 02:..:0b 10.0.0.2/24 smoltcp
//! ```

mod common;

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use common::*;
use core::time::Duration;
use etherparse::{Ethernet2Header, IpNumber, Ipv4Header};
use skbnet::dev::Features;
use skbnet::netns::{NsId, SmallWorldStorage, World};
use skbnet::socket::{Errno, SockId, SockType};
use skbnet::time::Instant;
use skbnet_nic_sim::link::Side;
use skbnet_nic_sim::smoltcp_phy::SmolPort;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::udp;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint};

const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SMOL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Our UDP port and smoltcp's.
const OUR_PORT: u16 = 5000;
const SMOL_PORT: u16 = 7;
/// Larger than the 1500-byte MTU: three fragments either way.
const BIG: usize = 4000;

/// smoltcp's side: its interface and one UDP socket bound to port 7.
struct Smol {
    iface: Interface,
    sockets: SocketSet<'static>,
    udp: SocketHandle,
}

/// The world's namespace, the link (with a recording tap), smoltcp, and the clock.
struct Pair<'l> {
    link: &'l RefCell<TestLink<Rec>>,
    smol: Smol,
    ns: NsId,
    now: Instant,
}

fn smol_now(t: Instant) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(t.micros() as i64)
}

fn ours(t: smoltcp::time::Instant) -> Instant {
    Instant::from_micros(t.total_micros() as u64)
}

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

/// Build both sides on one link and run `f`; afterwards our world shuts down
/// and the pool must be completely free.
fn with_pair(offloads: Features, f: impl FnOnce(&mut World<'_>, &mut Pair<'_>)) {
    let mut mem = storage();
    let link = link(Rec::default());
    let mut dev = nic(MAC_A, &link, Side::A, |c| c.offloads = offloads);
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut w = World::new(&mut ws, mem.pool(), [9; 16]).unwrap();
    let ns = w.add_netns("us").unwrap();
    let eth0 = w.add_device(ns, "eth0", &mut *dev).unwrap();
    w.set_link_up(eth0, true).unwrap();
    w.add_addr(eth0, US, 24).unwrap();

    let config = Config::new(HardwareAddress::Ethernet(EthernetAddress(MAC_B)));
    let mut iface = Interface::new(config, &mut SmolPort::ethernet(&link, Side::B), smol_now(Instant::ZERO));
    iface.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::from(SMOL), 24)).unwrap());
    let buffer = || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 16], vec![0; 4 * BIG]);
    let mut socket = udp::Socket::new(buffer(), buffer());
    socket.bind(SMOL_PORT).unwrap();
    let mut sockets = SocketSet::new(vec![]);
    let udp = sockets.add(socket);

    let mut p = Pair { link: &link, smol: Smol { iface, sockets, udp }, ns, now: Instant::ZERO };
    f(&mut w, &mut p);
    w.shutdown();
    let st = w.pool_ref().stats();
    assert!(st.is_idle(), "pool not free at the end: {st:?}");
    assert_eq!(st.bad_handles, 0);
}

/// Run both stacks on one virtual clock until `done` or `limit` passes,
/// jumping to whichever needs to run next (at most 10 ms at a time).
fn run(
    w: &mut World<'_>,
    p: &mut Pair<'_>,
    limit: Duration,
    mut done: impl FnMut(&mut World<'_>, &mut Pair<'_>) -> bool,
) -> bool {
    let end = p.now + limit;
    loop {
        w.poll(p.now);
        let s = &mut p.smol;
        s.iface.poll(smol_now(p.now), &mut SmolPort::ethernet(p.link, Side::B), &mut s.sockets);
        if done(w, p) {
            return true;
        }
        if p.now >= end {
            return false;
        }
        let s = &mut p.smol;
        let smol_at = s.iface.poll_at(smol_now(p.now), &s.sockets).map(ours);
        let link_at = p.link.borrow().poll_at();
        let next = [w.poll_at(), smol_at, link_at].into_iter().flatten().min().unwrap_or(end);
        p.now = next.clamp(p.now + Duration::from_micros(1), p.now + Duration::from_millis(10)).min(end);
    }
}

/// Wait for a datagram on our socket `s`.
fn recv(w: &mut World<'_>, p: &mut Pair<'_>, s: SockId) -> (Vec<u8>, SocketAddrV4) {
    let mut out = None;
    let mut buf = vec![0u8; 70_000];
    run(w, p, Duration::from_secs(5), |w, _| match w.recvmsg(s, &mut buf) {
        Ok(m) => {
            assert!(!m.truncated);
            out = Some((buf[..m.len].to_vec(), m.from));
            true
        }
        Err(Errno::WouldBlock) => false,
        Err(e) => panic!("recvmsg: {e:?}"),
    });
    out.expect("a datagram within 5 s")
}

/// Wait for a datagram on smoltcp's socket.
fn smol_recv(w: &mut World<'_>, p: &mut Pair<'_>) -> (Vec<u8>, IpEndpoint) {
    let mut out = None;
    run(w, p, Duration::from_secs(5), |_, p| {
        let s = p.smol.sockets.get_mut::<udp::Socket>(p.smol.udp);
        match s.recv() {
            Ok((data, meta)) => {
                out = Some((data.to_vec(), meta.endpoint));
                true
            }
            Err(_) => false,
        }
    });
    out.expect("smoltcp got a datagram within 5 s")
}

/// smoltcp sends `data` to our socket.
fn smol_send(p: &mut Pair<'_>, data: &[u8]) {
    let s = p.smol.sockets.get_mut::<udp::Socket>(p.smol.udp);
    s.send_slice(data, IpEndpoint::new(IpAddress::from(US), OUR_PORT)).unwrap();
}

fn echo_request(seq: u16, data: &[u8]) -> Vec<u8> {
    [&[8, 0, 0, 0, 0, 0][..], &seq.to_be_bytes(), data].concat()
}

/// Every IPv4 packet that crossed the link from `from`, with its header.
fn ipv4_sent(p: &Pair<'_>, from: Side) -> Vec<(Ipv4Header, Vec<u8>)> {
    let link = p.link.borrow();
    let frames = link.tap().0.iter().filter(|(_, side, _)| *side == from);
    frames
        .filter_map(|(_, _, f)| {
            let (e, rest) = Ethernet2Header::from_slice(f).ok()?;
            (e.ether_type.0 == 0x0800).then_some(())?;
            let (ip, payload) = Ipv4Header::from_slice(rest).ok()?;
            Some((ip.clone(), payload[..usize::from(ip.total_len) - ip.header_len()].to_vec()))
        })
        .collect()
}

/// Every ARP message that crossed the link from `from`: (Ethernet
/// destination, operation, sender MAC, sender IP, target MAC, target IP).
type Arp = ([u8; 6], u16, [u8; 6], Ipv4Addr, [u8; 6], Ipv4Addr);

fn arp_sent(p: &Pair<'_>, from: Side) -> Vec<Arp> {
    let link = p.link.borrow();
    let frames = link.tap().0.iter().filter(|(_, side, _)| *side == from);
    frames
        .filter(|(_, _, f)| f.len() >= 42 && f[12..14] == [0x08, 0x06])
        .map(|(_, _, f)| {
            assert_eq!(f[14..20], [0, 1, 8, 0, 6, 4], "Ethernet/IPv4 ARP");
            let mac = |at: usize| -> [u8; 6] { f[at..at + 6].try_into().unwrap() };
            let ip = |at: usize| Ipv4Addr::new(f[at], f[at + 1], f[at + 2], f[at + 3]);
            (mac(0), u16::from_be_bytes([f[20], f[21]]), mac(22), ip(28), mac(32), ip(38))
        })
        .collect()
}

/// Our pings, answered by smoltcp: each reply carries our identifier, the
/// sequence number and the data, byte for byte; the largest crosses in
/// fragments both ways.
fn pings(offloads: Features) {
    with_pair(offloads, |w, p| {
        let ping = w.socket(p.ns, SockType::Ping).unwrap();
        for (seq, len) in [0, 56, 1000, 1472, 3000].into_iter().enumerate() {
            let data = payload_of(len, seq as u8);
            w.sendmsg(ping, &echo_request(seq as u16, &data), Some(sa(SMOL, 0))).unwrap();
            let (reply, from) = recv(w, p, ping);
            assert_eq!(*from.ip(), SMOL);
            assert_eq!(reply[..2], [0, 0], "echo reply");
            let ident = w.local_addr(ping).unwrap().port();
            assert_eq!(u16::from_be_bytes([reply[4], reply[5]]), ident, "our identifier");
            assert_eq!(u16::from_be_bytes([reply[6], reply[7]]), seq as u16);
            assert_eq!(&reply[8..], &data[..], "{len} bytes of echo data");
        }
        let st = w.stats(p.ns).unwrap();
        assert_eq!((st.icmp.OutEchos, st.icmp.InEchoReps), (5, 5));
        assert_eq!((st.ip.FragOKs, st.ip.FragCreates, st.ip.ReasmOKs), (1, 3, 1), "3028 bytes each way, in 3");
        w.close(ping).unwrap();
    });
}

#[test]
fn smoltcp_answers_our_pings_with_offloads() {
    pings(Features::ALL);
}

#[test]
fn smoltcp_answers_our_pings_without_offloads() {
    pings(Features::NONE);
}

/// Datagrams of every size both ways: what one side sends, the other
/// receives byte for byte, from the right address and port.
fn udp_both_ways(offloads: Features) {
    with_pair(offloads, |w, p| {
        let s = w.socket(p.ns, SockType::Udp).unwrap();
        w.bind(s, sa(Ipv4Addr::UNSPECIFIED, OUR_PORT)).unwrap();
        let sizes = [0, 1, 100, 1472, 1473, BIG];
        for (i, &len) in sizes.iter().enumerate() {
            let msg = payload_of(len, i as u8);
            assert_eq!(w.sendmsg(s, &msg, Some(sa(SMOL, SMOL_PORT))), Ok(len));
            let (got, from) = smol_recv(w, p);
            assert_eq!(got, msg, "{len} bytes to smoltcp");
            assert_eq!(from, IpEndpoint::new(IpAddress::from(US), OUR_PORT));
        }
        for (i, &len) in sizes.iter().enumerate() {
            let msg = payload_of(len, 100 + i as u8);
            smol_send(p, &msg);
            let (got, from) = recv(w, p, s);
            assert_eq!(got, msg, "{len} bytes from smoltcp");
            assert_eq!(from, SocketAddrV4::new(SMOL, SMOL_PORT));
        }
        let st = w.stats(p.ns).unwrap();
        assert_eq!((st.udp.OutDatagrams, st.udp.InDatagrams), (6, 6));
        assert_eq!((st.ip.FragOKs, st.ip.FragCreates), (2, 5), "1501 bytes in 2 fragments, 4028 in 3");
        assert_eq!((st.ip.ReasmReqds, st.ip.ReasmOKs), (5, 2), "smoltcp fragmented the same two");
        // What we put on the wire: whole datagrams up to 1500 bytes, then fragments.
        let sent = ipv4_sent(p, Side::A);
        let frags: Vec<(u16, bool, usize)> = sent
            .iter()
            .filter(|(ip, _)| ip.protocol == IpNumber::UDP && (ip.more_fragments || ip.fragment_offset.value() != 0))
            .map(|(ip, payload)| (ip.fragment_offset.value() * 8, ip.more_fragments, payload.len()))
            .collect();
        assert_eq!(
            frags,
            [(0, true, 1480), (1480, false, 1), (0, true, 1480), (1480, true, 1480), (2960, false, 1048)]
        );
        w.close(s).unwrap();
    });
}

#[test]
fn udp_both_ways_with_offloads() {
    udp_both_ways(Features::ALL);
}

#[test]
fn udp_both_ways_without_offloads() {
    udp_both_ways(Features::NONE);
}

/// ARP, each side asking once: we ask for smoltcp before our first
/// datagram; later, when smoltcp's cache entry has expired (after 60 s),
/// smoltcp asks for us before its datagram, and our reply lets it through.
#[test]
fn arp_is_resolved_in_both_directions() {
    with_pair(Features::ALL, |w, p| {
        let s = w.socket(p.ns, SockType::Udp).unwrap();
        w.bind(s, sa(Ipv4Addr::UNSPECIFIED, OUR_PORT)).unwrap();
        w.sendmsg(s, b"first", Some(sa(SMOL, SMOL_PORT))).unwrap();
        assert_eq!(smol_recv(w, p).0, b"first");
        let (zero, bcast) = ([0u8; 6], [0xffu8; 6]);
        assert_eq!(arp_sent(p, Side::A), [(bcast, 1, MAC_A, US, zero, SMOL)], "our request");
        assert_eq!(arp_sent(p, Side::B), [(MAC_A, 2, MAC_B, SMOL, MAC_A, US)], "smoltcp's reply");

        assert!(!run(w, p, Duration::from_secs(61), |_, _| false));
        smol_send(p, b"second");
        assert_eq!(recv(w, p, s), (b"second".to_vec(), SocketAddrV4::new(SMOL, SMOL_PORT)));
        let smol_asked = arp_sent(p, Side::B);
        assert_eq!(smol_asked.len(), 2);
        // smoltcp fills the target hardware address of a request with ones.
        assert_eq!(smol_asked[1], (bcast, 1, MAC_B, SMOL, bcast, US), "smoltcp's request");
        assert_eq!(arp_sent(p, Side::A)[1..], [(MAC_B, 2, MAC_A, US, MAC_B, SMOL)], "our reply");
        w.close(s).unwrap();
    });
}

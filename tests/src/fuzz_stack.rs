//! The fuzz body of the whole stack: arbitrary frames arrive, through
//! simulated NICs on links, at a configured namespace that routes between
//! two interfaces, answers on a UDP socket and a TCP listener, and already
//! knows a neighbour.
//! Nothing may panic, and after [`World::shutdown`] the pool must be
//! completely free (no buffer leaked, whatever arrived) with no stale handle
//! ever used.
//!
//! ```text
//!  peer0 10.0.1.2 ---- link 0 ---- eth0 10.0.1.1/24  r  eth1 10.0.2.1/24 ---- link 1 ---- gateway 10.0.2.2
//!                  (MTU 1500)      ip_forward on, UDP :7, TCP :80    (MTU 1000)
//! ```
//!
//! The input is a program: a configuration byte (the NICs' offloads, whether
//! the far ends answer ARP, whether the sockets echo what they receive,
//! whether the harness fixes checksums), then records, each a control byte
//! (which link, whether the next frame comes in the same poll, how long to
//! wait first), a big-endian length and that many bytes of frame. After the
//! last record the clock runs on for 70 s so every timer (ARP, reassembly)
//! fires. Build programs with [`program`].

use crate::fuzz_input::{Input, features};
use core::cell::RefCell;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::time::Duration;

use skbnet::dev::NetDevice;
use skbnet::netns::{NsId, SmallWorldStorage, World};
use skbnet::skb::{PoolStorage, SkbPool};
use skbnet::socket::{Errno, SockId, SockType};
use skbnet::stats::NetStats;
use skbnet::time::Instant;
use skbnet::wire::{Icmpv4Packet, IpProtocol, Ipv4Packet, MacAddr, TcpPacket, UdpPacket};
use skbnet_nic_sim::link::{Link, LinkConfig, NoTap, Side};
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::LinkPort;

/// eth0's MAC address (on link 0).
pub const ETH0_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x01];
/// eth1's MAC address (on link 1).
pub const ETH1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x02, 0x01];
/// eth0's address, a /24.
pub const ETH0_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
/// eth1's address, a /24.
pub const ETH1_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
/// The neighbour on link 0 the namespace has learned before the program runs.
pub const PEER0_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
/// The default gateway, on link 1.
pub const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The port the namespace's UDP socket listens on.
pub const UDP_PORT: u16 = 7;
/// The port the namespace's TCP listener listens on.
pub const TCP_PORT: u16 = 80;
/// Connections the application keeps open at once (it closes the oldest
/// to take another).
const TCP_KEPT: usize = 4;
/// eth1's MTU (eth0 has 1500), so forwarded packets get fragmented.
pub const ETH1_MTU: u16 = 1000;

/// Configuration bit: the far ends answer every ARP request on their link.
pub const ANSWER_ARP: u8 = 1 << 5;
/// Configuration bit: the UDP socket and the TCP connections send back
/// what they receive.
pub const ECHO: u8 = 1 << 6;
/// Configuration bit: before a frame goes on the wire, the harness makes
/// its IPv4 header checksum right, and its UDP, TCP or ICMP checksum when
/// the packet is whole, so the fuzzer reaches what lies behind them.
pub const FIX_CHECKSUMS: u8 = 1 << 7;
/// Configuration bits 0 to 4: offloads of both NICs (TX checksum, TSO, RX
/// checksum, LRO, scatter-gather).
pub const ALL_OFFLOADS: u8 = 0x1f;

/// The hardware address the far end of a link answers ARP with for `ip`.
pub fn peer_mac(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0xee, o[0], o[1], o[2], o[3]]
}

/// A record's control byte: the `link` (0 or 1) the frame arrives on,
/// whether it is `held` on the wire until the next record's frame arrives
/// (so one poll sees both, as GRO and LRO need), and the square root of the
/// milliseconds to wait before it (below 64).
pub fn control(link: u8, held: bool, wait_root: u8) -> u8 {
    (wait_root.min(63) << 2) | (u8::from(held) << 1) | (link & 1)
}

/// A program: `config`, then each frame with its control byte (see [`control`]).
pub fn program(config: u8, records: &[(u8, &[u8])]) -> Vec<u8> {
    let mut p = vec![config];
    for &(ctrl, frame) in records {
        p.push(ctrl);
        p.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        p.extend_from_slice(frame);
    }
    p
}

type StackLink = Link<64, 1514, NoTap>;
type StackNic<'l> = SimNic<16, 16, 66_000, LinkPort<'l, 64, 1514, NoTap>>;

/// The largest frame a link carries.
const MAX_FRAME: usize = 1514;
/// Reads the application makes from one socket in one turn.
const READS_MAX: usize = 256;
/// How long the clock runs after the last record.
const SETTLE: Duration = Duration::from_secs(70);

/// The namespace under test, its socket, the links and the clock.
struct Bench<'l> {
    sock: SockId,
    listener: SockId,
    /// Accepted connections, oldest first.
    conns: Vec<SockId>,
    links: [&'l RefCell<StackLink>; 2],
    config: u8,
    /// The sockets echo (while the records play, if configured; never
    /// while the clock settles, so an echo to itself cannot run for ever).
    echo: bool,
    now: Instant,
}

/// The fuzz body.
pub fn stack(data: &[u8]) {
    run(data);
}

/// Run a program (see the module documentation) and return the namespace's
/// counters: for checking that a seed reaches the paths it is meant for.
/// Panics on a finding, as the fuzz body does.
pub fn run(data: &[u8]) -> NetStats {
    let mut input = Input::new(data);
    let config = input.u8();
    let mut pool_mem = Box::new(PoolStorage::<256, 128, 2048, 32>::new());
    let link0 = Box::new(RefCell::new(StackLink::new(LinkConfig::ethernet(), 1, NoTap)));
    let link1 = Box::new(RefCell::new(StackLink::new(LinkConfig::ethernet(), 2, NoTap)));
    let mk = |mac, mtu, link| {
        let c = NicConfig { offloads: features(config), mtu, ..NicConfig::ethernet(MacAddr(mac)) };
        Box::new(StackNic::new(c, LinkPort::new(link, Side::B)))
    };
    let mut nic0 = mk(ETH0_MAC, 1500, &link0);
    let mut nic1 = mk(ETH1_MAC, ETH1_MTU, &link1);
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut w = World::new(&mut ws, SkbPool::new(&mut pool_mem), [3; 16]).expect("world");
    let (ns, sock, listener) = configure(&mut w, &mut *nic0, &mut *nic1);
    let echo = config & ECHO != 0;
    let mut b = Bench { sock, listener, conns: Vec::new(), links: [&link0, &link1], config, echo, now: Instant::ZERO };
    // The neighbour on link 0 introduces itself (and is answered).
    link0.borrow_mut().send(b.now, Side::A, &arp_frame(1, peer_mac(PEER0_IP), PEER0_IP, [0; 6], ETH0_IP));
    work(&mut w, &mut b);
    play(&mut w, &mut b, &mut input);
    settle(&mut w, &mut b);
    let stats = *w.stats(ns).expect("namespace");
    w.shutdown();
    let st = w.pool_ref().stats();
    assert!(st.is_idle(), "the stack leaked buffers: {st:?}");
    assert_eq!(st.bad_handles, 0, "the stack used a stale handle: {st:?}");
    stats
}

/// The namespace of the module documentation, with its UDP socket and TCP
/// listener.
fn configure<'a>(
    w: &mut World<'a>,
    nic0: &'a mut dyn NetDevice,
    nic1: &'a mut dyn NetDevice,
) -> (NsId, SockId, SockId) {
    let ns = w.add_netns("r").expect("namespace");
    for (name, nic, ip) in [("eth0", nic0, ETH0_IP), ("eth1", nic1, ETH1_IP)] {
        let i = w.add_device(ns, name, nic).expect("device");
        w.set_link_up(i, true).expect("up");
        w.add_addr(i, ip, 24).expect("address");
    }
    w.add_route_via(ns, Ipv4Addr::UNSPECIFIED, 0, GATEWAY_IP).expect("default route");
    let mut sysctl = w.sysctl(ns).expect("sysctl");
    sysctl.ip_forward = true;
    w.set_sysctl(ns, sysctl).expect("sysctl");
    let sock = w.socket(ns, SockType::Udp).expect("socket");
    w.bind(sock, SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, UDP_PORT))).expect("bind");
    let listener = w.socket(ns, SockType::Tcp).expect("socket");
    w.bind(listener, SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, TCP_PORT))).expect("bind");
    w.listen(listener, 4).expect("listen");
    (ns, sock, listener)
}

/// Put each record's frame on its link at its time, and let the namespace
/// work unless the frame is held for the next.
fn play(w: &mut World<'_>, b: &mut Bench<'_>, input: &mut Input<'_>) {
    // Bounded: every record consumes at least its control byte.
    while !input.done() {
        let ctrl = input.u8();
        let len = usize::from(u16::from_be_bytes([input.u8(), input.u8()])) % (MAX_FRAME + 1);
        let mut frame = input.bytes(len).to_vec();
        if b.config & FIX_CHECKSUMS != 0 {
            fix_checksums(&mut frame);
        }
        let wait_root = u64::from(ctrl >> 2);
        b.now += Duration::from_millis(wait_root * wait_root);
        b.links[usize::from(ctrl & 1)].borrow_mut().send(b.now, Side::A, &frame);
        if ctrl & 2 == 0 {
            work(w, b);
        }
    }
}

/// Let the namespace work on what arrived: receive, answer, complete.
fn work(w: &mut World<'_>, b: &mut Bench<'_>) {
    for _ in 0..3 {
        w.poll(b.now);
        serve(w, b);
        b.now += Duration::from_micros(50);
    }
}

/// Let the clock run for [`SETTLE`], polling when the world asks to be.
fn settle(w: &mut World<'_>, b: &mut Bench<'_>) {
    b.echo = false;
    let end = b.now + SETTLE;
    // Bounded: each round moves the clock by at least a millisecond.
    while b.now < end {
        w.poll(b.now);
        serve(w, b);
        let next = w.poll_at().unwrap_or(end);
        b.now = next.clamp(b.now + Duration::from_millis(1), b.now + Duration::from_secs(1));
    }
    w.poll(b.now);
}

/// What the far ends and the application do: take what the namespace sent
/// (answering ARP requests if configured), read the sockets (echoing if
/// configured).
fn serve(w: &mut World<'_>, b: &mut Bench<'_>) {
    let mut buf = [0u8; MAX_FRAME];
    for link in b.links {
        loop {
            let Some(n) = link.borrow_mut().recv(b.now, Side::A, &mut buf) else { break };
            if b.config & ANSWER_ARP != 0
                && let Some((sha, spa, tpa)) = arp_request(&buf[..n])
            {
                let answer = arp_frame(2, peer_mac(tpa), tpa, sha, spa);
                link.borrow_mut().send(b.now, Side::A, &answer);
            }
        }
    }
    let mut data = [0u8; 2048];
    for _ in 0..READS_MAX {
        match w.recvmsg(b.sock, &mut data) {
            Ok(m) if b.echo => {
                let _ = w.sendmsg(b.sock, &data[..m.len], Some(SocketAddr::V4(m.from)));
            }
            Ok(_) => {}
            Err(Errno::WouldBlock) => break,
            // An ICMP error reported once; the datagrams wait behind it.
            Err(_) => {}
        }
    }
    serve_tcp(w, b);
}

/// The TCP application: accept what the listener has (keeping a few
/// connections), read each connection, echo if configured, close at the
/// end of the stream or on an error.
fn serve_tcp(w: &mut World<'_>, b: &mut Bench<'_>) {
    while let Ok((c, _)) = w.accept(b.listener) {
        b.conns.push(c);
        if b.conns.len() > TCP_KEPT {
            let _ = w.close(b.conns.remove(0));
        }
    }
    let mut data = [0u8; 2048];
    let echo = b.echo;
    b.conns.retain(|&c| {
        for _ in 0..READS_MAX {
            match w.recvmsg(c, &mut data) {
                Ok(m) if m.len > 0 => {
                    if echo {
                        let _ = w.sendmsg(c, &data[..m.len], None);
                    }
                }
                Err(Errno::WouldBlock) => return true,
                Ok(_) | Err(_) => {
                    let _ = w.close(c);
                    return false;
                }
            }
        }
        true
    });
}

/// Fill in the checksums of an untagged Ethernet/IPv4 frame: the header's,
/// and the transport's unless the packet is a fragment.
pub fn fix_checksums(frame: &mut [u8]) {
    if frame.get(12..14) != Some(&[0x08, 0x00]) {
        return;
    }
    let Ok(mut ip) = Ipv4Packet::new_checked(&mut frame[14..]) else { return };
    ip.fill_checksum();
    let (src, dst, proto, fragment) = (ip.src(), ip.dst(), ip.protocol(), ip.is_fragment());
    let l4 = ip.payload_mut();
    match proto {
        _ if fragment => {}
        IpProtocol::UDP => {
            if let Ok(mut u) = UdpPacket::new_checked(l4) {
                u.fill_checksum(src, dst);
            }
        }
        IpProtocol::TCP => {
            if let Ok(mut t) = TcpPacket::new_checked(l4) {
                t.fill_checksum(src, dst);
            }
        }
        IpProtocol::ICMP => {
            if let Ok(mut i) = Icmpv4Packet::new_checked(l4) {
                i.fill_checksum();
            }
        }
        _ => {}
    }
}

/// The sender's hardware and IPv4 address and the target address of an
/// Ethernet/IPv4 ARP request.
pub fn arp_request(f: &[u8]) -> Option<([u8; 6], Ipv4Addr, Ipv4Addr)> {
    let a = f.get(14..42).filter(|_| f[12..14] == [0x08, 0x06])?;
    (a[..8] == [0, 1, 8, 0, 6, 4, 0, 1]).then(|| {
        let ip = |at: usize| Ipv4Addr::new(a[at], a[at + 1], a[at + 2], a[at + 3]);
        (a[8..14].try_into().unwrap_or_default(), ip(14), ip(24))
    })
}

/// An Ethernet/IPv4 ARP frame from `sha`: a request (`op` 1, broadcast)
/// or a reply (`op` 2, to `tha`).
pub fn arp_frame(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    let dst = if op == 1 { [0xff; 6] } else { tha };
    let mut f = [&dst[..], &sha, &[0x08, 0x06, 0, 1, 8, 0, 6, 4], &op.to_be_bytes()].concat();
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa.octets());
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa.octets());
    f
}

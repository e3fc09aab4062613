//! The simulated NIC on a port that carries offload metadata, as a TUN
//! device opened with `IFF_VNET_HDR` does (host-shim's `skbnet tun`): a TSO
//! super-packet leaves in one transmit with its `virtio_net_hdr` (the host
//! segments it), a GSO packet from the host arrives as one GRO-style
//! sk_buff, and a checksum the host left partial is not counted bad but goes
//! up as `CHECKSUM_PARTIAL`, so a router forwarding it finishes it. The
//! same super-packet on a port without the capability is segmented by the
//! device, as before.

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use common::*;
use skbnet::dev::{Features, Medium, NetDevice};
use skbnet::netns::{World, WorldStorage};
use skbnet::skb::{Checksum, Gso, GsoType, SkbPool, SkbQueue, VirtioNetHdr};
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet::wire::checksum::pseudo_header_v4;
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::{Port, RxFrame};

/// A host on the far side of the PHY that speaks `virtio_net_hdr`: what
/// the device sent it, and what it hands the device next. The test keeps
/// a hand on it while the NIC (or a world) owns the port.
#[derive(Default)]
struct Host {
    sent: Vec<(Vec<u8>, VirtioNetHdr)>,
    to_nic: VecDeque<(Vec<u8>, VirtioNetHdr)>,
}

/// The PHY onto a [`Host`]; `offloads` says whether it carries the header.
struct VnetPort<'h> {
    offloads: bool,
    host: &'h RefCell<Host>,
}

impl Port for VnetPort<'_> {
    fn transmit(&mut self, _now: Instant, frame: &[u8], vnet: &VirtioNetHdr) {
        self.host.borrow_mut().sent.push((frame.to_vec(), *vnet));
    }

    fn receive(&mut self, _now: Instant, buf: &mut [u8]) -> Option<RxFrame> {
        let (frame, vnet) = self.host.borrow_mut().to_nic.pop_front()?;
        buf[..frame.len()].copy_from_slice(&frame);
        Some(RxFrame { len: frame.len(), vnet })
    }

    fn next_arrival(&self) -> Option<Instant> {
        (!self.host.borrow().to_nic.is_empty()).then_some(Instant::ZERO)
    }

    fn carries_offloads(&self) -> bool {
        self.offloads
    }
}

type VnetNic<'h> = SimNic<64, 64, 66_000, VnetPort<'h>>;

/// An IP-medium NIC (TUN carries bare IP packets) with `features`, on a
/// port to `host` that carries offload metadata if `offloads`.
fn ip_nic(host: &RefCell<Host>, offloads: bool, features: Features) -> Box<VnetNic<'_>> {
    let mut cfg = NicConfig::ethernet(MacAddr([0; 6]));
    cfg.medium = Medium::Ip;
    cfg.offloads = features;
    Box::new(VnetNic::new(cfg, VnetPort { offloads, host }))
}

/// [`ip_nic`] with every offload, open.
fn vnet_nic<'h>(pool: &mut SkbPool, host: &'h RefCell<Host>, offloads: bool) -> Box<VnetNic<'h>> {
    let mut nic = ip_nic(host, offloads, Features::ALL);
    nic.open(pool).unwrap();
    nic
}

/// `seg` as a bare IPv4/TCP packet with `payload` (Ethernet header cut off).
fn ip_packet(seg: &Seg, payload: &[u8]) -> Vec<u8> {
    tcp_frame(seg, payload)[14..].to_vec()
}

/// Leave the TCP checksum of a bare IPv4/TCP `packet` from `src` to `dst`
/// as a host does for the receiver to finish: the pseudo-header sum only.
fn leave_partial(packet: &mut [u8], src: [u8; 4], dst: [u8; 4]) {
    let l4_len = (packet.len() - 20) as u16;
    let seed = pseudo_header_v4(src.into(), dst.into(), skbnet::wire::IpProtocol::TCP, l4_len).fold();
    packet[36..38].copy_from_slice(&seed.to_be_bytes());
}

/// A TCP segment over IPv4 without options whose checksum the host left
/// partial, as Linux writes one to a TUN device.
const HOST_PARTIAL: VirtioNetHdr = VirtioNetHdr {
    flags: VirtioNetHdr::F_NEEDS_CSUM,
    gso_type: VirtioNetHdr::GSO_NONE,
    hdr_len: 0,
    gso_size: 0,
    csum_start: 20,
    csum_offset: 16,
};

/// The same for a GSO packet of 1448-byte segments.
const HOST_GSO: VirtioNetHdr =
    VirtioNetHdr { gso_type: VirtioNetHdr::GSO_TCPV4, hdr_len: 52, gso_size: 1448, ..HOST_PARTIAL };

/// What the NIC received, polled as the stack's NAPI poll would.
fn received(pool: &mut SkbPool, nic: &mut VnetNic) -> SkbQueue {
    nic.run_hardware(Instant::ZERO, pool);
    let mut q = SkbQueue::new();
    nic.poll_rx(pool, Instant::ZERO, 64, &mut q);
    q
}

#[test]
fn a_tso_super_packet_leaves_whole_with_its_virtio_header() {
    let mut st = storage();
    let mut pool = st.pool();
    let host = RefCell::new(Host::default());
    let mut nic = vnet_nic(&mut pool, &host, true);
    let payload = payload_of(20 * 1448, 3);
    let skb = super_packet(&mut pool, &Seg::default(), &payload, 1448);
    pool.pull(&skb, 14).unwrap();
    let want = bytes(&pool, &skb);
    assert!(send_on(&mut pool, &mut nic, skb));
    let sent = std::mem::take(&mut host.borrow_mut().sent);
    assert_eq!(sent.len(), 1, "one write, not twenty segments");
    let (frame, vnet) = &sent[0];
    assert_eq!(frame, &want, "the bytes as the stack built them: the host finishes the checksum");
    let hdr_len = 20 + 32;
    let expect = VirtioNetHdr {
        flags: VirtioNetHdr::F_NEEDS_CSUM,
        gso_type: VirtioNetHdr::GSO_TCPV4,
        hdr_len,
        gso_size: 1448,
        csum_start: 20,
        csum_offset: 16,
    };
    assert_eq!(*vnet, expect);
    assert_eq!(nic.hw_stats().tx_frames, 1);
    nic.reclaim_tx(&mut pool, Instant::ZERO);
    nic.close(&mut pool);
    assert!(pool.stats().is_idle());
}

#[test]
fn without_the_capability_the_device_segments_as_before() {
    let mut st = storage();
    let mut pool = st.pool();
    let host = RefCell::new(Host::default());
    let mut nic = vnet_nic(&mut pool, &host, false);
    let payload = payload_of(5 * 1448, 9);
    let skb = super_packet(&mut pool, &Seg::default(), &payload, 1448);
    pool.pull(&skb, 14).unwrap();
    assert!(send_on(&mut pool, &mut nic, skb));
    let sent = std::mem::take(&mut host.borrow_mut().sent);
    assert_eq!(sent.len(), 5);
    let mut got = Vec::new();
    for (frame, vnet) in &sent {
        assert_eq!(*vnet, VirtioNetHdr::default(), "a plain port is told nothing");
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(frame);
        got.extend(parse_valid(&eth).payload);
    }
    assert_eq!(got, payload);
    nic.reclaim_tx(&mut pool, Instant::ZERO);
    nic.close(&mut pool);
    assert!(pool.stats().is_idle());
}

#[test]
fn a_gso_packet_from_the_host_arrives_as_one_gro_style_skb() {
    let mut st = storage();
    let mut pool = st.pool();
    let host = RefCell::new(Host::default());
    let mut nic = vnet_nic(&mut pool, &host, true);
    let payload = payload_of(30 * 1448, 5);
    let mut packet = ip_packet(&Seg::default(), &payload);
    leave_partial(&mut packet, IP_A, IP_B);
    host.borrow_mut().to_nic.push_back((packet.clone(), HOST_GSO));
    let mut q = received(&mut pool, &mut nic);
    assert_eq!(q.len(), 1, "one sk_buff for the whole super-packet");
    let skb = q.pop_front(&mut pool).unwrap();
    assert_eq!(bytes(&pool, &skb), packet);
    let (meta, data) = (*pool.meta(&skb), pool.data_offset(&skb));
    assert_eq!(meta.gso, Gso { size: 1448, segs: 30, kind: GsoType::TcpV4, ecn: false });
    assert_eq!(meta.csum, Checksum::Partial { start: data + 20, offset: 16 });
    assert_eq!(nic.hw_stats().rx_csum_bad, 0, "a partial checksum is not a bad one");
    pool.free(skb);
    nic.close(&mut pool);
    assert!(pool.stats().is_idle());
}

#[test]
fn a_checksum_the_host_vouches_for_or_left_partial_is_not_verified() {
    let mut st = storage();
    let mut pool = st.pool();
    let host = RefCell::new(Host::default());
    let mut nic = vnet_nic(&mut pool, &host, true);
    let mut partial = ip_packet(&Seg { psh: true, ..Seg::default() }, b"hello");
    partial[36..38].copy_from_slice(&[0x12, 0x34]);
    let valid = VirtioNetHdr { flags: VirtioNetHdr::F_DATA_VALID, ..Default::default() };
    host.borrow_mut().to_nic.extend([(partial.clone(), HOST_PARTIAL), (partial.clone(), valid)]);
    let mut q = received(&mut pool, &mut nic);
    assert_eq!(q.len(), 2);
    // The partial one goes up as CHECKSUM_PARTIAL, where the host said: a
    // router forwarding it must finish the sum, not pass the seed on.
    let skb = q.pop_front(&mut pool).unwrap();
    assert_eq!(pool.meta(&skb).csum, Checksum::Partial { start: pool.data_offset(&skb) + 20, offset: 16 });
    pool.free(skb);
    let skb = q.pop_front(&mut pool).unwrap();
    assert_eq!(pool.meta(&skb).csum, Checksum::Unnecessary);
    pool.free(skb);
    assert_eq!(nic.hw_stats().rx_csum_bad, 0);
    // Without a header the device checks, and finds the same bytes bad.
    host.borrow_mut().to_nic.push_back((partial, VirtioNetHdr::default()));
    let mut q = received(&mut pool, &mut nic);
    let skb = q.pop_front(&mut pool).unwrap();
    assert_eq!(pool.meta(&skb).csum, Checksum::None);
    assert_eq!(nic.hw_stats().rx_csum_bad, 1);
    pool.free(skb);
    nic.close(&mut pool);
    assert!(pool.stats().is_idle());
}

#[test]
fn a_partial_checksum_whose_field_lies_past_the_packet_is_left_to_the_stack() {
    let mut st = storage();
    let mut pool = st.pool();
    let host = RefCell::new(Host::default());
    let mut nic = vnet_nic(&mut pool, &host, true);
    let packet = ip_packet(&Seg { psh: true, ..Seg::default() }, b"hi");
    let start = packet.len() as u16 - 1;
    let needs = VirtioNetHdr { csum_start: start, csum_offset: 0, ..HOST_PARTIAL };
    host.borrow_mut().to_nic.push_back((packet, needs));
    let mut q = received(&mut pool, &mut nic);
    let skb = q.pop_front(&mut pool).unwrap();
    assert_eq!(pool.meta(&skb).csum, Checksum::None, "neither verified nor partial: the stack checks it");
    pool.free(skb);
    nic.close(&mut pool);
    assert!(pool.stats().is_idle());
}

#[test]
fn a_gso_packet_of_one_segment_keeps_the_hosts_partial_checksum() {
    let mut st = storage();
    let mut pool = st.pool();
    let host = RefCell::new(Host::default());
    let mut nic = vnet_nic(&mut pool, &host, true);
    let payload = payload_of(1000, 2);
    let mut packet = ip_packet(&Seg::default(), &payload);
    leave_partial(&mut packet, IP_A, IP_B);
    host.borrow_mut().to_nic.push_back((packet.clone(), HOST_GSO));
    let mut q = received(&mut pool, &mut nic);
    let skb = q.pop_front(&mut pool).unwrap();
    assert_eq!(bytes(&pool, &skb), packet);
    assert_eq!(pool.meta(&skb).csum, Checksum::Partial { start: pool.data_offset(&skb) + 20, offset: 16 });
    pool.free(skb);
    nic.close(&mut pool);
    assert!(pool.stats().is_idle());
}

/// A router between a TUN-like port (offloads carried) and a plain IP
/// link whose NIC has `egress` offloads: forward one TCP segment whose
/// checksum the host left partial, and return what left on the plain link.
fn forward_partial(egress: Features) -> Vec<u8> {
    let (tun_host, out_host) = (RefCell::new(Host::default()), RefCell::new(Host::default()));
    let (mut tun, mut out) = (ip_nic(&tun_host, true, Features::ALL), ip_nic(&out_host, false, egress));
    let mut mem = storage();
    let mut ws = Box::new(WorldStorage::<2, 4, 32, 16, 4, 4, 4, 4>::new());
    let mut w = World::new(&mut ws, mem.pool(), [5; 16]).expect("world");
    let r = w.add_netns("r").expect("netns");
    for (dev, name, addr) in
        [(&mut *tun as &mut dyn NetDevice, "tun0", [10, 0, 0, 1]), (&mut *out, "eth0", [10, 0, 1, 1])]
    {
        let i = w.add_device(r, name, dev).expect("device");
        w.set_link_up(i, true).expect("up");
        w.add_addr(i, addr.into(), 24).expect("addr");
    }
    let mut sys = w.sysctl(r).expect("sysctl");
    sys.ip_forward = true;
    w.set_sysctl(r, sys).expect("sysctl");
    // The host's segment, from 10.0.0.2 to 10.0.1.2, sum left partial.
    let seg = Seg { psh: true, ..Seg::default() };
    let mut packet = ip_packet(&seg, b"forward me whole");
    packet[16..20].copy_from_slice(&[10, 0, 1, 2]);
    packet[12..16].copy_from_slice(&[10, 0, 0, 2]);
    packet[10..12].copy_from_slice(&[0, 0]);
    let ip_sum = skbnet::wire::checksum::checksum(&packet[..20]);
    packet[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    leave_partial(&mut packet, [10, 0, 0, 2], [10, 0, 1, 2]);
    tun_host.borrow_mut().to_nic.push_back((packet, HOST_PARTIAL));
    let mut now = Instant::ZERO;
    while out_host.borrow().sent.is_empty() && now < Instant::ZERO + Duration::from_millis(50) {
        w.poll(now);
        now += Duration::from_micros(100);
    }
    w.shutdown();
    assert!(w.pool_ref().stats().is_idle(), "pool not free: {:?}", w.pool_ref().stats());
    let mut sent = std::mem::take(&mut out_host.borrow_mut().sent);
    assert_eq!(sent.len(), 1, "the segment was forwarded once");
    sent.remove(0).0
}

#[test]
fn a_router_finishes_a_checksum_the_host_left_partial() {
    for (what, egress) in [("in software", Features::NONE), ("by the egress device", Features::ALL)] {
        let frame = forward_partial(egress);
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&frame);
        let p = parse_valid(&eth);
        assert_eq!(p.ip.time_to_live, 63, "forwarded, {what}");
        assert_eq!(p.payload, b"forward me whole", "{what}");
    }
}

/// Transmit `skb` and run the device once; false if the ring refused it.
fn send_on(pool: &mut SkbPool, nic: &mut VnetNic, skb: skbnet::skb::SkBuff) -> bool {
    let ok = nic.transmit(pool, Instant::ZERO, skb).is_ok();
    nic.run_hardware(Instant::ZERO, pool);
    ok
}

//! The simulated NIC on a port that carries offload metadata, as a TUN
//! device opened with `IFF_VNET_HDR` does (host-shim's `skbnet tun`): a TSO
//! super-packet leaves in one transmit with its `virtio_net_hdr` (the host
//! segments it), a GSO packet from the host arrives as one GRO-style
//! sk_buff, and a checksum the host left partial is not counted bad. The
//! same super-packet on a port without the capability is segmented by the
//! device, as before.

mod common;

use std::collections::VecDeque;

use common::*;
use skbnet::dev::{Medium, NetDevice};
use skbnet::skb::{Checksum, Gso, GsoType, SkbPool, SkbQueue, VirtioNetHdr};
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet::wire::checksum::pseudo_header_v4;
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::{Port, RxFrame};

/// A host on the far side of the PHY that speaks `virtio_net_hdr`.
struct VnetPort {
    offloads: bool,
    sent: Vec<(Vec<u8>, VirtioNetHdr)>,
    to_nic: VecDeque<(Vec<u8>, VirtioNetHdr)>,
}

impl Port for VnetPort {
    fn transmit(&mut self, _now: Instant, frame: &[u8], vnet: &VirtioNetHdr) {
        self.sent.push((frame.to_vec(), *vnet));
    }

    fn receive(&mut self, _now: Instant, buf: &mut [u8]) -> Option<RxFrame> {
        let (frame, vnet) = self.to_nic.pop_front()?;
        buf[..frame.len()].copy_from_slice(&frame);
        Some(RxFrame { len: frame.len(), vnet })
    }

    fn next_arrival(&self) -> Option<Instant> {
        (!self.to_nic.is_empty()).then_some(Instant::ZERO)
    }

    fn carries_offloads(&self) -> bool {
        self.offloads
    }
}

type VnetNic = SimNic<64, 64, 66_000, VnetPort>;

/// An IP-medium NIC (TUN carries bare IP packets) with every offload.
fn vnet_nic(pool: &mut SkbPool, offloads: bool) -> Box<VnetNic> {
    let mut cfg = NicConfig::ethernet(MacAddr([0; 6]));
    cfg.medium = Medium::Ip;
    let port = VnetPort { offloads, sent: Vec::new(), to_nic: VecDeque::new() };
    let mut nic = Box::new(VnetNic::new(cfg, port));
    nic.open(pool).unwrap();
    nic
}

/// `seg` as a bare IPv4/TCP packet with `payload` (Ethernet header cut off).
fn ip_packet(seg: &Seg, payload: &[u8]) -> Vec<u8> {
    tcp_frame(seg, payload)[14..].to_vec()
}

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
    let mut nic = vnet_nic(&mut pool, true);
    let payload = payload_of(20 * 1448, 3);
    let skb = super_packet(&mut pool, &Seg::default(), &payload, 1448);
    pool.pull(&skb, 14).unwrap();
    let want = bytes(&pool, &skb);
    assert!(send_on(&mut pool, &mut nic, skb));
    let sent = std::mem::take(&mut nic.port_mut().sent);
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
    let mut nic = vnet_nic(&mut pool, false);
    let payload = payload_of(5 * 1448, 9);
    let skb = super_packet(&mut pool, &Seg::default(), &payload, 1448);
    pool.pull(&skb, 14).unwrap();
    assert!(send_on(&mut pool, &mut nic, skb));
    let sent = std::mem::take(&mut nic.port_mut().sent);
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
    let mut nic = vnet_nic(&mut pool, true);
    let payload = payload_of(30 * 1448, 5);
    let mut packet = ip_packet(&Seg::default(), &payload);
    // The host left the TCP checksum partial: the pseudo-header sum only.
    let l4_len = (packet.len() - 20) as u16;
    let seed = pseudo_header_v4(IP_A.into(), IP_B.into(), skbnet::wire::IpProtocol::TCP, l4_len).fold();
    packet[36..38].copy_from_slice(&seed.to_be_bytes());
    let vnet = VirtioNetHdr {
        flags: VirtioNetHdr::F_NEEDS_CSUM,
        gso_type: VirtioNetHdr::GSO_TCPV4,
        hdr_len: 52,
        gso_size: 1448,
        csum_start: 20,
        csum_offset: 16,
    };
    nic.port_mut().to_nic.push_back((packet.clone(), vnet));
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
    let mut nic = vnet_nic(&mut pool, true);
    let mut partial = ip_packet(&Seg { psh: true, ..Seg::default() }, b"hello");
    partial[36..38].copy_from_slice(&[0x12, 0x34]);
    let needs =
        VirtioNetHdr { flags: VirtioNetHdr::F_NEEDS_CSUM, csum_start: 20, csum_offset: 16, ..Default::default() };
    let valid = VirtioNetHdr { flags: VirtioNetHdr::F_DATA_VALID, ..Default::default() };
    nic.port_mut().to_nic.extend([(partial.clone(), needs), (partial.clone(), valid)]);
    let mut q = received(&mut pool, &mut nic);
    assert_eq!(q.len(), 2);
    while let Some(skb) = q.pop_front(&mut pool) {
        assert_eq!(pool.meta(&skb).csum, Checksum::Unnecessary);
        pool.free(skb);
    }
    assert_eq!(nic.hw_stats().rx_csum_bad, 0);
    // Without a header the device checks, and finds the same bytes bad.
    nic.port_mut().to_nic.push_back((partial, VirtioNetHdr::default()));
    let mut q = received(&mut pool, &mut nic);
    let skb = q.pop_front(&mut pool).unwrap();
    assert_eq!(pool.meta(&skb).csum, Checksum::None);
    assert_eq!(nic.hw_stats().rx_csum_bad, 1);
    pool.free(skb);
    nic.close(&mut pool);
    assert!(pool.stats().is_idle());
}

/// Transmit `skb` and run the device once; false if the ring refused it.
fn send_on(pool: &mut SkbPool, nic: &mut VnetNic, skb: skbnet::skb::SkBuff) -> bool {
    let ok = nic.transmit(pool, Instant::ZERO, skb).is_ok();
    nic.run_hardware(Instant::ZERO, pool);
    ok
}

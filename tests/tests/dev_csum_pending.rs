//! A sending NIC on a simulated link leaves each frame's TCP/UDP checksum for
//! the link to finish when its bytes are first looked at
//! (`skbnet_nic_sim::link::PendingCsum`), and a receiving NIC verifies the
//! segments LRO merges from their headers alone. Nothing may differ from a
//! link that carried every checksum finished: each scenario here runs twice,
//! once with a recording tap (which has the link finish every checksum as
//! the frame is delivered) and once with the tap off, and the receiving NIC
//! must deliver the same packets byte for byte, with the same checksum
//! state, GSO metadata and device counters.

mod common;

use common::*;
use etherparse::{Ipv4Header, UdpHeader};
use skbnet::dev::{Features, NetDevice};
use skbnet::skb::{Checksum, Gso, OwnerId, SkBuff, SkbPool, SkbQueue};
use skbnet::time::Instant;
use skbnet::wire::IpProtocol;
use skbnet::wire::checksum::pseudo_header_v4;
use skbnet_nic_sim::hw::HwStats;
use skbnet_nic_sim::link::{LinkConfig, Side, Tap};

const MSS: u16 = 1448;

/// A tap that records (and so makes the link finish checksums) only when on.
struct Switch {
    on: bool,
    frames: Vec<Vec<u8>>,
}

impl Tap for Switch {
    fn capture(&mut self, _now: Instant, _from: Side, frame: &[u8]) {
        self.frames.push(frame.to_vec());
    }

    fn active(&self) -> bool {
        self.on
    }
}

/// What the receiving NIC delivered: each packet's bytes, checksum state and
/// GSO metadata, and its device counters.
#[derive(Debug, PartialEq)]
struct Delivered {
    packets: Vec<(Vec<u8>, Checksum, Gso)>,
    hw: HwStats,
}

/// One scenario: `build` makes the packets `a` sends; `rx` configures `b`.
#[derive(Clone, Copy)]
struct Scenario {
    link: LinkConfig,
    rx: Features,
    build: fn(&mut SkbPool) -> Vec<SkBuff>,
}

/// [`run_here`] on a thread with room for the link and NICs built in place.
fn run(s: &Scenario, tap_on: bool) -> (Delivered, Vec<Vec<u8>>) {
    std::thread::scope(|scope| {
        std::thread::Builder::new().stack_size(64 << 20).spawn_scoped(scope, || run_here(s, tap_on)).unwrap().join()
    })
    .unwrap()
}

fn run_here(s: &Scenario, tap_on: bool) -> (Delivered, Vec<Vec<u8>>) {
    let mut st = storage();
    let mut pool = st.pool();
    let link = link_with(s.link, 7, Switch { on: tap_on, frames: Vec::new() });
    let mut a = nic(MAC_A, &link, Side::A, |_| {});
    let mut b = nic(MAC_B, &link, Side::B, |c| c.offloads = s.rx);
    a.open(&mut pool).unwrap();
    b.open(&mut pool).unwrap();
    let mut q = SkbQueue::new();
    for mut skb in (s.build)(&mut pool) {
        // Offered again after completions whenever the byte-queue limit says no.
        while let Some(back) = send(&mut pool, &mut a, skb) {
            run_hw(&mut pool, &mut a, &mut b, Instant::ZERO);
            a.reclaim_tx(&mut pool, Instant::ZERO);
            skb = back;
        }
    }
    run_hw(&mut pool, &mut a, &mut b, Instant::ZERO);
    // Past the LRO timer, so an open context is written back.
    run_hw(&mut pool, &mut a, &mut b, Instant::from_millis(1));
    let mut rest = poll_all(&mut pool, &mut b);
    q.splice_back(&mut pool, &mut rest);
    let mut packets = Vec::new();
    while let Some(skb) = q.pop_front(&mut pool) {
        let m = *pool.meta(&skb);
        packets.push((bytes(&pool, &skb), m.csum, m.gso));
        pool.free(skb);
    }
    a.reclaim_tx(&mut pool, Instant::ZERO);
    let hw = b.hw_stats();
    a.close(&mut pool);
    b.close(&mut pool);
    assert!(pool.stats().is_idle());
    let frames = std::mem::take(&mut link.borrow_mut().tap_mut().frames);
    (Delivered { packets, hw }, frames)
}

/// Both runs deliver the same; returns what they delivered and the frames
/// the tap saw on the wire.
fn same_either_way(s: &Scenario) -> (Delivered, Vec<Vec<u8>>) {
    let (finished, wire) = run(s, true);
    let (pending, none) = run(s, false);
    assert!(none.is_empty(), "a tap that is off records nothing");
    assert!(!finished.packets.is_empty(), "something was delivered");
    assert_eq!(finished, pending, "a pending checksum changed what the receiver got");
    (finished, wire)
}

/// A single TCP frame of `payload` as a stack hands it to a device with
/// checksum offload: the field seeded with the pseudo-header sum (or a
/// wrong seed), the checksum `CHECKSUM_PARTIAL`; `trailer` bytes of `pad`
/// after the IPv4 packet.
fn partial_tcp(pool: &mut SkbPool, seg: &Seg, payload: &[u8], seed_error: u16, trailer: (usize, u8)) -> SkBuff {
    let mut frame = tcp_frame(seg, payload);
    let tcp_len = (frame.len() - 34) as u16;
    let seed = pseudo_header_v4(IP_A.into(), IP_B.into(), IpProtocol::TCP, tcp_len).fold() ^ seed_error;
    frame[34 + 16..34 + 18].copy_from_slice(&seed.to_be_bytes());
    frame.extend(std::iter::repeat_n(trailer.1, trailer.0));
    partial(pool, &frame, 34 + 16)
}

/// A UDP datagram, checksum seeded for the device to finish.
fn partial_udp(pool: &mut SkbPool, payload: &[u8]) -> SkBuff {
    let udp = UdpHeader { source_port: 53, destination_port: 4000, length: 8 + payload.len() as u16, checksum: 0 };
    let ip = Ipv4Header::new(udp.length, 64, etherparse::IpNumber::UDP, IP_A, IP_B).unwrap();
    let mut frame = vec![0u8; 14];
    frame[..6].copy_from_slice(&MAC_B);
    frame[6..12].copy_from_slice(&MAC_A);
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    ip.write(&mut frame).unwrap();
    udp.write(&mut frame).unwrap();
    frame.extend_from_slice(payload);
    let seed = pseudo_header_v4(IP_A.into(), IP_B.into(), IpProtocol::UDP, udp.length).fold();
    frame[34 + 6..34 + 8].copy_from_slice(&seed.to_be_bytes());
    partial(pool, &frame, 34 + 6)
}

/// `frame` in a packet whose checksum field at `field` the device finishes.
fn partial(pool: &mut SkbPool, frame: &[u8], field: u16) -> SkBuff {
    let skb = pool.alloc_with_headroom(OwnerId::SYSTEM, 64).unwrap();
    pool.put_slice(&skb, frame).unwrap();
    let data = pool.data_offset(&skb);
    pool.meta_mut(&skb).unwrap().csum = Checksum::Partial { start: data + 34, offset: field - 34 };
    skb
}

fn tso(pool: &mut SkbPool) -> Vec<SkBuff> {
    vec![super_packet(pool, &Seg::default(), &payload_of(64_000, 9), MSS)]
}

/// Ten segments that continue each other, each handed over on its own.
fn train(pool: &mut SkbPool) -> Vec<SkBuff> {
    (0..10u32)
        .map(|i| {
            let seg = Seg { seq: 1000 + i * u32::from(MSS), ip_id: 100 + i as u16, ..Seg::default() };
            partial_tcp(pool, &seg, &payload_of(usize::from(MSS), i as u8), 0, (0, 0))
        })
        .collect()
}

#[test]
fn a_tso_packet_merged_by_lro_arrives_the_same() {
    let (got, wire) = same_either_way(&Scenario { link: LinkConfig::ethernet(), rx: Features::ALL, build: tso });
    assert_eq!(wire.len(), 45, "the tap saw every segment");
    for f in &wire {
        parse_valid(f);
    }
    assert!(got.hw.lro_merged > 0, "LRO merged segments verified from their headers");
}

#[test]
fn a_receiver_without_offloads_gets_finished_checksums() {
    let (got, _) = same_either_way(&Scenario { link: LinkConfig::ethernet(), rx: Features::NONE, build: tso });
    assert_eq!(got.packets.len(), 45);
    for (frame, csum, _) in &got.packets {
        parse_valid(frame);
        assert_eq!(*csum, Checksum::None, "nothing verified by the device");
    }
}

#[test]
fn single_frames_with_partial_checksums_merge_the_same() {
    let (got, _) = same_either_way(&Scenario { link: LinkConfig::ethernet(), rx: Features::ALL, build: train });
    assert_eq!(got.hw.lro_merged, 9);
    assert_eq!(got.packets.len(), 1);
}

#[test]
fn a_wrong_seed_fails_verification_the_same() {
    let build = |pool: &mut SkbPool| {
        let mut v = train(pool);
        let bad = Seg { seq: 1000 + 10 * u32::from(MSS), ip_id: 110, ..Seg::default() };
        v.push(partial_tcp(pool, &bad, &payload_of(usize::from(MSS), 10), 0x0101, (0, 0)));
        v
    };
    let (got, _) = same_either_way(&Scenario { link: LinkConfig::ethernet(), rx: Features::ALL, build });
    assert_eq!(got.hw.rx_csum_bad, 1);
    let (last, csum, _) = got.packets.last().unwrap();
    assert_eq!(*csum, Checksum::None, "passed up for the stack to judge");
    assert_eq!(last.len(), 14 + 20 + 32 + usize::from(MSS));
}

#[test]
fn padding_udp_and_corruption_are_finished_first() {
    // The sending device sums to the end of the frame: zeros after the IPv4
    // packet change nothing, anything else makes the checksum fail.
    let zeros = |pool: &mut SkbPool| vec![partial_tcp(pool, &Seg::default(), &payload_of(100, 1), 0, (6, 0))];
    let (got, _) = same_either_way(&Scenario { link: LinkConfig::ethernet(), rx: Features::ALL, build: zeros });
    assert_eq!(got.packets[0].1, Checksum::Unnecessary);
    let junk = |pool: &mut SkbPool| vec![partial_tcp(pool, &Seg::default(), &payload_of(100, 1), 0, (6, 0xa5))];
    let (got, _) = same_either_way(&Scenario { link: LinkConfig::ethernet(), rx: Features::ALL, build: junk });
    assert_eq!((got.packets[0].1, got.hw.rx_csum_bad), (Checksum::None, 1));
    let udp = |pool: &mut SkbPool| vec![partial_udp(pool, &payload_of(300, 2))];
    let (got, _) = same_either_way(&Scenario { link: LinkConfig::ethernet(), rx: Features::ALL, build: udp });
    assert_eq!(got.packets[0].1, Checksum::Unnecessary);
    let corrupt = LinkConfig { corrupt: 1.0, ..LinkConfig::ethernet() };
    let (got, wire) = same_either_way(&Scenario { link: corrupt, rx: Features::ALL, build: tso });
    assert_eq!(wire.len(), 45);
    assert!(got.hw.rx_csum_bad > 0, "flipped bits in finished frames are caught: {:?}", got.hw);
}

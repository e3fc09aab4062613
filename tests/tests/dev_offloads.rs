//! Offloads, checked frame by frame by an independent parser (etherparse):
//! hardware TSO in the simulated NIC, software GSO for devices without it,
//! software GRO and the NIC's LRO, and the refusals GRO must make.

mod common;

use std::cell::RefCell;

use common::*;
use skbnet::dev::gro::Gro;
use skbnet::dev::xmit::validate_xmit;
use skbnet::dev::{Features, Medium, NetDevice};
use skbnet::skb::{Checksum, GsoType, SkbPool, SkbQueue};
use skbnet::time::Instant;
use skbnet::wire::checksum::finish_partial;
use skbnet_nic_sim::link::Side;

const MSS: u16 = 1448;

/// Every check the segmentation rules promise, on the frames of one
/// super-packet built from `template` with `payload`.
fn check_segments(frames: &[Vec<u8>], template: &Seg, payload: &[u8]) {
    let n = payload.len().div_ceil(usize::from(MSS));
    assert_eq!(frames.len(), n, "one frame per MSS of payload");
    let mut joined = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let p = parse_valid(f);
        let last = i + 1 == n;
        let want = if last { payload.len() - i * usize::from(MSS) } else { usize::from(MSS) };
        assert_eq!(p.payload.len(), want, "segment {i} length");
        assert_eq!(usize::from(p.ip.total_len), 20 + 32 + want);
        assert_eq!(p.ip.identification, template.ip_id.wrapping_add(i as u16), "IP ID of segment {i}");
        assert_eq!(p.tcp.sequence_number, template.seq.wrapping_add((i * usize::from(MSS)) as u32));
        assert_eq!(p.tcp.acknowledgment_number, template.ack);
        assert_eq!((p.tcp.fin, p.tcp.psh), (last && template.fin, last && template.psh), "FIN/PSH on segment {i}");
        assert_eq!(p.tcp.cwr, i == 0 && template.cwr, "CWR only on the first");
        assert!(p.tcp.ack);
        assert_eq!(p.tcp.options.as_slice(), &[1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 3], "options copied");
        joined.extend_from_slice(&p.payload);
    }
    assert_eq!(joined, payload, "the payload, byte for byte");
}

fn template() -> Seg {
    Seg { fin: true, psh: true, cwr: true, seq: 0xffff_f000, ip_id: 0xfff0, ..Seg::default() }
}

/// Hand `a` a super-packet of `payload` built from [`template`], run both
/// NICs' hardware once, and return what the tap of `link` saw (all from `a`).
fn tso_frames(
    pool: &mut SkbPool,
    link: &RefCell<TestLink<Rec>>,
    (a, b): (&mut Nic<'_, Rec>, &mut Nic<'_, Rec>),
    payload: &[u8],
) -> Vec<Vec<u8>> {
    let skb = super_packet(pool, &template(), payload, MSS);
    assert!(send(pool, a, skb).is_none());
    run_hw(pool, a, b, Instant::ZERO);
    let frames: Option<Vec<Vec<u8>>> =
        link.borrow().tap().0.iter().map(|(_, side, f)| (*side == Side::A).then(|| f.clone())).collect();
    frames.expect("only a sends")
}

/// Reclaim what `a` sent, close both NICs: the pool must be free.
fn close_pair(pool: &mut SkbPool, a: &mut Nic<'_, Rec>, b: &mut Nic<'_, Rec>) {
    a.reclaim_tx(pool, Instant::ZERO);
    a.close(pool);
    b.close(pool);
    assert!(pool.stats().is_idle());
}

/// NICs `a` and `b` on `link`, open: the one on side `offloaded` with
/// every offload (the NIC's default), the other with none.
fn open_pair<'l>(
    pool: &mut SkbPool,
    link: &'l RefCell<TestLink<Rec>>,
    offloaded: Side,
) -> (Box<Nic<'l, Rec>>, Box<Nic<'l, Rec>>) {
    let plain = |side: Side| {
        move |c: &mut skbnet_nic_sim::nic::NicConfig| {
            if side != offloaded {
                c.offloads = Features::NONE;
            }
        }
    };
    let mut a = nic(MAC_A, link, Side::A, plain(Side::A));
    let mut b = nic(MAC_B, link, Side::B, plain(Side::B));
    a.open(pool).unwrap();
    b.open(pool).unwrap();
    (a, b)
}

#[test]
fn hardware_tso_frames_are_valid_frame_by_frame() {
    let mut st = storage();
    let mut pool = st.pool();
    let link = link(Rec::default());
    let (mut a, mut b) = open_pair(&mut pool, &link, Side::A);
    let payload = payload_of(64_000, 3);
    let frames = tso_frames(&mut pool, &link, (&mut a, &mut b), &payload);
    check_segments(&frames, &template(), &payload);
    assert_eq!(a.hw_stats().tx_frames, frames.len() as u64);
    // The receiving NIC delivers them unchanged.
    let mut q = poll_all(&mut pool, &mut b);
    assert_eq!(drain_bytes(&mut pool, &mut q), frames);
    assert_eq!(a.reclaim_tx(&mut pool, Instant::ZERO), 1);
    assert_eq!(a.stats().tx_packets, frames.len() as u64, "tx_packets counts segments");
    a.close(&mut pool);
    b.close(&mut pool);
    assert!(pool.stats().is_idle());
}

fn software_gso(f: Features) -> Vec<Vec<u8>> {
    let mut st = storage();
    let mut pool = st.pool();
    let payload = payload_of(20_000, 9);
    let skb = super_packet(&mut pool, &template(), &payload, MSS);
    let mut out = SkbQueue::new();
    validate_xmit(&mut pool, skb, &f, &mut out).unwrap();
    for r in out.iter(&pool).collect::<Vec<_>>() {
        assert!(!pool.is_nonlinear(&r), "segments are linear");
        assert_eq!(pool.meta(&r).gso.kind, GsoType::None);
        if f.tx_csum {
            assert!(matches!(pool.meta(&r).csum, Checksum::Partial { .. }));
            finish_partial(&mut pool, &r).unwrap();
        }
    }
    let frames = drain_bytes(&mut pool, &mut out);
    check_segments(&frames, &template(), &payload);
    assert!(pool.stats().is_idle());
    frames
}

#[test]
fn hardware_tso_segments_after_lost_ones_carry_their_own_payload() {
    // The device reads each segment's payload after the last one's; a
    // segment the link loses is never written, and the next must still
    // start at its own offset.
    let mut st = storage();
    let mut pool = st.pool();
    let cfg = skbnet_nic_sim::link::LinkConfig { loss: 0.4, ..skbnet_nic_sim::link::LinkConfig::ethernet() };
    let link = link_with(cfg, 3, Rec::default());
    let mut a = nic(MAC_A, &link, Side::A, |_| {});
    let mut b = nic(MAC_B, &link, Side::B, |c| c.offloads = Features::NONE);
    a.open(&mut pool).unwrap();
    b.open(&mut pool).unwrap();
    let payload = payload_of(64_000, 5);
    let frames = tso_frames(&mut pool, &link, (&mut a, &mut b), &payload);
    let lost = link.borrow().stats(Side::A).lost;
    assert!(lost > 5 && frames.len() as u64 + lost == 45, "{lost} of 45 lost");
    for f in &frames {
        let p = parse_valid(f);
        let at = p.tcp.sequence_number.wrapping_sub(template().seq) as usize;
        assert_eq!(p.payload, payload[at..at + p.payload.len()], "segment at {at}");
    }
    let mut q = poll_all(&mut pool, &mut b);
    drain_bytes(&mut pool, &mut q);
    close_pair(&mut pool, &mut a, &mut b);
}

#[test]
fn software_gso_matches_the_rules_with_and_without_checksum_offload() {
    let full = software_gso(Features::NONE);
    let partial = software_gso(Features { tx_csum: true, ..Features::NONE });
    assert_eq!(full, partial, "finishing a partial checksum gives the same frames");
}

/// Regression: TCP cuts its write queue at any byte, so a super-packet may
/// start deep inside a buffer, with more headroom than a segment's single
/// buffer can hold besides the segment itself. Software GSO failed on it
/// (counted as `NoMemory`) and TCP retried it until the window moved.
#[test]
fn software_gso_of_a_super_packet_with_deep_headroom() {
    let mut st = storage();
    let mut pool = st.pool();
    let payload = payload_of(20_000, 4);
    let deep = super_packet(&mut pool, &template(), &payload, MSS);
    let hdr_len = 14 + 20 + 32;
    // The same packet starting 1900 bytes into its first buffer.
    let skb = pool.alloc_with_headroom(skbnet::skb::OwnerId::SYSTEM, 1900).unwrap();
    let mut hdr = vec![0u8; hdr_len];
    pool.copy_to_slice(&deep, 0, &mut hdr).unwrap();
    pool.put_slice(&skb, &hdr).unwrap();
    assert_eq!(pool.append(&skb, &payload).unwrap(), payload.len());
    let mut meta = *pool.meta(&deep);
    let data = pool.data_offset(&skb);
    meta.mac_header = data;
    meta.network_header = data + 14;
    meta.transport_header = data + 34;
    meta.csum = Checksum::Partial { start: data + 34, offset: 16 };
    *pool.meta_mut(&skb).unwrap() = meta;
    pool.free(deep);
    assert_eq!(pool.headroom(&skb), 1900);
    let mut out = SkbQueue::new();
    validate_xmit(&mut pool, skb, &Features::NONE, &mut out).expect("segmented");
    let frames = drain_bytes(&mut pool, &mut out);
    check_segments(&frames, &template(), &payload);
    assert!(pool.stats().is_idle());
}

#[test]
fn software_and_hardware_segmentation_agree() {
    let mut st = storage();
    let mut pool = st.pool();
    let link = link(Rec::default());
    let (mut a, mut b) = open_pair(&mut pool, &link, Side::A);
    let hw = tso_frames(&mut pool, &link, (&mut a, &mut b), &payload_of(20_000, 9));
    assert_eq!(hw, software_gso(Features::NONE));
    a.reclaim_tx(&mut pool, Instant::ZERO);
    let mut q = poll_all(&mut pool, &mut b);
    q.purge(&mut pool);
    a.close(&mut pool);
    b.close(&mut pool);
    assert!(pool.stats().is_idle());
}

/// Feed frames through software GRO and return what comes out.
fn gro(frames: &[Vec<u8>]) -> Vec<(Vec<u8>, u16, u16)> {
    let mut st = storage();
    let mut pool = st.pool();
    let mut g: Gro<8> = Gro::new();
    let mut out = SkbQueue::new();
    for f in frames {
        let skb = rx_skb(&mut pool, f);
        g.receive(&mut pool, Medium::Ethernet, skb, &mut out);
    }
    g.flush(&mut pool, &mut out);
    assert!(g.is_empty());
    let mut res = Vec::new();
    while let Some(skb) = out.pop_front(&mut pool) {
        let m = *pool.meta(&skb);
        if m.gso.segs > 1 {
            assert!(matches!(m.csum, Checksum::Partial { .. }), "a merged packet is CHECKSUM_PARTIAL");
            finish_partial(&mut pool, &skb).unwrap();
        }
        res.push((bytes(&pool, &skb), m.gso.size, m.gso.segs));
        pool.free(skb);
    }
    assert!(pool.stats().is_idle());
    res
}

fn train(n: usize, len: usize) -> (Vec<Vec<u8>>, Vec<u8>) {
    let payload = payload_of(n * len, 1);
    let frames = (0..n)
        .map(|i| {
            let s = Seg { seq: 1000 + (i * len) as u32, ip_id: 100 + i as u16, ..Seg::default() };
            tcp_frame(&s, &payload[i * len..(i + 1) * len])
        })
        .collect();
    (frames, payload)
}

#[test]
fn gro_merges_a_train_into_exactly_the_concatenated_payload() {
    let (frames, payload) = train(10, 1448);
    let out = gro(&frames);
    assert_eq!(out.len(), 1);
    let (bytes, size, segs) = &out[0];
    assert_eq!((*size, *segs), (1448, 10));
    let p = parse_valid(bytes);
    assert_eq!(p.payload, payload);
    assert_eq!(usize::from(p.ip.total_len), 52 + payload.len());
    assert_eq!(p.tcp.sequence_number, 1000);
    assert_eq!(p.ip.identification, 100, "the first segment's header leads");
}

/// Software GSO on a device without any offload, as a bridge port without
/// TSO does to a merged packet: the frames it becomes, each checked.
fn resegment(pool: &mut SkbPool, skb: skbnet::skb::SkBuff) -> Vec<Vec<u8>> {
    let mut out = SkbQueue::new();
    validate_xmit(pool, skb, &Features::NONE, &mut out).expect("segmented in software");
    let frames = drain_bytes(pool, &mut out);
    for f in &frames {
        parse_valid(f);
    }
    frames
}

/// Regression: a merged packet left GRO without its network and transport
/// headers marked, so a bridge port without TSO could not segment it and
/// dropped it as out of memory.
#[test]
fn a_gro_merged_packet_segments_again_for_a_port_without_tso() {
    let (frames, _) = train(5, 1448);
    let mut st = storage();
    let mut pool = st.pool();
    let mut g: Gro<8> = Gro::new();
    let mut out = SkbQueue::new();
    for f in &frames {
        let skb = rx_skb(&mut pool, f);
        g.receive(&mut pool, Medium::Ethernet, skb, &mut out);
    }
    g.flush(&mut pool, &mut out);
    assert_eq!(out.len(), 1);
    let merged = out.pop_front(&mut pool).unwrap();
    assert_eq!(resegment(&mut pool, merged), frames, "the frames that came, byte for byte");
    assert!(pool.stats().is_idle());
}

/// Regression: GRO held a super-packet (a veth peer's TSO) and merged the
/// next segment into it, making its whole payload the `gso_size`: the
/// router forwarding it then found every segment too big for the next hop,
/// answered "fragmentation needed", and the connection stalled.
#[test]
fn gro_passes_a_super_packet_through_untouched() {
    let mut st = storage();
    let mut pool = st.pool();
    let big = payload_of(3 * 1448, 4);
    let sup = super_packet(&mut pool, &Seg::default(), &big, 1448);
    let sup_bytes = bytes(&pool, &sup);
    let next = tcp_frame(&Seg { seq: 1000 + big.len() as u32, ip_id: 101, ..Seg::default() }, &[9; 1448]);
    let mut g: Gro<8> = Gro::new();
    let mut out = SkbQueue::new();
    g.receive(&mut pool, Medium::Ethernet, sup, &mut out);
    let skb = rx_skb(&mut pool, &next);
    g.receive(&mut pool, Medium::Ethernet, skb, &mut out);
    g.flush(&mut pool, &mut out);
    let metas: Vec<_> = out.iter(&pool).map(|s| pool.meta(&s).gso).map(|m| (m.size, m.segs)).collect();
    assert_eq!(metas, [(1448, 3), (0, 0)], "the super-packet kept its own gso_size");
    assert_eq!(drain_bytes(&mut pool, &mut out), [sup_bytes, next]);
    assert!(pool.stats().is_idle());
}

#[test]
fn gro_short_segment_or_psh_closes_the_packet() {
    let (mut frames, _) = train(3, 1000);
    frames.push(tcp_frame(&Seg { seq: 4000, ip_id: 103, ..Seg::default() }, &[7; 500]));
    frames.push(tcp_frame(&Seg { seq: 4500, ip_id: 104, ..Seg::default() }, &[8; 1000]));
    let out = gro(&frames);
    assert_eq!(out.iter().map(|o| o.2).collect::<Vec<_>>(), [4, 0], "the short segment ended the train");
    let (frames, payload) = train(4, 800);
    let mut psh = frames.clone();
    let s = Seg { seq: 1000 + 800, ip_id: 101, psh: true, ..Seg::default() };
    psh[1] = tcp_frame(&s, &payload[800..1600]);
    let out = gro(&psh);
    assert_eq!(out.iter().map(|o| o.2).collect::<Vec<_>>(), [2, 2]);
    let first = parse_valid(&out[0].0);
    assert!(first.tcp.psh, "PSH carried by the merged packet");
}

#[test]
fn gro_refuses_every_case_it_must() {
    let base = Seg::default();
    let cases: Vec<(&str, Seg, usize)> = vec![
        ("SYN", Seg { syn: true, ..base.clone() }, 1000),
        ("FIN", Seg { fin: true, ..base.clone() }, 1000),
        ("RST", Seg { rst: true, ..base.clone() }, 1000),
        ("URG", Seg { urg: true, ..base.clone() }, 1000),
        ("ECE", Seg { ece: true, ..base.clone() }, 1000),
        ("CWR", Seg { cwr: true, ..base.clone() }, 1000),
        ("other options", Seg { ts: Some((8, 3)), ..base.clone() }, 1000),
        ("no options", Seg { ts: None, ..base.clone() }, 1000),
        ("out of order", Seg { seq: base.seq + 2000, ..base.clone() }, 1000),
        ("old data", Seg { seq: base.seq, ..base.clone() }, 1000),
        ("IP options", Seg { ip_options: true, ..base.clone() }, 1000),
        ("fragment", Seg { more_frags: true, ..base.clone() }, 1000),
        ("another TTL", Seg { ttl: 63, ..base.clone() }, 1000),
        ("another TOS", Seg { tos: 0x10, ..base.clone() }, 1000),
        ("another ACK", Seg { ack: base.ack + 1, ..base.clone() }, 1000),
        ("another window", Seg { window: base.window + 1, ..base.clone() }, 1000),
        ("bigger than the first", base.clone(), 1001),
        ("another flow", Seg { sport: base.sport + 1, ..base.clone() }, 1000),
        ("IP ID not counting up without DF", Seg { df: false, ip_id: base.ip_id + 5, ..base.clone() }, 1000),
        ("no payload", base.clone(), 0),
    ];
    for (name, mut second, len) in cases {
        if !matches!(name, "out of order" | "old data") {
            second.seq = base.seq + 1000;
        }
        if !name.starts_with("IP ID") {
            second.ip_id = base.ip_id + 1;
        }
        let mut first = base.clone();
        if name.starts_with("IP ID") {
            first.df = false;
        }
        let frames = vec![tcp_frame(&first, &[1; 1000]), tcp_frame(&second, &vec![2; len])];
        let out = gro(&frames);
        assert_eq!(out.len(), 2, "{name}: not merged");
        for (o, f) in out.iter().zip(&frames) {
            assert_eq!(&o.0, f, "{name}: passed up unchanged and in order");
            assert_eq!(o.2, 0, "{name}: no GSO metadata");
        }
    }
}

#[test]
fn gro_passes_bad_checksums_up_unmerged() {
    let (mut frames, _) = train(3, 1000);
    let last = frames[2].len() - 1;
    frames[2][last] ^= 0xff;
    let out = gro(&frames);
    assert_eq!(out.iter().map(|o| o.2).collect::<Vec<_>>(), [2, 0]);
    assert_eq!(out[1].0, frames[2], "the corrupt segment arrives as it was, for TCP to drop");
}

#[test]
fn gro_passes_a_bad_ip_header_checksum_up_unmerged() {
    // The device vouched for the TCP checksum; the IPv4 header is still
    // GRO's to check, or the merged packet's rebuilt header would hide it.
    let (mut frames, _) = train(3, 1000);
    frames[1][14 + 10] ^= 0x01;
    let mut st = storage();
    let mut pool = st.pool();
    let mut g: Gro<8> = Gro::new();
    let mut out = SkbQueue::new();
    for f in &frames {
        let skb = rx_skb(&mut pool, f);
        pool.meta_mut(&skb).unwrap().csum = Checksum::Unnecessary;
        g.receive(&mut pool, Medium::Ethernet, skb, &mut out);
    }
    g.flush(&mut pool, &mut out);
    let got = drain_bytes(&mut pool, &mut out);
    assert_eq!(got, frames, "three packets, unmerged, in order, as they came");
    assert_eq!(g.stats().bad_csum, 1);
    assert!(pool.stats().is_idle());
}

/// Regression: a frame LRO cannot take (here a bad checksum, as well an
/// ICMP message or a checksum the host left partial) was written into the
/// ring behind the open context without closing it, so it waited for the
/// LRO timer; it now closes the context first, and both arrive at once,
/// in the order they came.
#[test]
fn nic_lro_closes_its_context_for_a_frame_it_cannot_merge() {
    let mut st = storage();
    let mut pool = st.pool();
    let link = link(Rec::default());
    let (mut a, mut b) = open_pair(&mut pool, &link, Side::B);
    let (mut frames, payload) = train(4, 1448);
    let last = frames[3].len() - 1;
    frames[3][last] ^= 0xff;
    let mut q = send_frames(&mut pool, &mut a, &mut b, &frames);
    assert_eq!(q.len(), 2, "the merged three and the bad one, before the LRO timer");
    let merged = q.pop_front(&mut pool).unwrap();
    assert_eq!(pool.meta(&merged).gso.segs, 3);
    finish_partial(&mut pool, &merged).unwrap();
    assert_eq!(parse_valid(&bytes(&pool, &merged)).payload, payload[..3 * 1448]);
    let bad = q.pop_front(&mut pool).unwrap();
    assert_eq!(bytes(&pool, &bad), frames[3], "the corrupt segment as it came, for TCP to drop");
    assert_eq!(b.hw_stats().rx_csum_bad, 1);
    pool.free(merged);
    pool.free(bad);
    close_pair(&mut pool, &mut a, &mut b);
}

#[test]
fn nic_lro_merges_a_train_arriving_on_the_wire() {
    let mut st = storage();
    let mut pool = st.pool();
    let link = link(Rec::default());
    let (mut a, mut b) = open_pair(&mut pool, &link, Side::B);
    let (frames, payload) = train(12, 1448);
    let early = send_frames(&mut pool, &mut a, &mut b, &frames);
    assert!(early.is_empty(), "the LRO context is still open");
    let flush_at = b.hw_poll_at().unwrap();
    assert_eq!(flush_at, Instant::from_micros(20), "the LRO timer");
    run_hw(&mut pool, &mut a, &mut b, flush_at);
    let mut q = poll_all(&mut pool, &mut b);
    assert_eq!(q.len(), 1, "one merged packet");
    let skb = q.pop_front(&mut pool).unwrap();
    let m = *pool.meta(&skb);
    assert_eq!((m.gso.size, m.gso.segs, m.gso.kind), (1448, 12, GsoType::TcpV4));
    // Bridged to a port without offloads, it is cut back into the frames
    // that came (the headers are marked without `ip_rcv` having looked).
    let copy = pool.copy(&skb, skbnet::skb::OwnerId::SYSTEM).unwrap();
    assert_eq!(resegment(&mut pool, copy), frames);
    finish_partial(&mut pool, &skb).unwrap();
    let p = parse_valid(&bytes(&pool, &skb));
    assert_eq!(p.payload, payload);
    assert_eq!(b.hw_stats().lro_merged, 11);
    pool.free(skb);
    close_pair(&mut pool, &mut a, &mut b);
}

/// Regression: LRO opened its context with the first frame as it came off
/// the wire, Ethernet padding and all, and appended the next payloads after
/// the padding: the merged packet's data had the pad bytes in the middle
/// and lost as many at the end. Tiny segments without options (an
/// interactive session's keystrokes) are padded to the 60-byte minimum.
#[test]
fn nic_lro_leaves_ethernet_padding_out_of_the_merged_data() {
    let mut st = storage();
    let mut pool = st.pool();
    let link = link(Rec::default());
    let (mut a, mut b) = open_pair(&mut pool, &link, Side::B);
    let payload = payload_of(5 * 4, 7);
    let frames: Vec<Vec<u8>> = (0..5)
        .map(|i| {
            let s = Seg { seq: 1000 + 4 * i as u32, ip_id: 100 + i as u16, ts: None, ..Seg::default() };
            let mut f = tcp_frame(&s, &payload[4 * i..4 * i + 4]);
            assert!(f.len() < 60);
            f.resize(60, 0xee);
            f
        })
        .collect();
    let mut q = send_frames(&mut pool, &mut a, &mut b, &frames);
    if let Some(at) = b.hw_poll_at() {
        run_hw(&mut pool, &mut a, &mut b, at);
        let mut more = poll_all(&mut pool, &mut b);
        q.splice_back(&mut pool, &mut more);
    }
    assert_eq!(b.hw_stats().lro_merged, 4, "the five were merged");
    assert_eq!(q.len(), 1);
    let skb = q.pop_front(&mut pool).unwrap();
    finish_partial(&mut pool, &skb).unwrap();
    let got = bytes(&pool, &skb);
    assert_eq!(got.len(), 14 + 40 + payload.len(), "no padding inside");
    assert_eq!(parse_valid(&got).payload, payload, "the payload, byte for byte");
    pool.free(skb);
    close_pair(&mut pool, &mut a, &mut b);
}

/// Regression: a packet spanning more buffers than the NIC's transmit ring
/// has descriptors (a 64-segment GRO packet forwarded, a large write) was
/// dropped by the driver as a broken contract. The NIC now says how many
/// it takes (`max_frags`), and the stack segments a super-packet that
/// spans more in software, each segment one buffer.
#[test]
fn a_super_packet_with_more_buffers_than_the_ring_is_segmented_in_software() {
    type Small<'l> = skbnet_nic_sim::nic::SimNic<8, 64, 66_000, skbnet_nic_sim::port::LinkPort<'l, 512, 1514, Rec>>;
    let mut st = storage();
    let mut pool = st.pool();
    let link = link(Rec::default());
    let cfg = |mac| skbnet_nic_sim::nic::NicConfig::ethernet(skbnet::wire::MacAddr(mac));
    let mut a = Box::new(Small::new(cfg(MAC_A), skbnet_nic_sim::port::LinkPort::new(&link, Side::A)));
    let mut b = Box::new(Small::new(cfg(MAC_B), skbnet_nic_sim::port::LinkPort::new(&link, Side::B)));
    a.open(&mut pool).unwrap();
    b.open(&mut pool).unwrap();
    let step = |pool: &mut SkbPool, a: &mut Small<'_>, b: &mut Small<'_>| {
        a.run_hardware(Instant::ZERO, pool);
        b.run_hardware(Instant::ZERO, pool);
        a.reclaim_tx(pool, Instant::ZERO);
        let mut q = SkbQueue::new();
        while b.poll_rx(pool, Instant::ZERO, 64, &mut q) == 64 {}
        q.purge(pool);
    };
    let f = a.features();
    assert_eq!(f.max_frags, 7, "eight descriptors, one kept free");
    let payload = payload_of(20 * usize::from(MSS), 5);
    let skb = super_packet(&mut pool, &template(), &payload, MSS);
    assert!(pool.chunk_count(&skb) > 7, "{} buffers", pool.chunk_count(&skb));
    let mut fitted = SkbQueue::new();
    validate_xmit(&mut pool, skb, &f, &mut fitted).unwrap();
    assert_eq!(fitted.len(), 20, "segmented in software");
    while let Some(mut skb) = fitted.pop_front(&mut pool) {
        while let Err(skbnet::dev::TxBusy(back)) = a.transmit(&mut pool, Instant::ZERO, skb) {
            step(&mut pool, &mut a, &mut b);
            skb = back;
        }
    }
    step(&mut pool, &mut a, &mut b);
    assert_eq!(a.stats().tx_dropped, 0);
    let frames: Vec<Vec<u8>> = link.borrow().tap().0.iter().map(|(_, _, f)| f.clone()).collect();
    check_segments(&frames, &template(), &payload);
    a.close(&mut pool);
    b.close(&mut pool);
    assert!(pool.stats().is_idle());
}

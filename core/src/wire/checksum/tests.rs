//! Checksum vectors, odd lengths and splits, chains, RFC 1624 updates and
//! the CHECKSUM_PARTIAL contract.

use super::*;
use crate::skb::{OwnerId, PoolStorage, SkBuff};
use proptest::prelude::*;
use std::vec::Vec;

/// The textbook algorithm: big-endian byte pairs, end-around carry.
fn reference(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for pair in data.chunks(2) {
        let w = u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0));
        s += w;
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

#[test]
fn rfc1071_example() {
    // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
    let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(InetSum::new().add(&data).fold(), 0xddf2);
    assert_eq!(checksum(&data), 0x220d);
}

#[test]
fn ipv4_header_vector() {
    let mut h = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
        0x00, 0xc7,
    ];
    assert_eq!(checksum(&h), 0xb861);
    h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
    assert_eq!(checksum(&h), 0, "a correct header sums to zero");
    assert_eq!(InetSum::new().add(&h).fold(), 0xffff);
}

#[test]
fn empty_zero_and_single_bytes() {
    assert_eq!(checksum(&[]), 0xffff);
    assert_eq!(InetSum::new().fold(), 0);
    assert_eq!(checksum(&[0; 7]), 0xffff);
    assert_eq!(checksum(&[0xab]), !0xab00);
    assert_eq!(checksum(&[0xff, 0xff]), 0, "negative zero stays 0xffff before the complement");
}

#[test]
fn every_length_up_to_300_matches_the_reference() {
    let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 13) as u8 ^ 0x5a).collect();
    for n in 0..=data.len() {
        assert_eq!(checksum(&data[..n]), reference(&data[..n]), "length {n}");
    }
}

/// Every word all ones: the most carries each path (the short add-with-carry
/// one below 256 bytes, the block one above) has to fold back in.
#[test]
fn all_ones_at_every_length_up_to_300() {
    let data = [0xffu8; 300];
    for n in 0..=data.len() {
        assert_eq!(checksum(&data[..n]), reference(&data[..n]), "length {n}");
        let mut split = InetSum::new();
        split.add(&data[..n / 3]).add(&data[n / 3..n]);
        assert_eq!(split.finish(), reference(&data[..n]), "length {n} split at {}", n / 3);
    }
}

#[test]
fn words_and_bytes_agree() {
    let mut a = InetSum::new();
    a.add_u16(0x1234).add_u32(0xdead_beef);
    let mut b = InetSum::new();
    b.add(&[0x12, 0x34, 0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(a, b);
    // At an odd offset too.
    let mut a = InetSum::new();
    a.add(&[0x01]).add_u16(0xabcd).add_u32(0x0102_0304);
    let mut b = InetSum::new();
    b.add(&[0x01, 0xab, 0xcd, 1, 2, 3, 4]);
    assert_eq!(a.fold(), b.fold());
}

#[test]
fn pseudo_header_matches_its_bytes() {
    let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(192, 168, 7, 200));
    let ph = pseudo_header_v4(src, dst, IpProtocol::TCP, 1480);
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&src.octets());
    bytes.extend_from_slice(&dst.octets());
    bytes.extend_from_slice(&[0, 6]);
    bytes.extend_from_slice(&1480u16.to_be_bytes());
    assert_eq!(ph.fold(), InetSum::new().add(&bytes).fold());
    assert_eq!(ph.fold(), 0x0a00 + 0x0001 + 0xc0a8 + 0x07c8 + 6 + 1480);
}

#[test]
fn rfc1624_ttl_decrement_example() {
    // A header whose checksum we know; decrement the TTL and compare.
    let mut h = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
        0x00, 0xc7,
    ];
    let updated = update_u16(0xb861, 0x4011, 0x3f11);
    h[8] = 0x3f;
    h[10..12].fill(0);
    assert_eq!(updated, checksum(&h));
    assert_eq!(updated, 0xb961);
}

#[test]
fn rfc1624_negative_zero_case() {
    // RFC 1624 section 4's worked example: HC = 0xdd2f, m = 0x5555 ->
    // m' = 0x3285 gives HC' = 0x0000, where eqn. 2 would give 0xffff.
    assert_eq!(update_u16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

proptest! {
    #[test]
    fn split_anywhere_equals_whole(data in proptest::collection::vec(any::<u8>(), 0..600), cuts in proptest::collection::vec(0usize..600, 0..6)) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
        cuts.sort_unstable();
        let mut s = InetSum::new();
        let mut at = 0;
        for c in cuts.into_iter().chain([data.len()]) {
            s.add(&data[at..c]);
            at = c;
        }
        prop_assert_eq!(s.finish(), reference(&data));
    }

    #[test]
    fn incremental_u16_equals_recompute(mut h in proptest::array::uniform20(any::<u8>()), word in 0usize..10, new in any::<u16>()) {
        // The checksum word is 5 (bytes 10..12); the version byte stays
        // nonzero so the data never becomes all zeros.
        prop_assume!(word != 5);
        h[0] = 0x45;
        h[10..12].fill(0);
        let hc = checksum(&h);
        let old = u16::from_be_bytes([h[2 * word], h[2 * word + 1]]);
        h[2 * word..2 * word + 2].copy_from_slice(&new.to_be_bytes());
        prop_assert_eq!(update_u16(hc, old, new), checksum(&h));
    }

    #[test]
    fn incremental_u32_equals_recompute(mut h in proptest::array::uniform20(any::<u8>()), which in 0usize..2, new in any::<u32>()) {
        h[0] = 0x45;
        h[10..12].fill(0);
        let hc = checksum(&h);
        let at = 12 + 4 * which;
        let old = u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        h[at..at + 4].copy_from_slice(&new.to_be_bytes());
        prop_assert_eq!(update_u32(hc, old, new), checksum(&h));
    }

    #[test]
    fn chains_split_at_odd_offsets(parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..150), 1..6), headroom in 0usize..9, from in 0usize..400, len in 0usize..400) {
        let mut st = Box::new(PoolStorage::<32, 32, 64, 2>::new());
        let mut pool = SkbPool::new(&mut st);
        let skb = chain(&mut pool, headroom, &parts);
        let all: Vec<u8> = parts.concat();
        let (from, len) = (from.min(all.len()), len.min(all.len() - from.min(all.len())));
        let mut s = InetSum::new();
        s.add_skb(&pool, &skb, from, len).unwrap();
        prop_assert_eq!(s.finish(), reference(&all[from..from + len]));
        pool.free(skb);
    }
}

/// A packet made of `parts`, each appended as its own packet so chunk
/// boundaries fall inside words; the first part's buffer has `headroom`.
fn chain(pool: &mut SkbPool<'_>, headroom: usize, parts: &[Vec<u8>]) -> SkBuff {
    let skb = pool.alloc_with_headroom(OwnerId::SYSTEM, headroom).unwrap();
    assert_eq!(pool.append(&skb, &parts[0]).unwrap(), parts[0].len());
    for p in &parts[1..] {
        let next = pool.alloc(OwnerId::SYSTEM).unwrap();
        assert_eq!(pool.append(&next, p).unwrap(), p.len());
        pool.append_skb(&skb, next).unwrap();
    }
    skb
}

#[test]
fn add_skb_edges() {
    let mut st = Box::new(PoolStorage::<8, 8, 64, 2>::new());
    let mut pool = SkbPool::new(&mut st);
    let skb = chain(&mut pool, 3, &[std::vec![1; 5], std::vec![2; 7]]);
    assert_eq!(pool.chunk_count(&skb), 2);
    assert_eq!(InetSum::new().add_skb(&pool, &skb, 12, 0).map(|s| s.fold()), Ok(0));
    assert_eq!(InetSum::new().add_skb(&pool, &skb, 12, 1).err(), Some(SkbError::TooShort));
    assert_eq!(InetSum::new().add_skb(&pool, &skb, usize::MAX, 2).err(), Some(SkbError::TooShort));
    let stale = skb.as_ref();
    pool.free(skb);
    assert_eq!(InetSum::new().add_skb(&pool, &stale, 0, 0).err(), Some(SkbError::BadHandle));
}

/// A UDP datagram 10.0.0.1:5000 -> 10.0.0.2:7 with `payload_len` bytes.
fn udp_datagram(payload_len: usize) -> Vec<u8> {
    let len = (8 + payload_len) as u16;
    let mut d = Vec::from([0x13, 0x88, 0x00, 0x07]);
    d.extend_from_slice(&len.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend((0..payload_len).map(|i| (i * 31 + 1) as u8));
    d
}

#[test]
fn finish_partial_over_a_chain() {
    let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    let mut st = Box::new(PoolStorage::<16, 16, 64, 2>::new());
    let mut pool = SkbPool::new(&mut st);
    let mut dgram = udp_datagram(101);
    let ph = pseudo_header_v4(src, dst, IpProtocol::UDP, dgram.len() as u16);
    dgram[6..8].copy_from_slice(&ph.fold().to_be_bytes());
    // 11 bytes of something before the UDP header, then the datagram split oddly.
    let mut first = std::vec![0xee; 11];
    first.extend_from_slice(&dgram[..17]);
    let skb = chain(&mut pool, 5, &[first, dgram[17..50].to_vec(), dgram[50..].to_vec()]);
    pool.meta_mut(&skb).unwrap().csum = Checksum::Partial { start: 5 + 11, offset: 6 };
    finish_partial(&mut pool, &skb).unwrap();
    assert_eq!(pool.meta(&skb).csum, Checksum::None);
    let mut out = std::vec![0; pool.len(&skb)];
    pool.copy_to_slice(&skb, 0, &mut out).unwrap();
    let udp = &out[11..];
    let mut check = pseudo_header_v4(src, dst, IpProtocol::UDP, udp.len() as u16);
    assert_eq!(check.add(udp).finish(), 0, "the datagram now carries a correct checksum");
    dgram[6..8].fill(0);
    let expected = pseudo_header_v4(src, dst, IpProtocol::UDP, dgram.len() as u16).add(&dgram).finish();
    assert_eq!(&udp[6..8], &expected.to_be_bytes());
    pool.free(skb);
}

#[test]
fn finish_partial_writes_0xffff_for_zero() {
    // A "datagram" whose full sum is 0xffff once the field holds 0:
    // the complement 0 must go out as 0xffff.
    let mut st = Box::new(PoolStorage::<4, 4, 64, 2>::new());
    let mut pool = SkbPool::new(&mut st);
    let skb = chain(&mut pool, 0, &[std::vec![0xff, 0xff, 0, 0]]);
    pool.meta_mut(&skb).unwrap().csum = Checksum::Partial { start: 0, offset: 2 };
    finish_partial(&mut pool, &skb).unwrap();
    assert_eq!(pool.data(&skb), &[0xff, 0xff, 0xff, 0xff]);
    pool.free(skb);
}

#[test]
fn finish_partial_refuses_offsets_outside_the_packet() {
    let mut st = Box::new(PoolStorage::<4, 4, 64, 2>::new());
    let mut pool = SkbPool::new(&mut st);
    let skb = chain(&mut pool, 8, &[std::vec![1; 10]]);
    let cases = [(7, 0), (8, 9), (16, 1), (u16::MAX, u16::MAX)];
    for (start, offset) in cases {
        pool.meta_mut(&skb).unwrap().csum = Checksum::Partial { start, offset };
        assert_eq!(finish_partial(&mut pool, &skb), Err(SkbError::TooShort), "start {start} offset {offset}");
    }
    pool.meta_mut(&skb).unwrap().csum = Checksum::Partial { start: 8, offset: 8 };
    assert_eq!(finish_partial(&mut pool, &skb), Ok(()), "the last two bytes are a valid field");
    pool.meta_mut(&skb).unwrap().csum = Checksum::Unnecessary;
    let before = pool.data(&skb).to_vec();
    assert_eq!(finish_partial(&mut pool, &skb), Ok(()));
    assert_eq!((pool.data(&skb), pool.meta(&skb).csum), (&before[..], Checksum::Unnecessary), "left alone");
    let stale = skb.as_ref();
    pool.free(skb);
    assert_eq!(finish_partial(&mut pool, &stale), Err(SkbError::BadHandle));
}

#[test]
fn finish_partial_unshares_a_clone() {
    let mut st = Box::new(PoolStorage::<4, 4, 64, 2>::new());
    let mut pool = SkbPool::new(&mut st);
    let skb = chain(&mut pool, 0, &[std::vec![0x12, 0x34, 0, 0]]);
    let clone = pool.clone(&skb, OwnerId::SYSTEM).unwrap();
    pool.meta_mut(&clone).unwrap().csum = Checksum::Partial { start: 0, offset: 2 };
    finish_partial(&mut pool, &clone).unwrap();
    assert_eq!(pool.data(&clone), &[0x12, 0x34, 0xed, 0xcb]);
    assert_eq!(pool.data(&skb), &[0x12, 0x34, 0, 0], "the original keeps its bytes");
    pool.free(clone);
    pool.free(skb);
}

//! TCP header fields, the option walk on good and bad bytes, Linux's option
//! layouts byte for byte, flags and checksums.

use super::*;
use std::vec::Vec;

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn opts(bytes: &[u8]) -> Vec<Result<TcpOption, WireError>> {
    TcpOptions::new(bytes).collect()
}

fn syn_options(ts: Option<(u32, u32)>) -> TcpOptionsRepr {
    TcpOptionsRepr {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: ts,
        sack: SackBlocks::new(),
    }
}

fn emit_options(r: &TcpOptionsRepr) -> Vec<u8> {
    let mut out = [0xaa; 40];
    let n = r.emit(&mut out).unwrap();
    assert_eq!(n, r.len());
    out[..n].to_vec()
}

#[test]
fn syn_layout_with_timestamps_is_linuxs() {
    let bytes = emit_options(&syn_options(Some((0x01020304, 0))));
    assert_eq!(bytes, [2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7]);
}

#[test]
fn syn_layout_without_timestamps_is_linuxs() {
    let bytes = emit_options(&syn_options(None));
    assert_eq!(bytes, [2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]);
}

#[test]
fn data_layouts_are_linuxs() {
    let ts = TcpOptionsRepr { timestamps: Some((5, 6)), ..TcpOptionsRepr::default() };
    assert_eq!(emit_options(&ts), [1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6]);
    let sack = TcpOptionsRepr { sack: SackBlocks::from_slice(&[(100, 200), (300, 400)]), ..ts };
    assert_eq!(
        emit_options(&sack),
        [1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6, 1, 1, 5, 18, 0, 0, 0, 100, 0, 0, 0, 200, 0, 0, 1, 44, 0, 0, 1, 144]
    );
    let sack_only = TcpOptionsRepr { timestamps: None, ..sack };
    assert_eq!(emit_options(&sack_only), [1, 1, 5, 18, 0, 0, 0, 100, 0, 0, 0, 200, 0, 0, 1, 44, 0, 0, 1, 144]);
    assert_eq!(emit_options(&TcpOptionsRepr::default()), [] as [u8; 0]);
    assert!(TcpOptionsRepr::default().is_empty());
}

#[test]
fn sack_blocks_are_clamped_to_40_bytes() {
    let four = SackBlocks::from_slice(&[(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)]);
    assert_eq!(four.len(), 4, "a fifth block is dropped");
    let with_ts = TcpOptionsRepr { timestamps: Some((1, 1)), sack: four, ..TcpOptionsRepr::default() };
    assert_eq!(with_ts.len(), 12 + 4 + 3 * 8, "three blocks fit beside timestamps");
    let bytes = emit_options(&with_ts);
    assert_eq!(&bytes[12..16], &[1, 1, 5, 26]);
    let without = TcpOptionsRepr { timestamps: None, ..with_ts };
    assert_eq!(without.len(), 4 + 4 * 8, "four blocks fit alone");
    let mut small = [0u8; 35];
    assert_eq!(without.emit(&mut small), Err(WireError::Truncated));
}

#[test]
fn parse_reads_back_what_emit_writes() {
    for r in [
        syn_options(Some((7, 9))),
        syn_options(None),
        TcpOptionsRepr {
            timestamps: Some((1, 2)),
            sack: SackBlocks::from_slice(&[(10, 20)]),
            ..TcpOptionsRepr::default()
        },
        TcpOptionsRepr { mss: Some(536), ..TcpOptionsRepr::default() },
        TcpOptionsRepr { window_scale: Some(14), timestamps: Some((3, 4)), ..TcpOptionsRepr::default() },
    ] {
        let bytes = emit_options(&r);
        assert_eq!(TcpOptionsRepr::parse(TcpOptions::new(&bytes)), r);
        assert!(opts(&bytes).iter().all(Result::is_ok));
    }
}

#[test]
fn option_walk_yields_each_kind() {
    let bytes = [
        2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 30, 3, 9, 0,
        0xff,
    ];
    let mut blocks = SackBlocks::new();
    blocks.push(1, 2);
    assert_eq!(
        opts(&bytes),
        [
            Ok(TcpOption::Mss(1460)),
            Ok(TcpOption::Nop),
            Ok(TcpOption::WindowScale(7)),
            Ok(TcpOption::SackPermitted),
            Ok(TcpOption::Timestamps { tsval: 1, tsecr: 2 }),
            Ok(TcpOption::Sack(blocks)),
            Ok(TcpOption::Unknown { kind: 30, len: 3 }),
            Ok(TcpOption::Eol),
        ],
        "nothing after EOL is read"
    );
}

#[test]
fn bad_lengths_never_loop_or_panic() {
    assert_eq!(opts(&[2]), [Err(WireError::BadOption)], "kind without a length");
    assert_eq!(opts(&[30, 0, 1]), [Err(WireError::BadOption)], "length 0 ends the walk");
    assert_eq!(opts(&[30, 1, 1]), [Err(WireError::BadOption)], "length 1 ends the walk");
    assert_eq!(opts(&[8, 10, 0, 0]), [Err(WireError::BadOption)], "past the end");
    assert_eq!(
        opts(&[2, 3, 0, 1, 1]),
        [Err(WireError::BadOption), Ok(TcpOption::Nop), Ok(TcpOption::Nop)],
        "a known kind with a wrong length is skipped by its length"
    );
    assert_eq!(opts(&[5, 6, 0, 0, 0, 0]), [Err(WireError::BadOption)], "SACK not a multiple of 8");
    let mut five = [0u8; 42];
    five[..2].copy_from_slice(&[5, 42]);
    assert_eq!(opts(&five), [Err(WireError::BadOption)], "five SACK blocks");
    assert_eq!(opts(&[3, 2, 4, 3, 0]), [Err(WireError::BadOption), Err(WireError::BadOption)]);
    let only_bad = TcpOptionsRepr::parse(TcpOptions::new(&[2, 3, 0, 3, 3, 9]));
    assert_eq!(only_bad, TcpOptionsRepr { window_scale: Some(9), ..TcpOptionsRepr::default() });
}

fn syn_segment() -> Vec<u8> {
    let r = TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: 123,
        ack: 0,
        flags: TcpFlags::SYN,
        window: 64240,
        urgent: 0,
        options: syn_options(Some((1, 0))),
        payload: &[],
    };
    let mut out = std::vec![0u8; 40];
    assert_eq!(r.emit(&mut out, SRC, DST), Ok(40));
    out
}

#[test]
fn segment_fields() {
    let b = syn_segment();
    assert_eq!(&b[..20], &[0x9c, 0x40, 0, 80, 0, 0, 0, 123, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0, b[16], b[17], 0, 0]);
    let p = TcpPacket::new_checked(&b[..]).unwrap();
    assert_eq!((p.src_port(), p.dst_port(), p.seq_number(), p.ack_number()), (40000, 80, 123, 0));
    assert_eq!((p.header_len(), p.flags(), p.window(), p.urgent()), (40, TcpFlags::SYN, 64240, 0));
    assert_eq!((p.option_bytes().len(), p.payload()), (20, &[][..]));
    assert!(p.verify_checksum(SRC, DST));
    assert!(!p.verify_checksum(DST, SRC.to_bits().wrapping_add(1).into()));
    let r = TcpRepr::parse(&p);
    assert_eq!((r.options, r.len()), (syn_options(Some((1, 0))), 40));
}

#[test]
fn header_errors() {
    let b = syn_segment();
    assert_eq!(TcpPacket::new_checked(&b[..19]).err(), Some(WireError::Truncated));
    assert_eq!(TcpPacket::new_checked(&b[..39]).err(), Some(WireError::Truncated), "options cut");
    let mut bad = b.clone();
    bad[12] = 0x40;
    assert_eq!(TcpPacket::new_checked(&bad[..]).err(), Some(WireError::BadHeaderLen));
    bad[12] = 0x50;
    let p = TcpPacket::new_checked(&bad[..]).unwrap();
    assert_eq!((p.option_bytes(), p.payload().len()), (&[][..], 20), "offset 5: the options read as payload");
}

#[test]
fn setters_and_checksum() {
    let payload = b"hello, world!";
    let mut b = std::vec![0u8; 32 + payload.len()];
    let mut p = TcpPacket::new_unchecked(&mut b[..]);
    p.set_header_len(32);
    p.set_src_port(1);
    p.set_dst_port(2);
    p.set_seq_number(0xfedc_ba98);
    p.set_ack_number(0x0123_4567);
    p.set_flags(TcpFlags::PSH | TcpFlags::ACK);
    p.set_window(512);
    p.set_urgent(7);
    p.option_bytes_mut().copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    p.payload_mut().copy_from_slice(payload);
    p.fill_checksum(SRC, DST);
    let p = TcpPacket::new_checked(&b[..]).unwrap();
    assert_eq!((p.seq_number(), p.ack_number(), p.urgent(), p.payload()), (0xfedc_ba98, 0x0123_4567, 7, &payload[..]));
    assert!(p.verify_checksum(SRC, DST));
    let mut sum = checksum::pseudo_header_v4(SRC, DST, IpProtocol::TCP, b.len() as u16);
    assert_eq!(sum.add(&b).fold(), 0xffff);
    b[12] |= 0x01;
    let mut p = TcpPacket::new_checked(&mut b[..]).unwrap();
    p.set_header_len(20);
    assert_eq!(b[12], 0x51, "reserved bits kept");
}

#[test]
fn flags_print_like_tcpdump() {
    let show = |f: TcpFlags| std::format!("{f}");
    assert_eq!(show(TcpFlags::SYN), "[S]");
    assert_eq!(show(TcpFlags::SYN | TcpFlags::ACK), "[S.]");
    assert_eq!(show(TcpFlags::PSH | TcpFlags::ACK), "[P.]");
    assert_eq!(show(TcpFlags::FIN | TcpFlags::ACK), "[F.]");
    assert_eq!(show(TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR), "[SEW]");
    assert_eq!(show(TcpFlags::from_bits(0xff)), "[FSRP.UEW]");
    assert_eq!(show(TcpFlags::empty()), "[none]");
    let f = TcpFlags::SYN | TcpFlags::ACK;
    assert!(f.contains(TcpFlags::SYN) && !f.contains(TcpFlags::SYN | TcpFlags::FIN));
    assert_eq!((f & TcpFlags::ACK, f.without(TcpFlags::SYN), f.bits()), (TcpFlags::ACK, TcpFlags::ACK, 0x12));
    let mut g = TcpFlags::empty();
    g |= TcpFlags::RST;
    assert_eq!(g, TcpFlags::RST);
}

#[test]
fn options_print_like_tcpdump() {
    let bytes = emit_options(&syn_options(Some((1, 0))));
    let shown: Vec<std::string::String> = TcpOptions::new(&bytes).flatten().map(|o| std::format!("{o}")).collect();
    assert_eq!(shown.join(","), "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7");
    let sack = TcpOption::Sack(SackBlocks::from_slice(&[(1, 2), (3, 4)]));
    assert_eq!(std::format!("{sack}"), "sack 2 {1:2}{3:4}");
    assert_eq!(std::format!("{}", TcpOption::Unknown { kind: 30, len: 4 }), "unknown-30");
    assert_eq!(std::format!("{}", TcpOption::Eol), "eol");
}

#[test]
fn repr_limits() {
    let big = std::vec![0u8; 65516];
    let r = TcpRepr {
        src_port: 1,
        dst_port: 2,
        seq: 0,
        ack: 0,
        flags: TcpFlags::ACK,
        window: 0,
        urgent: 0,
        options: TcpOptionsRepr::default(),
        payload: &big,
    };
    let mut out = std::vec![0u8; 70000];
    assert_eq!(r.emit(&mut out, SRC, DST), Err(WireError::BadLength));
    let r = TcpRepr { payload: &big[..10], ..r };
    assert_eq!(r.emit(&mut out[..29], SRC, DST), Err(WireError::Truncated));
    assert!(!r.is_empty());
    let mut sb = SackBlocks::new();
    assert!(sb.is_empty());
    assert!((0..4).all(|i| sb.push(i, i + 1)));
    assert!(!sb.push(9, 9));
    assert_eq!(sb.as_slice(), &[(0, 1), (1, 2), (2, 3), (3, 4)]);
}

//! IPv4 header fields, validation order, options, padding and fragments.

use super::*;

/// 10.0.0.1 -> 10.0.0.2, UDP, 8 bytes of payload, ident 0x1234, DF, TTL 64.
const PACKET: [u8; 28] = [
    0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x14, 0x9b, 10, 0, 0, 1, 10, 0, 0, 2, 1, 2, 3, 4, 5, 6,
    7, 8,
];

#[test]
fn fields() {
    let p = Ipv4Packet::new_checked(&PACKET[..]).unwrap();
    assert_eq!((p.version(), p.header_len(), p.dscp(), p.ecn()), (4, 20, 0, 0));
    assert_eq!(
        (p.total_len(), p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset()),
        (28, 0x1234, true, false, 0)
    );
    assert_eq!((p.ttl(), p.protocol(), p.checksum()), (64, IpProtocol::UDP, 0x149b));
    assert_eq!((p.src(), p.dst()), (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)));
    assert_eq!((p.options(), p.payload()), (&[][..], &[1, 2, 3, 4, 5, 6, 7, 8][..]));
    assert!(p.verify_checksum());
    assert!(!p.is_fragment());
}

#[test]
fn every_error_in_order() {
    let check = |b: &[u8]| Ipv4Packet::new_checked(b).err();
    assert_eq!(check(&PACKET[..19]), Some(WireError::Truncated));
    let mut b = PACKET;
    b[0] = 0x65;
    assert_eq!(check(&b), Some(WireError::BadVersion));
    b[0] = 0x44;
    assert_eq!(check(&b), Some(WireError::BadHeaderLen));
    b[0] = 0x47;
    assert_eq!(check(&b[..27]), Some(WireError::Truncated), "IHL says 28 bytes");
    b[0] = 0x45;
    b[2..4].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(check(&b), Some(WireError::BadTotalLen));
    b[2..4].copy_from_slice(&29u16.to_be_bytes());
    assert_eq!(check(&b), Some(WireError::Truncated), "total length past the buffer");
    b[2..4].copy_from_slice(&20u16.to_be_bytes());
    assert_eq!(Ipv4Packet::new_checked(&b[..]).map(|p| p.payload().len()), Ok(0));
}

#[test]
fn padding_is_not_payload() {
    let mut frame = [0u8; 46];
    frame[..28].copy_from_slice(&PACKET);
    let p = Ipv4Packet::new_checked(&frame[..]).unwrap();
    assert_eq!(p.payload(), &PACKET[20..]);
}

#[test]
fn options_kept_intact() {
    // Record route (7), length 7, pointer 4, one empty slot, then EOL.
    let mut b = [0u8; 32];
    b[..20].copy_from_slice(&PACKET[..20]);
    b[0] = 0x46;
    b[2..4].copy_from_slice(&32u16.to_be_bytes());
    b[20..24].copy_from_slice(&[7, 7, 4, 0]);
    b[28..32].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let mut p = Ipv4Packet::new_checked(&mut b[..]).unwrap();
    assert_eq!((p.header_len(), p.options()), (24, &[7, 7, 4, 0][..]));
    assert_eq!(p.payload(), &[0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
    p.fill_checksum();
    assert!(p.verify_checksum());
    p.options_mut()[3] = 1;
    assert!(!p.verify_checksum(), "options are covered by the checksum");
    assert_eq!(b[23], 1);
}

#[test]
fn fragment_fields() {
    let mut b = PACKET;
    let mut p = Ipv4Packet::new_checked(&mut b[..]).unwrap();
    p.set_dont_frag(false);
    p.set_more_frags(true);
    p.set_frag_offset(1480);
    assert_eq!((p.dont_frag(), p.more_frags(), p.frag_offset(), p.is_fragment()), (false, true, 1480, true));
    assert_eq!(&b[6..8], &[0x20, 0xb9]);
    let mut p = Ipv4Packet::new_checked(&mut b[..]).unwrap();
    p.set_more_frags(false);
    assert!(p.is_fragment(), "the last fragment has an offset");
    p.set_frag_offset(65528);
    assert_eq!(p.frag_offset(), 65528);
    p.set_frag_offset(0);
    assert!(!p.is_fragment());
}

#[test]
fn setters_and_fill_checksum() {
    let mut b = [0u8; 28];
    let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
    p.set_version_and_header_len(4, 20);
    p.set_total_len(28);
    p.set_ident(0x1234);
    p.set_dont_frag(true);
    p.set_ttl(64);
    p.set_protocol(IpProtocol::UDP);
    p.set_src(Ipv4Addr::new(10, 0, 0, 1));
    p.set_dst(Ipv4Addr::new(10, 0, 0, 2));
    p.payload_mut().copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    p.fill_checksum();
    assert_eq!(b, PACKET);
    let mut p = Ipv4Packet::new_checked(&mut b[..]).unwrap();
    p.set_dscp(46);
    p.set_ecn(3);
    assert_eq!((p.dscp(), p.ecn()), (46, 3));
    p.set_ecn(1);
    assert_eq!((p.dscp(), p.ecn(), b[1]), (46, 1, 0xb9));
}

#[test]
fn dec_ttl_updates_the_checksum() {
    let mut b = PACKET;
    let mut p = Ipv4Packet::new_checked(&mut b[..]).unwrap();
    p.dec_ttl();
    assert_eq!(p.ttl(), 63);
    assert!(p.verify_checksum());
    let incremental = p.checksum();
    p.fill_checksum();
    assert_eq!(p.checksum(), incremental);
}

#[test]
fn quoted_header_is_lenient_about_total_length() {
    // The quote of a 1500-byte datagram: header + 8 bytes.
    let mut b = PACKET;
    b[2..4].copy_from_slice(&1500u16.to_be_bytes());
    assert_eq!(Ipv4Packet::new_checked(&b[..]).err(), Some(WireError::Truncated));
    let q = Ipv4Packet::new_quoted(&b[..]).unwrap();
    assert_eq!((q.total_len(), q.payload()), (1500, &PACKET[20..]));
    b[2..4].copy_from_slice(&3u16.to_be_bytes());
    let q = Ipv4Packet::new_quoted(&b[..]).unwrap();
    assert_eq!(q.payload(), &[] as &[u8], "a total length below the header clamps");
    assert_eq!(Ipv4Packet::new_quoted(&b[..19]).err(), Some(WireError::Truncated));
    b[0] = 0x4f;
    assert_eq!(Ipv4Packet::new_quoted(&b[..]).err(), Some(WireError::Truncated), "IHL 15 needs 60 bytes");
}

#[test]
fn repr_round_trip() {
    let r = Ipv4Repr::parse(&Ipv4Packet::new_checked(&PACKET[..]).unwrap());
    assert_eq!(r.payload_len, 8);
    let mut out = [0xaa; 20];
    assert_eq!(r.emit(&mut out), Ok(20));
    assert_eq!(out, PACKET[..20]);
    assert_eq!(r.emit(&mut out[..19]), Err(WireError::Truncated));
    let big = Ipv4Repr { payload_len: 65516, ..r };
    assert_eq!(big.emit(&mut out), Err(WireError::BadTotalLen));
    let max = Ipv4Repr { payload_len: 65515, dscp: 10, ecn: 2, ..r };
    max.emit(&mut out).unwrap();
    let p = Ipv4Packet::new_unchecked(&out[..]);
    assert_eq!((p.total_len(), p.dscp(), p.ecn()), (65535, 10, 2));
    assert!(p.verify_checksum());
    assert_eq!(r.pseudo_header().fold(), checksum::pseudo_header_v4(r.src, r.dst, IpProtocol::UDP, 8).fold());
}

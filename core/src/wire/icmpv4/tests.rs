//! ICMPv4 echo, errors with their quotes, codes and checksums.

use super::*;
use crate::wire::{IpProtocol, Ipv4Repr};
use core::net::Ipv4Addr;

const ECHO: [u8; 12] = [8, 0, 0x33, 0x37, 0, 1, 0, 1, b'a', b'b', b'c', b'd'];

/// The first 28 bytes of a 1500-byte UDP datagram 10.0.0.1:5000 -> 10.0.0.2:7.
fn quoted_datagram() -> [u8; 28] {
    let mut q = [0u8; 28];
    let ip = Ipv4Repr {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: IpProtocol::UDP,
        ttl: 64,
        ident: 7,
        dont_frag: true,
        payload_len: 1480,
        dscp: 0,
        ecn: 0,
    };
    ip.emit(&mut q).unwrap();
    q[20..28].copy_from_slice(&[0x13, 0x88, 0x00, 0x07, 0x05, 0xc8, 0xab, 0xcd]);
    q
}

#[test]
fn echo_request_fields() {
    let p = Icmpv4Packet::new_checked(&ECHO[..]).unwrap();
    assert_eq!((p.msg_type(), p.code(), p.checksum()), (Icmpv4Type::ECHO_REQUEST, 0, 0x3337));
    assert_eq!((p.echo_ident(), p.echo_seq(), p.data()), (1, 1, &b"abcd"[..]));
    assert!(p.verify_checksum());
    assert_eq!((p.dst_unreachable(), p.time_exceeded()), (None, None));
    assert_eq!(p.inner().err(), Some(WireError::Unsupported), "an echo quotes nothing");
    assert_eq!(Icmpv4Packet::new_checked(&ECHO[..7]).err(), Some(WireError::Truncated));
    let mut bad = ECHO;
    bad[11] ^= 1;
    assert!(!Icmpv4Packet::new_checked(&bad[..]).unwrap().verify_checksum());
}

#[test]
fn echo_repr_round_trip() {
    let p = Icmpv4Packet::new_checked(&ECHO[..]).unwrap();
    let r = Icmpv4Repr::parse(&p).unwrap();
    assert_eq!(r, Icmpv4Repr::EchoRequest { ident: 1, seq: 1, data: b"abcd" });
    let mut out = [0xff; 12];
    assert_eq!(r.emit(&mut out), Ok(12));
    assert_eq!(out, ECHO);
    assert_eq!(r.emit(&mut out[..11]), Err(WireError::Truncated));
    let reply = Icmpv4Repr::EchoReply { ident: 1, seq: 1, data: b"abcd" };
    reply.emit(&mut out).unwrap();
    assert_eq!(&out[..4], &[0, 0, 0x3b, 0x37], "type 0 raises the checksum by 0x0800");
    assert!(!reply.is_empty() && reply.len() == 12);
}

#[test]
fn frag_needed_with_quote() {
    let q = quoted_datagram();
    let r = Icmpv4Repr::DstUnreachable { reason: DstUnreachable::FragNeeded, next_hop_mtu: 1400, quote: &q };
    let mut out = [0u8; 36];
    assert_eq!(r.emit(&mut out), Ok(36));
    assert_eq!(&out[..2], &[3, 4]);
    assert_eq!(&out[4..8], &[0, 0, 0x05, 0x78]);
    let p = Icmpv4Packet::new_checked(&out[..]).unwrap();
    assert!(p.verify_checksum());
    assert_eq!((p.dst_unreachable(), p.next_hop_mtu()), (Some(DstUnreachable::FragNeeded), 1400));
    let inner = p.inner().unwrap();
    assert_eq!(
        (inner.src(), inner.dst(), inner.protocol()),
        (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2), IpProtocol::UDP)
    );
    assert_eq!((inner.total_len(), inner.payload()), (1500, &q[20..28]));
    assert_eq!(Icmpv4Repr::parse(&p), Ok(r));
}

#[test]
fn time_exceeded_and_param_problem() {
    let q = quoted_datagram();
    let mut out = [0u8; 36];
    let te = Icmpv4Repr::TimeExceeded { reason: TimeExceeded::FragReassembly, quote: &q };
    te.emit(&mut out).unwrap();
    let p = Icmpv4Packet::new_checked(&out[..]).unwrap();
    assert_eq!(
        (p.msg_type(), p.code(), p.time_exceeded()),
        (Icmpv4Type::TIME_EXCEEDED, 1, Some(TimeExceeded::FragReassembly))
    );
    assert_eq!(&out[4..8], &[0; 4]);
    assert_eq!(Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&out[..]).unwrap()), Ok(te));
    let pp = Icmpv4Repr::ParamProblem { pointer: 9, quote: &q };
    pp.emit(&mut out).unwrap();
    let p = Icmpv4Packet::new_checked(&out[..]).unwrap();
    assert_eq!((p.msg_type(), p.pointer(), &out[4..8]), (Icmpv4Type::PARAM_PROBLEM, 9, &[9, 0, 0, 0][..]));
    assert!(p.verify_checksum());
    assert_eq!(p.inner().map(|i| i.ttl()), Ok(64));
}

#[test]
fn a_bad_quote_says_why() {
    let mut out = [0u8; 20];
    let r = Icmpv4Repr::DstUnreachable { reason: DstUnreachable::PortUnreachable, next_hop_mtu: 0, quote: &[0x45; 12] };
    r.emit(&mut out).unwrap();
    let p = Icmpv4Packet::new_checked(&out[..]).unwrap();
    assert_eq!(p.inner().err(), Some(WireError::Truncated));
    let mut long = [0u8; 28];
    long[..2].copy_from_slice(&[3, 3]);
    long[8] = 0x65;
    assert_eq!(Icmpv4Packet::new_checked(&long[..]).unwrap().inner().err(), Some(WireError::BadVersion));
    let mut other = ECHO;
    other[0] = 13;
    let p = Icmpv4Packet::new_checked(&other[..]).unwrap();
    assert_eq!(Icmpv4Repr::parse(&p), Err(WireError::Unsupported));
}

#[test]
fn every_code_round_trips() {
    for code in 0..=255u8 {
        assert_eq!(DstUnreachable::from_code(code).code(), code);
        assert_eq!(TimeExceeded::from_code(code).code(), code);
    }
    assert_eq!(DstUnreachable::from_code(4), DstUnreachable::FragNeeded);
    assert_eq!(DstUnreachable::from_code(13), DstUnreachable::AdminProhibited);
    assert_eq!(DstUnreachable::from_code(16), DstUnreachable::Other(16));
    let errors: std::vec::Vec<u8> = (0..=255u8).filter(|&t| Icmpv4Type(t).is_error()).collect();
    assert_eq!(errors, [3, 4, 5, 11, 12]);
}

#[test]
fn error_quote_is_bounded() {
    let big = [7u8; 1500];
    assert_eq!(Icmpv4Repr::error_quote(&big).len(), 548);
    assert_eq!(Icmpv4Repr::error_quote(&big[..100]).len(), 100);
}

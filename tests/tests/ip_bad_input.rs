//! Bad input, table-driven: one host namespace on a simulated NIC, and for
//! each class of malformed or unwanted frame, the frame put on the wire as
//! real traffic arrives. Each case names the counters it must move (the drop
//! reason and the MIB counter Linux moves for it) and the whole counter
//! snapshot must equal the one before plus exactly those; no socket may
//! receive anything, the pool must hold what it held before, and the only
//! frame the host may send is the ICMP error the case names. The table runs
//! with every offload on (the NIC verifies checksums, LRO) and with none
//! (software checksums, GRO), and the pool is completely free after shutdown.
//!
//! ```text
//!  test (side A) 10.0.0.1 02:..:0a  ---- link ----  02:..:0b 10.0.0.2/24 eth0 "host"
//! ```

mod common;

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use common::*;
use etherparse::{Ethernet2Header, IpNumber, Ipv4Header, PacketBuilder};
use skbnet::dev::Features;
use skbnet::netns::{NsId, SmallWorldStorage, World};
use skbnet::socket::{Errno, SockId, SockOpt, SockType};
use skbnet::stats::{DropReason, NetStats};
use skbnet::time::Instant;
use skbnet_nic_sim::link::{NoTap, Side};

/// The host under test.
const US: [u8; 4] = IP_B;
const MAC_US: [u8; 6] = MAC_B;
/// The test, on the other end of the link.
const PEER: [u8; 4] = IP_A;
const MAC_PEER: [u8; 6] = MAC_A;
/// A MAC address nobody on the link has.
const MAC_OTHER: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];
/// The port the host's UDP socket listens on.
const ECHO_PORT: u16 = 7;
/// The port the test sends from.
const PEER_PORT: u16 = 40_000;

const ETH_IPV4: u16 = 0x0800;
const ETH_ARP: u16 = 0x0806;

/// The host's world and what the cases look at.
struct Host<'l> {
    link: &'l RefCell<TestLink>,
    ns: NsId,
    udp: SockId,
    ping: SockId,
    now: Instant,
}

/// Build the host, let the peer introduce itself by ARP (so ICMP errors
/// need no resolution), run `f`, shut down: the pool must be completely free.
fn with_host(offloads: Features, f: impl FnOnce(&mut World<'_>, &mut Host<'_>)) {
    let mut mem = storage();
    let link = link(NoTap);
    let mut dev = nic(MAC_US, &link, Side::B, |c| c.offloads = offloads);
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut w = World::new(&mut ws, mem.pool(), [5; 16]).unwrap();
    let ns = w.add_netns("host").unwrap();
    let eth0 = w.add_device(ns, "eth0", &mut *dev).unwrap();
    w.set_link_up(eth0, true).unwrap();
    w.add_addr(eth0, US.into(), 24).unwrap();
    let udp = w.socket(ns, SockType::Udp).unwrap();
    w.bind(udp, sa(Ipv4Addr::UNSPECIFIED, ECHO_PORT)).unwrap();
    let ping = w.socket(ns, SockType::Ping).unwrap();
    w.bind(ping, sa(Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let mut h = Host { link: &link, ns, udp, ping, now: Instant::ZERO };
    let out = inject(&mut w, &mut h, &[eth(MAC_US, ETH_ARP, &arp(1, MAC_PEER, PEER, [0; 6], US))]);
    assert_eq!(out, [eth_from_us(MAC_PEER, ETH_ARP, &arp(2, MAC_US, US, MAC_PEER, PEER))], "the ARP reply");
    f(&mut w, &mut h);
    w.close(udp).unwrap();
    w.close(ping).unwrap();
    w.shutdown();
    let st = w.pool_ref().stats();
    assert!(st.is_idle(), "pool not free after shutdown: {st:?}");
    assert_eq!(st.bad_handles, 0);
}

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

/// Put `frames` on the wire towards the host, let it work for a while (long
/// enough to send what it answers and reclaim the transmit ring), and return
/// every frame it sent meanwhile.
fn inject(w: &mut World<'_>, h: &mut Host<'_>, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    for f in frames {
        h.link.borrow_mut().send(h.now, Side::A, f);
    }
    for _ in 0..5 {
        w.poll(h.now);
        h.now += core::time::Duration::from_micros(100);
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 1514];
    while let Some(n) = h.link.borrow_mut().recv(h.now, Side::A, &mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

// ---- Frame builders: etherparse and plain bytes, not skbnet's emitters. ----

/// The Internet checksum (RFC 1071), written out again for the tests.
fn inet_csum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame from `src`.
fn eth_raw(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    [&dst[..], &src, &ethertype.to_be_bytes(), payload].concat()
}

/// A frame from the peer, padded to the 60-byte minimum as its NIC pads.
fn eth(dst: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = eth_raw(dst, MAC_PEER, ethertype, payload);
    f.resize(f.len().max(60), 0);
    f
}

/// A frame from the host (the simulated NIC sends short frames unpadded).
fn eth_from_us(dst: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    eth_raw(dst, MAC_US, ethertype, payload)
}

/// An IPv4 packet in a frame to the host's MAC.
fn to_us(ip: &[u8]) -> Vec<u8> {
    eth(MAC_US, ETH_IPV4, ip)
}

/// Ethernet/IPv4 ARP.
fn arp(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    [&[0, 1, 8, 0, 6, 4][..], &op.to_be_bytes(), &sha, &spa, &tha, &tpa].concat()
}

/// A UDP datagram from `src`:40000 to `dst`:`dport`, as an IPv4 packet.
fn udp(src: [u8; 4], dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    PacketBuilder::ipv4(src, dst, 64).udp(PEER_PORT, dport).write(&mut p, payload).unwrap();
    p
}

/// A UDP datagram from the peer to the host's echo port.
fn udp_to_us(payload: &[u8]) -> Vec<u8> {
    udp(PEER, US, ECHO_PORT, payload)
}

/// An echo request from the peer, as an IPv4 packet.
fn echo_request(ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    PacketBuilder::ipv4(PEER, US, 64).icmpv4_echo_request(ident, seq).write(&mut p, data).unwrap();
    p
}

/// An echo reply from the peer, as an IPv4 packet.
fn echo_reply(ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    PacketBuilder::ipv4(PEER, US, 64).icmpv4_echo_reply(ident, seq).write(&mut p, data).unwrap();
    p
}

/// An ICMP message of any type from the peer (four zero bytes after the
/// checksum, then `data`), as an IPv4 packet.
fn icmp_raw(ty: u8, code: u8, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    PacketBuilder::ipv4(PEER, US, 64).icmpv4_raw(ty, code, [0; 4]).write(&mut p, data).unwrap();
    p
}

/// Any protocol's payload from the peer, as an IPv4 packet.
fn ip_proto(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = Ipv4Header::new(payload.len() as u16, 64, IpNumber(proto), PEER, US).unwrap();
    h.header_checksum = h.calc_header_checksum();
    let mut p = h.to_bytes().to_vec();
    p.extend_from_slice(payload);
    p
}

/// `ip` with `edit` applied to it, then its header checksum made right
/// again (over the header length it now claims, as far as the bytes go).
fn edited(mut ip: Vec<u8>, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    edit(&mut ip);
    let ihl = (usize::from(ip[0] & 0x0f) * 4).clamp(20, ip.len());
    ip[10..12].fill(0);
    let c = inet_csum(&ip[..ihl]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip
}

/// `ip` with IPv4 options `opts` (a multiple of 4 bytes) after its header.
fn with_options(ip: &[u8], opts: &[u8]) -> Vec<u8> {
    let mut p = [&ip[..20], opts, &ip[20..]].concat();
    edited(std::mem::take(&mut p), |p| {
        p[0] = 0x40 | ((20 + opts.len()) / 4) as u8;
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
    })
}

/// Set the flags and fragment offset (in 8-byte units) of a packet.
fn fragment(ip: Vec<u8>, more: bool, offset_units: u16) -> Vec<u8> {
    edited(ip, |p| {
        let v = offset_units | if more { 0x2000 } else { 0 };
        p[6..8].copy_from_slice(&v.to_be_bytes());
        p[4..6].copy_from_slice(&0x4242u16.to_be_bytes());
    })
}

/// An IPv4 packet's total length, from its header.
fn total_len(ip: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([ip[2], ip[3]]))
}

// ---- Expected counter changes. ----

/// What IPv4 input counts for every frame that reaches it.
fn ip_in(s: &mut NetStats, frames: &[Vec<u8>]) {
    for f in frames {
        s.ip.InReceives += 1;
        // Counted before the padding is trimmed, as Linux counts skb->len.
        s.ip.InOctets += (f.len() - 14) as u64;
    }
}

/// What a header error counts: IPv4 input, `InHdrErrors`, and the reason.
fn header_error(s: &mut NetStats, frames: &[Vec<u8>], why: DropReason) {
    ip_in(s, frames);
    s.ip.InHdrErrors += 1;
    s.drops.count(why);
}

/// What sending one destination unreachable about `frame` counts.
fn unreach_out(s: &mut NetStats, frame: &[u8]) {
    s.icmp.OutMsgs += 1;
    s.icmp.OutDestUnreachs += 1;
    s.ip.OutRequests += 1;
    s.ip.OutOctets += reply_len(frame) as u64;
}

/// The IPv4 length of the error about `frame`: headers and the quote.
fn reply_len(frame: &[u8]) -> usize {
    20 + 8 + total_len(&frame[14..]).min(576 - 28)
}

/// Every counter that differs between two snapshots, by Linux name.
fn changes(before: &NetStats, after: &NetStats) -> Vec<String> {
    let pairs = |a: Vec<(&'static str, u64)>, b: Vec<(&'static str, u64)>, line: &str| {
        a.into_iter()
            .zip(b)
            .filter(|(x, y)| x.1 != y.1)
            .map(|(x, y)| format!("{line}{} {:+}", x.0, y.1 as i64 - x.1 as i64))
            .collect::<Vec<_>>()
    };
    let mut out = pairs(before.ip.iter().collect(), after.ip.iter().collect(), "Ip");
    out.extend(pairs(before.icmp.iter().collect(), after.icmp.iter().collect(), "Icmp"));
    out.extend(pairs(before.udp.iter().collect(), after.udp.iter().collect(), "Udp"));
    out.extend(pairs(before.tcp.iter().collect(), after.tcp.iter().collect(), "Tcp"));
    out.extend(pairs(before.tcp_ext.iter().collect(), after.tcp_ext.iter().collect(), "TcpExt"));
    for r in DropReason::ALL {
        let (x, y) = (before.drops.get(r), after.drops.get(r));
        if x != y {
            out.push(format!("drop {r:?} {:+}", y as i64 - x as i64));
        }
    }
    out
}

/// One class of bad input.
struct Case {
    name: &'static str,
    /// What arrives, in order.
    frames: Vec<Vec<u8>>,
    /// The counters it moves, applied to the snapshot before.
    counts: fn(&mut NetStats, &[Vec<u8>]),
    /// The code of the ICMP destination unreachable the host must send
    /// about the first frame, if any.
    unreachable: Option<u8>,
}

fn case(name: &'static str, frames: Vec<Vec<u8>>, counts: fn(&mut NetStats, &[Vec<u8>])) -> Case {
    Case { name, frames, counts, unreachable: None }
}

/// Every class of bad input.
fn table() -> Vec<Case> {
    let ok = || udp_to_us(b"payload!");
    let from = |src: [u8; 4]| to_us(&udp(src, US, ECHO_PORT, b"martian"));
    // To the port a socket listens on at every address: without the check,
    // 127.0.0.1 from the wire would reach it (the route to it is local).
    let to = |dst: [u8; 4]| to_us(&udp(PEER, dst, ECHO_PORT, b"martian"));
    let mut ip_short = to_us(&ok());
    ip_short.truncate(14 + 12);
    let mut runt = to_us(&ok());
    runt.truncate(10);
    let mut vlan = [&MAC_US[..], &MAC_PEER, &[0x81, 0x00, 0x00, 0x64, 0x08, 0x00]].concat();
    vlan.extend_from_slice(&udp_to_us(b"tagged"));
    let mut bad_icmp = echo_request(1, 1, b"abcdefgh");
    bad_icmp[22] ^= 0xff;
    let bad_udp_csum = edited(udp_to_us(b"payload!"), |p| {
        let c = u16::from_be_bytes([p[26], p[27]]) ^ 0x0101;
        p[26..28].copy_from_slice(&c.to_be_bytes());
    });
    let short_icmp = {
        let c = inet_csum(&[8, 0, 0, 0]).to_be_bytes();
        ip_proto(1, &[8, 0, c[0], c[1]])
    };
    let not_ours = icmp_raw(3, 3, &udp([10, 0, 0, 7], PEER, 53, b"")[..28]);
    vec![
        case("truncated IPv4 header", vec![ip_short], |s, f| header_error(s, f, DropReason::BadHeaderLen)),
        case("version 6 in an IPv4 frame", vec![to_us(&edited(ok(), |p| p[0] = 0x65))], |s, f| {
            header_error(s, f, DropReason::BadVersion)
        }),
        case("IHL below 5", vec![to_us(&edited(ok(), |p| p[0] = 0x44))], |s, f| {
            header_error(s, f, DropReason::BadHeaderLen)
        }),
        case("IHL past the packet", vec![to_us(&edited(ok(), |p| p[0] = 0x4f))], |s, f| {
            header_error(s, f, DropReason::BadHeaderLen)
        }),
        case(
            "bad header checksum",
            vec![to_us(&{
                let mut p = ok();
                p[10] ^= 0xff;
                p
            })],
            |s, f| {
                s.ip.InCsumErrors += 1;
                header_error(s, f, DropReason::BadIpChecksum)
            },
        ),
        case(
            "total length below the header",
            vec![to_us(&edited(ok(), |p| p[2..4].copy_from_slice(&19u16.to_be_bytes())))],
            |s, f| header_error(s, f, DropReason::BadTotalLen),
        ),
        case(
            "total length past the frame",
            vec![to_us(&edited(ok(), |p| p[2..4].copy_from_slice(&1000u16.to_be_bytes())))],
            |s, f| {
                ip_in(s, f);
                s.ip.InTruncatedPkts += 1;
                s.drops.count(DropReason::Truncated);
            },
        ),
        case("martian source: loopback", vec![from([127, 0, 0, 1])], |s, f| {
            header_error(s, f, DropReason::MartianLoopback)
        }),
        case("martian source: class E", vec![from([240, 0, 0, 1])], |s, f| {
            header_error(s, f, DropReason::MartianClassE)
        }),
        case("martian source: limited broadcast", vec![from([255, 255, 255, 255])], |s, f| {
            header_error(s, f, DropReason::MartianBroadcast)
        }),
        case("martian source: the subnet's broadcast", vec![from([10, 0, 0, 255])], |s, f| {
            header_error(s, f, DropReason::MartianBroadcast)
        }),
        case("martian source: multicast", vec![from([224, 0, 0, 5])], |s, f| {
            header_error(s, f, DropReason::MartianMulticast)
        }),
        case("martian source: 0.0.0.0 to a unicast address", vec![from([0, 0, 0, 0])], |s, f| {
            header_error(s, f, DropReason::MartianZero)
        }),
        case("martian source: our own address, from the wire", vec![from(US)], |s, f| {
            header_error(s, f, DropReason::MartianLocal)
        }),
        case(
            "loose source route option",
            vec![to_us(&with_options(&udp_to_us(b"route me"), &[131, 7, 4, 10, 0, 0, 1, 0]))],
            |s, f| {
                ip_in(s, f);
                s.drops.count(DropReason::SourceRoute);
            },
        ),
        case("martian source: 0.1.2.3, on \"this network\"", vec![from([0, 1, 2, 3])], |s, f| {
            header_error(s, f, DropReason::MartianZero)
        }),
        case("martian destination: loopback, from the wire", vec![to(Ipv4Addr::LOCALHOST.octets())], |s, f| {
            ip_in(s, f);
            s.ip.InAddrErrors += 1;
            s.drops.count(DropReason::MartianDestination);
        }),
        case("martian destination: 0.0.0.5", vec![to([0, 0, 0, 5])], |s, f| {
            ip_in(s, f);
            s.ip.InAddrErrors += 1;
            s.drops.count(DropReason::MartianDestination);
        }),
        case(
            "destination on our subnet but not ours, forwarding off",
            vec![to_us(&udp(PEER, [10, 0, 0, 99], 7, b"x"))],
            |s, f| {
                ip_in(s, f);
                s.ip.InAddrErrors += 1;
                s.drops.count(DropReason::NotForUs);
            },
        ),
        case("destination with no route, forwarding off", vec![to_us(&udp(PEER, [192, 0, 2, 1], 7, b"x"))], |s, f| {
            ip_in(s, f);
            s.ip.InAddrErrors += 1;
            s.drops.count(DropReason::NotForUs);
        }),
        case(
            "fragment whose length is not a multiple of 8",
            vec![to_us(&fragment(udp_to_us(b"four"), true, 0))],
            |s, f| {
                ip_in(s, f);
                s.ip.ReasmReqds += 1;
                s.ip.ReasmFails += 1;
                s.drops.count(DropReason::BadTotalLen);
            },
        ),
        case(
            "overlapping fragments",
            vec![to_us(&fragment(ip_proto(17, &[1; 16]), true, 0)), to_us(&fragment(ip_proto(17, &[2; 16]), true, 1))],
            |s, f| {
                ip_in(s, f);
                s.ip.ReasmReqds += 2;
                s.ip.ReasmFails += 1;
                s.drops.count(DropReason::ReasmOverlap);
            },
        ),
        case(
            "fragment reaching past 65535 bytes",
            vec![to_us(&fragment(ip_proto(17, &[3; 16]), false, 8191))],
            |s, f| {
                ip_in(s, f);
                s.ip.ReasmReqds += 1;
                s.ip.ReasmFails += 1;
                s.drops.count(DropReason::ReasmTooBig);
            },
        ),
        case(
            "UDP length field too small",
            vec![to_us(&edited(ok(), |p| p[24..26].copy_from_slice(&7u16.to_be_bytes())))],
            |s, f| {
                ip_in(s, f);
                s.ip.InDelivers += 1;
                s.udp.InErrors += 1;
                s.drops.count(DropReason::BadUdpLength);
            },
        ),
        case(
            "UDP length field too large",
            vec![to_us(&edited(ok(), |p| p[24..26].copy_from_slice(&100u16.to_be_bytes())))],
            |s, f| {
                ip_in(s, f);
                s.ip.InDelivers += 1;
                s.udp.InErrors += 1;
                s.drops.count(DropReason::BadUdpLength);
            },
        ),
        case("bad UDP checksum", vec![to_us(&bad_udp_csum)], |s, f| {
            ip_in(s, f);
            s.ip.InDelivers += 1;
            s.udp.InErrors += 1;
            s.udp.InCsumErrors += 1;
            s.drops.count(DropReason::BadL4Checksum);
        }),
        Case {
            unreachable: Some(3),
            ..case("UDP to a closed port", vec![to_us(&udp(PEER, US, 9, b"discard me"))], |s, f| {
                ip_in(s, f);
                s.ip.InDelivers += 1;
                s.udp.NoPorts += 1;
                s.drops.count(DropReason::NoSocket);
                unreach_out(s, &f[0]);
            })
        },
        case("bad ICMP checksum", vec![to_us(&bad_icmp)], |s, f| {
            ip_in(s, f);
            s.ip.InDelivers += 1;
            s.icmp.InMsgs += 1;
            s.icmp.InErrors += 1;
            s.icmp.InCsumErrors += 1;
            s.drops.count(DropReason::BadL4Checksum);
        }),
        case("truncated ICMP", vec![to_us(&short_icmp)], |s, f| {
            ip_in(s, f);
            s.ip.InDelivers += 1;
            s.icmp.InMsgs += 1;
            s.icmp.InErrors += 1;
            s.drops.count(DropReason::BadIcmp);
        }),
        case("echo reply nobody asked for", vec![to_us(&echo_reply(0x4321, 1, b"unasked!"))], |s, f| {
            ip_in(s, f);
            s.ip.InDelivers += 1;
            s.icmp.InMsgs += 1;
            s.icmp.InEchoReps += 1;
            s.drops.count(DropReason::NoSocket);
        }),
        case("ICMP message of an unknown type", vec![to_us(&icmp_raw(42, 0, b"what is this"))], |s, f| {
            ip_in(s, f);
            s.ip.InDelivers += 1;
            s.icmp.InMsgs += 1;
            s.icmp.InErrors += 1;
            s.drops.count(DropReason::BadIcmp);
        }),
        case("ICMP error about a packet we never sent", vec![to_us(&not_ours)], |s, f| {
            ip_in(s, f);
            s.ip.InDelivers += 1;
            s.icmp.InMsgs += 1;
            s.icmp.InDestUnreachs += 1;
            s.drops.count(DropReason::IcmpNotOurs);
        }),
        Case {
            unreachable: Some(2),
            ..case("unknown IP protocol", vec![to_us(&ip_proto(253, b"experimental"))], |s, f| {
                ip_in(s, f);
                s.ip.InUnknownProtos += 1;
                s.drops.count(DropReason::UnknownProtocol);
                unreach_out(s, &f[0]);
            })
        },
        case(
            "UDP to a closed port, our address in a link-layer broadcast frame",
            vec![eth([0xff; 6], ETH_IPV4, &udp(PEER, US, 9, b"who is there?"))],
            |s, f| {
                // Delivered as unicast (one socket's, so NoPorts), but no
                // error answers a link-layer broadcast (RFC 1122 §3.2.2).
                ip_in(s, f);
                s.ip.InDelivers += 1;
                s.udp.NoPorts += 1;
                s.drops.count(DropReason::NoSocket);
            },
        ),
        case(
            "UDP to a closed port at the subnet's broadcast, in a unicast frame",
            vec![to_us(&udp(PEER, [10, 0, 0, 255], 9, b"anyone?"))],
            |s, f| {
                ip_in(s, f);
                s.ip.InBcastPkts += 1;
                s.ip.InDelivers += 1;
                s.udp.IgnoredMulti += 1;
                s.drops.count(DropReason::NoSocket);
            },
        ),
        case(
            "unknown IP protocol at the subnet's broadcast, in a unicast frame",
            vec![to_us(&edited(ip_proto(253, b"experimental"), |p| p[16..20].copy_from_slice(&[10, 0, 0, 255])))],
            |s, f| {
                ip_in(s, f);
                s.ip.InBcastPkts += 1;
                s.ip.InUnknownProtos += 1;
                s.drops.count(DropReason::UnknownProtocol);
            },
        ),
        case(
            "ARP for a hardware type other than Ethernet",
            vec![eth(MAC_US, ETH_ARP, &{
                let mut a = arp(1, MAC_PEER, PEER, [0; 6], US);
                a[1] = 6;
                a
            })],
            |s, _| s.drops.count(DropReason::BadArp),
        ),
        case(
            "ARP from a multicast hardware address",
            vec![eth(MAC_US, ETH_ARP, &arp(1, [1, 0, 0x5e, 0, 0, 1], PEER, [0; 6], US))],
            |s, _| s.drops.count(DropReason::BadArp),
        ),
        case(
            "ARP claiming our own address",
            vec![eth([0xff; 6], ETH_ARP, &arp(1, MAC_PEER, US, [0; 6], US))],
            |s, _| s.drops.count(DropReason::BadArp),
        ),
        case(
            "ARP cut short",
            vec![{
                let mut f = [&MAC_US[..], &MAC_PEER, &ETH_ARP.to_be_bytes()].concat();
                f.extend_from_slice(&arp(1, MAC_PEER, PEER, [0; 6], US)[..20]);
                f
            }],
            |s, _| s.drops.count(DropReason::BadArp),
        ),
        case(
            "ARP with an opcode neither request nor reply",
            vec![eth([0xff; 6], ETH_ARP, &arp(3, MAC_PEER, PEER, [0; 6], US))],
            |s, _| s.drops.count(DropReason::BadArp),
        ),
        case(
            "ARP from a loopback sender",
            vec![eth([0xff; 6], ETH_ARP, &arp(1, MAC_PEER, [127, 0, 0, 1], [0; 6], US))],
            |s, _| s.drops.count(DropReason::BadArp),
        ),
        case(
            "ARP for a loopback target",
            vec![eth([0xff; 6], ETH_ARP, &arp(1, MAC_PEER, PEER, [0; 6], [127, 0, 0, 1]))],
            |s, _| s.drops.count(DropReason::BadArp),
        ),
        case(
            "unasked ARP reply from outside our subnet",
            vec![eth(MAC_US, ETH_ARP, &arp(2, MAC_PEER, [192, 168, 7, 7], MAC_US, US))],
            |_, _| {},
        ),
        case("IPv4 frame for another MAC", vec![eth(MAC_OTHER, ETH_IPV4, &ok())], |s, _| {
            s.drops.count(DropReason::OtherHost)
        }),
        case(
            "ARP reply for another MAC",
            vec![eth(MAC_OTHER, ETH_ARP, &arp(2, MAC_PEER, PEER, MAC_OTHER, [10, 0, 0, 3]))],
            |s, _| s.drops.count(DropReason::OtherHost),
        ),
        case("unknown EtherType (IPv6)", vec![eth(MAC_US, 0x86dd, &[0x60, 0, 0, 0, 0, 0, 59, 64])], |s, _| {
            s.drops.count(DropReason::UnknownEtherType)
        }),
        case("VLAN-tagged frame", vec![vlan], |s, _| s.drops.count(DropReason::UnknownEtherType)),
        case("runt Ethernet frame", vec![runt], |s, _| s.drops.count(DropReason::Truncated)),
    ]
}

/// Check that `reply` is the host's destination unreachable (`code`) about
/// `frame`, quoting its IPv4 header and data as RFC 1812 §4.3.2.3 allows.
fn check_unreachable(reply: &[u8], code: u8, frame: &[u8]) {
    let (e, rest) = Ethernet2Header::from_slice(reply).unwrap();
    assert_eq!((e.source, e.destination, e.ether_type.0), (MAC_US, MAC_PEER, ETH_IPV4));
    let (ip, icmp) = Ipv4Header::from_slice(rest).unwrap();
    assert_eq!(ip.calc_header_checksum(), ip.header_checksum);
    assert_eq!((ip.source, ip.destination, ip.protocol), (US, PEER, IpNumber::ICMP));
    assert_eq!(usize::from(ip.total_len), reply_len(frame));
    let icmp = &icmp[..usize::from(ip.total_len) - 20];
    assert_eq!(inet_csum(icmp), 0, "ICMP checksum");
    assert_eq!(&icmp[..8], &[3, code, icmp[2], icmp[3], 0, 0, 0, 0]);
    let offending = &frame[14..14 + total_len(&frame[14..])];
    assert_eq!(&icmp[8..], &offending[..icmp.len() - 8], "the quote is the offending packet");
}

/// Run one case on the host and check everything it may and may not change.
fn run_case(w: &mut World<'_>, h: &mut Host<'_>, c: &Case) {
    let before = *w.stats(h.ns).unwrap();
    let pool = w.pool_ref().stats();
    let out = inject(w, h, &c.frames);
    let after = *w.stats(h.ns).unwrap();
    let mut expected = before;
    (c.counts)(&mut expected, &c.frames);
    assert_eq!(changes(&before, &after), changes(&before, &expected), "{}: counters", c.name);
    assert_eq!(after, expected, "{}: counters", c.name);
    match c.unreachable {
        None => assert_eq!(out, Vec::<Vec<u8>>::new(), "{}: the host sends nothing", c.name),
        Some(code) => {
            assert_eq!(out.len(), 1, "{}: one ICMP error", c.name);
            check_unreachable(&out[0], code, &c.frames[0]);
        }
    }
    for s in [h.udp, h.ping] {
        let ev = w.events(s).unwrap();
        assert!(!ev.readable && !ev.error, "{}: a socket heard something: {ev:?}", c.name);
    }
    let now = w.pool_ref().stats();
    assert_eq!((now.heads_in_use, now.bufs_in_use), (pool.heads_in_use, pool.bufs_in_use), "{}: pool", c.name);
}

fn run_table(offloads: Features) {
    with_host(offloads, |w, h| {
        for c in table() {
            run_case(w, h, &c);
        }
    });
}

#[test]
fn every_bad_input_is_dropped_and_counted_with_offloads() {
    run_table(Features::ALL);
}

#[test]
fn every_bad_input_is_dropped_and_counted_without_offloads() {
    run_table(Features::NONE);
}

/// The harness sees what it must not see in the table: here a datagram is
/// delivered and a ping answered, and the counters say so.
#[test]
fn well_formed_traffic_is_delivered_and_answered() {
    with_host(Features::NONE, |w, h| {
        let before = *w.stats(h.ns).unwrap();
        let frames = [to_us(&udp_to_us(b"payload!"))];
        assert!(inject(w, h, &frames).is_empty());
        let mut expected = before;
        ip_in(&mut expected, &frames);
        expected.ip.InDelivers += 1;
        expected.udp.InDatagrams += 1;
        assert_eq!(changes(&before, w.stats(h.ns).unwrap()), changes(&before, &expected));
        let mut buf = [0u8; 64];
        let m = w.recvmsg(h.udp, &mut buf).unwrap();
        assert_eq!((&buf[..m.len], m.from), (&b"payload!"[..], SocketAddrV4::new(PEER.into(), PEER_PORT)));
        assert_eq!(w.recvmsg(h.udp, &mut buf), Err(Errno::WouldBlock));

        let request = echo_request(9, 1, b"abcdefgh");
        let out = inject(w, h, &[to_us(&request)]);
        assert_eq!(out.len(), 1, "one echo reply");
        let mut reply = request.clone();
        reply[12..16].copy_from_slice(&US);
        reply[16..20].copy_from_slice(&PEER);
        let got = &out[0][14..14 + total_len(&out[0][14..])];
        assert_eq!((got[9], got[20], &got[24..]), (1, 0, &reply[24..]), "echo reply with the request's data");
    });
}

/// Regression: a frame addressed to another MAC was counted in
/// IpInReceives and IpInOctets before being dropped; Linux drops
/// `PACKET_OTHERHOST` before it counts anything (`ip_rcv_core`).
#[test]
fn frames_for_another_mac_are_not_counted_as_ip_input() {
    with_host(Features::NONE, |w, h| {
        let c = table().into_iter().find(|c| c.name == "IPv4 frame for another MAC").unwrap();
        run_case(w, h, &c);
        assert_eq!(w.stats(h.ns).unwrap().ip.InReceives, 0);
    });
}

/// Regression: an IPv4 packet shorter than the minimal header was counted in
/// InTruncatedPkts (meant for packets shorter than their total length);
/// Linux counts it in InHdrErrors (`pskb_may_pull` failing in `ip_rcv_core`).
#[test]
fn a_truncated_ipv4_header_is_a_header_error() {
    with_host(Features::NONE, |w, h| {
        let c = table().into_iter().find(|c| c.name == "truncated IPv4 header").unwrap();
        run_case(w, h, &c);
        let ip = w.stats(h.ns).unwrap().ip;
        assert_eq!((ip.InHdrErrors, ip.InTruncatedPkts), (1, 0));
    });
}

/// Regression: an echo reply that no ping socket waited for was freed
/// without a drop reason; every dropped packet is counted (Linux's
/// `ping_rcv` drops it with `SKB_DROP_REASON_NO_SOCKET`).
#[test]
fn an_unsolicited_echo_reply_is_counted_as_dropped() {
    with_host(Features::NONE, |w, h| {
        let c = table().into_iter().find(|c| c.name == "echo reply nobody asked for").unwrap();
        run_case(w, h, &c);
        assert_eq!(w.stats(h.ns).unwrap().drops.get(DropReason::NoSocket), 1);
    });
}

/// Regression: an ICMP message of a type Linux does not know (above 18) was
/// freed without a trace; Linux counts it in IcmpInErrors (`icmp_rcv`).
#[test]
fn an_icmp_message_of_unknown_type_is_an_error() {
    with_host(Features::NONE, |w, h| {
        let c = table().into_iter().find(|c| c.name == "ICMP message of an unknown type").unwrap();
        run_case(w, h, &c);
        let st = w.stats(h.ns).unwrap();
        assert_eq!((st.icmp.InErrors, st.drops.get(DropReason::BadIcmp)), (1, 1));
    });
}

#[test]
fn a_broadcast_reaches_every_socket_on_its_port_however_many() {
    // More sockets than the delivery gathers at once (16): each still gets
    // its copy, and nothing is counted as dropped.
    with_host(Features::ALL, |w, h| {
        let socks: Vec<SockId> = (0..20)
            .map(|_| {
                let s = w.socket(h.ns, SockType::Udp).unwrap();
                w.setsockopt(s, SockOpt::ReuseAddr(true)).unwrap();
                w.bind(s, sa(Ipv4Addr::UNSPECIFIED, 6000)).unwrap();
                s
            })
            .collect();
        let before = *w.stats(h.ns).unwrap();
        inject(w, h, &[eth([0xff; 6], ETH_IPV4, &udp(PEER, [10, 0, 0, 255], 6000, b"to everyone"))]);
        let mut buf = [0u8; 64];
        for (i, &s) in socks.iter().enumerate() {
            let m = w.recvmsg(s, &mut buf).unwrap_or_else(|e| panic!("socket {i} got nothing: {e:?}"));
            assert_eq!(&buf[..m.len], b"to everyone");
            w.close(s).unwrap();
        }
        let after = w.stats(h.ns).unwrap();
        assert_eq!(after.udp.InDatagrams - before.udp.InDatagrams, 20);
        assert_eq!(after.drops.total(), before.drops.total(), "{:?}", after.drops);
    });
}

/// Regression: a ping socket's full receive buffer was counted as UDP
/// errors (UdpRcvbufErrors, UdpInErrors).
#[test]
fn a_full_ping_socket_counts_no_udp_error() {
    with_host(Features::ALL, |w, h| {
        w.setsockopt(h.ping, SockOpt::RcvBuf(4096)).unwrap();
        let req = echo_request(0, 1, &[0; 8]);
        w.sendmsg(h.ping, &req[20..], Some(sa(PEER.into(), 0))).unwrap();
        inject(w, h, &[]);
        let ident = w.local_addr(h.ping).unwrap().port();
        let before = *w.stats(h.ns).unwrap();
        let replies: Vec<Vec<u8>> = (1..=6).map(|seq| to_us(&echo_reply(ident, seq, &[0; 1000]))).collect();
        inject(w, h, &replies);
        let after = *w.stats(h.ns).unwrap();
        assert!(after.drops.get(DropReason::RcvBufFull) > before.drops.get(DropReason::RcvBufFull));
        assert_eq!((after.udp.InErrors, after.udp.RcvbufErrors), (before.udp.InErrors, before.udp.RcvbufErrors));
        let mut buf = [0u8; 2048];
        while w.recvmsg(h.ping, &mut buf).is_ok() {}
    });
}

/// Regression: an exact duplicate of a fragment counted a reassembly
/// failure although its datagram went on to reassemble.
#[test]
fn a_duplicate_fragment_is_dropped_without_failing_its_datagram() {
    with_host(Features::ALL, |w, h| {
        let whole = echo_request(9, 1, &[5; 16]);
        let part = |bytes: std::ops::Range<usize>, more: bool, offset_units: u16| {
            let mut p = whole[..20].to_vec();
            p.extend_from_slice(&whole[20 + bytes.start..20 + bytes.end]);
            let len = p.len() as u16;
            p[2..4].copy_from_slice(&len.to_be_bytes());
            to_us(&fragment(p, more, offset_units))
        };
        let first = part(0..16, true, 0);
        let before = *w.stats(h.ns).unwrap();
        let out = inject(w, h, &[first.clone(), first, part(16..24, false, 2)]);
        let after = *w.stats(h.ns).unwrap();
        assert_eq!(out.len(), 1, "the reassembled echo request is answered");
        assert_eq!(after.ip.ReasmReqds - before.ip.ReasmReqds, 3);
        assert_eq!(after.ip.ReasmOKs - before.ip.ReasmOKs, 1);
        assert_eq!(after.ip.ReasmFails, before.ip.ReasmFails);
        let dups = |s: &NetStats| s.drops.get(DropReason::ReasmDuplicate);
        assert_eq!(dups(&after) - dups(&before), 1);
    });
}

/// RFC 1122 §3.2.1.3(g): a loopback source never goes out on the wire. A
/// socket bound to 127.0.0.1 cannot send to, or connect to, another host
/// (Linux refuses the route with EINVAL); loopback itself still works.
#[test]
fn a_loopback_source_never_leaves_the_host() {
    with_host(Features::ALL, |w, h| {
        let lo = sa(Ipv4Addr::LOCALHOST, 5000);
        let u = w.socket(h.ns, SockType::Udp).unwrap();
        w.bind(u, lo).unwrap();
        assert_eq!(w.sendmsg(u, b"out", Some(sa(PEER.into(), 9))), Err(Errno::InvalidArgument));
        let t = w.socket(h.ns, SockType::Tcp).unwrap();
        w.bind(t, sa(Ipv4Addr::LOCALHOST, 5001)).unwrap();
        assert_eq!(w.connect(t, sa(PEER.into(), 80)), Err(Errno::InvalidArgument));
        assert_eq!(inject(w, h, &[]), Vec::<Vec<u8>>::new(), "nothing reached the wire");
        // The same socket still reaches the host's own addresses.
        w.sendmsg(u, b"in", Some(sa(Ipv4Addr::LOCALHOST, ECHO_PORT))).unwrap();
        inject(w, h, &[]);
        let mut buf = [0u8; 8];
        let m = w.recvmsg(h.udp, &mut buf).unwrap();
        assert_eq!((&buf[..m.len], m.from), (&b"in"[..], SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5000)));
        w.close(u).unwrap();
        w.close(t).unwrap();
    });
}

/// The ICMP error bucket (`icmp_msgs_per_sec`, `icmp_msgs_burst`) keeps the
/// part of a token already earned: errors asked for faster than one token
/// each still go out at the set rate, not at a rate cut by the rounding.
#[test]
fn the_icmp_rate_limit_keeps_the_fraction_of_a_token() {
    with_host(Features::ALL, |w, h| {
        let mut sc = w.sysctl(h.ns).unwrap();
        (sc.icmp_msgs_per_sec, sc.icmp_msgs_burst) = (1000, 2);
        w.set_sysctl(h.ns, sc).unwrap();
        let closed = to_us(&udp(PEER, US, 9, b"x"));
        let t0 = h.now + core::time::Duration::from_millis(50);
        // (time after t0 in microseconds, errors asked for, errors sent)
        let steps = [(0, 3, 2), (1_500, 1, 1), (2_200, 1, 1), (2_400, 1, 0), (3_300, 1, 1)];
        for (at, asked, sent) in steps {
            h.now = t0 + core::time::Duration::from_micros(at);
            let before = *w.stats(h.ns).unwrap();
            let out = inject(w, h, &vec![closed.clone(); asked]);
            let after = *w.stats(h.ns).unwrap();
            assert_eq!(out.len(), sent, "at t0 + {at} us");
            assert_eq!(after.icmp.OutRateLimitGlobal - before.icmp.OutRateLimitGlobal, (asked - sent) as u64);
        }
    });
}

/// A gateway outside every subnet of the interface, reached through an
/// on-link route (`ip route add 192.168.7.1 dev eth0; ip route add default
/// via 192.168.7.1`, as hosts with /32 addresses are set up): its ARP reply
/// is learned and what waited for it goes out. Its requests are answered too.
#[test]
fn an_on_link_gateway_outside_our_subnet_is_resolved() {
    use skbnet::ip::fib::Route;
    const GW: [u8; 4] = [192, 168, 7, 1];
    with_host(Features::ALL, |w, h| {
        let eth0 = w.iface_by_name(h.ns, "eth0").unwrap();
        w.add_route(h.ns, Route::unicast(GW.into(), 32, None, eth0)).unwrap();
        w.add_route(h.ns, Route::unicast(Ipv4Addr::UNSPECIFIED, 0, Some(GW.into()), eth0)).unwrap();
        let s = w.socket(h.ns, SockType::Udp).unwrap();
        w.sendmsg(s, b"far away", Some(sa([198, 51, 100, 1].into(), 9))).unwrap();
        let asked = inject(w, h, &[]);
        assert_eq!(asked, [eth_from_us([0xff; 6], ETH_ARP, &arp(1, MAC_US, US, [0; 6], GW))], "who has the gateway");
        let sent = inject(w, h, &[eth(MAC_US, ETH_ARP, &arp(2, MAC_PEER, GW, MAC_US, US))]);
        assert_eq!(sent.len(), 1, "the datagram that waited: {sent:02x?}");
        let (e, rest) = Ethernet2Header::from_slice(&sent[0]).unwrap();
        let (ip, _) = Ipv4Header::from_slice(rest).unwrap();
        assert_eq!((e.destination, e.ether_type.0, ip.destination), (MAC_PEER, ETH_IPV4, [198, 51, 100, 1]));
        // The gateway asks for us in turn, from outside our subnet: answered.
        let answer = inject(w, h, &[eth([0xff; 6], ETH_ARP, &arp(1, MAC_PEER, GW, [0; 6], US))]);
        assert_eq!(answer, [eth_from_us(MAC_PEER, ETH_ARP, &arp(2, MAC_US, US, MAC_PEER, GW))]);
        w.close(s).unwrap();
    });
}

/// An IPv4 option whose length runs past the header is a header error,
/// answered with a parameter problem pointing at the length octet (RFC
/// 1122 §3.2.1.8 via Linux's `ip_options_compile`); options that parse
/// (record route, NOPs) are let through to the socket.
#[test]
fn malformed_ip_options_draw_a_parameter_problem() {
    with_host(Features::ALL, |w, h| {
        let before = *w.stats(h.ns).unwrap();
        let bad = to_us(&with_options(&udp_to_us(b"bad options"), &[1, 7, 9, 4]));
        let out = inject(w, h, std::slice::from_ref(&bad));
        let after = *w.stats(h.ns).unwrap();
        assert_eq!(after.ip.InHdrErrors - before.ip.InHdrErrors, 1);
        assert_eq!(after.drops.get(DropReason::BadIpOptions) - before.drops.get(DropReason::BadIpOptions), 1);
        assert_eq!(out.len(), 1, "one parameter problem");
        let (_, rest) = Ethernet2Header::from_slice(&out[0]).unwrap();
        let (ip, icmp) = Ipv4Header::from_slice(rest).unwrap();
        assert_eq!((ip.destination, icmp[0], icmp[1], icmp[4]), (PEER, 12, 0, 22), "type 12, pointer at the length");
        assert_eq!(inet_csum(&icmp[..usize::from(ip.total_len) - 20]), 0);
        assert_eq!(&icmp[8..8 + 24], &bad[14..14 + 24], "the header with its options, quoted");
        // Record route and NOPs parse: delivered.
        let fine = to_us(&with_options(&udp_to_us(b"fine options"), &[7, 7, 4, 0, 0, 0, 0, 1]));
        assert!(inject(w, h, &[fine]).is_empty());
        let mut buf = [0u8; 64];
        let m = w.recvmsg(h.udp, &mut buf).unwrap();
        assert_eq!(&buf[..m.len], b"fine options");
    });
}

/// An echo reply carries the request's DSCP (Linux's `icmp_reply`), not
/// its ECN bits (ICMP is no ECN-capable transport, RFC 3168 §5).
#[test]
fn an_echo_reply_keeps_the_requests_dscp() {
    with_host(Features::ALL, |w, h| {
        let req = edited(echo_request(0x55, 1, b"expedite"), |p| p[1] = 0xb8 | 0x02);
        let out = inject(w, h, &[to_us(&req)]);
        assert_eq!(out.len(), 1);
        let (_, rest) = Ethernet2Header::from_slice(&out[0]).unwrap();
        let (ip, icmp) = Ipv4Header::from_slice(rest).unwrap();
        assert_eq!((ip.dscp.value(), ip.ecn.value(), icmp[0]), (0xb8 >> 2, 0, 0), "EF, not ECT, an echo reply");
    });
}

//! Network address translation (Linux's `nf_nat`): choosing a connection's
//! translated tuple, and rewriting packets to match it.
//!
//! A NAT statement runs once per connection, on its first packet
//! ([`setup`]): it picks a new source (SNAT, masquerade) or destination
//! (DNAT) address and port such that the connection's new reply tuple is
//! used by no other connection, and stores that reply tuple in the
//! conntrack entry. From then on every packet of the connection is
//! rewritten from the tuples alone ([`manip`]): at PREROUTING and OUTPUT
//! destinations, at POSTROUTING and INPUT sources, each in the direction
//! its connection's status says (a reply to a source-translated connection
//! gets its destination translated back).
//!
//! Ports are allocated as Linux does: keep the original port if it is free
//! and in range, otherwise probe the range from a keyed-hash offset, at
//! most [`MAX_PROBES`] times; when every probe is taken the connection is
//! refused (its packet dropped and counted) and nothing else is disturbed.
//!
//! Checksums are updated incrementally (RFC 1624) so that offload metadata
//! stays true: a `CHECKSUM_PARTIAL` packet (locally generated TCP or UDP)
//! carries only the pseudo-header sum in its field, which changes with the
//! addresses and not with the ports; a GSO or GRO super-packet is
//! rewritten once, its segments inherit the headers. ICMP errors about a
//! translated connection have their quoted packet translated too, and
//! their ICMP checksum computed again.

use core::net::Ipv4Addr;

use super::conntrack::{Conntrack, REPLY, Tuple, status};
use crate::time::Instant;
use crate::wire::checksum::{InetSum, update_u16, update_u32};

/// Ports probed for one connection before giving up.
pub const MAX_PROBES: u32 = 256;

/// Which address a translation rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Manip {
    /// The source (POSTROUTING, INPUT).
    Src,
    /// The destination (PREROUTING, OUTPUT).
    Dst,
}

impl Manip {
    pub(crate) fn other(self) -> Manip {
        match self {
            Manip::Src => Manip::Dst,
            Manip::Dst => Manip::Src,
        }
    }

    /// The status bit that says this translation was chosen.
    pub(crate) fn done_bit(self) -> u16 {
        match self {
            Manip::Src => status::SRC_NAT_DONE,
            Manip::Dst => status::DST_NAT_DONE,
        }
    }

    /// The status bit that says this translation applies in the original
    /// direction.
    pub(crate) fn nat_bit(self) -> u16 {
        match self {
            Manip::Src => status::SRC_NAT,
            Manip::Dst => status::DST_NAT,
        }
    }
}

/// Does the protocol have ports (or an ICMP identifier) to translate?
fn has_ports(proto: u8) -> bool {
    matches!(proto, 1 | 6 | 17)
}

/// Choose and bind the translation of connection `slot`: the address from
/// `addr` (inclusive range), the port from `ports` (or by Linux's default
/// rules). `Err` when no free tuple was found.
pub(crate) fn setup(
    ct: &mut Conntrack<'_>,
    slot: u16,
    manip: Manip,
    addr: (u32, u32),
    ports: Option<(u16, u16)>,
    now: Instant,
) -> Result<(), ()> {
    let Some(e) = ct.entry(slot) else { return Err(()) };
    let ns = e.ns;
    // The original tuple as earlier translations left it.
    let cur = e.tuple[REPLY].invert();
    let (amin, amax) = (addr.0.min(addr.1), addr.0.max(addr.1));
    let spread = ct_hash(ct, &cur);
    let a = amin.wrapping_add((spread % (u64::from(amax - amin) + 1)) as u32);
    let mut new = cur;
    match manip {
        Manip::Src => new.src = Ipv4Addr::from(a),
        Manip::Dst => new.dst = Ipv4Addr::from(a),
    }
    let free = |ct: &Conntrack<'_>, t: &Tuple| !ct.taken(ns, &t.invert(), slot, now);
    if !has_ports(cur.proto) {
        return if free(ct, &new) { bind(ct, slot, manip, &cur, new) } else { Err(()) };
    }
    let icmp = cur.proto == 1;
    let port_of = |t: &Tuple| if icmp || manip == Manip::Src { t.sport } else { t.dport };
    let set_port = |t: &mut Tuple, p: u16| {
        if icmp || manip == Manip::Src {
            t.sport = p;
        } else {
            t.dport = p;
        }
    };
    let current = port_of(&cur);
    let (pmin, pmax) = match ports {
        Some((lo, hi)) if !icmp => (lo.min(hi), lo.max(hi)),
        _ if icmp => (0, u16::MAX),
        _ if manip == Manip::Dst => (current, current),
        // Linux's convention: privileged ports stay privileged.
        _ if current < 512 => (1, 511),
        _ if current < 1024 => (600, 1023),
        _ => (1024, u16::MAX),
    };
    if (pmin..=pmax).contains(&current) && free(ct, &new) {
        return bind(ct, slot, manip, &cur, new);
    }
    let size = u32::from(pmax - pmin) + 1;
    let offset = (spread >> 32) as u32 % size;
    for i in 0..size.min(MAX_PROBES) {
        let p = pmin as u32 + (offset + i) % size;
        set_port(&mut new, p as u16);
        if free(ct, &new) {
            return bind(ct, slot, manip, &cur, new);
        }
    }
    Err(())
}

fn ct_hash(ct: &Conntrack<'_>, t: &Tuple) -> u64 {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&t.src.octets());
    b[4..8].copy_from_slice(&t.dst.octets());
    b[8..10].copy_from_slice(&t.dport.to_be_bytes());
    b[10] = t.proto;
    ct.hash_bytes(&b)
}

fn bind(ct: &mut Conntrack<'_>, slot: u16, manip: Manip, cur: &Tuple, new: Tuple) -> Result<(), ()> {
    if new != *cur {
        ct.set_reply(slot, new.invert());
    }
    if let Some(e) = ct.entry_mut(slot) {
        e.status |= manip.done_bit();
        if new != *cur {
            e.status |= manip.nat_bit();
        }
    }
    Ok(())
}

/// Where a checksum lives and how it must be changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum L4Csum {
    /// A complete checksum: update it for every change.
    Full,
    /// `CHECKSUM_PARTIAL`: the field holds the pseudo-header sum; only
    /// address changes touch it.
    Partial,
}

fn rd16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn wr16(b: &mut [u8], at: usize, v: u16) {
    if let Some(x) = b.get_mut(at..at + 2) {
        x.copy_from_slice(&v.to_be_bytes());
    }
}

/// The pseudo-header sum seeded in a `CHECKSUM_PARTIAL` field, changed for
/// a 32-bit field of the pseudo-header going from `old` to `new`: the
/// seed is a sum, not its complement, so RFC 1624's update applies to the
/// complement.
fn seed_update_u32(seed: u16, old: u32, new: u32) -> u16 {
    !update_u32(!seed, old, new)
}

/// Rewrite the IPv4 packet at the start of `b` so that its source
/// (`Manip::Src`) or destination shows `target`'s, with its port or ICMP
/// identifier. `b` may end early (a packet quoted in an ICMP error): what
/// is missing is not rewritten. Returns `false` when `b` is no IPv4 packet.
pub(crate) fn manip(b: &mut [u8], target: &Tuple, m: Manip, csum: L4Csum) -> bool {
    if b.len() < 20 || b[0] >> 4 != 4 {
        return false;
    }
    let ihl = usize::from(b[0] & 0x0f) * 4;
    if ihl < 20 || b.len() < ihl {
        return false;
    }
    let at = if m == Manip::Src { 12 } else { 16 };
    let new_addr = u32::from(if m == Manip::Src { target.src } else { target.dst });
    let old_addr = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    b[at..at + 4].copy_from_slice(&new_addr.to_be_bytes());
    if let Some(c) = rd16(b, 10) {
        wr16(b, 10, update_u32(c, old_addr, new_addr));
    }
    let proto = b[9];
    let non_first_fragment = u16::from_be_bytes([b[6], b[7]]) & 0x1fff != 0;
    if non_first_fragment {
        return true;
    }
    let l4 = ihl;
    match proto {
        6 | 17 => {
            let port_at = l4 + if m == Manip::Src { 0 } else { 2 };
            let new_port = if m == Manip::Src { target.sport } else { target.dport };
            let Some(old_port) = rd16(b, port_at) else { return true };
            wr16(b, port_at, new_port);
            let field = l4 + if proto == 6 { 16 } else { 6 };
            let Some(c) = rd16(b, field) else { return true };
            if proto == 17 && c == 0 && csum == L4Csum::Full {
                // No UDP checksum: nothing to keep right.
                return true;
            }
            let updated = match csum {
                L4Csum::Partial => seed_update_u32(c, old_addr, new_addr),
                L4Csum::Full => {
                    let c = update_u16(update_u32(c, old_addr, new_addr), old_port, new_port);
                    //= https://www.rfc-editor.org/rfc/rfc768
                    //# If the computed checksum is zero, it is transmitted as all ones
                    if proto == 17 && c == 0 { 0xffff } else { c }
                }
            };
            wr16(b, field, updated);
        }
        1 => {
            let ty = b.get(l4).copied().unwrap_or(0);
            // Only queries carry an identifier (echo, timestamp, information).
            if matches!(ty, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
                && let (Some(old_id), Some(c)) = (rd16(b, l4 + 4), rd16(b, l4 + 2))
            {
                wr16(b, l4 + 4, target.sport);
                if csum == L4Csum::Full {
                    wr16(b, l4 + 2, update_u16(c, old_id, target.sport));
                }
            }
        }
        _ => {}
    }
    true
}

/// Compute an ICMP message's checksum again after its quoted packet
/// changed (`b` starts at the IPv4 header, the ICMP message runs to the
/// end of `b`).
pub(crate) fn icmp_refresh_checksum(b: &mut [u8]) {
    let ihl = usize::from(b.first().copied().unwrap_or(0) & 0x0f) * 4;
    if b.len() < ihl + 4 {
        return;
    }
    wr16(b, ihl + 2, 0);
    let sum = InetSum::new().add(&b[ihl..]).finish();
    wr16(b, ihl + 2, sum);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Ipv4Packet, TcpPacket, UdpPacket};

    fn udp_packet(csum: bool) -> Vec<u8> {
        let mut p = vec![0u8; 20 + 8 + 5];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(33u16).to_be_bytes());
        p[8] = 64;
        p[9] = 17;
        p[12..16].copy_from_slice(&[10, 100, 0, 2]);
        p[16..20].copy_from_slice(&[10, 0, 2, 2]);
        p[20..22].copy_from_slice(&40000u16.to_be_bytes());
        p[22..24].copy_from_slice(&53u16.to_be_bytes());
        p[24..26].copy_from_slice(&13u16.to_be_bytes());
        p[28..].copy_from_slice(b"hello");
        Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
        if csum {
            UdpPacket::new_unchecked(&mut p[20..])
                .fill_checksum(Ipv4Addr::new(10, 100, 0, 2), Ipv4Addr::new(10, 0, 2, 2));
        }
        p
    }

    #[test]
    fn snat_keeps_every_checksum_right() {
        let mut p = udp_packet(true);
        let target = Tuple {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(10, 0, 2, 2),
            proto: 17,
            sport: 1024,
            dport: 53,
        };
        assert!(manip(&mut p, &target, Manip::Src, L4Csum::Full));
        let ip = Ipv4Packet::new_checked(&p[..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.src(), target.src);
        let u = UdpPacket::new_checked(&p[20..]).unwrap();
        assert_eq!(u.src_port(), 1024);
        assert!(u.verify_checksum(target.src, target.dst));
        // No checksum stays no checksum.
        let mut q = udp_packet(false);
        manip(&mut q, &target, Manip::Src, L4Csum::Full);
        assert_eq!(UdpPacket::new_checked(&q[20..]).unwrap().checksum(), 0);
    }

    #[test]
    fn a_partial_checksum_seed_follows_the_addresses() {
        let (src, dst) = (Ipv4Addr::new(10, 100, 0, 2), Ipv4Addr::new(10, 0, 2, 2));
        let mut p = vec![0u8; 40 + 10];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&50u16.to_be_bytes());
        p[9] = 6;
        p[12..16].copy_from_slice(&src.octets());
        p[16..20].copy_from_slice(&dst.octets());
        p[32] = 0x50;
        p[20..22].copy_from_slice(&5555u16.to_be_bytes());
        let seed = crate::wire::checksum::pseudo_header_v4(src, dst, crate::wire::IpProtocol::TCP, 30).fold();
        p[36..38].copy_from_slice(&seed.to_be_bytes());
        Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
        let new_src = Ipv4Addr::new(203, 0, 113, 7);
        let target = Tuple { src: new_src, dst, proto: 6, sport: 60000, dport: 0 };
        manip(&mut p, &target, Manip::Src, L4Csum::Partial);
        let want = crate::wire::checksum::pseudo_header_v4(new_src, dst, crate::wire::IpProtocol::TCP, 30).fold();
        assert_eq!(u16::from_be_bytes([p[36], p[37]]), want, "the seed is the new pseudo-header's");
        // Finishing it in software gives a checksum that verifies.
        let sum = InetSum::new().add(&p[20..]).finish();
        p[36..38].copy_from_slice(&sum.to_be_bytes());
        assert!(TcpPacket::new_checked(&p[20..]).unwrap().verify_checksum(new_src, dst));
        assert_eq!(TcpPacket::new_checked(&p[20..]).unwrap().src_port(), 60000);
    }
}

//! Generic receive offload in software (`napi_gro_receive` for TCP over
//! IPv4), and the merge rules the simulated NIC's LRO shares.
//!
//! Within one NAPI poll, consecutive in-order TCP segments of a flow are
//! merged into one packet that climbs the stack once. A segment joins a held
//! packet only when (after Linux's `inet_gro_receive` and `tcp_gro_receive`):
//! same addresses, ports, TOS, TTL and DF; no IP options and no fragment;
//! an IP ID one above the last (unless DF); the same ACK number, window and
//! TCP option bytes; no flag but ACK, with PSH allowed on the segment that
//! ends the train; exactly the next sequence number; a non-empty payload no
//! larger than the first segment's. A short segment or PSH merges and closes
//! the packet. Everything is flushed at the end of the poll.
//!
//! A merged packet leaves with GRO's metadata: `gso_size` = the first
//! segment's payload, `gso_segs`, `GsoType::TcpV4`, IPv4 total length and
//! header checksum fixed, and the TCP checksum field seeded with the
//! pseudo-header sum as `CHECKSUM_PARTIAL`, so it can be segmented again if
//! it is forwarded.

use core::net::Ipv4Addr;

use super::Medium;
use crate::skb::{Checksum, Gso, GsoType, SkBuff, SkbId, SkbPool, SkbQueue};
use crate::wire::checksum::{checksum, pseudo_header_v4};
use crate::wire::{EtherType, EthernetFrame, IpProtocol, Ipv4Packet, TcpPacket, WireError};

const ACK: u8 = 0x10;
const PSH: u8 = 0x08;

/// The header fields GRO compares, parsed from an IPv4+TCP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSeg {
    /// IPv4 source.
    pub src: Ipv4Addr,
    /// IPv4 destination.
    pub dst: Ipv4Addr,
    /// DSCP and ECN byte.
    pub tos: u8,
    /// Time to live.
    pub ttl: u8,
    /// Don't-fragment bit.
    pub df: bool,
    /// IP identification.
    pub ip_id: u16,
    /// IP total length.
    pub ip_total_len: u16,
    /// No IP options and not a fragment.
    pub ip_plain: bool,
    /// TCP source port.
    pub sport: u16,
    /// TCP destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Window field.
    pub window: u16,
    /// Flag byte.
    pub flags: u8,
    /// Bytes of IPv4 and TCP headers.
    pub hdr_len: u16,
    /// TCP option bytes: the first `options_len`, zeros after them (the
    /// merge rules compare whole arrays).
    pub options: [u8; 40],
    /// Length of the options.
    pub options_len: u8,
    /// TCP payload bytes.
    pub payload_len: u16,
}

impl TcpSeg {
    /// Parse an IPv4 packet carrying TCP (`ip` starts at the IPv4 header;
    /// it may be only the headers of a longer packet, as long as the total
    /// length says so). `None` for anything else.
    pub fn parse(ip: &[u8]) -> Option<TcpSeg> {
        let p = Ipv4Packet::new_quoted(ip).ok()?;
        if p.protocol() != IpProtocol::TCP {
            return None;
        }
        let ihl = p.header_len();
        let tcp = TcpPacket::new_checked(ip.get(ihl..)?).ok()?;
        let opts = tcp.option_bytes();
        let mut options = [0u8; 40];
        options[..opts.len()].copy_from_slice(opts);
        let tcp_len = usize::from(p.total_len()).checked_sub(ihl)?;
        Some(TcpSeg {
            src: p.src(),
            dst: p.dst(),
            tos: (p.dscp() << 2) | p.ecn(),
            ttl: p.ttl(),
            df: p.dont_frag(),
            ip_id: p.ident(),
            ip_total_len: p.total_len(),
            ip_plain: ihl == 20 && !p.is_fragment(),
            sport: tcp.src_port(),
            dport: tcp.dst_port(),
            seq: tcp.seq_number(),
            ack: tcp.ack_number(),
            window: tcp.window(),
            flags: tcp.flags().bits(),
            hdr_len: (ihl + tcp.header_len()) as u16,
            options,
            options_len: opts.len() as u8,
            payload_len: tcp_len.checked_sub(tcp.header_len())? as u16,
        })
    }

    /// True if this segment could start or join a merged packet at all.
    pub fn mergeable_alone(&self) -> bool {
        self.ip_plain && self.flags & ACK != 0 && self.flags & !(ACK | PSH) == 0
    }

    /// True if both segments belong to the same TCP flow.
    pub fn same_flow(&self, o: &TcpSeg) -> bool {
        (self.src, self.dst, self.sport, self.dport) == (o.src, o.dst, o.sport, o.dport)
    }

    /// Bytes of the IPv4 header.
    pub fn ip_header_len(&self) -> u16 {
        self.hdr_len - 20 - u16::from(self.options_len)
    }
}

/// What to do with a new segment of a flow that has a held packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroVerdict {
    /// Do not merge: flush the held packet, then deal with the new one alone.
    Flush,
    /// Merge, and keep holding.
    Merge,
    /// Merge, then flush (PSH or a short segment ends the train).
    MergeThenFlush,
}

/// The merge rules of the module documentation. `held` is the held packet's
/// first segment, `next_seq` the sequence number that follows it, `last_id`
/// the IP ID of its last segment, `mss` its first segment's payload size.
pub fn merge_verdict(held: &TcpSeg, next_seq: u32, last_id: u16, mss: u16, new: &TcpSeg) -> GroVerdict {
    let same_ip = (held.tos, held.ttl, held.df) == (new.tos, new.ttl, new.df);
    let id_ok = new.df || new.ip_id == last_id.wrapping_add(1);
    let same_tcp = (held.ack, held.window, held.options_len) == (new.ack, new.window, new.options_len)
        && same_options(&held.options, &new.options);
    let fits = new.payload_len != 0 && new.payload_len <= mss;
    if !held.same_flow(new)
        || !new.mergeable_alone()
        || held.flags & PSH != 0
        || !same_ip
        || !id_ok
        || !same_tcp
        || new.seq != next_seq
        || !fits
    {
        return GroVerdict::Flush;
    }
    if new.payload_len < mss || new.flags & PSH != 0 { GroVerdict::MergeThenFlush } else { GroVerdict::Merge }
}

/// Option bytes past `options_len` are zero in both, so comparing the
/// whole arrays compares the options: five words folded together, which
/// compiles to a few instructions where a byte comparison became a call to
/// `memcmp` on every segment.
fn same_options(a: &[u8; 40], b: &[u8; 40]) -> bool {
    let (a, b) = (a.as_chunks::<8>().0, b.as_chunks::<8>().0);
    let diff = a.iter().zip(b).fold(0u64, |d, (x, y)| d | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y)));
    diff == 0
}

/// Fix the headers of a merged packet in place: `hdr` holds its IPv4 and
/// TCP headers. Sets the IPv4 total length to `total_len` and refreshes the
/// header checksum, adds PSH if `psh`, and seeds the TCP checksum field with
/// the pseudo-header sum of the merged length.
pub fn fix_merged_headers(hdr: &mut [u8], total_len: u16, psh: bool) -> Result<(), WireError> {
    if hdr.len() < Ipv4Packet::<&[u8]>::MIN_HEADER_LEN {
        return Err(WireError::Truncated);
    }
    Ipv4Packet::new_unchecked(&mut hdr[..]).set_total_len(total_len);
    let mut ip = Ipv4Packet::new_quoted(&mut hdr[..])?;
    ip.fill_checksum();
    let (ihl, src, dst) = (ip.header_len(), ip.src(), ip.dst());
    let tcp_len = total_len.checked_sub(ihl as u16).ok_or(WireError::BadTotalLen)?;
    let mut tcp = TcpPacket::new_checked(&mut hdr[ihl..])?;
    if psh {
        let f = tcp.flags() | crate::wire::TcpFlags::PSH;
        tcp.set_flags(f);
    }
    tcp.set_checksum(pseudo_header_v4(src, dst, IpProtocol::TCP, tcp_len).fold());
    Ok(())
}

/// GRO counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GroStats {
    /// Segments merged into a held packet.
    pub merged: u64,
    /// Packets flushed up the stack after holding (merged or not).
    pub flushed: u64,
    /// Packets passed up untouched.
    pub passed: u64,
    /// Segments whose checksum failed verification (passed up to be dropped).
    pub bad_csum: u64,
}

/// A packet GRO holds for its flow.
struct Held {
    skb: SkBuff,
    first: TcpSeg,
    l3: u16,
    l2: [u8; 18],
    next_seq: u32,
    last_id: u16,
    mss: u16,
    segs: u16,
    total_len: u16,
    psh: bool,
    age: u32,
}

/// Software GRO for one device: holds at most `FLOWS` packets, one per flow.
pub struct Gro<const FLOWS: usize> {
    held: [Option<Held>; FLOWS],
    clock: u32,
    stats: GroStats,
}

impl<const FLOWS: usize> Default for Gro<FLOWS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const FLOWS: usize> Gro<FLOWS> {
    /// Most segments merged into one packet (Linux's `MAX_GRO_SKBS` is 8 per
    /// bucket; the 64 KiB IPv4 limit bounds a packet anyway).
    pub const MAX_SEGS: u16 = 64;

    /// Nothing held.
    pub fn new() -> Self {
        Gro { held: core::array::from_fn(|_| None), clock: 0, stats: GroStats::default() }
    }

    /// Counters.
    pub fn stats(&self) -> GroStats {
        self.stats
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.iter().all(Option::is_none)
    }

    /// Offer a received packet of a device with `medium`. It is merged into a
    /// held packet, held itself, or passed on to `out` (after flushing a
    /// held packet of its flow, so a flow's order is kept).
    pub fn receive(&mut self, pool: &mut SkbPool, medium: Medium, skb: SkBuff, out: &mut SkbQueue) {
        let Some((l3, seg)) = tcp_of(pool, &skb, medium) else {
            self.pass(pool, skb, out);
            return;
        };
        // Already a super-packet (a veth peer's TSO, the NIC's LRO): it stays
        // as it is. Merging would make its whole payload the held packet's
        // `gso_size`, and forwarding would then judge every segment too big
        // for the next hop (Linux's `dev_gro_receive` passes `skb_is_gso`).
        if pool.meta(&skb).gso.is_gso() {
            self.flush_flow(pool, &seg, out);
            self.pass(pool, skb, out);
            return;
        }
        if !self.checksum_ok(pool, &skb, l3, &seg) {
            self.stats.bad_csum += 1;
            self.flush_flow(pool, &seg, out);
            self.pass(pool, skb, out);
            return;
        }
        self.clock = self.clock.wrapping_add(1);
        let slot = self.held.iter().position(|h| h.as_ref().is_some_and(|h| h.first.same_flow(&seg)));
        if let Some(i) = slot {
            if let Err(skb) = self.try_merge(pool, i, l3, &seg, skb) {
                self.flush_slot(pool, i, out);
                self.hold_or_pass(pool, skb, l3, seg, out);
            }
        } else {
            self.hold_or_pass(pool, skb, l3, seg, out);
        }
    }

    /// Flush every held packet to `out` (end of the NAPI poll).
    pub fn flush(&mut self, pool: &mut SkbPool, out: &mut SkbQueue) {
        // Runs on every poll: look before taking, most slots are empty.
        for i in 0..FLOWS {
            if self.held[i].is_some() {
                self.flush_slot(pool, i, out);
            }
        }
    }

    fn pass(&mut self, pool: &mut SkbPool, skb: SkBuff, out: &mut SkbQueue) {
        self.stats.passed += 1;
        out.push_back(pool, skb);
    }

    /// The IPv4 header's checksum always (`inet_gro_receive`'s
    /// `ip_fast_csum`: a merged packet leaves with a rebuilt header, which
    /// would hide a corrupt one from `ip_rcv`); the TCP checksum unless the
    /// device vouched for it, verified in software and remembered.
    fn checksum_ok(&self, pool: &mut SkbPool, skb: &SkBuff, l3: u16, seg: &TcpSeg) -> bool {
        let ip_hdr = pool.data(skb).get(usize::from(l3)..usize::from(l3) + usize::from(seg.ip_header_len()));
        if ip_hdr.is_none_or(|h| checksum(h) != 0) {
            return false;
        }
        match pool.meta(skb).csum {
            Checksum::Unnecessary | Checksum::Partial { .. } => return true,
            Checksum::None | Checksum::Complete(_) => {}
        }
        let l4 = usize::from(l3) + usize::from(seg.ip_header_len());
        let tcp_len = usize::from(seg.ip_total_len - seg.ip_header_len());
        let mut sum = pseudo_header_v4(seg.src, seg.dst, IpProtocol::TCP, tcp_len as u16);
        if sum.add_skb(pool, skb, l4, tcp_len).is_err() || sum.finish() != 0 {
            return false;
        }
        if let Ok(m) = pool.meta_mut(skb) {
            m.csum = Checksum::Unnecessary;
        }
        true
    }

    fn try_merge(&mut self, pool: &mut SkbPool, i: usize, l3: u16, seg: &TcpSeg, skb: SkBuff) -> Result<(), SkBuff> {
        let Some(h) = self.held[i].as_mut() else { return Err(skb) };
        let verdict = merge_verdict(&h.first, h.next_seq, h.last_id, h.mss, seg);
        let room = usize::from(h.total_len) + usize::from(seg.payload_len) <= usize::from(u16::MAX);
        let same_l2 = pool.data(&skb).get(..usize::from(l3)) == h.l2.get(..usize::from(h.l3));
        if verdict == GroVerdict::Flush || !room || !same_l2 || h.segs >= Self::MAX_SEGS {
            return Err(skb);
        }
        let headers = usize::from(l3) + usize::from(seg.hdr_len);
        if pool.pull(&skb, headers).is_err() || pool.trim(&skb, usize::from(seg.payload_len)).is_err() {
            return Err(skb);
        }
        pool.append_skb(&h.skb, skb).map_err(|(_, s)| s)?;
        h.next_seq = h.next_seq.wrapping_add(u32::from(seg.payload_len));
        h.last_id = seg.ip_id;
        h.segs += 1;
        h.total_len += seg.payload_len;
        h.psh |= seg.flags & PSH != 0;
        self.stats.merged += 1;
        if verdict == GroVerdict::MergeThenFlush {
            h.first.flags |= PSH;
        }
        Ok(())
    }

    fn hold_or_pass(&mut self, pool: &mut SkbPool, skb: SkBuff, l3: u16, seg: TcpSeg, out: &mut SkbQueue) {
        if !seg.mergeable_alone() || seg.payload_len == 0 || seg.flags & PSH != 0 {
            self.pass(pool, skb, out);
            return;
        }
        let i = match self.held.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                let oldest = (0..FLOWS).min_by_key(|&i| self.held[i].as_ref().map_or(0, |h| h.age)).unwrap_or(0);
                self.flush_slot(pool, oldest, out);
                oldest
            }
        };
        // The headers are rewritten at flush: make them private now (a
        // clone's shared head would need a copy then, which could fail and
        // leave the merged payload behind a header that does not count it).
        if i >= FLOWS || pool.data_mut(&skb).is_err() {
            self.pass(pool, skb, out);
            return;
        }
        let mut l2 = [0u8; 18];
        let n = usize::from(l3).min(18);
        l2[..n].copy_from_slice(&pool.data(&skb)[..n]);
        // Trailing Ethernet padding would otherwise sit between merged payloads.
        let _ = pool.trim(&skb, usize::from(l3) + usize::from(seg.ip_total_len));
        self.held[i] = Some(Held {
            skb,
            first: seg,
            l3,
            l2,
            next_seq: seg.seq.wrapping_add(u32::from(seg.payload_len)),
            last_id: seg.ip_id,
            mss: seg.payload_len,
            segs: 1,
            total_len: seg.ip_total_len,
            psh: false,
            age: self.clock,
        });
    }

    fn flush_flow(&mut self, pool: &mut SkbPool, seg: &TcpSeg, out: &mut SkbQueue) {
        if let Some(i) = self.held.iter().position(|h| h.as_ref().is_some_and(|h| h.first.same_flow(seg))) {
            self.flush_slot(pool, i, out);
        }
    }

    fn flush_slot(&mut self, pool: &mut SkbPool, i: usize, out: &mut SkbQueue) {
        let Some(h) = self.held.get_mut(i).and_then(Option::take) else { return };
        self.stats.flushed += 1;
        if h.segs > 1 {
            let (l3, hdr) = (usize::from(h.l3), usize::from(h.first.hdr_len));
            let fixed = pool
                .data_mut(&h.skb)
                .ok()
                .and_then(|d| d.get_mut(l3..l3 + hdr))
                .is_some_and(|hdrs| fix_merged_headers(hdrs, h.total_len, h.psh).is_ok());
            let network = pool.data_offset(&h.skb) + h.l3;
            let start = network + h.first.ip_header_len();
            if let (true, Ok(m)) = (fixed, pool.meta_mut(&h.skb)) {
                m.gso = Gso { size: h.mss, segs: h.segs, kind: GsoType::TcpV4, ecn: false };
                m.csum = Checksum::Partial { start, offset: 16 };
                // A bridge forwards the frame without `ip_rcv` marking its
                // headers; software GSO on a port without TSO needs them.
                m.network_header = network;
                m.transport_header = start;
            }
        }
        out.push_back(pool, h.skb);
    }
}

/// The IPv4 offset and TCP header fields of a packet, if it is TCP over
/// IPv4 with its headers in the linear part (pulled there if needed).
fn tcp_of(pool: &mut SkbPool, skb: &impl SkbId, medium: Medium) -> Option<(u16, TcpSeg)> {
    let l3 = match medium {
        Medium::Ip => 0,
        Medium::Ethernet => {
            let eth = EthernetFrame::new_checked(pool.data(skb)).ok()?;
            (eth.ethertype() == EtherType::IPV4).then(|| eth.header_len())?
        }
    };
    // IPv4 (60) and TCP (60) headers at most.
    let want = (l3 + 120).min(pool.len(skb));
    pool.may_pull(skb, want).ok()?;
    let seg = TcpSeg::parse(pool.data(skb).get(l3..)?)?;
    let complete = l3 + usize::from(seg.ip_total_len) <= pool.len(skb);
    complete.then_some((l3 as u16, seg))
}

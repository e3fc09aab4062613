//! Software GSO (`skb_gso_segment` for TCP over IPv4): split a super-packet
//! into MSS-sized frames when the device cannot. The per-segment header
//! rules live in [`fix_segment_headers`], which the simulated NIC's hardware
//! TSO applies too, so software and hardware segment identically:
//!
//! - IPv4 total length fits the segment, identification counts up from the
//!   super-packet's (`id + i`), and the header checksum is recomputed;
//! - the TCP sequence number advances by `i * mss`;
//! - FIN and PSH stay only on the last segment, CWR only on the first;
//! - the TCP checksum field is seeded with the segment's pseudo-header sum
//!   (the `CHECKSUM_PARTIAL` form), to be finished by device or software.

use crate::skb::{Checksum, GsoType, OFFSET_UNSET, OwnerId, SkBuff, SkbError, SkbId, SkbPool, SkbQueue};
use crate::wire::checksum::{InetSum, pseudo_header_v4};
use crate::wire::{IpProtocol, Ipv4Packet, TcpFlags, TcpPacket, WireError};

/// Where the headers of a TCP/IPv4 super-packet sit, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsoLayout {
    /// Offset of the IPv4 header (0 for bare IP, 14 or 18 after Ethernet).
    pub l3: usize,
    /// Offset of the TCP header.
    pub l4: usize,
    /// Length of all headers, TCP options included.
    pub hdr_len: usize,
    /// Payload bytes per segment.
    pub mss: usize,
}

/// Why software segmentation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GsoError {
    /// Only TCP over IPv4 is segmented.
    Unsupported,
    /// The header offsets or the headers themselves are wrong.
    BadHeaders(WireError),
    /// The pool ran out part way; nothing was produced.
    Skb(SkbError),
}

/// Fix the headers of segment `index` (of `mss`-sized segments, `last` or
/// not) in `seg`: a copy of the super-packet's headers followed by this
/// segment's `payload_len` bytes. See the module documentation for the rules.
pub fn fix_segment_headers(
    seg: &mut [u8],
    layout: &TsoLayout,
    index: u16,
    payload_len: usize,
    last: bool,
) -> Result<(), WireError> {
    let TsoLayout { l3, l4, hdr_len, mss } = *layout;
    if l3 + Ipv4Packet::<&[u8]>::MIN_HEADER_LEN > l4 || l4 + 20 > hdr_len || seg.len() != hdr_len + payload_len {
        return Err(WireError::Truncated);
    }
    let ip_len = u16::try_from(seg.len() - l3).map_err(|_| WireError::BadTotalLen)?;
    Ipv4Packet::new_unchecked(&mut seg[l3..l4]).set_total_len(ip_len);
    let mut ip = Ipv4Packet::new_checked(&mut seg[l3..])?;
    if ip.header_len() != l4 - l3 {
        return Err(WireError::BadHeaderLen);
    }
    let ident = ip.ident().wrapping_add(index);
    ip.set_ident(ident);
    ip.fill_checksum();
    let (src, dst) = (ip.src(), ip.dst());
    let mut tcp = TcpPacket::new_checked(&mut seg[l4..])?;
    if l4 + tcp.header_len() != hdr_len {
        return Err(WireError::BadHeaderLen);
    }
    let seq = tcp.seq_number().wrapping_add((usize::from(index) * mss) as u32);
    tcp.set_seq_number(seq);
    let mut flags = tcp.flags();
    if !last {
        flags = flags.without(TcpFlags::FIN | TcpFlags::PSH);
    }
    if index != 0 {
        flags = flags.without(TcpFlags::CWR);
    }
    tcp.set_flags(flags);
    let tcp_len = (seg.len() - l4) as u16;
    let seed = pseudo_header_v4(src, dst, IpProtocol::TCP, tcp_len).fold();
    TcpPacket::new_unchecked(&mut seg[l4..]).set_checksum(seed);
    Ok(())
}

/// A super-packet's headers, checked once, from which each segment's are
/// written in a few stores: the fields [`fix_segment_headers`] changes
/// are the IPv4 total length, identification and checksum, the TCP
/// sequence number, flags and checksum seed, and both checksums follow
/// from sums of the unchanging bytes taken here. The result is byte for
/// byte what [`fix_segment_headers`] writes (a property test holds them
/// together); hardware TSO and software GSO use it once per super-packet.
#[derive(Clone, Copy, Debug)]
pub struct SegmentHeaders {
    layout: TsoLayout,
    ident: u16,
    seq: u32,
    flags: TcpFlags,
    /// The IPv4 header summed with its total length, identification and
    /// checksum fields taken as zero.
    ip_rest: InetSum,
    /// The pseudo-header summed without its length.
    pseudo_rest: InetSum,
}

impl SegmentHeaders {
    /// Check the super-packet's headers (the first `layout.hdr_len` bytes
    /// of `packet`) as [`fix_segment_headers`] would on a segment with no
    /// payload, failing as it would.
    pub fn new(packet: &[u8], layout: &TsoLayout) -> Result<SegmentHeaders, WireError> {
        let TsoLayout { l3, l4, hdr_len, .. } = *layout;
        let mut probe = [0u8; 256];
        let probe = probe.get_mut(..hdr_len).ok_or(WireError::Truncated)?;
        probe.copy_from_slice(packet.get(..hdr_len).ok_or(WireError::Truncated)?);
        fix_segment_headers(probe, layout, 0, 0, false)?;
        let ip = Ipv4Packet::new_unchecked(&packet[l3..l4]);
        let tcp = TcpPacket::new_unchecked(&packet[l4..hdr_len]);
        let mut ip_rest = InetSum::new();
        ip_rest.add(&packet[l3..l3 + 2]).add(&packet[l3 + 6..l3 + 10]).add(&packet[l3 + 12..l4]);
        let pseudo_rest = pseudo_header_v4(ip.src(), ip.dst(), IpProtocol::TCP, 0);
        Ok(SegmentHeaders {
            layout: *layout,
            ident: ip.ident(),
            seq: tcp.seq_number(),
            flags: tcp.flags(),
            ip_rest,
            pseudo_rest,
        })
    }

    /// Write segment `index`'s headers (of `mss`-sized segments, `last` or
    /// not) into `seg`: a copy of the super-packet's headers followed by
    /// this segment's `payload_len` bytes.
    pub fn fix(&self, seg: &mut [u8], index: u16, payload_len: usize, last: bool) -> Result<(), WireError> {
        let TsoLayout { l3, l4, hdr_len, mss } = self.layout;
        if seg.len() != hdr_len + payload_len {
            return Err(WireError::Truncated);
        }
        let ip_len = u16::try_from(seg.len() - l3).map_err(|_| WireError::BadTotalLen)?;
        let ident = self.ident.wrapping_add(index);
        let mut ip_sum = self.ip_rest;
        let ip_csum = ip_sum.add_u16(ip_len).add_u16(ident).finish();
        seg[l3 + 2..l3 + 4].copy_from_slice(&ip_len.to_be_bytes());
        seg[l3 + 4..l3 + 6].copy_from_slice(&ident.to_be_bytes());
        seg[l3 + 10..l3 + 12].copy_from_slice(&ip_csum.to_be_bytes());
        let seq = self.seq.wrapping_add((usize::from(index) * mss) as u32);
        seg[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        let mut flags = self.flags;
        if !last {
            flags = flags.without(TcpFlags::FIN | TcpFlags::PSH);
        }
        if index != 0 {
            flags = flags.without(TcpFlags::CWR);
        }
        seg[l4 + 13] = flags.bits();
        let mut pseudo = self.pseudo_rest;
        let seed = pseudo.add_u16((seg.len() - l4) as u16).fold();
        seg[l4 + 16..l4 + 18].copy_from_slice(&seed.to_be_bytes());
        Ok(())
    }
}

/// The layout of a GSO packet from its metadata and TCP header.
fn layout_of(pool: &SkbPool, skb: &impl SkbId) -> Result<TsoLayout, GsoError> {
    let meta = pool.meta(skb);
    if meta.gso.kind != GsoType::TcpV4 || meta.gso.size == 0 {
        return Err(GsoError::Unsupported);
    }
    let data = pool.data_offset(skb);
    let bad = GsoError::BadHeaders(WireError::BadHeaderLen);
    if meta.network_header == OFFSET_UNSET || meta.transport_header == OFFSET_UNSET {
        return Err(bad);
    }
    let l3 = usize::from(meta.network_header.checked_sub(data).ok_or(bad)?);
    let l4 = usize::from(meta.transport_header.checked_sub(data).ok_or(bad)?);
    let mut doff = [0u8; 1];
    pool.copy_to_slice(skb, l4 + 12, &mut doff).map_err(|_| GsoError::BadHeaders(WireError::Truncated))?;
    let hdr_len = l4 + usize::from(doff[0] >> 4) * 4;
    if hdr_len > pool.len(skb) || hdr_len > 256 {
        return Err(GsoError::BadHeaders(WireError::Truncated));
    }
    Ok(TsoLayout { l3, l4, hdr_len, mss: usize::from(meta.gso.size) })
}

/// Segment the GSO packet `skb` into `out` (which receives nothing on
/// failure). Each segment is a linear packet with the super-packet's
/// headroom and metadata, charged to the system owner; its TCP checksum is
/// left `CHECKSUM_PARTIAL` when `device_csum`, finished otherwise. `skb`
/// itself is left alone for the caller to free.
pub fn gso_segment(pool: &mut SkbPool, skb: &SkBuff, device_csum: bool, out: &mut SkbQueue) -> Result<usize, GsoError> {
    let layout = layout_of(pool, skb)?;
    let mut hdr = [0u8; 256];
    let hdr = &mut hdr[..layout.hdr_len];
    pool.copy_to_slice(skb, 0, hdr).map_err(GsoError::Skb)?;
    let headers = SegmentHeaders::new(hdr, &layout).map_err(GsoError::BadHeaders)?;
    let headroom = pool.headroom(skb);
    let payload = pool.len(skb) - layout.hdr_len;
    let count = payload.div_ceil(layout.mss).max(1);
    let mut made = SkbQueue::new();
    for i in 0..count {
        let len = layout.mss.min(payload - i * layout.mss);
        match make_segment(pool, skb, &headers, headroom, i, len, i + 1 == count, device_csum) {
            Ok(seg) => made.push_back(pool, seg),
            Err(e) => {
                made.purge(pool);
                return Err(e);
            }
        }
    }
    out.splice_back(pool, &mut made);
    Ok(count)
}

#[allow(clippy::too_many_arguments)]
fn make_segment(
    pool: &mut SkbPool,
    skb: &SkBuff,
    headers: &SegmentHeaders,
    headroom: usize,
    index: usize,
    len: usize,
    last: bool,
    device_csum: bool,
) -> Result<SkBuff, GsoError> {
    let layout = &headers.layout;
    // A super-packet cut from the middle of a buffer (TCP splits its queue
    // at any byte) starts deep in it: a segment keeps as much of that
    // headroom as its single buffer can spare besides headers and payload.
    let headroom = headroom.min(pool.buf_size().saturating_sub(layout.hdr_len + len));
    let seg = pool.alloc_with_headroom(OwnerId::SYSTEM, headroom).map_err(GsoError::Skb)?;
    let filled = pool
        .put(&seg, layout.hdr_len + len)
        .map(|_| ())
        .and_then(|_| pool.copy_from_skb(&seg, 0, skb, 0, layout.hdr_len))
        .and_then(|_| pool.copy_from_skb(&seg, layout.hdr_len, skb, layout.hdr_len + index * layout.mss, len));
    if let Err(e) = filled {
        pool.free(seg);
        return Err(GsoError::Skb(e));
    }
    let fixed = match pool.data_mut(&seg) {
        Ok(bytes) => headers.fix(bytes, index as u16, len, last).map(|_| {
            if !device_csum {
                let sum = InetSum::new().add(&bytes[layout.l4..]).finish();
                bytes[layout.l4 + 16..layout.l4 + 18].copy_from_slice(&sum.to_be_bytes());
            }
        }),
        Err(e) => {
            pool.free(seg);
            return Err(GsoError::Skb(e));
        }
    };
    if let Err(e) = fixed {
        pool.free(seg);
        return Err(GsoError::BadHeaders(e));
    }
    let data = pool.data_offset(&seg);
    let mut meta = *pool.meta(skb);
    meta.gso = Default::default();
    meta.mac_header = if layout.l3 > 0 { data } else { OFFSET_UNSET };
    meta.network_header = data + layout.l3 as u16;
    meta.transport_header = data + layout.l4 as u16;
    meta.csum =
        if device_csum { Checksum::Partial { start: data + layout.l4 as u16, offset: 16 } } else { Checksum::None };
    if let Ok(m) = pool.meta_mut(&seg) {
        *m = meta;
    }
    Ok(seg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Link-layer bytes, then an IPv4 header of `ihl` words and a TCP header
    /// of `doff` words, every other byte as `noise` says.
    fn headers(l3: usize, ihl: usize, doff: usize, noise: &[u8]) -> Vec<u8> {
        let hdr_len = l3 + 4 * ihl + 4 * doff;
        let mut h: Vec<u8> = noise.iter().cycle().take(hdr_len).copied().collect();
        h[l3] = 0x40 | ihl as u8;
        h[l3 + 9] = 6;
        h[l3 + 4 * ihl + 12] = (doff as u8) << 4 | (h[l3 + 4 * ihl + 12] & 0x0f);
        h
    }

    proptest! {
        #[test]
        fn segment_headers_write_what_fix_segment_headers_writes(
            l3 in prop::sample::select(vec![0usize, 14, 18]),
            ihl in 5usize..=15,
            doff in 5usize..=15,
            noise in prop::collection::vec(any::<u8>(), 1..64),
            mss in 1usize..=9000,
            index in any::<u16>(),
            payload_len in 0usize..2000,
            last in any::<bool>(),
        ) {
            let hdr = headers(l3, ihl, doff, &noise);
            let layout = TsoLayout { l3, l4: l3 + 4 * ihl, hdr_len: hdr.len(), mss };
            let headers = SegmentHeaders::new(&hdr, &layout).expect("valid headers");
            let mut seg: Vec<u8> = hdr.iter().copied().chain((0..payload_len).map(|i| i as u8)).collect();
            let mut want = seg.clone();
            let expected = fix_segment_headers(&mut want, &layout, index, payload_len, last);
            let got = headers.fix(&mut seg, index, payload_len, last);
            prop_assert_eq!(got, expected);
            prop_assert_eq!(seg, want);
        }
    }

    #[test]
    fn segment_headers_refuse_what_fix_segment_headers_refuses() {
        let hdr = headers(14, 5, 8, &[1, 2, 3]);
        let layout = TsoLayout { l3: 14, l4: 34, hdr_len: hdr.len(), mss: 1448 };
        let mut bad = hdr.clone();
        bad[14] = 0x55;
        assert_eq!(SegmentHeaders::new(&bad, &layout).err(), Some(WireError::BadVersion));
        let wrong_l4 = TsoLayout { l4: 38, ..layout };
        assert_eq!(SegmentHeaders::new(&hdr, &wrong_l4).err(), Some(WireError::BadHeaderLen));
        assert_eq!(SegmentHeaders::new(&hdr[..40], &layout).err(), Some(WireError::Truncated));
        let headers = SegmentHeaders::new(&hdr, &layout).unwrap();
        let mut short = hdr.clone();
        assert_eq!(headers.fix(&mut short, 0, 10, true), Err(WireError::Truncated));
        let mut huge = vec![0u8; hdr.len() + 70_000];
        huge[..hdr.len()].copy_from_slice(&hdr);
        assert_eq!(headers.fix(&mut huge, 0, 70_000, true), Err(WireError::BadTotalLen));
    }
}

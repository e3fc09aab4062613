//! IPv4 fragmentation (`ip_fragment`): split a datagram larger than the
//! link's MTU into fragments whose payloads are multiples of 8 bytes, each
//! with a copy of the header. Options without the copy flag appear in the
//! first fragment only (in the others they become NOPs, keeping the header
//! length, as Linux's `ip_options_fragment` does).

use crate::skb::{Checksum, OwnerId, SkBuff, SkbError, SkbPool, SkbQueue};
use crate::wire::checksum::finish_partial;
use crate::wire::{Ipv4Packet, WireError};

/// Why a datagram could not be fragmented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FragError {
    /// DF is set (the caller answers with fragmentation-needed or `EMSGSIZE`).
    DontFragment,
    /// The MTU cannot hold the header and 8 bytes of payload.
    MtuTooSmall,
    /// The header is malformed.
    BadHeader(WireError),
    /// The pool ran out part way; nothing was produced.
    Skb(SkbError),
}

/// Replace options without the copy flag by NOPs (RFC 791: only options
/// with the copy bit set go into every fragment).
fn strip_uncopied_options(opts: &mut [u8]) {
    let mut i = 0;
    while i < opts.len() {
        let kind = opts[i];
        match kind {
            0 => break,
            1 => i += 1,
            _ => {
                let len = opts.get(i + 1).map_or(opts.len() - i, |&l| usize::from(l).max(2)).min(opts.len() - i);
                if kind & 0x80 == 0 {
                    opts[i..i + len].fill(1);
                }
                i += len;
            }
        }
    }
}

/// Fragment `skb` (data at its IPv4 header) for a link of `mtu` bytes,
/// appending the fragments to `out` (nothing on failure). The L4 checksum is
/// finished first if it was left partial. Fragments keep the packet's
/// headroom and metadata and are charged to `owner`. `skb` is left for the
/// caller to free.
pub fn ip_fragment(
    pool: &mut SkbPool,
    skb: &SkBuff,
    mtu: u16,
    owner: OwnerId,
    out: &mut SkbQueue,
) -> Result<usize, FragError> {
    if matches!(pool.meta(skb).csum, Checksum::Partial { .. }) {
        finish_partial(pool, skb).map_err(FragError::Skb)?;
    }
    let mut hdr = [0u8; 60];
    let (ihl, total, base_off, more) = {
        let ip = Ipv4Packet::new_quoted(pool.data(skb)).map_err(FragError::BadHeader)?;
        if ip.dont_frag() {
            return Err(FragError::DontFragment);
        }
        let ihl = ip.header_len();
        hdr[..ihl].copy_from_slice(&pool.data(skb)[..ihl]);
        (ihl, usize::from(ip.total_len()), usize::from(ip.frag_offset()), ip.more_frags())
    };
    let payload = total.checked_sub(ihl).filter(|_| total <= pool.len(skb));
    let payload = payload.ok_or(FragError::BadHeader(WireError::BadTotalLen))?;
    let room = (usize::from(mtu).saturating_sub(ihl)) & !7;
    if room == 0 {
        return Err(FragError::MtuTooSmall);
    }
    let headroom = pool.headroom(skb);
    let mut made = SkbQueue::new();
    let mut at = 0;
    while at < payload {
        let len = room.min(payload - at);
        let last = at + len == payload;
        let frag = match make_fragment(pool, skb, &hdr[..ihl], headroom, owner, at, len) {
            Ok(f) => f,
            Err(e) => {
                made.purge(pool);
                return Err(FragError::Skb(e));
            }
        };
        if let Ok(bytes) = pool.data_mut(&frag)
            && let Ok(mut ip) = Ipv4Packet::new_checked(bytes)
        {
            ip.set_frag_offset((base_off + at) as u16);
            ip.set_more_frags(!last || more);
            ip.fill_checksum();
        }
        made.push_back(pool, frag);
        if at == 0 {
            strip_uncopied_options(&mut hdr[20..ihl]);
        }
        at += len;
    }
    let n = made.len();
    out.splice_back(pool, &mut made);
    Ok(n)
}

/// One fragment: `hdr` with its total length set, then payload bytes
/// `[at, at + len)` of the datagram.
fn make_fragment(
    pool: &mut SkbPool,
    skb: &SkBuff,
    hdr: &[u8],
    headroom: usize,
    owner: OwnerId,
    at: usize,
    len: usize,
) -> Result<SkBuff, SkbError> {
    let frag = pool.alloc_with_headroom(owner, headroom)?;
    let ihl = hdr.len();
    let filled = pool.put(&frag, ihl + len).map(|b| b[..ihl].copy_from_slice(hdr));
    let filled = filled.and_then(|_| pool.copy_from_skb(&frag, ihl, skb, ihl + at, len));
    if let Err(e) = filled {
        pool.free(frag);
        return Err(e);
    }
    if let Ok(bytes) = pool.data_mut(&frag) {
        Ipv4Packet::new_unchecked(bytes).set_total_len((ihl + len) as u16);
    }
    let data = pool.data_offset(&frag);
    let mut meta = *pool.meta(skb);
    meta.csum = Checksum::None;
    meta.gso = Default::default();
    meta.network_header = data;
    meta.transport_header = crate::skb::OFFSET_UNSET;
    meta.mac_header = crate::skb::OFFSET_UNSET;
    if let Ok(m) = pool.meta_mut(&frag) {
        *m = meta;
    }
    Ok(frag)
}

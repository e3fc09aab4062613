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
            && let Ok(mut ip) = Ipv4Packet::new_quoted(bytes)
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
    // A fragment for a jumbo MTU may not fit one buffer: it grows a chain.
    let filled = pool.put_slice(&frag, hdr).and_then(|_| pool.grow(&frag, len));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skb::PoolStorage;
    use proptest::prelude::*;

    /// A datagram with the given options (padded by the caller) and payload.
    fn datagram(pool: &mut SkbPool, options: &[u8], payload: &[u8], df: bool) -> SkBuff {
        let ihl = 20 + options.len();
        let mut b = vec![0u8; ihl + payload.len()];
        b[0] = 0x40 | (ihl / 4) as u8;
        b[2..4].copy_from_slice(&((ihl + payload.len()) as u16).to_be_bytes());
        b[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
        b[6] = if df { 0x40 } else { 0 };
        b[8] = 64;
        b[9] = 17;
        b[12..16].copy_from_slice(&[10, 0, 0, 1]);
        b[16..20].copy_from_slice(&[10, 0, 0, 2]);
        b[20..ihl].copy_from_slice(options);
        b[ihl..].copy_from_slice(payload);
        Ipv4Packet::new_checked(&mut b[..]).unwrap().fill_checksum();
        let s = pool.alloc_with_headroom(OwnerId::SYSTEM, 64).unwrap();
        pool.append(&s, &b).unwrap();
        s
    }

    #[test]
    fn fragments_carry_offsets_flags_and_only_copied_options() {
        let mut st = Box::new(PoolStorage::<128, 64, 2048, 2>::new());
        let mut pool = SkbPool::new(&mut st);
        // Router alert (copied, 0x94) and a record-route-like option without the copy flag (0x07).
        let opts = [0x94, 4, 0, 0, 0x07, 3, 4, 0];
        let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let d = datagram(&mut pool, &opts, &payload, false);
        let mut q = SkbQueue::new();
        assert_eq!(ip_fragment(&mut pool, &d, 1000, OwnerId::SYSTEM, &mut q), Ok(4));
        let mut joined = Vec::new();
        for (i, r) in q.iter(&pool).enumerate() {
            let bytes: Vec<u8> = pool.chunks(&r).flatten().copied().collect();
            let ip = Ipv4Packet::new_checked(&bytes[..]).unwrap();
            assert!(ip.verify_checksum());
            assert!(bytes.len() <= 1000);
            assert_eq!(ip.header_len(), 28, "header length kept");
            assert_eq!(ip.frag_offset() as usize, joined.len());
            assert_eq!(ip.more_frags(), i < 3);
            assert_eq!(ip.ident(), 0x1234);
            // The uncopied option's three bytes become NOPs; the EOL pad stays.
            let want_opts: &[u8] = if i == 0 { &opts } else { &[0x94, 4, 0, 0, 1, 1, 1, 0] };
            assert_eq!(ip.options(), want_opts);
            if i < 3 {
                assert_eq!(ip.payload().len() % 8, 0, "offsets count in 8-byte units");
            }
            joined.extend_from_slice(ip.payload());
        }
        assert_eq!(joined, payload);
        q.purge(&mut pool);
        pool.free(d);
        let d = datagram(&mut pool, &[], &payload, true);
        assert_eq!(ip_fragment(&mut pool, &d, 1000, OwnerId::SYSTEM, &mut q), Err(FragError::DontFragment));
        pool.free(d);
        let d = datagram(&mut pool, &[], &payload, false);
        assert_eq!(ip_fragment(&mut pool, &d, 27, OwnerId::SYSTEM, &mut q), Err(FragError::MtuTooSmall));
        pool.free(d);
        assert!(q.is_empty());
        assert!(pool.stats().is_idle());
    }

    #[test]
    fn running_out_of_memory_produces_nothing() {
        let mut st = Box::new(PoolStorage::<64, 6, 2048, 2>::new());
        let mut pool = SkbPool::new(&mut st);
        let payload = vec![7u8; 8000];
        let d = datagram(&mut pool, &[], &payload, false);
        let mut q = SkbQueue::new();
        assert!(matches!(ip_fragment(&mut pool, &d, 576, OwnerId::SYSTEM, &mut q), Err(FragError::Skb(_))));
        assert!(q.is_empty());
        pool.free(d);
        assert!(pool.stats().is_idle());
    }

    proptest! {
        /// Any size, any MTU, any arrival order: reassembly gives back the datagram.
        #[test]
        fn fragment_then_reassemble_is_identity(len in 1usize..20_000, mtu in 68u16..9000, seed in any::<u64>()) {
            use crate::ip::reasm::{ReasmResult, Reassembly};
            let mut st = Box::new(PoolStorage::<1024, 512, 2048, 2>::new());
            let mut pool = SkbPool::new(&mut st);
            let payload: Vec<u8> = (0..len).map(|i| (i as u64 ^ seed) as u8).collect();
            let d = datagram(&mut pool, &[], &payload, false);
            let want: Vec<u8> = pool.chunks(&d).flatten().copied().collect();
            let mut q = SkbQueue::new();
            let n = ip_fragment(&mut pool, &d, mtu, OwnerId::SYSTEM, &mut q).unwrap();
            pool.free(d);
            prop_assert_eq!(n, len.div_ceil((usize::from(mtu) - 20) & !7));
            let mut frags = Vec::new();
            while let Some(f) = q.pop_front(&mut pool) {
                frags.push(f);
            }
            // A deterministic shuffle from the seed.
            let mut s = seed | 1;
            for i in (1..frags.len()).rev() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                frags.swap(i, (s % (i as u64 + 1)) as usize);
            }
            let mut slots = [const { None }; 2];
            let mut r = Reassembly::new(&mut slots);
            let mut whole = None;
            for f in frags {
                match r.add(&mut pool, OwnerId::SYSTEM, crate::netns::NsId(0), f, crate::time::Instant::ZERO) {
                    ReasmResult::Complete(s) => whole = Some(s),
                    ReasmResult::Held => {}
                    ReasmResult::Dropped(why) => prop_assert!(false, "{:?}", why),
                }
            }
            let whole = whole.unwrap();
            let got: Vec<u8> = pool.chunks(&whole).flatten().copied().collect();
            prop_assert_eq!(got, want);
            pool.free(whole);
            prop_assert!(pool.stats().is_idle());
        }
    }
}

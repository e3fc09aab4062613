//! The Internet checksum (RFC 1071) over byte slices and sk_buff chains, the
//! IPv4 pseudo-header, incremental updates (RFC 1624) for NAT and TTL
//! changes, and the `CHECKSUM_PARTIAL` contract that checksum offload rests
//! on. Linux keeps these in `lib/checksum.c`, `include/net/checksum.h` and
//! `skb_checksum_help` in `net/core/dev.c`.
//!
//! The sum is computed on machine words in native byte order and converted
//! to network order once at the end, which RFC 1071 allows because the
//! one's-complement sum does not depend on byte order.
//!
//! Values in and out of this module are in host order: [`InetSum::fold`]
//! and [`InetSum::finish`] return numbers to store with `to_be_bytes`.

use core::net::Ipv4Addr;

use super::IpProtocol;
use crate::skb::{Checksum, SkbError, SkbId, SkbPool};

/// A running Internet checksum: the one's-complement sum of the bytes added
/// so far, read as big-endian 16-bit words.
///
/// Bytes may arrive in pieces of any length (the chunks of an sk_buff
/// chain): a piece that starts at an odd offset pairs its first byte with
/// the previous piece's last one, exactly as if all were added at once.
///
/// Two sums compare equal when they fold to the same value at the same
/// byte parity.
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InetSum {
    /// The sum of native-endian words, not yet folded to 16 bits (kept
    /// below 2^33 between calls).
    sum: u64,
    /// An odd number of bytes has been added so far.
    odd: bool,
}

impl PartialEq for InetSum {
    fn eq(&self, other: &InetSum) -> bool {
        self.fold() == other.fold() && self.odd == other.odd
    }
}

impl Eq for InetSum {}

impl InetSum {
    /// An empty sum.
    pub const fn new() -> InetSum {
        InetSum { sum: 0, odd: false }
    }

    /// Add `data`, continuing at the byte offset where the previous call
    /// stopped.
    #[inline]
    pub fn add(&mut self, data: &[u8]) -> &mut InetSum {
        self.add_native(sum_native(data));
        self.odd ^= data.len() % 2 == 1;
        self
    }

    /// Add a 16-bit value in host order, as if its two big-endian bytes were
    /// added with [`Self::add`].
    pub fn add_u16(&mut self, value: u16) -> &mut InetSum {
        self.add_native(u64::from(u16::from_ne_bytes(value.to_be_bytes())))
    }

    /// Add a 32-bit value in host order (an IPv4 address, a sequence
    /// number), as if its four big-endian bytes were added.
    pub fn add_u32(&mut self, value: u32) -> &mut InetSum {
        self.add_native(u64::from(u32::from_ne_bytes(value.to_be_bytes())))
    }

    /// Add the bytes `[offset, offset + len)` of a packet, across its chunks.
    /// Fails with [`SkbError::TooShort`] when the packet is shorter, and
    /// [`SkbError::BadHandle`] for a stale handle.
    pub fn add_skb(
        &mut self,
        pool: &SkbPool<'_>,
        skb: &impl SkbId,
        offset: usize,
        len: usize,
    ) -> Result<&mut InetSum, SkbError> {
        if !pool.is_valid(skb) {
            return Err(SkbError::BadHandle);
        }
        if offset.checked_add(len).is_none_or(|end| end > pool.len(skb)) {
            return Err(SkbError::TooShort);
        }
        let (mut skip, mut left) = (offset, len);
        for chunk in pool.chunks(skb) {
            if left == 0 {
                break;
            }
            if let Some(part) = chunk.get(skip..) {
                let n = part.len().min(left);
                self.add(&part[..n]);
                left -= n;
            }
            skip = skip.saturating_sub(chunk.len());
        }
        Ok(self)
    }

    /// The one's-complement sum in host order: what Linux seeds into a
    /// `CHECKSUM_PARTIAL` field, and what a correct packet folds to with
    /// its checksum included (`0xffff`).
    #[inline]
    pub fn fold(&self) -> u16 {
        u16::from_be_bytes(fold(self.sum).to_ne_bytes())
    }

    /// The complement of [`Self::fold`]: the value for a checksum field.
    #[inline]
    pub fn finish(&self) -> u16 {
        !self.fold()
    }

    /// Add an unfolded native-endian partial sum (below 2^62) of an
    /// even-aligned run, at the current offset.
    #[inline]
    fn add_native(&mut self, part: u64) -> &mut InetSum {
        //= https://www.rfc-editor.org/rfc/rfc1071#section-2
        //# The sum of 16-bit integers can be computed in either byte order.
        //# [...] the result is the same [...], except the bytes are swapped
        //# in the sum!
        // A piece that starts at an odd offset pairs its bytes the other
        // way round, so its sum goes in byte-swapped.
        let part = if self.odd { u64::from(fold(part).swap_bytes()) } else { part };
        let s = self.sum + part;
        self.sum = (s & 0xffff_ffff) + (s >> 32);
        self
    }
}

/// The Internet checksum of `data`: the value for a checksum field whose
/// bytes in `data` are zero, or `0` when `data` already holds a correct one.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    InetSum::new().add(data).finish()
}

//= https://www.rfc-editor.org/rfc/rfc793#section-3.1
//# The checksum also covers a 96 bit pseudo header conceptually
//# prefixed to the TCP header.  This pseudo header contains the Source
//# Address, the Destination Address, the Protocol, and TCP length.
/// The sum of the IPv4 pseudo-header (RFC 793 and RFC 768), for TCP and UDP
/// over IPv4: add the L4 header and payload to it, or store its
/// [`InetSum::fold`] in the field for `CHECKSUM_PARTIAL`.
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, l4_len: u16) -> InetSum {
    let words = u64::from(u32::from_ne_bytes(src.octets()))
        + u64::from(u32::from_ne_bytes(dst.octets()))
        + u64::from(u16::from_ne_bytes([0, protocol.0]))
        + u64::from(u16::from_ne_bytes(l4_len.to_be_bytes()));
    InetSum { sum: words, odd: false }
}

//= https://www.rfc-editor.org/rfc/rfc1624#section-3
//# HC' = ~(~HC + ~m + m')
/// The checksum `hc` updated for a 16-bit field that changed from `old` to
/// `new` (host order), without touching the rest of the data: a TTL
/// decrement, a NAT port. A UDP checksum of 0 means "none" and must be
/// left alone by the caller.
pub fn update_u16(hc: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!hc) + u64::from(!old) + u64::from(new))
}

/// The checksum `hc` updated for a 32-bit field (an IPv4 address under NAT:
/// `u32::from(addr)`) that changed from `old` to `new`, per RFC 1624
/// equation 3 applied to both halves at once.
pub fn update_u32(hc: u16, old: u32, new: u32) -> u16 {
    let halves = |v: u32| (u64::from(v >> 16), u64::from(v & 0xffff));
    let ((oh, ol), (nh, nl)) = (halves(!old), halves(new));
    !fold(u64::from(!hc) + oh + ol + nh + nl)
}

/// Finish a `CHECKSUM_PARTIAL` packet in software (Linux's
/// `skb_checksum_help`): when its metadata says
/// [`Checksum::Partial { start, offset }`](Checksum::Partial), sum the
/// packet from `start` (an offset from the start of the first buffer) to
/// its end, the field at `start + offset` holding the folded pseudo-header
/// sum as the stack seeded it, store the complement there and mark the
/// checksum done ([`Checksum::None`]). Any other state is left as it is.
///
/// Fails with [`SkbError::TooShort`] when `start` lies below the data or
/// the field past the end of the packet, with [`SkbError::BadHandle`] for a
/// stale handle, and with the pool's error when un-sharing the bytes fails.
pub fn finish_partial(pool: &mut SkbPool<'_>, skb: &impl SkbId) -> Result<(), SkbError> {
    if !pool.is_valid(skb) {
        return Err(SkbError::BadHandle);
    }
    let Checksum::Partial { start, offset } = pool.meta(skb).csum else {
        return Ok(());
    };
    let begin = usize::from(start.checked_sub(pool.data_offset(skb)).ok_or(SkbError::TooShort)?);
    let field = begin + usize::from(offset);
    let len = pool.len(skb);
    if field + 2 > len {
        return Err(SkbError::TooShort);
    }
    let mut sum = InetSum::new();
    sum.add_skb(pool, skb, begin, len - begin)?;
    // As skb_checksum_help does, a result of 0 goes out as 0xffff (the same
    // value in one's complement), so a UDP datagram never reads as "no
    // checksum".
    let value = match sum.finish() {
        0 => 0xffff,
        v => v,
    };
    pool.write_at(skb, field, &value.to_be_bytes())?;
    pool.meta_mut(skb)?.csum = Checksum::None;
    Ok(())
}

/// Fold a sum of native-endian words to 16 bits with end-around carries
/// (Linux's `csum_fold` after `from64to32`). A sum of anything but zeros
/// never folds to zero.
#[inline]
fn fold(s: u64) -> u16 {
    // An add that carried out left at most 2^n - 2, so adding the carry
    // back cannot carry again.
    let (lo, carry) = (s as u32).overflowing_add((s >> 32) as u32);
    let s = lo + u32::from(carry);
    let (lo, carry) = (s as u16).overflowing_add((s >> 16) as u16);
    lo + u16::from(carry)
}

/// Bytes summed per block: each of the four 64-bit accumulators of
/// [`sum_block`] takes two 32-bit halves per 32 bytes, so a block of 1 GiB
/// adds at most 2^26 values below 2^32 to one, far from overflow.
const BLOCK_BYTES: usize = 1 << 30;

//= https://www.rfc-editor.org/rfc/rfc793#section-3.1
//# If a segment contains an odd number of header and text octets to be
//# checksummed, the last octet is padded on the right with zeros to form a
//# 16 bit word for checksum purposes.
/// The unfolded native-endian sum of `data` (a final odd byte padded with
/// a zero after it), below 2^61.
#[inline]
fn sum_native(data: &[u8]) -> u64 {
    if data.len() < SHORT_BYTES {
        return sum_short(data);
    }
    if data.len() <= BLOCK_BYTES {
        return sum_block(data);
    }
    data.chunks(BLOCK_BYTES).map(|block| u64::from(fold(sum_block(block)))).sum()
}

//= https://www.rfc-editor.org/rfc/rfc1071#section-2
//# On machines that have word-sizes that are multiples of 16 bits, it is
//# possible to develop even more efficient implementations.
/// The unfolded native-endian sum of at most [`BLOCK_BYTES`] bytes.
///
/// Each 64-bit word is added as its two 32-bit halves into 64-bit
/// accumulators, so no carry has to be propagated inside the loop (the
/// carries pile up in the high halves and are folded back in once at the
/// end); four independent accumulators keep the adds in flight together.
#[inline(never)]
fn sum_block(data: &[u8]) -> u64 {
    let (blocks, rest) = data.as_chunks::<32>();
    let mut acc = [0u64; 4];
    for block in blocks {
        let (words, _) = block.as_chunks::<8>();
        for (a, w) in acc.iter_mut().zip(words) {
            let w = u64::from_ne_bytes(*w);
            *a += (w & 0xffff_ffff) + (w >> 32);
        }
    }
    let (words, tail) = rest.as_chunks::<4>();
    let mut s = acc[0] + acc[1] + acc[2] + acc[3];
    for w in words {
        s += u64::from(u32::from_ne_bytes(*w));
    }
    s + sum_last3(tail)
}

/// The native-endian sum of the last (at most 3) bytes of a run: a 16-bit
/// word and a final odd byte padded with a zero after it.
#[inline]
fn sum_last3(tail: &[u8]) -> u64 {
    let (pairs, last) = tail.as_chunks::<2>();
    let mut s = 0;
    for p in pairs {
        s += u64::from(u16::from_ne_bytes(*p));
    }
    if let [b] = last {
        s += u64::from(u16::from_ne_bytes([*b, 0]));
    }
    s
}

/// Below this many bytes (headers, small segments) [`sum_short`] is
/// faster than [`sum_block`]: it is inlined into the caller and has no
/// loop to set up for vectors or accumulators to merge afterwards.
const SHORT_BYTES: usize = 256;

/// The unfolded native-endian sum of fewer than [`SHORT_BYTES`] bytes,
/// below 2^33: whole 64-bit words added into a 128-bit accumulator (an
/// add-with-carry chain), then folded to 64 and 32 bits.
#[inline]
fn sum_short(data: &[u8]) -> u64 {
    let (words, tail) = data.as_chunks::<8>();
    let mut acc = 0u128;
    for w in words {
        acc += u128::from(u64::from_ne_bytes(*w));
    }
    let (halves, tail) = tail.as_chunks::<4>();
    if let [h] = halves {
        acc += u128::from(u32::from_ne_bytes(*h));
    }
    acc += u128::from(sum_last3(tail));
    let (lo, carry) = (acc as u64).overflowing_add((acc >> 64) as u64);
    let s = lo + u64::from(carry);
    (s & 0xffff_ffff) + (s >> 32)
}

#[cfg(test)]
mod tests;

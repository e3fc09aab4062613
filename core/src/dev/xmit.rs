//! `validate_xmit_skb`: make a packet fit the device before it is handed
//! over. What the device's [`Features`] do not cover is done here in
//! software: GSO super-packets the device cannot segment (or whose buffers
//! are more than it has descriptors for) are segmented, chains are
//! linearized for devices without scatter-gather or with fewer descriptors
//! than the chain has buffers, and partial
//! checksums are finished for devices that cannot insert them.

use super::Features;
use super::gso::{GsoError, gso_segment};
use crate::skb::{Checksum, SkBuff, SkbError, SkbPool, SkbQueue};
use crate::wire::checksum::finish_partial;

/// Why a packet could not be made fit for the device. The packet is freed;
/// the caller counts the drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum XmitError {
    /// Software segmentation failed.
    Gso(GsoError),
    /// Memory ran out while linearizing or finishing a checksum.
    Skb(SkbError),
}

/// True when the device can take `skb`'s buffers as they are: one, or as
/// many as scatter-gather and its descriptor limit allow.
fn fits_buffers(pool: &SkbPool, skb: &SkBuff, f: &Features) -> bool {
    !pool.is_nonlinear(skb) || (f.sg && pool.chunk_count(skb) <= usize::from(f.max_frags))
}

/// True when the device can take `skb` as a GSO packet itself.
fn device_segments(pool: &SkbPool, skb: &SkBuff, f: &Features) -> bool {
    let meta = pool.meta(skb);
    let Some(tso) = f.tso else { return false };
    f.tx_csum && fits_buffers(pool, skb, f) && pool.len(skb) <= tso.max_size as usize && meta.gso.segs <= tso.max_segs
}

/// Prepare `skb` for a device with features `f`, appending the result (one
/// packet, or its segments) to `out`.
pub fn validate_xmit(pool: &mut SkbPool, skb: SkBuff, f: &Features, out: &mut SkbQueue) -> Result<(), XmitError> {
    if pool.meta(&skb).gso.is_gso() && !device_segments(pool, &skb, f) {
        let mut segs = SkbQueue::new();
        let res = gso_segment(pool, &skb, f.tx_csum, &mut segs);
        pool.free(skb);
        res.map_err(XmitError::Gso)?;
        out.splice_back(pool, &mut segs);
        return Ok(());
    }
    if !fits_buffers(pool, &skb, f)
        && let Err(e) = pool.linearize(&skb)
    {
        pool.free(skb);
        return Err(XmitError::Skb(e));
    }
    if matches!(pool.meta(&skb).csum, Checksum::Partial { .. })
        && !f.tx_csum
        && let Err(e) = finish_partial(pool, &skb)
    {
        pool.free(skb);
        return Err(XmitError::Skb(e));
    }
    out.push_back(pool, skb);
    Ok(())
}

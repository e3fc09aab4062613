//! Per-owner memory accounting (Linux's `sk_wmem_alloc` / `sk_rmem_alloc`
//! against `sk_sndbuf` / `sk_rcvbuf`, and the same idea for device rings and
//! reassembly), so that one owner cannot starve the others.

use super::storage::OwnerSlot;
use super::{SkbError, SkbId, SkbPool};

/// Who a packet's memory is charged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OwnerId(pub(crate) u8);

impl OwnerId {
    /// The stack itself: always present, limited only by the pool.
    pub const SYSTEM: OwnerId = OwnerId(0);

    /// The slot number (for display and tables).
    pub fn index(self) -> u8 {
        self.0
    }
}

/// An owner's accounting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OwnerStats {
    /// Bytes the owner may hold.
    pub limit: u32,
    /// Bytes the owner holds now (true size: whole buffers).
    pub used: u32,
    /// Most bytes ever held at once.
    pub peak: u32,
    /// Charges refused because of the limit.
    pub failures: u32,
}

impl SkbPool<'_> {
    /// A new owner that may hold up to `limit_bytes` of buffers.
    pub fn register_owner(&mut self, limit_bytes: u32) -> Result<OwnerId, SkbError> {
        let i = self.owners.iter().position(|o| o.state == OwnerSlot::FREE).ok_or(SkbError::BadOwner)?;
        self.owners[i] = OwnerSlot { state: OwnerSlot::ACTIVE, limit: limit_bytes, ..OwnerSlot::EMPTY };
        Ok(OwnerId(i as u8))
    }

    /// Give up an owner id. Packets still charged to it keep their charge;
    /// the slot is reused only once the last of them is freed (as a Linux
    /// socket outlives `close` until its transmitted buffers complete).
    pub fn release_owner(&mut self, owner: OwnerId) -> Result<(), SkbError> {
        if owner == OwnerId::SYSTEM {
            return Err(SkbError::BadOwner);
        }
        let o = self.active_owner(owner)?;
        o.state = if o.used == 0 { OwnerSlot::FREE } else { OwnerSlot::CLOSING };
        Ok(())
    }

    /// Change an owner's limit (for `SO_SNDBUF` / `SO_RCVBUF`). Bytes already
    /// held stay charged even if above the new limit.
    pub fn set_owner_limit(&mut self, owner: OwnerId, limit_bytes: u32) -> Result<(), SkbError> {
        if owner == OwnerId::SYSTEM {
            return Err(SkbError::BadOwner);
        }
        self.active_owner(owner)?.limit = limit_bytes;
        Ok(())
    }

    /// An owner's accounting, or `None` for an unknown id.
    pub fn owner_stats(&self, owner: OwnerId) -> Option<OwnerStats> {
        let o = self.owners.get(usize::from(owner.0))?;
        (o.state != OwnerSlot::FREE).then_some(OwnerStats {
            limit: o.limit,
            used: o.used,
            peak: o.peak,
            failures: o.failures,
        })
    }

    /// Bytes `owner` may still take before reaching its limit.
    pub fn owner_room(&self, owner: OwnerId) -> u32 {
        match self.owners.get(usize::from(owner.0)) {
            Some(o) if o.state == OwnerSlot::ACTIVE => o.limit.saturating_sub(o.used),
            _ => 0,
        }
    }

    /// The owner a packet is charged to.
    pub fn owner_of(&self, skb: &impl SkbId) -> Option<OwnerId> {
        self.slot(skb).map(|i| OwnerId(self.heads[i].owner))
    }

    /// The bytes a packet is charged for (one whole buffer per chunk).
    pub fn truesize(&self, skb: &impl SkbId) -> u32 {
        self.slot(skb).map_or(0, |i| self.heads[i].truesize)
    }

    /// Move a packet's charge to `owner` (`skb_set_owner_r` when a packet is
    /// queued to a socket). Refused with [`SkbError::OverLimit`], leaving the
    /// packet with its old owner, when `owner` has no room for it.
    pub fn charge(&mut self, skb: &impl SkbId, owner: OwnerId) -> Result<(), SkbError> {
        self.transfer(skb, owner, Admit::Room)
    }

    /// [`Self::charge`] with a socket buffer's rule rather than a hard cap:
    /// admitted while `owner` is below its limit, however big the packet,
    /// so the last one may take it past (by at most that packet). Linux
    /// queues a datagram while `sk_rmem_alloc` has not passed `sk_rcvbuf`
    /// and allocates one while `sk_wmem_alloc` is below `sk_sndbuf`: a
    /// datagram larger than the buffer still goes through an empty one.
    pub fn charge_within(&mut self, skb: &impl SkbId, owner: OwnerId) -> Result<(), SkbError> {
        self.transfer(skb, owner, Admit::BelowLimit)
    }

    /// Move a packet's charge to `owner` whatever its limit: for bytes
    /// already admitted in another form (the fragments of a datagram the
    /// socket's buffer took whole, as Linux's `skb_set_owner_w` charges
    /// them). A closed owner is refused.
    pub(crate) fn charge_force(&mut self, skb: &impl SkbId, owner: OwnerId) -> Result<(), SkbError> {
        self.transfer(skb, owner, Admit::Always)
    }

    /// Move the charge of `skb` to `owner` if `rule` admits it.
    fn transfer(&mut self, skb: &impl SkbId, owner: OwnerId, rule: Admit) -> Result<(), SkbError> {
        let i = self.slot(skb).ok_or(SkbError::BadHandle)?;
        let (old, size) = (self.heads[i].owner, self.heads[i].truesize);
        if old == owner.0 {
            return Ok(());
        }
        match rule {
            Admit::Room => self.charge_check(owner, size)?,
            Admit::BelowLimit => {
                let o = self.active_owner(owner)?;
                if o.used >= o.limit {
                    o.failures += 1;
                    self.stats.limit_failures += 1;
                    return Err(SkbError::OverLimit);
                }
            }
            Admit::Always => {
                self.active_owner(owner)?;
            }
        }
        self.charge_sub(old, size);
        self.charge_add(owner.0, size);
        self.heads[i].owner = owner.0;
        Ok(())
    }

    fn active_owner(&mut self, owner: OwnerId) -> Result<&mut OwnerSlot, SkbError> {
        match self.owners.get_mut(usize::from(owner.0)) {
            Some(o) if o.state == OwnerSlot::ACTIVE => Ok(o),
            _ => Err(SkbError::BadOwner),
        }
    }

    /// Refuse (and count) a charge of `bytes` that `owner` has no room for.
    pub(crate) fn charge_check(&mut self, owner: OwnerId, bytes: u32) -> Result<(), SkbError> {
        let o = self.active_owner(owner)?;
        if o.used.saturating_add(bytes) > o.limit {
            o.failures += 1;
            self.stats.limit_failures += 1;
            return Err(SkbError::OverLimit);
        }
        Ok(())
    }

    /// Add a checked (or transferred) charge.
    pub(crate) fn charge_add(&mut self, owner: u8, bytes: u32) {
        if let Some(o) = self.owners.get_mut(usize::from(owner)) {
            o.used = o.used.saturating_add(bytes);
            o.peak = o.peak.max(o.used);
        }
    }

    /// Remove a charge; a closing owner whose last byte goes becomes free.
    pub(crate) fn charge_sub(&mut self, owner: u8, bytes: u32) {
        if let Some(o) = self.owners.get_mut(usize::from(owner)) {
            o.used = o.used.saturating_sub(bytes);
            if o.used == 0 && o.state == OwnerSlot::CLOSING {
                *o = OwnerSlot::EMPTY;
            }
        }
    }
}

/// When an owner takes on a packet's charge.
#[derive(Clone, Copy)]
enum Admit {
    /// Only if the whole packet fits under the limit.
    Room,
    /// While the owner is below its limit (a socket buffer's rule).
    BelowLimit,
    /// Whatever the limit (bytes already admitted).
    Always,
}

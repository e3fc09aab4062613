//! The pool itself: slot allocation and release in O(1), reference counts,
//! handle validation and statistics.

use super::meta::Meta;
use super::owner::OwnerId;
use super::storage::{BufInfo, F_FRAG, F_NOHDR, Head, NIL, OwnerSlot, PoolStorage};
use super::{SkBuff, SkbError, SkbId, SkbRef};

/// Pool occupancy and failure counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PoolStats {
    /// Size of one data buffer in bytes.
    pub buf_size: u16,
    /// Heads in the pool.
    pub heads_total: u16,
    /// Heads in use now.
    pub heads_in_use: u16,
    /// Most heads ever in use at once.
    pub heads_high_water: u16,
    /// Buffers in the pool.
    pub bufs_total: u16,
    /// Buffers in use now.
    pub bufs_in_use: u16,
    /// Most buffers ever in use at once.
    pub bufs_high_water: u16,
    /// Allocations refused because no head or buffer was free.
    pub alloc_failures: u32,
    /// Allocations refused because the owner was at its limit.
    pub limit_failures: u32,
    /// Calls made with a stale or foreign handle (a bug in the caller).
    pub bad_handles: u32,
}

impl PoolStats {
    /// True when nothing is allocated: the state every scenario must end in.
    pub fn is_idle(&self) -> bool {
        self.heads_in_use == 0 && self.bufs_in_use == 0
    }
}

/// Caller-provided slices for a pool, for hosts that allocate them on the
/// heap (a large [`PoolStorage`] would not fit on a thread's stack).
pub struct PoolParts<'a> {
    /// Head slots, each [`Head::EMPTY`].
    pub heads: &'a mut [Head],
    /// One record per buffer, each [`BufInfo::EMPTY`].
    pub info: &'a mut [BufInfo],
    /// `info.len() * buf_size` bytes of buffer memory.
    pub data: &'a mut [u8],
    /// Owner slots, each [`OwnerSlot::EMPTY`]; at least one.
    pub owners: &'a mut [OwnerSlot],
    /// Bytes per buffer.
    pub buf_size: usize,
}

/// A pool of sk_buffs. See the [module documentation](super).
pub struct SkbPool<'a> {
    pub(crate) heads: &'a mut [Head],
    pub(crate) info: &'a mut [BufInfo],
    pub(crate) data: &'a mut [u8],
    pub(crate) owners: &'a mut [OwnerSlot],
    pub(crate) buf_size: u16,
    free_head: u16,
    free_buf: u16,
    pub(crate) stats: PoolStats,
}

impl<'a> SkbPool<'a> {
    /// A pool over `storage`. All slots are free afterwards; this is the only
    /// O(n) operation of the pool.
    pub fn new<const H: usize, const B: usize, const S: usize, const O: usize>(
        storage: &'a mut PoolStorage<H, B, S, O>,
    ) -> SkbPool<'a> {
        // PoolStorage::new checked the parameters at compile time.
        Self::init(PoolParts {
            heads: &mut storage.heads,
            info: &mut storage.info,
            data: storage.data.as_flattened_mut(),
            owners: &mut storage.owners,
            buf_size: S,
        })
    }

    /// A pool over caller-provided slices. Fails with [`SkbError::BadHandle`]
    /// when the slices disagree: `data.len() != info.len() * buf_size`, a
    /// buffer size outside `64..=65535`, more than 65534 heads or buffers, or
    /// no owner slot (more than 255 are ignored).
    pub fn from_parts(parts: PoolParts<'a>) -> Result<SkbPool<'a>, SkbError> {
        let PoolParts { heads, info, data, owners, buf_size } = parts;
        let sizes_ok = (64..=usize::from(u16::MAX)).contains(&buf_size)
            && !heads.is_empty()
            && heads.len() < usize::from(NIL)
            && !info.is_empty()
            && info.len() < usize::from(NIL)
            && data.len() == info.len() * buf_size
            && !owners.is_empty();
        if !sizes_ok {
            return Err(SkbError::BadHandle);
        }
        Ok(Self::init(PoolParts { heads, info, data, owners, buf_size }))
    }

    /// Build the free lists over parts whose shape was checked.
    fn init(parts: PoolParts<'a>) -> SkbPool<'a> {
        let PoolParts { heads, info, data, owners, buf_size } = parts;
        let owners_len = owners.len().min(255);
        let owners = &mut owners[..owners_len];
        let n_heads = heads.len() as u16;
        for (i, h) in heads.iter_mut().enumerate() {
            *h = Head::EMPTY;
            h.next = if i as u16 + 1 < n_heads { i as u16 + 1 } else { NIL };
        }
        let n_bufs = info.len() as u16;
        for (i, b) in info.iter_mut().enumerate() {
            *b = BufInfo::EMPTY;
            b.next_free = if i as u16 + 1 < n_bufs { i as u16 + 1 } else { NIL };
        }
        for o in owners.iter_mut() {
            *o = OwnerSlot::EMPTY;
        }
        // Slot 0 is the system owner: always active, unlimited.
        owners[0] = OwnerSlot { state: OwnerSlot::ACTIVE, limit: u32::MAX, ..OwnerSlot::EMPTY };
        let stats =
            PoolStats { buf_size: buf_size as u16, heads_total: n_heads, bufs_total: n_bufs, ..PoolStats::default() };
        SkbPool { heads, info, data, owners, buf_size: buf_size as u16, free_head: 0, free_buf: 0, stats }
    }

    /// Bytes per data buffer.
    pub fn buf_size(&self) -> usize {
        usize::from(self.buf_size)
    }

    /// Occupancy and failure counters.
    pub fn stats(&self) -> PoolStats {
        self.stats
    }

    /// Free buffers left.
    pub fn free_bufs(&self) -> usize {
        usize::from(self.stats.bufs_total - self.stats.bufs_in_use)
    }

    /// Free heads left.
    pub fn free_heads(&self) -> usize {
        usize::from(self.stats.heads_total - self.stats.heads_in_use)
    }

    /// Allocate an empty packet (one head, one buffer, no headroom reserved)
    /// charged to `owner`.
    pub fn alloc(&mut self, owner: OwnerId) -> Result<SkBuff, SkbError> {
        self.charge_check(owner, u32::from(self.buf_size))?;
        let idx = self.alloc_chunk()?;
        self.charge_add(owner.0, u32::from(self.buf_size));
        let h = &mut self.heads[usize::from(idx)];
        h.owner = owner.0;
        h.truesize = u32::from(self.buf_size);
        Ok(SkBuff { idx, generation: h.generation })
    }

    /// Allocate an empty packet with `headroom` bytes reserved for headers.
    pub fn alloc_with_headroom(&mut self, owner: OwnerId, headroom: usize) -> Result<SkBuff, SkbError> {
        self.alloc_sized(owner, headroom, 0)
    }

    /// Allocate a linear packet of `len` bytes after `headroom`, as
    /// [`Self::alloc_with_headroom`] then [`Self::put`] would, without
    /// writing them: a receive buffer for a device to fill (its bytes are
    /// whatever the buffer last held). Fails with [`SkbError::NoHeadroom`]
    /// or [`SkbError::NoTailroom`] when they do not fit one buffer.
    pub fn alloc_sized(&mut self, owner: OwnerId, headroom: usize, len: usize) -> Result<SkBuff, SkbError> {
        if headroom > self.buf_size() {
            return Err(SkbError::NoHeadroom);
        }
        if len > self.buf_size() - headroom {
            return Err(SkbError::NoTailroom);
        }
        let skb = self.alloc(owner)?;
        let h = &mut self.heads[usize::from(skb.idx)];
        h.data = headroom as u16;
        h.tail = (headroom + len) as u16;
        Ok(skb)
    }

    /// Return a packet (with all its chunks) to the pool and uncharge its owner.
    pub fn free(&mut self, skb: SkBuff) {
        match self.slot(&skb) {
            Some(i) => {
                let (owner, truesize) = (self.heads[i].owner, self.heads[i].truesize);
                self.charge_sub(owner, truesize);
                self.free_chain(skb.idx);
            }
            None => self.stats.bad_handles += 1,
        }
    }

    /// The packet's metadata. A stale handle reads default metadata.
    pub fn meta(&self, skb: &impl SkbId) -> &Meta {
        const DEFAULT: Meta = Meta::new();
        match self.slot(skb) {
            Some(i) => &self.heads[i].meta,
            None => &DEFAULT,
        }
    }

    /// The packet's metadata, for writing.
    pub fn meta_mut(&mut self, skb: &impl SkbId) -> Result<&mut Meta, SkbError> {
        let i = self.slot(skb).ok_or(SkbError::BadHandle)?;
        Ok(&mut self.heads[i].meta)
    }

    /// The reference of a valid handle, or `None` if it is stale or foreign.
    pub fn is_valid(&self, skb: &impl SkbId) -> bool {
        self.slot(skb).is_some()
    }

    /// The index of the packet's first head if `skb` names a live packet.
    pub(crate) fn slot(&self, skb: &impl SkbId) -> Option<usize> {
        let r = skb.skb_ref();
        let h = self.heads.get(usize::from(r.idx))?;
        (h.generation == r.generation && h.buf != NIL && h.flags & F_FRAG == 0).then_some(usize::from(r.idx))
    }

    /// The reference for a live head index.
    pub(crate) fn ref_of(&self, idx: u16) -> SkbRef {
        // An index from another pool's queue names nothing here: the
        // reference is then refused wherever it is used.
        SkbRef { idx, generation: self.heads.get(usize::from(idx)).map_or(0, |h| h.generation) }
    }

    /// Take one head with a fresh buffer (refcount 1), data = tail = 0.
    pub(crate) fn alloc_chunk(&mut self) -> Result<u16, SkbError> {
        if self.free_head == NIL {
            self.stats.alloc_failures += 1;
            return Err(SkbError::NoHeads);
        }
        let buf = self.alloc_buf()?;
        let idx = self.take_head();
        let h = &mut self.heads[usize::from(idx)];
        h.buf = buf;
        Ok(idx)
    }

    /// Take a head (the caller checked one is free) and reset it.
    pub(crate) fn take_head(&mut self) -> u16 {
        let idx = self.free_head;
        let h = &mut self.heads[usize::from(idx)];
        self.free_head = h.next;
        let generation = h.generation;
        *h = Head { generation, ..Head::EMPTY };
        self.stats.heads_in_use += 1;
        self.stats.heads_high_water = self.stats.heads_high_water.max(self.stats.heads_in_use);
        idx
    }

    /// A head with no buffer yet, for clones; fails when none is free.
    pub(crate) fn alloc_head(&mut self) -> Result<u16, SkbError> {
        if self.free_head == NIL {
            self.stats.alloc_failures += 1;
            return Err(SkbError::NoHeads);
        }
        Ok(self.take_head())
    }

    /// A fresh buffer with one reference.
    pub(crate) fn alloc_buf(&mut self) -> Result<u16, SkbError> {
        let buf = self.free_buf;
        if buf == NIL {
            self.stats.alloc_failures += 1;
            return Err(SkbError::NoBuffers);
        }
        let info = &mut self.info[usize::from(buf)];
        self.free_buf = info.next_free;
        *info = BufInfo { refs: 1, ..BufInfo::EMPTY };
        self.stats.bufs_in_use += 1;
        self.stats.bufs_high_water = self.stats.bufs_high_water.max(self.stats.bufs_in_use);
        Ok(buf)
    }

    /// Point head `idx` at buffer `buf` as one more reference.
    pub(crate) fn share_buf(&mut self, idx: u16, buf: u16) {
        self.info[usize::from(buf)].refs += 1;
        self.heads[usize::from(idx)].buf = buf;
    }

    /// Drop head `idx`'s reference to its buffer, freeing the buffer on the last one.
    pub(crate) fn put_buf(&mut self, idx: u16) {
        let h = &mut self.heads[usize::from(idx)];
        let buf = h.buf;
        let nohdr = h.flags & F_NOHDR != 0;
        h.flags &= !F_NOHDR;
        h.buf = NIL;
        let info = &mut self.info[usize::from(buf)];
        if nohdr {
            info.nohdr -= 1;
            if info.nohdr == 0 {
                info.floor = NIL;
            }
        }
        info.refs -= 1;
        if info.refs == 0 {
            info.next_free = self.free_buf;
            self.free_buf = buf;
            self.stats.bufs_in_use -= 1;
        }
    }

    /// Release head `idx` and its buffer reference (not its chain).
    pub(crate) fn free_head_only(&mut self, idx: u16) {
        self.put_buf(idx);
        self.release_head_slot(idx);
    }

    /// Put head `idx` back on the free list; its buffer reference must
    /// already be dropped or moved elsewhere.
    pub(crate) fn release_head_slot(&mut self, idx: u16) {
        let h = &mut self.heads[usize::from(idx)];
        h.generation = h.generation.wrapping_add(1);
        h.buf = NIL;
        h.flags = 0;
        h.frag = NIL;
        h.prev = NIL;
        h.next = self.free_head;
        self.free_head = idx;
        self.stats.heads_in_use -= 1;
    }

    /// Release head `idx` and every chunk chained after it.
    pub(crate) fn free_chain(&mut self, mut idx: u16) {
        // The chain is acyclic and each head is released once, so this loop
        // runs at most `heads.len()` times.
        while idx != NIL {
            let next = self.heads[usize::from(idx)].frag;
            self.free_head_only(idx);
            idx = next;
        }
    }

    /// The bytes of buffer `buf`.
    pub(crate) fn buf_bytes(&self, buf: u16) -> &[u8] {
        let size = self.buf_size();
        let start = usize::from(buf) * size;
        &self.data[start..start + size]
    }

    /// The bytes of buffer `buf`, for writing.
    pub(crate) fn buf_bytes_mut(&mut self, buf: u16) -> &mut [u8] {
        let size = self.buf_size();
        let start = usize::from(buf) * size;
        &mut self.data[start..start + size]
    }

    /// True when only head `idx` references its buffer.
    pub(crate) fn buf_exclusive(&self, idx: u16) -> bool {
        self.info[usize::from(self.heads[usize::from(idx)].buf)].refs == 1
    }
}

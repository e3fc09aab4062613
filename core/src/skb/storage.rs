//! Caller-provided storage for an sk_buff pool.
//!
//! A [`PoolStorage`] is a plain value with all memory fixed by its const
//! parameters, built by a `const fn`, so firmware can place it in a `static`
//! (for example through `static_cell::StaticCell`) and hand the stack a
//! `&'static mut` to it. A hosted program can put it in a `Box` or on the stack.

use super::meta::Meta;

/// Index value meaning "no slot".
pub(crate) const NIL: u16 = u16::MAX;

/// Head flag: the head sits on an [`SkbQueue`](super::SkbQueue).
pub(crate) const F_QUEUED: u8 = 1;
/// Head flag: the head promised not to read or write below its data pointer
/// (Linux's `skb->nohdr`), so a clone may push headers without a copy.
pub(crate) const F_NOHDR: u8 = 2;
/// Head flag: the head is a continuation chunk of another packet.
pub(crate) const F_FRAG: u8 = 4;

/// One sk_buff head: a view `[data, tail)` into one data buffer, the link to
/// the next chunk of a packet larger than one buffer, queue links, and, on the
/// first chunk of a packet, the packet's length, accounting and metadata.
#[derive(Clone, Copy, Debug)]
pub struct Head {
    pub(crate) generation: u16,
    pub(crate) buf: u16,
    pub(crate) data: u16,
    pub(crate) tail: u16,
    pub(crate) frag: u16,
    pub(crate) prev: u16,
    pub(crate) next: u16,
    pub(crate) flags: u8,
    pub(crate) owner: u8,
    pub(crate) data_len: u32,
    pub(crate) truesize: u32,
    pub(crate) meta: Meta,
}

impl Head {
    /// An unused head, for filling caller-provided storage.
    pub const EMPTY: Head = Head {
        generation: 0,
        buf: NIL,
        data: 0,
        tail: 0,
        frag: NIL,
        prev: NIL,
        next: NIL,
        flags: 0,
        owner: 0,
        data_len: 0,
        truesize: 0,
        meta: Meta::new(),
    };
}

/// Per-buffer bookkeeping (Linux keeps the same in `skb_shared_info`).
#[derive(Clone, Copy, Debug)]
pub struct BufInfo {
    /// Heads referencing this buffer; `0` when the buffer is free.
    pub(crate) refs: u16,
    /// How many of those heads carry [`F_NOHDR`].
    pub(crate) nohdr: u16,
    /// The lowest data offset any of those heads had when it released its
    /// header area: bytes below it are read by no released head.
    pub(crate) floor: u16,
    /// Free-list link.
    pub(crate) next_free: u16,
}

impl BufInfo {
    /// An unused buffer record, for filling caller-provided storage.
    pub const EMPTY: BufInfo = BufInfo { refs: 0, nohdr: 0, floor: NIL, next_free: NIL };
}

/// Accounting state of one owner (a socket, a device ring, a reassembly queue...).
#[derive(Clone, Copy, Debug)]
pub struct OwnerSlot {
    pub(crate) state: u8,
    pub(crate) limit: u32,
    pub(crate) used: u32,
    pub(crate) peak: u32,
    pub(crate) failures: u32,
}

impl OwnerSlot {
    pub(crate) const FREE: u8 = 0;
    pub(crate) const ACTIVE: u8 = 1;
    pub(crate) const CLOSING: u8 = 2;
    /// An unused owner slot, for filling caller-provided storage.
    pub const EMPTY: OwnerSlot = OwnerSlot { state: Self::FREE, limit: 0, used: 0, peak: 0, failures: 0 };
}

/// Memory for a pool of `BUFS` data buffers of `SIZE` bytes each, `HEADS`
/// sk_buff heads (one per packet chunk or clone) and `OWNERS` accounting
/// slots (slot 0 is the unlimited system owner).
///
/// RAM cost, checked by a test against `core::mem::size_of`:
///
/// ```text
/// size_of::<PoolStorage<H, B, S, O>>()
///     = H * HEAD_BYTES + B * (S + BUF_INFO_BYTES) + O * OWNER_BYTES   (+ padding < 8)
/// ```
///
/// with [`HEAD_BYTES`], [`BUF_INFO_BYTES`] and [`OWNER_BYTES`] below (on
/// 32-bit and 64-bit targets alike). A 1500-byte MTU wants `SIZE` of at least
/// 1536 + headroom; 2048 is the usual choice.
pub struct PoolStorage<const HEADS: usize, const BUFS: usize, const SIZE: usize, const OWNERS: usize> {
    pub(crate) heads: [Head; HEADS],
    pub(crate) info: [BufInfo; BUFS],
    pub(crate) data: [[u8; SIZE]; BUFS],
    pub(crate) owners: [OwnerSlot; OWNERS],
}

/// Bytes one sk_buff head costs.
pub const HEAD_BYTES: usize = core::mem::size_of::<Head>();
/// Bookkeeping bytes one data buffer costs on top of its `SIZE`.
pub const BUF_INFO_BYTES: usize = core::mem::size_of::<BufInfo>();
/// Bytes one accounting slot costs.
pub const OWNER_BYTES: usize = core::mem::size_of::<OwnerSlot>();

impl<const HEADS: usize, const BUFS: usize, const SIZE: usize, const OWNERS: usize>
    PoolStorage<HEADS, BUFS, SIZE, OWNERS>
{
    /// Zeroed storage. Fails to compile when a parameter is out of range:
    /// `HEADS` and `BUFS` in `1..=65534`, `SIZE` in `64..=65535`, `OWNERS` in
    /// `1..=255`.
    pub const fn new() -> Self {
        const {
            assert!(HEADS >= 1 && HEADS < NIL as usize, "HEADS must be in 1..=65534");
            assert!(BUFS >= 1 && BUFS < NIL as usize, "BUFS must be in 1..=65534");
            assert!(SIZE >= 64 && SIZE <= u16::MAX as usize, "SIZE must be in 64..=65535");
            assert!(OWNERS >= 1 && OWNERS <= 255, "OWNERS must be in 1..=255");
        }
        PoolStorage {
            heads: [Head::EMPTY; HEADS],
            info: [BufInfo::EMPTY; BUFS],
            data: [[0; SIZE]; BUFS],
            owners: [OwnerSlot::EMPTY; OWNERS],
        }
    }

    /// The RAM this storage costs, by the formula above (without padding).
    pub const fn ram_bytes() -> usize {
        HEADS * HEAD_BYTES + BUFS * (SIZE + BUF_INFO_BYTES) + OWNERS * OWNER_BYTES
    }
}

impl<const HEADS: usize, const BUFS: usize, const SIZE: usize, const OWNERS: usize> Default
    for PoolStorage<HEADS, BUFS, SIZE, OWNERS>
{
    fn default() -> Self {
        Self::new()
    }
}

//! sk_buffs in fixed memory pools: Linux's `struct sk_buff`, `skb_shared_info`
//! and `struct sk_buff_head`, without a heap, in safe Rust.
//!
//! # Model
//!
//! A [`SkbPool`] owns three kinds of slots, all in caller-provided storage
//! ([`PoolStorage`]): **data buffers** of a fixed size, **heads** that view a
//! byte range `[data, tail)` of one buffer, and **owner** accounting slots.
//! A packet is a head (carrying the packet's [`Meta`]data) whose buffer holds
//! the linear part, followed by a chain of continuation heads for packets
//! larger than one buffer (up to 64 KiB and beyond: TSO and GRO super-packets),
//! like Linux's `frag_list`.
//!
//! ```text
//!  head           data             tail              end
//!   |<- headroom ->|<--- linear --->|<-- tailroom -->|      first buffer
//!                                      frag -> [data, tail) -> [data, tail) ...
//! ```
//!
//! Buffers are reference counted, so [`SkbPool::clone`] shares data (a TCP
//! retransmission clones a queued segment instead of copying it); writing to a
//! shared buffer first un-shares it (copy-on-write). A head that promises not
//! to touch the bytes below its data pointer ([`SkbPool::header_release`], Linux's
//! `skb_header_release`) lets one clone push headers in place.
//!
//! [`SkBuff`] is the owning handle of a packet: it is neither `Copy` nor
//! `Clone`, and ownership moves with it (into a queue, to a device, back to
//! the pool with [`SkbPool::free`]). A handle dropped without being freed is
//! a leak that the pool's accounting shows ([`PoolStats::heads_in_use`]).
//! [`SkbRef`] names a packet without owning it (for example one sitting on a
//! queue); both carry a generation, so a stale reference is refused rather
//! than aliasing a reused slot.
//!
//! # Accounting
//!
//! Every packet is charged to an owner ([`OwnerId`]) for its true size (one
//! buffer per chunk), against the owner's limit: a socket's send or receive
//! buffer, a device's RX ring, the reassembly queue. When one owner reaches
//! its limit, its allocations fail with [`SkbError::OverLimit`] while other
//! owners go on. Exhaustion of the pool itself is [`SkbError::NoBuffers`] or
//! [`SkbError::NoHeads`]: an ordinary error, never a panic.
//!
//! # Interrupts
//!
//! The pool is never touched from interrupt context: interrupt handlers only
//! record events (under `critical-section`, see the device layer) and all
//! buffer work happens in `poll`. So the pool needs no lock and costs none.

mod chain;
mod meta;
mod ops;
mod owner;
mod pool;
mod queue;
mod storage;

#[cfg(test)]
mod tests;

pub use chain::Chunks;
pub use meta::{Checksum, Gso, GsoType, IfIndex, Meta, OFFSET_UNSET, PacketType, VirtioNetHdr};
pub use owner::{OwnerId, OwnerStats};
pub use pool::{PoolParts, PoolStats, SkbPool};
pub use queue::{QueueIter, SkbQueue};
pub use storage::{BUF_INFO_BYTES, BufInfo, HEAD_BYTES, Head, OWNER_BYTES, OwnerSlot, PoolStorage};

use core::fmt;

/// What went wrong with an sk_buff operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SkbError {
    /// No free head slot.
    NoHeads,
    /// No free data buffer.
    NoBuffers,
    /// The owner reached its limit.
    OverLimit,
    /// Not enough headroom for a push or reserve.
    NoHeadroom,
    /// Not enough tailroom for a put.
    NoTailroom,
    /// The packet is shorter than the request (pull, read, write past the end).
    TooShort,
    /// The operation needs a linear packet (no continuation chunks).
    Nonlinear,
    /// `reserve` on a packet that already holds data.
    NotEmpty,
    /// The handle is stale (freed, or from another pool) or was never valid.
    BadHandle,
    /// The owner id is unknown, or no owner slot is free.
    BadOwner,
    /// The packet is not on this queue.
    NotQueued,
}

impl fmt::Display for SkbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            SkbError::NoHeads => "no free sk_buff head",
            SkbError::NoBuffers => "no free data buffer",
            SkbError::OverLimit => "owner over its memory limit",
            SkbError::NoHeadroom => "not enough headroom",
            SkbError::NoTailroom => "not enough tailroom",
            SkbError::TooShort => "packet too short",
            SkbError::Nonlinear => "packet is not linear",
            SkbError::NotEmpty => "packet is not empty",
            SkbError::BadHandle => "stale or foreign sk_buff handle",
            SkbError::BadOwner => "unknown owner or no owner slot free",
            SkbError::NotQueued => "packet is not on this queue",
        };
        f.write_str(s)
    }
}

impl core::error::Error for SkbError {}

/// The owning handle of one packet in a [`SkbPool`].
///
/// Not `Copy`, not `Clone`: a packet has one owner at a time. Give it back
/// with [`SkbPool::free`], or move it into a queue or a device.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "an sk_buff must be freed, queued or handed on, or the pool leaks it"]
pub struct SkBuff {
    pub(crate) idx: u16,
    pub(crate) generation: u16,
}

/// A non-owning name of a packet (for instance one sitting on a queue). Valid
/// until the packet is freed; after that every use is refused as
/// [`SkbError::BadHandle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SkbRef {
    pub(crate) idx: u16,
    pub(crate) generation: u16,
}

impl SkBuff {
    /// End this handle because its packet now lives elsewhere (a queue, or
    /// another packet's chain); the pool keeps the slots.
    pub(crate) fn consumed(self) {
        let SkBuff { idx: _, generation: _ } = self;
    }

    /// A non-owning reference to this packet.
    pub fn as_ref(&self) -> SkbRef {
        SkbRef { idx: self.idx, generation: self.generation }
    }
}

/// Anything that names a packet: an owning [`SkBuff`] or an [`SkbRef`].
pub trait SkbId {
    /// The packet's non-owning reference.
    fn skb_ref(&self) -> SkbRef;
}

impl SkbId for SkBuff {
    fn skb_ref(&self) -> SkbRef {
        self.as_ref()
    }
}

impl SkbId for SkbRef {
    fn skb_ref(&self) -> SkbRef {
        *self
    }
}

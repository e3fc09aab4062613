//! Netfilter: the five hook points of the IPv4 path, where modules inspect,
//! change, drop or take packets (Linux's `nf_hook` and `NF_INET_*`).
//!
//! ```text
//!  wire -> PREROUTING -> routing -+-> INPUT -> local sockets
//!                                 |
//!                                 +-> FORWARD -+
//!                                              +-> POSTROUTING -> wire
//!  local sockets -> OUTPUT -> routing ---------+
//! ```
//!
//! Hooks are static: a module implements [`NfHooks`] and the world is
//! generic over it, so there is no `dyn` and no heap, and a world without
//! hooks (`()`) compiles the calls away. Several modules compose as a tuple
//! `(A, B)`, which calls `A` first and `B` only if `A` accepted.

use crate::netns::NsId;
use crate::skb::{IfIndex, SkBuff, SkbPool};
use crate::time::Instant;

/// A hook point (`NF_INET_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NfHook {
    /// Arriving from an interface, before the routing decision.
    PreRouting,
    /// Routed to this host, before delivery to a socket.
    LocalIn,
    /// Routed through this host.
    Forward,
    /// Sent by a local socket, after its route was chosen.
    LocalOut,
    /// Leaving through an interface, forwarded or local.
    PostRouting,
}

/// What a hook decided.
#[derive(Debug)]
pub enum NfVerdict {
    /// Let the packet go on (perhaps changed).
    Accept(SkBuff),
    /// Drop it; the stack frees it and counts the drop.
    Drop(SkBuff),
    /// The hook kept the packet (queued it, or freed it itself).
    Stolen,
}

/// Where a packet is when a hook sees it.
#[derive(Clone, Copy, Debug)]
pub struct NfState {
    /// The hook point.
    pub hook: NfHook,
    /// The namespace.
    pub ns: NsId,
    /// The interface it arrived on (`PreRouting`, `LocalIn`, `Forward`).
    pub iif: Option<IfIndex>,
    /// The interface it leaves through (`Forward`, `LocalOut`, `PostRouting`).
    pub oif: Option<IfIndex>,
    /// The time of this poll.
    pub now: Instant,
}

/// A netfilter module. `skb`'s data starts at its IPv4 header.
pub trait NfHooks {
    /// Decide about `skb` at `state.hook`. The default accepts everything.
    fn hook(&mut self, pool: &mut SkbPool, state: &NfState, skb: SkBuff) -> NfVerdict {
        let _ = (pool, state);
        NfVerdict::Accept(skb)
    }
}

impl NfHooks for () {}

impl<A: NfHooks, B: NfHooks> NfHooks for (A, B) {
    fn hook(&mut self, pool: &mut SkbPool, state: &NfState, skb: SkBuff) -> NfVerdict {
        match self.0.hook(pool, state, skb) {
            NfVerdict::Accept(skb) => self.1.hook(pool, state, skb),
            other => other,
        }
    }
}

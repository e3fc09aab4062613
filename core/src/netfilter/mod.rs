//! Netfilter: the five hook points of the IPv4 path, where modules inspect,
//! change, drop or take packets (Linux's `nf_hook` and `NF_INET_*`), and
//! on them nftables: tables, chains, rules and sets, connection tracking
//! and NAT (Linux's `nf_tables`, `nf_conntrack` and `nf_nat`).
//!
//! ```text
//!  wire -> PREROUTING -> routing -+-> INPUT -> local sockets
//!                                 |
//!                                 +-> FORWARD -+
//!                                              +-> POSTROUTING -> wire
//!  local sockets -> OUTPUT -> routing ---------+
//! ```
//!
//! # Two kinds of modules
//!
//! **Static hooks.** A module implements [`NfHooks`] and the world is
//! generic over it, so there is no `dyn` and no heap, and a world without
//! hooks (`()`) compiles the calls away. Several modules compose as a tuple
//! `(A, B)`, which calls `A` first and `B` only if `A` accepted.
//!
//! **Rule tables.** nftables is configured at run time, with the commands
//! of the `nft` tool ([`World::nft`](crate::netns::World::nft)):
//!
//! ```text
//! nft add table inet filter
//! nft add chain inet filter input { type filter hook input priority 0 ; policy accept ; }
//! nft add rule inet filter input ip saddr 192.168.1.0/24 drop
//! nft add rule inet filter input tcp dport 22 drop
//! nft list table inet filter
//! ```
//!
//! # Where the rule engine lives, and why
//!
//! The rule engine is not an [`NfHooks`] module: it lives inside the world,
//! in an `Option` field, over storage given with
//! [`World::attach_nft`](crate::netns::World::attach_nft). Its statements
//! need the world's insides at every turn: interface names for `iifname`
//! and `log`, interface addresses for `masquerade`, the route and ICMP
//! machinery for `reject`, the time for conntrack's timeouts, the secret
//! for unpredictable NAT ports, and the timers to expire connections. A
//! hook module sees only the packet and the pool. Inside the world it
//! reaches all of that without copies or callbacks, and the world's type
//! does not change, so every `World::new` and `World::with_hooks` caller
//! keeps working and a world without tables pays one `None` check per hook
//! (and a namespace without tables one bit test).
//!
//! Static modules and tables share the hooks, ordered by priority as
//! Linux orders `nf_hook_entries` ([`NfHooks::priority`]; the table in
//! `hook`'s documentation shows where conntrack and NAT sit).
//!
//! # The parts
//!
//! - [`expr`]: what rules are made of (matches, statements, verdicts).
//! - [`set`]: sets of values and intervals, one binary search per lookup.
//! - [`table`]: tables, chains, rules and sets in fixed storage
//!   ([`NftStorage`]), and their validation.
//! - `eval`: walking a chain for a packet.
//! - [`conntrack`]: the connection table, TCP state and window tracking,
//!   timeouts, early drop.
//! - `nat`: choosing translations and rewriting packets with incremental
//!   checksums that keep offload metadata right.
//! - `hook`: the steps at each hook point, reject, and the rest of the
//!   engine's work inside the world.
//! - [`parse`] and `list`: the nft command language, both ways.
//!
//! # Limits
//!
//! Everything is fixed-capacity: tables, chains, rules, sets, elements and
//! connections come from the storage's const parameters; a rule holds at
//! most [`expr::MAX_EXPRS`] matches and statements; jumps nest at most
//! [`expr::JUMP_DEPTH`] deep. IPv4 only for now (`inet` tables see IPv4),
//! no verdict maps, no concatenations, no conntrack helpers or
//! expectations. Masqueraded connections are not flushed when their
//! interface loses its address (they expire).

pub mod conntrack;
pub mod error;
mod eval;
pub mod expr;
mod hook;
mod list;
mod log;
mod nat;
pub mod parse;
pub mod set;
pub mod table;
mod world;

#[cfg(test)]
mod tests;

pub use conntrack::{CtInfo, CtRef, CtStats, CtTimeouts, CtView, TcpCtState, Tuple};
pub use error::{NftError, NftErrorKind, Span};
pub use table::{Nft, NftStats, NftStorage, SmallNftStorage};

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

impl NfHook {
    /// The name nft uses.
    pub fn name(self) -> &'static str {
        match self {
            NfHook::PreRouting => "prerouting",
            NfHook::LocalIn => "input",
            NfHook::Forward => "forward",
            NfHook::LocalOut => "output",
            NfHook::PostRouting => "postrouting",
        }
    }
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

    /// Where this module runs at `hook` among the rule tables' chains,
    /// conntrack and NAT (Linux's `nf_hook_ops.priority`, see
    /// [`expr::prio`]): lower runs first, and on a tie this module runs
    /// before the tables. The default is 0, `NF_IP_PRI_FILTER`.
    fn priority(&self, hook: NfHook) -> i32 {
        let _ = hook;
        expr::prio::FILTER
    }

    /// Run the modules whose priority at `state.hook` lies in
    /// `(above, upto]`: the world calls this between the steps of the rule
    /// tables. The default runs [`Self::hook`] when [`Self::priority`] is in
    /// the band.
    fn hook_band(&mut self, pool: &mut SkbPool, state: &NfState, skb: SkBuff, above: i64, upto: i64) -> NfVerdict {
        let p = i64::from(self.priority(state.hook));
        if above < p && p <= upto { self.hook(pool, state, skb) } else { NfVerdict::Accept(skb) }
    }
}

impl NfHooks for () {
    fn hook_band(&mut self, _: &mut SkbPool, _: &NfState, skb: SkBuff, _: i64, _: i64) -> NfVerdict {
        NfVerdict::Accept(skb)
    }
}

impl<A: NfHooks, B: NfHooks> NfHooks for (A, B) {
    fn hook(&mut self, pool: &mut SkbPool, state: &NfState, skb: SkBuff) -> NfVerdict {
        match self.0.hook(pool, state, skb) {
            NfVerdict::Accept(skb) => self.1.hook(pool, state, skb),
            other => other,
        }
    }

    /// The earlier of the two.
    fn priority(&self, hook: NfHook) -> i32 {
        self.0.priority(hook).min(self.1.priority(hook))
    }

    fn hook_band(&mut self, pool: &mut SkbPool, state: &NfState, skb: SkBuff, above: i64, upto: i64) -> NfVerdict {
        match self.0.hook_band(pool, state, skb, above, upto) {
            NfVerdict::Accept(skb) => self.1.hook_band(pool, state, skb, above, upto),
            other => other,
        }
    }
}

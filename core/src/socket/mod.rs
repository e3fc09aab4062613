//! The application–kernel interface: sockets, and calls shaped like
//! Linux's system calls (`socket`, `bind`, `connect`, `sendmsg`, `recvmsg`,
//! `setsockopt`, `close`, and readiness like `poll`).
//!
//! A socket is a slot in the world's socket table, named by a [`SockId`]
//! (index and generation, so a closed socket's id is refused rather than
//! reaching its successor). Bound sockets sit on hash chains keyed by
//! (namespace, protocol, local port): input demultiplexing costs one hash
//! and a short chain walk, never a scan of the table. Each socket charges
//! its received and its queued-to-send packets to two pool owners, whose
//! limits are `SO_RCVBUF` and `SO_SNDBUF`.

mod api;
mod errno;

pub use api::{Events, SockOpt, SockType};
pub use errno::Errno;

use core::net::{Ipv4Addr, SocketAddrV4};

use crate::netns::NsId;
use crate::skb::{OwnerId, SkbQueue};

/// A socket's name in its world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SockId {
    idx: u16,
    generation: u16,
}

/// The transport protocol of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Proto {
    /// UDP.
    Udp,
    /// ICMP (ping sockets: echo requests out, echo replies in).
    Icmp,
}

/// Socket options that are plain settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SockOpts {
    /// `SO_REUSEADDR`.
    pub reuse_addr: bool,
    /// `SO_BROADCAST`.
    pub broadcast: bool,
    /// `IP_TTL`, or the namespace default.
    pub ttl: Option<u8>,
    /// `IP_TOS`.
    pub tos: u8,
    /// `IP_MTU_DISCOVER`: set DF and refuse datagrams above the path MTU.
    pub pmtu_discover: bool,
    /// `IP_RECVERR`: report ICMP errors on unconnected sockets too.
    pub recv_err: bool,
}

/// One socket.
#[derive(Debug)]
pub struct SockSlot {
    pub(crate) generation: u16,
    pub(crate) ns: NsId,
    pub(crate) proto: Proto,
    pub(crate) local: SocketAddrV4,
    pub(crate) remote: Option<SocketAddrV4>,
    pub(crate) hashed: bool,
    pub(crate) next: u16,
    pub(crate) rx: SkbQueue,
    pub(crate) rcv_owner: OwnerId,
    pub(crate) snd_owner: OwnerId,
    pub(crate) err: Option<Errno>,
    pub(crate) opts: SockOpts,
}

const NIL: u16 = u16::MAX;

/// The socket table over caller-provided slots and hash buckets.
pub struct SockTable<'a> {
    slots: &'a mut [Option<SockSlot>],
    buckets: &'a mut [u16],
    generation: u16,
}

fn bucket(ns: NsId, proto: Proto, port: u16, n: usize) -> usize {
    let p = match proto {
        Proto::Udp => 17u64,
        Proto::Icmp => 1,
    };
    let x = u64::from(port) ^ (p << 16) ^ (u64::from(ns.0) << 24);
    (((x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) * n as u64) >> 32) as usize
}

impl<'a> SockTable<'a> {
    /// A table over `slots` and `buckets`.
    pub fn new(slots: &'a mut [Option<SockSlot>], buckets: &'a mut [u16]) -> Self {
        SockTable { slots, buckets, generation: 0 }
    }

    /// Sockets open.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// True when no socket is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Put `slot` in a free place and name it.
    pub(crate) fn insert(&mut self, mut slot: SockSlot) -> Option<SockId> {
        let i = self.slots.iter().position(Option::is_none)?;
        self.generation = self.generation.wrapping_add(1);
        slot.generation = self.generation;
        self.slots[i] = Some(slot);
        Some(SockId { idx: i as u16, generation: self.generation })
    }

    /// The socket `id` names, if it is open.
    pub(crate) fn get(&self, id: SockId) -> Option<&SockSlot> {
        self.slots.get(usize::from(id.idx))?.as_ref().filter(|s| s.generation == id.generation)
    }

    /// The socket `id` names, for changing.
    pub(crate) fn get_mut(&mut self, id: SockId) -> Option<&mut SockSlot> {
        self.slots.get_mut(usize::from(id.idx))?.as_mut().filter(|s| s.generation == id.generation)
    }

    /// Take socket `id` out of the table.
    pub(crate) fn remove(&mut self, id: SockId) -> Option<SockSlot> {
        self.get(id)?;
        self.unhash(id);
        self.slots[usize::from(id.idx)].take()
    }

    /// Put a bound socket on its port's hash chain.
    pub(crate) fn hash(&mut self, id: SockId) {
        let Some(s) = self.get(id) else { return };
        if s.hashed {
            return;
        }
        let b = bucket(s.ns, s.proto, s.local.port(), self.buckets.len());
        let head = self.buckets[b];
        if let Some(s) = self.get_mut(id) {
            s.hashed = true;
            s.next = head;
        }
        self.buckets[b] = id.idx;
    }

    /// Take a socket off its hash chain.
    pub(crate) fn unhash(&mut self, id: SockId) {
        let n = self.buckets.len();
        let Some(s) = self.get_mut(id) else { return };
        if !s.hashed {
            return;
        }
        s.hashed = false;
        let (b, next) = (bucket(s.ns, s.proto, s.local.port(), n), s.next);
        if self.buckets[b] == id.idx {
            self.buckets[b] = next;
            return;
        }
        let mut p = self.buckets[b];
        for _ in 0..self.slots.len() {
            let Some(prev) = self.slots.get_mut(usize::from(p)).and_then(Option::as_mut) else { return };
            if prev.next == id.idx {
                prev.next = next;
                return;
            }
            p = prev.next;
        }
    }

    /// The sockets of (`ns`, `proto`) bound to `port`, from the hash chain.
    pub(crate) fn bound_to(&self, ns: NsId, proto: Proto, port: u16) -> impl Iterator<Item = (SockId, &SockSlot)> + '_ {
        let mut i =
            if self.buckets.is_empty() { NIL } else { self.buckets[bucket(ns, proto, port, self.buckets.len())] };
        let mut left = self.slots.len();
        core::iter::from_fn(move || {
            while i != NIL && left > 0 {
                left -= 1;
                let idx = i;
                let s = self.slots.get(usize::from(idx))?.as_ref()?;
                i = s.next;
                if s.ns == ns && s.proto == proto && s.local.port() == port {
                    return Some((SockId { idx, generation: s.generation }, s));
                }
            }
            None
        })
    }

    /// The best socket for a datagram to `dst` from `src` (Linux's
    /// `compute_score`): a connected socket matching the peer beats one
    /// bound to the exact address, which beats one bound to any address.
    pub(crate) fn lookup(&self, ns: NsId, proto: Proto, dst: SocketAddrV4, src: SocketAddrV4) -> Option<SockId> {
        self.bound_to(ns, proto, dst.port())
            .filter_map(|(id, s)| {
                let mut score = 0;
                if !s.local.ip().is_unspecified() {
                    if *s.local.ip() != *dst.ip() {
                        return None;
                    }
                    score += 2;
                }
                if let Some(r) = s.remote {
                    if r != src {
                        return None;
                    }
                    score += 4;
                }
                Some((score, id))
            })
            .max_by_key(|&(score, _)| score)
            .map(|(_, id)| id)
    }

    /// True when binding `addr` for `proto` in `ns` would clash with a
    /// socket already bound (`SO_REUSEADDR` on both lets them share).
    pub(crate) fn in_use(&self, ns: NsId, proto: Proto, addr: SocketAddrV4, reuse: bool) -> bool {
        self.bound_to(ns, proto, addr.port()).any(|(_, s)| {
            let overlap = s.local.ip().is_unspecified() || addr.ip().is_unspecified() || s.local.ip() == addr.ip();
            overlap && !(reuse && s.opts.reuse_addr)
        })
    }

    /// Every open socket, for listings and for delivering to all bound.
    pub(crate) fn ids(&self) -> impl Iterator<Item = SockId> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| SockId { idx: i as u16, generation: s.generation }))
    }
}

/// The unspecified local address, `0.0.0.0:0`.
pub(crate) const UNBOUND: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);

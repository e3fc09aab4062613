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

pub use crate::tcp::{Shutdown, TcpOpt};
pub use api::{Events, RecvFlags, RecvMsg, SockOpt, SockType};
pub use errno::Errno;

use core::net::{Ipv4Addr, SocketAddrV4};

use crate::netns::NsId;
use crate::skb::{OwnerId, SkbQueue};
use crate::time::{Earliest, Instant};

/// A socket's name in its world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SockId {
    idx: u16,
    generation: u16,
}

impl SockId {
    /// Names no socket (a TIME-WAIT entry or a reset has none).
    pub const NONE: SockId = SockId { idx: u16::MAX, generation: u16::MAX };
}

/// The transport protocol of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Proto {
    /// UDP.
    Udp,
    /// ICMP (ping sockets: echo requests out, echo replies in).
    Icmp,
    /// TCP.
    Tcp,
}

/// A listening TCP socket's queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ListenInfo {
    /// Most connections waiting to be accepted (`listen`'s backlog).
    pub backlog: u16,
    /// Established connections waiting for `accept`, as a list through
    /// their slots' `accept_next`.
    pub accept_head: u16,
    pub accept_tail: u16,
    pub accept_len: u16,
    /// Handshakes in progress (entries in the request table).
    pub syn_len: u16,
    /// When the listener last answered with a SYN cookie.
    pub cookie_at: Option<crate::time::Instant>,
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
    /// A datagram socket was shut for reading, for writing (`shutdown`;
    /// a TCP socket keeps these in its connection).
    pub(crate) shut_rd: bool,
    pub(crate) shut_wr: bool,
    /// The local address was given to `bind` (Linux's
    /// `SOCK_BINDADDR_LOCK`), not chosen by a connect.
    pub(crate) addr_bound: bool,
    /// The connection, for TCP sockets.
    pub(crate) tcp: Option<crate::tcp::Tcb>,
    /// A TCP listener's queues.
    pub(crate) listen: Option<ListenInfo>,
    /// Next connection in the listener's accept queue.
    pub(crate) accept_next: u16,
    /// On the established hash (full 4-tuple).
    pub(crate) ehashed: bool,
    pub(crate) enext: u16,
    /// The earliest of the connection's timers, as [`SockTable::set_timer`]
    /// last heard it.
    pub(crate) timer_at: Option<crate::time::Instant>,
}

const NIL: u16 = u16::MAX;

/// The socket table over caller-provided slots and hash buckets.
pub struct SockTable<'a> {
    slots: &'a mut [Option<SockSlot>],
    buckets: &'a mut [u16],
    ehash: &'a mut [u16],
    generation: u16,
    /// One past the highest slot in use: scans stop there (a new socket
    /// takes the lowest free slot, so open sockets stay at the front).
    used: u16,
    /// The earliest `timer_at` of all sockets.
    timers: Earliest,
}

fn bucket(ns: NsId, proto: Proto, port: u16, n: usize) -> usize {
    let p = match proto {
        Proto::Udp => 17u64,
        Proto::Icmp => 1,
        Proto::Tcp => 6,
    };
    let x = u64::from(port) ^ (p << 16) ^ (u64::from(ns.0) << 24);
    (((x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) * n as u64) >> 32) as usize
}

/// The established-hash bucket of a TCP 4-tuple.
fn ebucket(ns: NsId, local: SocketAddrV4, remote: SocketAddrV4, n: usize) -> usize {
    let x = u64::from(u32::from(*remote.ip()))
        ^ (u64::from(remote.port()) << 32)
        ^ (u64::from(local.port()) << 48)
        ^ u64::from(u32::from(*local.ip())).rotate_left(17)
        ^ (u64::from(ns.0) << 56);
    (((x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) * n as u64) >> 32) as usize
}

impl<'a> SockTable<'a> {
    /// A table over `slots`, port-hash `buckets` and established-hash `ehash`.
    pub fn new(slots: &'a mut [Option<SockSlot>], buckets: &'a mut [u16], ehash: &'a mut [u16]) -> Self {
        let used = slots.iter().rposition(Option::is_some).map_or(0, |i| i as u16 + 1);
        let mut t = SockTable { slots, buckets, ehash, generation: 0, used, timers: Earliest::NONE };
        t.rescan_timers();
        t
    }

    /// The slots that may be in use.
    fn live(&self) -> &[Option<SockSlot>] {
        &self.slots[..usize::from(self.used)]
    }

    /// Socket `id`'s earliest timer is now `at` (TCP keeps it current
    /// whenever it puts a control block back).
    pub(crate) fn set_timer(&mut self, id: SockId, at: Option<Instant>) {
        let Some(s) = self.get_mut(id) else { return };
        let old = core::mem::replace(&mut s.timer_at, at);
        if !self.timers.update(old, at) {
            self.rescan_timers();
        }
    }

    fn rescan_timers(&mut self) {
        let mut e = Earliest::NONE;
        e.set(self.live().iter().flatten().filter_map(|s| s.timer_at));
        self.timers = e;
    }

    /// The earliest timer of any socket.
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        self.timers.get()
    }

    /// How many slots a timer run at `now` must look at: none while no
    /// timer is due.
    pub(crate) fn timer_scan(&self, now: Instant) -> u16 {
        if self.timers.due(now) { self.used } else { 0 }
    }

    /// The socket in slot `idx`, if its timer is due by `now`.
    pub(crate) fn timer_due_at(&self, idx: u16, now: Instant) -> Option<SockId> {
        let s = self.slots.get(usize::from(idx))?.as_ref()?;
        s.timer_at.is_some_and(|t| t <= now).then_some(SockId { idx, generation: s.generation })
    }

    /// The id of slot `idx`, if open.
    pub(crate) fn id_at(&self, idx: u16) -> Option<SockId> {
        self.slots.get(usize::from(idx))?.as_ref().map(|s| SockId { idx, generation: s.generation })
    }

    /// The slot index of an id.
    pub(crate) fn index(id: SockId) -> u16 {
        id.idx
    }

    /// Put a connected TCP socket on the established hash.
    pub(crate) fn ehash_insert(&mut self, id: SockId) {
        let Some(s) = self.get(id) else { return };
        let Some(remote) = s.remote else { return };
        if s.ehashed || self.ehash.is_empty() {
            return;
        }
        let b = ebucket(s.ns, s.local, remote, self.ehash.len());
        let head = self.ehash[b];
        if let Some(s) = self.get_mut(id) {
            s.ehashed = true;
            s.enext = head;
        }
        self.ehash[b] = id.idx;
    }

    /// Take a socket off the established hash.
    pub(crate) fn ehash_remove(&mut self, id: SockId) {
        let Some(s) = self.get(id) else { return };
        let (Some(remote), true) = (s.remote, s.ehashed) else { return };
        let (b, next) = (ebucket(s.ns, s.local, remote, self.ehash.len()), s.enext);
        if let Some(s) = self.get_mut(id) {
            s.ehashed = false;
        }
        if self.ehash[b] == id.idx {
            self.ehash[b] = next;
            return;
        }
        let mut p = self.ehash[b];
        for _ in 0..self.slots.len() {
            let Some(prev) = self.slots.get_mut(usize::from(p)).and_then(Option::as_mut) else { return };
            if prev.enext == id.idx {
                prev.enext = next;
                return;
            }
            p = prev.enext;
        }
    }

    /// The TCP connection for a 4-tuple (`__inet_lookup_established`).
    pub(crate) fn lookup_established(&self, ns: NsId, local: SocketAddrV4, remote: SocketAddrV4) -> Option<SockId> {
        if self.ehash.is_empty() {
            return None;
        }
        let mut i = self.ehash[ebucket(ns, local, remote, self.ehash.len())];
        for _ in 0..self.slots.len() {
            if i == NIL {
                return None;
            }
            let s = self.slots.get(usize::from(i))?.as_ref()?;
            if s.ns == ns
                && s.local.port() == local.port()
                && s.remote == Some(remote)
                && (s.local.ip().is_unspecified() || *s.local.ip() == *local.ip())
            {
                return Some(SockId { idx: i, generation: s.generation });
            }
            i = s.enext;
        }
        None
    }

    /// The TCP listener for a port (`__inet_lookup_listener`): one bound to
    /// the exact address beats one bound to any address.
    pub(crate) fn lookup_listener(&self, ns: NsId, local: SocketAddrV4) -> Option<SockId> {
        self.bound_to(ns, Proto::Tcp, local.port())
            .filter(|(_, s)| s.listen.is_some())
            .filter(|(_, s)| s.local.ip().is_unspecified() || *s.local.ip() == *local.ip())
            .max_by_key(|(_, s)| !s.local.ip().is_unspecified())
            .map(|(id, _)| id)
    }

    /// Slots in the table.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Sockets open.
    pub fn len(&self) -> usize {
        self.live().iter().filter(|s| s.is_some()).count()
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
        let at = slot.timer_at.take();
        self.slots[i] = Some(slot);
        self.used = self.used.max(i as u16 + 1);
        let id = SockId { idx: i as u16, generation: self.generation };
        self.set_timer(id, at);
        Some(id)
    }

    /// The socket `id` names, if it is open.
    pub(crate) fn get(&self, id: SockId) -> Option<&SockSlot> {
        self.slots.get(usize::from(id.idx))?.as_ref().filter(|s| s.generation == id.generation)
    }

    /// The socket `id` names, for changing.
    pub(crate) fn get_mut(&mut self, id: SockId) -> Option<&mut SockSlot> {
        self.slots.get_mut(usize::from(id.idx))?.as_mut().filter(|s| s.generation == id.generation)
    }

    /// Give socket `id` a new generation, so the id the application held
    /// names nothing while the connection finishes on its own (a TCP
    /// orphan). Returns the new id.
    pub(crate) fn orphan(&mut self, id: SockId) -> Option<SockId> {
        self.get(id)?;
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        self.slots[usize::from(id.idx)].as_mut()?.generation = generation;
        Some(SockId { idx: id.idx, generation })
    }

    /// Take socket `id` out of the table.
    pub(crate) fn remove(&mut self, id: SockId) -> Option<SockSlot> {
        self.get(id)?;
        self.unhash(id);
        self.ehash_remove(id);
        self.set_timer(id, None);
        let s = self.slots[usize::from(id.idx)].take();
        while self.used > 0 && self.slots[usize::from(self.used - 1)].is_none() {
            self.used -= 1;
        }
        s
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
    /// Among equals (`SO_REUSEADDR`) the first on the chain wins, and the
    /// chain starts with the socket bound last, as Linux's does.
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
            .fold(None, |best: Option<(i32, SockId)>, (score, id)| match best {
                Some((b, _)) if b >= score => best,
                _ => Some((score, id)),
            })
            .map(|(_, id)| id)
    }

    /// True when binding `addr` for `proto` in `ns` would clash with a
    /// socket already bound (`SO_REUSEADDR` on both lets them share).
    pub(crate) fn in_use(&self, ns: NsId, proto: Proto, addr: SocketAddrV4, reuse: bool) -> bool {
        self.bound_to(ns, proto, addr.port()).any(|(_, s)| {
            let overlap = s.local.ip().is_unspecified() || addr.ip().is_unspecified() || s.local.ip() == addr.ip();
            // SO_REUSEADDR on both lets sockets share a port, but never with
            // a listener (Linux's inet_csk_bind_conflict).
            overlap && !(reuse && s.opts.reuse_addr && s.listen.is_none())
        })
    }

    /// True when another TCP socket listens on `addr`'s port at an
    /// overlapping address (a second listener is refused at `listen`).
    pub(crate) fn listener_clash(&self, ns: NsId, me: SockId, addr: SocketAddrV4) -> bool {
        self.bound_to(ns, Proto::Tcp, addr.port()).any(|(id, s)| {
            id != me
                && s.listen.is_some()
                && (s.local.ip().is_unspecified() || addr.ip().is_unspecified() || s.local.ip() == addr.ip())
        })
    }

    /// Every open socket, for listings and for delivering to all bound.
    pub(crate) fn ids(&self) -> impl Iterator<Item = SockId> + '_ {
        self.live()
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| SockId { idx: i as u16, generation: s.generation }))
    }
}

/// The unspecified local address, `0.0.0.0:0`.
pub(crate) const UNBOUND: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);

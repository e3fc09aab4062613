//! Connection tracking (Linux's `nf_conntrack`): a bounded table of
//! connections, each known by the tuple of both directions, so a packet
//! finds its connection whichever way it travels, and NAT finds the
//! rewritten reply.
//!
//! - **Tuples.** Source and destination address and port (the echo
//!   identifier for ICMP queries, nothing for other protocols) and the
//!   protocol. An entry holds the original tuple and the reply tuple; NAT
//!   changes the reply tuple, which is how replies are recognised and
//!   translated back.
//! - **Table.** Caller-provided slots and a hash of both directions' tuples
//!   (keyed SipHash, so a peer cannot aim at one bucket). Free slots are a
//!   list; nothing is ever searched linearly on the packet path.
//! - **States.** NEW until a reply is seen, then ESTABLISHED; ICMP errors
//!   that quote a tracked packet are RELATED; what cannot be associated, or
//!   breaks the TCP rules below, is INVALID.
//! - **TCP.** The states of Linux's tracker (SYN_SENT ... TIME_WAIT) follow
//!   the flags in both directions, FINs are followed until acknowledged,
//!   and every segment must fall within the windows seen so far (the
//!   checks of `tcp_in_window`: loose enough for retransmissions, SACK,
//!   window scaling and GRO super-packets). Connections picked up in the
//!   middle are tracked without window checks, as Linux does.
//! - **Timeouts.** Per state (Linux's defaults, in [`CtTimeouts`]), driven
//!   by the `now` of each packet; an expired entry found by a lookup is
//!   gone, and a collector visits a bounded share of the table per second.
//! - **Full table.** The oldest entry that has not seen a reply is dropped
//!   for the new one (`early_drop`); with none, the new connection's packet
//!   is dropped and counted. Established connections are never evicted.

use core::fmt;
use core::net::Ipv4Addr;
use core::time::Duration;

use crate::netns::NsId;
use crate::skb::IfIndex;
use crate::time::Instant;

/// No slot.
pub(crate) const NIL: u16 = u16::MAX;

/// Original direction (the connection's first packet's).
pub(crate) const ORIG: usize = 0;
/// Reply direction.
pub(crate) const REPLY: usize = 1;

/// A connection's tuple in one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tuple {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP protocol.
    pub proto: u8,
    /// Source port (TCP, UDP) or echo identifier (ICMP).
    pub sport: u16,
    /// Destination port (TCP, UDP; zero otherwise).
    pub dport: u16,
}

impl Tuple {
    /// The tuple of the other direction.
    pub fn invert(&self) -> Tuple {
        if self.proto == 1 {
            // An ICMP query and its answer carry the same identifier.
            return Tuple { src: self.dst, dst: self.src, ..*self };
        }
        Tuple { src: self.dst, dst: self.src, proto: self.proto, sport: self.dport, dport: self.sport }
    }

    fn bytes(&self, ns: NsId) -> [u8; 14] {
        let mut b = [0u8; 14];
        b[..4].copy_from_slice(&self.src.octets());
        b[4..8].copy_from_slice(&self.dst.octets());
        b[8] = self.proto;
        b[9..11].copy_from_slice(&self.sport.to_be_bytes());
        b[11..13].copy_from_slice(&self.dport.to_be_bytes());
        b[13] = ns.0;
        b
    }

    /// The protocol's name as `conntrack -L` prints it.
    fn proto_name(&self) -> &'static str {
        match self.proto {
            1 => "icmp",
            6 => "tcp",
            17 => "udp",
            _ => "unknown",
        }
    }
}

/// The state of a tracked TCP connection (Linux's `tcp_conntrack`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TcpCtState {
    /// Not TCP, or nothing seen yet.
    None,
    /// A SYN was seen.
    SynSent,
    /// A SYN-ACK answered it.
    SynRecv,
    /// The handshake completed (or the connection was picked up).
    Established,
    /// One side sent a FIN.
    FinWait,
    /// That FIN was acknowledged.
    CloseWait,
    /// Both sides sent a FIN.
    LastAck,
    /// Both FINs were acknowledged.
    TimeWait,
    /// A RST was seen.
    Close,
    /// Simultaneous open: a SYN each way.
    SynSent2,
}

impl TcpCtState {
    /// The name `conntrack -L` prints.
    pub fn name(self) -> &'static str {
        match self {
            TcpCtState::None => "NONE",
            TcpCtState::SynSent => "SYN_SENT",
            TcpCtState::SynRecv => "SYN_RECV",
            TcpCtState::Established => "ESTABLISHED",
            TcpCtState::FinWait => "FIN_WAIT",
            TcpCtState::CloseWait => "CLOSE_WAIT",
            TcpCtState::LastAck => "LAST_ACK",
            TcpCtState::TimeWait => "TIME_WAIT",
            TcpCtState::Close => "CLOSE",
            TcpCtState::SynSent2 => "SYN_SENT2",
        }
    }
}

/// Timeouts (Linux's `nf_conntrack_*_timeout_*` defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CtTimeouts {
    /// TCP SYN_SENT and SYN_SENT2.
    pub tcp_syn_sent: Duration,
    /// TCP SYN_RECV.
    pub tcp_syn_recv: Duration,
    /// TCP ESTABLISHED.
    pub tcp_established: Duration,
    /// TCP FIN_WAIT.
    pub tcp_fin_wait: Duration,
    /// TCP CLOSE_WAIT.
    pub tcp_close_wait: Duration,
    /// TCP LAST_ACK.
    pub tcp_last_ack: Duration,
    /// TCP TIME_WAIT.
    pub tcp_time_wait: Duration,
    /// TCP CLOSE.
    pub tcp_close: Duration,
    /// UDP before a reply.
    pub udp: Duration,
    /// UDP after a reply ("stream").
    pub udp_stream: Duration,
    /// ICMP queries.
    pub icmp: Duration,
    /// Other protocols.
    pub generic: Duration,
}

impl Default for CtTimeouts {
    fn default() -> CtTimeouts {
        let s = Duration::from_secs;
        CtTimeouts {
            tcp_syn_sent: s(120),
            tcp_syn_recv: s(60),
            tcp_established: s(432_000),
            tcp_fin_wait: s(120),
            tcp_close_wait: s(60),
            tcp_last_ack: s(30),
            tcp_time_wait: s(120),
            tcp_close: s(10),
            udp: s(30),
            udp_stream: s(120),
            icmp: s(30),
            generic: s(600),
        }
    }
}

/// Conntrack counters (`/proc/net/stat/nf_conntrack`, `conntrack -S`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CtStats {
    /// Entries now (`conntrack -C`).
    pub entries: u64,
    /// Packets that found their connection.
    pub found: u64,
    /// Connections created.
    pub new: u64,
    /// Packets that could not be associated or broke the TCP rules.
    pub invalid: u64,
    /// New connections refused because the table was full (their packets dropped).
    pub insert_failed: u64,
    /// Packets dropped by conntrack (table full, NAT failed).
    pub drop: u64,
    /// Unreplied connections evicted to make room.
    pub early_drop: u64,
    /// Connections that timed out.
    pub expired: u64,
    /// New connections whose NAT found no free tuple (ports exhausted).
    pub nat_failed: u64,
}

/// Status bits (Linux's `IPS_*`).
pub(crate) mod status {
    pub const SEEN_REPLY: u16 = 1;
    pub const ASSURED: u16 = 2;
    pub const CONFIRMED: u16 = 4;
    pub const SRC_NAT: u16 = 8;
    pub const DST_NAT: u16 = 16;
    pub const SRC_NAT_DONE: u16 = 32;
    pub const DST_NAT_DONE: u16 = 64;
    /// On the list of unreplied entries.
    pub const UNREPLIED_LIST: u16 = 128;
    /// Picked up mid-stream: no TCP window checks.
    pub const LIBERAL: u16 = 256;
}

/// What the tracker knows of one TCP direction (Linux's `ip_ct_tcp_state`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct TcpDir {
    /// Highest sequence number sent plus one.
    end: u32,
    /// Highest sequence number the other side allowed (ack + window).
    maxend: u32,
    /// Largest window advertised, scaled.
    maxwin: u32,
    /// Window scale announced on the SYN.
    scale: u8,
    /// Anything seen in this direction.
    seen: bool,
    /// The SYN carried a window scale option.
    wscale_ok: bool,
    /// A FIN was sent, ending at `fin_end`.
    fin: bool,
    /// The FIN was acknowledged.
    fin_acked: bool,
    fin_end: u32,
}

/// One connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct CtEntry {
    pub ns: NsId,
    pub tuple: [Tuple; 2],
    pub status: u16,
    pub tcp_state: TcpCtState,
    tcp: [TcpDir; 2],
    pub expires: Instant,
    /// Hash chains, one per direction (node = slot * 2 + direction).
    next: [u16; 2],
    /// Neighbours on the unreplied list.
    lru: [u16; 2],
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub mark: u32,
    /// Masqueraded through this interface.
    pub masq_oif: IfIndex,
}

/// A slot of the conntrack table (storage; see [`super::NftStorage`]).
#[derive(Clone, Copy, Debug)]
pub struct CtSlot {
    generation: u16,
    free_next: u16,
    e: Option<CtEntry>,
}

impl CtSlot {
    /// An unused slot.
    pub const EMPTY: CtSlot = CtSlot { generation: 0, free_next: NIL, e: None };
}

/// How a packet relates to its connection (Linux's `ip_conntrack_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CtInfo {
    /// The connection has seen no reply yet.
    New,
    /// Packets have gone both ways.
    Established,
    /// An ICMP error about the connection.
    Related,
    /// Associated with the connection but against its rules (out of the
    /// TCP window, an impossible flag combination): `ct state invalid`.
    Invalid,
}

/// A packet's reference to its connection, kept in its metadata
/// (`skb->_nfct`): the slot, the slot's generation (so a reference to a
/// connection that ended and whose slot was reused is recognised as
/// stale), how the packet relates, and its direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CtRef {
    /// The table slot.
    pub slot: u16,
    generation: u16,
    /// How the packet relates to the connection.
    pub info: CtInfo,
    /// The packet travels in the reply direction.
    pub reply: bool,
}

const GEN_MASK: u16 = 0x0fff;

impl CtRef {
    /// Pack into the metadata's `ct` word.
    pub fn to_bits(self) -> u32 {
        let info = match self.info {
            CtInfo::New => 0,
            CtInfo::Established => 1,
            CtInfo::Related => 2,
            CtInfo::Invalid => 3,
        };
        u32::from(self.slot) | u32::from(self.generation & GEN_MASK) << 16 | info << 28 | u32::from(self.reply) << 30
    }

    /// Unpack the metadata's `ct` word.
    pub fn from_bits(b: u32) -> CtRef {
        let info = match (b >> 28) & 3 {
            0 => CtInfo::New,
            1 => CtInfo::Established,
            2 => CtInfo::Related,
            _ => CtInfo::Invalid,
        };
        CtRef { slot: b as u16, generation: (b >> 16) as u16 & GEN_MASK, info, reply: b & (1 << 30) != 0 }
    }

    /// The direction index.
    pub(crate) fn dir(&self) -> usize {
        usize::from(self.reply)
    }
}

/// The TCP fields the tracker reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TcpSeg {
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub flags: u8,
    /// Payload bytes.
    pub len: u32,
    /// The window scale option (on a SYN).
    pub wscale: Option<u8>,
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

/// The connection table.
pub(crate) struct Conntrack<'a> {
    slots: &'a mut [CtSlot],
    buckets: &'a mut [u16],
    key: [u8; 16],
    free: u16,
    /// Unreplied entries, oldest first.
    lru_head: u16,
    lru_tail: u16,
    gc_cursor: usize,
    next_gc: Instant,
    pub timeouts: CtTimeouts,
    pub stats: CtStats,
}

/// Slots the collector visits per second at least.
const GC_MIN_BATCH: usize = 64;

impl<'a> Conntrack<'a> {
    pub(crate) fn new(slots: &'a mut [CtSlot], buckets: &'a mut [u16], key: [u8; 16]) -> Conntrack<'a> {
        let n = slots.len().min(usize::from(NIL) / 2);
        for (i, s) in slots.iter_mut().enumerate() {
            *s = CtSlot::EMPTY;
            s.free_next = if i + 1 < n { (i + 1) as u16 } else { NIL };
        }
        buckets.fill(NIL);
        let free = if n > 0 { 0 } else { NIL };
        Conntrack {
            slots,
            buckets,
            key,
            free,
            lru_head: NIL,
            lru_tail: NIL,
            gc_cursor: 0,
            next_gc: Instant::ZERO,
            timeouts: CtTimeouts::default(),
            stats: CtStats::default(),
        }
    }

    /// Slots in the table.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len().min(usize::from(NIL) / 2)
    }

    /// A keyed hash of `b` (NAT's port choice).
    pub(crate) fn hash_bytes(&self, b: &[u8]) -> u64 {
        crate::hash::siphash24(&self.key, b)
    }

    fn bucket(&self, ns: NsId, t: &Tuple) -> usize {
        if self.buckets.is_empty() {
            return 0;
        }
        (crate::hash::siphash24(&self.key, &t.bytes(ns)) % self.buckets.len() as u64) as usize
    }

    pub(crate) fn entry(&self, slot: u16) -> Option<&CtEntry> {
        self.slots.get(usize::from(slot)).and_then(|s| s.e.as_ref())
    }

    pub(crate) fn entry_mut(&mut self, slot: u16) -> Option<&mut CtEntry> {
        self.slots.get_mut(usize::from(slot)).and_then(|s| s.e.as_mut())
    }

    /// The entry a packet's reference names, if it still exists.
    pub(crate) fn resolve(&self, r: CtRef) -> Option<&CtEntry> {
        let s = self.slots.get(usize::from(r.slot))?;
        (s.generation & GEN_MASK == r.generation).then_some(())?;
        s.e.as_ref()
    }

    pub(crate) fn resolve_mut(&mut self, r: CtRef) -> Option<&mut CtEntry> {
        let s = self.slots.get_mut(usize::from(r.slot))?;
        (s.generation & GEN_MASK == r.generation).then_some(())?;
        s.e.as_mut()
    }

    /// A reference to `slot` for a packet.
    pub(crate) fn make_ref(&self, slot: u16, info: CtInfo, dir: usize) -> CtRef {
        let generation = self.slots.get(usize::from(slot)).map_or(0, |s| s.generation & GEN_MASK);
        CtRef { slot, generation, info, reply: dir == REPLY }
    }

    /// The entry and direction whose tuple is `t` in `ns`. Expired entries
    /// met on the way are removed.
    pub(crate) fn lookup(&mut self, ns: NsId, t: &Tuple, now: Instant) -> Option<(u16, usize)> {
        let found = self.find(ns, t, NIL)?;
        let expired = self.entry(found.0).is_some_and(|e| e.expires <= now);
        if expired {
            self.stats.expired += 1;
            self.remove(found.0);
            return None;
        }
        Some(found)
    }

    /// The node whose tuple is `t`, ignoring slot `except`.
    fn find(&self, ns: NsId, t: &Tuple, except: u16) -> Option<(u16, usize)> {
        let mut node = *self.buckets.get(self.bucket(ns, t))?;
        // Bounded: a chain holds at most every node once.
        for _ in 0..self.slots.len() * 2 {
            if node == NIL {
                return None;
            }
            let (slot, dir) = (node / 2, usize::from(node % 2));
            let e = self.entry(slot)?;
            if slot != except && e.ns == ns && e.tuple[dir] == *t {
                return Some((slot, dir));
            }
            node = e.next[dir];
        }
        None
    }

    /// True when another live entry uses `t` in either direction (NAT's
    /// `nf_conntrack_tuple_taken`).
    pub(crate) fn taken(&self, ns: NsId, t: &Tuple, except: u16, now: Instant) -> bool {
        self.find(ns, t, except).is_some_and(|(s, _)| self.entry(s).is_some_and(|e| e.expires > now))
    }

    fn link(&mut self, slot: u16, dir: usize) {
        let Some(e) = self.entry(slot) else { return };
        let b = self.bucket(e.ns, &e.tuple[dir]);
        let Some(head) = self.buckets.get(b).copied() else { return };
        if let Some(e) = self.entry_mut(slot) {
            e.next[dir] = head;
        }
        self.buckets[b] = slot * 2 + dir as u16;
    }

    fn unlink(&mut self, slot: u16, dir: usize) {
        let Some(e) = self.entry(slot) else { return };
        let b = self.bucket(e.ns, &e.tuple[dir]);
        let target = slot * 2 + dir as u16;
        let after_target = e.next[dir];
        let Some(mut node) = self.buckets.get(b).copied() else { return };
        if node == target {
            self.buckets[b] = after_target;
            return;
        }
        for _ in 0..self.slots.len() * 2 {
            if node == NIL {
                return;
            }
            let (s, d) = (node / 2, usize::from(node % 2));
            let Some(prev) = self.entry_mut(s) else { return };
            if prev.next[d] == target {
                prev.next[d] = after_target;
                return;
            }
            node = prev.next[d];
        }
    }

    fn lru_push(&mut self, slot: u16) {
        let tail = self.lru_tail;
        if let Some(e) = self.entry_mut(slot) {
            e.lru = [tail, NIL];
            e.status |= status::UNREPLIED_LIST;
        }
        match self.entry_mut(tail) {
            Some(t) => t.lru[1] = slot,
            None => self.lru_head = slot,
        }
        self.lru_tail = slot;
    }

    fn lru_remove(&mut self, slot: u16) {
        let Some(e) = self.entry_mut(slot) else { return };
        if e.status & status::UNREPLIED_LIST == 0 {
            return;
        }
        e.status &= !status::UNREPLIED_LIST;
        let [prev, next] = e.lru;
        match self.entry_mut(prev) {
            Some(p) => p.lru[1] = next,
            None => self.lru_head = next,
        }
        match self.entry_mut(next) {
            Some(n) => n.lru[0] = prev,
            None => self.lru_tail = prev,
        }
    }

    /// Remove an entry.
    pub(crate) fn remove(&mut self, slot: u16) {
        if self.entry(slot).is_none() {
            return;
        }
        self.lru_remove(slot);
        self.unlink(slot, ORIG);
        self.unlink(slot, REPLY);
        if let Some(s) = self.slots.get_mut(usize::from(slot)) {
            s.e = None;
            s.generation = s.generation.wrapping_add(1);
            s.free_next = self.free;
            self.free = slot;
        }
        self.stats.entries = self.stats.entries.saturating_sub(1);
    }

    /// Create an entry for a new connection whose first packet has tuple
    /// `orig`. When the table is full the oldest unreplied entry makes
    /// room, then any expired one the collector finds; otherwise `None`.
    pub(crate) fn insert(&mut self, ns: NsId, orig: Tuple, now: Instant) -> Option<u16> {
        if self.free == NIL {
            self.make_room(now);
        }
        let slot = self.free;
        let s = self.slots.get_mut(usize::from(slot))?;
        self.free = s.free_next;
        s.e = Some(CtEntry {
            ns,
            tuple: [orig, orig.invert()],
            status: 0,
            tcp_state: TcpCtState::None,
            tcp: [TcpDir::default(); 2],
            expires: now,
            next: [NIL; 2],
            lru: [NIL; 2],
            packets: [0; 2],
            bytes: [0; 2],
            mark: 0,
            masq_oif: 0,
        });
        self.link(slot, ORIG);
        self.link(slot, REPLY);
        self.lru_push(slot);
        self.stats.entries += 1;
        self.stats.new += 1;
        Some(slot)
    }

    /// Free one slot for a new connection: the oldest unreplied entry
    /// (`early_drop`), or else the first expired entry found by a scan from
    /// the collector's cursor. The scan stops at the first expired entry
    /// and visits each slot at most once, so it costs at most the table's
    /// capacity (bounded, and only when the table is full of replied
    /// connections); a table with an expired entry anywhere always makes
    /// room.
    fn make_room(&mut self, now: Instant) {
        if self.lru_head != NIL {
            let victim = self.lru_head;
            let expired = self.entry(victim).is_some_and(|e| e.expires <= now);
            self.remove(victim);
            if expired {
                self.stats.expired += 1;
            } else {
                self.stats.early_drop += 1;
            }
            return;
        }
        let n = self.capacity();
        for _ in 0..n {
            let slot = self.gc_cursor as u16;
            self.gc_cursor = (self.gc_cursor + 1) % n;
            if self.entry(slot).is_some_and(|e| e.expires <= now) {
                self.remove(slot);
                self.stats.expired += 1;
                return;
            }
        }
    }

    /// Change an entry's reply tuple (NAT), keeping the hash right.
    pub(crate) fn set_reply(&mut self, slot: u16, reply: Tuple) {
        self.unlink(slot, REPLY);
        if let Some(e) = self.entry_mut(slot) {
            e.tuple[REPLY] = reply;
        }
        self.link(slot, REPLY);
    }

    /// A reply was seen: the entry leaves the unreplied list.
    pub(crate) fn seen_reply(&mut self, slot: u16) {
        self.lru_remove(slot);
        if let Some(e) = self.entry_mut(slot) {
            e.status |= status::SEEN_REPLY;
        }
    }

    /// Visit up to `budget` slots from the collector's cursor, removing
    /// expired entries. Returns how many went.
    pub(crate) fn collect(&mut self, now: Instant, budget: usize) -> usize {
        let n = self.capacity();
        if n == 0 {
            return 0;
        }
        let mut gone = 0;
        for _ in 0..budget.min(n) {
            let slot = self.gc_cursor as u16;
            self.gc_cursor = (self.gc_cursor + 1) % n;
            if self.entry(slot).is_some_and(|e| e.expires <= now) {
                self.remove(slot);
                self.stats.expired += 1;
                gone += 1;
            }
        }
        gone
    }

    /// The periodic collector: once a second, an eighth of the table.
    pub(crate) fn gc(&mut self, now: Instant) {
        if now < self.next_gc || self.stats.entries == 0 {
            return;
        }
        let batch = (self.capacity() / 8).max(GC_MIN_BATCH);
        self.collect(now, batch);
        self.next_gc = now + Duration::from_secs(1);
    }

    /// When the collector next wants to run.
    pub(crate) fn poll_at(&self) -> Option<Instant> {
        (self.stats.entries > 0).then_some(self.next_gc)
    }

    /// Remove every entry of `ns` (all when `None`) that `pred` selects.
    pub(crate) fn flush(&mut self, ns: Option<NsId>, mut pred: impl FnMut(&CtEntry) -> bool) {
        for slot in 0..self.capacity() as u16 {
            if self.entry(slot).is_some_and(|e| ns.is_none_or(|n| n == e.ns) && pred(e)) {
                self.remove(slot);
            }
        }
    }

    /// Every entry, with its slot.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u16, &CtEntry)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| s.e.as_ref().map(|e| (i as u16, e)))
    }
}

impl CtEntry {
    /// Account a packet of `len` bytes in direction `dir` and refresh the
    /// timeout for protocols other than TCP.
    pub(crate) fn account(&mut self, dir: usize, len: usize) {
        if let (Some(p), Some(b)) = (self.packets.get_mut(dir), self.bytes.get_mut(dir)) {
            *p += 1;
            *b += len as u64;
        }
    }

    /// Refresh the timeout of a UDP, ICMP or other connection.
    pub(crate) fn refresh(&mut self, t: &CtTimeouts, now: Instant) {
        let d = match self.tuple[ORIG].proto {
            17 if self.status & status::SEEN_REPLY != 0 => t.udp_stream,
            17 => t.udp,
            1 => t.icmp,
            _ => t.generic,
        };
        self.expires = now + d;
    }

    /// Start tracking TCP with the connection's first segment. `false`
    /// when that segment cannot start one (no SYN, or a RST).
    pub(crate) fn tcp_new(&mut self, seg: &TcpSeg, t: &CtTimeouts, now: Instant) -> bool {
        let f = seg.flags;
        if f & RST != 0 || (f & SYN != 0 && f & ACK != 0) {
            return false;
        }
        let d = &mut self.tcp[ORIG];
        d.seen = true;
        if f & SYN != 0 {
            d.end = seg.seq.wrapping_add(seg.len).wrapping_add(1);
            d.maxend = d.end;
            d.maxwin = u32::from(seg.win).max(1);
            d.wscale_ok = seg.wscale.is_some();
            d.scale = seg.wscale.unwrap_or(0).min(14);
            self.tcp_state = TcpCtState::SynSent;
            self.expires = now + t.tcp_syn_sent;
            return true;
        }
        if f & ACK == 0 {
            return false;
        }
        //= https://www.kernel.org/doc/Documentation/networking/nf_conntrack-sysctl.txt
        //# nf_conntrack_tcp_loose - BOOLEAN
        //# If it is set to zero, we disable picking up already established
        //# connections.
        // Picked up mid-stream: the windows are unknown, so no checks.
        d.end = seg.seq.wrapping_add(seg.len);
        d.maxend = d.end;
        d.maxwin = u32::from(seg.win).max(1);
        self.status |= status::LIBERAL;
        self.tcp_state = TcpCtState::Established;
        self.expires = now + t.tcp_established;
        true
    }

    /// Track a TCP segment in direction `dir`. `Ok(true)` when a SYN in the
    /// original direction reopens a closed connection (the caller starts a
    /// new one), `Err(())` when the segment is invalid (state unchanged).
    pub(crate) fn tcp_track(&mut self, dir: usize, seg: &TcpSeg, t: &CtTimeouts, now: Instant) -> Result<bool, ()> {
        let f = seg.flags;
        let st = self.tcp_state;
        let reopen = dir == ORIG && f & SYN != 0 && f & (ACK | RST) == 0;
        if reopen && matches!(st, TcpCtState::TimeWait | TcpCtState::Close) {
            return Ok(true);
        }
        let next = self.tcp_next_state(dir, f)?;
        self.tcp_window(dir, seg)?;
        let mut next = next.unwrap_or(st);
        if matches!(next, TcpCtState::Established | TcpCtState::FinWait | TcpCtState::CloseWait | TcpCtState::LastAck) {
            next = self.tcp_close_state(next);
        }
        if st == TcpCtState::SynRecv && next == TcpCtState::Established {
            self.status |= status::ASSURED;
        }
        self.tcp_state = next;
        let d = match next {
            TcpCtState::None | TcpCtState::SynSent | TcpCtState::SynSent2 => t.tcp_syn_sent,
            TcpCtState::SynRecv => t.tcp_syn_recv,
            TcpCtState::Established => t.tcp_established,
            TcpCtState::FinWait => t.tcp_fin_wait,
            TcpCtState::CloseWait => t.tcp_close_wait,
            TcpCtState::LastAck => t.tcp_last_ack,
            TcpCtState::TimeWait => t.tcp_time_wait,
            TcpCtState::Close => t.tcp_close,
        };
        self.expires = now + d;
        Ok(false)
    }

    /// The state the flags move to: `Ok(None)` keeps the state (a
    /// retransmission, a segment to ignore), `Err` marks the segment invalid.
    fn tcp_next_state(&self, dir: usize, f: u8) -> Result<Option<TcpCtState>, ()> {
        use TcpCtState as S;
        let st = self.tcp_state;
        if f & RST != 0 {
            return Ok(Some(S::Close));
        }
        if f & SYN != 0 && f & ACK != 0 {
            return match (dir, st) {
                (REPLY, S::SynSent | S::SynRecv | S::SynSent2) | (ORIG, S::SynSent2) => Ok(Some(S::SynRecv)),
                (_, S::Established) => Ok(None),
                _ => Err(()),
            };
        }
        if f & SYN != 0 {
            return match (dir, st) {
                (ORIG, S::None | S::SynSent) => Ok(Some(S::SynSent)),
                (REPLY, S::SynSent) => Ok(Some(S::SynSent2)),
                (_, S::SynSent2) => Ok(None),
                _ => Err(()),
            };
        }
        if f & ACK == 0 {
            // No flag that every segment after the handshake carries.
            return Err(());
        }
        match st {
            S::None | S::SynSent | S::SynSent2 => Err(()),
            S::SynRecv if dir == ORIG => Ok(Some(S::Established)),
            S::SynRecv => Ok(None),
            S::TimeWait | S::Close => Ok(None),
            _ => Ok(Some(S::Established)),
        }
    }

    /// After the handshake: where the FINs and their acknowledgements put
    /// the connection (Linux's FIN_WAIT ... TIME_WAIT, by direction).
    fn tcp_close_state(&self, st: TcpCtState) -> TcpCtState {
        let [a, b] = self.tcp;
        match (a.fin, b.fin) {
            (true, true) if a.fin_acked && b.fin_acked => TcpCtState::TimeWait,
            (true, true) => TcpCtState::LastAck,
            (true, false) | (false, true) => {
                let acked = if a.fin { a.fin_acked } else { b.fin_acked };
                if acked { TcpCtState::CloseWait } else { TcpCtState::FinWait }
            }
            (false, false) => st,
        }
    }

    /// The window checks and bookkeeping of `tcp_in_window`.
    fn tcp_window(&mut self, dir: usize, seg: &TcpSeg) -> Result<(), ()> {
        let other = 1 - dir;
        let f = seg.flags;
        let syn = f & SYN != 0;
        let mut end = seg.seq.wrapping_add(seg.len);
        if syn {
            end = end.wrapping_add(1);
        }
        if f & FIN != 0 {
            end = end.wrapping_add(1);
        }
        if syn && !self.tcp[dir].seen || (syn && f & ACK != 0 && dir == REPLY) {
            // The first SYN of this side: it sets the window's start.
            let s = &mut self.tcp[dir];
            s.seen = true;
            s.end = end;
            s.maxend = end;
            s.maxwin = u32::from(seg.win).max(1);
            s.wscale_ok = seg.wscale.is_some();
            s.scale = seg.wscale.unwrap_or(0).min(14);
            if f & ACK != 0 {
                //= https://www.rfc-editor.org/rfc/rfc7323#section-2.2
                //# If a Window Scale option is received with a shift.cnt value
                //# [...] both sides MUST send Window Scale options in their
                //# <SYN> segments to enable window scaling in either direction.
                let both = self.tcp[0].wscale_ok && self.tcp[1].wscale_ok;
                if !both {
                    self.tcp[0].scale = 0;
                    self.tcp[1].scale = 0;
                }
                let r = &mut self.tcp[other];
                if after(seg.ack.wrapping_add(u32::from(seg.win)), r.maxend) {
                    r.maxend = seg.ack.wrapping_add(u32::from(seg.win));
                }
            }
            return Ok(());
        }
        if !self.tcp[dir].seen {
            // The other side's first segment after a pick-up.
            let s = &mut self.tcp[dir];
            s.seen = true;
            s.end = end;
            s.maxend = end;
            s.maxwin = u32::from(seg.win).max(1);
        }
        let (s, r) = (self.tcp[dir], self.tcp[other]);
        let win = if syn { u32::from(seg.win) } else { u32::from(seg.win) << s.scale };
        let ack = if f & ACK != 0 { seg.ack } else { r.end };
        let max_ack_window = s.maxwin.max(66_000);
        let in_window = self.status & status::LIBERAL != 0
            || (!after(seg.seq, s.maxend)
                && !before(end, s.end.wrapping_sub(r.maxwin.max(1)))
                && !before(ack, r.end.wrapping_sub(max_ack_window))
                && !after(ack, r.end.wrapping_add(1)));
        if !in_window {
            return Err(());
        }
        let s = &mut self.tcp[dir];
        if after(end, s.end) || !s.seen {
            s.end = end;
        }
        s.maxwin = s.maxwin.max(win);
        if f & FIN != 0 && !s.fin {
            s.fin = true;
            s.fin_end = end;
        }
        if f & ACK != 0 {
            let r = &mut self.tcp[other];
            if after(ack.wrapping_add(win), r.maxend) {
                r.maxend = ack.wrapping_add(win);
            }
            if r.fin && !after(r.fin_end, ack) {
                r.fin_acked = true;
            }
        }
        Ok(())
    }
}

/// An entry as `conntrack -L` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CtView {
    /// The namespace.
    pub ns: NsId,
    /// The original tuple.
    pub orig: Tuple,
    /// The reply tuple (rewritten by NAT).
    pub reply: Tuple,
    /// The TCP state (`None` for other protocols).
    pub tcp_state: TcpCtState,
    /// Seconds left.
    pub timeout_secs: u64,
    /// A reply was seen.
    pub seen_reply: bool,
    /// Assured: never evicted for a new connection.
    pub assured: bool,
    /// Source NAT applies.
    pub snat: bool,
    /// Destination NAT applies.
    pub dnat: bool,
    /// Packets and bytes, original and reply direction.
    pub packets: [u64; 2],
    /// See `packets`.
    pub bytes: [u64; 2],
    /// The connection mark.
    pub mark: u32,
}

impl CtView {
    pub(crate) fn of(e: &CtEntry, now: Instant) -> CtView {
        CtView {
            ns: e.ns,
            orig: e.tuple[ORIG],
            reply: e.tuple[REPLY],
            tcp_state: e.tcp_state,
            timeout_secs: e.expires.saturating_duration_since(now).as_secs(),
            seen_reply: e.status & status::SEEN_REPLY != 0,
            assured: e.status & status::ASSURED != 0,
            snat: e.status & status::SRC_NAT != 0,
            dnat: e.status & status::DST_NAT != 0,
            packets: e.packets,
            bytes: e.bytes,
            mark: e.mark,
        }
    }
}

/// One direction's tuple; `icmp_type` is the query's type (8) for the
/// original direction and the answer's (0) for the reply, as conntrack
/// prints them.
fn write_tuple(f: &mut fmt::Formatter<'_>, t: &Tuple, icmp_type: u8, packets: u64, bytes: u64) -> fmt::Result {
    write!(f, "src={} dst={} ", t.src, t.dst)?;
    match t.proto {
        6 | 17 => write!(f, "sport={} dport={} ", t.sport, t.dport)?,
        1 => write!(f, "type={icmp_type} code=0 id={} ", t.sport)?,
        _ => {}
    }
    write!(f, "packets={packets} bytes={bytes}")
}

impl fmt::Display for CtView {
    /// One line of `conntrack -L`:
    /// `tcp 6 431999 ESTABLISHED src=... dst=... sport=... dport=... packets=.. bytes=.. src=... [ASSURED] mark=0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<8} {} {} ", self.orig.proto_name(), self.orig.proto, self.timeout_secs)?;
        if self.orig.proto == 6 {
            write!(f, "{} ", self.tcp_state.name())?;
        }
        write_tuple(f, &self.orig, 8, self.packets[ORIG], self.bytes[ORIG])?;
        if !self.seen_reply {
            f.write_str(" [UNREPLIED]")?;
        }
        f.write_str(" ")?;
        write_tuple(f, &self.reply, 0, self.packets[REPLY], self.bytes[REPLY])?;
        if self.assured {
            f.write_str(" [ASSURED]")?;
        }
        write!(f, " mark={} use=1", self.mark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(src: [u8; 4], sport: u16) -> Tuple {
        Tuple { src: Ipv4Addr::from(src), dst: Ipv4Addr::new(10, 0, 0, 9), proto: 6, sport, dport: 80 }
    }

    fn table<const N: usize>(slots: &mut [CtSlot; N], buckets: &mut [u16; N]) -> Conntrack<'static> {
        let slots: &'static mut [CtSlot] = Box::leak(Box::new(*slots));
        let buckets: &'static mut [u16] = Box::leak(Box::new(*buckets));
        Conntrack::new(slots, buckets, [7; 16])
    }

    #[test]
    fn both_directions_find_the_entry_and_removal_frees_the_slot() {
        let mut ct = table(&mut [CtSlot::EMPTY; 8], &mut [0; 8]);
        let now = Instant::from_secs(1);
        let t = tcp([10, 0, 0, 1], 1000);
        let s = ct.insert(NsId(0), t, now).unwrap();
        ct.entry_mut(s).unwrap().expires = now + Duration::from_secs(5);
        assert_eq!(ct.lookup(NsId(0), &t, now), Some((s, ORIG)));
        assert_eq!(ct.lookup(NsId(0), &t.invert(), now), Some((s, REPLY)));
        assert_eq!(ct.lookup(NsId(1), &t, now), None, "namespaces are part of the key");
        let r = ct.make_ref(s, CtInfo::New, REPLY);
        assert_eq!(CtRef::from_bits(r.to_bits()), r);
        ct.remove(s);
        assert!(ct.resolve(r).is_none(), "a reference to a removed entry is stale");
        assert_eq!(ct.lookup(NsId(0), &t, now), None);
        assert_eq!(ct.stats.entries, 0);
    }

    #[test]
    fn a_full_table_drops_the_oldest_unreplied_then_refuses() {
        let mut ct = table(&mut [CtSlot::EMPTY; 3], &mut [0; 3]);
        let now = Instant::from_secs(1);
        let mut slots = [0u16; 3];
        for (i, s) in slots.iter_mut().enumerate() {
            *s = ct.insert(NsId(0), tcp([10, 0, 0, 1], 1000 + i as u16), now).unwrap();
            ct.entry_mut(*s).unwrap().expires = now + Duration::from_secs(100);
        }
        ct.seen_reply(slots[0]);
        ct.seen_reply(slots[2]);
        let s = ct.insert(NsId(0), tcp([10, 0, 0, 1], 2000), now).unwrap();
        assert_eq!(s, slots[1], "the only unreplied entry made room");
        assert_eq!(ct.stats.early_drop, 1);
        ct.entry_mut(s).unwrap().expires = now + Duration::from_secs(100);
        ct.seen_reply(s);
        assert_eq!(ct.insert(NsId(0), tcp([10, 0, 0, 1], 3000), now), None, "all replied: refused");
        let later = now + Duration::from_secs(101);
        assert!(ct.insert(NsId(0), tcp([10, 0, 0, 1], 3000), later).is_some(), "expired entries make room");
    }

    /// The regression: with every entry replied, a full table whose only
    /// expired entry lay beyond the collector's next batch refused new
    /// connections.
    #[test]
    fn a_full_replied_table_finds_an_expired_entry_anywhere() {
        const N: usize = 200;
        let mut ct = table(&mut [CtSlot::EMPTY; N], &mut [0; N]);
        let now = Instant::from_secs(1);
        let mut slots = [0u16; N];
        for (i, s) in slots.iter_mut().enumerate() {
            *s = ct.insert(NsId(0), tcp([10, 0, 1, 1], 1000 + i as u16), now).unwrap();
            ct.entry_mut(*s).unwrap().expires = now + Duration::from_secs(100);
            ct.seen_reply(*s);
        }
        assert_eq!(ct.insert(NsId(0), tcp([10, 0, 0, 1], 3000), now), None, "nothing to evict");
        // One entry expires, far past the collector's batch of 64 slots.
        let far = slots[N - 3];
        ct.entry_mut(far).unwrap().expires = now;
        let later = now + Duration::from_secs(1);
        assert_eq!(ct.insert(NsId(0), tcp([10, 0, 0, 1], 3000), later), Some(far));
        assert_eq!((ct.stats.expired, ct.stats.early_drop), (1, 0));
        ct.entry_mut(far).unwrap().expires = later + Duration::from_secs(100);
        ct.seen_reply(far);
        // Full again, and nothing expired: refused after one bounded scan.
        assert_eq!(ct.insert(NsId(0), tcp([10, 0, 0, 1], 3001), later), None);
    }

    #[test]
    fn tcp_handshake_data_and_close_are_followed() {
        let t = CtTimeouts::default();
        let mut ct = table(&mut [CtSlot::EMPTY; 4], &mut [0; 4]);
        let now = Instant::from_secs(1);
        let s = ct.insert(NsId(0), tcp([10, 0, 0, 1], 1000), now).unwrap();
        let e = ct.entry_mut(s).unwrap();
        let seg = |seq, ack, flags, len| TcpSeg { seq, ack, win: 64_000, flags, len, wscale: Some(7) };
        assert!(e.tcp_new(&seg(100, 0, SYN, 0), &t, now));
        assert_eq!(e.tcp_state, TcpCtState::SynSent);
        e.tcp_track(REPLY, &seg(5000, 101, SYN | ACK, 0), &t, now).unwrap();
        assert_eq!(e.tcp_state, TcpCtState::SynRecv);
        e.tcp_track(ORIG, &seg(101, 5001, ACK, 0), &t, now).unwrap();
        assert_eq!(e.tcp_state, TcpCtState::Established);
        assert!(e.status & status::ASSURED != 0);
        e.tcp_track(ORIG, &seg(101, 5001, ACK, 1448), &t, now).unwrap();
        e.tcp_track(REPLY, &seg(5001, 1549, ACK, 0), &t, now).unwrap();
        assert_eq!(e.tcp_track(ORIG, &seg(101 + 50_000_000, 5001, ACK, 10), &t, now), Err(()), "far beyond the window");
        e.tcp_track(ORIG, &seg(1549, 5001, FIN | ACK, 0), &t, now).unwrap();
        assert_eq!(e.tcp_state, TcpCtState::FinWait);
        e.tcp_track(REPLY, &seg(5001, 1550, ACK, 0), &t, now).unwrap();
        assert_eq!(e.tcp_state, TcpCtState::CloseWait);
        e.tcp_track(REPLY, &seg(5001, 1550, FIN | ACK, 0), &t, now).unwrap();
        assert_eq!(e.tcp_state, TcpCtState::LastAck);
        e.tcp_track(ORIG, &seg(1550, 5002, ACK, 0), &t, now).unwrap();
        assert_eq!(e.tcp_state, TcpCtState::TimeWait);
        assert_eq!(e.expires, now + t.tcp_time_wait);
        assert_eq!(e.tcp_track(ORIG, &seg(9, 0, SYN, 0), &t, now), Ok(true), "a new SYN reopens");
    }
}

//! TIME-WAIT without a socket (Linux's `inet_timewait_sock`): a closed
//! connection keeps only what it needs to answer stray segments for 60
//! seconds (its 4-tuple, next sequence numbers, the peer's last timestamp),
//! about 40 bytes, in its own bounded table. When the table is full the
//! entry closest to expiry makes room, as Linux drops TIME-WAIT buckets past
//! `tcp_max_tw_buckets`.

use core::net::SocketAddrV4;

use super::TcpState;
use super::chain::{self, Chained, NIL};
use super::input::Segment;
use super::output::Conn;
use super::seq::Seq;
use super::tcb::Tcb;
use crate::netfilter::NfHooks;
use crate::netns::NsId;
use crate::netns::World;
use crate::skb::{OwnerId, SkBuff};
use crate::time::{Earliest, Instant};

/// A connection in TIME-WAIT: 36 bytes.
#[derive(Clone, Copy, Debug)]
pub struct TwSock {
    /// Our address.
    pub local: SocketAddrV4,
    /// The peer's.
    pub remote: SocketAddrV4,
    /// Our next sequence number (after our FIN).
    pub snd_nxt: Seq,
    /// The peer's next sequence number (after its FIN).
    pub rcv_nxt: Seq,
    ts_recent: u32,
    /// Our timestamp offset.
    pub ts_offset: u32,
    /// When the entry goes, in whole seconds of the clock (rounded up).
    expires_s: u32,
    next: u16,
    /// Namespace.
    pub ns: NsId,
    has_ts: bool,
}

impl TwSock {
    /// The peer's last timestamp, when timestamps were in use.
    pub fn ts_recent(&self) -> Option<u32> {
        self.has_ts.then_some(self.ts_recent)
    }

    /// When the entry goes.
    pub fn expires(&self) -> Instant {
        Instant::from_secs(u64::from(self.expires_s))
    }

    /// Wait the full time again from `now`.
    fn restart(&mut self, now: Instant) {
        self.expires_s = secs_up(now + super::TIME_WAIT);
    }
}

/// `t` in whole seconds, rounded up.
fn secs_up(t: Instant) -> u32 {
    t.micros().div_ceil(1_000_000).min(u64::from(u32::MAX)) as u32
}

impl Chained for TwSock {
    fn key(&self) -> (NsId, SocketAddrV4, SocketAddrV4) {
        (self.ns, self.local, self.remote)
    }

    fn next(&self) -> u16 {
        self.next
    }

    fn set_next(&mut self, next: u16) {
        self.next = next;
    }
}

/// The TIME-WAIT table over caller-provided slots and buckets.
pub struct TwTable<'a> {
    slots: &'a mut [Option<TwSock>],
    buckets: &'a mut [u16],
    /// Entries dropped early because the table was full.
    pub overflows: u64,
    /// When the first entry expires.
    earliest: Earliest,
}

impl<'a> TwTable<'a> {
    /// A table over `slots` and `buckets`.
    pub fn new(slots: &'a mut [Option<TwSock>], buckets: &'a mut [u16]) -> Self {
        let mut earliest = Earliest::NONE;
        earliest.set(slots.iter().flatten().map(TwSock::expires));
        TwTable { slots, buckets, overflows: 0, earliest }
    }

    /// Forget every entry (the world is shutting down).
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
        self.buckets.iter_mut().for_each(|b| *b = NIL);
        self.earliest = Earliest::NONE;
    }

    /// An entry's expiry changed from `old` to `new`.
    fn retime(&mut self, old: Option<Instant>, new: Option<Instant>) {
        if !self.earliest.update(old, new) {
            self.earliest.set(self.slots.iter().flatten().map(TwSock::expires));
        }
    }

    /// Entries in TIME-WAIT.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// True when none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes one entry costs.
    pub const ENTRY_BYTES: usize = core::mem::size_of::<Option<TwSock>>() + 2;

    /// Put a connection in TIME-WAIT until `expires`.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        ns: NsId,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        snd_nxt: Seq,
        rcv_nxt: Seq,
        ts_recent: Option<u32>,
        ts_offset: u32,
        expires: Instant,
    ) {
        if self.buckets.is_empty() {
            return;
        }
        if let Some(i) = self.find(ns, local, remote) {
            self.remove_at(i);
        }
        let i = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                let soonest = (0..self.slots.len()).min_by_key(|&i| self.slots[i].map_or(0, |t| t.expires_s));
                let Some(i) = soonest else { return };
                self.remove_at(i);
                self.overflows += 1;
                i
            }
        };
        let expires_s = secs_up(expires);
        let entry = TwSock {
            local,
            remote,
            snd_nxt,
            rcv_nxt,
            ts_recent: ts_recent.unwrap_or(0),
            ts_offset,
            expires_s,
            next: NIL,
            ns,
            has_ts: ts_recent.is_some(),
        };
        chain::link(self.slots, self.buckets, i, entry);
        self.retime(None, Some(Instant::from_secs(u64::from(expires_s))));
    }

    /// The entry for a 4-tuple.
    pub fn find(&self, ns: NsId, local: SocketAddrV4, remote: SocketAddrV4) -> Option<usize> {
        chain::find(self.slots, self.buckets, ns, local, remote)
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> Option<&TwSock> {
        self.slots.get(i)?.as_ref()
    }

    /// Entry `i` waits the full time again from `now` (the peer resent
    /// its FIN).
    pub fn restart(&mut self, i: usize, now: Instant) {
        let Some(t) = self.slots.get_mut(i).and_then(Option::as_mut) else { return };
        let old = t.expires();
        t.restart(now);
        let new = t.expires();
        self.retime(Some(old), Some(new));
    }

    /// Remove entry `i`.
    pub fn remove_at(&mut self, i: usize) {
        if let Some(t) = self.unlink(i) {
            self.retime(Some(t.expires()), None);
        }
    }

    /// Take entry `i` out of its slot and its hash chain.
    fn unlink(&mut self, i: usize) -> Option<TwSock> {
        chain::unlink(self.slots, self.buckets, i)
    }

    /// Remove every entry that expired by `now`.
    pub fn expire(&mut self, now: Instant) {
        if !self.earliest.due(now) {
            return;
        }
        for i in 0..self.slots.len() {
            if self.slots[i].is_some_and(|t| t.expires() <= now) {
                self.unlink(i);
            }
        }
        self.earliest.set(self.slots.iter().flatten().map(TwSock::expires));
    }

    /// When the next entry expires.
    pub fn poll_at(&self) -> Option<Instant> {
        debug_assert_eq!(self.earliest.get(), self.slots.iter().flatten().map(TwSock::expires).min());
        self.earliest.get()
    }

    /// True when a TIME-WAIT entry holds this local port in `ns`.
    pub fn port_in_use(&self, ns: NsId, local: SocketAddrV4) -> bool {
        self.slots.iter().flatten().any(|t| t.ns == ns && t.local.port() == local.port())
    }

    /// Every entry of `ns`.
    pub fn entries(&self, ns: NsId) -> impl Iterator<Item = &TwSock> + '_ {
        self.slots.iter().flatten().filter(move |t| t.ns == ns)
    }
}

impl<H: NfHooks> World<'_, H> {
    /// A segment for a connection in TIME-WAIT (`tcp_timewait_state_process`).
    pub(crate) fn tcp_tw_rcv(&mut self, i: usize, seg: Segment, skb: SkBuff, now: Instant) {
        self.pool.free(skb);
        let Some(tw) = self.tw.get(i).copied() else { return };
        if seg.rst() {
            // Linux lets a reset end TIME-WAIT early (RFC 1337 hazards aside).
            return self.tw.remove_at(i);
        }
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.6.1
        //# a TCP implementation MAY accept a new SYN from the remote TCP to
        //# reopen the connection directly from TIME-WAIT state, if it: (1)
        //# assigns its initial sequence number [...] larger than the largest
        //# sequence number used on the previous connection incarnation, and (2)
        //# returns to TIME-WAIT state if the SYN turns out to be an old duplicate.
        let newer_ts = match (tw.ts_recent(), seg.ts) {
            (Some(recent), Some((val, _))) => Seq(val).gt(Seq(recent)),
            _ => false,
        };
        if seg.syn()
            && !seg.has_ack()
            && (seg.seq.gt(tw.rcv_nxt) || newer_ts)
            && let Some(l) = self.socks.lookup_listener(tw.ns, tw.local)
        {
            self.tw.remove_at(i);
            return self.tcp_listen_rcv(l, seg, Some(tw.snd_nxt), now);
        }
        if seg.fin() {
            // The peer did not hear our ACK of its FIN: ACK again, wait again.
            self.tw.restart(i, now);
        }
        if !seg.is_empty() || seg.fin() || !seg.has_ack() || seg.ack != tw.snd_nxt {
            self.tcp_tw_ack(&tw, now);
        }
    }

    /// An ACK from a TIME-WAIT entry.
    fn tcp_tw_ack(&mut self, tw: &TwSock, now: Instant) {
        let mut t = Tcb::new(Default::default());
        t.state = TcpState::TimeWait;
        t.snd_nxt = tw.snd_nxt;
        t.rcv_nxt = tw.rcv_nxt;
        t.rcv_wup = tw.rcv_nxt;
        t.ts_ok = tw.has_ts;
        t.ts_recent = tw.ts_recent;
        t.ts_offset = tw.ts_offset;
        let ttl = self.netns(tw.ns).map_or(64, |n| n.sysctl.default_ttl);
        let c = Conn {
            id: crate::socket::SockId::NONE,
            ns: tw.ns,
            local: tw.local,
            remote: tw.remote,
            ttl,
            tos: 0,
            rcv_owner: OwnerId::SYSTEM,
        };
        self.tcp_send_ack(&c, &mut t, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn insert_find_expire_and_overflow() {
        let (mut slots, mut buckets) = ([None; 2], [NIL; 2]);
        let mut t = TwTable::new(&mut slots, &mut buckets);
        let l = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80);
        let r = |p| SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), p);
        let at = Instant::from_secs;
        t.insert(NsId(0), l, r(1), Seq(1), Seq(2), Some(5), 0, at(60));
        t.insert(NsId(0), l, r(2), Seq(1), Seq(2), None, 0, at(61));
        assert!(t.find(NsId(0), l, r(1)).is_some() && t.find(NsId(1), l, r(1)).is_none());
        t.insert(NsId(0), l, r(3), Seq(1), Seq(2), None, 0, at(62));
        assert_eq!((t.len(), t.overflows), (2, 1));
        assert!(t.find(NsId(0), l, r(1)).is_none(), "the soonest to expire made room");
        assert_eq!(t.poll_at(), Some(at(61)));
        t.expire(at(61));
        assert_eq!(t.len(), 1);
        assert!(t.port_in_use(NsId(0), l));
        const { assert!(TwTable::ENTRY_BYTES <= 42) };
    }
}

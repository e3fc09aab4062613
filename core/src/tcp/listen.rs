//! Listeners (`inet_csk_listen_start`, `tcp_conn_request`,
//! `tcp_check_req`): a SYN gets a small request entry in a bounded table
//! and a SYN-ACK; the ACK that completes the handshake turns the entry into
//! a connection on the listener's accept queue. When the request table or
//! the listener's share of it is full, the SYN-ACK carries a SYN cookie
//! instead (RFC 4987 §3.6) and nothing is kept; the ACK proves the cookie.
//! A full accept queue drops the handshake and counts it, as Linux does.

use core::net::SocketAddrV4;

use super::chain::{self, Chained, NIL};
use super::input::Segment;
use super::isn::{check_cookie, cookie, isn, ts_offset};
use super::output::Conn;
use super::seq::Seq;
use super::tcb::Tcb;
use super::{HEADROOM, SYNACK_RETRIES, TcpState, WSCALE};
use crate::netfilter::NfHooks;
use crate::netns::{NsId, World};
use crate::skb::{OwnerId, SkBuff};
use crate::socket::{ListenInfo, SockId, SockTable};
use crate::stats::DropReason;
use crate::time::{Earliest, Instant};
use crate::wire::TcpFlags;

/// A handshake in progress (Linux's `request_sock`): about 60 bytes.
#[derive(Clone, Copy, Debug)]
pub struct ReqSock {
    ns: NsId,
    listener: SockId,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    iss: Seq,
    irs: Seq,
    mss: u16,
    wscale: Option<u8>,
    sack: bool,
    ts: Option<u32>,
    retransmits: u8,
    timer: Instant,
    /// When the SYN arrived and the first SYN-ACK went.
    born: Instant,
    /// Rebuilt from a SYN cookie: nothing was kept, no RTT can be measured.
    cookie: bool,
    next: u16,
}

impl Chained for ReqSock {
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

/// The request table over caller-provided slots and buckets.
pub struct ReqTable<'a> {
    slots: &'a mut [Option<ReqSock>],
    buckets: &'a mut [u16],
    /// The first SYN-ACK timer.
    earliest: Earliest,
}

impl<'a> ReqTable<'a> {
    /// A table over `slots` and `buckets`.
    pub fn new(slots: &'a mut [Option<ReqSock>], buckets: &'a mut [u16]) -> Self {
        let mut earliest = Earliest::NONE;
        earliest.set(slots.iter().flatten().map(|r| r.timer));
        ReqTable { slots, buckets, earliest }
    }

    /// An entry's timer changed from `old` to `new`.
    fn retime(&mut self, old: Option<Instant>, new: Option<Instant>) {
        if !self.earliest.update(old, new) {
            self.earliest.set(self.slots.iter().flatten().map(|r| r.timer));
        }
    }

    /// Entry `i`'s timer goes off at `at`.
    fn set_timer(&mut self, i: usize, at: Instant) {
        let Some(r) = self.slots.get_mut(i).and_then(Option::as_mut) else { return };
        let old = core::mem::replace(&mut r.timer, at);
        self.retime(Some(old), Some(at));
    }

    /// The entry for a 4-tuple.
    pub fn find(&self, ns: NsId, local: SocketAddrV4, remote: SocketAddrV4) -> Option<usize> {
        chain::find(self.slots, self.buckets, ns, local, remote)
    }

    fn insert(&mut self, r: ReqSock) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let i = self.slots.iter().position(Option::is_none)?;
        chain::link(self.slots, self.buckets, i, r);
        self.retime(None, Some(r.timer));
        Some(i)
    }

    fn remove(&mut self, i: usize) -> Option<ReqSock> {
        let r = chain::unlink(self.slots, self.buckets, i)?;
        self.retime(Some(r.timer), None);
        Some(r)
    }

    /// Handshakes in progress.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// True when none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Handshakes in progress in namespace `ns`.
    pub fn len_in(&self, ns: NsId) -> usize {
        self.slots.iter().flatten().filter(|r| r.ns == ns).count()
    }

    /// When the next SYN-ACK retransmission is due.
    pub fn poll_at(&self) -> Option<Instant> {
        debug_assert_eq!(self.earliest.get(), self.slots.iter().flatten().map(|r| r.timer).min());
        self.earliest.get()
    }

    /// Our initial sequence number in entry `i`.
    pub(crate) fn iss_of(&self, i: usize) -> Option<Seq> {
        self.slots.get(i)?.as_ref().map(|r| r.iss)
    }

    /// Forget every request (the world is shutting down).
    pub(crate) fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
        self.buckets.iter_mut().for_each(|b| *b = NIL);
        self.earliest = Earliest::NONE;
    }
}

impl<H: NfHooks> World<'_, H> {
    /// A segment for a listener (`tcp_v4_do_rcv` in LISTEN); its payload
    /// was freed (data on a SYN is not kept, as Linux does without Fast
    /// Open). `reopen` is the TIME-WAIT entry's `snd_nxt` when the SYN
    /// reopens a connection in TIME-WAIT.
    pub(crate) fn tcp_listen_rcv(&mut self, l: SockId, seg: Segment, reopen: Option<Seq>, now: Instant) {
        let ns = self.socks.get(l).map_or(crate::netns::NsId::INIT, |s| s.ns);
        if seg.rst() {
            return;
        }
        if seg.has_ack() {
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.2
            //# Any acknowledgment is bad if it arrives on a connection still in
            //# the LISTEN state. An acceptable reset segment should be formed
            return self.tcp_cookie_ack(l, &seg, now);
        }
        if !seg.syn() {
            return;
        }
        let Some((backlog, accept_len, syn_len)) =
            self.socks.get(l).and_then(|s| s.listen).map(|q| (q.backlog, q.accept_len, q.syn_len))
        else {
            return;
        };
        if accept_len >= backlog {
            if let Some(n) = self.netns_mut(ns) {
                n.stats.tcp_ext.ListenOverflows += 1;
                n.stats.tcp_ext.ListenDrops += 1;
                n.stats.drops.count(DropReason::TcpListenOverflow);
            }
            return;
        }
        let want_cookie = syn_len >= backlog || self.reqs.slots.iter().all(Option::is_some);
        let mss = seg.mss.unwrap_or(super::DEFAULT_MSS);
        let iss = match (want_cookie, reopen) {
            (true, _) => cookie(&self.secret, seg.dst, seg.src, seg.seq, mss, now),
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.6.1
            //# (1) assigns its initial sequence number for the new connection to
            //# be larger than the largest sequence number it used on the previous
            //# connection incarnation
            (false, Some(old)) => old + 65_535 + 2,
            (false, None) => isn(&self.secret, seg.dst, seg.src, now),
        };
        let req = ReqSock {
            ns,
            listener: l,
            local: seg.dst,
            remote: seg.src,
            iss,
            irs: seg.seq,
            mss,
            wscale: seg.wscale,
            sack: seg.sack_perm,
            ts: seg.ts.map(|t| t.0),
            retransmits: 0,
            timer: now + super::RTO_INIT,
            born: now,
            cookie: want_cookie,
            next: NIL,
        };
        if want_cookie {
            if let Some(q) = self.socks.get_mut(l).and_then(|s| s.listen.as_mut()) {
                q.cookie_at = Some(now);
            }
            if let Some(n) = self.netns_mut(ns) {
                n.stats.tcp_ext.SyncookiesSent += 1;
            }
        } else if self.reqs.insert(req).is_some()
            && let Some(q) = self.socks.get_mut(l).and_then(|s| s.listen.as_mut())
        {
            q.syn_len += 1;
        }
        self.tcp_send_synack(&req, want_cookie, now);
    }

    /// Send a SYN-ACK for a request (or a cookie). With a cookie and
    /// timestamps, TSval's low bits carry the peer's window scale and SACK
    /// permission, as Linux's `cookie_init_timestamp` does.
    fn tcp_send_synack(&mut self, r: &ReqSock, cookie: bool, now: Instant) {
        let Some(s) = self.socks.get(r.listener) else { return };
        // The listener's settings, `TCP_MAXSEG` among them: the MSS the
        // SYN-ACK announces is bounded by it, as the child's segments are.
        let mut t = s.tcp.as_ref().map_or_else(|| Tcb::new(Default::default()), Tcb::inherit);
        t.state = TcpState::SynReceived;
        t.iss = r.iss;
        t.snd_nxt = r.iss;
        t.rcv_nxt = r.irs + 1;
        t.sack_ok = r.sack;
        t.ts_ok = r.ts.is_some();
        t.ts_recent = r.ts.unwrap_or(0);
        t.wscale_ok = r.wscale.is_some();
        t.rcv_wscale = if t.wscale_ok { WSCALE } else { 0 };
        t.ts_offset = ts_offset(&self.secret, r.local, r.remote);
        if cookie && t.ts_ok {
            // TSval's low six bits say the options; the clock loses at most
            // 63 ms and never gains: the connection's later TSvals come from
            // the plain clock, and one older than this SYN-ACK's would fail
            // the peer's PAWS test (Linux's cookie_init_timestamp steps back
            // the same way).
            let opts = u32::from(r.wscale.map_or(0xf, |w| w.min(14))) | (u32::from(r.sack) << 4);
            let clock = t.tsval(now);
            let mut tsval = (clock & !0x3f) | opts;
            if Seq(tsval).gt(Seq(clock)) {
                tsval = tsval.wrapping_sub(0x40);
            }
            t.ts_offset = tsval.wrapping_sub(now.millis() as u32);
        }
        let c = Conn {
            id: r.listener,
            ns: r.ns,
            local: r.local,
            remote: r.remote,
            ttl: s.opts.ttl.unwrap_or(64),
            tos: s.opts.tos,
            rcv_owner: s.rcv_owner,
        };
        t.rcv_wup = t.rcv_nxt;
        t.rcv_wnd = self.tcp_synack_window(r);
        let Ok(skb) = self.pool.alloc_with_headroom(OwnerId::SYSTEM, HEADROOM) else { return };
        let _ = self.tcp_transmit(&c, &mut t, skb, r.iss, TcpFlags::SYN | TcpFlags::ACK, now);
    }

    /// The window a SYN-ACK for `r` offers, from the listener's receive
    /// buffer (the child starts from it, Linux's `req->rsk_rcv_wnd`).
    fn tcp_synack_window(&self, r: &ReqSock) -> u32 {
        let Some(s) = self.socks.get(r.listener) else { return 0 };
        let mut t = s.tcp.as_ref().map_or_else(|| Tcb::new(Default::default()), Tcb::inherit);
        t.rcv_nxt = r.irs + 1;
        // Left edge and window as a new connection has them, so that the
        // "never move the right edge back" rule has nothing to keep.
        t.rcv_wup = t.rcv_nxt;
        t.rcv_wscale = if r.wscale.is_some() { WSCALE } else { 0 };
        // The peer's segments are no larger than the MSS we announce, which
        // `TCP_MAXSEG` bounds: the window counts a buffer per segment.
        if t.user_mss != 0 {
            t.rcv_mss = t.rcv_mss.min(t.user_mss);
        }
        let c =
            Conn { id: r.listener, ns: r.ns, local: r.local, remote: r.remote, ttl: 0, tos: 0, rcv_owner: s.rcv_owner };
        //= https://www.rfc-editor.org/rfc/rfc7323#section-2.2
        //# The window field in a segment where the SYN bit is set (i.e., a
        //# <SYN> or <SYN,ACK>) MUST NOT be scaled.
        self.tcp_select_window(&c, &t).min(65_535)
    }

    /// A segment for a handshake in progress (`tcp_check_req`).
    pub(crate) fn tcp_req_rcv(&mut self, i: usize, seg: Segment, skb: SkBuff, now: Instant) {
        let Some(r) = self.reqs.slots.get(i).copied().flatten() else {
            self.pool.free(skb);
            return;
        };
        if seg.rst() {
            self.pool.free(skb);
            return self.tcp_req_drop(i);
        }
        if seg.syn() && seg.seq == r.irs {
            // The SYN again: our SYN-ACK was lost.
            self.pool.free(skb);
            return self.tcp_send_synack(&r, false, now);
        }
        if !seg.has_ack() || seg.ack != r.iss + 1 || seg.seq != r.irs + 1 {
            self.pool.free(skb);
            let why = if !seg.has_ack() {
                DropReason::TcpFlags
            } else if seg.ack != r.iss + 1 {
                self.tcp_send_reset_for(&seg.reset_for(r.ns), now);
                DropReason::TcpInvalidAck
            } else {
                DropReason::TcpBadSeq
            };
            return self.drop_count(r.ns, why);
        }
        let wscale = r.wscale;
        match self.tcp_create_child(&r, r.mss, wscale, r.sack, &seg, now) {
            Some(child) => {
                self.tcp_req_drop(i);
                // Data or FIN riding on the handshake's ACK.
                self.tcp_rcv(child, seg, skb, now);
            }
            // Counted in ListenOverflows or ListenDrops as well.
            None => {
                self.pool.free(skb);
                self.drop_count(r.ns, DropReason::TcpListenOverflow);
            }
        }
    }

    /// An ACK for a listener with no request: a SYN cookie, or a reset.
    fn tcp_cookie_ack(&mut self, l: SockId, seg: &Segment, now: Instant) {
        let Some(ns) = self.socks.get(l).map(|s| s.ns) else { return };
        // Cookies are checked only while ones this listener sent may still
        // come back (Linux's tcp_synq_no_recent_overflow); otherwise the
        // ACK is simply one nobody expects.
        let recent = self
            .socks
            .get(l)
            .and_then(|s| s.listen)
            .and_then(|q| q.cookie_at)
            .is_some_and(|at| now.saturating_duration_since(at) < super::isn::COOKIE_LIFETIME);
        if !recent {
            return self.tcp_send_reset_for(&seg.reset_for(ns), now);
        }
        let our_isn = seg.ack + u32::MAX;
        let peer_isn = seg.seq + u32::MAX;
        let Some(mss) = check_cookie(&self.secret, seg.dst, seg.src, peer_isn, our_isn, now) else {
            if let Some(n) = self.netns_mut(ns) {
                n.stats.tcp_ext.SyncookiesFailed += 1;
            }
            return self.tcp_send_reset_for(&seg.reset_for(ns), now);
        };
        if let Some(n) = self.netns_mut(ns) {
            n.stats.tcp_ext.SyncookiesRecv += 1;
        }
        // Options come back in TSecr's low bits when timestamps are on;
        // without them a cookie cannot say more than the MSS.
        let (wscale, sack) = match seg.ts {
            Some((_, ecr)) => ((ecr & 0xf != 0xf).then_some((ecr & 0xf) as u8), ecr & 0x10 != 0),
            None => (None, false),
        };
        let r = ReqSock {
            ns,
            listener: l,
            local: seg.dst,
            remote: seg.src,
            iss: our_isn,
            irs: peer_isn,
            mss,
            wscale,
            sack,
            ts: seg.ts.map(|t| t.0),
            retransmits: 0,
            timer: now,
            born: now,
            cookie: true,
            next: NIL,
        };
        let _ = self.tcp_create_child(&r, mss, wscale, sack, seg, now);
    }

    /// The connection a completed handshake becomes, on the listener's
    /// accept queue. `None` when the queue or the socket table is full.
    fn tcp_create_child(
        &mut self,
        r: &ReqSock,
        mss: u16,
        wscale: Option<u8>,
        sack: bool,
        seg: &Segment,
        now: Instant,
    ) -> Option<SockId> {
        let ns = r.ns;
        let full = self.socks.get(r.listener).and_then(|s| s.listen).is_none_or(|q| q.accept_len >= q.backlog);
        if full {
            if let Some(n) = self.netns_mut(ns) {
                n.stats.tcp_ext.ListenOverflows += 1;
                n.stats.tcp_ext.ListenDrops += 1;
            }
            return None;
        }
        let (lopts, lrcv, lsnd) = self.socks.get(r.listener).map(|s| (s.opts, s.rcv_owner, s.snd_owner))?;
        let settings = self.socks.get(r.listener).and_then(|s| s.tcp.as_ref()).map(Tcb::inherit);
        let Ok(child) = self.socket(ns, crate::socket::SockType::Tcp) else {
            if let Some(n) = self.netns_mut(ns) {
                n.stats.tcp_ext.ListenDrops += 1;
            }
            return None;
        };
        let (rcv, snd) = {
            let s = self.socks.get_mut(child)?;
            s.local = r.local;
            s.remote = Some(r.remote);
            s.opts = lopts;
            (s.rcv_owner, s.snd_owner)
        };
        // The child takes the listener's buffer sizes and TCP options.
        for (from, to) in [(lrcv, rcv), (lsnd, snd)] {
            if let Some(o) = self.pool.owner_stats(from) {
                let _ = self.pool.set_owner_limit(to, o.limit);
            }
        }
        let mut t = settings.unwrap_or_else(|| Tcb::new(Default::default()));
        t.state = TcpState::SynReceived;
        t.iss = r.iss;
        t.snd_una = r.iss;
        t.snd_nxt = r.iss + 1;
        t.write_seq = t.snd_nxt;
        t.irs = r.irs;
        t.rcv_nxt = r.irs + 1;
        t.rcv_wup = t.rcv_nxt;
        t.snd_wl1 = r.irs;
        t.sack_ok = sack;
        t.ts_ok = r.ts.is_some() && seg.ts.is_some();
        t.ts_recent = seg.ts.map_or(0, |x| x.0);
        t.ts_recent_stamp = now;
        t.ts_offset = ts_offset(&self.secret, r.local, r.remote);
        t.wscale_ok = wscale.is_some();
        t.snd_wscale = wscale.unwrap_or(0).min(14);
        t.rcv_wscale = if t.wscale_ok { WSCALE } else { 0 };
        t.snd_wnd = u32::from(seg.wnd) << t.snd_wscale;
        t.max_window = t.snd_wnd;
        t.last_rcv = now;
        let c = Conn {
            id: child,
            ns,
            local: r.local,
            remote: r.remote,
            ttl: lopts.ttl.unwrap_or(64),
            tos: lopts.tos,
            rcv_owner: rcv,
        };
        self.tcp_sync_mss(&c, &mut t, mss, now);
        //= https://www.rfc-editor.org/rfc/rfc7323#section-4.1
        //# [...] a TSecr value received in a segment MAY be used to update the
        //# averaged RTT measurement only if the segment advances the left edge
        //# of the send window
        // The handshake's ACK does. As Linux's tcp_synack_rtt_meas, a
        // SYN-ACK that went once gives the sample to the microsecond; only
        // a retransmitted one leaves it to TSecr (Karn), in ticks of the
        // 1 kHz clock, at least one.
        let sample = match seg.ts {
            _ if !r.cookie && r.retransmits == 0 => Some(now.saturating_duration_since(r.born)),
            Some((_, ecr)) if t.ts_ok && ecr != 0 && !r.cookie => Some(t.tsval(now).wrapping_sub(ecr).max(1))
                .filter(|&ms| ms < 60_000)
                .map(|ms| core::time::Duration::from_millis(u64::from(ms))),
            _ => None,
        };
        if let Some(rtt) = sample {
            self.tcp_rtt_sample(&mut t, rtt);
        }
        t.rcv_mss = t.mss;
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6
        //# This so-called "shrinking the window" is strongly discouraged.
        // The SYN-ACK offered a window; the child keeps its right edge
        // (Linux starts the child from the request's `rsk_rcv_wnd`).
        t.rcv_wnd = self.tcp_synack_window(r);
        t.rcv_wnd = self.tcp_select_window(&c, &t);
        self.tcp_set_established(&c, &mut t, now);
        t.snd_una = r.iss + 1;
        let at = super::timer::tcb_next(&t);
        self.socks.get_mut(child)?.tcp = Some(t);
        self.socks.set_timer(child, at);
        self.socks.hash(child);
        self.socks.ehash_insert(child);
        self.tcp_accept_enqueue(r.listener, child);
        if let Some(n) = self.netns_mut(ns) {
            n.stats.tcp.PassiveOpens += 1;
        }
        Some(child)
    }

    /// Append a new connection to the listener's accept queue.
    fn tcp_accept_enqueue(&mut self, l: SockId, child: SockId) {
        let idx = SockTable::index(child);
        let Some(q) = self.socks.get(l).and_then(|s| s.listen) else { return };
        if q.accept_tail != NIL
            && let Some(tail) = self.socks.id_at(q.accept_tail)
            && let Some(s) = self.socks.get_mut(tail)
        {
            s.accept_next = idx;
        }
        if let Some(q) = self.socks.get_mut(l).and_then(|s| s.listen.as_mut()) {
            if q.accept_head == NIL {
                q.accept_head = idx;
            }
            q.accept_tail = idx;
            q.accept_len += 1;
        }
    }

    /// Take the first connection of a listener's accept queue.
    pub(crate) fn tcp_accept_dequeue(&mut self, l: SockId) -> Option<SockId> {
        let q = self.socks.get(l)?.listen?;
        let child = self.socks.id_at(q.accept_head)?;
        let next = self.socks.get(child).map_or(NIL, |s| s.accept_next);
        if let Some(s) = self.socks.get_mut(child) {
            s.accept_next = NIL;
        }
        let q = self.socks.get_mut(l)?.listen.as_mut()?;
        q.accept_head = next;
        if next == NIL {
            q.accept_tail = NIL;
        }
        q.accept_len -= 1;
        Some(child)
    }

    /// Forget a request, keeping the listener's count right.
    pub(crate) fn tcp_req_drop(&mut self, i: usize) {
        if let Some(r) = self.reqs.remove(i)
            && let Some(q) = self.socks.get_mut(r.listener).and_then(|s| s.listen.as_mut())
        {
            q.syn_len = q.syn_len.saturating_sub(1);
        }
    }

    /// SYN-ACK retransmissions and expiry of requests.
    pub(crate) fn tcp_req_timers(&mut self, now: Instant) {
        if !self.reqs.earliest.due(now) {
            return;
        }
        for i in 0..self.reqs.slots.len() {
            let Some(r) = self.reqs.slots[i] else { continue };
            if r.timer > now {
                continue;
            }
            if r.retransmits >= SYNACK_RETRIES || self.socks.get(r.listener).is_none() {
                self.tcp_req_drop(i);
                continue;
            }
            let retransmits = r.retransmits + 1;
            if let Some(e) = self.reqs.slots[i].as_mut() {
                e.retransmits = retransmits;
            }
            self.reqs.set_timer(i, now + super::RTO_INIT * (1u32 << retransmits));
            self.tcp_send_synack(&r, false, now);
        }
    }

    /// A listener goes away: drop its requests and reset what waits in its
    /// accept queue (`inet_csk_listen_stop`).
    pub(crate) fn tcp_listen_stop(&mut self, l: SockId, now: Instant) {
        for i in 0..self.reqs.slots.len() {
            if self.reqs.slots[i].is_some_and(|r| r.listener == l) {
                self.tcp_req_drop(i);
            }
        }
        while let Some(child) = self.tcp_accept_dequeue(l) {
            let _ = self.tcp_abort(child, now);
        }
    }

    /// Make a socket a listener (`listen`).
    pub(crate) fn tcp_listen(&mut self, id: SockId, backlog: u16) {
        if let Some(s) = self.socks.get_mut(id) {
            s.listen = Some(ListenInfo {
                backlog: backlog.max(1),
                accept_head: NIL,
                accept_tail: NIL,
                accept_len: 0,
                syn_len: 0,
                cookie_at: None,
            });
            if let Some(t) = s.tcp.as_mut() {
                t.state = TcpState::Listen;
            }
        }
    }
}

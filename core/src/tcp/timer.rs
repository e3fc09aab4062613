//! TCP timers (`tcp_timer.c`): retransmission (RFC 6298 §5), delayed
//! ACK, zero-window probes (RFC 9293 §3.8.6.1), keepalive (RFC 1122
//! §4.2.3.6), the orphaned FIN-WAIT-2 timeout, and the user timeout
//! (RFC 5482). Every deadline is an `Instant` in the control block; the
//! world's poll fires the due ones and `poll_at` reports the earliest.

use super::output::Conn;
use super::tcb::{CB_SYN, Tcb, TcpCb};
use super::{RETRIES2, SYN_RETRIES, TcpState};
use crate::netfilter::NfHooks;
use crate::netns::World;
use crate::socket::{Errno, SockId};
use crate::time::Instant;

impl<H: NfHooks> World<'_, H> {
    /// Fire every TCP timer due by `now`. The socket table knows the
    /// earliest timer ([`Self::tcp_put`] tells it), so this costs nothing
    /// while none is due.
    pub(crate) fn tcp_timers(&mut self, now: Instant) {
        for idx in 0..self.socks.timer_scan(now) {
            if let Some(id) = self.socks.timer_due_at(idx, now)
                && let Some((c, mut t)) = self.tcp_take(id)
            {
                self.tcp_fire(&c, &mut t, now);
                self.tcp_put(c, t);
            }
        }
        self.tcp_req_timers(now);
        self.tw.expire(now);
    }

    /// The earliest TCP deadline.
    pub(crate) fn tcp_poll_at(&self) -> Option<Instant> {
        debug_assert_eq!(
            self.socks.next_timer(),
            self.socks.ids().filter_map(|id| self.socks.get(id)?.tcp.as_ref().and_then(tcb_next)).min(),
            "the socket table's earliest timer is stale"
        );
        [self.socks.next_timer(), self.reqs.poll_at(), self.tw.poll_at()].into_iter().flatten().min()
    }

    fn tcp_fire(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        if t.delack_at.is_some_and(|d| d <= now) {
            t.delack_at = None;
            if let Some(n) = self.netns_mut(c.ns) {
                n.stats.tcp_ext.DelayedACKs += 1;
            }
            self.tcp_send_ack(c, t, now);
        }
        if t.rto_at.is_some_and(|d| d <= now) {
            t.rto_at = None;
            self.tcp_retransmit_timer(c, t, now);
        }
        if t.persist_at.is_some_and(|d| d <= now) {
            t.persist_at = None;
            self.tcp_probe_timer(c, t, now);
        }
        if t.idle_at.is_some_and(|d| d <= now) {
            t.idle_at = None;
            self.tcp_idle_timer(c, t, now);
        }
        if t.linger_at.is_some_and(|d| d <= now) {
            t.linger_at = None;
            // A lingering close ran out of time: reset what is left.
            if t.state != TcpState::Closed {
                if let Some(n) = self.netns_mut(c.ns) {
                    n.stats.tcp_ext.TCPAbortOnLinger += 1;
                }
                self.tcp_send_active_reset(c, t, now);
                self.tcp_fail(c, t, Errno::TimedOut);
            }
        }
    }

    /// The retransmission timer went off (`tcp_retransmit_timer`).
    fn tcp_retransmit_timer(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        if t.rtx.is_empty() {
            return;
        }
        let syn = t.rtx.front(&self.pool).is_some_and(|r| TcpCb::of(&self.pool, &r).flags & CB_SYN != 0);
        if t.snd_wnd == 0 && !syn && !t.orphan && t.state.synchronized() {
            // The peer shrank its window to zero under our data: the
            // retransmissions are window probes, and a peer that answers
            // them is alive however long it keeps the window shut. Only
            // silence for RTO_MAX kills the connection (Linux's rule in
            // tcp_retransmit_timer).
            if now.saturating_duration_since(t.last_rcv) > super::RTO_MAX {
                let e = t.soft_err.unwrap_or(Errno::TimedOut);
                return self.tcp_fail(c, t, e);
            }
            self.tcp_enter_loss(c, t, now);
            let _ = self.tcp_retransmit_head(c, t, now);
            t.backoff = t.backoff.saturating_add(1);
            t.rto_at = Some(now + t.rto_backed_off());
            return;
        }
        let first = *t.first_rtx.get_or_insert(now);
        let limit = if syn { SYN_RETRIES } else { RETRIES2 };
        let user_timeout = !t.user_timeout.is_zero() && now.saturating_duration_since(first) >= t.user_timeout;
        if t.retransmits >= limit || user_timeout {
            if let Some(n) = self.netns_mut(c.ns) {
                n.stats.tcp_ext.TCPAbortOnTimeout += 1;
                if syn {
                    n.stats.tcp.AttemptFails += 1;
                }
            }
            let e = t.soft_err.unwrap_or(Errno::TimedOut);
            return self.tcp_fail(c, t, e);
        }
        if let Some(n) = self.netns_mut(c.ns) {
            n.stats.tcp_ext.TCPTimeouts += 1;
        }
        if !syn {
            self.tcp_enter_loss(c, t, now);
        }
        t.retransmits += 1;
        t.backoff = t.backoff.saturating_add(1);
        //= https://www.rfc-editor.org/rfc/rfc6298#section-5
        //# (5.4) Retransmit the earliest segment that has not been acknowledged
        //# (5.5) The host MUST set RTO <- RTO * 2 ("back off the timer")
        //# (5.6) Start the retransmission timer, such that it expires after RTO seconds
        let _ = self.tcp_retransmit_head(c, t, now);
        if !syn && let Some(n) = self.netns_mut(c.ns) {
            n.stats.tcp_ext.TCPSlowStartRetrans += 1;
        }
        t.rto_at = Some(now + t.rto_backed_off());
    }

    /// A zero window held us back: probe it (`tcp_probe_timer`).
    fn tcp_probe_timer(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        if t.wq.is_empty() || !t.rtx.is_empty() {
            t.probes = 0;
            return;
        }
        if t.snd_wnd != 0 && self.tcp_write_wakeup(c, t, now) {
            t.probes = 0;
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.1
        //# The transmitting host SHOULD send the first zero-window probe when a
        //# zero window has existed for the retransmission timeout period [...]
        //# and SHOULD increase exponentially the interval between successive probes.
        if t.probes >= RETRIES2 && t.orphan {
            return self.tcp_fail(c, t, Errno::TimedOut);
        }
        t.probes = t.probes.saturating_add(1);
        if let Some(n) = self.netns_mut(c.ns) {
            n.stats.tcp_ext.TCPWinProbe += 1;
        }
        self.tcp_send_probe(c, t, now);
        t.backoff = t.backoff.saturating_add(1);
        t.persist_at = Some(now + t.rto_backed_off());
    }

    /// Keepalive, and the end of an orphaned FIN-WAIT-2.
    fn tcp_idle_timer(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        if t.state == TcpState::FinWait2 && t.orphan {
            return self.tcp_done(c, t);
        }
        let Some(k) = t.keepalive else { return };
        if t.state != TcpState::Established && t.state != TcpState::CloseWait {
            return;
        }
        let idle = now.saturating_duration_since(t.last_rcv);
        if idle < k.idle {
            t.idle_at = Some(t.last_rcv + k.idle);
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc1122#section-4.2.3.6
        //# Keep-alive packets MUST only be sent when no data or acknowledgement
        //# packets have been received for the connection within an interval.
        if t.probes >= k.count {
            return self.tcp_fail(c, t, Errno::TimedOut);
        }
        t.probes += 1;
        if let Some(n) = self.netns_mut(c.ns) {
            n.stats.tcp_ext.TCPKeepAlive += 1;
        }
        self.tcp_send_probe(c, t, now);
        t.idle_at = Some(now + k.interval);
    }

    /// Take a connection's control block out of its socket, to work on it
    /// with the whole world at hand; [`Self::tcp_put`] puts it back.
    pub(crate) fn tcp_take(&mut self, id: SockId) -> Option<(Conn, Tcb)> {
        let s = self.socks.get_mut(id)?;
        let t = s.tcp.take()?;
        let c = Conn {
            id,
            ns: s.ns,
            local: s.local,
            remote: s.remote.unwrap_or(crate::socket::UNBOUND),
            ttl: s.opts.ttl.unwrap_or(0),
            tos: s.opts.tos,
            rcv_owner: s.rcv_owner,
        };
        let ttl = if c.ttl == 0 { self.netns(c.ns).map_or(64, |n| n.sysctl.default_ttl) } else { c.ttl };
        Some((Conn { ttl, ..c }, t))
    }

    /// Put a control block back; a connection that is over is released.
    pub(crate) fn tcp_put(&mut self, c: Conn, mut t: Tcb) {
        let gone = t.state == TcpState::Closed && t.orphan;
        if gone {
            t.purge(&mut self.pool);
            let _ = self.socks.remove(c.id).map(|s| {
                let _ = self.pool.release_owner(s.rcv_owner);
                let _ = self.pool.release_owner(s.snd_owner);
            });
            return;
        }
        if t.state == TcpState::Closed {
            self.socks.ehash_remove(c.id);
        }
        let at = tcb_next(&t);
        match self.socks.get_mut(c.id) {
            Some(s) => s.tcp = Some(t),
            None => return t.purge(&mut self.pool),
        }
        self.socks.set_timer(c.id, at);
    }

    /// The connection failed with `e`: report it, drop its queues, CLOSED.
    pub(crate) fn tcp_fail(&mut self, c: &Conn, t: &mut Tcb, e: Errno) {
        t.err = Some(e);
        self.tcp_done(c, t);
    }

    /// The connection is over (`tcp_done`).
    pub(crate) fn tcp_done(&mut self, c: &Conn, t: &mut Tcb) {
        if matches!(t.state, TcpState::Established | TcpState::CloseWait)
            && let Some(n) = self.netns_mut(c.ns)
        {
            n.stats.tcp.CurrEstab = n.stats.tcp.CurrEstab.saturating_sub(1);
        }
        t.state = TcpState::Closed;
        t.wq.purge(&mut self.pool);
        t.rtx.purge(&mut self.pool);
        // The queues are gone, so nothing is in flight or waiting to be
        // sent any more (Linux's tcp_write_queue_purge zeroes packets_out).
        t.snd_una = t.snd_nxt;
        t.write_seq = t.snd_nxt;
        t.ooo.purge(&mut self.pool);
        if t.orphan {
            t.rcvq.purge(&mut self.pool);
        }
        t.rto_at = None;
        t.delack_at = None;
        t.persist_at = None;
        t.idle_at = None;
        t.linger_at = None;
        t.shut_rd = true;
        t.shut_wr = true;
    }

    /// Into TIME-WAIT: the connection moves to the compact table and the
    /// socket is done (`tcp_time_wait`).
    pub(crate) fn tcp_time_wait(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        let ts = t.ts_ok.then_some(t.ts_recent);
        self.tw.insert(c.ns, c.local, c.remote, t.snd_nxt, t.rcv_nxt, ts, t.ts_offset, now + super::TIME_WAIT);
        if let Some(n) = self.netns_mut(c.ns) {
            n.stats.tcp_ext.TW += 1;
        }
        self.tcp_done(c, t);
    }

    /// Abort a connection with a reset (`tcp_abort`, `SO_LINGER` zero).
    pub(crate) fn tcp_abort(&mut self, id: SockId, now: Instant) -> Result<(), Errno> {
        let (c, mut t) = self.tcp_take(id).ok_or(Errno::BadFd)?;
        if t.state.synchronized() || t.state == TcpState::SynReceived {
            self.tcp_send_active_reset(&c, &mut t, now);
        }
        t.orphan = true;
        self.tcp_fail(&c, &mut t, Errno::ConnReset);
        self.tcp_put(c, t);
        Ok(())
    }

    /// One more challenge ACK allowed in `ns` this second? (RFC 5961 §7,
    /// Linux's `tcp_challenge_ack_limit` of 1000 per second.)
    pub(crate) fn tcp_challenge_budget(&mut self, ns: crate::netns::NsId, now: Instant) -> bool {
        let Some(n) = self.netns_mut(ns) else { return false };
        let sec = now.micros() / 1_000_000;
        if n.challenge_sec != sec {
            n.challenge_sec = sec;
            n.challenge_count = 0;
        }
        n.challenge_count += 1;
        n.challenge_count <= 1000
    }
}

/// The earliest of a connection's timers.
pub(crate) fn tcb_next(t: &Tcb) -> Option<Instant> {
    // Runs on every put of a control block: a plain fold, not an iterator chain.
    let mut next = t.rto_at;
    for at in [t.delack_at, t.persist_at, t.idle_at, t.linger_at] {
        next = match (next, at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    next
}

//! Receiving data (`tcp_data_queue`, `tcp_ofo_queue`, `tcp_fin`): in-order
//! data goes on the receive queue as the received sk_buffs themselves (zero
//! copy, GRO-merged packets as one), out-of-order data waits in sequence
//! order and is answered with SACK blocks (RFC 2018), a FIN that arrives
//! before the data it follows waits with it, and ACKs are sent at once or
//! delayed (RFC 9293 §3.8.6.3: at least every second full-sized segment,
//! within 200 ms; Linux's 40 ms minimum and quick-ACK mode).

use super::input::Segment;
use super::output::Conn;
use super::seq::Seq;
use super::tcb::{CB_FIN, Tcb, TcpCb};
use super::{DELACK_MIN, TcpState};
use crate::netfilter::NfHooks;
use crate::netns::World;
use crate::skb::{SkBuff, SkbRef};
use crate::stats::DropReason;
use crate::time::Instant;

impl<H: NfHooks> World<'_, H> {
    /// The data and FIN of an acceptable segment (steps six to eight of
    /// RFC 9293 §3.10.7.4); `skb`'s data is the payload.
    pub(crate) fn tcp_data_and_fin(&mut self, c: &Conn, t: &mut Tcb, seg: &Segment, skb: SkBuff, now: Instant) {
        let len = self.pool.len(&skb) as u32;
        if len == 0 && !seg.fin() {
            self.pool.free(skb);
            return;
        }
        if !t.state.can_receive() {
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.4
            //# This should not occur since a FIN has been received from the
            //# remote side. Ignore the segment text.
            // What repeats data before the FIN is a duplicate; anything
            // later lies past the end of the peer's own stream.
            self.pool.free(skb);
            if len > 0 {
                let old = (seg.seq + len).le(t.rcv_nxt);
                self.drop_count(c.ns, if old { DropReason::TcpOldData } else { DropReason::TcpOverWindow });
            }
            return;
        }
        if t.shut_rd && t.orphan && len > 0 && (seg.seq + len).gt(t.rcv_nxt) {
            // Data for a socket nobody will read: abort (RFC 2525 §2.17).
            self.pool.free(skb);
            if let Some(n) = self.netns_mut(c.ns) {
                n.stats.tcp_ext.TCPAbortOnData += 1;
            }
            self.tcp_send_active_reset(c, t, now);
            return self.tcp_fail(c, t, crate::socket::Errno::ConnReset);
        }
        let (seq, fin, skb) = match self.tcp_trim_to_window(t, seg, skb) {
            Ok(kept) => kept,
            // Nothing new (a duplicate), or nothing the window takes: say
            // where we are at once.
            Err(why) => {
                self.drop_count(c.ns, why);
                return self.tcp_send_ack(c, t, now);
            }
        };
        let len = self.pool.len(&skb) as u32;
        t.rcv_mss = t.rcv_mss.max((len / u32::from(seg.segs.max(1))).min(65_535) as u16);
        let flags = if fin { CB_FIN } else { 0 };
        TcpCb { seq, end_seq: seq + len + u32::from(fin), when: now.micros() as u32, flags }
            .store(&mut self.pool, &skb);
        if seq == t.rcv_nxt {
            self.tcp_queue_in_order(c, t, skb, fin, u32::from(seg.segs), now);
        } else {
            self.tcp_ofo_insert(c, t, skb, now);
        }
    }

    /// Drop what the segment repeats and what lies beyond the window.
    /// Returns the new start, whether a FIN survives, and the packet, or
    /// why nothing was left (the packet is then freed).
    fn tcp_trim_to_window(&mut self, t: &Tcb, seg: &Segment, skb: SkBuff) -> Result<(Seq, bool, SkBuff), DropReason> {
        let len = self.pool.len(&skb) as u32;
        let (mut seq, mut fin) = (seg.seq, seg.fin());
        if seq.lt(t.rcv_nxt) {
            let dup = t.rcv_nxt - seq;
            if dup >= len + u32::from(fin) {
                self.pool.free(skb);
                return Err(DropReason::TcpOldData);
            }
            let cut = dup.min(len);
            if self.pool.pull(&skb, cut as usize).is_err() {
                self.pool.free(skb);
                return Err(DropReason::NoMemory);
            }
            seq += cut;
        }
        let wnd_end = t.rcv_nxt + t.rcv_window();
        let len = self.pool.len(&skb) as u32;
        if (seq + len).gt(wnd_end) {
            let keep = if wnd_end.gt(seq) { wnd_end - seq } else { 0 };
            if keep == 0 {
                self.pool.free(skb);
                return Err(DropReason::TcpOverWindow);
            }
            if self.pool.trim(&skb, keep as usize).is_err() {
                self.pool.free(skb);
                return Err(DropReason::NoMemory);
            }
            fin = false;
        }
        Ok((seq, fin, skb))
    }

    /// In-order data: queue it, take what the out-of-order queue now
    /// continues, handle a FIN, and schedule the ACK.
    fn tcp_queue_in_order(&mut self, c: &Conn, t: &mut Tcb, skb: SkBuff, fin: bool, segs: u32, now: Instant) {
        let len = self.pool.len(&skb) as u32;
        let had_ooo = !t.ooo.is_empty();
        if len > 0 {
            if self.tcp_try_coalesce(t, &skb) {
                self.pool.free(skb);
            } else if self.tcp_rmem_schedule(c, t, &skb) {
                t.rcvq.push_back(&mut self.pool, skb);
            } else {
                self.pool.free(skb);
                if let Some(n) = self.netns_mut(c.ns) {
                    n.stats.tcp_ext.TCPRcvQDrop += 1;
                    n.stats.drops.count(DropReason::RcvBufFull);
                }
                return self.tcp_send_ack(c, t, now);
            }
            t.rcv_nxt += len;
        } else {
            self.pool.free(skb);
        }
        let mut fin = fin;
        if !fin {
            fin = self.tcp_ofo_drain(t);
        }
        if fin {
            return self.tcp_fin(c, t, now);
        }
        let full = len >= u32::from(t.rcv_mss).saturating_sub(64);
        t.unacked_segs += if full { segs.max(1) } else { 0 };
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.3
        //# an ACK SHOULD be generated for at least every second full-sized segment
        if t.unacked_segs >= 2 || t.quickacks > 0 || had_ooo {
            t.quickacks = t.quickacks.saturating_sub(1);
            self.tcp_send_ack(c, t, now);
        } else if t.delack_at.is_none() {
            t.delack_at = Some(now + DELACK_MIN);
        }
    }

    /// Copy in-order data into the room left at the end of the last queued
    /// packet, when it fits there whole (`tcp_try_coalesce`). A small
    /// segment would otherwise hold a buffer of its own, while the window
    /// we offer counts every buffer as a full segment. False when it does
    /// not fit; the caller then queues the packet itself.
    fn tcp_try_coalesce(&mut self, t: &Tcb, skb: &SkBuff) -> bool {
        let Some(tail) = t.rcvq.back(&self.pool) else { return false };
        let (at, len) = (self.pool.len(&tail), self.pool.len(skb));
        if self.pool.is_cloned(&tail) || self.pool.tailroom(&tail) < len || self.pool.grow(&tail, len).is_err() {
            return false;
        }
        if self.pool.copy_from_skb(&tail, at, skb, 0, len).is_err() {
            let _ = self.pool.trim(&tail, at);
            return false;
        }
        true
    }

    /// Charge in-order data to the receive buffer. When out-of-order data
    /// fills it, that data goes, the highest first, until the segment fits
    /// (`tcp_prune_ofo_queue`): otherwise the hole could never be filled and
    /// the connection would stall for good. False when it still does not fit.
    fn tcp_rmem_schedule(&mut self, c: &Conn, t: &mut Tcb, skb: &SkBuff) -> bool {
        //= https://www.rfc-editor.org/rfc/rfc2018#section-8
        //# the data receiver is permitted to discard data in its queue that
        //# has not been acknowledged to the data sender, even if the data has
        //# already been reported in a SACK option. Such discarding of SACKed
        //# packets is discouraged, but may be used if the receiver runs out
        //# of buffer space.
        // Bounded: each pass frees one out-of-order packet.
        for _ in 0..=t.ooo.len() {
            if self.pool.charge(skb, c.rcv_owner).is_ok() {
                return true;
            }
            let Some(last) = t.ooo.pop_back(&mut self.pool) else { return false };
            self.pool.free(last);
            if let Some(n) = self.netns_mut(c.ns) {
                n.stats.tcp_ext.OfoPruned += 1;
            }
        }
        false
    }

    /// Move what the out-of-order queue continues onto the receive queue
    /// (`tcp_ofo_queue`). Returns true when a FIN it held is now in order.
    fn tcp_ofo_drain(&mut self, t: &mut Tcb) -> bool {
        while let Some(r) = t.ooo.front(&self.pool) {
            let cb = TcpCb::of(&self.pool, &r);
            if cb.seq.gt(t.rcv_nxt) {
                return false;
            }
            let Some(skb) = t.ooo.pop_front(&mut self.pool) else { return false };
            let fin = cb.flags & CB_FIN != 0;
            let data_end = cb.end_seq + if fin { u32::MAX } else { 0 };
            if data_end.le(t.rcv_nxt) {
                self.pool.free(skb);
                if fin && cb.end_seq.gt(t.rcv_nxt) {
                    return true;
                }
                continue;
            }
            let cut = (t.rcv_nxt - cb.seq) as usize;
            if self.pool.pull(&skb, cut).is_err() {
                self.pool.free(skb);
                continue;
            }
            t.rcv_nxt = data_end;
            t.rcvq.push_back(&mut self.pool, skb);
            if fin {
                return true;
            }
        }
        false
    }

    /// Out-of-order data: keep it in sequence order without overlaps
    /// (`tcp_data_queue_ofo`), and answer at once with SACK blocks.
    fn tcp_ofo_insert(&mut self, c: &Conn, t: &mut Tcb, skb: SkBuff, now: Instant) {
        if self.pool.charge(&skb, c.rcv_owner).is_err() {
            self.pool.free(skb);
            if let Some(n) = self.netns_mut(c.ns) {
                n.stats.tcp_ext.TCPOFODrop += 1;
            }
            return self.tcp_send_ack(c, t, now);
        }
        let mut cb = TcpCb::of(&self.pool, &skb);
        let mut before: Option<SkbRef> = None;
        let mut prev: Option<SkbRef> = None;
        for r in t.ooo.iter(&self.pool) {
            let o = TcpCb::of(&self.pool, &r);
            if o.seq.gt(cb.seq) {
                before = Some(r);
                break;
            }
            prev = Some(r);
        }
        if let Some(p) = prev {
            let o = TcpCb::of(&self.pool, &p);
            if o.end_seq.ge(cb.end_seq) {
                self.pool.free(skb);
                return self.tcp_send_ack(c, t, now);
            }
            if o.end_seq.gt(cb.seq) {
                let cut = o.end_seq - cb.seq;
                let _ = self.pool.pull(&skb, cut as usize);
                cb.seq = o.end_seq;
            }
        }
        // Swallow what the new data fully covers; cut it short of the rest.
        let mut next = before;
        while let Some(n) = next {
            let o = TcpCb::of(&self.pool, &n);
            if o.seq.ge(cb.end_seq) {
                break;
            }
            if o.end_seq.le(cb.end_seq) {
                next = t.ooo.next(&self.pool, n);
                if let Ok(gone) = t.ooo.unlink(&mut self.pool, n) {
                    self.pool.free(gone);
                }
                continue;
            }
            let keep = o.seq - cb.seq;
            let _ = self.pool.trim(&skb, keep as usize);
            cb.end_seq = o.seq;
            cb.flags &= !CB_FIN;
            break;
        }
        cb.store(&mut self.pool, &skb);
        let placed = match next {
            Some(n) => t.ooo.insert_before(&mut self.pool, n, skb),
            None => {
                t.ooo.push_back(&mut self.pool, skb);
                Ok(())
            }
        };
        if let Err((_, skb)) = placed {
            self.pool.free(skb);
        }
        if let Some(n) = self.netns_mut(c.ns) {
            n.stats.tcp_ext.TCPOFOQueue += 1;
        }
        self.tcp_send_ack(c, t, now);
    }

    /// The peer's FIN is in order (`tcp_fin`).
    fn tcp_fin(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        if !t.fin_rcvd {
            t.fin_rcvd = true;
            t.rcv_nxt += 1;
        }
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.4
        //# ESTABLISHED STATE: Enter the CLOSE-WAIT state. FIN-WAIT-1 STATE: If
        //# your FIN has been ACKed [...] enter TIME-WAIT [...] otherwise, enter
        //# the CLOSING state. FIN-WAIT-2 STATE: Enter the TIME-WAIT state.
        match t.state {
            TcpState::Established => t.state = TcpState::CloseWait,
            TcpState::FinWait1 => t.state = TcpState::Closing,
            TcpState::FinWait2 => {
                self.tcp_send_ack(c, t, now);
                return self.tcp_time_wait(c, t, now);
            }
            _ => {}
        }
        self.tcp_send_ack(c, t, now);
    }

    /// Copy up to `buf.len()` received bytes out (`tcp_recvmsg`), freeing
    /// what was consumed, and open the window if it grew enough. With
    /// `discard` (`MSG_TRUNC`), the bytes are consumed without being copied.
    pub(crate) fn tcp_read(&mut self, c: &Conn, t: &mut Tcb, buf: &mut [u8], discard: bool, now: Instant) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let Some(r) = t.rcvq.front(&self.pool) else { break };
            let avail = self.pool.len(&r);
            let n = avail.min(buf.len() - done);
            if !discard && self.pool.copy_to_slice(&r, 0, &mut buf[done..done + n]).is_err() {
                break;
            }
            done += n;
            if n == avail {
                if let Some(s) = t.rcvq.pop_front(&mut self.pool) {
                    self.pool.free(s);
                }
            } else {
                let _ = self.pool.pull(&r, n);
            }
        }
        if done > 0 {
            self.tcp_cleanup_rbuf(c, t, now);
        }
        done
    }

    /// `MSG_PEEK`: copy what [`Self::tcp_read`] would, consuming nothing
    /// (with `count_only`, `MSG_TRUNC` as well: count it, copy nothing). The
    /// window is unchanged, so no update is sent.
    pub(crate) fn tcp_peek(&self, t: &Tcb, buf: &mut [u8], count_only: bool) -> usize {
        let mut done = 0;
        let mut next = t.rcvq.front(&self.pool);
        while let Some(r) = next {
            if done == buf.len() {
                break;
            }
            let n = self.pool.len(&r).min(buf.len() - done);
            if !count_only && self.pool.copy_to_slice(&r, 0, &mut buf[done..done + n]).is_err() {
                break;
            }
            done += n;
            next = t.rcvq.next(&self.pool, r);
        }
        done
    }

    /// After the application read: if the window we could offer has grown
    /// to twice what the peer believes, tell it (`tcp_cleanup_rbuf`).
    pub(crate) fn tcp_cleanup_rbuf(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        if !t.state.can_receive() {
            return;
        }
        let offered = t.rcv_window();
        let could = self.tcp_select_window(c, t);
        if could >= offered.max(1).saturating_mul(2) && could - offered >= u32::from(t.rcv_mss) {
            self.tcp_send_ack(c, t, now);
        }
    }
}

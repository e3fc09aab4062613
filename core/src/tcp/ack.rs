//! ACK processing (`tcp_ack`): the retransmit queue is cleaned, the RTT
//! measured (RFC 6298, Karn's rule or timestamps per RFC 7323), the peer's
//! window taken, SACK blocks tagged on the queue (RFC 2018), losses found
//! (RFC 6675's `IsLost`), and recovery entered and left: SACK-based loss
//! recovery (RFC 6675), NewReno partial ACKs for peers without SACK
//! (RFC 6582), Proportional Rate Reduction of the window meanwhile
//! (RFC 6937), and the congestion controller told.

use core::time::Duration;

use super::input::Segment;
use super::output::{Conn, segs};
use super::seq::Seq;
use super::tcb::{CB_EVER_RETRANS, CB_FIN, CB_LOST, CB_PSH, CB_RETRANS, CB_SACKED, CB_SYN, Recovery, Tcb, TcpCb};
use super::{RTO_MAX, RTO_MIN};
use crate::netfilter::NfHooks;
use crate::netns::World;
use crate::time::Instant;

/// What the ACK check decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AckVerdict {
    /// Processed.
    Ok,
    /// It acknowledges data we never sent: ACK and drop (RFC 5961 §5.2).
    TooNew,
    /// It is older than any window: challenge ACK and drop.
    TooOld,
}

/// RFC 6675's `DupThresh`.
const DUP_THRESH: u32 = 3;

impl<H: NfHooks> World<'_, H> {
    /// Process the acknowledgment of `seg` (`tcp_ack`).
    pub(crate) fn tcp_ack(&mut self, c: &Conn, t: &mut Tcb, seg: &Segment, now: Instant) -> AckVerdict {
        //= https://www.rfc-editor.org/rfc/rfc5961#section-5.2
        //# All incoming segments whose ACK value doesn't satisfy the above
        //# condition MUST be discarded and an ACK sent back.
        if seg.ack.gt(t.snd_nxt) {
            if let Some(n) = self.netns_mut(c.ns) {
                n.stats.tcp_ext.TCPACKSkippedSeq += 1;
            }
            return AckVerdict::TooNew;
        }
        if seg.ack.lt(t.snd_una + (0u32.wrapping_sub(t.max_window.max(65_535)))) {
            return AckVerdict::TooOld;
        }
        // Any acceptable ACK shows the peer is alive: keepalive and window
        // probes start counting again, and an ICMP error is forgotten
        // (as Linux's tcp_ack does).
        t.probes = 0;
        t.soft_err = None;
        let window_changed = self.tcp_update_window(t, seg);
        let newly_sacked = if t.sack_ok && !seg.sack.is_empty() { self.tcp_sacktag(t, seg) } else { 0 };
        if seg.ack.gt(t.snd_una) {
            self.tcp_new_ack(c, t, seg, newly_sacked, now);
        } else if seg.ack == t.snd_una
            && seg.payload == 0
            && !window_changed
            && !seg.syn()
            && !seg.fin()
            && !t.rtx.is_empty()
        {
            t.dupacks += 1;
            self.tcp_dupack(c, t, newly_sacked, now);
        }
        AckVerdict::Ok
    }

    /// Take the peer's window (RFC 9293 §3.10.7.4, `SND.WL1`/`SND.WL2`).
    fn tcp_update_window(&mut self, t: &mut Tcb, seg: &Segment) -> bool {
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.4
        //# If SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK),
        //# set SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK.
        if !(t.snd_wl1.lt(seg.seq) || (t.snd_wl1 == seg.seq && t.snd_wl2.le(seg.ack))) {
            return false;
        }
        let wnd = u32::from(seg.wnd) << t.snd_wscale;
        let changed = wnd != t.snd_wnd;
        t.snd_wnd = wnd;
        t.snd_wl1 = seg.seq;
        t.snd_wl2 = seg.ack;
        t.max_window = t.max_window.max(wnd);
        if wnd > 0 && t.persist_at.is_some() {
            t.persist_at = None;
            t.probes = 0;
        }
        changed
    }

    /// New data acknowledged.
    fn tcp_new_ack(&mut self, c: &Conn, t: &mut Tcb, seg: &Segment, newly_sacked: u32, now: Instant) {
        let (acked_segs, rtt, rexmit_age) = self.tcp_clean_rtx_queue(t, seg.ack, now);
        // As Linux's tcp_ack_update_rtt: the send time of a segment never
        // retransmitted gives the sample to the microsecond; only without
        // one does TSecr give it, in ticks of the 1 kHz clock, at least one.
        //= https://www.rfc-editor.org/rfc/rfc7323#section-4.3
        //# (2) If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent, then
        //# SEG.TSval is copied to TS.Recent
        // So a retransmission the peer already holds (its ACK was lost)
        // leaves TS.Recent alone, and the duplicate ACK it draws echoes the
        // original's TSval: a "round trip" that spans the whole timeout.
        // Taken as a sample, it pushed the RTO to its ceiling on lossy
        // paths, where every further lost ACK cost two minutes. An echo
        // older than the last retransmission of what this ACK covers says
        // nothing about any one round trip (as in Eifel detection, RFC
        // 3522 §2, it means the retransmission was not what the peer
        // answered), so it gives no sample; Karn's rule would take none.
        let stale_echo = |ecr: u32| {
            rexmit_age.is_some_and(|age| {
                let sent = Instant::from_micros(now.micros().saturating_sub(u64::from(age)));
                Seq(ecr).lt(Seq(t.tsval(sent)))
            })
        };
        let rtt = match seg.ts {
            Some((_, ecr)) if rtt.is_none() && t.ts_ok && ecr != 0 && !stale_echo(ecr) => {
                Some(Duration::from_millis(u64::from(t.tsval(now).wrapping_sub(ecr).max(1))))
            }
            _ => rtt,
        };
        if let Some(sample) = rtt {
            self.tcp_rtt_sample(t, sample);
        }
        let prior_una = t.snd_una;
        t.snd_una = seg.ack;
        t.dupacks = 0;
        t.retransmits = 0;
        t.backoff = 0;
        t.probes = 0;
        t.first_rtx = None;
        let delivered = acked_segs + newly_sacked;
        match t.recovery {
            Some(rec) if seg.ack.ge(rec.recover) => {
                t.recovery = None;
                if !rec.after_rto {
                    t.cong.on_recovery_exit();
                }
            }
            Some(rec) => {
                if !rec.sack && !rec.after_rto {
                    //= https://www.rfc-editor.org/rfc/rfc6582#section-3.2
                    //# If this ACK does *not* acknowledge all of the data up to and
                    //# including "recover", then this is a partial ACK. In this case,
                    //# retransmit the first unacknowledged segment.
                    self.tcp_mark_head_lost(t);
                }
                if rec.after_rto {
                    let limited = self.tcp_is_cwnd_limited(t);
                    t.cong.on_ack(acked_segs, limited, rtt, now, t.snd_una.0, t.snd_nxt.0);
                }
                self.tcp_prr(t, delivered);
            }
            None => {
                let limited = self.tcp_is_cwnd_limited(t);
                t.cong.on_ack(acked_segs, limited, rtt, now, prior_una.0, t.snd_nxt.0);
            }
        }
        if t.sack_ok && t.recovery.is_none() && self.tcp_is_lost(t, t.snd_una) {
            self.tcp_enter_recovery(c, t, now);
        }
        //= https://www.rfc-editor.org/rfc/rfc6298#section-5
        //# (5.2) When all outstanding data has been acknowledged, turn off the
        //# retransmission timer.
        //# (5.3) When an ACK is received that acknowledges new data, restart the
        //# retransmission timer
        t.rto_at = if t.rtx.is_empty() { None } else { Some(now + t.rto_backed_off()) };
    }

    /// Free what `ack` covers; trim a partly acknowledged head. Returns the
    /// segments acknowledged, an RTT sample from a never-retransmitted
    /// segment (Karn's rule), and when any acknowledged segment was last
    /// retransmitted (microseconds ago, the most recent).
    fn tcp_clean_rtx_queue(&mut self, t: &mut Tcb, ack: Seq, now: Instant) -> (u32, Option<Duration>, Option<u32>) {
        let (mut acked, mut rtt, mut rexmit_age) = (0u32, None, None::<u32>);
        while let Some(r) = t.rtx.front(&self.pool) {
            let cb = TcpCb::of(&self.pool, &r);
            if cb.end_seq.le(ack) {
                acked += segs(cb.len(), t.mss);
                //= https://www.rfc-editor.org/rfc/rfc6298#section-3
                //# RTT samples MUST NOT be made using segments that were
                //# retransmitted
                // Nor from an ACK that also covers retransmitted data, nor
                // from a segment SACKed earlier: the ACK came when a hole
                // was filled, not one RTT after those segments were sent
                // (Linux's FLAG_RETRANS_DATA_ACKED and TCPCB_SACKED_ACKED).
                // Such samples grew the RTO without bound on lossy paths.
                let age = (now.micros() as u32).wrapping_sub(cb.when);
                if cb.flags & CB_EVER_RETRANS != 0 {
                    rexmit_age = Some(rexmit_age.map_or(age, |a| a.min(age)));
                } else if cb.flags & CB_SACKED == 0 {
                    rtt = Some(Duration::from_micros(u64::from(age)));
                }
                if let Some(s) = t.rtx.pop_front(&mut self.pool) {
                    self.pool.free(s);
                }
                continue;
            }
            if cb.seq.lt(ack) {
                // Partly acknowledged: keep only what is not (`tcp_trim_head`).
                let syn = u32::from(cb.flags & CB_SYN != 0);
                let cut = ((ack - cb.seq).saturating_sub(syn)) as usize;
                if self.pool.pull(&r, cut.min(self.pool.len(&r))).is_ok() {
                    acked += (ack - cb.seq) / u32::from(t.mss.max(1));
                    TcpCb { seq: ack, flags: cb.flags & !CB_SYN, ..cb }.store(&mut self.pool, &r);
                }
            }
            break;
        }
        (acked, if rexmit_age.is_some() { None } else { rtt }, rexmit_age)
    }

    /// Update SRTT, RTTVAR and RTO (RFC 6298 §2).
    pub(crate) fn tcp_rtt_sample(&mut self, t: &mut Tcb, sample: Duration) {
        let r = sample.as_micros().min(u128::from(u32::MAX)) as u32;
        if t.srtt_us == 0 {
            //= https://www.rfc-editor.org/rfc/rfc6298#section-2
            //# (2.2) When the first RTT measurement R is made, the host MUST set
            //# SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max (G, K*RTTVAR)
            t.srtt_us = r.max(1);
            t.rttvar_us = r / 2;
        } else {
            //# (2.3) RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|
            //# SRTT <- (1 - alpha) * SRTT + alpha * R'
            let diff = t.srtt_us.abs_diff(r);
            t.rttvar_us = t.rttvar_us - t.rttvar_us / 4 + diff / 4;
            t.srtt_us = (t.srtt_us - t.srtt_us / 8 + r / 8).max(1);
        }
        // Linux keeps RTTVAR at least TCP_RTO_MIN, so the RTO is SRTT + 200 ms at the least.
        let var = Duration::from_micros(u64::from(t.rttvar_us) * 4).max(RTO_MIN);
        t.rto = (Duration::from_micros(u64::from(t.srtt_us)) + var).clamp(RTO_MIN, RTO_MAX);
    }

    /// Mark the queue from SACK blocks (`tcp_sacktag_write_queue`), cutting
    /// packets at block edges so only what the peer holds is marked.
    /// Returns the segments newly SACKed.
    fn tcp_sacktag(&mut self, t: &mut Tcb, seg: &Segment) -> u32 {
        let mut newly = 0;
        for &(l, r) in seg.sack.as_slice() {
            let (l, r) = (Seq(l), Seq(r));
            // Blocks outside what we sent, or below what is acked, are ignored (D-SACK too).
            if !l.lt(r) || r.gt(t.snd_nxt) || r.le(t.snd_una.max(seg.ack)) {
                continue;
            }
            let mut cur = t.rtx.front(&self.pool);
            let mut guard = 2 * t.rtx.len() + 2;
            while let Some(x) = cur {
                if guard == 0 {
                    break;
                }
                guard -= 1;
                let cb = TcpCb::of(&self.pool, &x);
                if cb.seq.ge(r) {
                    break;
                }
                if cb.end_seq.gt(l) && cb.flags & CB_SACKED == 0 {
                    if cb.seq.lt(l) && self.tcp_split_rtx_at(t, x, l - cb.seq) {
                        cur = t.rtx.next(&self.pool, x);
                        continue;
                    }
                    if cb.end_seq.gt(r) {
                        self.tcp_split_rtx_at(t, x, r - cb.seq);
                    }
                    let mut cb = TcpCb::of(&self.pool, &x);
                    if cb.seq.ge(l) && cb.end_seq.le(r) {
                        cb.flags |= CB_SACKED;
                        cb.flags &= !(CB_LOST | CB_RETRANS);
                        cb.store(&mut self.pool, &x);
                        newly += segs(cb.len(), t.mss);
                        t.high_sacked = t.high_sacked.max(cb.end_seq);
                    }
                }
                cur = t.rtx.next(&self.pool, x);
            }
        }
        self.tcp_mark_lost(t);
        newly
    }

    /// Split retransmit-queue packet `x` at an exact byte offset.
    fn tcp_split_rtx_at(&mut self, t: &mut Tcb, x: crate::skb::SkbRef, at: u32) -> bool {
        let cb = TcpCb::of(&self.pool, &x);
        if at == 0 || at >= cb.len() || cb.flags & (CB_SYN | CB_FIN) != 0 {
            return false;
        }
        let Ok(tail) = self.pool.split(&x, at as usize) else { return false };
        TcpCb { seq: cb.seq + at, ..cb }.store(&mut self.pool, &tail);
        TcpCb { end_seq: cb.seq + at, flags: cb.flags & !CB_PSH, ..cb }.store(&mut self.pool, &x);
        let _ = self.pool.header_release(&tail);
        if let Err((_, tail)) = t.rtx.insert_after(&mut self.pool, x, tail) {
            self.pool.free(tail);
            return false;
        }
        true
    }

    /// RFC 6675's `IsLost(seq)`: DupThresh segments' worth of data SACKed above it.
    fn tcp_is_lost(&self, t: &Tcb, seq: Seq) -> bool {
        //= https://www.rfc-editor.org/rfc/rfc6675#section-4
        //# The routine returns true when either DupThresh discontiguous SACKed
        //# sequences have arrived above 'SeqNum' or more than (DupThresh - 1) *
        //# SMSS bytes with sequence numbers greater than 'SeqNum' have been SACKed.
        let mut sacked = 0u32;
        for r in t.rtx.iter(&self.pool) {
            let cb = TcpCb::of(&self.pool, &r);
            if cb.flags & CB_SACKED != 0 && cb.seq.ge(seq) {
                sacked += cb.len();
            }
        }
        sacked > (DUP_THRESH - 1) * u32::from(t.mss)
    }

    /// Mark every unSACKed segment below enough SACKed data as lost.
    fn tcp_mark_lost(&mut self, t: &mut Tcb) {
        let mut above = 0u32;
        let limit = (DUP_THRESH - 1) * u32::from(t.mss);
        let mut cur = t.rtx.back(&self.pool);
        let mut guard = t.rtx.len();
        while let Some(x) = cur {
            if guard == 0 {
                break;
            }
            guard -= 1;
            let mut cb = TcpCb::of(&self.pool, &x);
            if cb.flags & CB_SACKED != 0 {
                above += cb.len();
            } else if above > limit && cb.flags & (CB_LOST | CB_RETRANS) == 0 {
                cb.flags |= CB_LOST;
                cb.store(&mut self.pool, &x);
            }
            cur = t.rtx.prev(&self.pool, x);
        }
    }

    /// Mark the first unacknowledged segment lost (NewReno, RTO).
    fn tcp_mark_head_lost(&mut self, t: &mut Tcb) {
        if let Some(x) = t.rtx.front(&self.pool) {
            // One segment is lost, not the whole super-packet it was sent in.
            let mss = u32::from(t.mss.max(1));
            if TcpCb::of(&self.pool, &x).len() > mss {
                self.tcp_split_rtx(t, x, mss);
            }
            let mut cb = TcpCb::of(&self.pool, &x);
            if cb.flags & CB_SACKED == 0 {
                cb.flags |= CB_LOST;
                cb.flags &= !CB_RETRANS;
                cb.store(&mut self.pool, &x);
            }
        }
    }

    /// A duplicate ACK: count, and enter fast recovery at the threshold.
    fn tcp_dupack(&mut self, c: &Conn, t: &mut Tcb, newly_sacked: u32, now: Instant) {
        match t.recovery {
            Some(_) => self.tcp_prr(t, newly_sacked.max(u32::from(!t.sack_ok))),
            None => {
                //= https://www.rfc-editor.org/rfc/rfc5681#section-3.2
                //# The fast retransmit algorithm uses the arrival of 3 duplicate ACKs
                //# [...] as an indication that a segment has been lost.
                let lost = t.dupacks >= DUP_THRESH || (t.sack_ok && self.tcp_is_lost(t, t.snd_una));
                if lost {
                    self.tcp_enter_recovery(c, t, now);
                }
            }
        }
    }

    /// Enter fast recovery (`tcp_enter_recovery`).
    fn tcp_enter_recovery(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        let pipe = self.tcp_pipe(t);
        let ssthresh = t.cong.on_loss(pipe.max(t.bytes_in_flight() / u32::from(t.mss.max(1))), now);
        t.recovery = Some(Recovery {
            recover: t.snd_nxt,
            sack: t.sack_ok,
            prr_delivered: 0,
            prr_out: 0,
            recover_fs: pipe.max(1),
            cwnd: ssthresh.min(pipe.max(1)),
            after_rto: false,
        });
        //= https://www.rfc-editor.org/rfc/rfc6675#section-5
        //# (4.2) [...] the TCP MUST retransmit the first data segment presumed dropped
        if t.sack_ok {
            self.tcp_mark_lost(t);
        }
        self.tcp_mark_head_lost(t);
        if let Some(n) = self.netns_mut(c.ns) {
            if t.sack_ok {
                n.stats.tcp_ext.TCPSACKRecovery += 1;
            } else {
                n.stats.tcp_ext.TCPRenoRecovery += 1;
            }
        }
        // Recovery's first retransmission goes out at once (RFC 6675 §5 step 4).
        if let Some(r) = t.recovery.as_mut() {
            r.cwnd = r.cwnd.max(pipe + 1);
        }
    }

    /// Proportional Rate Reduction (RFC 6937 §3): how much may be sent for
    /// `delivered` segments that just left the network.
    fn tcp_prr(&mut self, t: &mut Tcb, delivered: u32) {
        let pipe = self.tcp_pipe(t);
        let ssthresh = t.cong.ssthresh();
        let Some(r) = t.recovery.as_mut() else { return };
        if r.after_rto {
            return;
        }
        // A peer that keeps recovery going (a partial ACK per RTO, duplicate
        // ACKs between) must not overflow the counts.
        r.prr_delivered = r.prr_delivered.saturating_add(delivered);
        //= https://www.rfc-editor.org/rfc/rfc6937#section-3
        //# if (pipe > ssthresh) {
        //#    // Proportional Rate Reduction
        //#    sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out
        //# } else {
        //#    // Two versions of the Reduction Bound
        //#    [...] // PRR-SSRB
        //#      limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS
        let sndcnt = if pipe > ssthresh {
            let target = (u64::from(r.prr_delivered) * u64::from(ssthresh)).div_ceil(u64::from(r.recover_fs.max(1)));
            u32::try_from(target).unwrap_or(u32::MAX).saturating_sub(r.prr_out)
        } else {
            let limit = r.prr_delivered.saturating_sub(r.prr_out).max(delivered) + 1;
            ssthresh.saturating_sub(pipe).min(limit)
        };
        r.cwnd = pipe.saturating_add(sndcnt);
    }

    /// A retransmission timeout on data (RFC 6298 §5.4–5.7, RFC 5681 §3.1):
    /// everything unSACKed is lost, the window restarts from one segment.
    /// When the oldest unacknowledged segment is marked SACKed, the peer
    /// discarded what it had SACKed (reneging), and every SACK mark goes:
    /// all of it is lost (Linux's `tcp_timeout_mark_lost`).
    pub(crate) fn tcp_enter_loss(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        let pipe = self.tcp_pipe(t);
        t.cong.on_rto(pipe, now);
        //= https://www.rfc-editor.org/rfc/rfc2018#section-5
        //# After a retransmit timeout the data sender SHOULD turn off all of
        //# the SACKed bits, since the timeout might indicate that the data
        //# receiver has reneged.
        // Only on evidence of reneging, as Linux does: the SACK marks of a
        // peer that kept its data still say what need not be resent.
        let reneged = t.rtx.front(&self.pool).is_some_and(|r| TcpCb::of(&self.pool, &r).flags & CB_SACKED != 0);
        if reneged && let Some(n) = self.netns_mut(c.ns) {
            n.stats.tcp_ext.TCPSACKReneging += 1;
        }
        let mut cur = t.rtx.front(&self.pool);
        while let Some(x) = cur {
            let mut cb = TcpCb::of(&self.pool, &x);
            if reneged {
                cb.flags &= !CB_SACKED;
            }
            if cb.flags & CB_SACKED == 0 {
                cb.flags |= CB_LOST;
                cb.flags &= !CB_RETRANS;
                cb.store(&mut self.pool, &x);
            }
            cur = t.rtx.next(&self.pool, x);
        }
        t.recovery = Some(Recovery {
            recover: t.snd_nxt,
            sack: t.sack_ok,
            prr_delivered: 0,
            prr_out: 0,
            recover_fs: 1,
            cwnd: 1,
            after_rto: true,
        });
        t.dupacks = 0;
    }
}

//! TCP input (`tcp_v4_rcv` and `tcp_rcv_state_process`): validate the
//! segment, find its connection (established hash, TIME-WAIT, handshake in
//! progress, listener) and run the state machine of RFC 9293 §3.10.7.4,
//! with RFC 7323's PAWS and RFC 5961's defences against blind resets, SYNs
//! and ACKs.

use core::net::SocketAddrV4;

use super::TcpState;
use super::ack::AckVerdict;
use super::output::{Conn, ResetFor};
use super::seq::Seq;
use super::tcb::Tcb;
use crate::netfilter::NfHooks;
use crate::netns::{NsId, World};
use crate::skb::{Checksum, SkBuff};
use crate::socket::{Errno, SockId};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::checksum::pseudo_header_v4;
use crate::wire::{IpProtocol, SackBlocks, TcpFlags, TcpOptions, TcpOptionsRepr, TcpPacket};

/// What the checks before the ACK made of a segment.
enum Validated {
    /// On to the ACK, the data and the FIN.
    Go,
    /// Done with: it reset the connection.
    Taken,
    /// Refused, for this reason.
    Drop(DropReason),
}

/// What a received segment says, parsed once.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    /// The sender.
    pub src: SocketAddrV4,
    /// Us.
    pub dst: SocketAddrV4,
    /// Sequence number.
    pub seq: Seq,
    /// Acknowledgment number (meaningful with ACK).
    pub ack: Seq,
    /// Flags.
    pub flags: TcpFlags,
    /// Window field, unscaled.
    pub wnd: u16,
    /// Payload bytes.
    pub payload: u32,
    /// MSS option.
    pub mss: Option<u16>,
    /// Window-scale option.
    pub wscale: Option<u8>,
    /// SACK-permitted option.
    pub sack_perm: bool,
    /// Timestamps option (TSval, TSecr).
    pub ts: Option<(u32, u32)>,
    /// SACK blocks.
    pub sack: SackBlocks,
    /// Segments this packet stands for (GRO merges several).
    pub segs: u16,
}

impl Segment {
    /// SYN set.
    pub fn syn(&self) -> bool {
        self.flags.contains(TcpFlags::SYN)
    }

    /// FIN set.
    pub fn fin(&self) -> bool {
        self.flags.contains(TcpFlags::FIN)
    }

    /// RST set.
    pub fn rst(&self) -> bool {
        self.flags.contains(TcpFlags::RST)
    }

    /// ACK set.
    pub fn has_ack(&self) -> bool {
        self.flags.contains(TcpFlags::ACK)
    }

    /// Sequence space it occupies (`SEG.LEN`).
    pub fn len(&self) -> u32 {
        self.payload + u32::from(self.syn()) + u32::from(self.fin())
    }

    /// True when it occupies none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn reset_for(&self, ns: NsId) -> ResetFor {
        ResetFor {
            ns,
            local: self.dst,
            remote: self.src,
            seg_seq: self.seq,
            seg_ack: self.has_ack().then_some(self.ack),
            seg_len: self.len(),
        }
    }
}

impl<H: NfHooks> World<'_, H> {
    /// A received TCP segment, data at its header (`tcp_v4_rcv`).
    pub(crate) fn tcp_v4_rcv(&mut self, ns: NsId, skb: SkBuff, now: Instant) {
        //= https://www.rfc-editor.org/rfc/rfc1122#section-4.2.3.10
        //# A TCP implementation MUST silently discard an incoming SYN segment
        //# that is addressed to a broadcast or multicast address.
        // Linux drops every TCP segment that was not for this host alone.
        let m = self.pool.meta(&skb);
        let unicast = m.pkt_type == crate::skb::PacketType::Host && !m.rt_broadcast;
        if !unicast {
            self.pool.free(skb);
            return self.drop_count(ns, DropReason::TcpNotUnicast);
        }
        let seg = match self.tcp_parse(ns, &skb) {
            Ok(seg) => seg,
            Err(why) => return self.tcp_drop(ns, skb, why),
        };
        if let Some(n) = self.netns_mut(ns) {
            n.stats.tcp.InSegs += u64::from(seg.segs);
        }
        if let Some(id) = self.socks.lookup_established(ns, seg.dst, seg.src) {
            return self.tcp_rcv(id, seg, skb, now);
        }
        if let Some(i) = self.tw.find(ns, seg.dst, seg.src) {
            return self.tcp_tw_rcv(i, seg, skb, now);
        }
        if let Some(i) = self.reqs.find(ns, seg.dst, seg.src) {
            return self.tcp_req_rcv(i, seg, skb, now);
        }
        if let Some(l) = self.socks.lookup_listener(ns, seg.dst) {
            self.pool.free(skb);
            return self.tcp_listen_rcv(l, seg, None, now);
        }
        self.pool.free(skb);
        self.drop_count(ns, DropReason::TcpNoSocket);
        if !seg.rst() {
            self.tcp_send_reset_for(&seg.reset_for(ns), now);
        }
    }

    fn tcp_drop(&mut self, ns: NsId, skb: SkBuff, why: DropReason) {
        self.pool.free(skb);
        if let Some(n) = self.netns_mut(ns) {
            n.stats.tcp.InErrs += 1;
            n.stats.drops.count(why);
        }
    }

    /// Validate and parse; on success the data points at the payload.
    /// A segment with a bad checksum is counted in `InCsumErrors` here;
    /// the caller counts every drop in `InErrs` and by its reason, once.
    fn tcp_parse(&mut self, ns: NsId, skb: &SkBuff) -> Result<Segment, DropReason> {
        let len = self.pool.len(skb);
        if len < 20 || self.pool.may_pull(skb, 20).is_err() {
            return Err(DropReason::Truncated);
        }
        let doff = usize::from(self.pool.data(skb)[12] >> 4) * 4;
        if doff < 20 || doff > len || self.pool.may_pull(skb, doff).is_err() {
            return Err(DropReason::Truncated);
        }
        let (src_ip, dst_ip) = self.ip_addrs(skb).ok_or(DropReason::Truncated)?;
        let trusted = matches!(self.pool.meta(skb).csum, Checksum::Unnecessary | Checksum::Partial { .. });
        if !trusted {
            let mut sum = pseudo_header_v4(src_ip, dst_ip, IpProtocol::TCP, len as u16);
            if sum.add_skb(&self.pool, skb, 0, len).is_err() || sum.finish() != 0 {
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.tcp.InCsumErrors += 1;
                }
                return Err(DropReason::BadL4Checksum);
            }
        }
        let h = &self.pool.data(skb)[..doff];
        let p = TcpPacket::new_unchecked(h);
        let opts = TcpOptionsRepr::parse(TcpOptions::new(&h[20..]));
        let gso = self.pool.meta(skb).gso;
        let seg = Segment {
            src: SocketAddrV4::new(src_ip, p.src_port()),
            dst: SocketAddrV4::new(dst_ip, p.dst_port()),
            seq: Seq(p.seq_number()),
            ack: Seq(p.ack_number()),
            flags: p.flags(),
            wnd: p.window(),
            payload: (len - doff) as u32,
            mss: opts.mss,
            wscale: opts.window_scale,
            sack_perm: opts.sack_permitted,
            ts: opts.timestamps,
            sack: opts.sack,
            segs: if gso.is_gso() { gso.segs.max(1) } else { 1 },
        };
        self.pool.pull(skb, doff).map_err(|_| DropReason::Truncated)?;
        Ok(seg)
    }

    /// A segment for an existing connection.
    pub(crate) fn tcp_rcv(&mut self, id: SockId, seg: Segment, skb: SkBuff, now: Instant) {
        let Some((c, mut t)) = self.tcp_take(id) else {
            // Not reached: the caller just found `id` as a TCP socket.
            self.pool.free(skb);
            return;
        };
        t.last_rcv = now;
        if t.state == TcpState::SynSent {
            self.pool.free(skb);
            if let Err(why) = self.tcp_rcv_synsent(&c, &mut t, &seg, now) {
                self.drop_count(c.ns, why);
            }
        } else {
            self.tcp_rcv_synced(&c, &mut t, &seg, skb, now);
        }
        self.tcp_put(c, t);
    }

    /// RFC 9293 §3.10.7.3: a segment in SYN-SENT. `Err` says why it was
    /// refused.
    fn tcp_rcv_synsent(&mut self, c: &Conn, t: &mut Tcb, seg: &Segment, now: Instant) -> Result<(), DropReason> {
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.3
        //# If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the
        //# RST bit is set, if so drop the segment and return)
        if seg.has_ack() && (seg.ack.le(t.iss) || seg.ack.gt(t.snd_nxt)) {
            if !seg.rst() {
                self.tcp_send_reset_for(&seg.reset_for(c.ns), now);
            }
            return Err(DropReason::TcpInvalidAck);
        }
        if seg.rst() {
            if !seg.has_ack() {
                //# Otherwise (no ACK), drop the segment and return.
                return Err(DropReason::TcpFlags);
            }
            //# If the ACK was acceptable, then signal to the user "error:
            //# connection reset", drop the segment, enter CLOSED state
            self.tcp_fail(c, t, Errno::ConnRefused);
            if let Some(n) = self.netns_mut(c.ns) {
                n.stats.tcp.AttemptFails += 1;
            }
            return Ok(());
        }
        if !seg.syn() {
            //# If neither of the SYN or RST bits is set, then drop the segment and return.
            return Err(DropReason::TcpFlags);
        }
        t.irs = seg.seq;
        t.rcv_nxt = seg.seq + 1;
        t.rcv_wup = t.rcv_nxt;
        self.tcp_take_syn_options(c, t, seg, now);
        if seg.has_ack() {
            t.snd_wl1 = seg.seq;
            let _ = self.tcp_ack(c, t, seg, now);
            //= https://www.rfc-editor.org/rfc/rfc7323#section-2.2
            //# The window field in a segment where the SYN bit is set (i.e., a
            //# <SYN> or <SYN,ACK>) MUST NOT be scaled.
            t.snd_wnd = u32::from(seg.wnd);
            t.snd_wl1 = seg.seq;
            t.snd_wl2 = seg.ack;
            t.max_window = t.snd_wnd;
            self.tcp_set_established(c, t, now);
            self.tcp_send_ack(c, t, now);
            self.tcp_write_xmit(c, t, now);
        } else {
            //# Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment [...] and send it.
            t.state = TcpState::SynReceived;
            let _ = self.tcp_transmit_queued(c, t, None, now, true);
        }
        Ok(())
    }

    /// Options of a SYN or SYN-ACK: what both sides support.
    pub(crate) fn tcp_take_syn_options(&mut self, c: &Conn, t: &mut Tcb, seg: &Segment, now: Instant) {
        t.sack_ok &= seg.sack_perm;
        t.ts_ok &= seg.ts.is_some();
        if let Some((val, _)) = seg.ts.filter(|_| t.ts_ok) {
            t.ts_recent = val;
            t.ts_recent_stamp = now;
        }
        match seg.wscale.filter(|_| t.wscale_ok) {
            //= https://www.rfc-editor.org/rfc/rfc7323#section-2.3
            //# If a Window Scale option is received with a shift.cnt value larger
            //# than 14, the TCP SHOULD log the error but MUST use 14 instead
            Some(ws) => t.snd_wscale = ws.min(14),
            None => {
                t.wscale_ok = false;
                t.snd_wscale = 0;
                t.rcv_wscale = 0;
            }
        }
        self.tcp_sync_mss(c, t, seg.mss.unwrap_or(super::DEFAULT_MSS), now);
        t.rcv_mss = t.mss;
    }

    /// RFC 9293 §3.10.7.4: a segment for a synchronized connection (or SYN-RECEIVED).
    fn tcp_rcv_synced(&mut self, c: &Conn, t: &mut Tcb, seg: &Segment, skb: SkBuff, now: Instant) {
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.5
        //# Simultaneous initiation is only slightly more complex [...] Each
        //# TCP peer receives a "SYN" [...] then receives the other's
        //# <SYN,ACK>
        // The peer's SYN-ACK of a simultaneous open repeats its SYN, which
        // the sequence check would refuse; it completes the handshake
        // (Linux's tcp_validate_incoming makes the same exception).
        if t.state == TcpState::SynReceived
            && seg.syn()
            && seg.has_ack()
            && !seg.rst()
            && seg.seq + 1 == t.rcv_nxt
            && seg.ack == t.snd_nxt
        {
            self.pool.free(skb);
            self.tcp_set_established(c, t, now);
            let _ = self.tcp_ack(c, t, seg, now);
            //= https://www.rfc-editor.org/rfc/rfc7323#section-2.2
            //# The window field in a segment where the SYN bit is set [...] MUST NOT be scaled.
            t.snd_wnd = u32::from(seg.wnd);
            t.snd_wl1 = seg.seq;
            t.snd_wl2 = seg.ack;
            t.max_window = t.max_window.max(t.snd_wnd);
            return self.tcp_write_xmit(c, t, now);
        }
        match self.tcp_validate(c, t, seg, now) {
            Validated::Go => {}
            Validated::Taken => return self.pool.free(skb),
            Validated::Drop(why) => {
                self.pool.free(skb);
                return self.drop_count(c.ns, why);
            }
        }
        if t.state == TcpState::SynReceived {
            if !(seg.ack.gt(t.snd_una) && seg.ack.le(t.snd_nxt)) {
                self.pool.free(skb);
                self.drop_count(c.ns, DropReason::TcpInvalidAck);
                return self.tcp_send_reset_for(&seg.reset_for(c.ns), now);
            }
            self.tcp_set_established(c, t, now);
        }
        match self.tcp_ack(c, t, seg, now) {
            AckVerdict::Ok => {}
            AckVerdict::TooNew => {
                self.pool.free(skb);
                self.drop_count(c.ns, DropReason::TcpAckUnsentData);
                return self.tcp_send_ack(c, t, now);
            }
            AckVerdict::TooOld => {
                self.pool.free(skb);
                self.drop_count(c.ns, DropReason::TcpOldAck);
                return self.tcp_challenge_ack(c, t, now);
            }
        }
        if let Some(ts) = seg.ts.filter(|_| t.ts_ok) {
            //= https://www.rfc-editor.org/rfc/rfc7323#section-4.3
            //# If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent, then
            //# SEG.TSval is copied to TS.Recent
            if seg.seq.le(t.rcv_wup) && Seq(ts.0).ge(Seq(t.ts_recent)) {
                t.ts_recent = ts.0;
                t.ts_recent_stamp = now;
            }
        }
        self.tcp_fin_acked(c, t, now);
        self.tcp_data_and_fin(c, t, seg, skb, now);
        self.tcp_write_xmit(c, t, now);
    }

    /// Steps one to four of RFC 9293 §3.10.7.4: PAWS, the sequence check,
    /// RST and SYN (RFC 5961).
    fn tcp_validate(&mut self, c: &Conn, t: &mut Tcb, seg: &Segment, now: Instant) -> Validated {
        //= https://www.rfc-editor.org/rfc/rfc7323#section-5.3
        //# If the RST bit is not set and the segment is not acceptable [by
        //# PAWS: SEG.TSval < TS.Recent], then [...] send an ACK and drop
        if let (true, Some((val, _))) = (t.ts_ok, seg.ts)
            && !seg.rst()
            && Seq(val).lt(Seq(t.ts_recent))
            && now.saturating_duration_since(t.ts_recent_stamp) < core::time::Duration::from_secs(24 * 24 * 3600)
        {
            if let Some(n) = self.netns_mut(c.ns) {
                n.stats.tcp_ext.PAWSEstab += 1;
            }
            self.tcp_send_ack(c, t, now);
            return Validated::Drop(DropReason::TcpPaws);
        }
        if !self.tcp_seq_acceptable(t, seg) {
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.4
            //# If an incoming segment is not acceptable, an acknowledgment should
            //# be sent in reply (unless the RST bit is set, if so drop the segment
            if seg.syn() && !seg.rst() {
                // A SYN is answered by a challenge ACK wherever it falls
                // (RFC 5961 §4.2), so it is rate limited like the others.
                if let Some(n) = self.netns_mut(c.ns) {
                    n.stats.tcp_ext.TCPSYNChallenge += 1;
                }
                self.tcp_challenge_ack(c, t, now);
            } else if !seg.rst() {
                self.tcp_send_ack(c, t, now);
            }
            // Data at RCV.NXT fails only because the window is closed
            // (Linux's TCPZeroWindowDrop); a zero-window probe is one.
            if t.rcv_window() == 0 && seg.seq == t.rcv_nxt && seg.payload > 0 && !seg.rst() && !seg.syn() {
                if let Some(n) = self.netns_mut(c.ns) {
                    n.stats.tcp_ext.TCPZeroWindowDrop += 1;
                }
                return Validated::Drop(DropReason::TcpZeroWindow);
            }
            return Validated::Drop(DropReason::TcpBadSeq);
        }
        if seg.rst() {
            //= https://www.rfc-editor.org/rfc/rfc5961#section-3.2
            //# If the RST bit is set and the sequence number exactly matches the
            //# next expected sequence number (RCV.NXT), then TCP MUST reset the
            //# connection. [...] Otherwise (the sequence number [is] within the
            //# current receive window) TCP MUST send an acknowledgment (challenge ACK)
            if seg.seq == t.rcv_nxt {
                self.tcp_reset_received(c, t);
                return Validated::Taken;
            }
            self.tcp_challenge_ack(c, t, now);
            return Validated::Drop(DropReason::TcpRstNotExact);
        }
        if seg.syn() {
            //= https://www.rfc-editor.org/rfc/rfc5961#section-4.2
            //# If the SYN bit is set, irrespective of the sequence number, TCP
            //# MUST send an ACK (also referred to as challenge ACK) to the remote peer
            if let Some(n) = self.netns_mut(c.ns) {
                n.stats.tcp_ext.TCPSYNChallenge += 1;
            }
            self.tcp_challenge_ack(c, t, now);
            return Validated::Drop(DropReason::TcpInvalidSyn);
        }
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.4
        //# if the ACK bit is off, drop the segment and return
        if !seg.has_ack() {
            return Validated::Drop(DropReason::TcpFlags);
        }
        Validated::Go
    }

    /// RFC 9293's acceptability test (§3.10.7.4, the four cases), with the
    /// left edge where Linux (after BSD) puts it for a segment that starts
    /// before `RCV.NXT`: at `rcv_wup`, the edge our last ACK announced. A
    /// peer that has not heard our later ACKs (delayed, or lost) may resend
    /// what they covered; its ACK, window and timestamp still count, so the
    /// duplicate's answer echoes its timestamp, not an old one that would
    /// make the peer's RTT sample include its whole retransmission timeout.
    fn tcp_seq_acceptable(&self, t: &Tcb, seg: &Segment) -> bool {
        let wnd = t.rcv_window().max(if t.state == TcpState::SynReceived { 1 } else { 0 });
        let len = seg.len();
        let end = t.rcv_nxt + wnd;
        let in_window = match (len, wnd) {
            (0, 0) => seg.seq == t.rcv_nxt,
            (0, _) => seg.seq.in_range(t.rcv_nxt, end),
            (_, 0) => false,
            _ => seg.seq.in_range(t.rcv_nxt, end) || (seg.seq + (len - 1)).in_range(t.rcv_nxt, end),
        };
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.4
        //# If the RCV.WND is zero, no segments will be acceptable, but
        //# special allowance should be made to accept valid ACKs, URGs, and
        //# RSTs.
        // Linux's tcp_sequence makes that allowance at the right edge of any
        // window: a segment starting exactly there is taken for its ACK,
        // window and timestamp, and its data (beyond the window) is dropped
        // later with an ACK. It matters when the peer filled the window and
        // then acknowledges our data with a pure ACK whose sequence number
        // is the edge: refusing it loses the ACK, and we would retransmit
        // what the peer already has. RST and SYN keep the strict test, and
        // so does data into a closed window (a zero-window probe is
        // answered without being taken, as before).
        let at_edge = seg.seq == end && !seg.rst() && !seg.syn() && (len == 0 || wnd > 0);
        // Linux's tcp_sequence: the end reaches the announced left edge.
        in_window || at_edge || (seg.seq.lt(t.rcv_nxt) && (seg.seq + len).ge(t.rcv_wup))
    }

    /// A challenge ACK (RFC 5961 §7: rate limited per namespace).
    pub(crate) fn tcp_challenge_ack(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        if !self.tcp_challenge_budget(c.ns, now) {
            return;
        }
        if let Some(n) = self.netns_mut(c.ns) {
            n.stats.tcp_ext.TCPChallengeACK += 1;
        }
        self.tcp_send_ack(c, t, now);
    }

    /// The peer reset us (`tcp_reset`).
    fn tcp_reset_received(&mut self, c: &Conn, t: &mut Tcb) {
        let e = match t.state {
            TcpState::SynReceived => Errno::ConnRefused,
            TcpState::CloseWait => Errno::Pipe,
            _ => Errno::ConnReset,
        };
        if matches!(t.state, TcpState::Established | TcpState::CloseWait)
            && let Some(n) = self.netns_mut(c.ns)
        {
            n.stats.tcp.EstabResets += 1;
        }
        self.tcp_fail(c, t, e);
    }

    /// Into ESTABLISHED.
    pub(crate) fn tcp_set_established(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        t.state = TcpState::Established;
        t.synced = true;
        t.rto_at = if t.rtx.is_empty() { None } else { t.rto_at };
        t.idle_at = t.keepalive.map(|k| now + k.idle);
        if let Some(n) = self.netns_mut(c.ns) {
            n.stats.tcp.CurrEstab += 1;
        }
    }

    /// Our FIN was acknowledged: FIN-WAIT-1 → FIN-WAIT-2, CLOSING →
    /// TIME-WAIT, LAST-ACK → CLOSED.
    fn tcp_fin_acked(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        let all_acked = t.shut_wr && t.snd_una == t.write_seq && t.wq.is_empty();
        if !all_acked {
            return;
        }
        match t.state {
            TcpState::FinWait1 => {
                t.state = TcpState::FinWait2;
                if t.orphan {
                    t.idle_at = Some(now + super::FIN_TIMEOUT);
                }
            }
            TcpState::Closing => self.tcp_time_wait(c, t, now),
            TcpState::LastAck => self.tcp_done(c, t),
            _ => {}
        }
    }
}

//! The TCP output path: `tcp_write_xmit` decides what the windows allow,
//! `tcp_transmit_skb` writes headers into a clone's headroom, and the
//! helpers send ACKs, resets and the SYN family.

use core::net::SocketAddrV4;

use super::seq::Seq;
use super::tcb::{CB_EVER_RETRANS, CB_FIN, CB_LOST, CB_PSH, CB_RETRANS, CB_SACKED, CB_SYN, Tcb, TcpCb};
use super::{GSO_MAX, HEADROOM, TcpState};
use crate::ip::output::IpParams;
use crate::netfilter::NfHooks;
use crate::netns::{NsId, World};
use crate::skb::{Checksum, Gso, GsoType, OwnerId, SkBuff, SkbRef};
use crate::socket::SockId;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::checksum::pseudo_header_v4;
use crate::wire::{IpProtocol, SackBlocks, TcpFlags, TcpOptionsRepr, TcpPacket};

/// Who a connection is: enough to address its segments.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Conn {
    pub id: SockId,
    pub ns: NsId,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub ttl: u8,
    pub tos: u8,
    pub rcv_owner: OwnerId,
}

/// Segments `len` bytes make at `mss`.
pub(crate) fn segs(len: u32, mss: u16) -> u32 {
    len.div_ceil(u32::from(mss.max(1))).max(1)
}

impl<H: NfHooks> World<'_, H> {
    /// The window to advertise (`__tcp_select_window`): free receive buffer
    /// in payload bytes, with receiver-side silly window avoidance
    /// (RFC 9293 §3.8.6.2.2), never moving the right edge back.
    pub(crate) fn tcp_select_window(&self, c: &Conn, t: &Tcb) -> u32 {
        let room = u64::from(self.pool.owner_room(c.rcv_owner));
        let full = u64::from(self.pool.owner_stats(c.rcv_owner).map_or(0, |o| o.limit));
        let per_buf = self.pool.buf_size().max(1) as u64;
        // A received segment occupies a whole buffer: count payload, not
        // memory, and only whole buffers, so that a window's worth of full
        // segments (or one GRO packet holding them all) can be charged.
        // The segment size is what the peer was seen to send (or our own
        // MSS before it sent anything), not raised to a default: a peer held
        // to a small MSS fills a buffer per small segment.
        let seg_bytes = u64::from(t.rcv_mss.max(88)).min(per_buf);
        let scale = |bytes: u64| (bytes / per_buf * seg_bytes) as u32;
        let (free, full) = (scale(room), scale(full));
        let mss = u32::from(t.rcv_mss.max(536));
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.2.2
        //# the receiver should not advertise a larger window until [...] the
        //# increase [...] is at least equal to [...] min(Fr * RCV.BUFF, Eff.snd.MSS)
        let mut win = if free < full / 2 && free < mss { 0 } else { free };
        let granule = 1u32 << t.rcv_wscale;
        win &= !(granule - 1);
        let old_edge = t.rcv_wup + t.rcv_wnd;
        if old_edge.gt(t.rcv_nxt + win) {
            // Rounded up to what the scaled field can say, so the edge we
            // advertise is never left of the last one (Linux does the same).
            win = (old_edge - t.rcv_nxt).next_multiple_of(granule);
        }
        win.min(65_535u32 << t.rcv_wscale)
    }

    /// SACK blocks describing the out-of-order queue, the most recent first
    /// (RFC 2018 §4).
    pub(crate) fn tcp_sack_blocks(&self, t: &Tcb) -> SackBlocks {
        let mut blocks = SackBlocks::default();
        let (mut start, mut end): (Option<Seq>, Seq) = (None, Seq(0));
        let mut all: heapless::Vec<(u32, u32), 8> = heapless::Vec::new();
        for r in t.ooo.iter(&self.pool) {
            let cb = TcpCb::of(&self.pool, &r);
            match start {
                Some(_) if cb.seq.le(end) => end = end.max(cb.end_seq),
                _ => {
                    if let Some(s) = start {
                        let _ = all.push((s.0, end.0));
                    }
                    start = Some(cb.seq);
                    end = cb.end_seq;
                }
            }
        }
        if let Some(s) = start {
            let _ = all.push((s.0, end.0));
        }
        // The block holding the latest arrival goes first; it is the
        // highest in sequence space in the usual case of a growing hole.
        for &(l, r) in all.iter().rev().take(4) {
            blocks.push(l, r);
        }
        blocks
    }

    /// Write the TCP header in front of `skb` (data at the payload) and send
    /// it (`tcp_transmit_skb`). `seq` and `flags` come from the segment;
    /// ACK is added once the connection is synchronized.
    pub(crate) fn tcp_transmit(
        &mut self,
        c: &Conn,
        t: &mut Tcb,
        skb: SkBuff,
        seq: Seq,
        mut flags: TcpFlags,
        now: Instant,
    ) -> Result<(), DropReason> {
        let syn = flags.contains(TcpFlags::SYN);
        if t.state != TcpState::SynSent || !syn {
            flags |= TcpFlags::ACK;
        }
        let mut opts = TcpOptionsRepr::default();
        if syn {
            let adv = self.tcp_advmss(c, now);
            opts.mss = Some(if t.user_mss != 0 { adv.min(t.user_mss) } else { adv });
            opts.window_scale = t.wscale_ok.then_some(t.rcv_wscale);
            opts.sack_permitted = t.sack_ok;
        }
        if t.ts_ok {
            opts.timestamps = Some((t.tsval(now), t.ts_recent));
        }
        if t.sack_ok && !syn && !t.ooo.is_empty() {
            opts.sack = self.tcp_sack_blocks(t);
        }
        let win = if syn { t.rcv_wnd.min(65_535) } else { self.tcp_select_window(c, t) };
        let payload = self.pool.len(&skb);
        let hlen = 20 + opts.len();
        let route = match self.route_output(c.ns, *c.remote.ip(), Some(*c.local.ip()), now) {
            Ok(r) => r,
            Err(_) => {
                self.pool.free(skb);
                return Err(DropReason::NoRoute);
            }
        };
        // A segment split off at a chunk boundary has no headroom of its own.
        if self.pool.expand_head(&skb, HEADROOM).is_err() {
            self.pool.free(skb);
            return Err(DropReason::NoMemory);
        }
        let written = self.pool.push(&skb, hlen).map(|h| {
            h.fill(0);
            let mut p = TcpPacket::new_unchecked(&mut h[..]);
            p.set_src_port(c.local.port());
            p.set_dst_port(c.remote.port());
            p.set_seq_number(seq.0);
            p.set_ack_number(if flags.contains(TcpFlags::ACK) { t.rcv_nxt.0 } else { 0 });
            p.set_header_len(hlen);
            p.set_flags(flags);
            p.set_window(if syn { win as u16 } else { (win >> t.rcv_wscale) as u16 });
            p.set_urgent(0);
            let seed = pseudo_header_v4(*c.local.ip(), *c.remote.ip(), IpProtocol::TCP, (hlen + payload) as u16);
            p.set_checksum(seed.fold());
            opts.emit(&mut h[20..hlen]).is_ok()
        });
        if written != Ok(true) {
            self.pool.free(skb);
            return Err(DropReason::NoMemory);
        }
        let start = self.pool.data_offset(&skb);
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.7.1
        //# Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize
        //# [...] TCPhdrsize is the size of the fixed TCP header and any options.
        // `t.mss` leaves room for timestamps only; SACK blocks take more, so
        // a segment carrying them is cut shorter (Linux's tcp_current_mss),
        // or a full one would no longer fit the path and be dropped here.
        let base_opts = if t.ts_ok { 12 } else { 0 };
        let mss = t.mss.saturating_sub(opts.len().saturating_sub(base_opts) as u16).max(1);
        if let Ok(m) = self.pool.meta_mut(&skb) {
            m.csum = Checksum::Partial { start, offset: 16 };
            m.transport_header = start;
            m.gso = if payload > usize::from(mss) {
                Gso { size: mss, segs: segs(payload as u32, mss) as u16, kind: GsoType::TcpV4, ecn: false }
            } else {
                Gso::default()
            };
        }
        if flags.contains(TcpFlags::ACK) {
            t.delack_at = None;
            t.unacked_segs = 0;
            t.rcv_wup = t.rcv_nxt;
            t.rcv_wnd = win;
        }
        let out = segs(payload as u32, mss);
        if let Some(n) = self.netns_mut(c.ns) {
            n.stats.tcp.OutSegs += u64::from(out);
            if flags.contains(TcpFlags::RST) {
                n.stats.tcp.OutRsts += 1;
            }
        }
        // TCP wants path-MTU discovery (IP_PMTUDISC_WANT): DF, unless the
        // path is locked below the floor (Linux's `ip_dont_fragment`).
        let p = IpParams { proto: IpProtocol::TCP, ttl: c.ttl, tos: c.tos, df: !route.mtu_locked };
        let res = self.ip_queue_xmit(c.ns, skb, &route, *c.remote.ip(), p, now);
        //= https://www.rfc-editor.org/rfc/rfc1122#section-4.2.2.6
        //# Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize
        // The segment did not fit the route (its MTU was lowered): MMS_S
        // shrank, so the MSS follows at once. Linux learns the same from the
        // ICMP error `ip_fragment` sends itself.
        if res == Err(DropReason::FragNeeded) {
            self.tcp_sync_mss(c, t, t.peer_mss, now);
        }
        res
    }

    /// The MSS we announce: the route's MTU less the IPv4 and TCP headers.
    pub(crate) fn tcp_advmss(&mut self, c: &Conn, now: Instant) -> u16 {
        self.route_output(c.ns, *c.remote.ip(), Some(*c.local.ip()), now)
            .map_or(536, |r| r.mtu.saturating_sub(40).max(536))
    }

    /// The MSS to send with (`tcp_sync_mss`): the peer's, within the path
    /// MTU and `TCP_MAXSEG`, less the timestamp option.
    pub(crate) fn tcp_sync_mss(&mut self, c: &Conn, t: &mut Tcb, peer_mss: u16, now: Instant) {
        t.peer_mss = peer_mss;
        let mtu = self.route_output(c.ns, *c.remote.ip(), Some(*c.local.ip()), now).map_or(576, |r| r.mtu);
        let opts = if t.ts_ok { 12 } else { 0 };
        let mut mss = peer_mss.min(mtu.saturating_sub(40));
        if t.user_mss != 0 {
            mss = mss.min(t.user_mss);
        }
        t.mss = mss.saturating_sub(opts).max(64);
    }

    /// A bare segment: an ACK, a probe, a reset.
    fn tcp_bare(&mut self, c: &Conn, t: &mut Tcb, seq: Seq, flags: TcpFlags, now: Instant) {
        let Ok(skb) = self.pool.alloc_with_headroom(OwnerId::SYSTEM, HEADROOM) else {
            self.drop_count(c.ns, DropReason::NoMemory);
            return;
        };
        let _ = self.tcp_transmit(c, t, skb, seq, flags, now);
    }

    /// Send an ACK now (`tcp_send_ack`).
    pub(crate) fn tcp_send_ack(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        let seq = t.snd_nxt;
        self.tcp_bare(c, t, seq, TcpFlags::ACK, now);
    }

    /// Send a reset that aborts this connection (`tcp_send_active_reset`).
    pub(crate) fn tcp_send_active_reset(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        let seq = t.snd_nxt;
        self.tcp_bare(c, t, seq, TcpFlags::RST | TcpFlags::ACK, now);
    }

    /// A zero-window or keepalive probe: an ACK one byte before `snd_una`,
    /// which the peer must answer (Linux's `tcp_xmit_probe_skb`).
    pub(crate) fn tcp_send_probe(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        let seq = t.snd_una + u32::MAX;
        self.tcp_bare(c, t, seq, TcpFlags::ACK, now);
    }

    /// Queue a SYN (or, in SYN-RECEIVED, a SYN-ACK) on the retransmit queue
    /// and send it.
    pub(crate) fn tcp_send_syn(&mut self, c: &Conn, t: &mut Tcb, now: Instant) -> Result<(), DropReason> {
        let skb = self.pool.alloc_with_headroom(OwnerId::SYSTEM, HEADROOM).map_err(|_| DropReason::NoMemory)?;
        let _ = self.pool.header_release(&skb);
        TcpCb { seq: t.iss, end_seq: t.iss + 1, when: now.micros() as u32, flags: CB_SYN }.store(&mut self.pool, &skb);
        t.rtx.push_back(&mut self.pool, skb);
        t.snd_nxt = t.iss + 1;
        t.write_seq = t.snd_nxt;
        t.rto_at = Some(now + t.rto_backed_off());
        self.tcp_transmit_queued(c, t, None, now, false)
    }

    /// Transmit a clone of the retransmit-queue packet `r` (the head when
    /// `None`), as a retransmission or not.
    pub(crate) fn tcp_transmit_queued(
        &mut self,
        c: &Conn,
        t: &mut Tcb,
        r: Option<SkbRef>,
        now: Instant,
        rexmit: bool,
    ) -> Result<(), DropReason> {
        let r = match r.or_else(|| t.rtx.front(&self.pool)) {
            Some(r) => r,
            None => return Ok(()),
        };
        let mut cb = TcpCb::of(&self.pool, &r);
        cb.when = now.micros() as u32;
        if rexmit {
            // A lost segment resent stays marked lost: `pipe` counts it
            // once, as retransmitted (RFC 6675 §4's two rules).
            cb.flags |= CB_RETRANS | CB_EVER_RETRANS;
        }
        cb.store(&mut self.pool, &r);
        let clone = self.pool.clone(&r, OwnerId::SYSTEM).map_err(|_| DropReason::NoMemory)?;
        let mut flags = TcpFlags::empty();
        if cb.flags & CB_SYN != 0 {
            flags |= TcpFlags::SYN;
        }
        if cb.flags & CB_FIN != 0 {
            flags |= TcpFlags::FIN;
        }
        let data = self.pool.len(&clone) as u32;
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.9.1
        //# A TCP implementation MAY implement PUSH flags on SEND calls. [...]
        //# the data [...] is to be transmitted promptly [...] by setting the
        //# PUSH flag on the last TCP segment created from the buffer.
        // Only the segment that ends a send call carries PSH, as Linux
        // marks it: a receiver's GRO and LRO close a merged packet at PSH,
        // so PSH on every segment of a bulk stream would cut them short.
        if data > 0 && cb.flags & CB_PSH != 0 {
            flags |= TcpFlags::PSH;
        }
        if rexmit && let Some(n) = self.netns_mut(c.ns) {
            n.stats.tcp.RetransSegs += u64::from(segs(data, t.mss));
        }
        t.last_send = now;
        self.tcp_transmit(c, t, clone, cb.seq, flags, now)
    }

    /// Retransmit the oldest unacknowledged segment, one MSS of it
    /// (`tcp_retransmit_skb` cuts a queued super-packet to what it resends).
    pub(crate) fn tcp_retransmit_head(&mut self, c: &Conn, t: &mut Tcb, now: Instant) -> Result<(), DropReason> {
        let Some(head) = t.rtx.front(&self.pool) else { return Ok(()) };
        let mss = u32::from(t.mss.max(1));
        if TcpCb::of(&self.pool, &head).len() > mss {
            self.tcp_split_rtx(t, head, mss);
        }
        self.tcp_transmit_queued(c, t, Some(head), now, true)
    }

    /// Segments in flight (RFC 6675's `pipe`, Linux's
    /// `tcp_packets_in_flight`): sent, neither SACKed nor judged lost, plus
    /// retransmissions not yet acknowledged.
    pub(crate) fn tcp_pipe(&self, t: &Tcb) -> u32 {
        let mut pipe = 0;
        for r in t.rtx.iter(&self.pool) {
            let cb = TcpCb::of(&self.pool, &r);
            let n = segs(cb.len(), t.mss);
            if cb.flags & (CB_SACKED | CB_LOST) == 0 {
                pipe += n;
            }
            if cb.flags & CB_RETRANS != 0 {
                pipe += n;
            }
        }
        pipe
    }

    /// The window the sender may fill now: the congestion window, or during
    /// SACK recovery the window PRR computed.
    fn tcp_cwnd(&self, t: &Tcb) -> u32 {
        match t.recovery {
            Some(r) if !r.after_rto => r.cwnd.max(1),
            _ => t.cong.cwnd().max(1),
        }
    }

    /// Retransmit segments marked lost while the window allows (RFC 6675
    /// `NextSeg` rule 1, Linux's `tcp_xmit_retransmit_queue`).
    pub(crate) fn tcp_xmit_retransmit_queue(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        let cwnd = self.tcp_cwnd(t);
        let mut r = t.rtx.front(&self.pool);
        let mut guard = t.rtx.len();
        while let Some(cur) = r {
            if guard == 0 {
                break;
            }
            guard -= 1;
            let pipe = self.tcp_pipe(t);
            if pipe >= cwnd {
                break;
            }
            let cb = TcpCb::of(&self.pool, &cur);
            if cb.flags & CB_LOST != 0 && cb.flags & (CB_RETRANS | CB_SACKED) == 0 {
                let quota = (cwnd - pipe) * u32::from(t.mss);
                if cb.len() > quota && cb.flags & (CB_SYN | CB_FIN) == 0 {
                    self.tcp_split_rtx(t, cur, quota);
                }
                if self.tcp_transmit_queued(c, t, Some(cur), now, true).is_ok() {
                    if let Some(rec) = t.recovery.as_mut() {
                        rec.prr_out = rec.prr_out.saturating_add(segs(TcpCb::of(&self.pool, &cur).len(), t.mss));
                    }
                    if let Some(n) = self.netns_mut(c.ns) {
                        n.stats.tcp_ext.TCPFastRetrans += 1;
                    }
                }
            }
            r = t.rtx.next(&self.pool, cur);
        }
    }

    /// Cut retransmit-queue packet `r` after `bytes` (rounded to whole MSS),
    /// the rest becoming the next entry (`tcp_fragment`).
    pub(crate) fn tcp_split_rtx(&mut self, t: &mut Tcb, r: SkbRef, bytes: u32) -> bool {
        let cb = TcpCb::of(&self.pool, &r);
        let mss = u32::from(t.mss);
        let at = if bytes > mss { bytes / mss * mss } else { bytes };
        if at == 0 || at >= cb.len() {
            return false;
        }
        let Ok(tail) = self.pool.split(&r, at as usize) else { return false };
        TcpCb { seq: cb.seq + at, ..cb }.store(&mut self.pool, &tail);
        TcpCb { end_seq: cb.seq + at, flags: cb.flags & !(CB_FIN | CB_PSH), ..cb }.store(&mut self.pool, &r);
        let _ = self.pool.header_release(&tail);
        if let Err((_, tail)) = t.rtx.insert_after(&mut self.pool, r, tail) {
            self.pool.free(tail);
            return false;
        }
        true
    }

    /// Send new data as the windows allow (`tcp_write_xmit`), after any
    /// retransmissions recovery owes.
    pub(crate) fn tcp_write_xmit(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        if !matches!(
            t.state,
            TcpState::Established | TcpState::CloseWait | TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck
        ) {
            return;
        }
        if t.recovery.is_some() {
            self.tcp_xmit_retransmit_queue(c, t, now);
        }
        // Bounded: each pass moves one packet from the write queue.
        for _ in 0..t.wq.len() {
            if !self.tcp_send_one(c, t, now) {
                break;
            }
        }
        let cwnd_limited = !t.wq.is_empty() && self.tcp_pipe(t) >= self.tcp_cwnd(t);
        self.tcp_cwnd_validate(t, cwnd_limited);
        // Nothing in flight to bring an ACK, yet data waits (a zero window,
        // or one too small to use): the probe timer will ask
        // (`tcp_check_probe_timer`).
        if t.rtx.is_empty() && !t.wq.is_empty() && t.persist_at.is_none() {
            t.persist_at = Some(now + t.rto_backed_off());
        }
    }

    /// Remember whether the window was used, for the congestion controller
    /// (RFC 7661's idea, in Linux's form `tcp_cwnd_validate`): per round
    /// trip, the largest flight and whether sending stopped at cwnd.
    pub(crate) fn tcp_cwnd_validate(&mut self, t: &mut Tcb, cwnd_limited: bool) {
        let out = if t.bytes_in_flight() == 0 { 0 } else { segs(t.bytes_in_flight(), t.mss) };
        if !t.snd_una.lt(t.cwnd_usage_seq) || cwnd_limited || (!t.cwnd_limited && out > t.max_packets_out) {
            t.cwnd_limited = cwnd_limited;
            t.max_packets_out = out;
            t.cwnd_usage_seq = t.snd_nxt;
        }
    }

    /// Whether the window was the limit lately (`tcp_is_cwnd_limited`): it
    /// was, or in slow start the flight reached half of it, so slow start
    /// may double what was really used.
    pub(crate) fn tcp_is_cwnd_limited(&self, t: &Tcb) -> bool {
        t.cwnd_limited || (t.cong.in_slow_start() && t.cong.cwnd() < 2 * t.max_packets_out)
    }

    /// Try to send the head of the write queue; false when something holds
    /// it back (a window, Nagle).
    fn tcp_send_one(&mut self, c: &Conn, t: &mut Tcb, now: Instant) -> bool {
        let Some(r) = t.wq.front(&self.pool) else { return false };
        //= https://www.rfc-editor.org/rfc/rfc5681#section-4.1
        //# a TCP SHOULD set cwnd to no more than RW before beginning
        //# transmission if the TCP has not sent data in an interval exceeding
        //# the retransmission timeout.
        if t.rtx.is_empty() && t.last_send != Instant::ZERO && now.saturating_duration_since(t.last_send) > t.rto {
            t.cong.on_idle_restart(super::INIT_CWND);
            t.last_send = now;
        }
        let cb = TcpCb::of(&self.pool, &r);
        let data = self.pool.len(&r) as u32;
        let mss = u32::from(t.mss);
        let pipe = self.tcp_pipe(t);
        let cwnd = self.tcp_cwnd(t);
        if pipe >= cwnd {
            return false;
        }
        let wnd_end = t.snd_una + t.snd_wnd;
        let wnd_room = if wnd_end.gt(cb.seq) { wnd_end - cb.seq } else { 0 };
        let quota = ((cwnd - pipe) * mss).min(wnd_room).min((GSO_MAX - HEADROOM) as u32 / mss * mss);
        if data > 0 && quota == 0 {
            return false;
        }
        if data > quota {
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.2.1
            //# the sender should not send [...] unless [...] a maximum-sized
            //# segment can be sent [or] at least a fraction Fs of the
            //# maximum window can be sent
            if quota < mss && quota < t.max_window / 2 {
                return false;
            }
            // Whole segments, plus the partial one the window leaves when
            // Nagle would let it go (Linux's tcp_mss_split_point).
            let partial = quota % mss;
            let nagle_holds = !t.nodelay && t.snd_nxt != t.snd_una;
            let at = if quota > mss && partial != 0 && nagle_holds { quota - partial } else { quota };
            if !self.tcp_split_wq(t, r, at) {
                return false;
            }
        } else if data < mss && !t.nodelay && cb.flags & CB_FIN == 0 && t.snd_nxt != t.snd_una {
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.7.4
            //# A TCP implementation SHOULD implement the Nagle algorithm to
            //# coalesce short segments
            return false;
        }
        // Sent first, queued for retransmission after: a segment the stack
        // could not send (no route, no memory, a full device queue) stays
        // unsent, as in Linux's tcp_write_xmit.
        let mss_was = t.mss;
        match self.tcp_transmit_queued(c, t, Some(r), now, false) {
            Ok(()) => {}
            // Too big for a route whose MTU shrank: the MSS was cut to fit,
            // so the caller's next pass sends it again, now in smaller
            // segments.
            Err(DropReason::FragNeeded) => return t.mss < mss_was,
            Err(_) => return false,
        }
        let Some(skb) = t.wq.pop_front(&mut self.pool) else { return false };
        let cb = TcpCb::of(&self.pool, &skb);
        t.rtx.push_back(&mut self.pool, skb);
        t.snd_nxt = t.snd_nxt.max(cb.end_seq);
        if t.rto_at.is_none() {
            t.rto_at = Some(now + t.rto_backed_off());
        }
        true
    }

    /// The probe timer found a window too small for the sender's rules but
    /// not zero: send what fits anyway, at most one segment
    /// (`tcp_write_wakeup`). Returns false when nothing could go.
    pub(crate) fn tcp_write_wakeup(&mut self, c: &Conn, t: &mut Tcb, now: Instant) -> bool {
        let Some(r) = t.wq.front(&self.pool) else { return false };
        let cb = TcpCb::of(&self.pool, &r);
        let wnd_end = t.snd_una + t.snd_wnd;
        let room = if wnd_end.gt(cb.seq) { wnd_end - cb.seq } else { 0 };
        let data = self.pool.len(&r) as u32;
        if room == 0 && data > 0 {
            return false;
        }
        let quota = room.min(u32::from(t.mss));
        if data > quota && !self.tcp_split_wq(t, r, quota) {
            return false;
        }
        let Some(skb) = t.wq.pop_front(&mut self.pool) else { return false };
        let cb = TcpCb::of(&self.pool, &skb);
        let sent = skb.as_ref();
        t.rtx.push_back(&mut self.pool, skb);
        t.snd_nxt = t.snd_nxt.max(cb.end_seq);
        t.rto_at = Some(now + t.rto_backed_off());
        let _ = self.tcp_transmit_queued(c, t, Some(sent), now, false);
        true
    }

    /// Cut the write-queue head after `at` bytes so the first part can go.
    fn tcp_split_wq(&mut self, t: &mut Tcb, r: SkbRef, at: u32) -> bool {
        let cb = TcpCb::of(&self.pool, &r);
        let Ok(tail) = self.pool.split(&r, at as usize) else { return false };
        TcpCb { seq: cb.seq + at, ..cb }.store(&mut self.pool, &tail);
        TcpCb { end_seq: cb.seq + at, flags: cb.flags & !(CB_FIN | CB_PSH), ..cb }.store(&mut self.pool, &r);
        let _ = self.pool.header_release(&tail);
        if let Err((_, tail)) = t.wq.insert_after(&mut self.pool, r, tail) {
            self.pool.free(tail);
            return false;
        }
        true
    }

    /// Queue a FIN after the data (`tcp_send_fin`): on the last unsent
    /// packet when there is one, else as a packet of its own.
    pub(crate) fn tcp_queue_fin(&mut self, t: &mut Tcb, now: Instant) {
        if let Some(r) = t.wq.back(&self.pool) {
            let mut cb = TcpCb::of(&self.pool, &r);
            if cb.flags & CB_FIN == 0 {
                cb.flags |= CB_FIN;
                cb.end_seq += 1;
                cb.store(&mut self.pool, &r);
                t.write_seq += 1;
            }
            return;
        }
        let Ok(skb) = self.pool.alloc_with_headroom(OwnerId::SYSTEM, HEADROOM) else { return };
        let _ = self.pool.header_release(&skb);
        TcpCb { seq: t.write_seq, end_seq: t.write_seq + 1, when: now.micros() as u32, flags: CB_FIN }
            .store(&mut self.pool, &skb);
        t.write_seq += 1;
        t.wq.push_back(&mut self.pool, skb);
    }
}

/// Reply to a segment that has no connection with a reset (RFC 9293
/// §3.10.7.1): seq from its ACK, or ACK of everything it occupied.
pub(crate) struct ResetFor {
    pub ns: NsId,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub seg_seq: Seq,
    pub seg_ack: Option<Seq>,
    pub seg_len: u32,
}

impl<H: NfHooks> World<'_, H> {
    /// Send the reset for a segment nobody wanted (`tcp_v4_send_reset`).
    pub(crate) fn tcp_send_reset_for(&mut self, r: &ResetFor, now: Instant) {
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.1
        //# If the ACK bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
        //# If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>
        let (seq, ack, flags) = match r.seg_ack {
            Some(a) => (a, Seq(0), TcpFlags::RST),
            None => (Seq(0), r.seg_seq + r.seg_len, TcpFlags::RST | TcpFlags::ACK),
        };
        let Ok(route) = self.route_output(r.ns, *r.remote.ip(), Some(*r.local.ip()), now) else { return };
        let Ok(skb) = self.pool.alloc_with_headroom(OwnerId::SYSTEM, HEADROOM) else { return };
        let built = self.pool.push(&skb, 20).map(|h| {
            h.fill(0);
            let mut p = TcpPacket::new_unchecked(&mut h[..]);
            p.set_src_port(r.local.port());
            p.set_dst_port(r.remote.port());
            p.set_seq_number(seq.0);
            p.set_ack_number(ack.0);
            p.set_header_len(20);
            p.set_flags(flags);
            p.set_window(0);
            p.set_urgent(0);
            p.set_checksum(0);
            p.fill_checksum(*r.local.ip(), *r.remote.ip());
        });
        if built.is_err() {
            self.pool.free(skb);
            return;
        }
        if let Some(n) = self.netns_mut(r.ns) {
            n.stats.tcp.OutRsts += 1;
            n.stats.tcp.OutSegs += 1;
        }
        let ttl = self.netns(r.ns).map_or(64, |n| n.sysctl.default_ttl);
        let p = IpParams { proto: IpProtocol::TCP, ttl, tos: 0, df: !route.mtu_locked };
        let _ = self.ip_queue_xmit(r.ns, skb, &route, *r.remote.ip(), p, now);
    }
}

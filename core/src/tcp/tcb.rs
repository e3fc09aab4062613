//! The transmission control block: everything a connection remembers
//! (Linux's `struct tcp_sock`), and the per-segment control data TCP keeps
//! in a queued sk_buff's `cb` (Linux's `TCP_SKB_CB`).

use core::time::Duration;

use super::cong::{CongAlgo, Congestion};
use super::seq::Seq;
use super::{INIT_CWND, RTO_INIT, TcpState};
use crate::skb::{SkbId, SkbPool, SkbQueue};
use crate::socket::Errno;
use crate::time::Instant;

/// `cb` flag: the segment carries FIN.
pub const CB_FIN: u32 = 1;
/// `cb` flag: the segment carries SYN.
pub const CB_SYN: u32 = 2;
/// `cb` flag: the segment ends what a send call wrote, so it goes out with
/// PSH (`tcp_mark_push`); a split leaves it on the second part.
pub const CB_PSH: u32 = 4;
/// `cb` flag: the receiver SACKed it.
pub const CB_SACKED: u32 = 1 << 8;
/// `cb` flag: marked lost, to be retransmitted.
pub const CB_LOST: u32 = 1 << 9;
/// `cb` flag: retransmitted and not yet acknowledged.
pub const CB_RETRANS: u32 = 1 << 10;
/// `cb` flag: retransmitted at least once (Karn: no RTT sample from it).
pub const CB_EVER_RETRANS: u32 = 1 << 11;

/// TCP's view of a queued segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpCb {
    /// First sequence number.
    pub seq: Seq,
    /// One past the last (SYN and FIN count one).
    pub end_seq: Seq,
    /// When it was last sent (low 32 bits of the microsecond clock).
    pub when: u32,
    /// `CB_*` flags.
    pub flags: u32,
}

impl TcpCb {
    /// Read it from a packet's `cb`.
    pub fn of(pool: &SkbPool, skb: &impl SkbId) -> TcpCb {
        let c = pool.meta(skb).cb;
        TcpCb { seq: Seq(c[0]), end_seq: Seq(c[1]), when: c[2], flags: c[3] }
    }

    /// Store it in a packet's `cb`.
    pub fn store(self, pool: &mut SkbPool, skb: &impl SkbId) {
        if let Ok(m) = pool.meta_mut(skb) {
            m.cb = [self.seq.0, self.end_seq.0, self.when, self.flags];
        }
    }

    /// Sequence space the segment covers.
    pub fn len(&self) -> u32 {
        self.end_seq - self.seq
    }

    /// True for a segment covering no sequence space.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Loss recovery under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Recovery {
    /// `snd_nxt` when recovery began (RFC 6675's and RFC 6582's `RecoveryPoint`).
    pub recover: Seq,
    /// SACK-based (RFC 6675) or NewReno (RFC 6582).
    pub sack: bool,
    /// Proportional Rate Reduction state (RFC 6937).
    pub prr_delivered: u32,
    /// Segments sent since recovery began.
    pub prr_out: u32,
    /// Flight size when recovery began.
    pub recover_fs: u32,
    /// The window PRR allows now, segments.
    pub cwnd: u32,
    /// Entered by a retransmission timeout (Linux's `TCP_CA_Loss`): the
    /// window grows by slow start instead of PRR.
    pub after_rto: bool,
}

/// Keepalive settings (`TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Keepalive {
    /// Idle time before the first probe.
    pub idle: Duration,
    /// Time between probes.
    pub interval: Duration,
    /// Unanswered probes before the connection dies.
    pub count: u8,
}

impl Default for Keepalive {
    fn default() -> Keepalive {
        Keepalive { idle: Duration::from_secs(7200), interval: Duration::from_secs(75), count: 9 }
    }
}

/// A connection's state.
#[derive(Debug)]
pub struct Tcb {
    /// RFC 9293 state.
    pub state: TcpState,
    /// The connection reached ESTABLISHED at some point: CLOSED after it is
    /// a connection that ended, not an attempt that failed.
    pub synced: bool,
    // --- send sequence space
    /// Initial send sequence number.
    pub iss: Seq,
    /// Oldest unacknowledged.
    pub snd_una: Seq,
    /// Next to send.
    pub snd_nxt: Seq,
    /// Next byte the application's data will get (end of the write queue).
    pub write_seq: Seq,
    /// The peer's window, scaled (bytes).
    pub snd_wnd: u32,
    /// Segment sequence of the last window update (RFC 9293 `SND.WL1`).
    pub snd_wl1: Seq,
    /// Segment acknowledgment of the last window update (`SND.WL2`).
    pub snd_wl2: Seq,
    /// Largest window the peer ever offered.
    pub max_window: u32,
    /// Shift of the peer's window field.
    pub snd_wscale: u8,
    /// Segment size we send.
    pub mss: u16,
    /// The MSS the peer announced.
    pub peer_mss: u16,
    /// Unsent data.
    pub wq: SkbQueue,
    /// Sent, not yet fully acknowledged, in sequence order.
    pub rtx: SkbQueue,
    // --- receive sequence space
    /// Initial receive sequence number.
    pub irs: Seq,
    /// Next expected.
    pub rcv_nxt: Seq,
    /// Window we last advertised (bytes).
    pub rcv_wnd: u32,
    /// `rcv_nxt` when we last advertised it.
    pub rcv_wup: Seq,
    /// Shift of our window field.
    pub rcv_wscale: u8,
    /// In-order data for the application.
    pub rcvq: SkbQueue,
    /// Bytes already read from the first packet of `rcvq`.
    pub rcvq_off: u32,
    /// Out-of-order data, in sequence order.
    pub ooo: SkbQueue,
    /// Largest segment the peer sent us (for ACK decisions).
    pub rcv_mss: u16,
    // --- options
    /// SACK agreed.
    pub sack_ok: bool,
    /// Timestamps agreed.
    pub ts_ok: bool,
    /// Window scaling agreed.
    pub wscale_ok: bool,
    /// The peer's latest valid TSval (RFC 7323 `TS.Recent`).
    pub ts_recent: u32,
    /// When `ts_recent` was taken.
    pub ts_recent_stamp: Instant,
    /// Our timestamp clock's offset.
    pub ts_offset: u32,
    // --- round-trip time (RFC 6298)
    /// Smoothed RTT, microseconds (0: no sample yet).
    pub srtt_us: u32,
    /// RTT variation, microseconds.
    pub rttvar_us: u32,
    /// Current retransmission timeout, before backoff.
    pub rto: Duration,
    /// Exponential backoff shift after timeouts.
    pub backoff: u8,
    // --- congestion and recovery
    /// Congestion window and algorithm.
    pub cong: Congestion,
    /// Loss recovery, when under way.
    pub recovery: Option<Recovery>,
    /// The window stopped sending in the current round trip.
    pub cwnd_limited: bool,
    /// Largest flight, in segments, in the current round trip.
    pub max_packets_out: u32,
    /// Where the current round trip of that measurement ends.
    pub cwnd_usage_seq: Seq,
    /// Duplicate ACKs in a row.
    pub dupacks: u32,
    /// Highest sequence the peer SACKed.
    pub high_sacked: Seq,
    // --- ACK scheduling
    /// Full segments received since our last ACK.
    pub unacked_segs: u32,
    /// ACKs to send at once rather than delay (Linux's quick-ACK mode).
    pub quickacks: u8,
    // --- timers
    /// Retransmission timer.
    pub rto_at: Option<Instant>,
    /// Delayed-ACK timer.
    pub delack_at: Option<Instant>,
    /// Zero-window probe timer.
    pub persist_at: Option<Instant>,
    /// Keepalive, FIN-WAIT-2 and user-timeout timer.
    pub idle_at: Option<Instant>,
    /// Retransmissions of the current oldest segment (or SYN).
    pub retransmits: u8,
    /// Zero-window or keepalive probes sent without an answer.
    pub probes: u8,
    /// When the peer last sent us anything.
    pub last_rcv: Instant,
    /// When we last sent data.
    pub last_send: Instant,
    /// When the first unanswered retransmission went out (user timeout).
    pub first_rtx: Option<Instant>,
    // --- settings and status
    /// `TCP_NODELAY`.
    pub nodelay: bool,
    /// `SO_KEEPALIVE`: the settings in force, when on.
    pub keepalive: Option<Keepalive>,
    /// `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT`, kept while keepalive is off.
    pub keep_cfg: Keepalive,
    /// `TCP_MAXSEG`: the largest segment we send or announce (zero: the path's).
    pub user_mss: u16,
    /// `SO_LINGER`: `Some(0)` makes close reset the connection; `Some(t)`
    /// bounds how long a closed connection may take to finish.
    pub linger: Option<Duration>,
    /// When a lingering close gives up and resets.
    pub linger_at: Option<Instant>,
    /// `TCP_USER_TIMEOUT` (zero: off).
    pub user_timeout: Duration,
    /// The application closed its side for writing (FIN queued or sent).
    pub shut_wr: bool,
    /// The application will read no more.
    pub shut_rd: bool,
    /// The application closed the socket: the connection lingers on its own.
    pub orphan: bool,
    /// The peer's FIN was received.
    pub fin_rcvd: bool,
    /// An error to report once.
    pub err: Option<Errno>,
    /// The last ICMP error heard while established (Linux's `sk_err_soft`):
    /// reported instead of a plain timeout if the connection dies.
    pub soft_err: Option<Errno>,
}

impl Tcb {
    /// A closed connection with Linux's defaults.
    pub fn new(algo: CongAlgo) -> Tcb {
        Tcb {
            state: TcpState::Closed,
            synced: false,
            iss: Seq(0),
            snd_una: Seq(0),
            snd_nxt: Seq(0),
            write_seq: Seq(0),
            snd_wnd: 0,
            snd_wl1: Seq(0),
            snd_wl2: Seq(0),
            max_window: 0,
            snd_wscale: 0,
            mss: super::DEFAULT_MSS,
            peer_mss: super::DEFAULT_MSS,
            wq: SkbQueue::new(),
            rtx: SkbQueue::new(),
            irs: Seq(0),
            rcv_nxt: Seq(0),
            rcv_wnd: 0,
            rcv_wup: Seq(0),
            rcv_wscale: 0,
            rcvq: SkbQueue::new(),
            rcvq_off: 0,
            ooo: SkbQueue::new(),
            rcv_mss: super::DEFAULT_MSS,
            sack_ok: false,
            ts_ok: false,
            wscale_ok: false,
            ts_recent: 0,
            ts_recent_stamp: Instant::ZERO,
            ts_offset: 0,
            srtt_us: 0,
            rttvar_us: 0,
            rto: RTO_INIT,
            backoff: 0,
            cong: Congestion::new(algo, INIT_CWND),
            recovery: None,
            cwnd_limited: false,
            max_packets_out: 0,
            cwnd_usage_seq: Seq(0),
            dupacks: 0,
            high_sacked: Seq(0),
            unacked_segs: 0,
            quickacks: 16,
            rto_at: None,
            delack_at: None,
            persist_at: None,
            idle_at: None,
            retransmits: 0,
            probes: 0,
            last_rcv: Instant::ZERO,
            last_send: Instant::ZERO,
            first_rtx: None,
            nodelay: false,
            keepalive: None,
            keep_cfg: Keepalive::default(),
            user_mss: 0,
            linger: None,
            linger_at: None,
            user_timeout: Duration::ZERO,
            shut_wr: false,
            shut_rd: false,
            orphan: false,
            fin_rcvd: false,
            err: None,
            soft_err: None,
        }
    }

    /// A fresh control block with this one's settings (a listener's, for
    /// the connections it accepts).
    pub fn inherit(&self) -> Tcb {
        let mut t = Tcb::new(self.cong.algo());
        t.nodelay = self.nodelay;
        t.keepalive = self.keepalive;
        t.keep_cfg = self.keep_cfg;
        t.user_mss = self.user_mss;
        t.linger = self.linger;
        t.user_timeout = self.user_timeout;
        t
    }

    /// Our TSval at `now` (1 kHz, offset per connection).
    pub fn tsval(&self, now: Instant) -> u32 {
        (now.millis() as u32).wrapping_add(self.ts_offset)
    }

    /// The receive window still open (RFC 9293's RCV.WND, Linux's
    /// `tcp_receive_window`): what our last ACK offered from `rcv_wup`,
    /// less what arrived since. The right edge stays where that ACK put it
    /// until the next one moves it; never negative.
    pub fn rcv_window(&self) -> u32 {
        let edge = self.rcv_wup + self.rcv_wnd;
        if edge.gt(self.rcv_nxt) { edge - self.rcv_nxt } else { 0 }
    }

    /// Bytes sent and not yet acknowledged.
    pub fn bytes_in_flight(&self) -> u32 {
        self.snd_nxt - self.snd_una
    }

    /// The RTO with backoff, bounded by [`super::RTO_MAX`].
    pub fn rto_backed_off(&self) -> Duration {
        (self.rto * (1u32 << self.backoff.min(16))).min(super::RTO_MAX)
    }

    /// Free every queued packet.
    pub fn purge(&mut self, pool: &mut SkbPool) {
        self.wq.purge(pool);
        self.rtx.purge(pool);
        self.rcvq.purge(pool);
        self.ooo.purge(pool);
        self.rcvq_off = 0;
    }
}

/// A snapshot of a connection (Linux's `struct tcp_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TcpInfo {
    /// State.
    pub state: TcpState,
    /// Send MSS.
    pub mss: u16,
    /// Congestion window, segments.
    pub cwnd: u32,
    /// Slow-start threshold, segments.
    pub ssthresh: u32,
    /// Smoothed RTT.
    pub srtt: Duration,
    /// Current RTO.
    pub rto: Duration,
    /// Bytes in flight.
    pub in_flight: u32,
    /// Peer's window.
    pub snd_wnd: u32,
    /// Our advertised window.
    pub rcv_wnd: u32,
    /// SACK agreed.
    pub sack: bool,
    /// Timestamps agreed.
    pub timestamps: bool,
    /// Window scales (ours, theirs).
    pub wscale: (u8, u8),
    /// Unread bytes.
    pub unread: u32,
    /// Unsent bytes.
    pub unsent: u32,
}

//! Congestion control: how many segments a connection may have in flight.
//!
//! This is Linux's `tcp_cong.c` with its two classic algorithms, chosen per
//! socket as with `TCP_CONGESTION`: Reno (`"reno"`, RFC 5681 with the NewReno
//! recovery of RFC 6582 around it) and CUBIC (`"cubic"`, RFC 9438, the
//! default), whose initial slow start ends on a rising RTT with HyStart++
//! (RFC 9406). The window is counted in segments, as Linux counts
//! `snd_cwnd`, and all arithmetic is integer (firmware may have no FPU):
//! CUBIC's fixed point is described in its module.
//!
//! The ACK path drives it, in the order Linux's `tcp_ack` does:
//! - [`Congestion::on_ack`] for every ACK that newly acknowledges data outside
//!   loss recovery (`tcp_cong_control`);
//! - [`Congestion::on_loss`] on entering fast recovery (`tcp_enter_recovery`);
//!   during recovery the caller paces the window itself (PRR, RFC 6937);
//!   [`Congestion::on_recovery_exit`] when recovery ends
//!   (`tcp_end_cwnd_reduction`);
//! - [`Congestion::on_rto`] when the retransmission timer fires
//!   (`tcp_enter_loss`);
//! - [`Congestion::on_idle_restart`] before sending after more than an RTO
//!   of silence (`tcp_cwnd_restart`).

mod cubic;
mod hystart;
mod reno;
#[cfg(test)]
mod tests;

use core::time::Duration;

use crate::time::Instant;
use cubic::{Cubic, ONE_Q16};
use hystart::HyStart;

/// The largest congestion window, in segments (with a 1460-byte MSS, 95 MB
/// in flight).
pub const CWND_MAX: u32 = 65_535;

/// The initial, "arbitrarily high" slow-start threshold.
//= https://www.rfc-editor.org/rfc/rfc5681#section-3.1
//# The initial value of ssthresh SHOULD be set arbitrarily high (e.g.,
//# to the size of the largest possible advertised window)
pub const SSTHRESH_INFINITE: u32 = u32::MAX;

/// A congestion control algorithm (`TCP_CONGESTION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CongAlgo {
    /// Reno's slow start and additive increase, halving on loss (RFC 5681);
    /// Linux's `"reno"`.
    NewReno,
    /// CUBIC (RFC 9438) with HyStart++ (RFC 9406); Linux's default `"cubic"`.
    #[default]
    Cubic,
}

impl CongAlgo {
    /// The name Linux gives it in `TCP_CONGESTION`.
    pub const fn name(self) -> &'static str {
        match self {
            CongAlgo::NewReno => "reno",
            CongAlgo::Cubic => "cubic",
        }
    }

    /// The algorithm Linux knows by `name`, if it is one of ours.
    pub fn from_name(name: &str) -> Option<CongAlgo> {
        [CongAlgo::NewReno, CongAlgo::Cubic].into_iter().find(|algo| algo.name() == name)
    }
}

/// One connection's congestion state: the window, the slow-start threshold
/// and the algorithm's memory. Plain data, 96 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Congestion {
    /// The algorithm.
    algo: CongAlgo,
    /// Congestion window, segments, in `1..=CWND_MAX`.
    cwnd: u32,
    /// Progress towards the next segment of window. Reno: acknowledged
    /// segments counted towards one window (Linux's `snd_cwnd_cnt`). CUBIC:
    /// the fraction of a segment, in 1/65536 (below 65536).
    cwnd_cnt: u32,
    /// Slow-start threshold, segments: [`SSTHRESH_INFINITE`] until the first
    /// congestion event, then in `2..=CWND_MAX`.
    ssthresh: u32,
    /// ssthresh was lowered for the current congestion episode and no data
    /// has been acknowledged since: a further timeout keeps it.
    reduced: bool,
    /// HyStart++, during CUBIC's initial slow start.
    hystart: HyStart,
    /// CUBIC's state (unused by Reno).
    cubic: Cubic,
}

impl Congestion {
    /// A new connection's state with `initial_cwnd` segments (usually
    /// [`crate::tcp::INIT_CWND`], IW10 per RFC 6928), clamped to
    /// `1..=CWND_MAX`, and an infinite ssthresh.
    pub fn new(algo: CongAlgo, initial_cwnd: u32) -> Congestion {
        Congestion {
            algo,
            cwnd: initial_cwnd.clamp(1, CWND_MAX),
            cwnd_cnt: 0,
            ssthresh: SSTHRESH_INFINITE,
            reduced: false,
            hystart: HyStart::new(algo == CongAlgo::Cubic),
            cubic: Cubic::new(),
        }
    }

    /// The congestion window, segments.
    pub fn cwnd(&self) -> u32 {
        self.cwnd
    }

    /// The slow-start threshold, segments ([`SSTHRESH_INFINITE`] before the
    /// first congestion event).
    pub fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    /// The algorithm.
    pub fn algo(&self) -> CongAlgo {
        self.algo
    }

    /// True in slow start, `cwnd < ssthresh` (as Linux's
    /// `tcp_in_slow_start`); HyStart++'s Conservative Slow Start included.
    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }

    /// Switch algorithm on a live connection (`setsockopt(TCP_CONGESTION)`),
    /// as Linux's `tcp_reinit_congestion_control`: cwnd and ssthresh stay,
    /// the new algorithm starts with fresh state.
    pub fn set_algo(&mut self, algo: CongAlgo) {
        if algo == self.algo {
            return;
        }
        self.algo = algo;
        self.cwnd_cnt = 0;
        self.cubic = Cubic::new();
        self.hystart = HyStart::new(algo == CongAlgo::Cubic && self.ssthresh == SSTHRESH_INFINITE);
    }

    /// An ACK arrived that newly acknowledges `acked` segments (cumulatively,
    /// outside loss recovery; more than [`CWND_MAX`] count as that many).
    ///
    /// `cwnd_limited` says whether the window, rather than the application
    /// or the peer's window, limited sending (Linux's `tcp_is_cwnd_limited`);
    /// the window grows only then. `rtt` is this ACK's RTT sample, if it
    /// yields one (Karn's rule is the caller's). `snd_una` (after this ACK)
    /// and `snd_nxt` are sequence numbers; HyStart++ counts rounds with them.
    //= https://www.rfc-editor.org/rfc/rfc9438#section-5.8
    //# CUBIC does not increase its congestion window if a flow is
    //# application limited.
    pub fn on_ack(
        &mut self,
        acked: u32,
        cwnd_limited: bool,
        rtt: Option<Duration>,
        now: Instant,
        snd_una: u32,
        snd_nxt: u32,
    ) {
        let acked = acked.min(CWND_MAX);
        if acked > 0 {
            self.reduced = false;
        }
        match self.algo {
            CongAlgo::NewReno if cwnd_limited => self.reno_grow(acked),
            CongAlgo::NewReno => {}
            CongAlgo::Cubic => self.cubic_on_ack(acked, cwnd_limited, rtt, now, (snd_una, snd_nxt)),
        }
    }

    /// Entering fast recovery: set and return the new ssthresh. Reno: half
    /// of `in_flight` (segments), at least 2. CUBIC: β = 0.7 of cwnd, at
    /// least 2, after updating W_max (with fast convergence). cwnd itself is
    /// left to the caller's recovery (PRR) until [`Self::on_recovery_exit`].
    /// `_now` is unused: CUBIC's next epoch starts with the first ACK after
    /// recovery.
    pub fn on_loss(&mut self, in_flight: u32, _now: Instant) -> u32 {
        self.ssthresh = self.loss_ssthresh(in_flight);
        self.cwnd_cnt = 0;
        self.reduced = true;
        self.hystart.stop();
        self.ssthresh
    }

    /// Fast recovery is over: deflate cwnd to ssthresh, as Linux's
    /// `tcp_end_cwnd_reduction`. (Not after a timeout: slow start rebuilds
    /// the window from one segment then.)
    pub fn on_recovery_exit(&mut self) {
        if self.ssthresh != SSTHRESH_INFINITE {
            self.cwnd = self.ssthresh.clamp(1, CWND_MAX);
        }
        self.cwnd_cnt = 0;
        self.reduced = false;
    }

    /// The retransmission timer fired: ssthresh as on a loss, cwnd = 1 (the
    /// loss window), and CUBIC's next congestion avoidance starts afresh
    /// (K = 0). If ssthresh was already lowered for this episode (fast
    /// recovery under way, or a backed-off timeout with nothing acknowledged
    /// since), it is kept, as Linux's `tcp_enter_loss` keeps it, so repeated
    /// timeouts do not grind it down to 2. `_now` is unused, as in
    /// [`Self::on_loss`].
    //= https://www.rfc-editor.org/rfc/rfc5681#section-3.1
    //# Furthermore, upon a timeout (as specified in [RFC2988]) cwnd MUST be
    //# set to no more than the loss window, LW, which equals 1 full-sized
    //# segment (regardless of the value of IW).
    pub fn on_rto(&mut self, in_flight: u32, _now: Instant) {
        if !self.reduced {
            self.ssthresh = self.loss_ssthresh(in_flight);
        }
        //= https://www.rfc-editor.org/rfc/rfc9438#section-4.8
        //# In case of a timeout, CUBIC follows Reno to reduce cwnd [RFC5681],
        //# but sets ssthresh using beta_cubic (same as in Section 4.6)
        self.cubic.forget_w_max();
        self.cwnd = 1;
        self.cwnd_cnt = 0;
        self.reduced = true;
        self.hystart.stop();
    }

    /// Sending resumes after an idle period longer than the RTO: the ACK
    /// clock is gone, so restart from at most `initial_cwnd` segments (RFC
    /// 5681's restart window; Linux's `tcp_cwnd_restart` without its
    /// ssthresh adjustment), and start CUBIC's curve afresh.
    //= https://www.rfc-editor.org/rfc/rfc5681#section-4.1
    //# Therefore, a TCP SHOULD set cwnd to no more than RW before beginning
    //# transmission if the TCP has not sent data in an interval exceeding
    //# the retransmission timeout.
    pub fn on_idle_restart(&mut self, initial_cwnd: u32) {
        self.cwnd = self.cwnd.min(initial_cwnd.clamp(1, CWND_MAX));
        self.cwnd_cnt = 0;
        self.cubic.reset_epoch();
        self.hystart.restart();
    }

    /// The ssthresh a congestion event leaves, per algorithm.
    fn loss_ssthresh(&mut self, in_flight: u32) -> u32 {
        match self.algo {
            CongAlgo::NewReno => reno::ssthresh_after_loss(in_flight),
            CongAlgo::Cubic => self.cubic.on_congestion(self.cwnd),
        }
    }

    /// Reno: slow start up to ssthresh, then one segment per window.
    fn reno_grow(&mut self, mut acked: u32) {
        if self.in_slow_start() {
            acked = reno::slow_start(&mut self.cwnd, self.ssthresh, acked);
        }
        if acked > 0 {
            let per_window = self.cwnd;
            reno::cong_avoid_ai(&mut self.cwnd, &mut self.cwnd_cnt, per_window, acked);
        }
    }

    /// CUBIC: grow (if the window limited sending), then let HyStart++ see
    /// the ACK, as RFC 9406 orders it.
    fn cubic_on_ack(&mut self, acked: u32, cwnd_limited: bool, rtt: Option<Duration>, now: Instant, seq: (u32, u32)) {
        if let Some(rtt) = rtt {
            self.cubic.on_rtt_sample(rtt);
        }
        if !cwnd_limited {
            self.cubic.app_limited(now);
        } else if acked > 0 {
            self.cubic_grow(acked, now);
        }
        if self.hystart.on_ack(rtt, seq.0, seq.1) {
            self.end_slow_start();
        }
    }

    /// CUBIC's growth: HyStart++'s slow start (ssthresh is still infinite
    /// then), standard slow start up to ssthresh, or congestion avoidance.
    fn cubic_grow(&mut self, mut acked: u32, now: Instant) {
        if self.in_slow_start() {
            if self.hystart.active() {
                let window = self.window_q16().saturating_add(self.hystart.growth_q16(acked));
                self.set_window_q16(window);
                return;
            }
            acked = reno::slow_start(&mut self.cwnd, self.ssthresh, acked);
            if acked == 0 {
                return;
            }
        }
        let window = self.cubic.congestion_avoidance(self.window_q16(), acked, now);
        self.set_window_q16(window);
    }

    /// HyStart++'s Conservative Slow Start has run its rounds.
    //= https://www.rfc-editor.org/rfc/rfc9406#section-4.2
    //# If CSS_ROUNDS rounds are complete, enter congestion avoidance by
    //# setting the ssthresh to the current cwnd.
    fn end_slow_start(&mut self) {
        self.ssthresh = self.cwnd.clamp(2, CWND_MAX);
        self.cubic.on_slow_start_exit(self.cwnd);
    }

    /// CUBIC's window with its fraction, Q16 segments.
    fn window_q16(&self) -> u64 {
        (u64::from(self.cwnd) << 16) | u64::from(self.cwnd_cnt & 0xffff)
    }

    /// Set CUBIC's window from Q16 segments, within `1..=CWND_MAX`.
    fn set_window_q16(&mut self, window: u64) {
        let window = window.clamp(ONE_Q16, u64::from(CWND_MAX) << 16);
        self.cwnd = u32::try_from(window >> 16).unwrap_or(CWND_MAX);
        self.cwnd_cnt = u32::try_from(window & 0xffff).unwrap_or(0);
    }
}

/// `a >= b` in sequence space (modulo 2^32, RFC 9293 §3.4).
fn seq_ge(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) as i32 >= 0
}

/// `d` in microseconds, saturating at `u32::MAX` (71 minutes), without the
/// 128-bit arithmetic of `Duration::as_micros` (a library call on Cortex-M).
fn micros_u32(d: Duration) -> u32 {
    let us = d.as_secs().saturating_mul(1_000_000).saturating_add(u64::from(d.subsec_micros()));
    u32::try_from(us).unwrap_or(u32::MAX)
}

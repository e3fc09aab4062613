//! CUBIC (RFC 9438), Linux's default (`net/ipv4/tcp_cubic.c`), in integer
//! arithmetic: firmware may have no FPU.
//!
//! Fixed point: windows are in 1/65536 segment (Q16, `u64`, at most
//! [`CWND_MAX`] segments, so 32 bits of value); times are in 1/65536 s
//! (Q16 seconds, about 15 µs). The constants are exact rationals:
//! β = 7/10, C = 2/5, α = 3(1−β)/(1+β) = 9/17, and fast convergence's
//! (1+β)/2 = 17/20. K comes from [`cbrt`], an integer cube root, of a Q48
//! radicand (s³), which yields Q16 seconds directly. W_cubic(t) cubes
//! |t − K| (Q16, at most 128 s) with a shift after each product, so every
//! intermediate fits 64 bits with room to spare.

use crate::time::Instant;
use core::time::Duration;

use super::{CWND_MAX, micros_u32};

/// One segment in the Q16 fixed point of windows.
pub(super) const ONE_Q16: u64 = 1 << 16;
/// The largest window, Q16.
const WINDOW_MAX_Q16: u64 = (CWND_MAX as u64) << 16;
/// β_cubic = 7/10.
const BETA: (u64, u64) = (7, 10);
/// C = 2/5 segment/s³.
const C: (u64, u64) = (2, 5);
/// α_cubic = 3 (1 − β) / (1 + β) = 9/17.
const ALPHA: (u64, u64) = (9, 17);
/// (1 + β) / 2 = 17/20, fast convergence's further reduction of W_max.
const FAST_CONVERGENCE: (u64, u64) = (17, 20);
/// |t − K| is clamped to 128 s (Q16): C·128³ is about 838,000 segments,
/// past [`CWND_MAX`], so the clamp never shows in a window, and the cube of
/// the clamped value fits 64 bits. K itself is at most cbrt(65535 / C), 55 s.
const OFFSET_MAX_Q16: u64 = 128 << 16;
/// Elapsed time beyond this changes nothing (t − K is clamped anyway).
const ELAPSED_MAX_US: u64 = 256_000_000;

/// CUBIC's state (RFC 9438 §4.1.2's variables).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(super) struct Cubic {
    /// W_max, Q16 segments; 0 while undefined (no congestion event yet, or
    /// reset by a timeout or a HyStart++ exit): the epoch then takes its
    /// own starting window as W_max, with K = 0.
    pub(super) w_max_q16: u32,
    /// K, Q16 seconds (negative when the epoch starts above W_max).
    pub(super) k_q16: i32,
    /// cwnd_prior, segments: cwnd when ssthresh was last set.
    pub(super) cwnd_prior: u32,
    /// W_est, the Reno-friendly estimate, Q16 segments.
    pub(super) w_est_q16: u32,
    /// Smoothed RTT (RFC 6298 gain 1/8) of the samples seen, microseconds; 0: none yet.
    pub(super) srtt_us: u32,
    /// t_epoch: when the current congestion avoidance stage began (unset
    /// until its first ACK).
    pub(super) epoch_start: Option<Instant>,
    /// When the flow became application limited, if it is.
    pub(super) app_limited_since: Option<Instant>,
}

impl Cubic {
    /// Before any congestion event.
    pub(super) const fn new() -> Cubic {
        Cubic {
            w_max_q16: 0,
            k_q16: 0,
            cwnd_prior: 0,
            w_est_q16: 0,
            srtt_us: 0,
            epoch_start: None,
            app_limited_since: None,
        }
    }

    /// Fold an RTT sample into the smoothed RTT that `target` looks ahead by.
    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.1.2
    //# RTT: Smoothed round-trip time in seconds, calculated as described
    //# in [RFC6298].
    pub(super) fn on_rtt_sample(&mut self, rtt: Duration) {
        let sample = u64::from(micros_u32(rtt));
        let srtt = u64::from(self.srtt_us);
        let smoothed = if srtt == 0 { sample } else { srtt - srtt / 8 + sample / 8 };
        self.srtt_us = u32::try_from(smoothed).unwrap_or(u32::MAX).max(1);
    }

    /// The congestion avoidance stage ends (loss, timeout, idle restart): the
    /// next one starts a new epoch.
    pub(super) fn reset_epoch(&mut self) {
        self.epoch_start = None;
        self.app_limited_since = None;
    }

    /// The flow did not use its window: the time until it does again is not
    /// part of t.
    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.2
    //# The elapsed time t in Figure 1 MUST NOT include periods during
    //# which cwnd has not been updated due to application-limited behavior
    pub(super) fn app_limited(&mut self, now: Instant) {
        if self.epoch_start.is_some() && self.app_limited_since.is_none() {
            self.app_limited_since = Some(now);
        }
    }

    /// A congestion event at window `cwnd`: remember W_max (with fast
    /// convergence) and cwnd_prior; return the new ssthresh.
    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.7
    //# With fast convergence, when a congestion event occurs, W_max is
    //# updated as follows, before the window reduction described in
    //# Section 4.6.
    // (Figure 5: W_max = cwnd · (1 + β) / 2 if cwnd < W_max, else cwnd.)
    pub(super) fn on_congestion(&mut self, cwnd: u32) -> u32 {
        let cwnd_q16 = u64::from(cwnd) << 16;
        let w_max = if cwnd_q16 < u64::from(self.w_max_q16) {
            // The saturation point fell: release bandwidth to newer flows.
            cwnd_q16 * FAST_CONVERGENCE.0 / FAST_CONVERGENCE.1
        } else {
            cwnd_q16
        };
        self.w_max_q16 = to_u32(w_max);
        self.cwnd_prior = cwnd;
        self.reset_epoch();
        //= https://www.rfc-editor.org/rfc/rfc9438#section-4.6
        //# Some implementations of CUBIC currently use cwnd instead of
        //# flight_size when calculating a new ssthresh.  Implementations that
        //# use cwnd MUST use other measures to prevent cwnd from growing
        //# when the volume of bytes in flight is smaller than cwnd.
        let ssthresh = u64::from(cwnd) * BETA.0 / BETA.1;
        to_u32(ssthresh).clamp(2, CWND_MAX)
    }

    /// Forget W_max: the first congestion avoidance stage after a timeout or
    /// a HyStart++ exit starts with K = 0 and W_max = its starting window.
    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.8
    //# During the first congestion avoidance stage after a timeout, CUBIC
    //# increases its congestion window size using Figure 1, where t is the
    //# elapsed time since the beginning of the current congestion
    //# avoidance stage, K is set to 0, and W_max is set to the congestion
    //# window size at the beginning of the current congestion avoidance
    //# stage.
    pub(super) fn forget_w_max(&mut self) {
        self.w_max_q16 = 0;
        self.reset_epoch();
    }

    /// HyStart++ ended slow start at `cwnd` without a loss.
    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.10
    //# In this special case, CUBIC sets cwnd_prior = cwnd and switches to
    //# congestion avoidance.
    pub(super) fn on_slow_start_exit(&mut self, cwnd: u32) {
        self.cwnd_prior = cwnd;
        self.forget_w_max();
    }

    /// Begin a congestion avoidance stage at window `cwnd_q16`.
    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.3
    //# W_est is set equal to cwnd_epoch at the start of the congestion
    //# avoidance stage.
    fn start_epoch(&mut self, cwnd_q16: u64, now: Instant) {
        self.epoch_start = Some(now);
        self.app_limited_since = None;
        self.w_est_q16 = to_u32(cwnd_q16);
        if self.w_max_q16 == 0 {
            self.w_max_q16 = to_u32(cwnd_q16);
        }
        self.k_q16 = k_q16(u64::from(self.w_max_q16), cwnd_q16);
    }

    /// W_cubic(t) = C·(t − K)³ + W_max, Q16 segments, for t microseconds
    /// into the epoch; within `[0, CWND_MAX]`.
    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.2
    //# CUBIC uses the following window increase function:
    // (Figure 1: W_cubic(t) = C · (t − K)³ + W_max.)
    pub(super) fn w_cubic_q16(&self, t_us: u64) -> u64 {
        let t_q16 = (t_us.min(ELAPSED_MAX_US) << 16) / 1_000_000;
        let offset = t_q16 as i64 - i64::from(self.k_q16);
        let mag = offset.unsigned_abs().min(OFFSET_MAX_Q16);
        let cube_q16 = (((mag * mag) >> 16) * mag) >> 16;
        let delta = cube_q16 * C.0 / C.1;
        let w_max = u64::from(self.w_max_q16);
        if offset < 0 { w_max.saturating_sub(delta) } else { (w_max + delta).min(WINDOW_MAX_Q16) }
    }

    /// Congestion avoidance: the window (Q16) after an ACK of `acked`
    /// segments at `now`.
    pub(super) fn congestion_avoidance(&mut self, window_q16: u64, acked: u32, now: Instant) -> u64 {
        let window = window_q16.clamp(ONE_Q16, WINDOW_MAX_Q16);
        self.resume(now);
        let epoch = match self.epoch_start {
            Some(epoch) => epoch,
            None => {
                self.start_epoch(window, now);
                now
            }
        };
        self.update_w_est(window, acked);
        let t_us = now.micros().saturating_sub(epoch.micros());
        let w_est = u64::from(self.w_est_q16);
        //= https://www.rfc-editor.org/rfc/rfc9438#section-4.3
        //# When receiving a new ACK in congestion avoidance (where cwnd could
        //# be greater than or less than W_max), CUBIC checks whether
        //# W_cubic(t) is less than W_est.  If so, CUBIC is in the
        //# Reno-friendly region and cwnd SHOULD be set to W_est at each
        //# reception of a new ACK.
        if self.w_cubic_q16(t_us) < w_est {
            // Never shrink on an ACK: cwnd may still be ahead of W_est.
            return window.max(w_est);
        }
        self.cubic_increase(window, acked, t_us)
    }

    /// The concave and convex regions: move towards `target` by
    /// `(target − cwnd) / cwnd` per acknowledged segment.
    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.4
    //# In this region, cwnd MUST be incremented by
    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.5
    //# In this region, cwnd MUST be incremented by
    // (target − cwnd) / cwnd "for each received new ACK", in both regions:
    // here for each segment the ACK acknowledges, as Linux does and as
    // W_est counts them, so that delayed or stretch ACKs do not slow the
    // curve down.
    fn cubic_increase(&self, window: u64, acked: u32, t_us: u64) -> u64 {
        //= https://www.rfc-editor.org/rfc/rfc9438#section-4.2
        //# The lower and upper bounds below ensure that CUBIC's congestion
        //# window increase rate is non-decreasing and is less than the
        //# increase rate of slow start
        let ahead = self.w_cubic_q16(t_us.saturating_add(u64::from(self.srtt_us)));
        let target = ahead.clamp(window, window * 3 / 2);
        // (target − cwnd) / cwnd segments per segment acknowledged, in Q16:
        // at most 2^16 · 2^47, within 64 bits.
        let inc = u64::from(acked).saturating_mul((target - window) << 16) / window;
        // A stretch ACK of more than a window's worth would overshoot.
        window.saturating_add(inc).min(target)
    }

    /// W_est grows by α per window acknowledged; α becomes 1 once W_est
    /// reaches cwnd_prior.
    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.3
    //# After that, on every new ACK, W_est is updated using Figure 4.
    // (Figure 4: W_est = W_est + α_cubic · segments_acked / cwnd.)
    //# Once W_est has grown to reach the cwnd at the time of most
    //# recently setting ssthresh -- that is, W_est >= cwnd_prior -- the
    //# sender SHOULD set α_cubic to 1
    fn update_w_est(&mut self, window: u64, acked: u32) {
        let w_est = u64::from(self.w_est_q16);
        let (num, den) = if w_est >= u64::from(self.cwnd_prior) << 16 { (1, 1) } else { ALPHA };
        let inc = (u64::from(acked) << 32).saturating_mul(num) / (den * window);
        self.w_est_q16 = to_u32(w_est.saturating_add(inc).min(WINDOW_MAX_Q16));
    }

    /// End an application-limited period: slide the epoch forward by it.
    fn resume(&mut self, now: Instant) {
        if let (Some(since), Some(epoch)) = (self.app_limited_since.take(), self.epoch_start) {
            self.epoch_start = Some(epoch + (now - since));
        }
    }
}

/// K = cbrt((W_max − cwnd_epoch) / C), Q16 seconds, from Q16 windows;
/// negative when the epoch starts above W_max.
//= https://www.rfc-editor.org/rfc/rfc9438#section-4.2
//# K is the time period that the above
//# function takes to increase the congestion window size at the
//# beginning of the current congestion avoidance stage to W_max if
//# there are no further congestion events.
// (Figure 2: K = ∛((W_max − cwnd_epoch) / C).)
fn k_q16(w_max_q16: u64, cwnd_epoch_q16: u64) -> i32 {
    let diff = w_max_q16.min(WINDOW_MAX_Q16).abs_diff(cwnd_epoch_q16.min(WINDOW_MAX_Q16));
    // (W_max − cwnd_epoch) / C in Q16 s³, at most 2.5 · 2^32.
    let v = diff.saturating_mul(C.1) / C.0;
    // cbrt(v · 2^32) is K in Q16 s. When v · 2^32 would not fit in 64 bits,
    // take the root of v · 2^(32 − 3j) and scale it by 2^j (j is 1 at most).
    let excess = 32u32.saturating_sub(v.leading_zeros());
    let j = excess.div_ceil(3);
    let k = cbrt(v << (32 - 3 * j)) << j;
    let k = i32::try_from(k).unwrap_or(i32::MAX);
    if w_max_q16 < cwnd_epoch_q16 { -k } else { k }
}

/// ⌊∛n⌋, by Newton's iteration from above. From any x ≥ ∛n, the step
/// x ← ⌊(2x + ⌊n/x²⌋) / 3⌋ stays at or above ⌊∛n⌋ (AM–GM) and strictly
/// decreases while x³ > n, so it stops exactly at ⌊∛n⌋.
pub(super) fn cbrt(n: u64) -> u64 {
    if n < 8 {
        return u64::from(n > 0);
    }
    // 2^⌈bits/3⌉ > ∛n, and at most 2^22, so x² never overflows.
    let bits = u64::BITS - n.leading_zeros();
    let mut x = 1u64 << bits.div_ceil(3);
    loop {
        let y = (2 * x + n / (x * x)) / 3;
        if y >= x {
            return x;
        }
        x = y;
    }
}

/// A Q16 window (or W_max) as stored: windows never exceed 32 bits.
fn to_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q16(v: u64) -> f64 {
        v as f64 / 65536.0
    }

    /// A CUBIC state whose epoch started at window `cwnd_epoch` after a loss at `w_max`.
    fn epoch(w_max: f64, cwnd_epoch: u32) -> Cubic {
        let mut c = Cubic::new();
        c.w_max_q16 = (w_max * 65536.0) as u32;
        c.start_epoch(u64::from(cwnd_epoch) << 16, Instant::ZERO);
        c
    }

    #[test]
    fn cbrt_is_the_exact_floor_at_the_edges() {
        for n in [0, 1, 2, 7, 8, 9, 26, 27, 28, 63, 64, 65, 999, 1000, 1001] {
            let r = cbrt(n);
            assert!(r * r * r <= n && (r + 1).pow(3) > n, "cbrt({n}) = {r}");
        }
        // ∛(2^64 − 1) = 2642245.9...
        assert_eq!(cbrt(u64::MAX), 2_642_245);
        for r in [2u64, 3, 1000, 65_536, 2_642_245] {
            assert_eq!(cbrt(r * r * r), r);
            assert_eq!(cbrt(r * r * r - 1), r - 1);
        }
    }

    proptest! {
        #[test]
        fn cbrt_is_the_floor(n in any::<u64>()) {
            let r = u128::from(cbrt(n));
            prop_assert!(r * r * r <= u128::from(n));
            prop_assert!((r + 1).pow(3) > u128::from(n));
        }
    }

    #[test]
    fn k_for_a_loss_at_100_segments_is_4_2_seconds() {
        // After a loss at W_max = 100, the epoch starts at β·W_max = 70.
        let c = epoch(100.0, 70);
        let k = f64::from(c.k_q16) / 65536.0;
        let expect = (100.0f64 * (1.0 - 0.7) / 0.4).cbrt();
        assert!((expect - 4.2172).abs() < 1e-4, "reference K {expect}");
        assert!((k - expect).abs() < 1e-4, "K = {k} s, expected {expect} s");
    }

    #[test]
    fn k_matches_the_formula_over_the_whole_range() {
        for (w_max, start) in [(2.0, 1), (10.0, 7), (100.0, 70), (5000.5, 3500), (65535.0, 1), (60.0, 80)] {
            let c = epoch(w_max, start);
            let diff: f64 = w_max - f64::from(start);
            let expect = diff.signum() * (diff.abs() / 0.4).cbrt();
            let k = f64::from(c.k_q16) / 65536.0;
            assert!((k - expect).abs() < 1e-4, "W_max {w_max}, start {start}: K = {k}, expected {expect}");
        }
    }

    #[test]
    fn w_cubic_follows_the_float_formula() {
        for (w_max, start) in [(100.0, 70), (1000.0, 700), (40000.0, 28000), (60.0, 80)] {
            let c = epoch(w_max, start);
            let k = f64::from(c.k_q16) / 65536.0;
            // Q16 time (15 µs steps) on a slope of up to 3·C·K² segments/s.
            let tolerance = 0.01 + 1e-6 * w_max;
            for ms in (0..20_000).step_by(7) {
                let t = f64::from(ms) / 1000.0;
                let expect = (0.4 * (t - k).powi(3) + w_max).clamp(0.0, f64::from(CWND_MAX));
                let got = q16(c.w_cubic_q16(ms as u64 * 1000));
                assert!((got - expect).abs() < tolerance, "W_max {w_max} t {t}: {got} vs {expect}");
            }
            // The curve starts at the epoch's window.
            assert!((q16(c.w_cubic_q16(0)) - f64::from(start)).abs() < tolerance);
        }
    }

    #[test]
    fn w_cubic_saturates_for_huge_times() {
        let c = epoch(100.0, 70);
        assert_eq!(c.w_cubic_q16(u64::MAX), WINDOW_MAX_Q16);
        let c = epoch(65535.0, 1);
        assert!((q16(c.w_cubic_q16(0)) - 1.0).abs() < 0.2);
        assert_eq!(c.w_cubic_q16(u64::MAX), WINDOW_MAX_Q16);
    }

    #[test]
    fn loss_applies_beta_and_fast_convergence() {
        let mut c = Cubic::new();
        // First loss: W_max is the window (nothing to converge from).
        assert_eq!(c.on_congestion(100), 70);
        assert_eq!((c.w_max_q16, c.cwnd_prior), (100 << 16, 100));
        // A loss below W_max: the saturation point fell, W_max = cwnd (1 + β) / 2.
        assert_eq!(c.on_congestion(90), 63);
        assert_eq!(q16(c.w_max_q16.into()), 90.0 * 0.85);
        // A loss above W_max: remember the window.
        assert_eq!(c.on_congestion(120), 84);
        assert_eq!(c.w_max_q16, 120 << 16);
        // ssthresh is at least 2.
        assert_eq!(c.on_congestion(2), 2);
        assert_eq!(c.on_congestion(1), 2);
    }

    #[test]
    fn target_is_at_most_half_a_window_ahead_even_for_stretch_acks() {
        // Long after the epoch began, W_cubic(t + RTT) is far above cwnd.
        let mut c = epoch(100.0, 70);
        let late = Instant::from_secs(30);
        // One window of ACKs reaches the 1.5 cwnd bound, not W_cubic.
        assert_eq!(c.congestion_avoidance(70 << 16, 70, late), 105 << 16);
        // Ten windows' worth in one ACK stops at the same target.
        assert_eq!(c.congestion_avoidance(70 << 16, 700, late), 105 << 16);
        // Below the curve's start, cwnd holds (target = cwnd), never shrinks.
        let mut c = epoch(100.0, 70);
        c.cwnd_prior = 1_000;
        assert_eq!(c.congestion_avoidance(90 << 16, 1, Instant::ZERO), 90 << 16);
    }

    #[test]
    fn w_est_grows_alpha_per_window_then_one() {
        let mut c = epoch(100.0, 70);
        c.cwnd_prior = 100;
        // 70 ACKs of one segment at cwnd 70: W_est grows by α = 9/17.
        for _ in 0..70 {
            c.update_w_est(70 << 16, 1);
        }
        assert!((q16(c.w_est_q16.into()) - (70.0 + 9.0 / 17.0)).abs() < 1e-3);
        c.w_est_q16 = 100 << 16;
        for _ in 0..100 {
            c.update_w_est(100 << 16, 1);
        }
        assert!((q16(c.w_est_q16.into()) - 101.0).abs() < 1e-3);
    }
}

//! HyStart++ (RFC 9406): leave the initial slow start when the round-trip
//! time starts to rise, before the queue overflows, instead of on the first
//! loss. Linux runs its older HyStart for CUBIC (`tcp_cubic.c`); this is the
//! standardised successor, used by CUBIC here.
//!
//! Rounds are counted in sequence space: a round ends when the peer
//! acknowledges what had been sent when it began. Each round keeps its
//! minimum RTT; when a round's minimum exceeds the last round's by a
//! threshold, slow start gives way to Conservative Slow Start (CSS), which
//! grows four times slower for a few rounds and either ends slow start or,
//! if the RTT falls back (a false alarm), resumes it.

use core::time::Duration;

use super::{micros_u32, seq_ge};

//= https://www.rfc-editor.org/rfc/rfc9406#section-4.3
//# It is RECOMMENDED that a HyStart++ implementation use the following
//# constants:
/// The shortest delay increase that counts (`MIN_RTT_THRESH` = 4 ms).
const MIN_RTT_THRESH_US: u32 = 4_000;
/// The longest delay increase required (`MAX_RTT_THRESH` = 16 ms).
const MAX_RTT_THRESH_US: u32 = 16_000;
/// The threshold is the last round's minimum RTT divided by this (`MIN_RTT_DIVISOR`).
const MIN_RTT_DIVISOR: u32 = 8;
/// RTT samples a round needs before it is judged (`N_RTT_SAMPLE`).
const N_RTT_SAMPLE: u8 = 8;
/// CSS grows this many times slower than slow start (`CSS_GROWTH_DIVISOR`).
const CSS_GROWTH_DIVISOR: u64 = 4;
/// Rounds CSS lasts before slow start ends for good (`CSS_ROUNDS`).
const CSS_ROUNDS: u8 = 5;
/// Segments one ACK may add (`L`). The stack does not pace, so the
/// non-paced value applies.
//= https://www.rfc-editor.org/rfc/rfc9406#section-4.3
//# L = infinity if paced, L = 8 if non-paced
const L_SEGMENTS: u32 = 8;
/// "Infinity" for the RTT minima.
const RTT_INFINITE_US: u32 = u32::MAX;

/// Where HyStart++ has the initial slow start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(super) enum Phase {
    /// Standard slow start, watching the RTT.
    SlowStart,
    /// Conservative Slow Start, after a delay increase.
    Css,
    /// HyStart++ is over (or off): slow start, if any, is the standard one.
    Done,
}

/// HyStart++ state (RFC 9406 §4.2's variables).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(super) struct HyStart {
    /// The current phase.
    phase: Phase,
    /// `windowEnd`: the round ends when this is acknowledged (unset until
    /// the first ACK).
    window_end: Option<u32>,
    /// `lastRoundMinRTT`, microseconds.
    last_round_min_rtt_us: u32,
    /// `currentRoundMinRTT`, microseconds.
    current_round_min_rtt_us: u32,
    /// `cssBaselineMinRtt`, microseconds.
    css_baseline_min_rtt_us: u32,
    /// `rttSampleCount` of the current round (saturating).
    rtt_sample_count: u8,
    /// Rounds (the entry round included) spent in CSS.
    css_rounds: u8,
}

impl HyStart {
    /// HyStart++ at the start of a connection, or already finished (`on = false`).
    //= https://www.rfc-editor.org/rfc/rfc9406#section-4.2
    //# lastRoundMinRTT and currentRoundMinRTT are initialized to infinity at
    //# the initialization time.
    pub(super) const fn new(on: bool) -> HyStart {
        HyStart {
            phase: if on { Phase::SlowStart } else { Phase::Done },
            window_end: None,
            last_round_min_rtt_us: RTT_INFINITE_US,
            current_round_min_rtt_us: RTT_INFINITE_US,
            css_baseline_min_rtt_us: RTT_INFINITE_US,
            rtt_sample_count: 0,
            css_rounds: 0,
        }
    }

    /// The current phase.
    #[cfg(test)]
    pub(super) fn phase(&self) -> Phase {
        self.phase
    }

    /// True while HyStart++ governs slow start.
    pub(super) fn active(&self) -> bool {
        self.phase != Phase::Done
    }

    /// Stop for good: a loss or timeout set ssthresh.
    //= https://www.rfc-editor.org/rfc/rfc9406#section-4.3
    //# An implementation SHOULD use HyStart++ only for the initial slow start
    //# (when the ssthresh is at its initial value of arbitrarily high per
    //# [RFC5681]) and fall back to using standard slow start for the
    //# remainder of the connection lifetime.
    pub(super) fn stop(&mut self) {
        self.phase = Phase::Done;
    }

    /// After an idle period, while still in the initial slow start: forget
    /// the rounds (their RTTs are stale) and watch the restart afresh.
    pub(super) fn restart(&mut self) {
        *self = HyStart::new(self.active());
    }

    /// The growth, in 1/65536 segments, that an ACK of `acked` segments
    /// earns: at most `L` segments, a quarter of that in CSS.
    //= https://www.rfc-editor.org/rfc/rfc9406#section-4.2
    //# cwnd = cwnd + (min(N, L * SMSS) / CSS_GROWTH_DIVISOR)
    pub(super) fn growth_q16(&self, acked: u32) -> u64 {
        let n = u64::from(acked.min(L_SEGMENTS)) << 16;
        if self.phase == Phase::Css { n / CSS_GROWTH_DIVISOR } else { n }
    }

    /// Feed one ACK (after its growth was applied): sample its RTT and close
    /// the round if `snd_una` passed its end. True when CSS has lasted
    /// `CSS_ROUNDS` rounds: the caller then ends slow start (ssthresh = cwnd).
    pub(super) fn on_ack(&mut self, rtt: Option<Duration>, snd_una: u32, snd_nxt: u32) -> bool {
        if self.phase == Phase::Done {
            return false;
        }
        //= https://www.rfc-editor.org/rfc/rfc9406#section-4.2
        //# *  Define windowEnd as a sequence number initialized to SND.NXT.
        let window_end = *self.window_end.get_or_insert(snd_nxt);
        if let Some(rtt) = rtt {
            self.sample(rtt);
        }
        //# *  When windowEnd is ACKed, the current round ends and windowEnd is
        //#    set to SND.NXT.
        if !seq_ge(snd_una, window_end) {
            return false;
        }
        //# CSS lasts at most CSS_ROUNDS rounds.  If the transition into CSS
        //# happens in the middle of a round, that partial round counts towards
        //# the limit.
        if self.phase == Phase::Css {
            self.css_rounds = self.css_rounds.saturating_add(1);
            if self.css_rounds >= CSS_ROUNDS {
                self.phase = Phase::Done;
                return true;
            }
        }
        self.start_round(snd_nxt);
        false
    }

    //= https://www.rfc-editor.org/rfc/rfc9406#section-4.2
    //# lastRoundMinRTT = currentRoundMinRTT
    //# currentRoundMinRTT = infinity
    //# rttSampleCount = 0
    fn start_round(&mut self, snd_nxt: u32) {
        self.window_end = Some(snd_nxt);
        self.last_round_min_rtt_us = self.current_round_min_rtt_us;
        self.current_round_min_rtt_us = RTT_INFINITE_US;
        self.rtt_sample_count = 0;
    }

    /// Take an RTT sample and judge the round once it has enough of them.
    //= https://www.rfc-editor.org/rfc/rfc9406#section-4.2
    //# currentRoundMinRTT = min(currentRoundMinRTT, currRTT)
    //# rttSampleCount += 1
    fn sample(&mut self, rtt: Duration) {
        // Never equal to "infinity": a sample is always a valid minimum.
        let rtt_us = micros_u32(rtt).min(RTT_INFINITE_US - 1);
        self.current_round_min_rtt_us = self.current_round_min_rtt_us.min(rtt_us);
        self.rtt_sample_count = self.rtt_sample_count.saturating_add(1);
        if self.rtt_sample_count < N_RTT_SAMPLE {
            return;
        }
        match self.phase {
            Phase::SlowStart => self.check_delay_increase(),
            Phase::Css => self.check_spurious_exit(),
            Phase::Done => {}
        }
    }

    //= https://www.rfc-editor.org/rfc/rfc9406#section-4.2
    //# RttThresh = max(MIN_RTT_THRESH,
    //#   min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH))
    //# if (currentRoundMinRTT >= (lastRoundMinRTT + RttThresh))
    //#   cssBaselineMinRtt = currentRoundMinRTT
    //#   exit slow start and enter CSS
    fn check_delay_increase(&mut self) {
        let last = self.last_round_min_rtt_us;
        if last == RTT_INFINITE_US {
            return;
        }
        let thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH_US, MAX_RTT_THRESH_US);
        if self.current_round_min_rtt_us >= last.saturating_add(thresh) {
            self.css_baseline_min_rtt_us = self.current_round_min_rtt_us;
            self.css_rounds = 0;
            self.phase = Phase::Css;
        }
    }

    //= https://www.rfc-editor.org/rfc/rfc9406#section-4.2
    //# if (currentRoundMinRTT < cssBaselineMinRtt)
    //#   cssBaselineMinRtt = infinity
    //#   resume slow start including HyStart++
    fn check_spurious_exit(&mut self) {
        if self.current_round_min_rtt_us < self.css_baseline_min_rtt_us {
            self.css_baseline_min_rtt_us = RTT_INFINITE_US;
            self.phase = Phase::SlowStart;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// One round of `n` ACKs (one segment each) with `rtt`, ending the round;
    /// returns what the last `on_ack` returned.
    fn round(h: &mut HyStart, seq: &mut u32, n: u32, rtt: Duration) -> bool {
        let end = seq.wrapping_add(n);
        let mut done = false;
        for _ in 0..n {
            *seq = seq.wrapping_add(1);
            done = h.on_ack(Some(rtt), *seq, end.wrapping_add(n));
        }
        done
    }

    fn primed(base: Duration, seq: &mut u32) -> HyStart {
        let mut h = HyStart::new(true);
        // The first ACK fixes windowEnd at SND.NXT.
        h.on_ack(None, *seq, seq.wrapping_add(16));
        round(&mut h, seq, 16, base);
        h
    }

    #[test]
    fn threshold_is_an_eighth_of_the_last_minimum_clamped_to_4_and_16_ms() {
        // (last round RTT, smallest increase that enters CSS)
        for (base_ms, thresh_us) in [(10, 4_000), (40, 5_000), (100, 12_500), (400, 16_000)] {
            let base = base_ms * MS;
            for (extra_us, enters) in [(thresh_us - 1, false), (thresh_us, true)] {
                let mut seq = u32::MAX - 20; // across the wrap, too
                let mut h = primed(base, &mut seq);
                let rtt = base + Duration::from_micros(extra_us);
                for _ in 0..N_RTT_SAMPLE {
                    seq = seq.wrapping_add(1);
                    h.on_ack(Some(rtt), seq, seq.wrapping_add(100));
                }
                assert_eq!(h.phase() == Phase::Css, enters, "base {base_ms} ms, +{extra_us} us");
            }
        }
    }

    #[test]
    fn a_round_is_judged_only_after_eight_samples() {
        let mut seq = 0;
        let mut h = primed(100 * MS, &mut seq);
        for i in 1..=8 {
            seq += 1;
            h.on_ack(Some(200 * MS), seq, 1000);
            assert_eq!(h.phase() == Phase::Css, i == 8, "after {i} samples");
        }
    }

    #[test]
    fn css_grows_a_quarter_and_at_most_l_segments_per_ack() {
        let mut h = HyStart::new(true);
        assert_eq!(h.growth_q16(1), 1 << 16);
        assert_eq!(h.growth_q16(100), 8 << 16);
        h.phase = Phase::Css;
        assert_eq!(h.growth_q16(1), 1 << 14);
        assert_eq!(h.growth_q16(100), 2 << 16);
    }

    #[test]
    fn css_ends_slow_start_after_five_rounds_counting_the_entry_round() {
        let mut seq = 0;
        let mut h = primed(100 * MS, &mut seq);
        // Round 1 of CSS: enters on its 8th sample, mid-round.
        assert!(!round(&mut h, &mut seq, 16, 120 * MS));
        assert_eq!(h.phase(), Phase::Css);
        for r in 2..=CSS_ROUNDS {
            let done = round(&mut h, &mut seq, 16, 120 * MS);
            assert_eq!(done, r == CSS_ROUNDS, "round {r}");
        }
        assert_eq!(h.phase(), Phase::Done);
        assert!(!h.on_ack(Some(MS), seq + 1, seq + 2));
    }

    #[test]
    fn rtt_falling_below_the_baseline_resumes_slow_start() {
        let mut seq = 0;
        let mut h = primed(100 * MS, &mut seq);
        round(&mut h, &mut seq, 16, 120 * MS);
        assert_eq!(h.phase(), Phase::Css);
        round(&mut h, &mut seq, 16, 110 * MS);
        assert_eq!(h.phase(), Phase::SlowStart);
        assert_eq!(h.css_baseline_min_rtt_us, RTT_INFINITE_US);
    }

    #[test]
    fn restart_forgets_rounds_but_not_that_it_stopped() {
        let mut seq = 0;
        let mut h = primed(100 * MS, &mut seq);
        h.restart();
        assert_eq!(h, HyStart::new(true));
        h.stop();
        h.restart();
        assert!(!h.active());
    }
}

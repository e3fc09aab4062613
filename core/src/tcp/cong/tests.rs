//! [`Congestion`] driven through its calls by a simulated sender, checked
//! against the RFCs' formulas computed in floating point.

use super::hystart::Phase;
use super::*;
use proptest::prelude::*;

const MS: Duration = Duration::from_millis(1);

/// A sender that always fills its window; the flight outstanding at the
/// start of a round trip is acknowledged one segment per ACK, evenly spread
/// over it, and each ACK releases new segments.
struct Sim {
    cc: Congestion,
    now: Instant,
    una: u32,
    nxt: u32,
}

impl Sim {
    fn new(algo: CongAlgo, cwnd: u32) -> Sim {
        let cc = Congestion::new(algo, cwnd);
        let una = 0xffff_fe00; // the sequence space wraps early on
        Sim { cc, now: Instant::from_secs(10), una, nxt: una.wrapping_add(cc.cwnd()) }
    }

    /// One round trip of `rtt`; `probe` sees the sender after every ACK.
    fn round_with(&mut self, rtt: Duration, mut probe: impl FnMut(&Sim)) {
        let flight = self.nxt.wrapping_sub(self.una).max(1);
        let step = rtt / flight;
        for _ in 0..flight {
            self.now += step;
            self.una = self.una.wrapping_add(1);
            self.cc.on_ack(1, true, Some(rtt), self.now, self.una, self.nxt);
            let want = self.una.wrapping_add(self.cc.cwnd());
            if !seq_ge(self.nxt, want) {
                self.nxt = want;
            }
            probe(self);
        }
    }

    fn round(&mut self, rtt: Duration) {
        self.round_with(rtt, |_| {});
    }

    /// A loss repaired by fast recovery: ssthresh set, cwnd deflated, the
    /// flight drained to the new window.
    fn fast_recovery(&mut self) -> u32 {
        let ssthresh = self.cc.on_loss(self.nxt.wrapping_sub(self.una), self.now);
        self.cc.on_recovery_exit();
        self.nxt = self.una.wrapping_add(self.cc.cwnd());
        ssthresh
    }

    /// Seconds since CUBIC's epoch began.
    fn t(&self) -> f64 {
        let epoch = self.cc.cubic.epoch_start.expect("in congestion avoidance");
        (self.now.micros() - epoch.micros()) as f64 / 1e6
    }

    /// The window with its fraction, segments.
    fn window(&self) -> f64 {
        self.cc.window_q16() as f64 / 65536.0
    }
}

/// RFC 9438 §4.2–4.5, ACK by ACK, in floating point.
struct RefCubic {
    w_max: f64,
    k: f64,
    w_est: f64,
    cwnd: f64,
    cwnd_prior: f64,
}

impl RefCubic {
    fn new(w_max: f64, cwnd_epoch: f64, cwnd_prior: f64) -> RefCubic {
        let diff = w_max - cwnd_epoch;
        let k = diff.signum() * (diff.abs() / 0.4).cbrt();
        RefCubic { w_max, k, w_est: cwnd_epoch, cwnd: cwnd_epoch, cwnd_prior }
    }

    fn w_cubic(&self, t: f64) -> f64 {
        0.4 * (t - self.k).powi(3) + self.w_max
    }

    fn on_ack(&mut self, t: f64, rtt: f64) {
        let alpha = if self.w_est >= self.cwnd_prior { 1.0 } else { 3.0 * (1.0 - 0.7) / (1.0 + 0.7) };
        self.w_est += alpha / self.cwnd;
        if self.w_cubic(t) < self.w_est {
            self.cwnd = self.cwnd.max(self.w_est);
        } else {
            let target = self.w_cubic(t + rtt).clamp(self.cwnd, 1.5 * self.cwnd);
            self.cwnd += (target - self.cwnd) / self.cwnd;
        }
    }
}

/// Checks the invariants every call must keep.
fn check_bounds(cc: &Congestion) -> Result<(), TestCaseError> {
    prop_assert!((1..=CWND_MAX).contains(&cc.cwnd()), "cwnd {}", cc.cwnd());
    prop_assert!(cc.ssthresh() >= 2, "ssthresh {}", cc.ssthresh());
    prop_assert!(cc.ssthresh() == SSTHRESH_INFINITE || cc.ssthresh() <= CWND_MAX);
    prop_assert!(!cc.hystart.active() || cc.ssthresh() == SSTHRESH_INFINITE);
    if cc.algo() == CongAlgo::Cubic {
        prop_assert!(cc.cwnd_cnt < 1 << 16);
    }
    Ok(())
}

// --- Reno (RFC 5681)

#[test]
fn reno_slow_start_doubles_per_round_trip() {
    let mut sim = Sim::new(CongAlgo::NewReno, 10);
    for expect in [20, 40, 80, 160] {
        sim.round(100 * MS);
        assert_eq!(sim.cc.cwnd(), expect);
        assert!(sim.cc.in_slow_start());
    }
}

#[test]
fn reno_slow_start_counts_segments_not_acks() {
    // A delayed ACK covering two segments grows the window by two.
    let mut cc = Congestion::new(CongAlgo::NewReno, 10);
    for i in 1..=5 {
        cc.on_ack(2, true, None, Instant::ZERO, 2 * i, 10);
    }
    assert_eq!(cc.cwnd(), 20);
}

#[test]
fn reno_avoidance_adds_one_segment_per_round_trip() {
    let mut sim = Sim::new(CongAlgo::NewReno, 40);
    assert_eq!(sim.fast_recovery(), 20);
    assert_eq!((sim.cc.cwnd(), sim.cc.ssthresh()), (20, 20));
    assert!(!sim.cc.in_slow_start());
    for expect in 21..=30 {
        sim.round(100 * MS);
        assert_eq!(sim.cc.cwnd(), expect);
    }
}

#[test]
fn reno_loss_halves_to_half_the_flight() {
    let mut cc = Congestion::new(CongAlgo::NewReno, 50);
    assert_eq!(cc.on_loss(40, Instant::ZERO), 20);
    assert_eq!(cc.ssthresh(), 20);
    // cwnd is the caller's during recovery, deflated when it ends.
    assert_eq!(cc.cwnd(), 50);
    cc.on_recovery_exit();
    assert_eq!(cc.cwnd(), 20);
    assert_eq!(cc.on_loss(3, Instant::ZERO), 2);
}

#[test]
fn reno_timeout_drops_to_one_segment_and_slow_starts_to_ssthresh() {
    let mut sim = Sim::new(CongAlgo::NewReno, 40);
    sim.cc.on_rto(40, sim.now);
    assert_eq!((sim.cc.cwnd(), sim.cc.ssthresh()), (1, 20));
    sim.nxt = sim.una.wrapping_add(1);
    for expect in [2, 4, 8, 16, 20, 21] {
        sim.round(100 * MS);
        assert_eq!(sim.cc.cwnd(), expect);
    }
}

#[test]
fn no_growth_unless_the_window_limited_sending() {
    for algo in [CongAlgo::NewReno, CongAlgo::Cubic] {
        let mut cc = Congestion::new(algo, 10);
        for i in 1..=100 {
            cc.on_ack(1, false, Some(100 * MS), Instant::from_millis(i), i as u32, 10);
        }
        assert_eq!(cc.cwnd(), 10, "{algo:?}");
    }
}

// --- CUBIC (RFC 9438)

/// Loss at W_max = 100, then congestion avoidance with `rtt`; `probe` gets
/// (t, window, reference model) after every ACK until `until_s`.
fn cubic_after_loss_at_100(rtt: Duration, until_s: f64, mut probe: impl FnMut(f64, &Sim, &RefCubic)) {
    let mut sim = Sim::new(CongAlgo::Cubic, 100);
    assert_eq!(sim.fast_recovery(), 70);
    assert_eq!(sim.cc.cwnd(), 70);
    let mut reference = RefCubic::new(100.0, 70.0, 100.0);
    let mut t = 0.0;
    while t < until_s {
        sim.round_with(rtt, |s| {
            t = s.t();
            reference.on_ack(t, rtt.as_secs_f64());
            probe(t, s, &reference);
        });
    }
}

#[test]
fn cubic_follows_the_cubic_curve_after_a_loss() {
    let k = (100.0f64 * 0.3 / 0.4).cbrt();
    let (mut at_k, mut before, mut after) = ((f64::MAX, 0.0, 0), 0, 0);
    cubic_after_loss_at_100(200 * MS, 8.0, |t, s, reference| {
        let curve = 0.4 * (t - k).powi(3) + 100.0;
        assert!((s.window() - curve).abs() <= 1.0, "t {t:.3}: window {:.3}, curve {curve:.3}", s.window());
        assert!(
            (s.window() - reference.cwnd).abs() <= 0.1,
            "t {t:.3}: {:.3} vs model {:.3}",
            s.window(),
            reference.cwnd
        );
        // The concave and convex regions: W_est stays below the curve (it
        // starts equal to it, at cwnd_epoch).
        assert!(t < 0.05 || f64::from(s.cc.cubic.w_est_q16) / 65536.0 < curve, "t {t:.3}");
        if (t - k).abs() < (at_k.0 - k).abs() {
            at_k = (t, s.window(), s.cc.cwnd());
        }
        if t < k - 1.5 {
            before = s.cc.cwnd();
        }
        if after == 0 && t > k + 2.0 {
            after = s.cc.cwnd();
        }
    });
    assert!((at_k.0 - k).abs() < 0.01);
    assert!((at_k.1 - 100.0).abs() < 0.5, "window {} at K", at_k.1);
    assert!((99..=100).contains(&at_k.2), "cwnd {} at K", at_k.2);
    // Concave below W_max before K, convex above it after.
    assert!((90..99).contains(&before), "cwnd {before} at K - 1.5 s");
    assert!((101..110).contains(&after), "cwnd {after} at K + 2 s");
}

#[test]
fn cubic_reno_friendly_region_takes_over_when_the_bdp_is_small() {
    let k = (100.0f64 * 0.3 / 0.4).cbrt();
    let mut last = (0.0, 0.0);
    cubic_after_loss_at_100(10 * MS, 1.5, |t, s, reference| {
        assert!(reference.w_cubic(t) < reference.w_est || t < 0.01, "model left the region at {t}");
        assert!((s.window() - reference.cwnd).abs() <= 1.0, "t {t:.3}: {:.3} vs {:.3}", s.window(), reference.cwnd);
        last = (t, s.window());
    });
    // 150 round trips: α = 9/17 per RTT up to cwnd_prior = 100 (57 of
    // them), then 1 per RTT.
    let (t, window) = last;
    assert!((185.0..200.0).contains(&window), "window {window}");
    assert!(window > 0.4 * (t - k).powi(3) + 100.0 + 40.0);
}

#[test]
fn cubic_fast_convergence_lowers_w_max_after_an_early_loss() {
    let mut sim = Sim::new(CongAlgo::Cubic, 100);
    sim.fast_recovery();
    while sim.cc.cubic.epoch_start.is_none() || sim.t() < 2.0 {
        sim.round(200 * MS);
    }
    // Lost again before regaining W_max = 100.
    let cwnd = sim.cc.cwnd();
    assert!((93..98).contains(&cwnd), "cwnd {cwnd}");
    assert_eq!(sim.fast_recovery(), cwnd * 7 / 10);
    let w_max = f64::from(cwnd) * (1.0 + 0.7) / 2.0;
    assert!((f64::from(sim.cc.cubic.w_max_q16) / 65536.0 - w_max).abs() < 1e-4);
    // The new curve plateaus at the lowered W_max.
    let k = ((w_max - f64::from(cwnd * 7 / 10)) / 0.4).cbrt();
    sim.round(200 * MS);
    assert!((f64::from(sim.cc.cubic.k_q16) / 65536.0 - k).abs() < 1e-4);
    while sim.t() < k {
        sim.round(200 * MS);
    }
    assert!((sim.window() - w_max).abs() < 1.0, "window {} near K, W_max {w_max}", sim.window());
    // A loss beyond W_max just remembers the window.
    let mut cc = Congestion::new(CongAlgo::Cubic, 100);
    cc.on_loss(100, Instant::ZERO);
    cc.cwnd = 120;
    assert_eq!(cc.on_loss(120, Instant::ZERO), 84);
    assert_eq!(cc.cubic.w_max_q16, 120 << 16);
}

#[test]
fn cubic_loss_applies_beta_to_the_window() {
    for (cwnd, ssthresh) in [(100, 70), (10, 7), (3, 2), (1, 2), (CWND_MAX, 45_874)] {
        let mut cc = Congestion::new(CongAlgo::Cubic, cwnd);
        // CUBIC reduces from cwnd, not from the flight (RFC 9438 §4.6).
        assert_eq!(cc.on_loss(0, Instant::ZERO), ssthresh, "cwnd {cwnd}");
        assert_eq!(cc.ssthresh(), ssthresh);
        cc.on_recovery_exit();
        assert_eq!(cc.cwnd(), ssthresh);
    }
}

#[test]
fn cubic_timeout_restarts_the_curve_at_k_zero() {
    let mut sim = Sim::new(CongAlgo::Cubic, 100);
    sim.cc.on_rto(100, sim.now);
    assert_eq!((sim.cc.cwnd(), sim.cc.ssthresh()), (1, 70));
    sim.nxt = sim.una.wrapping_add(1);
    // Standard slow start back to ssthresh: HyStart++ is for the first one only.
    for rtt in [100, 130, 160, 190, 220, 250, 280] {
        sim.round(rtt * MS);
    }
    assert!(!sim.cc.in_slow_start());
    // The epoch began at cwnd = ssthresh = 70: W_max = 70, K = 0.
    assert_eq!(sim.cc.cubic.w_max_q16, 70 << 16);
    assert_eq!(sim.cc.cubic.k_q16, 0);
}

#[test]
fn cubic_application_limited_time_is_not_part_of_t() {
    let mut sim = Sim::new(CongAlgo::Cubic, 100);
    sim.fast_recovery();
    while sim.cc.cubic.epoch_start.is_none() || sim.t() < 1.0 {
        sim.round(200 * MS);
    }
    let (t, window) = (sim.t(), sim.window());
    // Thirty seconds of ACKs while the application sends little.
    for _ in 0..300 {
        sim.now += 100 * MS;
        sim.una = sim.una.wrapping_add(1);
        sim.cc.on_ack(1, false, Some(200 * MS), sim.now, sim.una, sim.nxt);
    }
    assert_eq!(sim.window(), window);
    // Then it fills the window again: the curve resumes where it was (had
    // t counted the 30 s, target would be 1.5 cwnd and the round would add
    // about 40 segments).
    sim.nxt = sim.una.wrapping_add(sim.cc.cwnd());
    sim.round(200 * MS);
    assert!(sim.t() < t + 0.5, "t jumped to {}", sim.t());
    assert!(sim.window() - window < 8.0, "window jumped from {window} to {}", sim.window());
}

// --- HyStart++ (RFC 9406)

/// Rounds at 100 ms, and from round `rise_at` on, `risen` ms; returns the
/// round (1-based) in which slow start ended, and the state after `rounds`.
fn hystart_run(algo: CongAlgo, rise_at: u32, risen: u32, rounds: u32) -> (Option<u32>, Sim) {
    let mut sim = Sim::new(algo, 10);
    let mut ended = None;
    for round in 1..=rounds {
        let rtt = if round >= rise_at { risen } else { 100 };
        sim.round(rtt * MS);
        if ended.is_none() && !sim.cc.in_slow_start() {
            ended = Some(round);
        }
    }
    (ended, sim)
}

#[test]
fn hystart_ends_slow_start_early_when_the_rtt_rises() {
    let mut sim = Sim::new(CongAlgo::Cubic, 10);
    for _ in 0..3 {
        sim.round(100 * MS);
    }
    assert_eq!((sim.cc.hystart.phase(), sim.cc.cwnd()), (Phase::SlowStart, 80));
    // The queue builds: +20 ms is over the threshold (100 ms / 8 = 12.5 ms).
    // HyStart++'s rounds, delimited by sequence numbers, run a few ACKs
    // ahead of the simulation's: its round that began late in this one is
    // the first with only raised samples, and it enters CSS there.
    sim.round(120 * MS);
    assert_eq!(sim.cc.hystart.phase(), Phase::Css);
    assert!((150..160).contains(&sim.cc.cwnd()), "cwnd {}", sim.cc.cwnd());
    // Conservative Slow Start grows a quarter as fast: x1.25 per round.
    let before = sim.cc.cwnd();
    sim.round(120 * MS);
    let growth = f64::from(sim.cc.cwnd()) / f64::from(before);
    assert!((1.2..1.3).contains(&growth), "CSS growth x{growth}");
    // After CSS_ROUNDS = 5 of its rounds, the entry round counted, slow
    // start is over: during the simulation's 9th round.
    for _ in 6..=8 {
        sim.round(120 * MS);
        assert_eq!(sim.cc.hystart.phase(), Phase::Css);
    }
    sim.round(120 * MS);
    assert_eq!(sim.cc.hystart.phase(), Phase::Done);
    assert!(!sim.cc.in_slow_start());
    // ssthresh is the window at the exit (a few avoidance ACKs followed).
    assert!(sim.cc.cwnd() - sim.cc.ssthresh() <= 1);
    assert!((400..500).contains(&sim.cc.ssthresh()), "ssthresh {}", sim.cc.ssthresh());
    // Slow start alone would have gone on to 10 * 2^9.
    let (ended, flat) = hystart_run(CongAlgo::Cubic, u32::MAX, 100, 9);
    assert_eq!((ended, flat.cc.cwnd()), (None, 5120));
}

#[test]
fn hystart_leaves_congestion_avoidance_to_cubic_with_k_zero() {
    let (ended, mut sim) = hystart_run(CongAlgo::Cubic, 4, 120, 9);
    assert_eq!(ended, Some(9));
    sim.round(120 * MS);
    // cwnd_prior = cwnd at the exit; the epoch starts there with K = 0.
    assert_eq!(sim.cc.cubic.cwnd_prior, sim.cc.ssthresh());
    assert_eq!(sim.cc.cubic.k_q16, 0);
    assert_eq!(sim.cc.cubic.w_max_q16 >> 16, sim.cc.ssthresh());
}

#[test]
fn hystart_continues_slow_start_while_the_rtt_is_flat() {
    let (ended, sim) = hystart_run(CongAlgo::Cubic, u32::MAX, 100, 10);
    assert_eq!(ended, None);
    assert_eq!((sim.cc.cwnd(), sim.cc.ssthresh()), (10_240, SSTHRESH_INFINITE));
    assert_eq!(sim.cc.hystart.phase(), Phase::SlowStart);
    // A rise below the threshold (10 ms < 12.5 ms) is jitter, not a queue.
    let (ended, sim) = hystart_run(CongAlgo::Cubic, 4, 110, 8);
    assert_eq!((ended, sim.cc.cwnd()), (None, 2560));
}

#[test]
fn hystart_is_cubic_only_as_in_linux() {
    let (ended, sim) = hystart_run(CongAlgo::NewReno, 4, 200, 8);
    assert_eq!((ended, sim.cc.cwnd()), (None, 2560));
}

// --- Timeouts, idle restarts, algorithm changes

#[test]
fn repeated_timeouts_keep_the_first_ssthresh() {
    let mut cc = Congestion::new(CongAlgo::NewReno, 40);
    cc.on_rto(40, Instant::ZERO);
    cc.on_rto(1, Instant::ZERO);
    cc.on_rto(1, Instant::ZERO);
    assert_eq!((cc.cwnd(), cc.ssthresh()), (1, 20));
    // New data acknowledged ends the episode; the next timeout counts again.
    cc.on_ack(1, true, None, Instant::ZERO, 1, 2);
    cc.on_rto(8, Instant::ZERO);
    assert_eq!((cc.cwnd(), cc.ssthresh()), (1, 4));
    // A timeout during fast recovery keeps the recovery's ssthresh.
    let mut cc = Congestion::new(CongAlgo::Cubic, 100);
    cc.on_loss(100, Instant::ZERO);
    cc.on_rto(10, Instant::ZERO);
    assert_eq!((cc.cwnd(), cc.ssthresh()), (1, 70));
}

#[test]
fn idle_restart_caps_the_window_at_the_initial_one() {
    let mut sim = Sim::new(CongAlgo::Cubic, 100);
    sim.fast_recovery();
    sim.round(100 * MS);
    assert!(sim.cc.cubic.epoch_start.is_some());
    sim.cc.on_idle_restart(10);
    assert_eq!((sim.cc.cwnd(), sim.cc.ssthresh()), (10, 70));
    assert_eq!(sim.cc.cubic.epoch_start, None);
    let mut cc = Congestion::new(CongAlgo::NewReno, 4);
    cc.on_idle_restart(10);
    assert_eq!(cc.cwnd(), 4);
    cc.on_idle_restart(0);
    assert_eq!(cc.cwnd(), 1);
}

#[test]
fn switching_algorithm_keeps_the_windows() {
    let mut cc = Congestion::new(CongAlgo::Cubic, 100);
    cc.on_loss(100, Instant::ZERO);
    cc.set_algo(CongAlgo::NewReno);
    assert_eq!((cc.algo(), cc.cwnd(), cc.ssthresh()), (CongAlgo::NewReno, 100, 70));
    assert!(!cc.hystart.active());
    let mut cc = Congestion::new(CongAlgo::NewReno, 10);
    cc.set_algo(CongAlgo::Cubic);
    assert!(cc.hystart.active());
}

#[test]
fn algorithms_have_linux_names_and_cubic_is_the_default() {
    assert_eq!(CongAlgo::default(), CongAlgo::Cubic);
    for algo in [CongAlgo::NewReno, CongAlgo::Cubic] {
        assert_eq!(CongAlgo::from_name(algo.name()), Some(algo));
    }
    assert_eq!(CongAlgo::from_name("bbr"), None);
    assert_eq!(Congestion::new(CongAlgo::Cubic, 0).cwnd(), 1);
    assert_eq!(Congestion::new(CongAlgo::Cubic, u32::MAX).cwnd(), CWND_MAX);
}

#[test]
fn the_state_stays_small() {
    assert!(core::mem::size_of::<Congestion>() <= 96, "{} bytes", core::mem::size_of::<Congestion>());
}

// --- Any sequence of calls keeps the bounds and never panics

#[derive(Clone, Debug)]
enum Op {
    Ack { acked: u32, limited: bool, rtt_us: Option<u64>, dt_us: u64, una: u32, nxt: u32 },
    Loss(u32),
    RecoveryExit,
    Rto(u32),
    Idle(u32),
    SetAlgo(bool),
    Clock(u64),
}

fn any_u32() -> impl Strategy<Value = u32> {
    prop_oneof![0..20u32, any::<u32>(), Just(u32::MAX)]
}

fn op() -> impl Strategy<Value = Op> {
    let ack = (
        any_u32(),
        any::<bool>(),
        prop::option::of(prop_oneof![0..400_000u64, any::<u64>()]),
        prop_oneof![0..300_000u64, any::<u64>()],
        any_u32(),
        any_u32(),
    )
        .prop_map(|(acked, limited, rtt_us, dt_us, una, nxt)| Op::Ack { acked, limited, rtt_us, dt_us, una, nxt });
    prop_oneof![
        12 => ack,
        1 => any_u32().prop_map(Op::Loss),
        1 => Just(Op::RecoveryExit),
        1 => any_u32().prop_map(Op::Rto),
        1 => any_u32().prop_map(Op::Idle),
        1 => any::<bool>().prop_map(Op::SetAlgo),
        1 => any::<u64>().prop_map(Op::Clock),
    ]
}

fn apply(cc: &mut Congestion, now: &mut Instant, op: &Op) {
    match *op {
        Op::Ack { acked, limited, rtt_us, dt_us, una, nxt } => {
            *now += Duration::from_micros(dt_us);
            cc.on_ack(acked, limited, rtt_us.map(Duration::from_micros), *now, una, nxt);
        }
        Op::Loss(in_flight) => {
            cc.on_loss(in_flight, *now);
        }
        Op::RecoveryExit => cc.on_recovery_exit(),
        Op::Rto(in_flight) => cc.on_rto(in_flight, *now),
        Op::Idle(iw) => cc.on_idle_restart(iw),
        Op::SetAlgo(cubic) => cc.set_algo(if cubic { CongAlgo::Cubic } else { CongAlgo::NewReno }),
        Op::Clock(micros) => *now = Instant::from_micros(micros),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn any_call_sequence_keeps_the_bounds(
        cubic in any::<bool>(),
        iw in any_u32(),
        ops in prop::collection::vec(op(), 0..300),
    ) {
        let algo = if cubic { CongAlgo::Cubic } else { CongAlgo::NewReno };
        let mut cc = Congestion::new(algo, iw);
        let mut now = Instant::ZERO;
        check_bounds(&cc)?;
        for op in &ops {
            apply(&mut cc, &mut now, op);
            check_bounds(&cc)?;
        }
    }

    #[test]
    fn stretch_acks_reach_the_cap_and_stay_there(cubic in any::<bool>(), rtt_us in 1..2_000_000u64) {
        let algo = if cubic { CongAlgo::Cubic } else { CongAlgo::NewReno };
        let mut cc = Congestion::new(algo, 10);
        cc.on_loss(20, Instant::ZERO);
        cc.on_recovery_exit();
        let mut now = Instant::ZERO;
        // Reno needs about CWND_MAX / 2 such ACKs (cwnd² / 2 = CWND_MAX · n).
        for i in 0..40_000u32 {
            now += Duration::from_micros(rtt_us);
            cc.on_ack(CWND_MAX, true, Some(Duration::from_micros(rtt_us)), now, i, i);
            check_bounds(&cc)?;
        }
        prop_assert_eq!(cc.cwnd(), CWND_MAX);
    }
}

#[test]
fn durations_convert_to_microseconds_without_overflow() {
    assert_eq!(micros_u32(Duration::from_micros(1_500_001)), 1_500_001);
    assert_eq!(micros_u32(Duration::from_secs(4_295)), u32::MAX);
    assert_eq!(micros_u32(Duration::MAX), u32::MAX);
}

//! The Reno building blocks (RFC 5681 §3.1), shared by both algorithms as
//! Linux shares them (`net/ipv4/tcp_cong.c`): slow start, additive increase
//! counted in acknowledged segments, and the halving on loss.

use super::CWND_MAX;

/// Slow start, as Linux's `tcp_slow_start`: grow by one segment per
/// acknowledged segment, stopping at `ssthresh`, and return the acknowledged
/// segments left over once `ssthresh` is reached (they count towards
/// congestion avoidance). The caller checks `cwnd < ssthresh` first.
//= https://www.rfc-editor.org/rfc/rfc5681#section-3.1
//# The slow start algorithm is used when cwnd < ssthresh, while the
//# congestion avoidance algorithm is used when cwnd > ssthresh.
pub(super) fn slow_start(cwnd: &mut u32, ssthresh: u32, acked: u32) -> u32 {
    let grown = cwnd.saturating_add(acked).min(ssthresh);
    let left = acked.saturating_sub(grown.saturating_sub(*cwnd));
    *cwnd = grown.min(CWND_MAX);
    left
}

/// Additive increase, as Linux's `tcp_cong_avoid_ai`: `cnt` counts
/// acknowledged segments (`snd_cwnd_cnt`); every `w` of them add one segment.
/// With `w = cwnd` that is one segment per window acknowledged.
//= https://www.rfc-editor.org/rfc/rfc5681#section-3.1
//# During congestion avoidance, cwnd is incremented by roughly 1
//# full-sized segment per round-trip time (RTT).
pub(super) fn cong_avoid_ai(cwnd: &mut u32, cnt: &mut u32, w: u32, acked: u32) {
    let w = w.max(1);
    *cnt = cnt.saturating_add(acked);
    if *cnt >= w {
        let delta = *cnt / w;
        *cnt %= w;
        *cwnd = cwnd.saturating_add(delta).min(CWND_MAX);
    }
}

/// The slow-start threshold after a loss: half the flight, at least two
/// segments.
//= https://www.rfc-editor.org/rfc/rfc5681#section-3.1
//# ssthresh = max (FlightSize / 2, 2*SMSS)            (4)
pub(super) fn ssthresh_after_loss(in_flight: u32) -> u32 {
    (in_flight / 2).clamp(2, CWND_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_stops_at_ssthresh_and_returns_the_rest() {
        let mut cwnd = 10;
        assert_eq!(slow_start(&mut cwnd, 16, 4), 0);
        assert_eq!(cwnd, 14);
        assert_eq!(slow_start(&mut cwnd, 16, 5), 3);
        assert_eq!(cwnd, 16);
    }

    #[test]
    fn slow_start_is_capped_without_leaking_acks_into_avoidance() {
        let mut cwnd = CWND_MAX - 1;
        assert_eq!(slow_start(&mut cwnd, u32::MAX, CWND_MAX), 0);
        assert_eq!(cwnd, CWND_MAX);
    }

    #[test]
    fn additive_increase_counts_whole_windows() {
        let (mut cwnd, mut cnt) = (10, 0);
        for _ in 0..9 {
            cong_avoid_ai(&mut cwnd, &mut cnt, 10, 1);
        }
        assert_eq!((cwnd, cnt), (10, 9));
        cong_avoid_ai(&mut cwnd, &mut cnt, 10, 1);
        assert_eq!((cwnd, cnt), (11, 0));
        cong_avoid_ai(&mut cwnd, &mut cnt, 11, 25);
        assert_eq!((cwnd, cnt), (13, 3));
        cong_avoid_ai(&mut cwnd, &mut cnt, 0, u32::MAX);
        assert_eq!(cwnd, CWND_MAX);
    }

    #[test]
    fn loss_threshold_is_half_the_flight_but_at_least_two() {
        assert_eq!(ssthresh_after_loss(40), 20);
        assert_eq!(ssthresh_after_loss(3), 2);
        assert_eq!(ssthresh_after_loss(0), 2);
        assert_eq!(ssthresh_after_loss(u32::MAX), CWND_MAX);
    }
}

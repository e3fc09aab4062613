//! Byte queue limits (Linux's `lib/dynamic_queue_limits.c`, in our own
//! form): bound the bytes waiting in the TX ring so packets wait in the
//! stack, where they can still be dropped, reordered or paced, instead of in
//! hardware, while keeping enough in the ring that the device never starves.
//!
//! The limit grows when the ring ran dry while the stack was being held back
//! (it was too small), and shrinks when, over a whole interval, the ring
//! never drained below some slack after a completion (it was larger than needed).

use core::time::Duration;

use skbnet::time::Instant;

/// Dynamic limit on bytes in flight in a TX ring.
#[derive(Clone, Debug)]
pub struct Dql {
    limit: u32,
    min_limit: u32,
    max_limit: u32,
    inflight: u32,
    held_back: bool,
    min_slack: u32,
    window_start: Instant,
}

/// How long the ring must keep unneeded bytes before the limit shrinks.
const SLACK_WINDOW: Duration = Duration::from_millis(100);

impl Dql {
    /// A limit that starts at `min_limit` and moves within `min_limit..=max_limit`.
    pub fn new(min_limit: u32, max_limit: u32) -> Dql {
        let max_limit = max_limit.max(min_limit);
        Dql {
            limit: min_limit,
            min_limit,
            max_limit,
            inflight: 0,
            held_back: false,
            min_slack: u32::MAX,
            window_start: Instant::ZERO,
        }
    }

    /// The current limit in bytes.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Bytes queued and not yet completed.
    pub fn inflight(&self) -> u32 {
        self.inflight
    }

    /// True if another packet may be queued: the ring is under its limit, or
    /// empty (one packet always fits, whatever its size).
    pub fn can_queue(&self) -> bool {
        self.inflight == 0 || self.inflight < self.limit
    }

    /// A packet of `bytes` went to the ring.
    pub fn queued(&mut self, bytes: u32) {
        self.inflight = self.inflight.saturating_add(bytes);
    }

    /// A packet was turned away because of the limit.
    pub fn held_back(&mut self) {
        self.held_back = true;
    }

    /// The device completed `bytes` at `now`.
    pub fn completed(&mut self, now: Instant, bytes: u32) {
        self.inflight = self.inflight.saturating_sub(bytes);
        if self.inflight == 0 && self.held_back {
            // Starved while the stack waited: the limit was too small.
            self.limit = self.limit.saturating_add(bytes.max(self.limit / 2)).min(self.max_limit);
            self.held_back = false;
            self.restart_window(now);
            return;
        }
        self.min_slack = self.min_slack.min(self.inflight);
        if now - self.window_start >= SLACK_WINDOW {
            if self.min_slack != u32::MAX && self.min_slack > 0 {
                self.limit = self.limit.saturating_sub(self.min_slack / 2).max(self.min_limit);
            }
            self.restart_window(now);
        }
    }

    fn restart_window(&mut self, now: Instant) {
        self.min_slack = u32::MAX;
        self.window_start = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_when_starved_and_shrinks_when_idle_bytes_linger() {
        let mut q = Dql::new(3000, 100_000);
        assert!(q.can_queue());
        q.queued(64_000);
        assert!(!q.can_queue(), "over the limit after one big packet");
        q.held_back();
        q.completed(Instant::from_millis(1), 64_000);
        assert_eq!(q.limit(), 67_000, "starved while held back: grow by what completed");
        // Keep 60 kB queued across a whole window: the limit is too generous.
        q.queued(60_000);
        q.queued(1500);
        q.completed(Instant::from_millis(50), 1500);
        q.queued(1500);
        q.completed(Instant::from_millis(200), 1500);
        assert_eq!(q.limit(), 67_000 - 30_000);
        assert!(q.limit() >= 3000);
        let mut q = Dql::new(3000, 4000);
        q.queued(10_000);
        q.held_back();
        q.completed(Instant::ZERO, 10_000);
        assert_eq!(q.limit(), 4000, "never above the maximum");
    }
}

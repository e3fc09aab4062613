//! Time as an argument.
//!
//! The core never reads a clock. Callers pass an [`Instant`] into `poll(now)` and
//! every other entry point that needs the time; the stack answers with the
//! instant at which it next wants to run. Durations are `core::time::Duration`.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point in time, in microseconds since an arbitrary epoch chosen by the caller
/// (boot, the start of a simulation, the Unix epoch on a host).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant {
    micros: u64,
}

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant { micros: 0 };
    /// The latest representable instant ("never").
    pub const MAX: Instant = Instant { micros: u64::MAX };

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Instant {
        Instant { micros }
    }

    /// An instant `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Instant {
        Instant { micros: millis.saturating_mul(1000) }
    }

    /// An instant `secs` seconds after the epoch (saturating).
    pub const fn from_secs(secs: u64) -> Instant {
        Instant { micros: secs.saturating_mul(1_000_000) }
    }

    /// Microseconds since the epoch.
    pub const fn micros(self) -> u64 {
        self.micros
    }

    /// Milliseconds since the epoch (truncated).
    pub const fn millis(self) -> u64 {
        self.micros / 1000
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.micros.saturating_sub(earlier.micros))
    }

    /// `self + d`, saturating at [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Instant {
        let add = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Instant { micros: self.micros.saturating_add(add) }
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = self.saturating_add(d);
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.micros / 1_000_000, self.micros % 1_000_000)
    }
}

/// The earliest deadline of a table's entries, kept exact as they change,
/// so that `poll_at` and the timer runs cost O(1) while nothing is due
/// (Linux arms one kernel timer per entry instead; a world that never
/// blocks needs the minimum, and scanning every slot on every poll made
/// mostly empty tables the largest cost of a small transaction).
///
/// The table reports every change of an entry's deadline with
/// [`Earliest::update`]; when the change may have made the minimum later
/// (the earliest entry went away or moved back), `update` says so and the
/// table scans its entries once and sets the new minimum with
/// [`Earliest::set`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Earliest(Option<Instant>);

impl Earliest {
    /// No deadline at all.
    pub(crate) const NONE: Earliest = Earliest(None);

    /// The earliest deadline.
    pub(crate) fn get(self) -> Option<Instant> {
        self.0
    }

    /// True when a deadline is due by `now`.
    pub(crate) fn due(self, now: Instant) -> bool {
        self.0.is_some_and(|t| t <= now)
    }

    /// An entry's deadline changed from `old` to `new` (`None`: the entry
    /// has none, or is gone). Returns false when the minimum may have
    /// moved later: the caller must then [`Earliest::set`] it from a scan.
    #[must_use]
    pub(crate) fn update(&mut self, old: Option<Instant>, new: Option<Instant>) -> bool {
        if let Some(n) = new
            && self.0.is_none_or(|e| n < e)
        {
            self.0 = Some(n);
            return true;
        }
        new == old || old.is_none_or(|o| Some(o) != self.0)
    }

    /// The minimum, from a scan of every entry's deadline.
    pub(crate) fn set(&mut self, deadlines: impl Iterator<Item = Instant>) {
        self.0 = deadlines.min();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_asks_for_a_scan_only_when_the_minimum_may_move_later() {
        let t = Instant::from_secs;
        let mut e = Earliest::NONE;
        assert!(e.update(None, Some(t(5))) && e.get() == Some(t(5)));
        assert!(e.update(None, Some(t(7))) && e.get() == Some(t(5)), "a later one changes nothing");
        assert!(e.update(Some(t(7)), Some(t(9))), "neither the earliest before nor after");
        assert!(e.update(Some(t(5)), Some(t(3))) && e.get() == Some(t(3)), "the earliest moved earlier");
        assert!(e.update(Some(t(3)), Some(t(3))), "no change");
        assert!(!e.update(Some(t(3)), Some(t(4))), "the earliest moved later: scan");
        e.set([t(4), t(9)].into_iter());
        assert!(!e.update(Some(t(4)), None), "the earliest went away: scan");
        e.set([t(9)].into_iter());
        assert_eq!(e.get(), Some(t(9)));
        assert!(e.due(t(9)) && !e.due(t(8)));
        e.set(core::iter::empty());
        assert!(e.get().is_none() && !e.due(Instant::MAX));
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(1500);
        assert_eq!(t.micros(), 1_500_000);
        assert_eq!((t + Duration::from_millis(1)).millis(), 1501);
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(t - Instant::ZERO, Duration::from_millis(1500));
        assert_eq!(format!("{t}"), "1.500000");
    }
}

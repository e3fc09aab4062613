//! A small seeded generator (SplitMix64) for link faults: the same seed and
//! the same sequence of calls give the same faults, on every platform.

/// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state, full period.
#[derive(Clone, Debug)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    /// A generator for `seed`.
    pub const fn new(seed: u64) -> SimRng {
        SimRng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..n` (`0` when `n` is `0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift: unbiased enough for fault injection, no division.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p` given as a [`Chance`].
    pub fn chance(&mut self, p: Chance) -> bool {
        p.0 != 0 && (self.next_u64() >> 32) < p.0
    }
}

/// A probability stored as a fraction of 2^32, so that drawing needs no floats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chance(u64);

impl Chance {
    /// Never.
    pub const NEVER: Chance = Chance(0);

    /// The probability `p` (clamped to `0.0..=1.0`; NaN is never).
    pub fn new(p: f64) -> Chance {
        if p.is_nan() || p <= 0.0 {
            return Chance::NEVER;
        }
        let p = if p > 1.0 { 1.0 } else { p };
        Chance((p * 4_294_967_296.0) as u64)
    }

    /// The probability as a float.
    pub fn get(self) -> f64 {
        self.0 as f64 / 4_294_967_296.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_rates_hold() {
        let (mut a, mut b) = (SimRng::new(7), SimRng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut r = SimRng::new(1);
        let p = Chance::new(0.2);
        let hits = (0..100_000).filter(|_| r.chance(p)).count();
        assert!((19_000..21_000).contains(&hits), "{hits}");
        assert!(!SimRng::new(3).chance(Chance::NEVER));
        assert!((0..1000).all(|_| r.chance(Chance::new(1.0))));
        assert!((0..1000).all(|_| r.below(10) < 10));
        assert_eq!(Chance::new(f64::NAN), Chance::NEVER);
    }
}

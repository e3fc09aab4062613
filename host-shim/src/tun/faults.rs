//! The link-fault profile of `skbnet tun` (`--loss`, `--delay`): what the
//! simulated links of nic-sim do to frames, applied here to the packets that
//! cross the TUN device, for experiments with a real Linux peer. Losses are
//! drawn from the `--seed`ed generator of nic-sim, so a seed replays the
//! same choices for the same sequence of packets; the delay holds each
//! packet in a first-in first-out line until it is due.

use std::collections::VecDeque;
use std::time::Duration;

use skbnet::skb::VirtioNetHdr;
use skbnet::time::Instant;
use skbnet_nic_sim::rng::{Chance, SimRng};

/// Bytes a delay line may hold per direction; beyond, packets are dropped
/// (and counted) as a full router queue would drop them.
pub const HELD_BYTES_MAX: usize = 64 << 20;

/// Which way a packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the stack to Linux (written to the TUN device).
    ToLinux,
    /// From Linux to the stack (read from the TUN device).
    ToStack,
}

impl Dir {
    fn index(self) -> usize {
        match self {
            Dir::ToLinux => 0,
            Dir::ToStack => 1,
        }
    }
}

/// A packet waiting in a delay line.
pub struct Held {
    /// When it may go on.
    pub due: Instant,
    /// Its offload header.
    pub vnet: VirtioNetHdr,
    /// The IP packet.
    pub bytes: Vec<u8>,
}

/// What the profile did, per direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Packets lost on purpose.
    pub lost: u64,
    /// Packets dropped because the delay line was full.
    pub queue_drops: u64,
}

/// Loss and delay, both directions alike.
pub struct Faults {
    loss: Chance,
    delay: Duration,
    rng: SimRng,
    lines: [VecDeque<Held>; 2],
    held_bytes: [usize; 2],
    stats: [FaultStats; 2],
}

impl Faults {
    /// Lose each packet with probability `loss` and delay every packet by
    /// `delay`, the losses drawn from `seed`.
    pub fn new(loss: f64, delay: Duration, seed: u64) -> Faults {
        Faults {
            loss: Chance::new(loss),
            delay,
            rng: SimRng::new(seed),
            lines: [VecDeque::new(), VecDeque::new()],
            held_bytes: [0; 2],
            stats: [FaultStats::default(); 2],
        }
    }

    /// True when the profile does nothing (packets go straight through).
    pub fn is_clear(&self) -> bool {
        self.loss == Chance::NEVER && self.delay.is_zero()
    }

    /// True when packets are held for a while.
    pub fn delays(&self) -> bool {
        !self.delay.is_zero()
    }

    /// Decide whether a packet going `dir` survives; a lost one is counted.
    pub fn survives(&mut self, dir: Dir) -> bool {
        if self.rng.chance(self.loss) {
            self.stats[dir.index()].lost += 1;
            return false;
        }
        true
    }

    /// Hold a packet that arrived at `now` until its delay is over. False
    /// (and counted) when the line is full.
    pub fn hold(&mut self, dir: Dir, now: Instant, vnet: VirtioNetHdr, bytes: &[u8]) -> bool {
        let d = dir.index();
        if self.held_bytes[d] + bytes.len() > HELD_BYTES_MAX {
            self.stats[d].queue_drops += 1;
            return false;
        }
        self.held_bytes[d] += bytes.len();
        self.lines[d].push_back(Held { due: now + self.delay, vnet, bytes: bytes.to_vec() });
        true
    }

    /// The next packet going `dir` whose delay is over by `now`.
    pub fn pop_due(&mut self, dir: Dir, now: Instant) -> Option<Held> {
        let d = dir.index();
        if self.lines[d].front()?.due > now {
            return None;
        }
        let h = self.lines[d].pop_front()?;
        self.held_bytes[d] -= h.bytes.len();
        Some(h)
    }

    /// When the next held packet is due, either way.
    pub fn next_due(&self) -> Option<Instant> {
        self.lines.iter().filter_map(|l| l.front().map(|h| h.due)).min()
    }

    /// What the profile did to packets going `dir`.
    pub fn stats(&self, dir: Dir) -> FaultStats {
        self.stats[dir.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_profile_passes_everything() {
        let mut f = Faults::new(0.0, Duration::ZERO, 1);
        assert!(f.is_clear() && !f.delays());
        assert!((0..1000).all(|_| f.survives(Dir::ToStack)));
        assert_eq!(f.stats(Dir::ToStack), FaultStats::default());
    }

    #[test]
    fn loss_is_about_as_asked_and_a_seed_replays_it() {
        let draw = |seed| {
            let mut f = Faults::new(0.1, Duration::ZERO, seed);
            let kept: Vec<bool> = (0..10_000).map(|_| f.survives(Dir::ToLinux)).collect();
            (kept, f.stats(Dir::ToLinux).lost)
        };
        let (a, lost) = draw(7);
        assert!((800..1200).contains(&lost), "{lost} of 10000 at 10%");
        assert_eq!(draw(7).0, a, "the same seed loses the same packets");
        assert_ne!(draw(8).0, a);
    }

    #[test]
    fn delay_holds_packets_in_order_until_due() {
        let mut f = Faults::new(0.0, Duration::from_millis(5), 1);
        let t0 = Instant::from_millis(100);
        let vnet = VirtioNetHdr::default();
        assert!(f.hold(Dir::ToStack, t0, vnet, b"one"));
        assert!(f.hold(Dir::ToStack, t0 + Duration::from_millis(1), vnet, b"two"));
        assert_eq!(f.next_due(), Some(Instant::from_millis(105)));
        assert!(f.pop_due(Dir::ToStack, Instant::from_millis(104)).is_none());
        assert!(f.pop_due(Dir::ToLinux, Instant::from_millis(200)).is_none(), "directions are apart");
        assert_eq!(f.pop_due(Dir::ToStack, Instant::from_millis(110)).unwrap().bytes, b"one");
        assert_eq!(f.pop_due(Dir::ToStack, Instant::from_millis(110)).unwrap().bytes, b"two");
        assert_eq!(f.next_due(), None);
    }

    #[test]
    fn a_full_line_drops_and_counts() {
        let mut f = Faults::new(0.0, Duration::from_millis(1), 1);
        let big = vec![0u8; HELD_BYTES_MAX / 2];
        assert!(f.hold(Dir::ToLinux, Instant::ZERO, VirtioNetHdr::default(), &big));
        assert!(f.hold(Dir::ToLinux, Instant::ZERO, VirtioNetHdr::default(), &big));
        assert!(!f.hold(Dir::ToLinux, Instant::ZERO, VirtioNetHdr::default(), b"x"));
        assert_eq!(f.stats(Dir::ToLinux).queue_drops, 1);
    }
}

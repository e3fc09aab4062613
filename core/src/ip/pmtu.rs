//! The path-MTU cache (Linux keeps it in the route exceptions, `fnhe`):
//! what ICMP fragmentation-needed messages taught us about each destination,
//! per RFC 1191, forgotten after ten minutes so a path that grew is found again.

use core::net::Ipv4Addr;
use core::time::Duration;

use crate::netns::NsId;
use crate::time::Instant;

//= https://www.rfc-editor.org/rfc/rfc1191#section-6.3
//# A host MUST attempt to detect increases in PMTU [...] The recommended
//# setting for this timer is twice its minimum value (10 minutes).
/// How long a learned path MTU is trusted (`ip_rt_mtu_expires`).
pub const PMTU_EXPIRES: Duration = Duration::from_secs(600);

/// Smallest path MTU accepted from an ICMP message (`ip_rt_min_pmtu`).
pub const MIN_PMTU: u16 = 552;

/// A learned path MTU.
#[derive(Clone, Copy, Debug)]
pub struct PmtuEntry {
    ns: NsId,
    dst: Ipv4Addr,
    mtu: u16,
    /// The path reported less than [`MIN_PMTU`]: the entry holds the floor,
    /// and packets on the path go without DF so routers may fragment them
    /// (Linux's `RTAX_MTU_LOCK` set by `__ip_rt_update_pmtu`).
    locked: bool,
    expires: Instant,
}

/// The cache over caller-provided slots; when full, the entry that expires
/// first makes room.
pub struct PmtuCache<'a> {
    slots: &'a mut [Option<PmtuEntry>],
    /// Entries held: with none (the common case) a lookup and the expiry
    /// cost nothing.
    live: usize,
}

impl<'a> PmtuCache<'a> {
    /// A cache over `slots`.
    pub fn new(slots: &'a mut [Option<PmtuEntry>]) -> Self {
        let live = slots.iter().flatten().count();
        PmtuCache { slots, live }
    }

    /// The path MTU towards `dst`, if one was learned and is still valid.
    pub fn get(&self, ns: NsId, dst: Ipv4Addr, now: Instant) -> Option<u16> {
        self.get_locked(ns, dst, now).map(|(mtu, _)| mtu)
    }

    /// [`Self::get`], and whether the path is locked at the floor (send
    /// without DF).
    pub fn get_locked(&self, ns: NsId, dst: Ipv4Addr, now: Instant) -> Option<(u16, bool)> {
        if self.live == 0 {
            return None;
        }
        self.slots.iter().flatten().find(|e| e.ns == ns && e.dst == dst && e.expires > now).map(|e| (e.mtu, e.locked))
    }

    /// Learn that the path to `dst` carries at most `mtu` bytes; a larger
    /// value than the one known is ignored. Below [`MIN_PMTU`] (a forged
    /// message could otherwise shrink a path to nothing), the floor is
    /// kept and the path locked: its packets go without DF, so a router
    /// with a link that small fragments them instead of black-holing them.
    pub fn learn(&mut self, ns: NsId, dst: Ipv4Addr, mtu: u16, now: Instant) -> u16 {
        let locked = mtu < MIN_PMTU;
        let mtu = mtu.max(MIN_PMTU);
        let expires = now + PMTU_EXPIRES;
        if let Some(e) = self.slots.iter_mut().flatten().find(|e| e.ns == ns && e.dst == dst) {
            if e.expires <= now || mtu < e.mtu {
                e.mtu = mtu;
                e.locked = false;
            }
            e.locked |= locked && e.mtu == MIN_PMTU;
            e.expires = expires;
            return e.mtu;
        }
        let victim = self
            .slots
            .iter()
            .position(Option::is_none)
            .or_else(|| (0..self.slots.len()).min_by_key(|&i| self.slots[i].map_or(Instant::ZERO, |e| e.expires)));
        if let Some(i) = victim {
            self.live += usize::from(self.slots[i].is_none());
            self.slots[i] = Some(PmtuEntry { ns, dst, mtu, locked, expires });
        }
        mtu
    }

    /// Forget the entries of namespace `ns` (it is being deleted).
    pub fn forget_ns(&mut self, ns: NsId) {
        self.forget(|e| e.ns == ns);
    }

    /// Forget expired entries.
    pub fn expire(&mut self, now: Instant) {
        if self.live > 0 {
            self.forget(|e| e.expires <= now);
        }
    }

    fn forget(&mut self, which: impl Fn(&PmtuEntry) -> bool) {
        for s in self.slots.iter_mut() {
            if s.as_ref().is_some_and(&which) {
                *s = None;
                self.live -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_lower_values_expires_and_evicts() {
        let mut slots = [None; 2];
        let mut c = PmtuCache::new(&mut slots);
        let (ns, a, b, d) = (NsId(0), Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(2, 2, 2, 2), Ipv4Addr::new(3, 3, 3, 3));
        let t = Instant::from_secs(1);
        assert_eq!(c.learn(ns, a, 1400, t), 1400);
        assert_eq!(c.learn(ns, a, 1450, t), 1400, "a larger value does not raise it");
        assert_eq!(c.learn(ns, a, 100, t), MIN_PMTU, "clamped");
        assert_eq!(c.get_locked(ns, a, t), Some((MIN_PMTU, true)), "and locked: no DF");
        assert_eq!(c.get(NsId(1), a, t), None);
        c.learn(ns, b, 1300, t + Duration::from_secs(1));
        c.learn(ns, d, 1200, t + Duration::from_secs(2));
        assert_eq!(c.get(ns, a, t), None, "the soonest to expire made room");
        assert_eq!(c.get(ns, d, t + PMTU_EXPIRES), Some(1200));
        assert_eq!(c.get(ns, d, t + Duration::from_secs(2) + PMTU_EXPIRES), None);
        c.expire(t + Duration::from_secs(1000));
        assert!(slots.iter().all(Option::is_none));
    }
}

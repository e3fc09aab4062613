//! The hash chains of TCP's fixed-slot tables keyed by a connection's
//! 4-tuple (handshakes in progress, TIME-WAIT): each bucket holds the slot
//! index of its first entry, each entry the index of the next (Linux's
//! `inet_ehash_bucket` chains, over slots instead of pointers). Every walk
//! is bounded by the number of slots, whatever the links say.

use core::net::SocketAddrV4;

use crate::netns::NsId;

/// The end of a chain.
pub(crate) const NIL: u16 = u16::MAX;

/// An entry that lives on a chain.
pub(crate) trait Chained {
    /// Its namespace, local and remote address.
    fn key(&self) -> (NsId, SocketAddrV4, SocketAddrV4);
    /// The slot of the next entry on its chain.
    fn next(&self) -> u16;
    /// Link it to the slot `next`.
    fn set_next(&mut self, next: u16);
}

/// The bucket of a 4-tuple among `n`.
pub(crate) fn bucket(ns: NsId, local: SocketAddrV4, remote: SocketAddrV4, n: usize) -> usize {
    let x = u64::from(u32::from(*remote.ip()))
        ^ (u64::from(remote.port()) << 32)
        ^ (u64::from(local.port()) << 48)
        ^ (u64::from(ns.0) << 56);
    (((x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) * n as u64) >> 32) as usize
}

/// The slot holding the entry for a 4-tuple.
pub(crate) fn find<T: Chained>(
    slots: &[Option<T>],
    buckets: &[u16],
    ns: NsId,
    local: SocketAddrV4,
    remote: SocketAddrV4,
) -> Option<usize> {
    if buckets.is_empty() {
        return None;
    }
    let mut i = buckets[bucket(ns, local, remote, buckets.len())];
    for _ in 0..slots.len() {
        if i == NIL {
            return None;
        }
        let e = slots.get(usize::from(i))?.as_ref()?;
        if e.key() == (ns, local, remote) {
            return Some(usize::from(i));
        }
        i = e.next();
    }
    None
}

/// Put `e` in the free slot `i`, at the head of its chain. `buckets` must
/// not be empty.
pub(crate) fn link<T: Chained>(slots: &mut [Option<T>], buckets: &mut [u16], i: usize, mut e: T) {
    let (ns, local, remote) = e.key();
    let b = bucket(ns, local, remote, buckets.len());
    e.set_next(buckets[b]);
    slots[i] = Some(e);
    buckets[b] = i as u16;
}

/// Take the entry in slot `i` out of its slot and its chain.
pub(crate) fn unlink<T: Chained>(slots: &mut [Option<T>], buckets: &mut [u16], i: usize) -> Option<T> {
    let e = slots.get_mut(i)?.take()?;
    let (ns, local, remote) = e.key();
    let b = bucket(ns, local, remote, buckets.len());
    if usize::from(buckets[b]) == i {
        buckets[b] = e.next();
        return Some(e);
    }
    let mut p = buckets[b];
    for _ in 0..slots.len() {
        let Some(prev) = slots.get_mut(usize::from(p)).and_then(Option::as_mut) else { break };
        if usize::from(prev.next()) == i {
            prev.set_next(e.next());
            break;
        }
        p = prev.next();
    }
    Some(e)
}

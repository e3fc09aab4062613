//! Sets (Linux's `nft_set` with the `rbtree` backend): named and anonymous
//! sets of addresses, prefixes, ports, protocols, ICMP types and marks.
//!
//! Every element is an inclusive interval `[lo, hi]` (a single value is
//! `lo == hi`, a prefix is the interval it covers). All sets share one
//! array of elements kept sorted by `(set, lo)`, with no two intervals of a
//! set overlapping, so a lookup is one binary search over the array: 1,000
//! elements cost about ten comparisons, whatever their kind. Insertion and
//! removal shift the tail of the array (control path only).
//!
//! A command that adds or removes several elements is all or nothing
//! (Linux's nf_tables transactions): each change is staged first (an added
//! element is marked new, a removed one marked doomed), and then either
//! committed or aborted as a whole, so a command whose third element
//! conflicts leaves the set as it was.

use super::error::NftErrorKind;
use super::expr::{NftName, SetKey};

/// A set's description.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Set {
    /// The table's slot.
    pub table: u16,
    /// The name (anonymous sets have none and print inline).
    pub name: NftName,
    /// The element type.
    pub key: SetKey,
    /// `flags interval`: ranges and prefixes allowed.
    pub interval: bool,
    /// Created for one rule (`{ 22, 80 }`), deleted with it.
    pub anonymous: bool,
    /// Elements it holds.
    pub len: u32,
    /// Rules that use it.
    pub(crate) refs: u32,
    /// Its handle.
    pub handle: u32,
}

/// Where an element stands in the command being carried out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Stage {
    /// In the set.
    #[default]
    Live,
    /// Added by the command: goes if it is aborted.
    New,
    /// Removed by the command: goes if it is committed.
    Doomed,
}

/// One element: a set's slot and an inclusive interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Elem {
    set: u16,
    stage: Stage,
    lo: u32,
    hi: u32,
}

impl Elem {
    /// An unused element.
    pub const EMPTY: Elem = Elem { set: 0, stage: Stage::Live, lo: 0, hi: 0 };

    /// The interval.
    pub fn range(&self) -> (u32, u32) {
        (self.lo, self.hi)
    }
}

/// The sets and their elements.
pub(crate) struct Sets<'a> {
    pub(crate) sets: &'a mut [Option<Set>],
    elems: &'a mut [Elem],
    n: usize,
}

impl<'a> Sets<'a> {
    pub(crate) fn new(sets: &'a mut [Option<Set>], elems: &'a mut [Elem]) -> Sets<'a> {
        Sets { sets, elems, n: 0 }
    }

    /// The set in slot `id`.
    pub(crate) fn get(&self, id: u16) -> Option<&Set> {
        self.sets.get(usize::from(id)).and_then(Option::as_ref)
    }

    /// The named set `name` of table `table`.
    pub(crate) fn find(&self, table: u16, name: &str) -> Option<u16> {
        self.sets
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.table == table && !s.anonymous && s.name == name))
            .map(|i| i as u16)
    }

    /// Create a set; the caller checked the name is free.
    pub(crate) fn create(&mut self, set: Set) -> Result<u16, NftErrorKind> {
        let slot = self.sets.iter().position(Option::is_none).ok_or(NftErrorKind::Full("sets"))?;
        self.sets[slot] = Some(set);
        Ok(slot as u16)
    }

    /// Delete a set and its elements.
    pub(crate) fn delete(&mut self, id: u16) {
        self.flush(id);
        if let Some(s) = self.sets.get_mut(usize::from(id)) {
            *s = None;
        }
    }

    /// The index range of `id`'s elements.
    fn range_of(&self, id: u16) -> (usize, usize) {
        let live = &self.elems[..self.n];
        (live.partition_point(|e| e.set < id), live.partition_point(|e| e.set <= id))
    }

    /// Remove every element of `id`.
    pub(crate) fn flush(&mut self, id: u16) {
        let (a, b) = self.range_of(id);
        self.elems.copy_within(b..self.n, a);
        self.n -= b - a;
        if let Some(Some(s)) = self.sets.get_mut(usize::from(id)) {
            s.len = 0;
        }
    }

    /// `id`'s elements, in order.
    pub(crate) fn elems(&self, id: u16) -> &[Elem] {
        let (a, b) = self.range_of(id);
        &self.elems[a..b]
    }

    /// Elements of all sets.
    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
        self.n
    }

    /// Stage `[lo, hi]` for adding to `id` (it is in the set at once, and
    /// leaves it again if the command is aborted). Adding an element that
    /// is there already changes nothing; one that overlaps another is
    /// refused.
    pub(crate) fn insert(&mut self, id: u16, lo: u32, hi: u32) -> Result<(), NftErrorKind> {
        if lo > hi {
            return Err(NftErrorKind::BadValue("a range must go from low to high"));
        }
        let live = &self.elems[..self.n];
        let p = live.partition_point(|e| (e.set, e.lo) < (id, lo));
        if let Some(e) = live.get(p).filter(|e| e.set == id && e.lo == lo) {
            return if e.hi == hi { Ok(()) } else { Err(NftErrorKind::Invalid("conflicting intervals specified")) };
        }
        let prev_overlaps = p > 0 && live[p - 1].set == id && live[p - 1].hi >= lo;
        let next_overlaps = live.get(p).is_some_and(|e| e.set == id && e.lo <= hi);
        if prev_overlaps || next_overlaps {
            return Err(NftErrorKind::Invalid("conflicting intervals specified"));
        }
        if self.n == self.elems.len() {
            return Err(NftErrorKind::Full("set elements"));
        }
        self.elems.copy_within(p..self.n, p + 1);
        self.elems[p] = Elem { set: id, stage: Stage::New, lo, hi };
        self.n += 1;
        if let Some(Some(s)) = self.sets.get_mut(usize::from(id)) {
            s.len += 1;
        }
        Ok(())
    }

    /// Stage the element `[lo, hi]` of `id` for removal (it goes when the
    /// command is committed). Naming it twice in one command is an error,
    /// as is naming one that is not there.
    pub(crate) fn remove(&mut self, id: u16, lo: u32, hi: u32) -> Result<(), NftErrorKind> {
        let n = self.n;
        let p = self.elems[..n].partition_point(|e| (e.set, e.lo) < (id, lo));
        match self.elems[..n].get_mut(p) {
            Some(e) if e.set == id && e.lo == lo && e.hi == hi && e.stage != Stage::Doomed => {
                e.stage = Stage::Doomed;
                Ok(())
            }
            _ => Err(NftErrorKind::NoSuchElement),
        }
    }

    /// The command succeeded: what it removed from `id` goes, what it added
    /// stays.
    pub(crate) fn commit(&mut self, id: u16) {
        self.settle(id, Stage::Doomed);
    }

    /// The command failed: what it added to `id` goes, what it removed
    /// stays.
    pub(crate) fn abort(&mut self, id: u16) {
        self.settle(id, Stage::New);
    }

    /// Drop `id`'s elements staged as `gone` and make the others live:
    /// one pass over the set's elements and one shift of the tail.
    fn settle(&mut self, id: u16, gone: Stage) {
        let (a, b) = self.range_of(id);
        let mut w = a;
        for r in a..b {
            let mut e = self.elems[r];
            if e.stage != gone {
                e.stage = Stage::Live;
                self.elems[w] = e;
                w += 1;
            }
        }
        self.elems.copy_within(b..self.n, w);
        self.n -= b - w;
        if let Some(Some(s)) = self.sets.get_mut(usize::from(id)) {
            s.len = (w - a) as u32;
        }
    }

    /// True when `v` is in set `id`: one binary search.
    pub(crate) fn contains(&self, id: u16, v: u32) -> bool {
        let live = &self.elems[..self.n];
        let p = live.partition_point(|e| (e.set, e.lo) <= (id, v));
        p > 0 && live[p - 1].set == id && v <= live[p - 1].hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(table: u16, name: &str, interval: bool) -> Set {
        Set {
            table,
            name: NftName::try_from(name).unwrap(),
            key: SetKey::Ipv4Addr,
            interval,
            anonymous: false,
            len: 0,
            refs: 0,
            handle: 1,
        }
    }

    #[test]
    fn lookups_intervals_and_conflicts() {
        let mut slots: [Option<Set>; 4] = Default::default();
        let mut elems = [Elem::EMPTY; 16];
        let mut s = Sets::new(&mut slots, &mut elems);
        let a = s.create(set(0, "a", true)).unwrap();
        let b = s.create(set(0, "b", false)).unwrap();
        s.insert(b, 5, 5).unwrap();
        s.commit(b);
        s.insert(a, 100, 199).unwrap();
        s.insert(a, 10, 10).unwrap();
        s.insert(a, 10, 10).unwrap();
        s.commit(a);
        assert_eq!(s.insert(a, 150, 300), Err(NftErrorKind::Invalid("conflicting intervals specified")));
        assert_eq!(s.insert(a, 0, 10), Err(NftErrorKind::Invalid("conflicting intervals specified")));
        assert!(s.contains(a, 10) && s.contains(a, 100) && s.contains(a, 199) && s.contains(a, 150));
        assert!(!s.contains(a, 9) && !s.contains(a, 200) && !s.contains(a, 5) && !s.contains(a, 11));
        assert!(s.contains(b, 5) && !s.contains(b, 10));
        assert_eq!(s.get(a).unwrap().len, 2);
        assert_eq!(s.remove(a, 100, 150), Err(NftErrorKind::NoSuchElement));
        s.remove(a, 100, 199).unwrap();
        assert_eq!(s.remove(a, 100, 199), Err(NftErrorKind::NoSuchElement), "named twice");
        s.commit(a);
        assert!(!s.contains(a, 150));
        s.delete(a);
        assert!(s.contains(b, 5));
        assert_eq!(s.total(), 1);
        assert_eq!(s.find(0, "b"), Some(b));
        assert_eq!(s.find(0, "a"), None);
    }

    #[test]
    fn a_full_array_refuses_cleanly() {
        let mut slots: [Option<Set>; 1] = Default::default();
        let mut elems = [Elem::EMPTY; 3];
        let mut s = Sets::new(&mut slots, &mut elems);
        let a = s.create(set(0, "a", false)).unwrap();
        for v in 0..3 {
            s.insert(a, v, v).unwrap();
        }
        assert_eq!(s.insert(a, 9, 9), Err(NftErrorKind::Full("set elements")));
        assert!(s.contains(a, 2));
    }

    #[test]
    fn an_aborted_command_leaves_the_sets_as_they_were() {
        let mut slots: [Option<Set>; 2] = Default::default();
        let mut elems = [Elem::EMPTY; 8];
        let mut s = Sets::new(&mut slots, &mut elems);
        let a = s.create(set(0, "a", true)).unwrap();
        let b = s.create(set(0, "b", false)).unwrap();
        for (set, v) in [(a, 10), (a, 20), (b, 1)] {
            s.insert(set, v, v).unwrap();
        }
        s.commit(a);
        s.commit(b);
        let before: Vec<Elem> = s.elems[..s.n].to_vec();
        // Two new elements, one already there, then a conflict: abort.
        s.insert(a, 30, 39).unwrap();
        s.insert(a, 10, 10).unwrap();
        s.insert(a, 5, 6).unwrap();
        assert!(s.insert(a, 35, 40).is_err());
        s.abort(a);
        assert_eq!(&s.elems[..s.n], &before[..]);
        assert_eq!(s.get(a).unwrap().len, 2);
        // Two removals, then one that is not there: abort keeps both.
        s.remove(a, 10, 10).unwrap();
        s.remove(a, 20, 20).unwrap();
        assert_eq!(s.remove(a, 30, 30), Err(NftErrorKind::NoSuchElement));
        s.abort(a);
        assert_eq!(&s.elems[..s.n], &before[..]);
        assert!(s.contains(a, 10) && s.contains(a, 20) && s.contains(b, 1));
        // And committed, they go; the other set is untouched.
        s.remove(a, 10, 10).unwrap();
        s.commit(a);
        assert!(!s.contains(a, 10) && s.contains(a, 20) && s.contains(b, 1));
        assert_eq!((s.get(a).unwrap().len, s.total()), (1, 2));
    }
}

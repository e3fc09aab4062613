//! The rule tables (Linux's `nf_tables_api.c`): tables, chains, rules and
//! sets in caller-provided storage, and the operations the nft commands
//! map onto. Everything here is the control path; the packet path is in
//! `eval` and `hook`.
//!
//! - A **table** belongs to a namespace and a family, and holds chains and
//!   sets. Deleting it deletes them.
//! - A **chain** is a base chain (bound to a hook, with a type, a priority
//!   and a policy) or a regular chain (reached by `jump` or `goto`). Its
//!   rules are a doubly linked list through the rule slots, so adding,
//!   inserting and deleting cost no copying.
//! - A **rule** is up to [`MAX_EXPRS`] matches and statements; a rule that
//!   compares with a literal set (`tcp dport { 22, 80 }`) owns an anonymous
//!   set.
//! - Base chains are kept sorted by hook and priority, so a hook visits
//!   exactly its chains, in order.
//!
//! Rules are validated when added, as Linux does: jumps go to regular
//! chains of the same table without loops and at most [`JUMP_DEPTH`] deep,
//! NAT statements are reached only from NAT chains of the right hooks
//! (directly or through jumps), sets exist and hold the right type. The
//! walks over the jump graph this takes are bounded passes over the rules
//! (see `relax`), never a search whose cost grows with the number of paths.

use super::conntrack::{Conntrack, CtSlot};
use super::error::NftErrorKind;
use super::expr::{BaseChain, ChainType, Expr, Family, JUMP_DEPTH, MAX_EXPRS, NatKind, NftName, Policy, Rhs, Verdict};
use super::set::{Elem, Set, Sets};
use super::{NfHook, log::LogState};
use crate::netns::NsId;

/// No slot.
pub(crate) const NIL: u16 = u16::MAX;

/// A table.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Table {
    /// The namespace it filters.
    pub ns: NsId,
    /// Its family.
    pub family: Family,
    /// Its name.
    pub name: NftName,
    /// Its handle.
    pub handle: u32,
}

/// A chain.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Chain {
    /// The table's slot.
    pub table: u16,
    /// Its name.
    pub name: NftName,
    /// How it hangs off a hook, for a base chain.
    pub base: Option<BaseChain>,
    /// Its handle.
    pub handle: u32,
    /// Rules in it.
    pub rules: u32,
    pub(crate) first: u16,
    pub(crate) last: u16,
    /// Creation order (ties of priority go to the older chain).
    pub(crate) seq: u64,
    /// Rules that jump or go to it.
    pub(crate) refs: u32,
}

/// A rule.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rule {
    /// The chain's slot.
    pub chain: u16,
    /// Its handle.
    pub handle: u32,
    /// Its matches and statements.
    pub exprs: heapless::Vec<Expr, MAX_EXPRS>,
    /// Packets its `counter` counted.
    pub packets: u64,
    /// Bytes its `counter` counted.
    pub bytes: u64,
    pub(crate) prev: u16,
    pub(crate) next: u16,
}

/// Namespaces as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct NsMask([u64; 4]);

impl NsMask {
    pub(crate) fn get(&self, ns: NsId) -> bool {
        self.0[usize::from(ns.0 >> 6)] & (1 << (ns.0 & 63)) != 0
    }

    fn set(&mut self, ns: NsId) {
        self.0[usize::from(ns.0 >> 6)] |= 1 << (ns.0 & 63);
    }
}

/// Which namespaces need what, recomputed on every change.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Active {
    /// A base chain at the hook (by [`hook_index`]).
    pub hooks: [NsMask; 5],
    /// Connection tracking (a `ct` match or a NAT chain).
    pub ct: NsMask,
    /// NAT chains.
    pub nat: NsMask,
}

/// The hook's position in tables.
pub(crate) fn hook_index(h: NfHook) -> usize {
    match h {
        NfHook::PreRouting => 0,
        NfHook::LocalIn => 1,
        NfHook::Forward => 2,
        NfHook::LocalOut => 3,
        NfHook::PostRouting => 4,
    }
}

/// Counters of the rule engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NftStats {
    /// Packets that went through at least one base chain.
    pub evaluated: u64,
    /// Packets dropped by a rule or a policy.
    pub dropped: u64,
    /// Packets rejected (answered with ICMP or a reset).
    pub rejected: u64,
    /// Jumps that would have gone deeper than [`JUMP_DEPTH`] (dropped).
    pub stack_overflow: u64,
}

/// Memory for the rule tables: `TABLES` tables, `CHAINS` chains, `RULES`
/// rules, `SETS` sets (anonymous ones included) sharing `ELEMS` elements,
/// and `CT` tracked connections (plus one `u16` a chain, for validating
/// jumps). Give it to
/// [`World::attach_nft`](crate::netns::World::attach_nft).
pub struct NftStorage<
    const TABLES: usize,
    const CHAINS: usize,
    const RULES: usize,
    const SETS: usize,
    const ELEMS: usize,
    const CT: usize,
> {
    pub(crate) tables: [Option<Table>; TABLES],
    pub(crate) chains: [Option<Chain>; CHAINS],
    pub(crate) base: [u16; CHAINS],
    pub(crate) scratch: [u16; CHAINS],
    pub(crate) rules: [Option<Rule>; RULES],
    pub(crate) sets: [Option<Set>; SETS],
    pub(crate) elems: [Elem; ELEMS],
    pub(crate) ct: [CtSlot; CT],
    pub(crate) ct_buckets: [u16; CT],
}

impl<
    const TABLES: usize,
    const CHAINS: usize,
    const RULES: usize,
    const SETS: usize,
    const ELEMS: usize,
    const CT: usize,
> NftStorage<TABLES, CHAINS, RULES, SETS, ELEMS, CT>
{
    /// Empty storage.
    pub const fn new() -> Self {
        const {
            assert!(TABLES < NIL as usize && CHAINS < NIL as usize && RULES < NIL as usize);
            assert!(SETS < NIL as usize && CT < (NIL as usize) / 2);
        }
        NftStorage {
            tables: [const { None }; TABLES],
            chains: [const { None }; CHAINS],
            base: [NIL; CHAINS],
            scratch: [0; CHAINS],
            rules: [const { None }; RULES],
            sets: [const { None }; SETS],
            elems: [Elem::EMPTY; ELEMS],
            ct: [CtSlot::EMPTY; CT],
            ct_buckets: [NIL; CT],
        }
    }
}

impl<
    const TABLES: usize,
    const CHAINS: usize,
    const RULES: usize,
    const SETS: usize,
    const ELEMS: usize,
    const CT: usize,
> Default for NftStorage<TABLES, CHAINS, RULES, SETS, ELEMS, CT>
{
    fn default() -> Self {
        Self::new()
    }
}

/// A small configuration: 8 tables, 32 chains, 256 rules, 32 sets of 1,024
/// elements in all, 1,024 connections.
pub type SmallNftStorage = NftStorage<8, 32, 256, 32, 1024, 1024>;

/// The rule engine: tables, chains, rules, sets and the connection table.
pub struct Nft<'a> {
    pub(crate) tables: &'a mut [Option<Table>],
    pub(crate) chains: &'a mut [Option<Chain>],
    pub(crate) rules: &'a mut [Option<Rule>],
    pub(crate) sets: Sets<'a>,
    pub(crate) ct: Conntrack<'a>,
    /// Base chain slots sorted by (hook, priority, age).
    base: &'a mut [u16],
    /// One value per chain slot, for the walks over the jump graph.
    scratch: &'a mut [u16],
    n_base: usize,
    /// Each hook's range of `base`.
    hook_ranges: [(u16, u16); 5],
    pub(crate) active: Active,
    next_handle: u32,
    next_seq: u64,
    pub(crate) stats: NftStats,
    pub(crate) log: LogState,
}

impl<'a> Nft<'a> {
    /// The engine over `storage`; `key` keys the connection table's hash.
    pub(crate) fn new<
        const T: usize,
        const C: usize,
        const R: usize,
        const S: usize,
        const E: usize,
        const K: usize,
    >(
        storage: &'a mut NftStorage<T, C, R, S, E, K>,
        key: [u8; 16],
    ) -> Nft<'a> {
        Nft {
            tables: &mut storage.tables,
            chains: &mut storage.chains,
            rules: &mut storage.rules,
            sets: Sets::new(&mut storage.sets, &mut storage.elems),
            ct: Conntrack::new(&mut storage.ct, &mut storage.ct_buckets, key),
            base: &mut storage.base,
            scratch: &mut storage.scratch,
            n_base: 0,
            hook_ranges: [(0, 0); 5],
            active: Active::default(),
            next_handle: 1,
            next_seq: 0,
            stats: NftStats::default(),
            log: LogState::new(),
        }
    }

    /// The engine's counters.
    pub fn stats(&self) -> NftStats {
        self.stats
    }

    /// Log statements' counters: lines written and lines held back by the
    /// rate limit.
    pub fn log_stats(&self) -> (u64, u64) {
        (self.log.emitted, self.log.suppressed)
    }

    /// The last line a `log` statement wrote (for tests and shells without
    /// a logger).
    pub fn last_log(&self) -> &str {
        self.log.last.as_str()
    }

    /// The connection table's counters.
    pub fn ct_stats(&self) -> super::conntrack::CtStats {
        self.ct.stats
    }

    /// The connection table's timeouts.
    pub fn ct_timeouts(&self) -> super::conntrack::CtTimeouts {
        self.ct.timeouts
    }

    /// Change the connection table's timeouts (`sysctl net.netfilter...`).
    pub fn set_ct_timeouts(&mut self, t: super::conntrack::CtTimeouts) {
        self.ct.timeouts = t;
    }

    /// Connections the table holds at most.
    pub fn ct_capacity(&self) -> usize {
        self.ct.capacity()
    }

    fn handle(&mut self) -> u32 {
        let h = self.next_handle;
        self.next_handle = self.next_handle.wrapping_add(1).max(1);
        h
    }

    pub(crate) fn table(&self, t: u16) -> Option<&Table> {
        self.tables.get(usize::from(t)).and_then(Option::as_ref)
    }

    pub(crate) fn chain(&self, c: u16) -> Option<&Chain> {
        self.chains.get(usize::from(c)).and_then(Option::as_ref)
    }

    fn chain_mut(&mut self, c: u16) -> Option<&mut Chain> {
        self.chains.get_mut(usize::from(c)).and_then(Option::as_mut)
    }

    pub(crate) fn rule(&self, r: u16) -> Option<&Rule> {
        self.rules.get(usize::from(r)).and_then(Option::as_ref)
    }

    fn rule_mut(&mut self, r: u16) -> Option<&mut Rule> {
        self.rules.get_mut(usize::from(r)).and_then(Option::as_mut)
    }

    /// The table `name` of `family` in `ns`.
    pub fn find_table(&self, ns: NsId, family: Family, name: &str) -> Option<u16> {
        self.tables
            .iter()
            .position(|t| t.as_ref().is_some_and(|t| t.ns == ns && t.family == family && t.name == name))
            .map(|i| i as u16)
    }

    /// The chain `name` of table `t`.
    pub fn find_chain(&self, t: u16, name: &str) -> Option<u16> {
        self.chains.iter().position(|c| c.as_ref().is_some_and(|c| c.table == t && c.name == name)).map(|i| i as u16)
    }

    /// The named set `name` of table `t`.
    pub fn find_set(&self, t: u16, name: &str) -> Option<u16> {
        self.sets.find(t, name)
    }

    /// Tables of `ns`, by slot.
    pub fn tables_of(&self, ns: NsId) -> impl Iterator<Item = u16> + '_ {
        self.tables
            .iter()
            .enumerate()
            .filter(move |(_, t)| t.as_ref().is_some_and(|t| t.ns == ns))
            .map(|(i, _)| i as u16)
    }

    /// Chains of table `t`, by slot, in creation order.
    pub fn chains_of(&self, t: u16) -> ChainIter<'_, 'a> {
        ChainIter { nft: self, table: t, after: None }
    }

    /// Named sets of table `t`, by slot.
    pub fn sets_of(&self, t: u16) -> impl Iterator<Item = u16> + '_ {
        self.sets
            .sets
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.as_ref().is_some_and(|s| s.table == t && !s.anonymous))
            .map(|(i, _)| i as u16)
    }

    /// The rules of chain `c`, in order.
    pub fn rules_of(&self, c: u16) -> RuleIter<'_, 'a> {
        RuleIter { nft: self, next: self.chain(c).map_or(NIL, |c| c.first), left: self.rules.len() }
    }

    /// Create table `name`; `create` refuses an existing one, `add` does not.
    pub fn add_table(&mut self, ns: NsId, family: Family, name: &str, create: bool) -> Result<u16, NftErrorKind> {
        if let Some(t) = self.find_table(ns, family, name) {
            return if create { Err(NftErrorKind::Exists) } else { Ok(t) };
        }
        let name = NftName::try_from(name).map_err(|_| NftErrorKind::BadValue("name longer than 31 bytes"))?;
        let slot = self.tables.iter().position(Option::is_none).ok_or(NftErrorKind::Full("tables"))?;
        let handle = self.handle();
        self.tables[slot] = Some(Table { ns, family, name, handle });
        Ok(slot as u16)
    }

    /// Delete table `t` with its chains, rules and sets.
    pub fn delete_table(&mut self, t: u16) {
        self.flush_table(t);
        for c in 0..self.chains.len() as u16 {
            if self.chain(c).is_some_and(|ch| ch.table == t) {
                self.unlink_base(c);
                self.chains[usize::from(c)] = None;
            }
        }
        for s in 0..self.sets.sets.len() as u16 {
            if self.sets.get(s).is_some_and(|x| x.table == t) {
                self.sets.delete(s);
            }
        }
        if let Some(slot) = self.tables.get_mut(usize::from(t)) {
            *slot = None;
        }
        self.refresh();
    }

    /// Delete every rule of table `t` (`flush table`).
    pub fn flush_table(&mut self, t: u16) {
        for c in 0..self.chains.len() as u16 {
            if self.chain(c).is_some_and(|ch| ch.table == t) {
                self.flush_chain(c);
            }
        }
    }

    /// Delete every table of `ns` (`flush ruleset`).
    pub fn flush_ruleset(&mut self, ns: NsId) {
        for t in 0..self.tables.len() as u16 {
            if self.table(t).is_some_and(|x| x.ns == ns) {
                self.delete_table(t);
            }
        }
    }

    /// Create chain `name` in table `t`, a base chain if `base` is given.
    /// `add` of an existing chain with the same (or no) base description
    /// succeeds; `create` refuses it.
    pub fn add_chain(
        &mut self,
        t: u16,
        name: &str,
        base: Option<BaseChain>,
        create: bool,
    ) -> Result<u16, NftErrorKind> {
        if let Some(c) = self.find_chain(t, name) {
            let same = base.is_none() || self.chain(c).is_some_and(|ch| ch.base == base);
            return match (create, same) {
                (true, _) => Err(NftErrorKind::Exists),
                (false, true) => Ok(c),
                (false, false) => Err(NftErrorKind::Invalid("chain exists with another type, hook or priority")),
            };
        }
        if let Some(b) = base {
            let hook_ok = match b.ty {
                ChainType::Filter => true,
                ChainType::Nat => b.hook != NfHook::Forward,
            };
            if !hook_ok {
                return Err(NftErrorKind::Invalid("nat chains cannot hook forward"));
            }
        }
        let name = NftName::try_from(name).map_err(|_| NftErrorKind::BadValue("name longer than 31 bytes"))?;
        let slot = self.chains.iter().position(Option::is_none).ok_or(NftErrorKind::Full("chains"))?;
        let handle = self.handle();
        let seq = self.next_seq;
        // 64 bits: no chain count a caller can make wraps it.
        self.next_seq += 1;
        self.chains[slot] = Some(Chain { table: t, name, base, handle, rules: 0, first: NIL, last: NIL, seq, refs: 0 });
        if base.is_some() {
            self.link_base(slot as u16);
        }
        self.refresh();
        Ok(slot as u16)
    }

    /// Delete chain `c`: it must have no rules and no jumps to it.
    pub fn delete_chain(&mut self, c: u16) -> Result<(), NftErrorKind> {
        let ch = self.chain(c).ok_or(NftErrorKind::NoSuchChain)?;
        if ch.rules > 0 || ch.refs > 0 {
            return Err(NftErrorKind::Busy);
        }
        self.unlink_base(c);
        self.chains[usize::from(c)] = None;
        self.refresh();
        Ok(())
    }

    /// Delete every rule of chain `c` (`flush chain`).
    pub fn flush_chain(&mut self, c: u16) {
        let mut r = self.chain(c).map_or(NIL, |ch| ch.first);
        for _ in 0..self.rules.len() {
            if r == NIL {
                break;
            }
            let next = self.rule(r).map_or(NIL, |x| x.next);
            self.remove_rule(r);
            r = next;
        }
        self.refresh();
    }

    /// Change the policy of base chain `c`.
    pub fn set_policy(&mut self, c: u16, policy: Policy) -> Result<(), NftErrorKind> {
        match self.chain_mut(c).and_then(|ch| ch.base.as_mut()) {
            Some(b) => {
                b.policy = policy;
                Ok(())
            }
            None => Err(NftErrorKind::Invalid("only base chains have a policy")),
        }
    }

    fn base_key(&self, c: u16) -> (usize, i32, u64) {
        match self.chain(c) {
            Some(ch) => ch.base.map_or((9, 0, ch.seq), |b| (hook_index(b.hook), b.priority, ch.seq)),
            None => (9, 0, 0),
        }
    }

    fn link_base(&mut self, c: u16) {
        if self.n_base >= self.base.len() {
            return;
        }
        let key = self.base_key(c);
        let mut p = self.n_base;
        while p > 0 && self.base_key(self.base[p - 1]) > key {
            self.base[p] = self.base[p - 1];
            p -= 1;
        }
        self.base[p] = c;
        self.n_base += 1;
        self.index_hooks();
    }

    fn unlink_base(&mut self, c: u16) {
        if let Some(p) = self.base[..self.n_base].iter().position(|&x| x == c) {
            self.base.copy_within(p + 1..self.n_base, p);
            self.n_base -= 1;
        }
        self.index_hooks();
    }

    /// The base chains (all namespaces) at `hook`, in priority order.
    pub(crate) fn base_chains(&self, hook: NfHook) -> &[u16] {
        let (a, b) = self.hook_ranges[hook_index(hook)];
        self.base.get(usize::from(a)..usize::from(b)).unwrap_or(&[])
    }

    /// Where each hook's chains lie in `base`, after it changed.
    fn index_hooks(&mut self) {
        let live = &self.base[..self.n_base];
        for (h, r) in self.hook_ranges.iter_mut().enumerate() {
            let key = |c: &u16| match self.chains.get(usize::from(*c)).and_then(Option::as_ref).and_then(|ch| ch.base) {
                Some(b) => hook_index(b.hook),
                None => 9,
            };
            let a = live.partition_point(|c| key(c) < h);
            let b = live.partition_point(|c| key(c) <= h);
            *r = (a as u16, b as u16);
        }
    }

    /// Recompute which namespaces need which hooks, conntrack and NAT.
    fn refresh(&mut self) {
        let mut a = Active::default();
        for c in self.chains.iter().flatten() {
            let Some(ns) = self.table(c.table).map(|t| t.ns) else { continue };
            if let Some(b) = c.base {
                a.hooks[hook_index(b.hook)].set(ns);
                if b.ty == ChainType::Nat {
                    a.nat.set(ns);
                    a.ct.set(ns);
                }
            }
        }
        for r in self.rules.iter().flatten() {
            let uses_ct = r.exprs.iter().any(|e| matches!(e, Expr::CtState { .. } | Expr::Nat(_)));
            if uses_ct && let Some(ns) = self.chain(r.chain).and_then(|c| self.table(c.table)).map(|t| t.ns) {
                a.ct.set(ns);
            }
        }
        if a.ct.0 != [0; 4] {
            // Conntrack looks at every hook of the namespaces it tracks.
            for h in a.hooks.iter_mut() {
                for (w, c) in h.0.iter_mut().zip(a.ct.0) {
                    *w |= c;
                }
            }
        }
        self.active = a;
    }

    /// True when `hook` has work in `ns`.
    pub(crate) fn hook_active(&self, ns: NsId, hook: NfHook) -> bool {
        self.active.hooks[hook_index(hook)].get(ns)
    }

    /// Add a rule of `exprs` to chain `c`: at the end, or after the rule
    /// with handle `position`; with `insert`, at the start or before it.
    /// Returns its handle.
    pub fn add_rule(
        &mut self,
        c: u16,
        exprs: &[Expr],
        position: Option<u32>,
        insert: bool,
    ) -> Result<u32, NftErrorKind> {
        let exprs: heapless::Vec<Expr, MAX_EXPRS> =
            heapless::Vec::from_slice(exprs).map_err(|_| NftErrorKind::Full("expressions in one rule"))?;
        self.validate(c, &exprs)?;
        let anchor = match position {
            Some(h) => Some(self.find_rule(c, h).ok_or(NftErrorKind::NoSuchRule)?),
            None => None,
        };
        let slot = self.rules.iter().position(Option::is_none).ok_or(NftErrorKind::Full("rules"))? as u16;
        for e in &exprs {
            match e {
                Expr::Verdict(Verdict::Jump(t) | Verdict::Goto(t)) => {
                    if let Some(ch) = self.chain_mut(*t) {
                        ch.refs += 1;
                    }
                }
                Expr::Cmp { rhs: Rhs::Set(s), .. } => {
                    if let Some(Some(set)) = self.sets.sets.get_mut(usize::from(*s)) {
                        set.refs += 1;
                    }
                }
                _ => {}
            }
        }
        let handle = self.handle();
        self.rules[usize::from(slot)] =
            Some(Rule { chain: c, handle, exprs, packets: 0, bytes: 0, prev: NIL, next: NIL });
        let (first, last) = self.chain(c).map_or((NIL, NIL), |ch| (ch.first, ch.last));
        let (prev, next) = match (anchor, insert) {
            (Some(a), false) => (a, self.rule(a).map_or(NIL, |r| r.next)),
            (Some(a), true) => (self.rule(a).map_or(NIL, |r| r.prev), a),
            (None, false) => (last, NIL),
            (None, true) => (NIL, first),
        };
        self.link_rule(c, slot, prev, next);
        self.refresh();
        Ok(handle)
    }

    fn link_rule(&mut self, c: u16, slot: u16, prev: u16, next: u16) {
        if let Some(r) = self.rule_mut(slot) {
            r.prev = prev;
            r.next = next;
        }
        match self.rule_mut(prev) {
            Some(p) => p.next = slot,
            None => {
                if let Some(ch) = self.chain_mut(c) {
                    ch.first = slot;
                }
            }
        }
        match self.rule_mut(next) {
            Some(n) => n.prev = slot,
            None => {
                if let Some(ch) = self.chain_mut(c) {
                    ch.last = slot;
                }
            }
        }
        if let Some(ch) = self.chain_mut(c) {
            ch.rules += 1;
        }
    }

    /// The slot of the rule with handle `h` in chain `c`.
    fn find_rule(&self, c: u16, h: u32) -> Option<u16> {
        self.rules.iter().position(|r| r.as_ref().is_some_and(|r| r.chain == c && r.handle == h)).map(|i| i as u16)
    }

    /// Delete the rule with handle `h` from chain `c`.
    pub fn delete_rule(&mut self, c: u16, h: u32) -> Result<(), NftErrorKind> {
        let r = self.find_rule(c, h).ok_or(NftErrorKind::NoSuchRule)?;
        self.remove_rule(r);
        self.refresh();
        Ok(())
    }

    fn remove_rule(&mut self, slot: u16) {
        let Some(r) = self.rules.get_mut(usize::from(slot)).and_then(Option::take) else { return };
        match self.rule_mut(r.prev) {
            Some(p) => p.next = r.next,
            None => {
                if let Some(ch) = self.chain_mut(r.chain) {
                    ch.first = r.next;
                }
            }
        }
        match self.rule_mut(r.next) {
            Some(n) => n.prev = r.prev,
            None => {
                if let Some(ch) = self.chain_mut(r.chain) {
                    ch.last = r.prev;
                }
            }
        }
        if let Some(ch) = self.chain_mut(r.chain) {
            ch.rules = ch.rules.saturating_sub(1);
        }
        for e in &r.exprs {
            match e {
                Expr::Verdict(Verdict::Jump(t) | Verdict::Goto(t)) => {
                    if let Some(ch) = self.chain_mut(*t) {
                        ch.refs = ch.refs.saturating_sub(1);
                    }
                }
                Expr::Cmp { rhs: Rhs::Set(s), .. } => {
                    let anon = match self.sets.sets.get_mut(usize::from(*s)) {
                        Some(Some(set)) => {
                            set.refs = set.refs.saturating_sub(1);
                            set.anonymous && set.refs == 0
                        }
                        _ => false,
                    };
                    if anon {
                        self.sets.delete(*s);
                    }
                }
                _ => {}
            }
        }
    }

    /// Linux's rule validation: see the module documentation. A NAT
    /// statement is checked against every base chain that reaches the rule,
    /// through jumps and gotos, as Linux's `nft_chain_validate` does: in a
    /// regular chain reached from a filter chain it would do nothing, so it
    /// is refused (and so is a jump that would make it reachable).
    fn validate(&mut self, c: u16, exprs: &[Expr]) -> Result<(), NftErrorKind> {
        let table = self.chain(c).ok_or(NftErrorKind::NoSuchChain)?.table;
        let mut nat = 0u8;
        for e in exprs {
            match e {
                Expr::Verdict(Verdict::Jump(t) | Verdict::Goto(t)) => {
                    let target = self.chain(*t).ok_or(NftErrorKind::NoSuchChain)?;
                    if target.table != table {
                        return Err(NftErrorKind::Invalid("jumps stay within a table"));
                    }
                    if target.base.is_some() {
                        return Err(NftErrorKind::Invalid("cannot jump to a base chain"));
                    }
                    if *t == c || !self.mark_reach(*t, true) || self.scratch_at(c) != 0 {
                        return Err(NftErrorKind::Invalid("jump would make a loop"));
                    }
                    nat |= self.nat_in_marked();
                    let below = self.longest(false).then(|| self.scratch_at(*t));
                    let above = self.longest(true).then(|| self.scratch_at(c));
                    match (above, below) {
                        (Some(a), Some(b)) if usize::from(a) + 1 + usize::from(b) <= JUMP_DEPTH => {}
                        _ => return Err(NftErrorKind::Invalid("chains nest deeper than 16")),
                    }
                }
                Expr::Nat(n) => nat |= nat_bit(n.kind),
                Expr::Cmp { key, rhs: Rhs::Set(s), .. } => {
                    let set = self.sets.get(*s).ok_or(NftErrorKind::NoSuchSet)?;
                    if set.key != key.kind() {
                        return Err(NftErrorKind::Invalid("the set holds another type"));
                    }
                }
                _ => {}
            }
        }
        if nat != 0 { self.check_nat(c, nat) } else { Ok(()) }
    }

    /// Every base chain that reaches chain `c` (or is `c`) must be a NAT
    /// chain at a hook where each NAT statement of `kinds` belongs.
    fn check_nat(&mut self, c: u16, kinds: u8) -> Result<(), NftErrorKind> {
        const SRC: &str = "snat and masquerade belong in a nat chain at postrouting or input";
        const DST: &str = "dnat belongs in a nat chain at prerouting or output";
        if !self.mark_reach(c, false) {
            return Err(NftErrorKind::Invalid(SRC));
        }
        for (i, ch) in self.chains.iter().enumerate() {
            let Some(b) = ch.as_ref().and_then(|ch| ch.base) else { continue };
            if self.scratch.get(i).is_none_or(|m| *m == 0) {
                continue;
            }
            let nat = b.ty == ChainType::Nat;
            if kinds & nat_bit(NatKind::Snat) != 0 && !(nat && matches!(b.hook, NfHook::PostRouting | NfHook::LocalIn))
            {
                return Err(NftErrorKind::Invalid(SRC));
            }
            if kinds & nat_bit(NatKind::Dnat) != 0 && !(nat && matches!(b.hook, NfHook::PreRouting | NfHook::LocalOut))
            {
                return Err(NftErrorKind::Invalid(DST));
            }
        }
        Ok(())
    }

    /// The scratch value of chain slot `c`.
    fn scratch_at(&self, c: u16) -> u16 {
        self.scratch.get(usize::from(c)).copied().unwrap_or(0)
    }

    /// The NAT statements (as [`nat_bit`]s) of the chains marked in the
    /// scratch array.
    fn nat_in_marked(&self) -> u8 {
        let mut kinds = 0;
        for r in self.rules.iter().flatten() {
            if self.scratch_at(r.chain) != 0 {
                for e in &r.exprs {
                    if let Expr::Nat(n) = e {
                        kinds |= nat_bit(n.kind);
                    }
                }
            }
        }
        kinds
    }

    /// Mark in the scratch array the chains reachable from `from` by jumps
    /// and gotos (`forward`), or those that reach it, `from` included.
    /// Each round follows every edge once; the graph is acyclic and at most
    /// [`JUMP_DEPTH`] deep, so [`ROUNDS`] rounds settle it: O(ROUNDS x
    /// rules) in all, whatever the shape of the graph. `false` if it did
    /// not settle (the caller refuses the rule).
    fn mark_reach(&mut self, from: u16, forward: bool) -> bool {
        self.scratch.fill(0);
        if let Some(m) = self.scratch.get_mut(usize::from(from)) {
            *m = 1;
        }
        let (rules, marks) = (&*self.rules, &mut *self.scratch);
        relax(rules, forward, |a, b| {
            let on = marks.get(a).is_some_and(|m| *m != 0);
            match marks.get_mut(b) {
                Some(m) if on && *m == 0 => {
                    *m = 1;
                    true
                }
                _ => false,
            }
        })
    }

    /// The longest jump path in the scratch array: ending at each chain
    /// (`forward`: how deep it nests below a chain nothing jumps to), or
    /// starting at it (how deep the chains below it nest). Bounded like
    /// [`Self::mark_reach`]; values stop at `JUMP_DEPTH + 1`.
    fn longest(&mut self, forward: bool) -> bool {
        self.scratch.fill(0);
        let (rules, val) = (&*self.rules, &mut *self.scratch);
        relax(rules, forward, |a, b| {
            let v = val.get(a).map_or(0, |v| (*v + 1).min(JUMP_DEPTH as u16 + 1));
            match val.get_mut(b) {
                Some(w) if v > *w => {
                    *w = v;
                    true
                }
                _ => false,
            }
        })
    }

    /// Create a set in table `t`.
    pub fn add_set(&mut self, t: u16, set: Set, create: bool) -> Result<u16, NftErrorKind> {
        if !set.anonymous
            && let Some(s) = self.sets.find(t, &set.name)
        {
            return if create { Err(NftErrorKind::Exists) } else { Ok(s) };
        }
        let handle = self.handle();
        self.sets.create(Set { table: t, handle, len: 0, refs: 0, ..set })
    }

    /// Delete set `s`: no rule may use it.
    pub fn delete_set(&mut self, s: u16) -> Result<(), NftErrorKind> {
        let set = self.sets.get(s).ok_or(NftErrorKind::NoSuchSet)?;
        if set.refs > 0 {
            return Err(NftErrorKind::Busy);
        }
        self.sets.delete(s);
        Ok(())
    }

    /// A set's description.
    pub fn set(&self, s: u16) -> Option<&Set> {
        self.sets.get(s)
    }

    /// A set's elements as intervals, in order.
    pub fn set_elems(&self, s: u16) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.sets.elems(s).iter().map(Elem::range)
    }

    /// Add `[lo, hi]` to set `s`.
    pub fn add_elem(&mut self, s: u16, lo: u32, hi: u32) -> Result<(), NftErrorKind> {
        self.add_elems(s, &[(lo, hi)]).map_err(|(_, k)| k)
    }

    /// Remove `[lo, hi]` from set `s`.
    pub fn delete_elem(&mut self, s: u16, lo: u32, hi: u32) -> Result<(), NftErrorKind> {
        self.delete_elems(s, &[(lo, hi)]).map_err(|(_, k)| k)
    }

    /// Add every interval of `elems` to set `s`, or none: on error the set
    /// is as it was, and the error says which element failed.
    pub fn add_elems(&mut self, s: u16, elems: &[(u32, u32)]) -> Result<(), (usize, NftErrorKind)> {
        self.stage_elems(s, elems, true)
    }

    /// Remove every interval of `elems` from set `s`, or none.
    pub fn delete_elems(&mut self, s: u16, elems: &[(u32, u32)]) -> Result<(), (usize, NftErrorKind)> {
        self.stage_elems(s, elems, false)
    }

    fn stage_elems(&mut self, s: u16, elems: &[(u32, u32)], add: bool) -> Result<(), (usize, NftErrorKind)> {
        for (i, &(lo, hi)) in elems.iter().enumerate() {
            if let Err(k) = self.stage_elem(s, lo, hi, add) {
                self.finish_elems(s, false);
                return Err((i, k));
            }
        }
        self.finish_elems(s, true);
        Ok(())
    }

    /// Stage adding (`add`) or removing `[lo, hi]` in set `s`; the change
    /// is kept or undone by [`Self::finish_elems`].
    pub(crate) fn stage_elem(&mut self, s: u16, lo: u32, hi: u32, add: bool) -> Result<(), NftErrorKind> {
        let set = self.sets.get(s).ok_or(NftErrorKind::NoSuchSet)?;
        if !add {
            return self.sets.remove(s, lo, hi);
        }
        if lo != hi && !set.interval {
            return Err(NftErrorKind::Invalid("ranges and prefixes need a set with flags interval"));
        }
        if hi > set.key.max() {
            return Err(NftErrorKind::BadValue("out of the set type's range"));
        }
        self.sets.insert(s, lo, hi)
    }

    /// Keep (`commit`) or undo the changes staged in set `s`.
    pub(crate) fn finish_elems(&mut self, s: u16, commit: bool) {
        if commit { self.sets.commit(s) } else { self.sets.abort(s) }
    }

    /// Remove every element of set `s`.
    pub fn flush_set(&mut self, s: u16) {
        self.sets.flush(s);
    }
}

/// Rounds of [`relax`]: a path in the jump graph has at most
/// [`JUMP_DEPTH`] edges, and one more round shows nothing changes.
const ROUNDS: usize = JUMP_DEPTH + 2;

/// The bit of a NAT statement's kind: source (snat, masquerade) or
/// destination (dnat).
fn nat_bit(k: NatKind) -> u8 {
    match k {
        NatKind::Snat | NatKind::Masquerade => 1,
        NatKind::Dnat => 2,
    }
}

/// Call `step(from, to)` for every jump and goto edge of every rule (its
/// reverse when not `forward`), round after round, until no call changes
/// anything (true) or [`ROUNDS`] rounds have passed (false).
fn relax(rules: &[Option<Rule>], forward: bool, mut step: impl FnMut(usize, usize) -> bool) -> bool {
    for _ in 0..ROUNDS {
        let mut changed = false;
        for r in rules.iter().flatten() {
            for e in &r.exprs {
                if let Expr::Verdict(Verdict::Jump(t) | Verdict::Goto(t)) = e {
                    let (x, y) = (usize::from(r.chain), usize::from(*t));
                    changed |= if forward { step(x, y) } else { step(y, x) };
                }
            }
        }
        if !changed {
            return true;
        }
    }
    false
}

/// The chains of a table in creation order (see [`Nft::chains_of`]).
pub struct ChainIter<'n, 'a> {
    nft: &'n Nft<'a>,
    table: u16,
    after: Option<u64>,
}

impl Iterator for ChainIter<'_, '_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        let (slot, seq) = self
            .nft
            .chains
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().filter(|c| c.table == self.table).map(|c| (i as u16, c.seq)))
            .filter(|&(_, seq)| self.after.is_none_or(|a| seq > a))
            .min_by_key(|&(_, seq)| seq)?;
        self.after = Some(seq);
        Some(slot)
    }
}

/// The rules of a chain, in order, with their slots.
pub struct RuleIter<'n, 'a> {
    nft: &'n Nft<'a>,
    next: u16,
    left: usize,
}

impl<'n> Iterator for RuleIter<'n, '_> {
    type Item = (u16, &'n Rule);

    fn next(&mut self) -> Option<(u16, &'n Rule)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let slot = self.next;
        let r = self.nft.rule(slot)?;
        self.next = r.next;
        Some((slot, r))
    }
}

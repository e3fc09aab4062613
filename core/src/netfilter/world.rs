//! The world's side of the rule tables: attaching their storage, running
//! nft commands, and reading the connection table (`conntrack -L`).

use core::fmt;

use super::NfHooks;
use super::conntrack::{CtStats, CtView};
use super::error::{NftError, NftErrorKind, Span};
use super::parse::{self, IfaceNames};
use super::table::{Nft, NftStorage};
use crate::netns::{Iface, NsId, World};
use crate::skb::IfIndex;
use crate::time::Instant;

/// The interfaces of one namespace, for the commands.
struct NsIfaces<'w, 'a> {
    ifaces: &'w [Option<Iface<'a>>],
    ns: NsId,
}

impl IfaceNames for NsIfaces<'_, '_> {
    fn index(&self, name: &str) -> Option<IfIndex> {
        self.ifaces.iter().flatten().find(|i| i.ns == self.ns && i.name == name).map(|i| i.ifindex)
    }

    fn name(&self, ifindex: IfIndex) -> Option<&str> {
        let i = crate::netns::iface_in(self.ifaces, ifindex)?;
        (i.ns == self.ns).then_some(i.name.as_str())
    }
}

impl<'a, H: NfHooks> World<'a, H> {
    /// Give the world rule tables and a connection table in `storage`
    /// (once; `Err(Exists)` the second time). Until then every hook costs
    /// one `None` check and nft commands answer
    /// [`NftErrorKind::NotAttached`].
    pub fn attach_nft<
        const TABLES: usize,
        const CHAINS: usize,
        const RULES: usize,
        const SETS: usize,
        const ELEMS: usize,
        const CT: usize,
    >(
        &mut self,
        storage: &'a mut NftStorage<TABLES, CHAINS, RULES, SETS, ELEMS, CT>,
    ) -> Result<(), NftErrorKind> {
        if self.nft.is_some() {
            return Err(NftErrorKind::Exists);
        }
        // The connection table's hash key, derived from the world's secret.
        let a = self.keyed_hash(b"nf_conntrack hash key, part 1");
        let b = self.keyed_hash(b"nf_conntrack hash key, part 2");
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&a.to_le_bytes());
        key[8..].copy_from_slice(&b.to_le_bytes());
        self.nft = Some(Nft::new(storage, key));
        Ok(())
    }

    /// Run one `nft` command in namespace `ns`, word for word as the nft
    /// tool takes it (see [`super::parse`] for the language);
    /// listings are written to `out`. On error nothing changed, and the
    /// error points at the offending word ([`NftError::report`]).
    ///
    /// ```text
    /// world.nft(ns, "add table inet filter", &mut out)?;
    /// world.nft(ns, "add chain inet filter input { type filter hook input priority 0 ; policy accept ; }", &mut out)?;
    /// world.nft(ns, "add rule inet filter input tcp dport 22 drop", &mut out)?;
    /// world.nft(ns, "list table inet filter", &mut out)?;
    /// ```
    pub fn nft(&mut self, ns: NsId, cmd: &str, out: &mut impl fmt::Write) -> Result<(), NftError> {
        if self.netns(ns).is_none() {
            return Err(NftError::new(NftErrorKind::NoNamespace, Span::default()));
        }
        let ifaces = NsIfaces { ifaces: self.ifaces, ns };
        let Some(nft) = self.nft.as_mut() else {
            return Err(NftError::new(NftErrorKind::NotAttached, Span::default()));
        };
        parse::execute(nft, &ifaces, ns, cmd, out)
    }

    /// The rule engine, for its counters and typed access.
    pub fn nft_tables(&self) -> Option<&Nft<'a>> {
        self.nft.as_ref()
    }

    /// The rule engine, to change it through typed calls.
    pub fn nft_tables_mut(&mut self) -> Option<&mut Nft<'a>> {
        self.nft.as_mut()
    }

    /// The connections tracked in `ns` (`conntrack -L`), each printable in
    /// conntrack's format.
    pub fn conntrack(&self, ns: NsId) -> impl Iterator<Item = CtView> + '_ {
        let now = self.now;
        self.nft
            .iter()
            .flat_map(move |n| n.ct.iter().filter(move |(_, e)| e.ns == ns && e.expires > now))
            .map(move |(_, e)| CtView::of(e, now))
    }

    /// Conntrack's counters (`conntrack -S`); zeros when not attached.
    pub fn conntrack_stats(&self) -> CtStats {
        self.nft.as_ref().map_or_else(CtStats::default, |n| n.ct.stats)
    }

    /// Forget every connection of `ns` (`conntrack -F`).
    pub fn conntrack_flush(&mut self, ns: NsId) {
        if let Some(n) = self.nft.as_mut() {
            n.ct.flush(Some(ns), |_| true);
        }
    }

    /// Forget connections masqueraded out of `ifindex`: all of them when
    /// it goes down, or those that took address `addr` when that address
    /// is deleted (Linux's masquerade device and address notifiers). Kept,
    /// such an entry would go on rewriting a flow to a source the router no
    /// longer owns (or out of a link that is gone), and a UDP flow keeps
    /// refreshing it, so it would never heal.
    pub(crate) fn masq_forget(&mut self, ifindex: IfIndex, addr: Option<core::net::Ipv4Addr>) {
        if let Some(n) = self.nft.as_mut() {
            let reply = super::conntrack::REPLY;
            n.ct.flush(None, |e| {
                e.masq_oif == ifindex && addr.is_none_or(|a| e.tuple.get(reply).is_some_and(|t| t.dst == a))
            });
        }
    }

    /// True when conntrack runs in `ns`, so fragments are reassembled
    /// before PREROUTING.
    pub(crate) fn nft_defrag(&self, ns: NsId) -> bool {
        self.nft.as_ref().is_some_and(|n| n.active.ct.get(ns))
    }

    /// True when NAT may rewrite `ns`'s packets (so routing looks at the
    /// addresses again after the hooks).
    pub(crate) fn nft_nat(&self, ns: NsId) -> bool {
        self.nft.as_ref().is_some_and(|n| n.active.nat.get(ns))
    }

    /// Expire connections (from the world's timers).
    pub(crate) fn nft_timers(&mut self, now: Instant) {
        if let Some(n) = self.nft.as_mut() {
            n.ct.gc(now);
        }
    }

    /// When the connection table's collector next runs.
    pub(crate) fn nft_poll_at(&self) -> Option<Instant> {
        self.nft.as_ref().and_then(|n| n.ct.poll_at())
    }
}

//! Network namespaces and the world that holds them.
//!
//! A [`World`] owns the sk_buff pool and every table of the stack:
//! namespaces, interfaces (with their devices), routes, neighbours, sockets,
//! reassembly queues and the path-MTU cache. A namespace is an isolated stack
//! instance inside it: its own interfaces, addresses, routes, sockets and
//! port numbers, counters and settings. As in Linux, the tables are shared
//! and the namespace is part of every key ([`NsId`]), so isolation costs a
//! byte per entry and a firmware build with one namespace pays nothing else.
//! Each namespace gets a loopback interface (`lo`, 127.0.0.1/8) when created.
//!
//! All memory comes from a [`WorldStorage`] whose const parameters fix every
//! capacity at compile time. The world never allocates; a full table is an
//! ordinary error.
//!
//! The world runs when its owner calls [`World::poll`] with the current time:
//! devices are serviced (NAPI polls with a budget), received packets climb
//! the stack, queued packets go out, timers fire. [`World::poll_at`] says
//! when the next call is due.

mod config;
mod device;
mod links;
mod poll;
mod switch;
mod tun;
mod xmit;

#[cfg(test)]
mod tests;

pub use config::{IfAddr, IfInfo, NetnsError, Sysctl};
pub use device::Device;

use core::net::Ipv4Addr;

use crate::dev::bridge::{Fdb, FdbEntry};
use crate::dev::gro::Gro;
use crate::ip::fib::{Fib, FibStorage};
use crate::ip::pmtu::{PmtuCache, PmtuEntry};
use crate::ip::reasm::{ReasmSlot, Reassembly};
use crate::neigh::{NeighTable, Neighbour};
use crate::netfilter::NfHooks;
use crate::netlink::notify::{Event, EventLog};
use crate::skb::{IfIndex, OwnerId, SkbPool, SkbQueue};
use crate::socket::{SockSlot, SockTable};
use crate::stats::NetStats;
use crate::tcp::listen::{ReqSock, ReqTable};
use crate::tcp::timewait::{TwSock, TwTable};
use crate::time::Instant;
use crate::wire::MacAddr;

/// A namespace's index in its world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NsId(pub u8);

impl NsId {
    /// The namespace every world starts with (Linux's `init_net`).
    pub const INIT: NsId = NsId(0);
}

/// Longest interface or namespace name (Linux's `IFNAMSIZ` less the NUL).
pub const NAME_LEN: usize = 15;

/// An interface or namespace name.
pub type Name = heapless::String<NAME_LEN>;

/// Addresses an interface may hold.
pub const ADDRS_PER_IFACE: usize = 4;

/// The slot an interface with index `ifindex` would live in: indexes are
/// handed out so that `(ifindex - 1) % slots` is free when they are.
pub(crate) fn iface_slot(slots: usize, ifindex: IfIndex) -> Option<usize> {
    let i = usize::from(ifindex).checked_sub(1)?;
    // Until an interface is deleted, indexes are slots plus one: no divide.
    if i < slots { Some(i) } else { i.checked_rem(slots) }
}

/// Interface `ifindex` among `ifaces`, if it still exists. A slot now held
/// by a later interface does not answer for an index that was freed.
pub(crate) fn iface_in<'w, 'a>(ifaces: &'w [Option<Iface<'a>>], ifindex: IfIndex) -> Option<&'w Iface<'a>> {
    let i = ifaces.get(iface_slot(ifaces.len(), ifindex)?)?.as_ref()?;
    (i.ifindex == ifindex).then_some(i)
}

/// [`iface_in`], to change it.
pub(crate) fn iface_in_mut<'w, 'a>(ifaces: &'w mut [Option<Iface<'a>>], ifindex: IfIndex) -> Option<&'w mut Iface<'a>> {
    let slot = iface_slot(ifaces.len(), ifindex)?;
    ifaces.get_mut(slot)?.as_mut().filter(|i| i.ifindex == ifindex)
}

/// One namespace's own state.
pub struct Namespace {
    pub(crate) name: Name,
    pub(crate) sysctl: Sysctl,
    pub(crate) stats: NetStats,
    pub(crate) lo: IfIndex,
    /// IPv4 identification counter, started from the world's secret.
    pub(crate) ip_id: u16,
    /// ICMP error token bucket: tokens left and when they were counted.
    pub(crate) icmp_tokens: u32,
    pub(crate) icmp_refill: Instant,
    /// Ephemeral port cursor (the search starts at a keyed hash plus this).
    pub(crate) port_cursor: u32,
    /// RFC 5961 challenge ACKs: the second counted and how many went out in it.
    pub(crate) challenge_sec: u64,
    pub(crate) challenge_count: u32,
    /// Different for every namespace the world ever made (Linux's
    /// `net_cookie`): a namespace made later in the same slot is another one.
    pub(crate) cookie: u32,
}

/// One interface: a device in a namespace, with its IPv4 configuration,
/// transmit backlog (the qdisc) and GRO state.
pub struct Iface<'a> {
    /// This interface's index, never shared with one that lived before it
    /// (see [`World::add_device`]).
    pub(crate) ifindex: IfIndex,
    pub(crate) ns: NsId,
    pub(crate) name: Name,
    pub(crate) dev: Device<'a>,
    pub(crate) up: bool,
    pub(crate) mtu: u16,
    pub(crate) addrs: heapless::Vec<IfAddr, ADDRS_PER_IFACE>,
    pub(crate) backlog: SkbQueue,
    pub(crate) gro: Gro<8>,
    /// Software GRO is on (`ethtool -K dev gro on`, the default).
    pub(crate) gro_enabled: bool,
    pub(crate) tx_dropped: u64,
    /// The bridge this interface is a port of (0: none).
    pub(crate) master: IfIndex,
    /// The driver's carrier when last looked at (up and linked), to notice
    /// it change between polls.
    pub(crate) carrier: bool,
}

/// Memory for a world of `NS` namespaces, `IFACES` interfaces, `ROUTES`
/// routes, `NEIGH` neighbours and `SOCKS` sockets, with `REASM` reassembly
/// slots, `PMTU` path-MTU entries and `TW` TCP connections in TIME-WAIT.
/// TCP handshakes in progress get as many entries as there are sockets.
/// The last `EVENTS` configuration changes are kept for netlink subscribers
/// ([`crate::netlink::notify`]), and bridges learn up to `FDB` addresses
/// between them ([`crate::dev::bridge::Fdb`]).
pub struct WorldStorage<
    'a,
    const NS: usize,
    const IFACES: usize,
    const ROUTES: usize,
    const NEIGH: usize,
    const SOCKS: usize,
    const REASM: usize,
    const PMTU: usize,
    const TW: usize,
    const EVENTS: usize = 64,
    const FDB: usize = 64,
> {
    ns: [Option<Namespace>; NS],
    ifaces: [Option<Iface<'a>>; IFACES],
    fib: FibStorage<ROUTES, NS, 64>,
    neigh: [Option<Neighbour>; NEIGH],
    neigh_buckets: [u16; NEIGH],
    socks: [Option<SockSlot>; SOCKS],
    sock_buckets: [u16; SOCKS],
    sock_ehash: [u16; SOCKS],
    reasm: [Option<ReasmSlot>; REASM],
    pmtu: [Option<PmtuEntry>; PMTU],
    reqs: [Option<ReqSock>; SOCKS],
    req_buckets: [u16; SOCKS],
    tw: [Option<TwSock>; TW],
    tw_buckets: [u16; TW],
    events: [Option<Event>; EVENTS],
    fdb: [Option<FdbEntry>; FDB],
}

impl<
    'a,
    const NS: usize,
    const IFACES: usize,
    const ROUTES: usize,
    const NEIGH: usize,
    const SOCKS: usize,
    const REASM: usize,
    const PMTU: usize,
    const TW: usize,
    const EVENTS: usize,
    const FDB: usize,
> WorldStorage<'a, NS, IFACES, ROUTES, NEIGH, SOCKS, REASM, PMTU, TW, EVENTS, FDB>
{
    /// Empty storage.
    pub const fn new() -> Self {
        const {
            assert!(NS >= 1 && NS <= 255, "1..=255 namespaces");
            assert!(IFACES >= NS && IFACES < u16::MAX as usize, "at least one interface (lo) per namespace");
            assert!(NEIGH >= 1 && NEIGH < u16::MAX as usize);
            assert!(SOCKS >= 1 && SOCKS < u16::MAX as usize);
            assert!(REASM >= 1 && PMTU >= 1);
            assert!(TW >= 1 && TW < u16::MAX as usize);
            assert!(EVENTS >= 1 && FDB >= 1);
        }
        WorldStorage {
            ns: [const { None }; NS],
            ifaces: [const { None }; IFACES],
            fib: FibStorage::new(),
            neigh: [const { None }; NEIGH],
            neigh_buckets: [u16::MAX; NEIGH],
            socks: [const { None }; SOCKS],
            sock_buckets: [u16::MAX; SOCKS],
            sock_ehash: [u16::MAX; SOCKS],
            reasm: [const { None }; REASM],
            pmtu: [const { None }; PMTU],
            reqs: [const { None }; SOCKS],
            req_buckets: [u16::MAX; SOCKS],
            tw: [const { None }; TW],
            tw_buckets: [u16::MAX; TW],
            events: [const { None }; EVENTS],
            fdb: [None; FDB],
        }
    }
}

impl<
    'a,
    const NS: usize,
    const IFACES: usize,
    const ROUTES: usize,
    const NEIGH: usize,
    const SOCKS: usize,
    const REASM: usize,
    const PMTU: usize,
    const TW: usize,
    const EVENTS: usize,
    const FDB: usize,
> Default for WorldStorage<'a, NS, IFACES, ROUTES, NEIGH, SOCKS, REASM, PMTU, TW, EVENTS, FDB>
{
    fn default() -> Self {
        Self::new()
    }
}

/// A small world: 4 namespaces, 16 interfaces, 256 routes, 64 neighbours,
/// 64 sockets, 8 reassemblies, 32 path-MTU entries, 128 TIME-WAIT entries.
pub type SmallWorldStorage<'a> = WorldStorage<'a, 4, 16, 256, 64, 64, 8, 32, 128>;

/// The stack: pool, namespaces, interfaces, tables, and netfilter hooks `H`.
pub struct World<'a, H: NfHooks = ()> {
    pub(crate) pool: SkbPool<'a>,
    pub(crate) ns: &'a mut [Option<Namespace>],
    pub(crate) ifaces: &'a mut [Option<Iface<'a>>],
    pub(crate) fib: Fib<'a>,
    pub(crate) neigh: NeighTable<'a>,
    pub(crate) socks: SockTable<'a>,
    pub(crate) reasm: Reassembly<'a>,
    pub(crate) pmtu: PmtuCache<'a>,
    pub(crate) reqs: ReqTable<'a>,
    pub(crate) tw: TwTable<'a>,
    pub(crate) hooks: H,
    /// The rule tables and connection table, once attached
    /// ([`World::attach_nft`]).
    pub(crate) nft: Option<crate::netfilter::Nft<'a>>,
    pub(crate) secret: [u8; 16],
    pub(crate) now: Instant,
    /// Memory the reassembly queues may hold (Linux's `ipfrag_high_thresh`).
    pub(crate) reasm_owner: OwnerId,
    /// Memory packets waiting for a neighbour may hold.
    pub(crate) neigh_owner: OwnerId,
    /// Recent configuration changes, for netlink subscribers.
    pub(crate) events: EventLog<'a>,
    /// What every bridge learned.
    pub(crate) fdb: Fdb<'a>,
    /// Objects the world made so far (namespaces, veth ends, bridges): a
    /// counter that keys hardware addresses and namespace cookies.
    pub(crate) dev_seq: u32,
    /// The index the next interface is offered (Linux's `dev_new_index`
    /// counter): indexes only grow, so one freed is not handed out again
    /// until the counter wraps.
    pub(crate) next_ifindex: IfIndex,
    /// A veth end or a bridge was ever added: until then the switch has
    /// nothing to carry and costs nothing per poll.
    pub(crate) switched: bool,
    /// Bumped whenever an interface or an address comes, goes or moves:
    /// a netlink dump of links or addresses that sees it change says
    /// `NLM_F_DUMP_INTR` (Linux's `dev_base_seq`, `dev_addr_genid`).
    pub(crate) if_gen: u32,
}

impl<'a> World<'a, ()> {
    /// A world over `storage` and `pool`, with no netfilter hooks. `secret`
    /// keys every choice an attacker must not predict (IP IDs, ephemeral
    /// ports, later TCP sequence numbers); take it from a hardware RNG or
    /// the OS.
    pub fn new<
        const NS: usize,
        const IF: usize,
        const RT: usize,
        const NB: usize,
        const SK: usize,
        const RS: usize,
        const PM: usize,
        const TW: usize,
        const EV: usize,
        const FD: usize,
    >(
        storage: &'a mut WorldStorage<'a, NS, IF, RT, NB, SK, RS, PM, TW, EV, FD>,
        pool: SkbPool<'a>,
        secret: [u8; 16],
    ) -> Result<World<'a, ()>, NetnsError> {
        World::with_hooks(storage, pool, secret, ())
    }
}

impl<'a, H: NfHooks> World<'a, H> {
    /// A world with netfilter hooks `hooks` (see [`crate::netfilter`]).
    pub fn with_hooks<
        const NS: usize,
        const IF: usize,
        const RT: usize,
        const NB: usize,
        const SK: usize,
        const RS: usize,
        const PM: usize,
        const TW: usize,
        const EV: usize,
        const FD: usize,
    >(
        storage: &'a mut WorldStorage<'a, NS, IF, RT, NB, SK, RS, PM, TW, EV, FD>,
        mut pool: SkbPool<'a>,
        secret: [u8; 16],
        hooks: H,
    ) -> Result<World<'a, H>, NetnsError> {
        let reasm_owner = pool.register_owner(Reassembly::MEM_LIMIT).map_err(NetnsError::Pool)?;
        let neigh_owner = pool.register_owner(NeighTable::MEM_LIMIT).map_err(NetnsError::Pool)?;
        let mut w = World {
            pool,
            ns: &mut storage.ns,
            ifaces: &mut storage.ifaces,
            fib: Fib::new(&mut storage.fib),
            neigh: NeighTable::new(&mut storage.neigh, &mut storage.neigh_buckets),
            socks: SockTable::new(&mut storage.socks, &mut storage.sock_buckets, &mut storage.sock_ehash),
            reasm: Reassembly::new(&mut storage.reasm),
            pmtu: PmtuCache::new(&mut storage.pmtu),
            reqs: ReqTable::new(&mut storage.reqs, &mut storage.req_buckets),
            tw: TwTable::new(&mut storage.tw, &mut storage.tw_buckets),
            hooks,
            nft: None,
            secret,
            now: Instant::ZERO,
            reasm_owner,
            neigh_owner,
            events: EventLog::new(&mut storage.events),
            fdb: Fdb::new(&mut storage.fdb),
            dev_seq: 0,
            if_gen: 0,
            next_ifindex: 1,
            switched: false,
        };
        w.add_netns("init_net")?;
        Ok(w)
    }

    /// The pool, for reading statistics and for the packets the socket API
    /// hands out (zero-copy receive).
    pub fn pool(&mut self) -> &mut SkbPool<'a> {
        &mut self.pool
    }

    /// The pool, read-only.
    pub fn pool_ref(&self) -> &SkbPool<'a> {
        &self.pool
    }

    /// The netfilter hooks.
    pub fn hooks(&mut self) -> &mut H {
        &mut self.hooks
    }

    /// The time of the last [`World::poll`].
    pub fn now(&self) -> Instant {
        self.now
    }

    /// A namespace's counters.
    pub fn stats(&self, ns: NsId) -> Option<&NetStats> {
        self.netns(ns).map(|n| &n.stats)
    }

    pub(crate) fn netns(&self, ns: NsId) -> Option<&Namespace> {
        self.ns.get(usize::from(ns.0)).and_then(Option::as_ref)
    }

    pub(crate) fn netns_mut(&mut self, ns: NsId) -> Option<&mut Namespace> {
        self.ns.get_mut(usize::from(ns.0)).and_then(Option::as_mut)
    }

    /// The interface with index `ifindex`.
    pub(crate) fn iface(&self, ifindex: IfIndex) -> Option<&Iface<'a>> {
        iface_in(self.ifaces, ifindex)
    }

    pub(crate) fn iface_mut(&mut self, ifindex: IfIndex) -> Option<&mut Iface<'a>> {
        iface_in_mut(self.ifaces, ifindex)
    }

    /// The index of the interface in `slot`, if one is there.
    pub(crate) fn ifindex_at(&self, slot: usize) -> Option<IfIndex> {
        self.ifaces.get(slot).and_then(Option::as_ref).map(|i| i.ifindex)
    }

    /// Count a drop for `why` in `ns`, and the MIB counter Linux would bump.
    pub(crate) fn drop_count(&mut self, ns: NsId, why: crate::stats::DropReason) {
        if let Some(n) = self.netns_mut(ns) {
            n.stats.drops.count(why);
        }
    }

    /// A keyed hash of `data` with the world's secret (for IP IDs and ports).
    pub(crate) fn keyed_hash(&self, data: &[u8]) -> u64 {
        crate::hash::siphash24(&self.secret, data)
    }

    /// The first address of `ifindex` within `dst`'s subnet, or its first
    /// address (Linux's `inet_select_addr`).
    pub(crate) fn select_src(&self, ifindex: IfIndex, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        let i = self.iface(ifindex)?;
        i.addrs.iter().find(|a| a.contains(dst)).or_else(|| i.addrs.first()).map(|a| a.addr)
    }

    /// The hardware address of an interface's device.
    pub(crate) fn hw_addr(&self, ifindex: IfIndex) -> Option<MacAddr> {
        self.iface(ifindex).and_then(|i| i.dev.get().hw_addr())
    }
}

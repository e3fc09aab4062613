//! Notifications: what changed, kept in a bounded ring that every
//! subscriber reads at its own pace (Linux's multicast groups, with each
//! socket's receive queue replaced by a cursor into one shared log).
//!
//! The world's configuration calls record an [`RtEvent`] for every change a
//! group reports: links created, deleted, set up or down; IPv4 addresses
//! and routes added or removed; namespaces made and deleted. Each event
//! gets the next sequence number. A subscriber ([`super::NlSock`]) remembers
//! the number of the next event it wants; the ring keeps the last `N`. A
//! subscriber that fell more than `N` events behind has lost some: its next
//! read reports `ENOBUFS` (an `NLMSG_ERROR` with -105, as Linux's `recvmsg`
//! fails with `ENOBUFS` on an overflowed socket) and carries on from the
//! oldest event still kept. Nothing is lost silently. The log is shared by
//! the whole world, so a busy namespace can make a slow subscriber of another
//! one overflow: that subscriber is told, never misled.

use core::net::Ipv4Addr;

use super::addr::{AddrMsg, CacheInfo, IfAddrMsg};
use super::link::{IfInfoMsg, LinkKind, LinkMsg};
use super::uapi::*;
use crate::ip::fib::Route;
use crate::netns::{IfAddr, Name, NsId};
use crate::skb::IfIndex;
use crate::wire::MacAddr;

/// What a link looked like when it changed (or when it is listed).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LinkState {
    /// Its namespace.
    pub ns: NsId,
    /// Its index.
    pub index: IfIndex,
    /// Its name.
    pub name: Name,
    /// `ARPHRD_*`.
    pub ty: u16,
    /// `IFF_*` flags.
    pub flags: u32,
    /// `IF_OPER_*`.
    pub operstate: u8,
    /// MTU.
    pub mtu: u16,
    /// Hardware address.
    pub mac: Option<MacAddr>,
    /// Kind, for links the world made.
    pub kind: Option<LinkKind>,
    /// The bridge it is a port of (0: none).
    pub master: IfIndex,
    /// A veth's peer (0: none).
    pub peer: IfIndex,
    /// The peer's namespace, when another one.
    pub peer_ns: Option<NsId>,
    /// Transmit queue length.
    pub txqlen: u16,
}

impl LinkState {
    /// The `RTM_NEWLINK` / `RTM_DELLINK` body for this state.
    pub fn to_msg(&self) -> LinkMsg {
        LinkMsg {
            header: IfInfoMsg {
                family: AF_UNSPEC,
                ty: self.ty,
                index: i32::from(self.index),
                flags: self.flags,
                change: 0,
            },
            name: Some(self.name.clone()),
            address: self.mac,
            broadcast: self.mac.map(|_| if self.ty == ARPHRD_LOOPBACK { MacAddr::ZERO } else { MacAddr::BROADCAST }),
            mtu: Some(u32::from(self.mtu)),
            link: (self.peer != 0).then_some(u32::from(self.peer)),
            link_netnsid: self.peer_ns.map(|n| i32::from(n.0)),
            master: (self.master != 0).then_some(u32::from(self.master)),
            txqlen: Some(u32::from(self.txqlen)),
            operstate: Some(self.operstate),
            carrier: Some(u8::from(self.flags & IFF_LOWER_UP != 0)),
            netns: None,
            kind: self.kind,
            slave_kind: (self.master != 0).then_some(LinkKind::Bridge),
            peer: None,
        }
    }
}

/// The `RTM_NEWADDR` / `RTM_DELADDR` body for an address of `ifindex`.
pub fn addr_msg(ifindex: IfIndex, a: &IfAddr, label: &Name) -> AddrMsg {
    let scope = if a.addr.is_loopback() { RT_SCOPE_HOST } else { RT_SCOPE_UNIVERSE };
    AddrMsg {
        header: IfAddrMsg {
            family: AF_INET,
            prefix_len: a.prefix_len,
            flags: IFA_F_PERMANENT,
            scope,
            index: u32::from(ifindex),
        },
        address: Some(a.addr),
        local: Some(a.addr),
        broadcast: a.broadcast().filter(|_| !a.addr.is_loopback()),
        label: Some(label.clone()),
        flags: Some(u32::from(IFA_F_PERMANENT)),
        cacheinfo: Some(CacheInfo::FOREVER),
    }
}

/// Longest nft command text an event keeps.
pub const NFT_EVENT_LEN: usize = 96;

/// The text of an nft event.
pub type NftText = heapless::String<NFT_EVENT_LEN>;

/// Helpers for [`NftText`].
pub trait FromCmd {
    /// `cmd`, cut to fit (at a character boundary, ending in `...`).
    fn from_cmd(cmd: &str) -> Self;
}

impl FromCmd for NftText {
    fn from_cmd(cmd: &str) -> NftText {
        let mut t = NftText::new();
        let cmd = cmd.trim();
        if cmd.len() <= NFT_EVENT_LEN {
            let _ = t.push_str(cmd);
            return t;
        }
        let mut cut = NFT_EVENT_LEN - 3;
        while !cmd.is_char_boundary(cut) {
            cut -= 1;
        }
        let _ = t.push_str(&cmd[..cut]);
        let _ = t.push_str("...");
        t
    }
}

/// One change.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RtEvent {
    /// A link was created or changed (`RTM_NEWLINK`) or deleted (`RTM_DELLINK`).
    Link {
        /// True when deleted.
        deleted: bool,
        /// The link.
        link: LinkState,
    },
    /// An address was added or removed.
    Addr {
        /// True when removed.
        deleted: bool,
        /// The namespace.
        ns: NsId,
        /// The interface.
        ifindex: IfIndex,
        /// The interface's name.
        label: Name,
        /// The address.
        addr: IfAddr,
    },
    /// A route was added or removed.
    Route {
        /// True when removed.
        deleted: bool,
        /// The namespace.
        ns: NsId,
        /// The route.
        route: Route,
    },
    /// An nft command changed a namespace's rule set (the rules group).
    Nft {
        /// The namespace.
        ns: NsId,
        /// The command, as `nft monitor` prints it (cut at
        /// [`NFT_EVENT_LEN`] bytes, ending in `...` then).
        text: NftText,
    },
    /// A namespace was created or deleted (reported in the initial namespace).
    Netns {
        /// True when deleted.
        deleted: bool,
        /// Its id.
        id: NsId,
        /// Its name.
        name: Name,
    },
}

impl RtEvent {
    /// The group that reports it (`RTNLGRP_*`).
    pub fn group(&self) -> u32 {
        match self {
            RtEvent::Link { .. } => RTNLGRP_LINK,
            RtEvent::Addr { .. } => RTNLGRP_IPV4_IFADDR,
            RtEvent::Route { .. } => RTNLGRP_IPV4_ROUTE,
            RtEvent::Nft { .. } => RTNLGRP_IPV4_RULE,
            RtEvent::Netns { .. } => SKBNETGRP_NETNS,
        }
    }

    /// The namespace whose subscribers hear it.
    pub fn ns(&self) -> NsId {
        match self {
            RtEvent::Link { link, .. } => link.ns,
            RtEvent::Addr { ns, .. } | RtEvent::Route { ns, .. } | RtEvent::Nft { ns, .. } => *ns,
            RtEvent::Netns { .. } => NsId::INIT,
        }
    }

    /// A route event's destination, for tests and printing.
    pub fn route_dst(&self) -> Option<(Ipv4Addr, u8)> {
        match self {
            RtEvent::Route { route, .. } => Some((route.dst, route.prefix_len)),
            _ => None,
        }
    }
}

/// An event in the ring, with the request that caused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Its number.
    pub seq: u64,
    /// Sequence number of the request that caused it (0: none).
    pub req_seq: u32,
    /// Port id of the socket that sent that request (0: the world itself).
    pub req_pid: u32,
    /// What changed.
    pub event: RtEvent,
}

/// The ring of recent events over caller-provided slots.
pub struct EventLog<'a> {
    slots: &'a mut [Option<Event>],
    next: u64,
    origin: (u32, u32),
}

impl<'a> EventLog<'a> {
    /// A log over `slots` (at least one).
    pub fn new(slots: &'a mut [Option<Event>]) -> EventLog<'a> {
        EventLog { slots, next: 0, origin: (0, 0) }
    }

    /// Record `event`, forgetting the oldest when full.
    pub fn push(&mut self, event: RtEvent) {
        let n = self.slots.len() as u64;
        if n == 0 {
            return;
        }
        let (req_seq, req_pid) = self.origin;
        self.slots[(self.next % n) as usize] = Some(Event { seq: self.next, req_seq, req_pid, event });
        self.next += 1;
    }

    /// The number the next event will get.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// The number of the oldest event kept.
    pub fn oldest_seq(&self) -> u64 {
        self.next.saturating_sub(self.slots.len() as u64)
    }

    /// Event number `seq`, if still kept.
    pub fn get(&self, seq: u64) -> Option<&Event> {
        let n = self.slots.len() as u64;
        if seq < self.oldest_seq() || seq >= self.next || n == 0 {
            return None;
        }
        self.slots[(seq % n) as usize].as_ref().filter(|e| e.seq == seq)
    }

    /// Attribute what is recorded from now on to request `seq` of port `pid`.
    pub(crate) fn set_origin(&mut self, seq: u32, pid: u32) {
        self.origin = (seq, pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns_event(i: u8) -> RtEvent {
        RtEvent::Netns { deleted: false, id: NsId(i), name: Name::try_from("x").unwrap() }
    }

    #[test]
    fn ring_keeps_the_last_n() {
        let mut slots: [Option<Event>; 3] = Default::default();
        let mut log = EventLog::new(&mut slots);
        assert_eq!((log.oldest_seq(), log.next_seq()), (0, 0));
        for i in 0..5 {
            log.push(ns_event(i));
        }
        assert_eq!((log.oldest_seq(), log.next_seq()), (2, 5));
        assert!(log.get(1).is_none() && log.get(5).is_none());
        assert_eq!(log.get(4).unwrap().event, ns_event(4));
        assert_eq!(log.get(2).unwrap().seq, 2);
    }
}

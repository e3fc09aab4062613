//! A netlink socket of a world (`socket(AF_NETLINK, SOCK_RAW,
//! NETLINK_ROUTE)`): the namespace it was opened in, its port id, the
//! groups it listens to, its place in the event log, and the dump it is in
//! the middle of.
//!
//! The socket is the caller's: it lives outside the world, costs a few
//! dozen bytes, and holds no buffer. Requests go in with
//! [`World::netlink_send`](crate::netns::World::netlink_send) and replies,
//! dump continuations and notifications come out with
//! [`World::netlink_recv`](crate::netns::World::netlink_recv), into buffers
//! the caller provides.

use crate::netns::NsId;

/// What a dump lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) enum DumpKind {
    Links,
    Addrs,
    Routes,
    Netns,
}

/// A dump in progress (Linux keeps this in `netlink_callback`'s `args`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Dump {
    pub kind: DumpKind,
    /// The request's sequence number, for every message of the dump.
    pub seq: u32,
    /// Where to go on: an interface slot, a route count, a namespace slot.
    pub pos: usize,
    /// Within `pos`: the next address of the interface.
    pub sub: usize,
    /// Only this interface (addresses) or only ports of this master (links); 0: all.
    pub index: u32,
    /// Only this routing table (0: all).
    pub table: u8,
    /// Nothing is left but `NLMSG_DONE`.
    pub done: bool,
    /// What the dump watches (the FIB's or the interfaces' generation) when
    /// it started: if it moves, the messages that follow say
    /// `NLM_F_DUMP_INTR`.
    pub generation: u32,
}

/// A netlink socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NlSock {
    pub(crate) ns: NsId,
    /// The namespace's cookie: a namespace made later in the same slot is
    /// another one, and the socket's requests are refused there.
    pub(crate) ns_cookie: u32,
    pub(crate) pid: u32,
    pub(crate) groups: u32,
    pub(crate) cursor: u64,
    pub(crate) dump: Option<Dump>,
}

impl NlSock {
    /// The namespace the socket was opened in: its requests are carried out
    /// there, and it hears that namespace's events.
    pub fn ns(&self) -> NsId {
        self.ns
    }

    /// Its port id: replies carry it.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The groups it listens to, as Linux's legacy mask (`nl_groups`): bit
    /// `group - 1` for each group.
    pub fn groups(&self) -> u32 {
        self.groups
    }

    /// True while a dump waits to be read on.
    pub fn dumping(&self) -> bool {
        self.dump.is_some()
    }
}

//! Carrying out requests (`rtnetlink_rcv_msg`), writing replies, dumps
//! (`netlink_dump`) and notifications into the caller's buffers.
//!
//! # The contract
//!
//! [`World::netlink_send`] takes a buffer of requests and a buffer for what
//! they answer. Requests are carried out in order by the socket's
//! namespace. Each gets its reply: an object (`RTM_GET*` of one thing), an
//! acknowledgement when `NLM_F_ACK` asked for one, an `NLMSG_ERROR` with a
//! negative errno and an extended-ack text whenever it fails (whether or not
//! `NLM_F_ACK` was set), or the start of a dump. Replies carry the request's
//! sequence number and the socket's port id. A message whose header cannot
//! be trusted gets an `EINVAL` error and ends the buffer; a failed request
//! changes nothing it had not changed when it failed (validation comes
//! first, so that is nothing for every refusal the request itself causes).
//!
//! Nothing is allocated: replies go into the caller's `out`. A request is
//! only taken when [`REPLY_ROOM`] bytes are free for its reply, so a
//! request is never carried out without room to say how it went; what is
//! not taken is left for the next call ([`Sent::consumed`]). A dump writes
//! as many whole messages as fit and goes on at the next
//! [`World::netlink_recv`], as Linux's dump callbacks do, until it ends with
//! `NLMSG_DONE`; one dump at a time per socket (`EBUSY` otherwise). Any
//! buffer of at least [`REPLY_ROOM`] bytes makes progress; a smaller one
//! that cannot hold the next message is refused with [`NeedRoom`].
//!
//! [`World::netlink_recv`] also delivers the notifications of the groups
//! the socket joined ([`super::notify`]), when no dump is running.

use super::error::{Errno, NlError};
use super::family::NsMsg;
use super::msg::{NlHeader, NlMsg, NlWriter, NoRoom, messages};
use super::notify::{Event, RtEvent, addr_msg};
use super::route::RouteMsg;
use super::sock::{Dump, DumpKind, NlSock};
use super::uapi::*;
use crate::netfilter::NfHooks;
use crate::netns::{NsId, World};
use crate::skb::IfIndex;

/// Bytes of `out` a request needs free before it is taken: room for its
/// largest reply (one object and an acknowledgement, or an error with its
/// text). Every single message skbnet writes fits in it.
pub const REPLY_ROOM: usize = 256;

/// What [`World::netlink_send`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sent {
    /// Bytes of the request buffer carried out (the rest waits for room).
    pub consumed: usize,
    /// Bytes of replies written to `out`.
    pub written: usize,
}

/// The output buffer cannot hold the next message: give at least `need` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NeedRoom {
    /// Bytes that always suffice.
    pub need: usize,
}

/// How a request was answered, before its acknowledgement.
pub(crate) enum Answer {
    /// Done; acknowledge if asked.
    Done,
    /// An object was written; acknowledge if asked.
    Object,
    /// A dump was started on the socket.
    Dump,
    /// Something was written (an explanation), and the request failed:
    /// keep what was written and send this error after it.
    Failed(NlError),
}

impl<'a, H: NfHooks> World<'a, H> {
    /// Open a netlink socket in namespace `ns` with port id `pid`.
    pub fn netlink_socket(&self, ns: NsId, pid: u32) -> Result<NlSock, NlError> {
        let cookie = self.netns(ns).ok_or(NlError::new(Errno::NoEnt, "no such namespace"))?.cookie;
        Ok(NlSock { ns, ns_cookie: cookie, pid, groups: 0, cursor: self.events.next_seq(), dump: None })
    }

    /// Join multicast group `group` (`RTNLGRP_*`, 1..=32): the socket hears
    /// that group's events from now on.
    pub fn netlink_subscribe(&self, sock: &mut NlSock, group: u32) -> Result<(), NlError> {
        if !(1..=32).contains(&group) {
            return Err(NlError::inval("no such group"));
        }
        if sock.groups == 0 {
            sock.cursor = self.events.next_seq();
        }
        sock.groups |= 1 << (group - 1);
        Ok(())
    }

    /// Leave group `group`.
    pub fn netlink_unsubscribe(&self, sock: &mut NlSock, group: u32) {
        if (1..=32).contains(&group) {
            sock.groups &= !(1 << (group - 1));
        }
    }

    /// Carry out the requests in `req`, writing their replies into `out`
    /// (see the module's contract).
    pub fn netlink_send(&mut self, sock: &mut NlSock, req: &[u8], out: &mut [u8]) -> Result<Sent, NeedRoom> {
        let mut w = NlWriter::new(out);
        let mut msgs = messages(req);
        let mut consumed = 0;
        while consumed < req.len() {
            if w.room() < REPLY_ROOM {
                if w.is_empty() {
                    return Err(NeedRoom { need: REPLY_ROOM });
                }
                break;
            }
            match msgs.next() {
                None => break,
                Some(Err(bad)) => {
                    let _ = self.write_error(&mut w, sock, &bad.header, bad.error);
                    consumed = req.len();
                }
                Some(Ok(m)) => {
                    self.handle(sock, &m, &mut w);
                    consumed = msgs.offset();
                }
            }
        }
        Ok(Sent { consumed, written: w.len() })
    }

    /// Write what the socket has to read into `out`: the next part of its
    /// dump, or else the notifications of its groups. Returns the bytes
    /// written (0: nothing waits).
    pub fn netlink_recv(&mut self, sock: &mut NlSock, out: &mut [u8]) -> Result<usize, NeedRoom> {
        let mut w = NlWriter::new(out);
        if sock.dump.is_some() {
            self.dump_fill(sock, &mut w)?;
        } else {
            self.events_fill(sock, &mut w)?;
        }
        Ok(w.len())
    }

    /// One request.
    fn handle(&mut self, sock: &mut NlSock, m: &NlMsg<'_>, w: &mut NlWriter<'_>) {
        let h = m.header;
        let mark = w.mark();
        let res = if h.flags & NLM_F_REQUEST == 0 {
            Err(NlError::inval("not a request (no NLM_F_REQUEST)"))
        } else if h.ty == NLMSG_NOOP {
            Ok(Answer::Done)
        } else if h.ty < NLMSG_MIN_TYPE {
            Err(NlError::inval("control message type in a request"))
        } else if self.netns(sock.ns).is_none_or(|n| n.cookie != sock.ns_cookie) {
            Err(NlError::new(Errno::NoEnt, "the socket's namespace is gone"))
        } else {
            self.events.set_origin(h.seq, sock.pid);
            let r = self.dispatch(sock, m, w);
            self.events.set_origin(0, 0);
            r
        };
        match res {
            Ok(Answer::Dump) => {
                // Room was checked; a dump that cannot write its first
                // message goes on at the next `netlink_recv`.
                let _ = self.dump_fill(sock, w);
            }
            Ok(Answer::Done | Answer::Object) => {
                if h.flags & NLM_F_ACK != 0 && self.write_ack(w, sock, &h).is_err() {
                    w.rollback(mark);
                    let _ = self.write_error(w, sock, &h, NlError::new(Errno::MsgSize, "reply too big"));
                }
            }
            Ok(Answer::Failed(e)) => {
                if self.write_error(w, sock, &h, e).is_err() {
                    w.rollback(mark);
                    let _ = self.write_error(w, sock, &h, e);
                }
            }
            Err(e) => {
                w.rollback(mark);
                let _ = self.write_error(w, sock, &h, e);
            }
        }
    }

    /// Route a request to its handler.
    fn dispatch(&mut self, sock: &mut NlSock, m: &NlMsg<'_>, w: &mut NlWriter<'_>) -> Result<Answer, NlError> {
        let h = &m.header;
        let dump = h.flags & NLM_F_DUMP != 0;
        match h.ty {
            RTM_NEWLINK => self.rtm_newlink(sock, h, m.payload),
            RTM_DELLINK => self.rtm_dellink(sock, m.payload),
            RTM_GETLINK if dump => self.start_dump(sock, h, DumpKind::Links, m.payload),
            RTM_GETLINK => self.rtm_getlink(sock, h, m.payload, w),
            RTM_SETLINK => self.rtm_setlink(sock, m.payload),
            RTM_NEWADDR => self.rtm_newaddr(sock, h, m.payload),
            RTM_DELADDR => self.rtm_deladdr(sock, m.payload),
            RTM_GETADDR if dump => self.start_dump(sock, h, DumpKind::Addrs, m.payload),
            RTM_NEWROUTE => self.rtm_newroute(sock, h, m.payload),
            RTM_DELROUTE => self.rtm_delroute(sock, m.payload),
            RTM_GETROUTE if dump => self.start_dump(sock, h, DumpKind::Routes, m.payload),
            RTM_GETROUTE => self.rtm_getroute(sock, h, m.payload, w),
            SKBNET_NEWNS => self.skb_newns(m.payload),
            SKBNET_DELNS => self.skb_delns(m.payload),
            SKBNET_GETNS if dump => self.start_dump(sock, h, DumpKind::Netns, m.payload),
            SKBNET_NFT => self.skb_nft(sock, h, m.payload, w),
            RTM_GETADDR | SKBNET_GETNS => Err(NlError::new(Errno::OpNotSupp, "only dumps")),
            _ => Err(NlError::new(Errno::OpNotSupp, "unknown message type")),
        }
    }

    /// Begin a dump of `kind`, with the filters the request gives.
    fn start_dump(
        &mut self,
        sock: &mut NlSock,
        h: &NlHeader,
        kind: DumpKind,
        payload: &[u8],
    ) -> Result<Answer, NlError> {
        if sock.dump.is_some() {
            return Err(NlError::new(Errno::Busy, "a dump is already running"));
        }
        let (index, table) = self.dump_filter(kind, payload)?;
        sock.dump = Some(Dump {
            kind,
            seq: h.seq,
            pos: 0,
            sub: 0,
            index,
            table,
            done: false,
            generation: self.dump_generation(kind),
        });
        Ok(Answer::Dump)
    }

    /// What a dump of `kind` watches for changes while it runs: the FIB's
    /// generation for routes, the interface generation for links and
    /// addresses, nothing for namespaces (listed by slot, which stays).
    fn dump_generation(&self, kind: DumpKind) -> u32 {
        match kind {
            DumpKind::Routes => self.fib.generation(),
            DumpKind::Links | DumpKind::Addrs => self.if_gen,
            DumpKind::Netns => 0,
        }
    }

    /// Write as much of the socket's dump as fits, and `NLMSG_DONE` at its end.
    fn dump_fill(&mut self, sock: &mut NlSock, w: &mut NlWriter<'_>) -> Result<(), NeedRoom> {
        let Some(mut d) = sock.dump else { return Ok(()) };
        let start = w.len();
        let mut flags = NLM_F_MULTI;
        // A change between two parts of the dump may have moved what is left
        // past where it resumes: the reader is told it may be inconsistent
        // (`nl_dump_check_consistent`), in every message from then on.
        if d.generation != self.dump_generation(d.kind) {
            flags |= NLM_F_DUMP_INTR;
        }
        if d.index != 0 || d.table != 0 {
            flags |= NLM_F_DUMP_FILTERED;
        }
        if !d.done {
            let res = match d.kind {
                DumpKind::Links => self.dump_links(sock, &mut d, flags, w),
                DumpKind::Addrs => self.dump_addrs(sock, &mut d, flags, w),
                DumpKind::Routes => self.dump_routes(sock, &mut d, flags, w),
                DumpKind::Netns => self.dump_netns(sock, &mut d, flags, w),
            };
            d.done = res.is_ok();
        }
        if d.done {
            // write_msg takes the header back when the body does not fit:
            // a DONE begun in the last 16 bytes of the buffer was left there
            // with length 0, a malformed reply.
            // The DONE says so too: a reader that checks only the last
            // message (as iproute2 does) must see it (Linux's
            // `netlink_dump_done` runs the same check).
            let done_flags = NLM_F_MULTI | (flags & NLM_F_DUMP_INTR);
            let done = write_msg(w, NLMSG_DONE, done_flags, d.seq, sock.pid, |w| w.bytes(&0i32.to_ne_bytes()));
            if done.is_ok() {
                sock.dump = None;
                return Ok(());
            }
        }
        sock.dump = Some(d);
        if w.len() == start { Err(NeedRoom { need: REPLY_ROOM }) } else { Ok(()) }
    }

    /// Links of the socket's namespace, by interface slot.
    fn dump_links(&self, sock: &NlSock, d: &mut Dump, flags: u16, w: &mut NlWriter<'_>) -> Result<(), NoRoom> {
        while d.pos < self.ifaces.len() {
            let Some(ifindex) = self.ifindex_at(d.pos) else {
                d.pos += 1;
                continue;
            };
            let master = self.iface(ifindex).map(|i| i.master);
            if let Some(state) = self.link_state(ifindex).filter(|s| s.ns == sock.ns)
                && (d.index == 0 || master == Some(d.index as IfIndex))
            {
                write_msg(w, RTM_NEWLINK, flags, d.seq, sock.pid, |w| state.to_msg().emit(w))?;
            }
            d.pos += 1;
        }
        Ok(())
    }

    /// IPv4 addresses of the socket's namespace, by interface and address.
    fn dump_addrs(&self, sock: &NlSock, d: &mut Dump, flags: u16, w: &mut NlWriter<'_>) -> Result<(), NoRoom> {
        while d.pos < self.ifaces.len() {
            let ifindex = self.ifindex_at(d.pos).unwrap_or(0);
            if let Some(i) = self.iface(ifindex).filter(|i| i.ns == sock.ns)
                && (d.index == 0 || u32::from(ifindex) == d.index)
            {
                while let Some(a) = i.addrs.get(d.sub) {
                    write_msg(w, RTM_NEWADDR, flags, d.seq, sock.pid, |w| addr_msg(ifindex, a, &i.name).emit(w))?;
                    d.sub += 1;
                }
            }
            d.pos += 1;
            d.sub = 0;
        }
        Ok(())
    }

    /// Routes of the socket's namespace; `pos` counts those already written.
    fn dump_routes(&self, sock: &NlSock, d: &mut Dump, flags: u16, w: &mut NlWriter<'_>) -> Result<(), NoRoom> {
        let table = d.table;
        for r in self.fib.routes(sock.ns).skip(d.pos) {
            let m = RouteMsg::from_route(r);
            if table == 0 || m.header.table == table {
                write_msg(w, RTM_NEWROUTE, flags, d.seq, sock.pid, |w| m.emit(w))?;
            }
            d.pos += 1;
        }
        Ok(())
    }

    /// Every namespace of the world.
    fn dump_netns(&self, sock: &NlSock, d: &mut Dump, flags: u16, w: &mut NlWriter<'_>) -> Result<(), NoRoom> {
        while d.pos < self.ns.len() {
            if let Some(n) = &self.ns[d.pos] {
                let m = NsMsg { id: d.pos as i32, name: Some(n.name.clone()) };
                write_msg(w, SKBNET_NEWNS, flags, d.seq, sock.pid, |w| m.emit(w))?;
            }
            d.pos += 1;
        }
        Ok(())
    }

    /// The socket's notifications, from its cursor on.
    fn events_fill(&self, sock: &mut NlSock, w: &mut NlWriter<'_>) -> Result<(), NeedRoom> {
        if sock.groups == 0 {
            sock.cursor = self.events.next_seq();
            return Ok(());
        }
        if sock.cursor < self.events.oldest_seq() {
            let lost = NlError::new(Errno::NoBufs, "notifications lost");
            if self.write_error(w, sock, &NlHeader::default(), lost).is_err() {
                return Err(NeedRoom { need: REPLY_ROOM });
            }
            sock.cursor = self.events.oldest_seq();
        }
        while sock.cursor < self.events.next_seq() {
            if let Some(e) = self.events.get(sock.cursor)
                && e.event.ns() == sock.ns
                && sock.groups & (1 << (e.event.group() - 1)) != 0
                && write_event(w, e).is_err()
            {
                return if w.is_empty() { Err(NeedRoom { need: REPLY_ROOM }) } else { Ok(()) };
            }
            sock.cursor += 1;
        }
        Ok(())
    }

    /// An acknowledgement: `NLMSG_ERROR` with error 0 and the request's header.
    fn write_ack(&self, w: &mut NlWriter<'_>, sock: &NlSock, req: &NlHeader) -> Result<(), NoRoom> {
        let m = w.begin(NLMSG_ERROR, NLM_F_CAPPED, req.seq, sock.pid)?;
        w.bytes(&0i32.to_ne_bytes())?;
        w.bytes(&req.to_bytes())?;
        w.end(m);
        Ok(())
    }

    /// An error: `NLMSG_ERROR` with the negated errno, the request's header,
    /// and the extended acknowledgement (text, offending attribute).
    pub(crate) fn write_error(
        &self,
        w: &mut NlWriter<'_>,
        sock: &NlSock,
        req: &NlHeader,
        e: NlError,
    ) -> Result<(), NoRoom> {
        let mark = w.mark();
        let res = (|| {
            let flags = NLM_F_CAPPED | if e.msg.is_empty() && e.offset.is_none() { 0 } else { NLM_F_ACK_TLVS };
            let m = w.begin(NLMSG_ERROR, flags, req.seq, sock.pid)?;
            w.bytes(&(-e.errno.code()).to_ne_bytes())?;
            w.bytes(&req.to_bytes())?;
            if !e.msg.is_empty() {
                w.attr_str(NLMSGERR_ATTR_MSG, e.msg.get(..NlError::MSG_MAX).unwrap_or(e.msg))?;
            }
            if let Some(off) = e.offset {
                w.attr_u32(NLMSGERR_ATTR_OFFS, off)?;
            }
            w.end(m);
            Ok(())
        })();
        if res.is_err() {
            w.rollback(mark);
        }
        res
    }

    /// The filters of a dump request: an interface (addresses), a master
    /// (links) or a table (routes). A request with only the one-byte
    /// `rtgenmsg` of old tools dumps everything, as Linux allows.
    fn dump_filter(&self, kind: DumpKind, payload: &[u8]) -> Result<(u32, u8), NlError> {
        let legacy = |len| payload.len() < len;
        Ok(match kind {
            DumpKind::Links if legacy(super::link::IfInfoMsg::LEN) => (0, 0),
            DumpKind::Links => (super::link::LinkMsg::parse(payload)?.master.unwrap_or(0), 0),
            DumpKind::Addrs if legacy(super::addr::IfAddrMsg::LEN) => (0, 0),
            DumpKind::Addrs => {
                let m = super::addr::AddrMsg::parse(payload)?;
                if m.header.family != AF_INET && m.header.family != AF_UNSPEC {
                    return Err(NlError::new(Errno::AfNoSupport, "only IPv4 addresses"));
                }
                (m.header.index, 0)
            }
            DumpKind::Routes if legacy(super::route::RtMsg::LEN) => (0, 0),
            DumpKind::Routes => {
                let m = RouteMsg::parse(payload)?;
                if m.header.family != AF_INET && m.header.family != AF_UNSPEC {
                    return Err(NlError::new(Errno::AfNoSupport, "only IPv4 routes"));
                }
                (0, u8::try_from(m.table_id()).unwrap_or(0))
            }
            DumpKind::Netns => {
                super::family::NsMsg::parse(payload)?;
                (0, 0)
            }
        })
    }
}

/// One whole message of type `ty`, its body written by `body`; nothing if
/// it does not fit.
pub(crate) fn write_msg(
    w: &mut NlWriter<'_>,
    ty: u16,
    flags: u16,
    seq: u32,
    pid: u32,
    body: impl FnOnce(&mut NlWriter<'_>) -> Result<(), NoRoom>,
) -> Result<(), NoRoom> {
    let m = w.begin(ty, flags, seq, pid)?;
    match body(w) {
        Ok(()) => {
            w.end(m);
            Ok(())
        }
        Err(e) => {
            w.rollback(m);
            Err(e)
        }
    }
}

/// A notification, carrying the sequence number and port of the request
/// that caused it.
fn write_event(w: &mut NlWriter<'_>, e: &Event) -> Result<(), NoRoom> {
    let (seq, pid) = (e.req_seq, e.req_pid);
    match &e.event {
        RtEvent::Link { deleted, link } => {
            let ty = if *deleted { RTM_DELLINK } else { RTM_NEWLINK };
            write_msg(w, ty, 0, seq, pid, |w| link.to_msg().emit(w))
        }
        RtEvent::Addr { deleted, ifindex, label, addr, .. } => {
            let ty = if *deleted { RTM_DELADDR } else { RTM_NEWADDR };
            write_msg(w, ty, 0, seq, pid, |w| addr_msg(*ifindex, addr, label).emit(w))
        }
        RtEvent::Route { deleted, route, .. } => {
            let ty = if *deleted { RTM_DELROUTE } else { RTM_NEWROUTE };
            write_msg(w, ty, 0, seq, pid, |w| RouteMsg::from_route(route).emit(w))
        }
        RtEvent::Netns { deleted, id, name } => {
            let ty = if *deleted { SKBNET_DELNS } else { SKBNET_NEWNS };
            let m = NsMsg { id: i32::from(id.0), name: Some(name.clone()) };
            write_msg(w, ty, 0, seq, pid, |w| m.emit(w))
        }
        RtEvent::Nft { text, .. } => {
            let m = super::family::NftMsg { cmd: Some(text.as_str()), output: None };
            write_msg(w, SKBNET_NFT, 0, seq, pid, |w| m.emit(w))
        }
    }
}

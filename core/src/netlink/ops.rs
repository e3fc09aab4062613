//! The requests themselves: what `RTM_NEWLINK`, `RTM_DELLINK`,
//! `RTM_GETLINK`, the address and route messages and skbnet's own messages
//! do to the world (Linux's `rtnl_newlink`, `inet_rtm_newaddr`,
//! `inet_rtm_newroute` and their siblings).
//!
//! Each handler checks everything the request says before it changes
//! anything, so a refused request leaves the world as it was.

use core::net::Ipv4Addr;

use super::addr::AddrMsg;
use super::error::{Errno, NlError};
use super::family::{NftMsg, NsMsg};
use super::link::{LinkKind, LinkMsg, NetnsRef};
use super::msg::{NlHeader, NlWriter};
use super::notify::{FromCmd, NftText, RtEvent};
use super::route::RouteMsg;
use super::rtnl::{Answer, write_msg};
use super::sock::NlSock;
use super::uapi::*;
use crate::ip::fib::{Route, RouteKind};
use crate::netfilter::{NfHooks, NftErrorKind};
use crate::netns::{Device, NsId, World};
use crate::skb::IfIndex;

fn no_dev() -> NlError {
    NlError::new(Errno::NoDev, "no such device")
}

fn no_ns() -> NlError {
    NlError::new(Errno::NoEnt, "no such namespace")
}

impl<'a, H: NfHooks> World<'a, H> {
    /// The namespace a message names.
    fn ns_of(&self, r: NetnsRef) -> Result<NsId, NlError> {
        u8::try_from(r.id()).ok().map(NsId).filter(|&n| self.netns(n).is_some()).ok_or(no_ns())
    }

    /// The interface of `ns` with index `index` (if not 0) or name `name`.
    fn find_link(&self, ns: NsId, index: i32, name: Option<&str>) -> Result<Option<IfIndex>, NlError> {
        if index != 0 {
            let i = u16::try_from(index).ok().filter(|&i| self.iface(i).is_some_and(|x| x.ns == ns));
            return i.map(Some).ok_or(no_dev());
        }
        Ok(name.and_then(|n| self.iface_by_name(ns, n)))
    }

    /// `RTM_NEWLINK`: create a veth pair, a bridge or a TUN device, or
    /// change a link.
    pub(crate) fn rtm_newlink(&mut self, sock: &NlSock, h: &NlHeader, payload: &[u8]) -> Result<Answer, NlError> {
        let m = LinkMsg::parse(payload)?;
        if m.address.is_some() || m.broadcast.is_some() {
            return Err(NlError::new(Errno::OpNotSupp, "hardware addresses cannot be set"));
        }
        match self.find_link(sock.ns, m.header.index, m.name.as_deref())? {
            Some(ifindex) => {
                if h.flags & NLM_F_EXCL != 0 {
                    return Err(NlError::new(Errno::Exist, "link exists"));
                }
                if m.peer.is_some() {
                    return Err(NlError::new(Errno::OpNotSupp, "cannot change a link's kind data"));
                }
                self.setlink(ifindex, &m)
            }
            None if h.flags & NLM_F_CREATE == 0 => Err(no_dev()),
            None => self.newlink(sock, &m),
        }
    }

    /// `RTM_SETLINK`: change a link that exists, as `RTM_NEWLINK` without
    /// `NLM_F_CREATE` does (Linux's `rtnl_setlink` and `do_setlink`); it
    /// never creates one, so kind data is refused.
    pub(crate) fn rtm_setlink(&mut self, sock: &NlSock, payload: &[u8]) -> Result<Answer, NlError> {
        let m = LinkMsg::parse(payload)?;
        if m.address.is_some() || m.broadcast.is_some() {
            return Err(NlError::new(Errno::OpNotSupp, "hardware addresses cannot be set"));
        }
        if m.peer.is_some() || m.kind.is_some() {
            return Err(NlError::new(Errno::OpNotSupp, "cannot change a link's kind data"));
        }
        let ifindex = self.find_link(sock.ns, m.header.index, m.name.as_deref())?.ok_or(no_dev())?;
        self.setlink(ifindex, &m)
    }

    /// Create the link `m` describes.
    fn newlink(&mut self, sock: &NlSock, m: &LinkMsg) -> Result<Answer, NlError> {
        let name = m.name.as_ref().ok_or(NlError::inval("a new link needs a name (IFLA_IFNAME)"))?;
        let kind = m.kind.ok_or(NlError::new(Errno::OpNotSupp, "a new link needs a kind (IFLA_INFO_KIND)"))?;
        let ns = m.netns.map_or(Ok(sock.ns), |r| self.ns_of(r))?;
        let created = match kind {
            LinkKind::Veth => {
                let peer = m.peer.as_ref().ok_or(NlError::inval("a veth needs a peer (VETH_INFO_PEER)"))?;
                let peer_name = peer.name.as_ref().ok_or(NlError::inval("the veth peer needs a name"))?;
                if peer.address.is_some() {
                    return Err(NlError::new(Errno::OpNotSupp, "hardware addresses cannot be set"));
                }
                if peer.mtu.is_some_and(|v| !(68..=1500).contains(&v)) {
                    return Err(NlError::new(Errno::Range, "MTU out of range"));
                }
                let peer_ns = peer.netns.map_or(Ok(sock.ns), |r| self.ns_of(r))?;
                self.check_setlink(None, ns, m)?;
                let (a, b) = self.add_veth(ns, name, peer_ns, peer_name)?;
                if let Some(v) = peer.mtu {
                    let _ = self.set_mtu(b, v as u16);
                }
                a
            }
            LinkKind::Bridge => {
                self.check_setlink(None, ns, m)?;
                self.add_bridge(ns, name)?
            }
            LinkKind::Tun => {
                self.check_setlink(None, ns, m)?;
                self.add_tun(ns, name)?
            }
        };
        self.apply_setlink(created, m)?;
        Ok(Answer::Done)
    }

    /// Check a change of `ifindex` (`None`: a link about to be made in
    /// `ns`) before anything is done.
    fn check_setlink(&self, ifindex: Option<IfIndex>, ns: NsId, m: &LinkMsg) -> Result<(), NlError> {
        let dev_mtu = match ifindex.and_then(|i| self.iface(i)) {
            Some(i) => i.dev.get().mtu(),
            None => crate::dev::veth::Veth::MTU,
        };
        if m.mtu.is_some_and(|v| v < 68 || v > u32::from(dev_mtu)) {
            return Err(NlError::new(Errno::Range, "MTU out of range"));
        }
        if let Some(master) = m.master.filter(|&x| x != 0) {
            let ok = u16::try_from(master)
                .ok()
                .and_then(|b| self.iface(b))
                .is_some_and(|b| b.ns == ns && matches!(b.dev, Device::Bridge(_)));
            if !ok {
                return Err(NlError::new(Errno::NoDev, "no such bridge in the namespace"));
            }
            if m.kind == Some(LinkKind::Bridge)
                || ifindex.and_then(|i| self.iface(i)).is_some_and(|i| matches!(i.dev, Device::Bridge(_)))
            {
                return Err(NlError::inval("a bridge cannot be a port"));
            }
        }
        Ok(())
    }

    /// Change a link: namespace first (as Linux's `do_setlink`), then name,
    /// MTU, master and up/down.
    fn setlink(&mut self, ifindex: IfIndex, m: &LinkMsg) -> Result<Answer, NlError> {
        let i = self.iface(ifindex).ok_or(no_dev())?;
        let (cur_ns, cur_name) = (i.ns, i.name.clone());
        let ns = m.netns.map_or(Ok(cur_ns), |r| self.ns_of(r))?;
        if ns != cur_ns {
            if matches!(i.dev, Device::Loopback(_) | Device::Bridge(_)) {
                return Err(NlError::inval("this device cannot change namespace"));
            }
            let name = m.name.as_ref().unwrap_or(&cur_name);
            if self.iface_by_name(ns, name).is_some() {
                return Err(NlError::new(Errno::Exist, "a device of that name exists in the target namespace"));
            }
        }
        let rename = m.name.as_ref().filter(|n| m.header.index != 0 && **n != cur_name);
        if let Some(n) = rename
            && self.iface_by_name(ns, n).is_some()
        {
            return Err(NlError::new(Errno::Exist, "a device of that name exists"));
        }
        self.check_setlink(Some(ifindex), ns, m)?;
        if ns != cur_ns {
            self.set_link_netns(ifindex, ns)?;
        }
        if let Some(n) = rename {
            self.set_link_name(ifindex, n)?;
        }
        self.apply_setlink(ifindex, m)?;
        Ok(Answer::Done)
    }

    /// The parts of a change that follow the namespace and name: MTU,
    /// master, up/down (`ifi_flags` under `ifi_change`; all flags when
    /// `ifi_change` is 0, as Linux's `rtnl_dev_combine_flags`).
    fn apply_setlink(&mut self, ifindex: IfIndex, m: &LinkMsg) -> Result<(), NlError> {
        if let Some(v) = m.mtu {
            self.set_mtu(ifindex, v as u16)?;
        }
        if let Some(b) = m.master {
            self.set_master(ifindex, b as IfIndex)?;
        }
        let (flags, change) = (m.header.flags, m.header.change);
        let want_up = if change != 0 {
            (change & IFF_UP != 0).then_some(flags & IFF_UP != 0)
        } else {
            (flags != 0).then_some(flags & IFF_UP != 0)
        };
        if let Some(up) = want_up {
            self.set_link_up(ifindex, up)?;
        }
        Ok(())
    }

    /// `RTM_DELLINK`.
    pub(crate) fn rtm_dellink(&mut self, sock: &NlSock, payload: &[u8]) -> Result<Answer, NlError> {
        let m = LinkMsg::parse(payload)?;
        let ifindex = self.find_link(sock.ns, m.header.index, m.name.as_deref())?.ok_or(no_dev())?;
        if self.iface(ifindex).is_some_and(|i| matches!(i.dev, Device::Loopback(_) | Device::Driver(_))) {
            return Err(NlError::new(Errno::OpNotSupp, "this device cannot be deleted"));
        }
        self.del_link(ifindex)?;
        Ok(Answer::Done)
    }

    /// `RTM_GETLINK` of one link, by index or name.
    pub(crate) fn rtm_getlink(
        &mut self,
        sock: &NlSock,
        h: &NlHeader,
        payload: &[u8],
        w: &mut NlWriter<'_>,
    ) -> Result<Answer, NlError> {
        let m = LinkMsg::parse(payload)?;
        let ifindex = self.find_link(sock.ns, m.header.index, m.name.as_deref())?.ok_or(no_dev())?;
        let state = self.link_state(ifindex).ok_or(no_dev())?;
        write_msg(w, RTM_NEWLINK, 0, h.seq, sock.pid, |w| state.to_msg().emit(w))
            .map_err(|_| NlError::new(Errno::MsgSize, "reply too big"))?;
        Ok(Answer::Object)
    }

    /// The address and interface an address request is about.
    fn addr_target(&self, sock: &NlSock, m: &AddrMsg) -> Result<(IfIndex, Ipv4Addr), NlError> {
        if m.header.family != AF_INET {
            return Err(NlError::new(Errno::AfNoSupport, "only IPv4 addresses"));
        }
        if m.header.prefix_len > 32 {
            return Err(NlError::inval("invalid prefix length"));
        }
        let i = u16::try_from(m.header.index).map_err(|_| no_dev())?;
        let ifindex = self.find_link(sock.ns, i32::from(i), None)?.ok_or(no_dev())?;
        let addr = m.addr().ok_or(NlError::inval("missing address (IFA_LOCAL)"))?;
        if let Some(label) = &m.label
            && self.iface(ifindex).is_some_and(|i| i.name != *label)
        {
            return Err(NlError::inval("label must be the device's name"));
        }
        Ok((ifindex, addr))
    }

    /// `RTM_NEWADDR` (`ip addr add A/N dev X`).
    pub(crate) fn rtm_newaddr(&mut self, sock: &NlSock, h: &NlHeader, payload: &[u8]) -> Result<Answer, NlError> {
        let m = AddrMsg::parse(payload)?;
        let (ifindex, addr) = self.addr_target(sock, &m)?;
        let existing = self.iface(ifindex).and_then(|i| i.addrs.iter().find(|a| a.addr == addr).copied());
        if let Some(old) = existing {
            if h.flags & NLM_F_EXCL != 0 || h.flags & NLM_F_REPLACE == 0 {
                return Err(NlError::new(Errno::Exist, "address already assigned"));
            }
            if old.prefix_len == m.header.prefix_len {
                return Ok(Answer::Done);
            }
            // Replace: the prefix changes in place, routes through the
            // device untouched (Linux would add a second address with the
            // other mask; one address per IP is this stack's model).
            self.change_addr_prefix(ifindex, addr, m.header.prefix_len)?;
            return Ok(Answer::Done);
        }
        // A new address needs no NLM_F_CREATE: Linux's IPv4
        // `inet_rtm_newaddr` adds it either way (routes do need it).
        self.add_addr(ifindex, addr, m.header.prefix_len)?;
        Ok(Answer::Done)
    }

    /// `RTM_DELADDR` (`ip addr del A/N dev X`).
    pub(crate) fn rtm_deladdr(&mut self, sock: &NlSock, payload: &[u8]) -> Result<Answer, NlError> {
        let m = AddrMsg::parse(payload)?;
        let (ifindex, addr) = self.addr_target(sock, &m)?;
        let found = self.iface(ifindex).and_then(|i| i.addrs.iter().find(|a| a.addr == addr).copied());
        match found {
            Some(a) if m.header.prefix_len == 0 || a.prefix_len == m.header.prefix_len => {
                self.del_addr(ifindex, addr)?;
                Ok(Answer::Done)
            }
            _ => Err(NlError::new(Errno::AddrNotAvail, "no such address on the device")),
        }
    }

    /// The route a `RTM_NEWROUTE` asks for, its device found from the
    /// gateway when not given (`fib_check_nh`).
    fn route_of(&self, sock: &NlSock, m: &RouteMsg) -> Result<Route, NlError> {
        let mut r = m.to_route()?;
        if r.oif != 0 && self.iface(r.oif).is_none_or(|i| i.ns != sock.ns) {
            return Err(no_dev());
        }
        if r.kind == RouteKind::Unicast && r.oif == 0 {
            let gw = r.gateway.ok_or(NlError::new(Errno::NoDev, "a route needs a device or a gateway"))?;
            r.oif = self
                .ifaces(sock.ns)
                .find(|&i| self.iface(i).is_some_and(|x| x.addrs.iter().any(|a| a.contains(gw))))
                .ok_or(NlError::new(Errno::NetUnreach, "gateway not on any connected network"))?;
        }
        Ok(r)
    }

    /// `RTM_NEWROUTE` (`ip route add`).
    pub(crate) fn rtm_newroute(&mut self, sock: &NlSock, h: &NlHeader, payload: &[u8]) -> Result<Answer, NlError> {
        let m = RouteMsg::parse(payload)?;
        let r = self.route_of(sock, &m)?;
        let same = |x: &Route| x.table == r.table && x.metric == r.metric;
        let exists = self.routes(sock.ns).any(|x| x.dst == r.dst && x.prefix_len == r.prefix_len && same(x));
        if exists {
            if h.flags & NLM_F_REPLACE == 0 {
                return Err(NlError::new(Errno::Exist, "route exists"));
            }
            let old = self.del_route(sock.ns, r.dst, r.prefix_len, same)?;
            if let Err(e) = self.add_route(sock.ns, r) {
                let _ = self.add_route(sock.ns, old);
                return Err(e.into());
            }
            return Ok(Answer::Done);
        }
        if h.flags & NLM_F_CREATE == 0 {
            return Err(NlError::new(Errno::NoEnt, "no such route (NLM_F_CREATE not given)"));
        }
        self.add_route(sock.ns, r)?;
        Ok(Answer::Done)
    }

    /// `RTM_DELROUTE` (`ip route del`): the first route of the prefix that
    /// matches every field the request gives, as Linux's
    /// `fib_table_delete` matches: table 0 is the main table, and a zero
    /// priority, protocol, type or an absent attribute matches anything.
    pub(crate) fn rtm_delroute(&mut self, sock: &NlSock, payload: &[u8]) -> Result<Answer, NlError> {
        let m = RouteMsg::parse(payload)?;
        let h = m.header;
        if h.family != AF_INET {
            return Err(NlError::new(Errno::AfNoSupport, "only IPv4 routes"));
        }
        if h.dst_len > 32 {
            return Err(NlError::inval("invalid prefix length"));
        }
        let dst = m.dst.unwrap_or(Ipv4Addr::UNSPECIFIED);
        if u32::from(dst) & !crate::ip::fib::mask(h.dst_len) != 0 {
            return Err(NlError::inval("invalid prefix for given prefix length"));
        }
        let want = m;
        let table = match want.table_id() {
            0 => u32::from(RT_TABLE_MAIN),
            t => t,
        };
        let priority = want.priority.unwrap_or(0);
        let matches = |r: &Route| {
            let x = RouteMsg::from_route(r);
            x.table_id() == table
                && (want.gateway.is_none() || x.gateway == want.gateway)
                && (want.oif.is_none() || x.oif == want.oif)
                && (want.prefsrc.is_none() || x.prefsrc == want.prefsrc)
                && (priority == 0 || x.priority.unwrap_or(0) == priority)
                && (h.protocol == RTPROT_UNSPEC || x.header.protocol == h.protocol)
                && (h.kind == RTN_UNSPEC || x.header.kind == h.kind)
                && (h.scope == RT_SCOPE_NOWHERE || x.header.scope == h.scope)
        };
        self.del_route(sock.ns, dst, h.dst_len, matches).map_err(|_| NlError::new(Errno::Srch, "no such route"))?;
        Ok(Answer::Done)
    }

    /// `RTM_GETROUTE` of one destination (`ip route get`): the route a
    /// packet to it would take.
    pub(crate) fn rtm_getroute(
        &mut self,
        sock: &NlSock,
        h: &NlHeader,
        payload: &[u8],
        w: &mut NlWriter<'_>,
    ) -> Result<Answer, NlError> {
        let m = RouteMsg::parse(payload)?;
        if m.header.family != AF_INET {
            return Err(NlError::new(Errno::AfNoSupport, "only IPv4 routes"));
        }
        let dst = m.dst.ok_or(NlError::inval("missing destination (RTA_DST)"))?;
        let now = self.now;
        let out =
            self.route_output(sock.ns, dst, None, now).map_err(|_| NlError::new(Errno::NetUnreach, "no route"))?;
        let ifaces = &*self.ifaces;
        let fib = self.fib.lookup(sock.ns, dst, |o| crate::ip::output::usable(ifaces, o));
        let mut reply = fib.map_or_else(RouteMsg::default, |f| RouteMsg::from_route(&f.route));
        reply.header.dst_len = 32;
        reply.header.flags = RTM_F_CLONED;
        reply.dst = Some(dst);
        reply.oif = Some(u32::from(out.oif));
        reply.prefsrc = Some(out.src);
        reply.gateway = (out.next_hop != dst).then_some(out.next_hop);
        reply.priority = None;
        write_msg(w, RTM_NEWROUTE, 0, h.seq, sock.pid, |w| reply.emit(w))
            .map_err(|_| NlError::new(Errno::MsgSize, "reply too big"))?;
        Ok(Answer::Object)
    }

    /// `SKBNET_NEWNS` (`ip netns add NAME`).
    pub(crate) fn skb_newns(&mut self, payload: &[u8]) -> Result<Answer, NlError> {
        let m = NsMsg::parse(payload)?;
        let name = m.name.ok_or(NlError::inval("missing name (SKBNA_NAME)"))?;
        if self.netns_by_name(&name).is_some() {
            return Err(NlError::new(Errno::Exist, "namespace exists"));
        }
        self.add_netns(&name)?;
        Ok(Answer::Done)
    }

    /// `SKBNET_DELNS` (`ip netns del NAME`).
    pub(crate) fn skb_delns(&mut self, payload: &[u8]) -> Result<Answer, NlError> {
        let m = NsMsg::parse(payload)?;
        let ns = match &m.name {
            Some(n) => self.netns_by_name(n).ok_or(no_ns())?,
            None => u8::try_from(m.id).ok().map(NsId).filter(|&n| self.netns(n).is_some()).ok_or(no_ns())?,
        };
        if ns == NsId::INIT {
            return Err(NlError::new(Errno::Perm, "the initial namespace cannot be deleted"));
        }
        self.del_netns(ns)?;
        Ok(Answer::Done)
    }

    /// `SKBNET_NFT`: an nft command, carried out by the world's rule
    /// tables for the socket's namespace ([`World::nft`]). What it prints
    /// comes back in `SKBNET_NFT` messages (`SKBNA_NFT_OUTPUT`), before the
    /// acknowledgement; a refused command's report (the command with the
    /// offending word underlined) comes back the same way, before the error.
    /// A listing too long for the buffer is refused with `EMSGSIZE` (it
    /// changed nothing: ask again with a bigger buffer). A command that
    /// changes rules is never refused for room after the fact: what it
    /// prints is cut to one message ([`NFT_CHANGE_OUTPUT`]), which with the
    /// acknowledgement fits the [`REPLY_ROOM`](super::REPLY_ROOM) checked
    /// before the request was taken, so the reply always says what was
    /// done. A command that changed the rule set is reported to the rules
    /// group.
    pub(crate) fn skb_nft(
        &mut self,
        sock: &NlSock,
        h: &NlHeader,
        payload: &[u8],
        w: &mut NlWriter<'_>,
    ) -> Result<Answer, NlError> {
        let m = NftMsg::parse(payload)?;
        let cmd = m.cmd.ok_or(NlError::inval("missing command (SKBNA_NFT_CMD)"))?;
        let mark = w.mark();
        let limit = if changes_rules(cmd) { NFT_CHANGE_OUTPUT } else { usize::MAX };
        let mut sink = NftSink::new(w, h.seq, sock.pid, limit);
        let res = self.nft(sock.ns, cmd, &mut sink);
        sink.flush();
        if sink.overflow {
            // Only a listing can get here (a change's output is capped
            // within the room checked first), and a listing changed nothing.
            w.rollback(mark);
            return Err(NlError::new(Errno::MsgSize, "nft output does not fit the buffer"));
        }
        match res {
            Ok(()) => {
                if changes_rules(cmd) {
                    let text = NftText::from_cmd(cmd);
                    self.events.push(RtEvent::Nft { ns: sock.ns, text });
                }
                Ok(Answer::Object)
            }
            Err(e) => {
                let mut sink = NftSink::new(w, h.seq, sock.pid, usize::MAX);
                let _ = core::fmt::write(&mut sink, format_args!("{}\n", e.report(cmd)));
                sink.flush();
                Ok(Answer::Failed(nft_error(e.kind)))
            }
        }
    }
}

/// True unless the command only lists.
fn changes_rules(cmd: &str) -> bool {
    let verb = cmd.split_whitespace().find(|w| !w.starts_with('-') && *w != "nft" && *w != "sudo");
    !matches!(verb, Some("list") | None)
}

/// The errno and text of a refused nft command.
fn nft_error(k: NftErrorKind) -> NlError {
    let (errno, msg) = match k {
        NftErrorKind::Syntax(_) => (Errno::Inval, "nft: syntax error"),
        NftErrorKind::BadValue(_) => (Errno::Inval, "nft: bad value"),
        NftErrorKind::NoSuchTable => (Errno::NoEnt, "nft: no such table"),
        NftErrorKind::NoSuchChain => (Errno::NoEnt, "nft: no such chain"),
        NftErrorKind::NoSuchSet => (Errno::NoEnt, "nft: no such set"),
        NftErrorKind::NoSuchRule => (Errno::NoEnt, "nft: no such rule"),
        NftErrorKind::NoSuchElement => (Errno::NoEnt, "nft: no such element"),
        NftErrorKind::NoSuchInterface => (Errno::NoDev, "nft: no such interface"),
        NftErrorKind::Exists => (Errno::Exist, "nft: exists"),
        NftErrorKind::Full(_) => (Errno::NoBufs, "nft: no space left"),
        NftErrorKind::Busy => (Errno::Busy, "nft: in use"),
        NftErrorKind::Invalid(_) => (Errno::OpNotSupp, "nft: not supported"),
        NftErrorKind::NotAttached => (Errno::OpNotSupp, "nft: no rule tables in this world"),
        NftErrorKind::NoNamespace => (Errno::NoEnt, "nft: no such namespace"),
        NftErrorKind::Output => (Errno::MsgSize, "nft: output too long"),
    };
    NlError::new(errno, msg)
}

/// Bytes of nft output per message.
const NFT_CHUNK: usize = 192;

/// Most bytes of output a command that changes rules sends back: one
/// message; the rest is cut.
pub(crate) const NFT_CHANGE_OUTPUT: usize = NFT_CHUNK;

// One output message of a change (header, attribute header, text, NUL,
// padding) and the acknowledgement fit the room every request is given.
const _: () = assert!(16 + 4 + NFT_CHANGE_OUTPUT + 4 + 36 <= super::REPLY_ROOM);

/// Writes what an nft command prints as `SKBNET_NFT` messages.
struct NftSink<'w, 'b> {
    w: &'w mut NlWriter<'b>,
    seq: u32,
    pid: u32,
    buf: heapless::String<NFT_CHUNK>,
    overflow: bool,
    /// Bytes still taken; past them output is cut.
    left: usize,
}

impl<'w, 'b> NftSink<'w, 'b> {
    /// A sink for the reply to request `seq` of port `pid`, taking at most
    /// `limit` bytes.
    fn new(w: &'w mut NlWriter<'b>, seq: u32, pid: u32, limit: usize) -> NftSink<'w, 'b> {
        NftSink { w, seq, pid, buf: heapless::String::new(), overflow: false, left: limit }
    }

    /// Send what is buffered as one message.
    fn flush(&mut self) {
        if self.buf.is_empty() || self.overflow {
            self.buf.clear();
            return;
        }
        let text = NftMsg { cmd: None, output: Some(&self.buf) };
        if write_msg(self.w, SKBNET_NFT, 0, self.seq, self.pid, |w| text.emit(w)).is_err() {
            self.overflow = true;
        }
        self.buf.clear();
    }
}

impl core::fmt::Write for NftSink<'_, '_> {
    fn write_str(&mut self, mut s: &str) -> core::fmt::Result {
        if s.len() > self.left {
            let mut cut = self.left;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s = &s[..cut];
        }
        self.left -= s.len();
        // Bounded: each round moves at least one character, or flushes a
        // full buffer.
        while !s.is_empty() && !self.overflow {
            let room = NFT_CHUNK - self.buf.len();
            let mut cut = s.len().min(room);
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            if cut == 0 {
                self.flush();
                continue;
            }
            let _ = self.buf.push_str(&s[..cut]);
            s = &s[cut..];
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn a_change_s_output_is_cut_to_one_message_that_fits_with_its_ack() {
        let mut buf = [0u8; super::super::REPLY_ROOM];
        let mut w = NlWriter::new(&mut buf);
        let mut sink = NftSink::new(&mut w, 1, 2, NFT_CHANGE_OUTPUT);
        for _ in 0..100 {
            sink.write_str("a line of output that goes on and on\n").unwrap();
        }
        sink.flush();
        assert!(!sink.overflow, "capped output never overflows");
        let used = w.len();
        assert!(super::super::REPLY_ROOM - used >= 36, "room is left for the acknowledgement");
        let all: Vec<_> = super::super::msg::messages(&buf[..used]).collect();
        assert_eq!(all.len(), 1);
        let m = NftMsg::parse(all[0].unwrap().payload).unwrap();
        assert_eq!(m.output.unwrap().len(), NFT_CHANGE_OUTPUT);
    }

    #[test]
    fn only_listings_count_as_not_changing() {
        assert!(!changes_rules("list ruleset") && !changes_rules("sudo nft -a list table inet filter"));
        assert!(
            changes_rules("add table ip t")
                && changes_rules("nft flush ruleset")
                && changes_rules("-a delete table ip t")
        );
    }
}

//! The TCP socket calls (`inet_stream_connect`, `inet_listen`,
//! `inet_accept`, `tcp_sendmsg`, `tcp_recvmsg`, `tcp_shutdown`,
//! `tcp_close`, `do_tcp_setsockopt`), reached through the socket API of
//! [`crate::socket`]. None of them blocks: where Linux would sleep, they
//! return [`Errno::WouldBlock`] (or [`Errno::InProgress`] for `connect`),
//! and [`World::events`] says when to try again.

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::time::Duration;

use super::cong::CongAlgo;
use super::isn::{isn, ts_offset};
use super::output::Conn;
use super::tcb::{CB_FIN, CB_PSH, Tcb, TcpCb, TcpInfo};
use super::{GSO_MAX, HEADROOM, TcpState, WSCALE};
use crate::netfilter::NfHooks;
use crate::netns::{NsId, World};
use crate::skb::{OwnerId, SkBuff};
use crate::socket::{Errno, Events, Proto, RecvFlags, RecvMsg, SockId, UNBOUND};
use crate::time::Instant;

/// A TCP option (`setsockopt` at `SOL_TCP`, and the socket-level options
/// only TCP uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TcpOpt {
    /// `TCP_NODELAY`: send small segments at once instead of coalescing
    /// them while data is unacknowledged (Nagle, RFC 9293 §3.7.4).
    NoDelay(bool),
    /// `SO_KEEPALIVE`: probe an idle connection (RFC 1122 §4.2.3.6).
    KeepAlive(bool),
    /// `TCP_KEEPIDLE`: idle time before the first probe.
    KeepIdle(Duration),
    /// `TCP_KEEPINTVL`: time between probes.
    KeepInterval(Duration),
    /// `TCP_KEEPCNT`: unanswered probes before the connection dies.
    KeepCount(u8),
    /// `TCP_USER_TIMEOUT` (RFC 5482): how long sent data may stay
    /// unacknowledged before the connection dies; zero restores the default
    /// of counting retransmissions.
    UserTimeout(Duration),
    /// `TCP_CONGESTION`.
    Congestion(CongAlgo),
    /// `TCP_MAXSEG`: the largest segment to send and to announce
    /// (88..=65495 bytes, as Linux takes), or zero for the path's.
    MaxSeg(u16),
    /// `SO_LINGER`: `None` for the normal close in the background;
    /// `Some(ZERO)` resets the connection on close and discards what is
    /// unsent; `Some(t)` closes normally but resets if the connection has
    /// not finished within `t`.
    Linger(Option<Duration>),
}

/// One line of [`World::tcp_table`] (what `ss -tan` shows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TcpEntry {
    /// Local address.
    pub local: SocketAddrV4,
    /// Peer, when connected.
    pub remote: Option<SocketAddrV4>,
    /// State.
    pub state: TcpState,
    /// Closed by the application, finishing on its own.
    pub orphan: bool,
    /// `ss`'s Recv-Q: of a connection, the bytes received and not yet
    /// read; of a listener, the connections waiting for `accept`.
    pub recv_q: u32,
    /// `ss`'s Send-Q: of a connection, the bytes (and FIN) written and
    /// not yet acknowledged; of a listener, its backlog.
    pub send_q: u32,
}

/// Which directions [`World::shutdown_socket`] closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Shutdown {
    /// `SHUT_RD`: no more receiving; reads return end of stream.
    Read,
    /// `SHUT_WR`: no more sending; a FIN follows the queued data.
    Write,
    /// `SHUT_RDWR`: both.
    Both,
}

/// How many TCP sockets a namespace holds, and in which condition (the TCP
/// line of Linux's `/proc/net/sockstat`, plus handshakes in progress).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TcpSockStat {
    /// TCP sockets, listeners and orphans included (`inuse`).
    pub inuse: u32,
    /// Connections the application closed that are still finishing (`orphan`).
    pub orphan: u32,
    /// Connections in the TIME-WAIT table (`tw`).
    pub tw: u32,
    /// Handshakes in the request table (Linux's SYN-RECV request socks).
    pub syn_recv: u32,
}

impl<H: NfHooks> World<'_, H> {
    /// TCP socket counts of namespace `ns` (`/proc/net/sockstat`).
    pub fn tcp_sockstat(&self, ns: NsId) -> TcpSockStat {
        let mut st = TcpSockStat::default();
        for s in self.socks.ids().filter_map(|id| self.socks.get(id)) {
            if s.ns == ns && s.proto == Proto::Tcp {
                st.inuse += 1;
                st.orphan += u32::from(s.tcp.as_ref().is_some_and(|t| t.orphan));
            }
        }
        st.tw = self.tw.entries(ns).count() as u32;
        st.syn_recv = self.reqs.len_in(ns) as u32;
        st
    }

    /// The control block of a TCP socket, for reading.
    fn tcb(&self, id: SockId) -> Result<&Tcb, Errno> {
        let s = self.socks.get(id).ok_or(Errno::BadFd)?;
        if s.proto != Proto::Tcp {
            return Err(Errno::NotSupported);
        }
        s.tcp.as_ref().ok_or(Errno::BadFd)
    }

    /// Take a TCP socket's control block, run `f` on it, put it back.
    fn with_tcp<R>(
        &mut self,
        id: SockId,
        f: impl FnOnce(&mut Self, &Conn, &mut Tcb, Instant) -> R,
    ) -> Result<R, Errno> {
        self.tcb(id)?;
        let now = self.now;
        let (c, mut t) = self.tcp_take(id).ok_or(Errno::BadFd)?;
        let r = f(self, &c, &mut t, now);
        self.tcp_put(c, t);
        Ok(r)
    }

    /// Listen for connections (`listen`): an unbound socket gets an
    /// ephemeral port first, as Linux's `inet_autobind` does. `backlog`
    /// bounds both the connections waiting for [`World::accept`] and the
    /// handshakes in progress; beyond the second, SYN cookies answer.
    pub fn listen(&mut self, id: SockId, backlog: u16) -> Result<(), Errno> {
        let t = self.tcb(id)?;
        let s = self.socks.get(id).ok_or(Errno::BadFd)?;
        match t.state {
            TcpState::Closed if s.remote.is_none() => {}
            TcpState::Listen => {
                // Linux lets `listen` change the backlog of a listener.
                if let Some(q) = self.socks.get_mut(id).and_then(|s| s.listen.as_mut()) {
                    q.backlog = backlog.max(1);
                }
                return Ok(());
            }
            _ => return Err(Errno::InvalidArgument),
        }
        if s.local.port() == 0 {
            self.bind(id, SocketAddr::V4(UNBOUND))?;
        }
        let (ns, local) = self.socks.get(id).map(|s| (s.ns, s.local)).ok_or(Errno::BadFd)?;
        if self.socks.listener_clash(ns, id, local) {
            return Err(Errno::AddrInUse);
        }
        self.tcp_listen(id, backlog);
        Ok(())
    }

    /// Take an established connection from a listener (`accept`): its
    /// socket and the peer's address.
    pub fn accept(&mut self, id: SockId) -> Result<(SockId, SocketAddrV4), Errno> {
        let t = self.tcb(id)?;
        if t.state != TcpState::Listen {
            return Err(Errno::InvalidArgument);
        }
        let child = self.tcp_accept_dequeue(id).ok_or(Errno::WouldBlock)?;
        let peer = self.socks.get(child).and_then(|s| s.remote).unwrap_or(UNBOUND);
        Ok((child, peer))
    }

    /// Open a connection (`connect`): the SYN goes out now and the call
    /// returns [`Errno::InProgress`]; [`World::events`] reports the socket
    /// writable once the connection is established, or an error.
    pub(crate) fn tcp_connect(&mut self, id: SockId, addr: SocketAddrV4) -> Result<(), Errno> {
        let t = self.tcb(id)?;
        match t.state {
            TcpState::Closed if t.shut_wr && !t.synced => {
                // An attempt that failed (a reset, a timeout, an ICMP error):
                // its error, or ECONNABORTED if a send or receive took it
                // already, and the socket is unconnected again, so the next
                // connect starts afresh (Linux's __inet_stream_connect and
                // tcp_disconnect). It keeps its port, and forgets the source
                // the route chose unless bind gave it (inet_reset_saddr): that
                // address may be why the attempt failed.
                let e = self.socks.get_mut(id).and_then(|s| s.tcp.as_mut()).and_then(|t| t.err.take());
                if let Some(s) = self.socks.get_mut(id) {
                    s.remote = None;
                    if !s.addr_bound {
                        s.local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, s.local.port());
                    }
                    if let Some(t) = s.tcp.as_mut() {
                        t.purge(&mut self.pool);
                        *t = t.inherit();
                    }
                }
                return Err(e.unwrap_or(Errno::ConnAborted));
            }
            TcpState::Closed if !t.shut_wr => {}
            TcpState::SynSent | TcpState::SynReceived => return Err(Errno::Already),
            // Connected, or a listener, which is no unconnected socket
            // either (Linux: EISCONN for both).
            _ => return Err(Errno::IsConnected),
        }
        if addr.port() == 0 {
            return Err(Errno::InvalidArgument);
        }
        // Linux's tcp_v4_connect: no TCP to broadcast or multicast.
        if addr.ip().is_broadcast() || addr.ip().is_multicast() {
            return Err(Errno::NetUnreachable);
        }
        // 0.0.0.0 means this host (ip_route_connect picks the loopback).
        let addr = if addr.ip().is_unspecified() { SocketAddrV4::new(Ipv4Addr::LOCALHOST, addr.port()) } else { addr };
        let s = self.socks.get(id).ok_or(Errno::BadFd)?;
        let (ns, local) = (s.ns, s.local);
        let now = self.now;
        let hint = (!local.ip().is_unspecified()).then(|| *local.ip());
        let route = self.route_output(ns, *addr.ip(), hint, now)?;
        if route.broadcast {
            // Linux's tcp_v4_connect: no TCP to a broadcast route.
            return Err(Errno::NetUnreachable);
        }
        let port = match local.port() {
            0 => self.tcp_connect_port(ns, route.src, addr)?,
            p => {
                let l = SocketAddrV4::new(route.src, p);
                if self.socks.lookup_established(ns, l, addr).is_some() || self.tw.find(ns, l, addr).is_some() {
                    return Err(Errno::AddrNotAvail);
                }
                p
            }
        };
        let local = SocketAddrV4::new(route.src, port);
        if let Some(s) = self.socks.get_mut(id) {
            s.local = local;
            s.remote = Some(addr);
        }
        self.socks.hash(id);
        self.socks.ehash_insert(id);
        let secret = self.secret;
        let sent = self.with_tcp(id, |w, c, t, now| {
            t.iss = isn(&secret, local, addr, now);
            t.snd_una = t.iss;
            t.snd_nxt = t.iss;
            t.write_seq = t.iss;
            t.ts_offset = ts_offset(&secret, local, addr);
            t.sack_ok = true;
            t.ts_ok = true;
            t.wscale_ok = true;
            t.rcv_wscale = WSCALE;
            t.state = TcpState::SynSent;
            let adv = w.tcp_advmss(c, now);
            w.tcp_sync_mss(c, t, adv, now);
            t.rcv_mss = t.mss;
            t.rcv_wnd = w.tcp_select_window(c, t);
            t.rcv_wup = t.rcv_nxt;
            t.last_rcv = now;
            if let Some(n) = w.netns_mut(c.ns) {
                n.stats.tcp.ActiveOpens += 1;
            }
            w.tcp_send_syn(c, t, now)
        })?;
        match sent {
            // A SYN the device could not take now is retransmitted by the timer.
            Ok(()) | Err(_) => Err(Errno::InProgress),
        }
    }

    /// An ephemeral port for a connection from `ip` to `remote`: free of
    /// bound sockets and of TIME-WAIT entries for the same peer.
    fn tcp_connect_port(&mut self, ns: NsId, ip: core::net::Ipv4Addr, remote: SocketAddrV4) -> Result<u16, Errno> {
        let (lo, hi) = self.netns(ns).map(|n| n.sysctl.local_port_range).ok_or(Errno::InvalidArgument)?;
        let span = u32::from(hi.saturating_sub(lo)) + 1;
        // The keyed start spreads connections over the range (RFC 6056 §3.3.3).
        let first = self.ephemeral_port(ns, Proto::Tcp, ip).ok_or(Errno::AddrNotAvail)?;
        let start = u32::from(first.saturating_sub(lo));
        (0..span)
            .map(|i| lo + ((start + i) % span) as u16)
            .find(|&p| {
                let l = SocketAddrV4::new(ip, p);
                !self.socks.in_use(ns, Proto::Tcp, l, false) && self.tw.find(ns, l, remote).is_none()
            })
            .ok_or(Errno::AddrNotAvail)
    }

    /// Queue bytes to send (`tcp_sendmsg`): copied once into sk_buffs of
    /// up to 64 KiB on the write queue, charged to the send buffer, and sent
    /// as the windows allow. Returns how many bytes were taken, which is
    /// fewer than offered when the send buffer fills, and
    /// [`Errno::WouldBlock`] when not one byte fits.
    pub(crate) fn tcp_sendmsg(&mut self, id: SockId, data: &[u8]) -> Result<usize, Errno> {
        let owner = self.socks.get(id).ok_or(Errno::BadFd)?.snd_owner;
        self.with_tcp(id, |w, c, t, now| w.tcp_sendmsg_locked(c, t, owner, data, now))?
    }

    fn tcp_sendmsg_locked(
        &mut self,
        c: &Conn,
        t: &mut Tcb,
        owner: OwnerId,
        data: &[u8],
        now: Instant,
    ) -> Result<usize, Errno> {
        if let Some(e) = t.err.take() {
            return Err(e);
        }
        if t.shut_wr {
            return Err(Errno::Pipe);
        }
        match t.state {
            TcpState::Established | TcpState::CloseWait => {}
            TcpState::SynSent | TcpState::SynReceived => return Err(Errno::WouldBlock),
            // Linux's sk_stream_wait_connect: no connection to wait for.
            _ => return Err(Errno::Pipe),
        }
        if data.is_empty() {
            return Ok(0);
        }
        let mss = usize::from(t.mss.max(1));
        let goal = ((GSO_MAX - HEADROOM) / mss * mss).max(mss);
        let mut done = 0;
        // Bounded: each pass appends at least one byte or stops.
        while done < data.len() {
            let tail =
                t.wq.back(&self.pool)
                    .filter(|r| TcpCb::of(&self.pool, r).flags & CB_FIN == 0 && self.pool.len(r) < goal);
            let r = match tail {
                Some(r) => r,
                None => {
                    let Ok(skb) = self.pool.alloc_with_headroom(owner, HEADROOM) else { break };
                    let _ = self.pool.header_release(&skb);
                    TcpCb { seq: t.write_seq, end_seq: t.write_seq, when: 0, flags: 0 }.store(&mut self.pool, &skb);
                    let r = skb.as_ref();
                    t.wq.push_back(&mut self.pool, skb);
                    r
                }
            };
            let room = goal - self.pool.len(&r);
            let n = room.min(data.len() - done);
            let appended = self.pool.append(&r, &data[done..done + n]).unwrap_or(0);
            if appended == 0 {
                if self.pool.len(&r) == 0
                    && let Some(empty) = t.wq.pop_back(&mut self.pool)
                {
                    self.pool.free(empty);
                }
                break;
            }
            let mut cb = TcpCb::of(&self.pool, &r);
            cb.end_seq += appended as u32;
            cb.store(&mut self.pool, &r);
            t.write_seq += appended as u32;
            done += appended;
            if appended < n {
                break;
            }
        }
        if done == 0 {
            return Err(Errno::WouldBlock);
        }
        // `tcp_push`: what this call wrote ends on the tail, which carries PSH.
        if let Some(tail) = t.wq.back(&self.pool) {
            let mut cb = TcpCb::of(&self.pool, &tail);
            cb.flags |= CB_PSH;
            cb.store(&mut self.pool, &tail);
        }
        self.tcp_write_xmit(c, t, now);
        Ok(done)
    }

    /// Copy received bytes into `buf` (`tcp_recvmsg`). `len` zero with
    /// data requested means the peer closed: end of stream.
    pub(crate) fn tcp_recvmsg(&mut self, id: SockId, buf: &mut [u8], flags: RecvFlags) -> Result<RecvMsg, Errno> {
        let s = self.socks.get(id).ok_or(Errno::BadFd)?;
        // Nothing to read and nothing to report: a non-blocking reader asks
        // often, so answer without moving the control block out of the
        // table and back.
        if s.tcp.as_ref().is_some_and(Self::tcp_recv_would_block) {
            return Err(Errno::WouldBlock);
        }
        let from = s.remote.unwrap_or(UNBOUND);
        let len = self.with_tcp(id, |w, c, t, now| {
            w.tcp_recv_ready(t)?;
            Ok(if flags.peek { w.tcp_peek(t, buf, flags.trunc) } else { w.tcp_read(c, t, buf, flags.trunc, now) })
        })??;
        Ok(RecvMsg { len, truncated: false, from })
    }

    /// Receive without copying: the next in-order sk_buff, data at its
    /// payload (zero-copy `tcp_recvmsg`). `None` at end of stream.
    pub(crate) fn tcp_recv_skb(&mut self, id: SockId) -> Result<Option<SkBuff>, Errno> {
        self.with_tcp(id, |w, c, t, now| {
            w.tcp_recv_ready(t)?;
            let Some(skb) = t.rcvq.pop_front(&mut w.pool) else { return Ok(None) };
            let _ = w.pool.charge(&skb, OwnerId::SYSTEM);
            w.tcp_cleanup_rbuf(c, t, now);
            Ok(Some(skb))
        })?
    }

    /// Whether [`Self::tcp_recv_ready`] would say only "nothing yet".
    fn tcp_recv_would_block(t: &Tcb) -> bool {
        t.rcvq.is_empty()
            && t.err.is_none()
            && !t.fin_rcvd
            && !t.shut_rd
            && !matches!(t.state, TcpState::Listen | TcpState::Closed)
    }

    /// Whether a read may proceed: `Err` for a pending error or nothing
    /// yet; `Ok` with data waiting or at end of stream.
    fn tcp_recv_ready(&self, t: &mut Tcb) -> Result<(), Errno> {
        if !t.rcvq.is_empty() {
            return Ok(());
        }
        if let Some(e) = t.err.take() {
            return Err(e);
        }
        match t.state {
            TcpState::Listen => Err(Errno::NotConnected),
            _ if t.fin_rcvd || t.shut_rd => Ok(()),
            TcpState::Closed => Err(Errno::NotConnected),
            _ => Err(Errno::WouldBlock),
        }
    }

    /// Close one or both directions (`shutdown`).
    pub fn shutdown_socket(&mut self, id: SockId, how: Shutdown) -> Result<(), Errno> {
        let s = self.socks.get_mut(id).ok_or(Errno::BadFd)?;
        if s.proto != Proto::Tcp {
            // A datagram socket has no stream to end, but is marked: sends
            // fail with EPIPE, reads end, and poll says so. Linux marks it
            // even when it answers ENOTCONN, to wake readers.
            s.shut_rd |= how != Shutdown::Write;
            s.shut_wr |= how != Shutdown::Read;
            return if s.remote.is_some() { Ok(()) } else { Err(Errno::NotConnected) };
        }
        let listening = self.tcb(id)?.state == TcpState::Listen;
        if listening {
            // Linux stops a listener on shutdown(SHUT_RD).
            if how != Shutdown::Write {
                let now = self.now;
                self.tcp_listen_stop(id, now);
                if let Some(s) = self.socks.get_mut(id) {
                    s.listen = None;
                    if let Some(t) = s.tcp.as_mut() {
                        t.state = TcpState::Closed;
                    }
                }
            }
            return Ok(());
        }
        // Nothing to shut once the connection is over (Linux's
        // inet_shutdown: ENOTCONN in CLOSE).
        let connected = self.socks.get(id).is_some_and(|s| s.remote.is_some())
            && self.tcb(id).is_ok_and(|t| t.state != TcpState::Closed);
        self.with_tcp(id, |w, c, t, now| {
            if !connected {
                return Err(Errno::NotConnected);
            }
            if how != Shutdown::Write {
                t.shut_rd = true;
            }
            if how != Shutdown::Read {
                w.tcp_close_write(c, t, now);
            }
            Ok(())
        })?
    }

    /// End our side of the stream (`tcp_shutdown`, `tcp_close_state`):
    /// queue a FIN after the data and move to FIN-WAIT-1 or LAST-ACK.
    fn tcp_close_write(&mut self, c: &Conn, t: &mut Tcb, now: Instant) {
        if t.shut_wr {
            return;
        }
        let was = t.state;
        match was {
            TcpState::SynSent => {
                // Nothing was said yet: the attempt just ends.
                t.shut_wr = true;
                return self.tcp_done(c, t);
            }
            TcpState::Established | TcpState::SynReceived => t.state = TcpState::FinWait1,
            TcpState::CloseWait => t.state = TcpState::LastAck,
            _ => return,
        }
        if matches!(was, TcpState::Established | TcpState::CloseWait)
            && let Some(n) = self.netns_mut(c.ns)
        {
            // CurrEstab counts ESTABLISHED and CLOSE-WAIT only.
            n.stats.tcp.CurrEstab = n.stats.tcp.CurrEstab.saturating_sub(1);
        }
        t.shut_wr = true;
        self.tcp_queue_fin(t, now);
        self.tcp_write_xmit(c, t, now);
    }

    /// Close a TCP socket (`tcp_close`). The id is dead at once; the
    /// connection finishes in the background (an orphan) unless data was
    /// left unread or `SO_LINGER` is zero, which reset it.
    pub(crate) fn tcp_close(&mut self, id: SockId) -> Result<(), Errno> {
        let now = self.now;
        let state = self.tcb(id)?.state;
        if state == TcpState::Listen {
            self.tcp_listen_stop(id, now);
        }
        let orphan = self.socks.orphan(id).ok_or(Errno::BadFd)?;
        self.with_tcp(orphan, |w, c, t, now| {
            t.orphan = true;
            // Nobody reads any more (Linux sets `SHUTDOWN_MASK`): new data
            // from the peer is answered with a reset in `tcp_data_and_fin`,
            // not queued on a socket that would fill and close its window
            // while the peer retransmits into it.
            t.shut_rd = true;
            t.err = None;
            let unread = !t.rcvq.is_empty();
            match t.state {
                TcpState::Closed | TcpState::Listen | TcpState::SynSent => {
                    w.tcp_done(c, t);
                }
                _ if unread || t.linger == Some(Duration::ZERO) => {
                    //= https://www.rfc-editor.org/rfc/rfc2525#section-2.17
                    //# If an application closes a connection with data in the receive
                    //# buffer, the TCP SHOULD send a RST
                    if let Some(n) = w.netns_mut(c.ns) {
                        if unread {
                            n.stats.tcp_ext.TCPAbortOnClose += 1;
                        } else {
                            n.stats.tcp_ext.TCPAbortOnLinger += 1;
                        }
                    }
                    w.tcp_send_active_reset(c, t, now);
                    w.tcp_done(c, t);
                }
                _ => {
                    w.tcp_close_write(c, t, now);
                    if t.state == TcpState::FinWait2 {
                        t.idle_at = Some(now + super::FIN_TIMEOUT);
                    }
                    if let Some(l) = t.linger.filter(|l| !l.is_zero()) {
                        t.linger_at = Some(now + l);
                    }
                }
            }
        })
    }

    /// Drop a TCP socket and everything it holds at once, with a reset
    /// for a synchronized peer (the world is shutting down).
    pub(crate) fn tcp_destroy(&mut self, id: SockId) {
        let now = self.now;
        if self.tcb(id).is_ok_and(|t| t.state == TcpState::Listen) {
            self.tcp_listen_stop(id, now);
        }
        let _ = self.tcp_abort(id, now);
        // An aborted socket that was not yet released (it never is while
        // the application holds it) goes now.
        if let Some(mut s) = self.socks.remove(id) {
            if let Some(mut t) = s.tcp.take() {
                t.purge(&mut self.pool);
            }
            s.rx.purge(&mut self.pool);
            let _ = self.pool.release_owner(s.rcv_owner);
            let _ = self.pool.release_owner(s.snd_owner);
        }
    }

    /// Set a TCP option.
    pub fn set_tcp_option(&mut self, id: SockId, opt: TcpOpt) -> Result<(), Errno> {
        self.with_tcp(id, |w, c, t, now| {
            match opt {
                TcpOpt::NoDelay(on) => {
                    t.nodelay = on;
                    // Linux pushes what Nagle held when TCP_NODELAY goes on.
                    if on {
                        w.tcp_write_xmit(c, t, now);
                    }
                }
                TcpOpt::KeepAlive(on) => {
                    t.keepalive = on.then_some(t.keep_cfg);
                    t.idle_at = match (on, t.state) {
                        (true, TcpState::Established | TcpState::CloseWait) => Some(now + t.keep_cfg.idle),
                        (false, TcpState::FinWait2) if t.orphan => t.idle_at,
                        (false, _) => None,
                        (true, _) => t.idle_at,
                    };
                }
                TcpOpt::KeepIdle(d) | TcpOpt::KeepInterval(d) if d.is_zero() || d > Duration::from_secs(32_767) => {
                    return Err(Errno::InvalidArgument);
                }
                TcpOpt::KeepIdle(d) => {
                    t.keep_cfg.idle = d;
                    if let Some(k) = t.keepalive.as_mut() {
                        k.idle = d;
                        t.idle_at = Some(t.last_rcv.max(now) + d);
                    }
                }
                TcpOpt::KeepInterval(d) => {
                    t.keep_cfg.interval = d;
                    if let Some(k) = t.keepalive.as_mut() {
                        k.interval = d;
                    }
                }
                TcpOpt::KeepCount(0) => return Err(Errno::InvalidArgument),
                TcpOpt::KeepCount(n) => {
                    t.keep_cfg.count = n;
                    if let Some(k) = t.keepalive.as_mut() {
                        k.count = n;
                    }
                }
                TcpOpt::UserTimeout(d) => t.user_timeout = d,
                TcpOpt::Congestion(a) => t.cong.set_algo(a),
                TcpOpt::MaxSeg(m) if m != 0 && !(88..=65_495).contains(&m) => return Err(Errno::InvalidArgument),
                TcpOpt::MaxSeg(m) => {
                    t.user_mss = m;
                    if m != 0 && t.state.synchronized() {
                        t.mss = t.mss.min(m);
                    }
                }
                TcpOpt::Linger(l) => t.linger = l,
            }
            Ok(())
        })?
    }

    /// Every TCP socket of `ns` — listeners, connections, orphans still
    /// closing — and every connection in TIME-WAIT.
    pub fn tcp_table(&self, ns: NsId) -> impl Iterator<Item = TcpEntry> + '_ {
        let socks = self.socks.ids().filter_map(move |id| {
            let s = self.socks.get(id).filter(|s| s.ns == ns)?;
            let t = s.tcp.as_ref()?;
            let (recv_q, send_q) = match &s.listen {
                Some(l) => (u32::from(l.accept_len), u32::from(l.backlog)),
                None => (self.tcp_unread(t), t.write_seq - t.snd_una.min(t.write_seq)),
            };
            Some(TcpEntry { local: s.local, remote: s.remote, state: t.state, orphan: t.orphan, recv_q, send_q })
        });
        let tw = self.tw.entries(ns).map(|e| TcpEntry {
            local: e.local,
            remote: Some(e.remote),
            state: TcpState::TimeWait,
            orphan: true,
            recv_q: 0,
            send_q: 0,
        });
        socks.chain(tw)
    }

    /// A connection's state and numbers (`TCP_INFO`).
    pub fn tcp_info(&self, id: SockId) -> Result<TcpInfo, Errno> {
        let t = self.tcb(id)?;
        let unread = self.tcp_unread(t);
        Ok(TcpInfo {
            state: t.state,
            mss: t.mss,
            cwnd: t.cong.cwnd(),
            ssthresh: t.cong.ssthresh(),
            srtt: Duration::from_micros(u64::from(t.srtt_us)),
            rto: t.rto_backed_off(),
            in_flight: t.bytes_in_flight(),
            snd_wnd: t.snd_wnd,
            rcv_wnd: t.rcv_wnd,
            sack: t.sack_ok,
            timestamps: t.ts_ok,
            wscale: (t.rcv_wscale, t.snd_wscale),
            unread,
            unsent: t.write_seq - t.snd_nxt.min(t.write_seq),
        })
    }

    /// Bytes received in order and not yet read.
    fn tcp_unread(&self, t: &Tcb) -> u32 {
        t.rcvq.iter(&self.pool).map(|r| self.pool.len(&r) as u32).sum()
    }

    /// Readiness of a TCP socket.
    pub(crate) fn tcp_events(&self, id: SockId) -> Result<Events, Errno> {
        let s = self.socks.get(id).ok_or(Errno::BadFd)?;
        let t = self.tcb(id)?;
        if t.state == TcpState::Listen {
            let waiting = s.listen.is_some_and(|q| q.accept_len > 0);
            return Ok(Events { readable: waiting, ..Events::default() });
        }
        let limit = self.pool.owner_stats(s.snd_owner).map_or(0, |o| o.limit);
        let room = self.pool.owner_room(s.snd_owner);
        let can_send = matches!(t.state, TcpState::Established | TcpState::CloseWait) && !t.shut_wr;
        Ok(Events {
            readable: !t.rcvq.is_empty() || t.fin_rcvd || t.shut_rd || t.err.is_some(),
            // Writable once a third of the send buffer is free (Linux's
            // sk_stream_is_writeable), or when a send would fail at once (an
            // error, the sending side shut), so the writer learns it
            // (tcp_poll sets POLLOUT on SEND_SHUTDOWN).
            writable: (can_send && room >= (limit / 3).max(self.pool.buf_size() as u32))
                || t.err.is_some()
                || t.shut_wr,
            error: t.err.is_some(),
            // Linux's tcp_poll: hung up when both directions are shut or
            // there is no connection.
            hangup: t.state == TcpState::Closed || (t.shut_wr && (t.fin_rcvd || t.shut_rd)),
        })
    }

    /// An ICMP error about a segment we sent from `local` to `remote`
    /// (`tcp_v4_err`, RFC 5927): a smaller path MTU shrinks the MSS and
    /// resends; an unreachable peer ends a connection attempt; on an
    /// established connection it is only remembered (a soft error).
    pub(crate) fn tcp_err(
        &mut self,
        ns: NsId,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seq: super::Seq,
        e: Errno,
        now: Instant,
    ) {
        let Some(id) = self.socks.lookup_established(ns, local, remote) else {
            if let Some(i) = self.reqs.find(ns, local, remote) {
                // A request whose peer is unreachable: forget it (Linux's
                // `tcp_req_err` when the sequence matches).
                if e != Errno::MsgSize && self.reqs.iss_of(i) == Some(seq) {
                    self.tcp_req_drop(i);
                }
            }
            return;
        };
        let _ = self.with_tcp(id, |w, c, t, _| {
            //= https://www.rfc-editor.org/rfc/rfc5927#section-4.1
            //# TCP SHOULD check that the TCP sequence number contained in the
            //# payload of the ICMP error message is within the range SND.UNA =<
            //# SEG.SEQ < SND.NXT.
            if !(seq.ge(t.snd_una) && seq.lt(t.snd_nxt.max(t.snd_una + 1))) {
                return;
            }
            match e {
                Errno::MsgSize => {
                    let before = t.mss;
                    w.tcp_sync_mss(c, t, t.peer_mss, now);
                    // Linux's tcp_simple_retransmit: what was too big goes again, at once.
                    if t.mss < before && !t.rtx.is_empty() {
                        let _ = w.tcp_retransmit_head(c, t, now);
                    }
                }
                _ if t.state == TcpState::SynSent => {
                    if let Some(n) = w.netns_mut(c.ns) {
                        n.stats.tcp.AttemptFails += 1;
                    }
                    w.tcp_fail(c, t, e);
                }
                _ => t.soft_err = Some(e),
            }
        });
    }
}

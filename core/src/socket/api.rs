//! The socket calls, as methods of the world.

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use super::{Errno, Proto, SockId, SockOpts, SockSlot, UNBOUND};
use crate::ip::output::IpParams;
use crate::netfilter::NfHooks;
use crate::netns::{NsId, World};
use crate::skb::{OwnerId, SkBuff, SkbId, SkbQueue};
use crate::stats::DropReason;
use crate::tcp::TcpState;
use crate::time::Instant;
use crate::udp::Delivery;
use crate::wire::checksum::InetSum;
use crate::wire::{IpProtocol, Ipv4Packet};

/// The kind of socket to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SockType {
    /// `SOCK_DGRAM` with `IPPROTO_UDP`.
    Udp,
    /// `SOCK_DGRAM` with `IPPROTO_ICMP`: a ping socket. Each message is an
    /// ICMP echo request (header and data); the stack sets the identifier to
    /// the socket's port and fills the checksum.
    Ping,
    /// `SOCK_STREAM` with `IPPROTO_TCP`.
    Tcp,
}

/// A socket option (`setsockopt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SockOpt {
    /// `SO_REUSEADDR`.
    ReuseAddr(bool),
    /// `SO_BROADCAST`.
    Broadcast(bool),
    /// `SO_RCVBUF`, in bytes of buffer memory.
    RcvBuf(u32),
    /// `SO_SNDBUF`, in bytes of buffer memory.
    SndBuf(u32),
    /// `IP_TTL`.
    Ttl(u8),
    /// `IP_TOS`.
    Tos(u8),
    /// `IP_MTU_DISCOVER` (`IP_PMTUDISC_DO` when true).
    MtuDiscover(bool),
    /// `IP_RECVERR`.
    RecvErr(bool),
}

/// Readiness of a socket (`poll`'s events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Events {
    /// Data waits (`POLLIN`).
    pub readable: bool,
    /// There is room to send (`POLLOUT`).
    pub writable: bool,
    /// An error waits (`POLLERR`).
    pub error: bool,
    /// A TCP socket has no connection, or both directions are shut (`POLLHUP`).
    pub hangup: bool,
}

/// What [`World::recvmsg`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvMsg {
    /// Bytes copied into the buffer.
    pub len: usize,
    /// The datagram was longer than the buffer (`MSG_TRUNC`).
    pub truncated: bool,
    /// Who sent it.
    pub from: SocketAddrV4,
}

/// Flags of a receive (`recvmsg`'s `MSG_*`), for [`World::recvmsg_flags`].
/// Every receive is non-blocking, so `MSG_DONTWAIT` is always in effect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RecvFlags {
    /// Leave what is read queued, so the next receive returns it again
    /// (`MSG_PEEK`). A pending error is still reported, and cleared, as
    /// Linux's `sock_error` does.
    pub peek: bool,
    /// `MSG_TRUNC`. On a datagram socket, `len` is the datagram's whole
    /// length even when the buffer held less (with `peek` and an empty
    /// buffer: the size of the next datagram). On a TCP socket, up to
    /// `buf.len()` bytes of the stream are consumed without being copied,
    /// and `buf` is not written (Linux's `tcp_recvmsg`).
    pub trunc: bool,
}

impl RecvFlags {
    /// `MSG_PEEK`.
    pub const PEEK: RecvFlags = RecvFlags { peek: true, trunc: false };
    /// `MSG_TRUNC`.
    pub const TRUNC: RecvFlags = RecvFlags { peek: false, trunc: true };
}

/// Default `SO_RCVBUF` and `SO_SNDBUF` (Linux's `rmem_default`/`wmem_default`).
pub const DEFAULT_BUF: u32 = 212_992;

fn v4(addr: SocketAddr) -> Result<SocketAddrV4, Errno> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(Errno::AfNotSupported),
    }
}

impl<H: NfHooks> World<'_, H> {
    /// Open a socket in namespace `ns` (`socket`).
    pub fn socket(&mut self, ns: NsId, ty: SockType) -> Result<SockId, Errno> {
        if self.netns(ns).is_none() {
            return Err(Errno::InvalidArgument);
        }
        let rcv = self.pool.register_owner(DEFAULT_BUF).map_err(|_| Errno::NoBufs)?;
        let Ok(snd) = self.pool.register_owner(DEFAULT_BUF) else {
            let _ = self.pool.release_owner(rcv);
            return Err(Errno::NoBufs);
        };
        let slot = SockSlot {
            generation: 0,
            ns,
            proto: match ty {
                SockType::Udp => Proto::Udp,
                SockType::Ping => Proto::Icmp,
                SockType::Tcp => Proto::Tcp,
            },
            local: UNBOUND,
            remote: None,
            hashed: false,
            next: u16::MAX,
            rx: SkbQueue::new(),
            rcv_owner: rcv,
            snd_owner: snd,
            err: None,
            opts: SockOpts::default(),
            shut_rd: false,
            shut_wr: false,
            addr_bound: false,
            tcp: (ty == SockType::Tcp).then(|| crate::tcp::Tcb::new(Default::default())),
            listen: None,
            accept_next: u16::MAX,
            ehashed: false,
            enext: u16::MAX,
            timer_at: None,
        };
        self.socks.insert(slot).ok_or_else(|| {
            let _ = self.pool.release_owner(rcv);
            let _ = self.pool.release_owner(snd);
            Errno::TooManySockets
        })
    }

    /// Bind to a local address (`bind`); port 0 picks an ephemeral port.
    pub fn bind(&mut self, id: SockId, addr: SocketAddr) -> Result<(), Errno> {
        let addr = v4(addr)?;
        let s = self.socks.get(id).ok_or(Errno::BadFd)?;
        if s.hashed {
            return Err(Errno::InvalidArgument);
        }
        let (ns, proto, reuse) = (s.ns, s.proto, s.opts.reuse_addr);
        let ip = *addr.ip();
        // Linux's `inet_bind` takes any address the local table calls
        // local or broadcast: one of ours, all of 127/8, a subnet's
        // broadcast address (to hear its broadcasts).
        if !ip.is_unspecified() && !ip.is_broadcast() && self.local_addr_type(ns, ip).is_none() {
            return Err(Errno::AddrNotAvail);
        }
        let port = match addr.port() {
            0 => self.ephemeral_port(ns, proto, ip).ok_or(Errno::AddrInUse)?,
            p if self.socks.in_use(ns, proto, SocketAddrV4::new(ip, p), reuse) => return Err(Errno::AddrInUse),
            p => p,
        };
        if let Some(s) = self.socks.get_mut(id) {
            s.local = SocketAddrV4::new(ip, port);
            s.addr_bound = !ip.is_unspecified();
        }
        self.socks.hash(id);
        Ok(())
    }

    /// A free port of the ephemeral range, starting the search at a keyed
    /// hash so successive choices are not sequential (RFC 6056 §3.3.3's idea).
    pub(crate) fn ephemeral_port(&mut self, ns: NsId, proto: Proto, ip: Ipv4Addr) -> Option<u16> {
        let n = self.netns_mut(ns)?;
        let (lo, hi) = n.sysctl.local_port_range;
        n.port_cursor = n.port_cursor.wrapping_add(1);
        let cursor = n.port_cursor;
        let span = u32::from(hi.checked_sub(lo)?) + 1;
        let mut key = [0u8; 10];
        key[0] = ns.0;
        key[1] = proto as u8;
        key[2..6].copy_from_slice(&ip.octets());
        key[6..10].copy_from_slice(&cursor.to_le_bytes());
        let start = (self.keyed_hash(&key) % u64::from(span)) as u32;
        (0..span)
            .map(|i| lo + ((start + i) % span) as u16)
            .find(|&p| !self.socks.in_use(ns, proto, SocketAddrV4::new(ip, p), false))
    }

    /// Set the default peer (`connect`): later sends may omit the address,
    /// and only datagrams from the peer are received.
    pub fn connect(&mut self, id: SockId, addr: SocketAddr) -> Result<(), Errno> {
        let addr = v4(addr)?;
        let s = self.socks.get(id).ok_or(Errno::BadFd)?;
        if s.proto == Proto::Tcp {
            return self.tcp_connect(id, addr);
        }
        let (ns, local, broadcast_ok) = (s.ns, s.local, s.opts.broadcast);
        let now = self.now;
        // The peer must be routable now, as Linux's ip4_datagram_connect
        // checks, and a broadcast one needs SO_BROADCAST there too.
        let route = self.route_output(ns, *addr.ip(), (!local.ip().is_unspecified()).then(|| *local.ip()), now)?;
        if route.broadcast && !broadcast_ok {
            return Err(Errno::Access);
        }
        if local.port() == 0 {
            self.bind(id, SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)))?;
        }
        let s = self.socks.get_mut(id).ok_or(Errno::BadFd)?;
        let port = if s.proto == Proto::Icmp { 0 } else { addr.port() };
        s.remote = Some(SocketAddrV4::new(*addr.ip(), port));
        // An unbound address becomes the route's source, so getsockname
        // tells the address the socket talks from (ip4_datagram_connect
        // sets inet_saddr and inet_rcv_saddr).
        if s.local.ip().is_unspecified() {
            s.local = SocketAddrV4::new(route.src, s.local.port());
        }
        Ok(())
    }

    /// Send a datagram (`sendmsg`): to `to`, or to the connected peer.
    /// Returns the bytes sent. Never blocks: a full send buffer is
    /// [`Errno::WouldBlock`]. On a TCP socket the bytes join the stream
    /// (`to` is ignored, as Linux does) and fewer than offered may be
    /// taken when the send buffer fills.
    pub fn sendmsg(&mut self, id: SockId, data: &[u8], to: Option<SocketAddr>) -> Result<usize, Errno> {
        let s = self.socks.get(id).ok_or(Errno::BadFd)?;
        if s.proto == Proto::Tcp {
            return self.tcp_sendmsg(id, data);
        }
        let dst = match to {
            Some(a) => v4(a)?,
            None => s.remote.ok_or(Errno::DestAddrReq)?,
        };
        let (unbound, shut_wr) = (s.local.port() == 0, s.shut_wr);
        // A pending error (an ICMP error the connected peer's host sent)
        // is what this send reports, once, and then a shut sending side
        // (Linux's sock_alloc_send_pskb).
        if let Some(e) = self.socks.get_mut(id).and_then(|s| s.err.take()) {
            return Err(e);
        }
        if shut_wr {
            return Err(Errno::Pipe);
        }
        if unbound {
            self.bind(id, SocketAddr::V4(UNBOUND))?;
        }
        let now = self.now;
        let proto = self.socks.get(id).map(|s| s.proto).ok_or(Errno::BadFd)?;
        match proto {
            Proto::Udp => self.udp_sendmsg(id, data, dst, now),
            Proto::Icmp => self.ping_sendmsg(id, data, dst, now),
            Proto::Tcp => self.tcp_sendmsg(id, data),
        }
    }

    /// A datagram socket's packet holding `data` after 128 bytes of
    /// headroom, charged to its send buffer `owner` by the buffer's rule
    /// ([`crate::skb::SkbPool::charge_within`]): refused (`EAGAIN`) only while the
    /// buffer is full, whatever the size. `ENOBUFS` when the pool is out.
    pub(crate) fn dgram_alloc(&mut self, owner: OwnerId, data: &[u8]) -> Result<SkBuff, Errno> {
        let skb = self.pool.alloc_with_headroom(OwnerId::SYSTEM, 128).map_err(|_| Errno::NoBufs)?;
        if self.pool.append(&skb, data) != Ok(data.len()) && !data.is_empty() {
            self.pool.free(skb);
            return Err(Errno::NoBufs);
        }
        if self.pool.charge_within(&skb, owner).is_err() {
            self.pool.free(skb);
            return Err(Errno::WouldBlock);
        }
        Ok(skb)
    }

    /// Send an echo request from a ping socket.
    fn ping_sendmsg(&mut self, id: SockId, data: &[u8], dst: SocketAddrV4, now: Instant) -> Result<usize, Errno> {
        if data.len() < 8 || data[0] != 8 || data.len() > crate::udp::MAX_PAYLOAD {
            return Err(Errno::InvalidArgument);
        }
        let s = self.socks.get(id).ok_or(Errno::BadFd)?;
        let (ns, local, owner, opts) = (s.ns, s.local, s.snd_owner, s.opts);
        let local_ip = (!local.ip().is_unspecified()).then(|| *local.ip());
        let route = self.route_output(ns, *dst.ip(), local_ip, now)?;
        if route.broadcast && !opts.broadcast {
            return Err(Errno::Access);
        }
        let skb = self.dgram_alloc(owner, data)?;
        // Code 0, checksum to fill, our identifier. Written through the
        // chain: with a small pool buffer the message may not start in the
        // first one.
        let [a, b] = local.port().to_be_bytes();
        let len = self.pool.len(&skb);
        let mut ok = self.pool.write_at(&skb, 1, &[0, 0, 0, a, b]).is_ok();
        let csum = InetSum::new().add_skb(&self.pool, &skb, 0, len).map(|s| s.finish()).unwrap_or(0);
        ok &= self.pool.write_at(&skb, 2, &csum.to_be_bytes()).is_ok();
        if !ok {
            self.pool.free(skb);
            return Err(Errno::NoBufs);
        }
        let ttl = opts.ttl.unwrap_or_else(|| self.netns(ns).map_or(64, |n| n.sysctl.default_ttl));
        let p = IpParams { proto: IpProtocol::ICMP, ttl, tos: opts.tos, df: opts.pmtu_discover };
        match self.ip_queue_xmit(ns, skb, &route, *dst.ip(), p, now) {
            Err(DropReason::FragNeeded) => Err(Errno::MsgSize),
            Err(DropReason::Netfilter) => Err(Errno::Perm),
            Err(DropReason::TxQueueFull | DropReason::NoMemory | DropReason::LinkDown) => Err(Errno::NoBufs),
            _ => {
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.icmp.OutMsgs += 1;
                    n.stats.icmp.OutEchos += 1;
                }
                Ok(data.len())
            }
        }
    }

    /// Receive a datagram into `buf` (`recvmsg`), copying it out of its
    /// sk_buff; a pending error (from ICMP) is reported first, once. On a
    /// TCP socket, bytes of the stream: as many as are waiting and fit,
    /// and `len` zero at the end of the stream.
    pub fn recvmsg(&mut self, id: SockId, buf: &mut [u8]) -> Result<RecvMsg, Errno> {
        self.recvmsg_flags(id, buf, RecvFlags::default())
    }

    /// [`World::recvmsg`] with `MSG_*` flags: peek without consuming, or
    /// learn a datagram's length, or discard stream bytes (see [`RecvFlags`]).
    pub fn recvmsg_flags(&mut self, id: SockId, buf: &mut [u8], flags: RecvFlags) -> Result<RecvMsg, Errno> {
        if self.socks.get(id).is_some_and(|s| s.proto == Proto::Tcp) {
            return self.tcp_recvmsg(id, buf, flags);
        }
        if flags.peek {
            return self.dgram_peek(id, buf, flags.trunc);
        }
        let (skb, from) = match self.recv_skb(id) {
            Ok(got) => got,
            // Shut for reading and drained: end of file, as Linux's
            // datagram receive returns 0.
            Err(Errno::NotConnected) => return Ok(RecvMsg { len: 0, truncated: false, from: UNBOUND }),
            Err(e) => return Err(e),
        };
        let len = self.pool.len(&skb);
        let n = len.min(buf.len());
        let copied = self.pool.copy_to_slice(&skb, 0, &mut buf[..n]);
        self.pool.free(skb);
        copied.map_err(|_| Errno::NoBufs)?;
        Ok(RecvMsg { len: if flags.trunc { len } else { n }, truncated: n < len, from })
    }

    /// `MSG_PEEK` on a datagram socket: the first queued datagram, copied
    /// and left at the head of the queue (Linux's `__skb_try_recv_datagram`
    /// with `MSG_PEEK`).
    fn dgram_peek(&mut self, id: SockId, buf: &mut [u8], trunc: bool) -> Result<RecvMsg, Errno> {
        let s = self.socks.get_mut(id).ok_or(Errno::BadFd)?;
        if let Some(e) = s.err.take() {
            return Err(e);
        }
        let (proto, shut_rd) = (s.proto, s.shut_rd);
        let Some(r) = s.rx.front(&self.pool) else {
            return if shut_rd {
                Ok(RecvMsg { len: 0, truncated: false, from: UNBOUND })
            } else {
                Err(Errno::WouldBlock)
            };
        };
        let len = self.pool.len(&r);
        let n = len.min(buf.len());
        self.pool.copy_to_slice(&r, 0, &mut buf[..n]).map_err(|_| Errno::NoBufs)?;
        let from = self.source_of(&r, proto);
        Ok(RecvMsg { len: if trunc { len } else { n }, truncated: n < len, from })
    }

    /// Receive a datagram without copying it: the sk_buff itself, data at
    /// the payload (zero-copy `recvmsg`). Free it with [`World::pool`]. On
    /// a TCP socket, the next in-order packet of the stream, and
    /// [`Errno::NotConnected`] at its end; on a datagram socket shut for
    /// reading, the same once its queue is drained.
    pub fn recv_skb(&mut self, id: SockId) -> Result<(SkBuff, SocketAddrV4), Errno> {
        let s = self.socks.get_mut(id).ok_or(Errno::BadFd)?;
        if s.proto == Proto::Tcp {
            let from = s.remote.unwrap_or(UNBOUND);
            return self.tcp_recv_skb(id)?.map(|skb| (skb, from)).ok_or(Errno::NotConnected);
        }
        if let Some(e) = s.err.take() {
            return Err(e);
        }
        let proto = s.proto;
        let empty = if s.shut_rd { Errno::NotConnected } else { Errno::WouldBlock };
        let skb = s.rx.pop_front(&mut self.pool).ok_or(empty)?;
        let _ = self.pool.charge(&skb, OwnerId::SYSTEM);
        let from = self.source_of(&skb, proto);
        Ok((skb, from))
    }

    /// Who sent a queued datagram, read from its headers.
    fn source_of(&self, skb: &impl SkbId, proto: Proto) -> SocketAddrV4 {
        let m = self.pool.meta(skb);
        let ip = Ipv4Packet::new_quoted(self.pool.bytes_from(skb, m.network_header)).map(|p| p.src());
        let l4 = self.pool.bytes_from(skb, m.transport_header);
        let port = match proto {
            Proto::Udp | Proto::Tcp => l4.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]])),
            Proto::Icmp => 0,
        };
        SocketAddrV4::new(ip.unwrap_or(Ipv4Addr::UNSPECIFIED), port)
    }

    /// Close a socket (`close`): what it held is freed, its memory owners
    /// are released once its last packet in flight completes. A TCP
    /// connection goes on in the background until its FIN is acknowledged
    /// (or is reset, see [`crate::tcp::TcpOpt::Linger`]); the id is dead at once.
    pub fn close(&mut self, id: SockId) -> Result<(), Errno> {
        if self.socks.get(id).is_some_and(|s| s.proto == Proto::Tcp) {
            return self.tcp_close(id);
        }
        let mut s = self.socks.remove(id).ok_or(Errno::BadFd)?;
        s.rx.purge(&mut self.pool);
        let _ = self.pool.release_owner(s.rcv_owner);
        let _ = self.pool.release_owner(s.snd_owner);
        Ok(())
    }

    /// Set an option (`setsockopt`).
    pub fn setsockopt(&mut self, id: SockId, opt: SockOpt) -> Result<(), Errno> {
        let s = self.socks.get_mut(id).ok_or(Errno::BadFd)?;
        let (rcv, snd) = (s.rcv_owner, s.snd_owner);
        match opt {
            SockOpt::ReuseAddr(on) => s.opts.reuse_addr = on,
            SockOpt::Broadcast(on) => s.opts.broadcast = on,
            SockOpt::Ttl(ttl) if ttl > 0 => s.opts.ttl = Some(ttl),
            SockOpt::Ttl(_) => return Err(Errno::InvalidArgument),
            SockOpt::Tos(tos) => s.opts.tos = tos,
            SockOpt::MtuDiscover(on) => s.opts.pmtu_discover = on,
            SockOpt::RecvErr(on) => s.opts.recv_err = on,
            // Linux doubles the value to leave room for overhead; our
            // charge is whole buffers, so the value is taken as it is.
            SockOpt::RcvBuf(b) => self.pool.set_owner_limit(rcv, b.max(4096)).map_err(|_| Errno::BadFd)?,
            SockOpt::SndBuf(b) => self.pool.set_owner_limit(snd, b.max(4096)).map_err(|_| Errno::BadFd)?,
        }
        Ok(())
    }

    /// Readiness (`poll`).
    pub fn events(&self, id: SockId) -> Result<Events, Errno> {
        let s = self.socks.get(id).ok_or(Errno::BadFd)?;
        if s.proto == Proto::Tcp {
            return self.tcp_events(id);
        }
        // Linux's datagram_poll: a read side shut reads (end of file), a
        // write side shut writes (EPIPE), both shut is a hang-up.
        // Writable below half the send buffer (`sock_writeable`): a send is
        // then sure to be taken, as one is while below the whole buffer.
        let snd = self.pool.owner_stats(s.snd_owner).unwrap_or_default();
        Ok(Events {
            readable: !s.rx.is_empty() || s.shut_rd,
            writable: snd.used < snd.limit / 2 || s.shut_wr,
            error: s.err.is_some(),
            hangup: s.shut_rd && s.shut_wr,
        })
    }

    /// The bound local address (`getsockname`).
    pub fn local_addr(&self, id: SockId) -> Result<SocketAddrV4, Errno> {
        Ok(self.socks.get(id).ok_or(Errno::BadFd)?.local)
    }

    /// The connected peer (`getpeername`). A TCP socket still connecting,
    /// or whose connection is over, has none (Linux's `inet_getname`).
    pub fn peer_addr(&self, id: SockId) -> Result<SocketAddrV4, Errno> {
        let s = self.socks.get(id).ok_or(Errno::BadFd)?;
        if s.tcp.as_ref().is_some_and(|t| matches!(t.state, TcpState::Closed | TcpState::SynSent)) {
            return Err(Errno::NotConnected);
        }
        s.remote.ok_or(Errno::NotConnected)
    }

    /// Queue `skb` (data at the payload) on the socket that should get a
    /// datagram for `to` from `from`.
    pub(crate) fn sock_deliver(
        &mut self,
        ns: NsId,
        proto: Proto,
        to: SocketAddrV4,
        from: SocketAddrV4,
        skb: SkBuff,
    ) -> Delivery {
        match self.socks.lookup(ns, proto, to, from) {
            Some(id) => self.queue_to(id, skb),
            None => Delivery::NoSocket(skb),
        }
    }

    /// Queue on socket `id`, charging its receive buffer.
    pub(crate) fn queue_to(&mut self, id: SockId, skb: SkBuff) -> Delivery {
        let Some(s) = self.socks.get_mut(id) else {
            self.pool.free(skb);
            return Delivery::Full;
        };
        let (ns, udp) = (s.ns, s.proto == Proto::Udp);
        if self.pool.charge_within(&skb, s.rcv_owner).is_err() {
            self.pool.free(skb);
            if let Some(n) = self.netns_mut(ns) {
                // A ping socket's overflow is no UDP error (Linux counts
                // only the drop there).
                if udp {
                    n.stats.udp.RcvbufErrors += 1;
                    n.stats.udp.InErrors += 1;
                }
                n.stats.drops.count(DropReason::RcvBufFull);
            }
            return Delivery::Full;
        }
        s.rx.push_back(&mut self.pool, skb);
        Delivery::Queued
    }

    /// Report an ICMP error to the socket that sent from `local` to
    /// `remote` (`__udp4_lib_err`): with `IP_RECVERR` a socket hears every
    /// error; without it only a connected one does, and only a `hard` one
    /// (port unreachable, say: not a network that may come back). A
    /// datagram too big counts only where path MTU discovery is on.
    pub(crate) fn sock_error(
        &mut self,
        ns: NsId,
        proto: Proto,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        e: Errno,
        hard: bool,
    ) {
        let remote = if proto == Proto::Icmp { SocketAddrV4::new(*remote.ip(), 0) } else { remote };
        if let Some(id) = self.socks.lookup(ns, proto, local, remote)
            && let Some(s) = self.socks.get_mut(id)
            && (e != Errno::MsgSize || s.opts.pmtu_discover)
            && (s.opts.recv_err || (s.remote.is_some() && hard))
        {
            s.err = Some(e);
        }
    }

    /// Close every socket at once, resetting TCP connections, and forget
    /// TIME-WAIT and handshakes in progress (the world is shutting down).
    pub fn close_all(&mut self) {
        // Bounded: each pass removes a socket.
        for _ in 0..self.socks.capacity() {
            let Some(id) = self.socks.ids().next() else { break };
            if self.socks.get(id).is_some_and(|s| s.proto == Proto::Tcp) {
                self.tcp_destroy(id);
            } else {
                let _ = self.close(id);
            }
        }
        self.tw.clear();
        self.reqs.clear();
    }
}

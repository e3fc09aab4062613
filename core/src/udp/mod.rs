//! UDP (RFC 768, Linux's `udp.c`): datagrams in and out of sockets.
//!
//! Input validates the length and the checksum (unless the device verified
//! it), finds the socket by a hash of (namespace, port) and queues the
//! sk_buff itself on it, payload first: the datagram is never copied
//! between the NIC and the application. A datagram for a port nobody holds
//! is answered with ICMP port unreachable. Output builds the header in the
//! headroom of the sk_buff the payload was copied into, leaving the checksum
//! to the device (`CHECKSUM_PARTIAL`) when it can finish it.

use core::net::{Ipv4Addr, SocketAddrV4};

use crate::ip::output::IpParams;
use crate::netfilter::NfHooks;
use crate::netns::{NsId, World};
use crate::skb::{Checksum, SkBuff};
use crate::socket::{Errno, Proto, SockId};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::checksum::{InetSum, pseudo_header_v4};
use crate::wire::{DstUnreachable, IpProtocol};

/// Largest UDP payload over IPv4 (65535 - 20 - 8).
pub const MAX_PAYLOAD: usize = 65_507;

/// What [`World::sock_deliver`] did.
#[must_use = "a packet no socket took comes back in `NoSocket` and must be freed"]
pub(crate) enum Delivery {
    /// Queued on a socket.
    Queued,
    /// No socket: the packet comes back.
    NoSocket(SkBuff),
    /// The socket's receive buffer was full; the packet was dropped.
    Full,
}

impl<H: NfHooks> World<'_, H> {
    /// A received UDP datagram, data at its header (`udp_rcv`).
    pub(crate) fn udp_rcv(&mut self, ns: NsId, skb: SkBuff, now: Instant) {
        let len = self.pool.len(&skb);
        if len < 8 || self.pool.may_pull(&skb, 8).is_err() {
            return self.udp_drop(ns, skb, DropReason::BadUdpLength);
        }
        let h = self.pool.data(&skb);
        let (sport, dport) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]));
        let (ulen, csum) = (usize::from(u16::from_be_bytes([h[4], h[5]])), u16::from_be_bytes([h[6], h[7]]));
        if ulen < 8 || ulen > len || self.pool.trim(&skb, ulen).is_err() {
            return self.udp_drop(ns, skb, DropReason::BadUdpLength);
        }
        let Some((src, dst)) = self.ip_addrs(&skb) else { return self.udp_drop(ns, skb, DropReason::BadHeaderLen) };
        let trusted = matches!(self.pool.meta(&skb).csum, Checksum::Unnecessary | Checksum::Partial { .. });
        //= https://www.rfc-editor.org/rfc/rfc768
        //# An all zero transmitted checksum value means that the transmitter
        //# generated no checksum
        if csum != 0 && !trusted {
            let mut sum = pseudo_header_v4(src, dst, IpProtocol::UDP, ulen as u16);
            if sum.add_skb(&self.pool, &skb, 0, ulen).is_err() || sum.finish() != 0 {
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.udp.InCsumErrors += 1;
                }
                return self.udp_drop(ns, skb, DropReason::BadL4Checksum);
            }
        }
        if self.pool.pull(&skb, 8).is_err() {
            return self.udp_drop(ns, skb, DropReason::Truncated);
        }
        // The route decides, not the frame: a unicast address in a
        // link-layer broadcast frame is one socket's datagram (Linux's
        // `__udp4_lib_rcv` tests `RTCF_BROADCAST`); `icmp_send` still
        // refuses to answer such a frame with an error.
        let broadcast = self.pool.meta(&skb).rt_broadcast;
        let (to, from) = (SocketAddrV4::new(dst, dport), SocketAddrV4::new(src, sport));
        if broadcast {
            return self.udp_broadcast(ns, to, from, skb);
        }
        match self.sock_deliver(ns, Proto::Udp, to, from, skb) {
            Delivery::Queued => {
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.udp.InDatagrams += 1;
                }
            }
            Delivery::Full => {}
            Delivery::NoSocket(skb) => {
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.udp.NoPorts += 1;
                    n.stats.drops.count(DropReason::NoSocket);
                }
                self.icmp_dst_unreach(ns, skb, DstUnreachable::PortUnreachable, now);
            }
        }
    }

    /// A datagram to a broadcast address goes to every socket on its port
    /// (`__udp4_lib_mcast_deliver`), each getting a clone. The sockets are
    /// gathered a batch at a time, as Linux gathers them in a stack array,
    /// so however many there are, each gets its copy or a counted drop: a
    /// full receive buffer counts there, a clone the pool cannot make
    /// counts `NoMemory`, and only a port nobody listens on `NoSocket`.
    fn udp_broadcast(&mut self, ns: NsId, to: SocketAddrV4, from: SocketAddrV4, skb: SkBuff) {
        let (mut matched, mut delivered, mut no_memory) = (0, 0, 0);
        loop {
            let mut batch: heapless::Vec<SockId, 16> = heapless::Vec::new();
            let wanted = self.socks.bound_to(ns, Proto::Udp, to.port()).filter(|(_, s)| {
                (s.local.ip().is_unspecified() || *s.local.ip() == *to.ip()) && s.remote.is_none_or(|r| r == from)
            });
            for (id, _) in wanted.skip(matched) {
                if batch.push(id).is_err() {
                    break;
                }
            }
            if batch.is_empty() {
                break;
            }
            matched += batch.len();
            for id in batch {
                match self.pool.clone(&skb, crate::skb::OwnerId::SYSTEM) {
                    Ok(copy) => delivered += u64::from(matches!(self.queue_to(id, copy), Delivery::Queued)),
                    Err(_) => no_memory += 1,
                }
            }
        }
        self.pool.free(skb);
        if let Some(n) = self.netns_mut(ns) {
            n.stats.udp.InDatagrams += delivered;
            if matched == 0 {
                n.stats.udp.IgnoredMulti += 1;
                n.stats.drops.count(DropReason::NoSocket);
            }
            for _ in 0..no_memory {
                n.stats.udp.InErrors += 1;
                n.stats.drops.count(DropReason::NoMemory);
            }
        }
    }

    fn udp_drop(&mut self, ns: NsId, skb: SkBuff, why: DropReason) {
        self.pool.free(skb);
        if let Some(n) = self.netns_mut(ns) {
            n.stats.udp.InErrors += 1;
            n.stats.drops.count(why);
        }
    }

    /// Send `data` from UDP socket `id` to `dst` (`udp_sendmsg`).
    pub(crate) fn udp_sendmsg(
        &mut self,
        id: SockId,
        data: &[u8],
        dst: SocketAddrV4,
        now: Instant,
    ) -> Result<usize, Errno> {
        if data.len() > MAX_PAYLOAD {
            return Err(Errno::MsgSize);
        }
        let s = self.socks.get(id).ok_or(Errno::BadFd)?;
        let (ns, opts, local, owner) = (s.ns, s.opts, s.local, s.snd_owner);
        if dst.ip().is_broadcast() && !opts.broadcast {
            return Err(Errno::Access);
        }
        // Nobody listens on port 0 (Linux's udp_sendmsg: EINVAL).
        if dst.port() == 0 {
            return Err(Errno::InvalidArgument);
        }
        let local_ip = (!local.ip().is_unspecified()).then(|| *local.ip());
        let route = self.route_output(ns, *dst.ip(), local_ip, now)?;
        if route.broadcast && !opts.broadcast {
            return Err(Errno::Access);
        }
        let total = data.len() + 28;
        if opts.pmtu_discover && total > usize::from(route.mtu) {
            return Err(Errno::MsgSize);
        }
        let skb = self.udp_payload(ns, owner, data)?;
        let csum_partial =
            total <= usize::from(route.mtu) && self.iface(route.oif).is_some_and(|i| i.dev.get().features().tx_csum);
        if let Err(e) = self.udp_header(&skb, local.port(), dst, route.src, csum_partial) {
            self.pool.free(skb);
            return Err(e);
        }
        let ttl = opts.ttl.unwrap_or_else(|| self.netns(ns).map_or(64, |n| n.sysctl.default_ttl));
        let p = IpParams { proto: IpProtocol::UDP, ttl, tos: opts.tos, df: opts.pmtu_discover };
        match self.ip_queue_xmit(ns, skb, &route, *dst.ip(), p, now) {
            Ok(()) | Err(DropReason::NeighQueueFull | DropReason::NeighFailed) => {
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.udp.OutDatagrams += 1;
                }
                Ok(data.len())
            }
            Err(DropReason::FragNeeded) => Err(Errno::MsgSize),
            Err(DropReason::Netfilter) => Err(Errno::Perm),
            // A full device queue or an empty pool: Linux's `udp_send_skb`
            // counts SndbufErrors and reports success unless the socket
            // asked for errors (IP_RECVERR), since UDP may lose it anyway.
            Err(DropReason::TxQueueFull | DropReason::NoMemory) => {
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.udp.SndbufErrors += 1;
                }
                if opts.recv_err { Err(Errno::NoBufs) } else { Ok(data.len()) }
            }
            Err(_) => Err(Errno::NoBufs),
        }
    }

    /// The payload in a fresh packet charged to the socket's send buffer.
    fn udp_payload(&mut self, ns: NsId, owner: crate::skb::OwnerId, data: &[u8]) -> Result<SkBuff, Errno> {
        let full = |w: &mut Self| {
            if let Some(n) = w.netns_mut(ns) {
                n.stats.udp.SndbufErrors += 1;
            }
        };
        let got = self.dgram_alloc(owner, data);
        if got == Err(Errno::WouldBlock) {
            full(self);
        }
        got
    }

    /// Prepend the UDP header, with a checksum finished here or left partial.
    fn udp_header(
        &mut self,
        skb: &SkBuff,
        sport: u16,
        dst: SocketAddrV4,
        src: Ipv4Addr,
        partial: bool,
    ) -> Result<(), Errno> {
        let ulen = self.pool.len(skb) + 8;
        let pseudo = pseudo_header_v4(src, *dst.ip(), IpProtocol::UDP, ulen as u16);
        let h = self.pool.push(skb, 8).map_err(|_| Errno::NoBufs)?;
        h[0..2].copy_from_slice(&sport.to_be_bytes());
        h[2..4].copy_from_slice(&dst.port().to_be_bytes());
        h[4..6].copy_from_slice(&(ulen as u16).to_be_bytes());
        let start = self.pool.data_offset(skb);
        if partial {
            let seed = pseudo.fold();
            if let Ok(h) = self.pool.data_mut(skb) {
                h[6..8].copy_from_slice(&seed.to_be_bytes());
            }
            if let Ok(m) = self.pool.meta_mut(skb) {
                m.csum = Checksum::Partial { start, offset: 6 };
            }
        } else {
            let mut sum: InetSum = pseudo;
            if let Ok(h) = self.pool.data_mut(skb) {
                h[6..8].fill(0);
            }
            sum.add_skb(&self.pool, skb, 0, ulen).map_err(|_| Errno::NoBufs)?;
            // RFC 768: a computed zero is sent as all ones.
            let c = match sum.finish() {
                0 => 0xffff,
                c => c,
            };
            if let Ok(h) = self.pool.data_mut(skb) {
                h[6..8].copy_from_slice(&c.to_be_bytes());
            }
        }
        if let Ok(m) = self.pool.meta_mut(skb) {
            m.transport_header = start;
        }
        Ok(())
    }
}

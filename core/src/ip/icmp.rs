//! ICMPv4 (RFC 792, Linux's `icmp.c`): answering echo requests, delivering
//! echo replies to ping sockets and errors to the sockets that caused them
//! (learning path MTUs from fragmentation-needed, RFC 1191), and sending
//! errors about packets we cannot deliver or forward, rate limited and never
//! about an ICMP error, a broadcast, or a fragment other than the first
//! (RFC 1122 §3.2.2).

use core::net::{Ipv4Addr, SocketAddrV4};

use super::output::IpParams;
use crate::netfilter::NfHooks;
use crate::netns::{NsId, World};
use crate::skb::{Checksum, OwnerId, PacketType, SkBuff};
use crate::socket::{Errno, Proto};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::udp::Delivery;
use crate::wire::checksum::{InetSum, update_u16};
use crate::wire::{DstUnreachable, Icmpv4Repr, Icmpv4Type, IpProtocol, Ipv4Packet, TimeExceeded};

/// What an ICMP error quotes of the packet that caused it: the offending
/// packet's source and destination, and its transport ports if present.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quoted {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: IpProtocol,
    pub sport: u16,
    pub dport: u16,
    /// The quoted TCP sequence number (zero for other protocols).
    pub seq: u32,
}

impl<H: NfHooks> World<'_, H> {
    /// A received ICMP message, data at its header (`icmp_rcv`).
    pub(crate) fn icmp_rcv(&mut self, ns: NsId, skb: SkBuff, now: Instant) {
        if let Some(n) = self.netns_mut(ns) {
            n.stats.icmp.InMsgs += 1;
        }
        let len = self.pool.len(&skb);
        let trusted = matches!(self.pool.meta(&skb).csum, Checksum::Unnecessary | Checksum::Partial { .. });
        let valid = len >= 8
            && self.pool.may_pull(&skb, 8).is_ok()
            && (trusted || InetSum::new().add_skb(&self.pool, &skb, 0, len).is_ok_and(|s| s.finish() == 0));
        if !valid {
            if let Some(n) = self.netns_mut(ns) {
                n.stats.icmp.InErrors += 1;
                if len >= 8 {
                    n.stats.icmp.InCsumErrors += 1;
                }
            }
            return self.ip_drop_quiet(ns, skb, if len >= 8 { DropReason::BadL4Checksum } else { DropReason::BadIcmp });
        }
        let (ty, code) = (self.pool.data(&skb)[0], self.pool.data(&skb)[1]);
        let Some((src, dst)) = self.ip_addrs(&skb) else { return self.ip_drop_quiet(ns, skb, DropReason::BadIcmp) };
        match Icmpv4Type(ty) {
            Icmpv4Type::ECHO_REQUEST => {
                let ignore = self.netns(ns).is_none_or(|n| n.sysctl.icmp_echo_ignore_all)
                    || self.pool.meta(&skb).pkt_type != PacketType::Host
                    || self.pool.meta(&skb).rt_broadcast;
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.icmp.InEchos += 1;
                }
                if ignore {
                    return self.ip_drop_quiet(ns, skb, DropReason::NotForUs);
                }
                self.icmp_echo_reply(ns, skb, src, dst, now);
            }
            Icmpv4Type::ECHO_REPLY => {
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.icmp.InEchoReps += 1;
                }
                let ident = u16::from_be_bytes([self.pool.data(&skb)[4], self.pool.data(&skb)[5]]);
                let to = SocketAddrV4::new(dst, ident);
                if let Delivery::NoSocket(skb) = self.sock_deliver(ns, Proto::Icmp, to, SocketAddrV4::new(src, 0), skb)
                {
                    // An echo reply nobody waits for (Linux's `ping_rcv`): dropped, and counted.
                    self.ip_drop_quiet(ns, skb, DropReason::NoSocket);
                }
            }
            Icmpv4Type::DST_UNREACHABLE | Icmpv4Type::TIME_EXCEEDED | Icmpv4Type::PARAM_PROBLEM => {
                if let Some(n) = self.netns_mut(ns) {
                    match ty {
                        3 => n.stats.icmp.InDestUnreachs += 1,
                        11 => n.stats.icmp.InTimeExcds += 1,
                        _ => n.stats.icmp.InParmProbs += 1,
                    }
                }
                self.icmp_error_rcv(ns, skb, ty, code, now);
            }
            // Types Linux does not know either (above 18, `NR_ICMP_TYPES`)
            // are errors; the known ones nothing here handles are consumed.
            _ if ty > 18 => {
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.icmp.InErrors += 1;
                }
                self.ip_drop_quiet(ns, skb, DropReason::BadIcmp);
            }
            _ => self.pool.free(skb),
        }
    }

    /// The source and destination of the packet `skb` belongs to.
    pub(crate) fn ip_addrs(&self, skb: &SkBuff) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let nh = self.pool.meta(skb).network_header;
        let ip = Ipv4Packet::new_quoted(self.pool.bytes_from(skb, nh)).ok()?;
        Some((ip.src(), ip.dst()))
    }

    /// Turn the request into the reply in place: the data is not copied,
    /// however large (`icmp_echo`).
    fn icmp_echo_reply(&mut self, ns: NsId, skb: SkBuff, src: Ipv4Addr, dst: Ipv4Addr, now: Instant) {
        // The reply keeps the request's DSCP (Linux's `icmp_reply` copies
        // the TOS), so `ping -Q` measures the class it asked for; not its
        // ECN bits, as ICMP is no ECN-capable transport (RFC 3168 §5).
        let nh = self.pool.meta(&skb).network_header;
        let tos = self.pool.bytes_from(&skb, nh).get(1).copied().unwrap_or(0) & 0xfc;
        let rewritten = self.pool.data_mut(&skb).ok().and_then(|h| {
            let old = u16::from_be_bytes([h.first().copied()?, h.get(1).copied()?]);
            let csum = u16::from_be_bytes([h.get(2).copied()?, h.get(3).copied()?]);
            h[0] = Icmpv4Type::ECHO_REPLY.0;
            let new = update_u16(csum, old, u16::from(h[1]));
            h[2..4].copy_from_slice(&new.to_be_bytes());
            Some(())
        });
        if rewritten.is_none() {
            return self.ip_drop_quiet(ns, skb, DropReason::NoMemory);
        }
        if let Ok(m) = self.pool.meta_mut(&skb) {
            m.csum = Checksum::None;
            m.gso = Default::default();
        }
        let _ = self.pool.charge(&skb, OwnerId::SYSTEM);
        let route = match self.route_output(ns, src, Some(dst), now) {
            Ok(r) => r,
            Err(_) => return self.ip_drop_quiet(ns, skb, DropReason::NoRoute),
        };
        let ttl = self.netns(ns).map_or(64, |n| n.sysctl.default_ttl);
        let p = IpParams { proto: IpProtocol::ICMP, ttl, tos, df: false };
        if self.ip_queue_xmit(ns, skb, &route, src, p, now).is_ok()
            && let Some(n) = self.netns_mut(ns)
        {
            n.stats.icmp.OutMsgs += 1;
            n.stats.icmp.OutEchoReps += 1;
        }
    }

    /// An ICMP error about a packet we sent: find who sent it and tell them.
    fn icmp_error_rcv(&mut self, ns: NsId, skb: SkBuff, ty: u8, code: u8, now: Instant) {
        let quoted = self.pool.data(&skb).get(8..).and_then(parse_quote);
        let mtu = u16::from_be_bytes([self.pool.data(&skb)[6], self.pool.data(&skb)[7]]);
        self.pool.free(skb);
        let Some(q) = quoted.filter(|q| self.is_local_addr(ns, q.src)) else {
            self.drop_count(ns, DropReason::IcmpNotOurs);
            return;
        };
        let errno = match (ty, DstUnreachable::from_code(code)) {
            (3, DstUnreachable::FragNeeded) => {
                //= https://www.rfc-editor.org/rfc/rfc1191#section-3
                //# When a host receives a Datagram Too Big message, it MUST
                //# reduce its estimate of the PMTU for the relevant path
                if mtu >= 68 {
                    self.pmtu.learn(ns, q.dst, mtu, now);
                }
                Errno::MsgSize
            }
            (3, DstUnreachable::PortUnreachable | DstUnreachable::ProtoUnreachable) => Errno::ConnRefused,
            (3, DstUnreachable::NetUnreachable | DstUnreachable::NetUnknown) => Errno::NetUnreachable,
            (3, _) | (11, _) => Errno::HostUnreachable,
            _ => Errno::InvalidArgument,
        };
        let proto = match q.proto {
            IpProtocol::UDP => Proto::Udp,
            IpProtocol::ICMP => Proto::Icmp,
            IpProtocol::TCP => {
                let (local, remote) = (SocketAddrV4::new(q.src, q.sport), SocketAddrV4::new(q.dst, q.dport));
                return self.tcp_err(ns, local, remote, crate::tcp::Seq(q.seq), errno, now);
            }
            _ => return,
        };
        // Linux's icmp_err_convert: which errors end the conversation. Only
        // those reach a connected datagram socket without IP_RECVERR
        // (__udp4_lib_err); an unreachable network or host, a TTL that ran
        // out, may be passing.
        let hard = !matches!(
            (ty, DstUnreachable::from_code(code)),
            (
                3,
                DstUnreachable::NetUnreachable
                    | DstUnreachable::HostUnreachable
                    | DstUnreachable::NetUnreachableTos
                    | DstUnreachable::HostUnreachableTos
                    | DstUnreachable::SrcRouteFailed
            ) | (11, _)
        );
        let (local, remote) = (SocketAddrV4::new(q.src, q.sport), SocketAddrV4::new(q.dst, q.dport));
        self.sock_error(ns, proto, local, remote, errno, hard);
    }

    /// Destination unreachable about `skb` (then freed).
    pub(crate) fn icmp_dst_unreach(&mut self, ns: NsId, skb: SkBuff, reason: DstUnreachable, now: Instant) {
        self.icmp_send(ns, skb, 3, reason.code(), 0, now);
    }

    /// Time exceeded about `skb` (then freed).
    pub(crate) fn icmp_time_exceeded(&mut self, ns: NsId, skb: SkBuff, reason: TimeExceeded, now: Instant) {
        self.icmp_send(ns, skb, 11, reason.code(), 0, now);
    }

    /// Parameter problem about `skb`, `pointer` at the octet in error (then
    /// freed; RFC 792).
    pub(crate) fn icmp_param_problem(&mut self, ns: NsId, skb: SkBuff, pointer: u8, now: Instant) {
        self.icmp_send(ns, skb, 12, 0, u16::from(pointer), now);
    }

    /// Fragmentation needed about `skb` with the next hop's MTU (then freed).
    pub(crate) fn icmp_frag_needed(&mut self, ns: NsId, skb: SkBuff, mtu: u16, now: Instant) {
        self.icmp_send(ns, skb, 3, DstUnreachable::FragNeeded.code(), mtu, now);
    }

    /// Send an ICMP error about `skb` (its IPv4 header at the metadata's
    /// network offset) to its source, then free it (`icmp_send`). `info` is
    /// the next hop's MTU of a fragmentation needed, the pointer of a
    /// parameter problem.
    fn icmp_send(&mut self, ns: NsId, skb: SkBuff, ty: u8, code: u8, info: u16, now: Instant) {
        let mut quote = [0u8; Icmpv4Repr::QUOTE_MAX];
        let q = self.error_quote(&skb, &mut quote);
        let m = self.pool.meta(&skb);
        // A datagram to a subnet's broadcast address arrives in a unicast
        // frame; the route took it in as a broadcast (RFC 1122 §3.2.2,
        // quoted in `error_quote`; Linux checks `RTCF_BROADCAST`).
        let to_broadcast = m.pkt_type != PacketType::Host || m.rt_broadcast;
        self.pool.free(skb);
        let Some((qlen, src, dst)) = q else { return };
        if to_broadcast {
            return;
        }
        // Fragmentation needed is what path-MTU discovery runs on (RFC 1191
        // §3): limiting it would black-hole the path, so Linux exempts it
        // from the ICMP rate limit (`icmpv4_mask_allow`).
        let frag_needed = ty == 3 && code == DstUnreachable::FragNeeded.code();
        if !frag_needed && !self.icmp_rate_ok(ns, now) {
            return;
        }
        let quote = &quote[..qlen];
        let repr = match ty {
            3 => Icmpv4Repr::DstUnreachable { reason: DstUnreachable::from_code(code), next_hop_mtu: info, quote },
            11 => Icmpv4Repr::TimeExceeded { reason: TimeExceeded::from_code(code), quote },
            _ => Icmpv4Repr::ParamProblem { pointer: info as u8, quote },
        };
        let our = if self.is_local_addr(ns, dst) { Some(dst) } else { None };
        let Ok(route) = self.route_output(ns, src, our, now) else { return };
        let Ok(out) = self.pool.alloc_with_headroom(OwnerId::SYSTEM, 128) else {
            if let Some(n) = self.netns_mut(ns) {
                n.stats.icmp.OutErrors += 1;
            }
            return;
        };
        if self.pool.put(&out, repr.len()).map(|b| repr.emit(b).is_ok()) != Ok(true) {
            self.pool.free(out);
            return;
        }
        let ttl = self.netns(ns).map_or(64, |n| n.sysctl.default_ttl);
        // Errors travel as network control traffic (IPTOS_PREC_INTERNETCONTROL).
        let p = IpParams { proto: IpProtocol::ICMP, ttl, tos: 0xc0, df: false };
        if self.ip_queue_xmit(ns, out, &route, src, p, now).is_ok()
            && let Some(n) = self.netns_mut(ns)
        {
            n.stats.icmp.OutMsgs += 1;
            match ty {
                3 => n.stats.icmp.OutDestUnreachs += 1,
                11 => n.stats.icmp.OutTimeExcds += 1,
                _ => n.stats.icmp.OutParmProbs += 1,
            }
        }
    }

    /// Copy what an error may quote of `skb` into `buf`, or `None` when no
    /// error may be sent about it. Returns (quote length, its source, its
    /// destination).
    fn error_quote(&self, skb: &SkBuff, buf: &mut [u8]) -> Option<(usize, Ipv4Addr, Ipv4Addr)> {
        let nh = self.pool.meta(skb).network_header;
        let bytes = self.pool.bytes_from(skb, nh);
        let ip = Ipv4Packet::new_quoted(bytes).ok()?;
        let (src, dst) = (ip.src(), ip.dst());
        //= https://www.rfc-editor.org/rfc/rfc1122#section-3.2.2
        //# An ICMP error message MUST NOT be sent as the result of
        //# receiving: an ICMP error message, or a datagram destined to an IP
        //# broadcast or IP multicast address, or a link-layer broadcast, or
        //# a non-initial fragment, or a datagram whose source address does
        //# not define a single host
        // A loopback source only ever arrives through loopback (input drops
        // it from anywhere else as a martian), and the error goes back the
        // same way: a UDP socket on 127.0.0.1 hears ECONNREFUSED.
        let bad_src = src.is_unspecified() || src.is_broadcast() || src.is_multicast();
        let bad_dst = dst.is_broadcast() || dst.is_multicast();
        if bad_src || bad_dst || ip.frag_offset() != 0 || u32::from(src) >> 28 == 0xf {
            return None;
        }
        let ihl = ip.header_len();
        if ip.protocol() == IpProtocol::ICMP {
            // A type we do not know may be an error too: send nothing about
            // it, as Linux's `icmp_send` refuses types above NR_ICMP_TYPES.
            let inner_type = Icmpv4Type(bytes.get(ihl).copied().unwrap_or(0));
            if inner_type.is_error() || inner_type.0 > Icmpv4Type::MAX_KNOWN || bytes.len() <= ihl {
                return None;
            }
        }
        let n = bytes.len().min(usize::from(ip.total_len())).min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Some((n, src, dst))
    }

    /// Take a token from the namespace's ICMP error bucket
    /// (`icmp_msgs_per_sec`, `icmp_msgs_burst`).
    fn icmp_rate_ok(&mut self, ns: NsId, now: Instant) -> bool {
        let Some(n) = self.netns_mut(ns) else { return false };
        let per_sec = u64::from(n.sysctl.icmp_msgs_per_sec);
        let elapsed = now.saturating_duration_since(n.icmp_refill).as_micros() as u64;
        let new_tokens = elapsed.saturating_mul(per_sec) / 1_000_000;
        let burst = u64::from(n.sysctl.icmp_msgs_burst);
        // A burst lowered by sysctl holds at once, not after a refill.
        n.icmp_tokens = n.icmp_tokens.min(n.sysctl.icmp_msgs_burst);
        if new_tokens > 0 {
            let tokens = u64::from(n.icmp_tokens) + new_tokens;
            if tokens >= burst {
                // Full: time beyond this point earns nothing.
                n.icmp_tokens = burst as u32;
                n.icmp_refill = now;
            } else {
                // Keep the part of a token already earned: the clock moves
                // on by exactly what the whole tokens cost, so errors that
                // come faster than one token each still get the set rate.
                n.icmp_tokens = tokens as u32;
                let cost = new_tokens * 1_000_000 / per_sec;
                n.icmp_refill = Instant::from_micros(n.icmp_refill.micros().saturating_add(cost)).min(now);
            }
        }
        if n.icmp_tokens == 0 {
            n.stats.icmp.OutRateLimitGlobal += 1;
            return false;
        }
        n.icmp_tokens -= 1;
        true
    }
}

/// The quoted header and ports of an ICMP error's payload.
fn parse_quote(data: &[u8]) -> Option<Quoted> {
    let ip = Ipv4Packet::new_quoted(data).ok()?;
    let l4 = data.get(ip.header_len()..)?;
    let port = |i: usize| l4.get(i..i + 2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let (sport, dport) = match ip.protocol() {
        IpProtocol::UDP | IpProtocol::TCP => (port(0), port(2)),
        // A ping socket's "port" is its echo identifier.
        IpProtocol::ICMP => (port(4), 0),
        _ => (0, 0),
    };
    let seq = match ip.protocol() {
        IpProtocol::TCP => l4.get(4..8).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        _ => 0,
    };
    Some(Quoted { src: ip.src(), dst: ip.dst(), proto: ip.protocol(), sport, dport, seq })
}

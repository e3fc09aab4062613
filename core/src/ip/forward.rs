//! Forwarding (`ip_forward`): a packet for another host, routed through
//! this one when the namespace's `ip_forward` is on.
//!
//! TTL is checked (ICMP time exceeded when it runs out) and decremented with
//! an incremental checksum update (RFC 1624); a packet too big for the next
//! hop is fragmented, or, with DF set, answered with ICMP
//! fragmentation-needed carrying the next-hop MTU (RFC 1191). Redirects are
//! never sent, whatever the interfaces.

use super::fib::{FibResult, RouteKind};
use crate::netfilter::{NfHook, NfHooks};
use crate::netns::{NsId, World};
use crate::skb::{IfIndex, PacketType, SkBuff};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{DstUnreachable, Ipv4Packet, TimeExceeded};

impl<H: NfHooks> World<'_, H> {
    /// Forward `skb` (data at its IPv4 header) arriving on `iif` along `route`.
    pub(crate) fn ip_forward(&mut self, ns: NsId, iif: IfIndex, skb: SkBuff, route: Option<FibResult>, now: Instant) {
        if self.pool.meta(&skb).pkt_type != PacketType::Host {
            // Link-layer broadcasts are not forwarded.
            return self.ip_drop_quiet(ns, skb, DropReason::NotForUs);
        }
        let Some(route) = route.filter(|r| r.route.kind == RouteKind::Unicast) else {
            let kind = route.map(|r| r.route.kind);
            if let Some(n) = self.netns_mut(ns) {
                n.stats.ip.InNoRoutes += 1;
            }
            match kind {
                // A blackhole discards without a word (RTN_BLACKHOLE).
                Some(RouteKind::Blackhole) => self.pool.free(skb),
                Some(RouteKind::Prohibit) => self.icmp_dst_unreach(ns, skb, DstUnreachable::AdminProhibited, now),
                Some(RouteKind::Unreachable) => self.icmp_dst_unreach(ns, skb, DstUnreachable::HostUnreachable, now),
                _ => self.icmp_dst_unreach(ns, skb, DstUnreachable::NetUnreachable, now),
            }
            self.drop_count(ns, DropReason::NoRoute);
            return;
        };
        let (ttl, df, len) = match Ipv4Packet::new_quoted(self.pool.data(&skb)) {
            Ok(ip) => (ip.ttl(), ip.dont_frag(), usize::from(ip.total_len())),
            Err(_) => return self.ip_drop(ns, skb, DropReason::BadHeaderLen),
        };
        //= https://www.rfc-editor.org/rfc/rfc1812#section-5.3.1
        //# If the TTL is reduced to zero (or less), the packet MUST be
        //# discarded, and if the destination is not a multicast address the
        //# router MUST send an ICMP Time Exceeded message, Code 0
        if ttl <= 1 {
            self.icmp_time_exceeded(ns, skb, TimeExceeded::TtlExceeded, now);
            if let Some(n) = self.netns_mut(ns) {
                n.stats.ip.InHdrErrors += 1;
                n.stats.drops.count(DropReason::TtlExpired);
            }
            return;
        }
        let oif = route.route.oif;
        let iface_mtu = self.iface(oif).map_or(0, |i| i.mtu);
        let mtu = if route.route.mtu != 0 { route.route.mtu.min(iface_mtu) } else { iface_mtu };
        // A GSO packet (merged by GRO or LRO) is too big only when the
        // segments it becomes are (`ip_exceeds_mtu`).
        let too_big = self.gso_network_len(&skb).unwrap_or(len) > usize::from(mtu);
        if too_big && df {
            //= https://www.rfc-editor.org/rfc/rfc1191#section-4
            //# the router MUST include the MTU of that next-hop network in the
            //# low-order 16 bits of the ICMP header field
            self.icmp_frag_needed(ns, skb, mtu, now);
            if let Some(n) = self.netns_mut(ns) {
                n.stats.ip.FragFails += 1;
                n.stats.drops.count(DropReason::FragNeeded);
            }
            return;
        }
        let Ok(Some(skb)) = self.nf_hook(NfHook::Forward, ns, Some(iif), Some(oif), skb, now) else { return };
        let decremented = self
            .pool
            .bytes_from_mut(&skb, self.pool.data_offset(&skb))
            .ok()
            .and_then(|b| Ipv4Packet::new_quoted(b).ok())
            .map(|mut ip| ip.dec_ttl())
            .is_some();
        if !decremented {
            return self.ip_drop(ns, skb, DropReason::NoMemory);
        }
        if let Ok(m) = self.pool.meta_mut(&skb) {
            m.oif = oif;
        }
        if let Some(n) = self.netns_mut(ns) {
            n.stats.ip.ForwDatagrams += 1;
        }
        let _ = self.ip_output(ns, oif, route.next_hop, mtu, false, skb, now);
    }
}

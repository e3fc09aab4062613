//! The IPv4 input path (`ip_rcv`, `ip_rcv_finish`, `ip_local_deliver`):
//! validate the header, drop martians, pass PREROUTING, decide between
//! local delivery and forwarding, reassemble fragments, pass INPUT, and hand
//! the payload to its protocol. Every drop is counted by reason and in the
//! MIB counter Linux would use.

use core::net::Ipv4Addr;

use super::fib::RouteKind;
use super::output::usable;
use super::reasm::ReasmResult;
use crate::netfilter::{NfHook, NfHooks};
use crate::netns::{NsId, World};
use crate::skb::{IfIndex, PacketType, SkBuff};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{IpProtocol, Ipv4Packet, WireError};

/// What the header check found.
struct Hdr {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    header_len: usize,
    total_len: usize,
    fragment: bool,
}

impl<H: NfHooks> World<'_, H> {
    /// A received IPv4 packet, data at its header (`ip_rcv`).
    pub(crate) fn ip_rcv(&mut self, ns: NsId, iif: IfIndex, skb: SkBuff, now: Instant) {
        // Frames for another host are dropped before anything is counted,
        // as Linux's `ip_rcv_core` does.
        if self.pool.meta(&skb).pkt_type == PacketType::OtherHost {
            return self.ip_drop(ns, skb, DropReason::OtherHost);
        }
        let len = self.pool.len(&skb) as u64;
        if let Some(n) = self.netns_mut(ns) {
            n.stats.ip.InReceives += 1;
            n.stats.ip.InOctets += len;
        }
        let hdr = match self.ip_check(&skb) {
            Ok(h) => h,
            Err(why) => return self.ip_drop(ns, skb, why),
        };
        // Ethernet pads short frames: the datagram ends at its total length.
        if self.pool.trim(&skb, hdr.total_len).is_err() {
            return self.ip_drop(ns, skb, DropReason::NoMemory);
        }
        if let Some(why) = self.martian_source(iif, hdr.src, hdr.dst) {
            return self.ip_drop(ns, skb, why);
        }
        // The transport header is marked here already, as `ip_rcv_core`
        // does: forwarding measures a GSO packet's segments by it.
        let data = self.pool.data_offset(&skb);
        if let Ok(m) = self.pool.meta_mut(&skb) {
            m.network_header = data;
            m.transport_header = data.saturating_add(hdr.header_len as u16);
            m.iif = iif;
        }
        // Connection tracking sees whole datagrams (`nf_defrag_ipv4`):
        // reassemble before PREROUTING where it runs.
        let (skb, mut hdr) = if hdr.fragment && self.nft_defrag(ns) {
            let Some(skb) = self.ip_defrag(ns, skb, now) else { return };
            match self.ip_check(&skb) {
                Ok(h) => (skb, h),
                Err(why) => return self.ip_drop(ns, skb, why),
            }
        } else {
            (skb, hdr)
        };
        let Ok(Some(skb)) = self.nf_hook(NfHook::PreRouting, ns, Some(iif), None, skb, now) else { return };
        // Destination NAT may have changed where it goes.
        if self.nft_nat(ns)
            && let Some((_, dst)) = self.ip_addrs(&skb)
        {
            hdr.dst = dst;
        }
        self.ip_rcv_finish(ns, iif, skb, &hdr, now);
    }

    /// Validate the header (`ip_rcv_core`).
    fn ip_check(&mut self, skb: &SkBuff) -> Result<Hdr, DropReason> {
        // Shorter than the minimal header: a header error (`InHdrErrors`) in
        // Linux, not a truncated datagram (`InTruncatedPkts`).
        if self.pool.may_pull(skb, 20).is_err() {
            return Err(DropReason::BadHeaderLen);
        }
        let ihl = usize::from(self.pool.data(skb)[0] & 0x0f) * 4;
        if self.pool.data(skb)[0] >> 4 != 4 {
            return Err(DropReason::BadVersion);
        }
        if ihl < 20 || self.pool.may_pull(skb, ihl).is_err() {
            return Err(DropReason::BadHeaderLen);
        }
        let ip = Ipv4Packet::new_quoted(&self.pool.data(skb)[..ihl]).map_err(|e| match e {
            WireError::BadVersion => DropReason::BadVersion,
            WireError::BadTotalLen => DropReason::BadTotalLen,
            WireError::Truncated => DropReason::Truncated,
            _ => DropReason::BadHeaderLen,
        })?;
        if !ip.verify_checksum() {
            return Err(DropReason::BadIpChecksum);
        }
        let total_len = usize::from(ip.total_len());
        if total_len < ihl {
            return Err(DropReason::BadTotalLen);
        }
        if total_len > self.pool.len(skb) {
            return Err(DropReason::Truncated);
        }
        Ok(Hdr { src: ip.src(), dst: ip.dst(), header_len: ihl, total_len, fragment: ip.is_fragment() })
    }

    /// Sources no host may use on the wire (RFC 1812 §5.3.7).
    fn martian_source(&self, iif: IfIndex, src: Ipv4Addr, dst: Ipv4Addr) -> Option<DropReason> {
        if self.is_loopback_dev(iif) {
            return None;
        }
        //= https://www.rfc-editor.org/rfc/rfc1812#section-5.3.7
        //# A router SHOULD NOT forward any packet that has an invalid IP
        //# source address or a source address on network 0 [...] loopback
        //# [...] class E [...] multicast [...] limited broadcast
        if src.is_loopback() {
            return Some(DropReason::MartianLoopback);
        }
        if src.is_multicast() {
            return Some(DropReason::MartianMulticast);
        }
        if src.is_broadcast() || self.iface(iif).is_some_and(|i| i.addrs.iter().any(|a| a.broadcast() == Some(src))) {
            return Some(DropReason::MartianBroadcast);
        }
        if u32::from(src) >> 28 == 0xf {
            return Some(DropReason::MartianClassE);
        }
        // 0.0.0.0/8 ("this network") may only ask: DHCP discovers go to the
        // limited broadcast address (RFC 1122 §3.2.1.3(a)-(b): these forms
        // are only ever sources while a host learns its address).
        if src.octets()[0] == 0 && !dst.is_broadcast() {
            return Some(DropReason::MartianZero);
        }
        // Our own address as the source, from outside: a spoof or a loop.
        // Linux refuses it the same way (a source that resolves to a local
        // route fails `fib_validate_source`).
        if let Some(ns) = self.iface(iif).map(|i| i.ns)
            && self.is_local_addr(ns, src)
        {
            return Some(DropReason::MartianLocal);
        }
        None
    }

    /// The routing decision (`ip_rcv_finish`, `ip_route_input`).
    fn ip_rcv_finish(&mut self, ns: NsId, iif: IfIndex, skb: SkBuff, hdr: &Hdr, now: Instant) {
        if hdr.header_len > 20 {
            let nh = self.pool.meta(&skb).network_header;
            let opts = self.pool.bytes_from(&skb, nh).get(20..hdr.header_len).unwrap_or(&[]);
            match check_options(opts) {
                Ok(false) => {}
                // Source routing lets a sender pick the path back through
                // us around filters: refused and counted, with no answer.
                Ok(true) => return self.ip_drop_quiet(ns, skb, DropReason::SourceRoute),
                Err(at) => {
                    if let Some(n) = self.netns_mut(ns) {
                        n.stats.ip.InHdrErrors += 1;
                        n.stats.drops.count(DropReason::BadIpOptions);
                    }
                    return self.icmp_param_problem(ns, skb, (20 + at) as u8, now);
                }
            }
        }
        let dst = hdr.dst;
        let on_iif_broadcast = self.iface(iif).is_some_and(|i| i.addrs.iter().any(|a| a.broadcast() == Some(dst)));
        if dst.is_broadcast() || on_iif_broadcast {
            if let Some(n) = self.netns_mut(ns) {
                n.stats.ip.InBcastPkts += 1;
            }
            return self.ip_local_deliver(ns, iif, skb, hdr, true, now);
        }
        if dst.is_multicast() || u32::from(dst) >> 28 == 0xf {
            return self.ip_drop(ns, skb, DropReason::NotForUs);
        }
        //= https://www.rfc-editor.org/rfc/rfc1122#section-3.2.1.3
        //# (g)  { 127, <any> }
        //# Internal host loopback address.  Addresses of this form
        //# MUST NOT appear outside a host.
        // Nor may 0.0.0.0/8 be a destination (§3.2.1.3(a)-(b)). Linux's
        // `ip_route_input_slow` drops both as martian destinations before
        // the route lookup, which would find 127/8 local.
        if (dst.is_loopback() || dst.octets()[0] == 0) && !self.is_loopback_dev(iif) {
            return self.ip_drop(ns, skb, DropReason::MartianDestination);
        }
        let ifaces = &*self.ifaces;
        let route = self.fib.route(ns, dst, |o| usable(ifaces, o));
        match route.map(|r| r.route.kind) {
            Some(RouteKind::Local) => self.ip_local_deliver(ns, iif, skb, hdr, false, now),
            Some(RouteKind::Broadcast) => self.ip_local_deliver(ns, iif, skb, hdr, true, now),
            _ if !self.netns(ns).is_some_and(|n| n.sysctl.ip_forward) => {
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.ip.InAddrErrors += 1;
                }
                self.ip_drop_quiet(ns, skb, DropReason::NotForUs);
            }
            Some(_) | None => self.ip_forward(ns, iif, skb, route, now),
        }
    }

    /// Local delivery (`ip_local_deliver`): reassemble, INPUT, then the
    /// protocol. `broadcast`: the route took the packet in as a broadcast,
    /// not for one of our addresses.
    fn ip_local_deliver(&mut self, ns: NsId, iif: IfIndex, skb: SkBuff, hdr: &Hdr, broadcast: bool, now: Instant) {
        if let Ok(m) = self.pool.meta_mut(&skb) {
            m.rt_broadcast = broadcast;
        }
        let skb = if hdr.fragment {
            let Some(skb) = self.ip_defrag(ns, skb, now) else { return };
            skb
        } else {
            skb
        };
        let Ok(Some(skb)) = self.nf_hook(NfHook::LocalIn, ns, Some(iif), None, skb, now) else { return };
        let (proto, ihl) = match Ipv4Packet::new_quoted(self.pool.data(&skb)) {
            Ok(ip) => (ip.protocol(), ip.header_len()),
            Err(_) => return self.ip_drop(ns, skb, DropReason::BadHeaderLen),
        };
        if self.pool.pull(&skb, ihl).is_err() {
            return self.ip_drop(ns, skb, DropReason::Truncated);
        }
        let transport = self.pool.data_offset(&skb);
        if let Ok(m) = self.pool.meta_mut(&skb) {
            m.transport_header = transport;
        }
        match proto {
            IpProtocol::ICMP => self.icmp_rcv(ns, skb, now),
            IpProtocol::UDP => self.udp_rcv(ns, skb, now),
            IpProtocol::TCP => self.tcp_v4_rcv(ns, skb, now),
            _ => {
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.ip.InUnknownProtos += 1;
                }
                self.icmp_dst_unreach(ns, skb, crate::wire::DstUnreachable::ProtoUnreachable, now);
                self.drop_count(ns, DropReason::UnknownProtocol);
                return;
            }
        }
        if let Some(n) = self.netns_mut(ns) {
            n.stats.ip.InDelivers += 1;
        }
    }

    /// Add a fragment to its reassembly: the whole datagram once complete
    /// (`ip_defrag`).
    fn ip_defrag(&mut self, ns: NsId, skb: SkBuff, now: Instant) -> Option<SkBuff> {
        if let Some(n) = self.netns_mut(ns) {
            n.stats.ip.ReasmReqds += 1;
        }
        let owner = self.reasm_owner;
        let res = self.reasm.add(&mut self.pool, owner, ns, skb, now);
        if let Some(victim) = self.reasm.take_eviction()
            && let Some(n) = self.netns_mut(victim)
        {
            n.stats.ip.ReasmFails += 1;
            n.stats.drops.count(DropReason::ReasmNoSpace);
        }
        match res {
            ReasmResult::Held => None,
            ReasmResult::Dropped(why) => {
                if let Some(n) = self.netns_mut(ns) {
                    // A duplicate fails nothing: its datagram is still whole
                    // or on its way.
                    if why != DropReason::ReasmDuplicate {
                        n.stats.ip.ReasmFails += 1;
                    }
                    n.stats.drops.count(why);
                }
                None
            }
            ReasmResult::Complete(skb) => {
                if let Some(n) = self.netns_mut(ns) {
                    n.stats.ip.ReasmOKs += 1;
                }
                Some(skb)
            }
        }
    }

    /// Free `skb`, counting it as an input header error for `why`.
    pub(crate) fn ip_drop(&mut self, ns: NsId, skb: SkBuff, why: DropReason) {
        self.pool.free(skb);
        if let Some(n) = self.netns_mut(ns) {
            match why {
                DropReason::Truncated => n.stats.ip.InTruncatedPkts += 1,
                DropReason::BadIpChecksum => {
                    n.stats.ip.InCsumErrors += 1;
                    n.stats.ip.InHdrErrors += 1;
                }
                DropReason::OtherHost | DropReason::NotForUs => {}
                // RFC 4293 `ipSystemStatsInAddrErrors`: a destination that is
                // not a valid address to be received at this entity.
                DropReason::MartianDestination => n.stats.ip.InAddrErrors += 1,
                DropReason::NoMemory => n.stats.ip.InDiscards += 1,
                _ => n.stats.ip.InHdrErrors += 1,
            }
            n.stats.drops.count(why);
        }
    }

    /// Free `skb`, counting only the reason.
    pub(crate) fn ip_drop_quiet(&mut self, ns: NsId, skb: SkBuff, why: DropReason) {
        self.pool.free(skb);
        self.drop_count(ns, why);
    }
}

/// Walk IPv4 options (RFC 791 §3.1): `Ok(true)` when one is a source route
/// (loose or strict, RFC 791 types 131 and 137), `Ok(false)` when all are
/// well formed and none is, `Err(offset)` of the first byte in error (an
/// option whose length is below 2 or runs past the header), the pointer a
/// parameter problem names (Linux's `ip_options_compile`).
fn check_options(opts: &[u8]) -> Result<bool, usize> {
    const EOL: u8 = 0;
    const NOP: u8 = 1;
    const LSRR: u8 = 131;
    const SSRR: u8 = 137;
    let mut i = 0;
    let mut source_route = false;
    while i < opts.len() {
        match opts[i] {
            EOL => break,
            NOP => i += 1,
            ty => {
                let Some(&len) = opts.get(i + 1) else { return Err(i) };
                if len < 2 || i + usize::from(len) > opts.len() {
                    return Err(i + 1);
                }
                source_route |= ty == LSRR || ty == SSRR;
                i += usize::from(len);
            }
        }
    }
    Ok(source_route)
}

#[cfg(test)]
mod tests {
    use super::check_options;

    #[test]
    fn options_are_walked_by_their_lengths() {
        assert_eq!(check_options(&[]), Ok(false));
        assert_eq!(check_options(&[1, 1, 1, 0]), Ok(false), "NOPs then the end");
        assert_eq!(check_options(&[0, 131, 0, 0]), Ok(false), "nothing counts after EOL");
        assert_eq!(check_options(&[7, 7, 4, 0, 0, 0, 0, 0]), Ok(false), "record route");
        assert_eq!(check_options(&[1, 131, 7, 4, 10, 0, 0, 1, 0]), Ok(true), "loose source route");
        assert_eq!(check_options(&[137, 3, 4, 0]), Ok(true), "strict source route");
        assert_eq!(check_options(&[7, 1, 0, 0]), Err(1), "length below 2");
        assert_eq!(check_options(&[1, 7, 9, 4, 0, 0, 0, 0]), Err(2), "past the header");
        assert_eq!(check_options(&[1, 1, 1, 68]), Err(3), "no length byte");
    }
}

//! What `skbnet tun` prints when it stops: the stack's main counters (by
//! their `/proc/net/snmp` names), drops by reason, the NIC's counters (as
//! `ip -s link` shows them), what each service did, and what crossed the
//! TUN device each way, super-packets and the fault profile's losses
//! included.

use skbnet::netns::{NsId, World};
use skbnet::skb::IfIndex;
use skbnet_host_shim::services::Services;

use super::faults::Dir;
use super::port::{Flow, TunPort};

/// The stack's counters, the NIC's and the services'.
pub fn counters(world: &World<'_>, ns: NsId, eth0: IfIndex, services: &Services) {
    if let Some(st) = world.stats(ns) {
        let (ip, icmp, tcp, udp) = (&st.ip, &st.icmp, &st.tcp, &st.udp);
        say!(
            "Ip: InReceives {} InDelivers {} OutRequests {} ReasmOKs {} FragOKs {} FragCreates {}",
            ip.InReceives,
            ip.InDelivers,
            ip.OutRequests,
            ip.ReasmOKs,
            ip.FragOKs,
            ip.FragCreates
        );
        say!("Icmp: InMsgs {} OutMsgs {}", icmp.InMsgs, icmp.OutMsgs);
        say!(
            "Tcp: PassiveOpens {} ActiveOpens {} InSegs {} OutSegs {} RetransSegs {} InErrs {} OutRsts {}",
            tcp.PassiveOpens,
            tcp.ActiveOpens,
            tcp.InSegs,
            tcp.OutSegs,
            tcp.RetransSegs,
            tcp.InErrs,
            tcp.OutRsts
        );
        say!("Udp: InDatagrams {} OutDatagrams {} NoPorts {}", udp.InDatagrams, udp.OutDatagrams, udp.NoPorts);
        let drops: Vec<String> = st.drops.iter().map(|(why, n)| format!("{why:?} {n}")).collect();
        say!("drops: {}", if drops.is_empty() { "none".to_string() } else { drops.join(", ") });
    }
    if let Some(d) = world.device_stats(eth0) {
        say!(
            "eth0: RX {} packets {} bytes, {} errors {} dropped {} missed; TX {} packets {} bytes, {} errors {} \
             dropped",
            d.rx_packets,
            d.rx_bytes,
            d.rx_errors,
            d.rx_dropped,
            d.rx_missed,
            d.tx_packets,
            d.tx_bytes,
            d.tx_errors,
            d.tx_dropped
        );
    }
    for (name, s) in services.stats().rows() {
        if s.accepted > 0 || s.bytes_in > 0 || s.requests > 0 {
            say!(
                "{name}: {} connections, {} bytes in, {} bytes out, {} requests, {} errors",
                s.accepted,
                s.bytes_in,
                s.bytes_out,
                s.requests,
                s.errors
            );
        }
    }
}

/// What crossed the TUN device `dev`.
pub fn port(dev: &str, p: &TunPort) {
    let st = p.stats();
    let flow = |label: &str, f: Flow, lost: u64| {
        say!(
            "{label}: {} packets {} bytes ({} GSO super-packets, {} with partial checksums), {lost} lost to \
             --loss/--delay",
            f.packets,
            f.bytes,
            f.super_packets,
            f.partial_csum
        );
    };
    let lost = |d: Dir| {
        let f = p.faults().stats(d);
        f.lost + f.queue_drops
    };
    flow(&format!("{dev} -> skbnet"), st.to_stack, lost(Dir::ToStack));
    flow(&format!("skbnet -> {dev}"), st.to_linux, lost(Dir::ToLinux));
    if st.write_errors + st.read_errors + st.bad_headers > 0 {
        say!(
            "{dev}: {} writes refused (first: {}), {} reads failed, {} bad virtio_net_hdr",
            st.write_errors,
            p.first_write_error().unwrap_or("-"),
            st.read_errors,
            st.bad_headers
        );
    }
}

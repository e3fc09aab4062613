//! The demo's closing report: per namespace the counters that are not zero
//! (as `nstat` shows them, by their `/proc/net/snmp` and `/proc/net/netstat`
//! names), drops by reason, the device counters of each interface that
//! carried traffic (as `ip -s link` shows them), what each link carried,
//! and the pool after the world is shut down.

use skbnet::dev::DevStats;
use skbnet::netns::{NsId, World};
use skbnet_nic_sim::link::{LinkStats, Side};

use super::Failed;
use super::capture::LINK_NAMES;
use super::topo::Links;

/// Longest line the counter lists wrap at.
const WIDTH: usize = 100;

/// Print every namespace's counters and what the links carried.
pub fn counters(world: &World<'_>, links: &Links<'_>) {
    say!("\n== counters (those that are not zero)");
    for ns in world.netns_ids() {
        let Some(st) = world.stats(ns) else { continue };
        if st.ip.InReceives == 0 && st.ip.OutRequests == 0 {
            continue;
        }
        say!("{}:", world.netns_name(ns).unwrap_or("?"));
        print_list("Ip:", st.ip.iter().filter(|&(_, n)| n > 0).map(|(k, n)| format!("{k} {n}")));
        print_list("Icmp:", st.icmp.iter().filter(|&(_, n)| n > 0).map(|(k, n)| format!("{k} {n}")));
        print_list("Udp:", st.udp.iter().filter(|&(_, n)| n > 0).map(|(k, n)| format!("{k} {n}")));
        print_list("Tcp:", st.tcp.iter().filter(|&(_, n)| n > 0).map(|(k, n)| format!("{k} {n}")));
        print_list("TcpExt:", st.tcp_ext.iter().filter(|&(_, n)| n > 0).map(|(k, n)| format!("{k} {n}")));
        print_list("drops:", st.drops.iter().map(|(why, n)| format!("{why:?} {n}")));
        devices(world, ns);
    }
    say!("links:");
    for (name, link) in LINK_NAMES.iter().zip([&links.h1_r, &links.r_h2]) {
        let link = link.borrow();
        say!("{}", link_line(name, link.stats(Side::A), link.stats(Side::B)));
    }
}

/// `label item, item, ...`, wrapped under the first item; `none` if empty.
fn print_list(label: &str, items: impl Iterator<Item = String>) {
    let width = (label.len() + 1).max(7);
    let mut line = format!("  {label:<width$}");
    let mut empty = true;
    for item in items {
        if !empty && line.len() + item.len() + 2 > WIDTH {
            say!("{line},");
            line = format!("  {:<width$}", "");
        } else if !empty {
            line.push_str(", ");
        }
        line.push_str(&item);
        empty = false;
    }
    if empty {
        line.push_str("none");
    }
    say!("{line}");
}

/// Each interface of `ns` that carried traffic, with its device counters.
fn devices(world: &World<'_>, ns: NsId) {
    for i in world.ifaces(ns) {
        let (Some(info), Some(s)) = (world.iface_info(i), world.device_stats(i)) else { continue };
        if s == DevStats::new() {
            continue;
        }
        say!(
            "  {:<7}RX {} pkts {} B ({} err, {} drop, {} missed), TX {} pkts {} B ({} err, {} drop)",
            format!("{}:", info.name),
            s.rx_packets,
            s.rx_bytes,
            s.rx_errors,
            s.rx_dropped,
            s.rx_missed,
            s.tx_packets,
            s.tx_bytes,
            s.tx_errors,
            s.tx_dropped,
        );
    }
}

/// What a link carried each way, named after its ends (`h1-r`: `h1>r`, `r>h1`).
fn link_line(name: &str, a: LinkStats, b: LinkStats) -> String {
    let (x, y) = name.split_once('-').unwrap_or((name, "?"));
    let dir = |from: &str, to: &str, s: LinkStats| {
        let lost = s.lost + s.queue_drops + s.giants;
        format!("{from}>{to} {} frames {} B, {lost} lost", s.delivered, s.delivered_bytes)
    };
    format!("  {name:<7}{}; {}", dir(x, y, a), dir(y, x, b))
}

/// Shut the world down and check that every sk_buff went back to the pool.
pub fn shutdown(world: &mut World<'_>) -> Result<(), Failed> {
    world.shutdown();
    let st = world.pool_ref().stats();
    say!(
        "\n== shutdown: pool of {} heads and {} buffers of {} bytes, at most {} heads and {} buffers in use",
        st.heads_total,
        st.bufs_total,
        st.buf_size,
        st.heads_high_water,
        st.bufs_high_water
    );
    if !st.is_idle() || st.bad_handles > 0 {
        return Err(Failed(format!("the pool is not free after shutdown: {st:?}")));
    }
    say!("  pool free after shutdown: 0 heads, 0 buffers in use: ok");
    Ok(())
}

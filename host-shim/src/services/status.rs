//! The status page: what `nstat`, `ss -tan`, `ip -s link` and
//! `/proc/net/sockstat` would show of the namespace, the pool's occupancy,
//! and what the services did. Plain text, or the same text in HTML.

use std::fmt::Write as _;

use skbnet::netfilter::NfHooks;
use skbnet::netns::{NsId, World};
use skbnet::tcp::{TcpEntry, TcpState};
use skbnet::time::Instant;

use super::{Service, Stats};

/// What the page needs besides the world and the counters.
pub(crate) struct Page<'a> {
    /// The namespace shown.
    pub ns: NsId,
    /// When the services started.
    pub started: Instant,
    /// The services running.
    pub running: &'a [Service],
}

/// Plain text or HTML.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// `text/plain`.
    Text,
    /// `text/html`: the text in sections, escaped.
    Html,
}

/// The page.
pub(crate) fn render<H: NfHooks>(w: &World<'_, H>, st: &Stats, page: &Page<'_>, format: Format) -> String {
    let name = w.netns_name(page.ns).unwrap_or("?");
    let up = w.now().saturating_duration_since(page.started).as_secs_f64();
    let running: Vec<&str> = page.running.iter().map(|s| s.name()).collect();
    let title = format!("skbnet: namespace {name}");
    let sections = [
        ("summary", format!("services {} up {up:.1} s\n", running.join(","))),
        ("interfaces (ip -s link, ip addr)", interfaces(w, page.ns)),
        ("TCP sockets (ss -tan)", tcp_sockets(w, page.ns)),
        ("pool", pool(w)),
        ("counters (nstat, non-zero)", counters(w, page.ns)),
        ("drops by reason", drops(w, page.ns)),
        ("services", services(st)),
    ];
    match format {
        Format::Text => {
            let mut out = format!("{title}\n");
            for (head, body) in sections {
                let _ = write!(out, "\n== {head}\n{body}");
            }
            out
        }
        Format::Html => {
            let mut out = format!(
                "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body>\n<h1>{t}</h1>\n",
                t = escape(&title)
            );
            for (head, body) in sections {
                let _ = write!(out, "<h2>{}</h2>\n<pre>{}</pre>\n", escape(head), escape(&body));
            }
            out.push_str("<p><a href=\"/status.txt\">plain text</a></p>\n</body></html>\n");
            out
        }
    }
}

/// `s` with HTML's special characters escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Each interface: state, MTU, addresses, device counters.
fn interfaces<H: NfHooks>(w: &World<'_, H>, ns: NsId) -> String {
    let mut out = String::new();
    for i in w.ifaces(ns) {
        let Some(info) = w.iface_info(i) else { continue };
        let state = match (info.up, info.carrier) {
            (true, true) => "UP",
            (true, false) => "NO-CARRIER",
            _ => "DOWN",
        };
        let _ = write!(out, "{}: {}: <{state}> mtu {}", info.ifindex, info.name, info.mtu);
        if let Some(mac) = info.hw_addr {
            let m = mac.0;
            let _ = write!(
                out,
                " link/ether {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            );
        }
        out.push('\n');
        for a in &info.addrs {
            let _ = writeln!(out, "    inet {}/{}", a.addr, a.prefix_len);
        }
        if let Some(d) = w.device_stats(i) {
            let _ = writeln!(
                out,
                "    RX: {} packets {} bytes {} errors {} dropped {} missed\n    TX: {} packets {} bytes {} errors {} dropped {} busy",
                d.rx_packets,
                d.rx_bytes,
                d.rx_errors,
                d.rx_dropped,
                d.rx_missed,
                d.tx_packets,
                d.tx_bytes,
                d.tx_errors,
                d.tx_dropped,
                d.tx_busy
            );
        }
    }
    out
}

/// `ss`'s name for a state.
fn state_name(s: TcpState) -> &'static str {
    match s {
        TcpState::Closed => "CLOSE",
        TcpState::Listen => "LISTEN",
        TcpState::SynSent => "SYN-SENT",
        TcpState::SynReceived => "SYN-RECV",
        TcpState::Established => "ESTAB",
        TcpState::FinWait1 => "FIN-WAIT-1",
        TcpState::FinWait2 => "FIN-WAIT-2",
        TcpState::CloseWait => "CLOSE-WAIT",
        TcpState::Closing => "CLOSING",
        TcpState::LastAck => "LAST-ACK",
        TcpState::TimeWait => "TIME-WAIT",
    }
}

/// One line a TCP socket, as `ss -tan` lists them, and the sockstat line.
fn tcp_sockets<H: NfHooks>(w: &World<'_, H>, ns: NsId) -> String {
    let mut out = format!(
        "{:<11} {:>8} {:>8} {:<21} {:<21}\n",
        "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"
    );
    let peer = |e: &TcpEntry| e.remote.map_or_else(|| "0.0.0.0:*".to_string(), |r| r.to_string());
    for e in w.tcp_table(ns) {
        let orphan = if e.orphan && e.state != TcpState::TimeWait { " (orphan)" } else { "" };
        let _ = writeln!(
            out,
            "{:<11} {:>8} {:>8} {:<21} {:<21}{orphan}",
            state_name(e.state),
            e.recv_q,
            e.send_q,
            e.local.to_string(),
            peer(&e)
        );
    }
    let s = w.tcp_sockstat(ns);
    let _ = writeln!(out, "sockstat: TCP: inuse {} orphan {} tw {} syn_recv {}", s.inuse, s.orphan, s.tw, s.syn_recv);
    out
}

/// The pool's occupancy and failures.
fn pool<H: NfHooks>(w: &World<'_, H>) -> String {
    let p = w.pool_ref().stats();
    format!(
        "buffers {} of {} in use (high water {}), {} bytes each\nheads   {} of {} in use (high water {})\n\
         allocation failures {}, owner-limit refusals {}, stale handles {}\n",
        p.bufs_in_use,
        p.bufs_total,
        p.bufs_high_water,
        p.buf_size,
        p.heads_in_use,
        p.heads_total,
        p.heads_high_water,
        p.alloc_failures,
        p.limit_failures,
        p.bad_handles
    )
}

/// The MIB counters that are not zero, named as `nstat` names them.
fn counters<H: NfHooks>(w: &World<'_, H>, ns: NsId) -> String {
    let Some(s) = w.stats(ns) else { return String::new() };
    let groups: [(&str, Vec<(&str, u64)>); 5] = [
        ("Ip", s.ip.iter().collect()),
        ("Icmp", s.icmp.iter().collect()),
        ("Udp", s.udp.iter().collect()),
        ("Tcp", s.tcp.iter().collect()),
        ("TcpExt", s.tcp_ext.iter().collect()),
    ];
    let mut out = String::new();
    for (group, values) in groups {
        for (name, v) in values.into_iter().filter(|&(_, v)| v != 0) {
            let _ = writeln!(out, "{:<32} {v}", format!("{group}{name}"));
        }
    }
    out
}

/// Drops by reason, or a line saying there were none.
fn drops<H: NfHooks>(w: &World<'_, H>, ns: NsId) -> String {
    let Some(s) = w.stats(ns) else { return String::new() };
    let mut out = String::new();
    for (why, n) in s.drops.iter() {
        let _ = writeln!(out, "{:<32} {n}", format!("{why:?}"));
    }
    if out.is_empty() {
        out.push_str("none\n");
    }
    out
}

/// What each service did, and the last iperf3 test.
fn services(st: &Stats) -> String {
    let mut out = format!(
        "{:<12} {:>9} {:>7} {:>9} {:>14} {:>14} {:>7}\n",
        "service", "accepted", "active", "requests", "bytes in", "bytes out", "errors"
    );
    for (name, s) in st.rows() {
        let _ = writeln!(
            out,
            "{name:<12} {:>9} {:>7} {:>9} {:>14} {:>14} {:>7}",
            s.accepted, s.active, s.requests, s.bytes_in, s.bytes_out, s.errors
        );
    }
    if let Some(t) = st.last_iperf {
        let mode = match (t.reverse, t.bidir) {
            (_, true) => "bidirectional",
            (true, _) => "reverse (we sent)",
            _ => "normal (we received)",
        };
        let mbits = |b: u64| if t.seconds > 0.0 { b as f64 * 8.0 / t.seconds / 1e6 } else { 0.0 };
        let _ = writeln!(
            out,
            "last iperf3 test: from {}, {} stream(s), {mode}, {:.2} s: received {} bytes ({:.1} Mbit/s), sent {} bytes ({:.1} Mbit/s)",
            t.client,
            t.streams,
            t.seconds,
            t.bytes_received,
            mbits(t.bytes_received),
            t.bytes_sent,
            mbits(t.bytes_sent)
        );
    }
    out
}

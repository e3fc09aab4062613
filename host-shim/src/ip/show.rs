//! Printing netlink replies and notifications the way iproute2 prints
//! them (`ip link`, `ip addr`, `ip route`, `ip netns list`, `ip monitor`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use skbnet::netlink::addr::AddrMsg;
use skbnet::netlink::family::NsMsg;
use skbnet::netlink::link::LinkMsg;
use skbnet::netlink::msg::{NLMSG_HDRLEN, NlHeader, messages};
use skbnet::netlink::route::RouteMsg;
use skbnet::netlink::uapi::*;
use skbnet::netlink::{Errno, attr::Attrs};

use super::conn::Conn;

/// A failed request, as the kernel reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The errno (positive).
    pub errno: i32,
    /// The extended acknowledgement's text, if any.
    pub msg: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.msg.is_empty() {
            write!(f, "RTNETLINK answers: {}", strerror(self.errno))
        } else {
            write!(f, "Error: {}.", self.msg)
        }
    }
}

/// The C library's text for an errno.
pub fn strerror(errno: i32) -> String {
    Errno::from_code(errno).map_or_else(|| format!("Unknown error {errno}"), |e| e.text().to_string())
}

/// The messages of a reply, and the error it ended with.
#[derive(Debug, Default)]
pub struct Reply {
    /// Objects, with their headers.
    pub msgs: Vec<(NlHeader, Vec<u8>)>,
    /// The first error.
    pub error: Option<Failure>,
}

impl Reply {
    /// Sort a reply's bytes into objects and errors; acknowledgements and
    /// `NLMSG_DONE` are dropped.
    pub fn parse(bytes: &[u8]) -> Reply {
        let mut r = Reply::default();
        for m in messages(bytes) {
            let Ok(m) = m else {
                r.error.get_or_insert(Failure { errno: 22, msg: "malformed reply".into() });
                break;
            };
            match m.header.ty {
                NLMSG_ERROR => {
                    if let Some(f) = failure(&m.header, m.payload) {
                        r.error.get_or_insert(f);
                    }
                }
                NLMSG_DONE | NLMSG_NOOP => {}
                _ => r.msgs.push((m.header, m.payload.to_vec())),
            }
        }
        r
    }

    /// The error, if the request failed.
    pub fn check(self) -> Result<Reply, Failure> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }
}

/// The failure an `NLMSG_ERROR` payload reports (`None`: an acknowledgement).
pub fn failure(h: &NlHeader, payload: &[u8]) -> Option<Failure> {
    let code = i32::from_ne_bytes(payload.get(..4)?.try_into().ok()?);
    if code == 0 {
        return None;
    }
    let inner = if h.flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        NlHeader::parse(&payload[4..]).map_or(NLMSG_HDRLEN, |x| x.len as usize)
    };
    let mut msg = String::new();
    if h.flags & NLM_F_ACK_TLVS != 0 {
        let tlvs = payload.get(4 + skbnet::netlink::msg::align(inner)..).unwrap_or(&[]);
        for a in Attrs::new(tlvs, 0).flatten() {
            if a.ty == NLMSGERR_ATTR_MSG {
                msg = a.str().unwrap_or("").to_string();
            }
        }
    }
    Some(Failure { errno: code.saturating_neg(), msg })
}

/// Names of interfaces and namespaces, for printing indexes as names.
#[derive(Clone, Debug, Default)]
pub struct Names {
    links: HashMap<u32, String>,
    netns: HashMap<i32, String>,
}

impl Names {
    /// The names namespace `ns` sees now.
    pub fn load(conn: &mut dyn Conn, ns: &str) -> Names {
        let mut n = Names::default();
        if let Ok(b) = conn.netlink(ns, &super::cmd::dump_request(RTM_GETLINK)) {
            for (_, p) in Reply::parse(&b).msgs {
                if let Ok(m) = LinkMsg::parse(&p) {
                    n.learn_link(&m);
                }
            }
        }
        if let Ok(b) = conn.netlink(ns, &super::cmd::dump_request(SKBNET_GETNS)) {
            for (_, p) in Reply::parse(&b).msgs {
                if let Ok(m) = NsMsg::parse(&p) {
                    n.netns.insert(m.id, m.name.map(|x| x.to_string()).unwrap_or_default());
                }
            }
        }
        n
    }

    /// Remember a link's name.
    pub fn learn_link(&mut self, m: &LinkMsg) {
        if let Some(name) = &m.name {
            self.links.insert(m.header.index as u32, name.to_string());
        }
    }

    /// An interface's name, or `ifN`.
    pub fn link(&self, index: u32) -> String {
        self.links.get(&index).cloned().unwrap_or_else(|| format!("if{index}"))
    }

    /// A namespace's name.
    pub fn netns(&self, id: i32) -> Option<&str> {
        self.netns.get(&id).map(String::as_str)
    }
}

/// iproute2's flag names, in its order.
fn flags_text(flags: u32) -> String {
    const NAMES: [(u32, &str); 10] = [
        (IFF_LOOPBACK, "LOOPBACK"),
        (IFF_BROADCAST, "BROADCAST"),
        (IFF_POINTOPOINT, "POINTOPOINT"),
        (IFF_MULTICAST, "MULTICAST"),
        (IFF_NOARP, "NOARP"),
        (IFF_PROMISC, "PROMISC"),
        (IFF_MASTER, "MASTER"),
        (IFF_SLAVE, "SLAVE"),
        (IFF_UP, "UP"),
        (IFF_LOWER_UP, "LOWER_UP"),
    ];
    let mut v: Vec<&str> = Vec::new();
    if flags & IFF_UP != 0 && flags & IFF_RUNNING == 0 {
        v.push("NO-CARRIER");
    }
    v.extend(NAMES.iter().filter(|(f, _)| flags & f != 0).map(|(_, n)| *n));
    v.join(",")
}

fn oper_text(s: Option<u8>) -> &'static str {
    match s {
        Some(IF_OPER_UP) => "UP",
        Some(IF_OPER_DOWN) => "DOWN",
        Some(IF_OPER_LOWERLAYERDOWN) => "LOWERLAYERDOWN",
        Some(1) => "NOTPRESENT",
        Some(4) => "TESTING",
        Some(5) => "DORMANT",
        _ => "UNKNOWN",
    }
}

/// A link as `ip link` (`mode` true) or `ip addr` print it: two lines.
pub fn link_text(m: &LinkMsg, names: &Names, mode: bool) -> String {
    let mut s = String::new();
    let name = m.name.as_deref().unwrap_or("?");
    let at = match (m.link, m.link_netnsid) {
        (Some(l), Some(_)) => format!("@if{l}"),
        (Some(l), None) => format!("@{}", names.link(l)),
        _ => String::new(),
    };
    let _ = write!(s, "{}: {name}{at}: <{}> mtu {}", m.header.index, flags_text(m.header.flags), m.mtu.unwrap_or(0));
    let virt = m.kind.is_some() || m.header.ty == ARPHRD_LOOPBACK;
    if virt {
        s.push_str(if m.header.flags & IFF_UP != 0 { " qdisc noqueue" } else { " qdisc noop" });
    }
    if let Some(master) = m.master {
        let _ = write!(s, " master {}", names.link(master));
    }
    let _ = write!(s, " state {}", oper_text(m.operstate));
    if mode {
        s.push_str(" mode DEFAULT");
    }
    let _ = write!(s, " group default qlen {}", m.txqlen.unwrap_or(1000));
    let kind = match m.header.ty {
        ARPHRD_ETHER => "ether",
        ARPHRD_LOOPBACK => "loopback",
        ARPHRD_NONE => "none",
        _ => "void",
    };
    let _ = write!(s, "\n    link/{kind}");
    if let Some(a) = m.address {
        let _ = write!(s, " {a}");
        if let Some(b) = m.broadcast.or((m.header.ty == ARPHRD_LOOPBACK).then_some(a)) {
            let _ = write!(s, " brd {b}");
        }
    }
    if let Some(id) = m.link_netnsid {
        match names.netns(id) {
            Some(n) => {
                let _ = write!(s, " link-netns {n}");
            }
            None => {
                let _ = write!(s, " link-netnsid {id}");
            }
        }
    }
    s
}

fn scope_text(scope: u8) -> String {
    match scope {
        RT_SCOPE_UNIVERSE => "global".into(),
        200 => "site".into(),
        RT_SCOPE_LINK => "link".into(),
        RT_SCOPE_HOST => "host".into(),
        RT_SCOPE_NOWHERE => "nowhere".into(),
        n => n.to_string(),
    }
}

/// An address as `ip addr` prints it under its link: two lines.
pub fn addr_text(m: &AddrMsg) -> String {
    let mut s = String::new();
    let a = m.addr().unwrap_or(Ipv4Addr::UNSPECIFIED);
    let _ = write!(s, "    inet {a}/{}", m.header.prefix_len);
    if let Some(b) = m.broadcast {
        let _ = write!(s, " brd {b}");
    }
    let _ = write!(s, " scope {}", scope_text(m.header.scope));
    if let Some(l) = &m.label {
        let _ = write!(s, " {l}");
    }
    s.push_str("\n       valid_lft forever preferred_lft forever");
    s
}

/// A route as `ip route` prints it; `table` adds the table when it is not main.
pub fn route_text(m: &RouteMsg, names: &Names, table: bool) -> String {
    let h = &m.header;
    let mut s = String::new();
    let kind = match h.kind {
        RTN_UNICAST => "",
        RTN_LOCAL => "local ",
        RTN_BROADCAST => "broadcast ",
        RTN_BLACKHOLE => "blackhole ",
        RTN_UNREACHABLE => "unreachable ",
        RTN_PROHIBIT => "prohibit ",
        _ => "",
    };
    s.push_str(kind);
    match m.dst {
        Some(d) if h.dst_len == 32 => {
            let _ = write!(s, "{d}");
        }
        Some(d) => {
            let _ = write!(s, "{d}/{}", h.dst_len);
        }
        None => s.push_str("default"),
    }
    if let Some(g) = m.gateway {
        let _ = write!(s, " via {g}");
    }
    if let Some(o) = m.oif {
        let _ = write!(s, " dev {}", names.link(o));
    }
    let t = m.table_id();
    if table && t != u32::from(RT_TABLE_MAIN) {
        let name = if t == u32::from(RT_TABLE_LOCAL) { "local".to_string() } else { t.to_string() };
        let _ = write!(s, " table {name}");
    }
    match h.protocol {
        RTPROT_BOOT => {}
        RTPROT_KERNEL => s.push_str(" proto kernel"),
        RTPROT_STATIC => s.push_str(" proto static"),
        p => {
            let _ = write!(s, " proto {p}");
        }
    }
    if h.scope != RT_SCOPE_UNIVERSE {
        let _ = write!(s, " scope {}", scope_text(h.scope));
    }
    if let Some(p) = m.prefsrc {
        let _ = write!(s, " src {p}");
    }
    if let Some(p) = m.priority {
        let _ = write!(s, " metric {p}");
    }
    if let Some(mtu) = m.mtu {
        let _ = write!(s, " mtu lock {mtu}");
    }
    s
}

/// What `ip monitor` prints for one message (`None`: nothing).
pub fn event_text(h: &NlHeader, payload: &[u8], names: &mut Names) -> Option<String> {
    let deleted = matches!(h.ty, RTM_DELLINK | RTM_DELADDR | RTM_DELROUTE | SKBNET_DELNS);
    let prefix = if deleted { "Deleted " } else { "" };
    let text = match h.ty {
        RTM_NEWLINK | RTM_DELLINK => {
            let m = LinkMsg::parse(payload).ok()?;
            names.learn_link(&m);
            link_text(&m, names, false)
        }
        RTM_NEWADDR | RTM_DELADDR => {
            let m = AddrMsg::parse(payload).ok()?;
            format!("{}: {}{}", m.header.index, names.link(m.header.index), addr_text(&m))
        }
        RTM_NEWROUTE | RTM_DELROUTE => route_text(&RouteMsg::parse(payload).ok()?, names, true),
        SKBNET_NFT => {
            let m = skbnet::netlink::family::NftMsg::parse(payload).ok()?;
            m.cmd?.to_string()
        }
        SKBNET_NEWNS | SKBNET_DELNS => {
            let m = NsMsg::parse(payload).ok()?;
            let name = m.name.map(|n| n.to_string()).unwrap_or_default();
            if deleted {
                names.netns.remove(&m.id);
            } else {
                names.netns.insert(m.id, name.clone());
            }
            format!("nsid {} (iproute2 netns name: {name})", m.id)
        }
        NLMSG_ERROR => {
            let f = failure(h, payload)?;
            return Some(format!("netlink receive error {} ({}): notifications were lost", strerror(f.errno), f.errno));
        }
        _ => return None,
    };
    Some(format!("{prefix}{text}"))
}

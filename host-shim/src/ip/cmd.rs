//! The `ip` command: iproute2's syntax, turned into netlink requests to a
//! world, and the replies printed as iproute2 prints them.

use std::cell::Cell;
use std::io::Write;
use std::net::Ipv4Addr;

use skbnet::netlink::addr::{AddrMsg, IfAddrMsg};
use skbnet::netlink::family::NsMsg;
use skbnet::netlink::link::{IfInfoMsg, LinkKind, LinkMsg, NetnsRef, VethPeer};
use skbnet::netlink::route::{RouteMsg, RtMsg};
use skbnet::netlink::uapi::*;
use skbnet::netlink::{NlWriter, NoRoom};
use skbnet::netns::Name;

use super::conn::Conn;
use super::show::{self, Names, Reply};

/// A command that failed: its exit status and what to print on stderr.
#[derive(Debug, PartialEq, Eq)]
pub struct Fail {
    /// Exit status.
    pub code: u8,
    /// What went wrong (may be empty).
    pub text: String,
}

impl Fail {
    /// A usage error (exit status 1, as iproute2's).
    pub fn usage(text: impl Into<String>) -> Fail {
        Fail { code: 1, text: text.into() }
    }
}

/// What a command returns.
pub type Res = Result<(), Fail>;

thread_local! {
    static SEQ: Cell<u32> = const { Cell::new(1) };
}

/// One request message of type `ty`, its body written by `body`.
pub fn build(ty: u16, flags: u16, body: impl FnOnce(&mut NlWriter<'_>) -> Result<(), NoRoom>) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let seq = SEQ.with(|s| {
        let v = s.get();
        s.set(v.wrapping_add(1));
        v
    });
    let mut w = NlWriter::new(&mut buf);
    let n = w
        .begin(ty, flags | NLM_F_REQUEST, seq, 0)
        .and_then(|m| {
            body(&mut w)?;
            w.end(m);
            Ok(w.len())
        })
        .unwrap_or(0);
    buf.truncate(n);
    buf
}

/// A dump request for `ty`, with an empty header of the right family.
pub fn dump_request(ty: u16) -> Vec<u8> {
    build(ty, NLM_F_DUMP, |w| match ty {
        RTM_GETLINK => LinkMsg::default().emit(w),
        RTM_GETADDR => {
            AddrMsg { header: IfAddrMsg { family: AF_INET, ..IfAddrMsg::default() }, ..AddrMsg::default() }.emit(w)
        }
        RTM_GETROUTE => {
            RouteMsg { header: RtMsg { family: AF_INET, ..RtMsg::default() }, ..RouteMsg::default() }.emit(w)
        }
        _ => NsMsg { id: -1, name: None }.emit(w),
    })
}

/// Send `req` and fail on an error reply (exit status 2, as iproute2's).
fn talk(conn: &mut dyn Conn, ns: &str, req: &[u8]) -> Result<Reply, Fail> {
    let bytes = conn.netlink(ns, req).map_err(|e| Fail { code: 1, text: e })?;
    Reply::parse(&bytes).check().map_err(|f| Fail { code: 2, text: f.to_string() })
}

/// The index of interface `name` in `ns`.
fn ifindex(conn: &mut dyn Conn, ns: &str, name: &str) -> Result<u32, Fail> {
    let n = Name::try_from(name).map_err(|_| Fail::usage(format!("Device name \"{name}\" is too long")))?;
    let req = build(RTM_GETLINK, 0, |w| LinkMsg { name: Some(n), ..LinkMsg::default() }.emit(w));
    let no = || Fail::usage(format!("Cannot find device \"{name}\""));
    let r = talk(conn, ns, &req).map_err(|_| no())?;
    let (_, p) = r.msgs.first().ok_or_else(no)?;
    Ok(LinkMsg::parse(p).map_err(|_| no())?.header.index as u32)
}

/// The id of namespace `name`.
fn nsid(conn: &mut dyn Conn, name: &str) -> Result<u32, Fail> {
    let r = talk(conn, "", &dump_request(SKBNET_GETNS))?;
    r.msgs
        .iter()
        .filter_map(|(_, p)| NsMsg::parse(p).ok())
        .find(|m| m.name.as_deref() == Some(name))
        .map(|m| m.id as u32)
        .ok_or_else(|| Fail::usage(format!("Cannot open network namespace \"{name}\": No such file or directory")))
}

/// True when `word` abbreviates `full` (iproute2's `matches`).
pub fn matches(word: &str, full: &str) -> bool {
    !word.is_empty() && full.starts_with(word)
}

fn name_arg(s: &str) -> Result<Name, Fail> {
    if s.is_empty() || s.len() > 15 || s.contains(['/', ':']) || s.chars().any(char::is_whitespace) {
        return Err(Fail::usage(format!("\"{s}\" is not a valid ifname")));
    }
    Name::try_from(s).map_err(|_| Fail::usage(format!("\"{s}\" is not a valid ifname")))
}

fn next<'a>(it: &mut std::slice::Iter<'a, String>, what: &str) -> Result<&'a str, Fail> {
    it.next().map(String::as_str).ok_or_else(|| {
        Fail::usage(format!("Command line is not complete: \"{what}\" needs an argument. Try \"ip help\"."))
    })
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, Fail> {
    s.parse().map_err(|_| Fail::usage(format!("Error: argument \"{s}\" is wrong: Invalid \"{what}\" value")))
}

/// `ip [-n NS] OBJECT COMMAND...` in namespace `ns` (`""`: the initial one).
pub fn ip(conn: &mut dyn Conn, ns: &str, args: &[String], out: &mut dyn Write) -> Res {
    let mut ns = ns.to_string();
    let mut args = args;
    // Options before the object.
    while let Some(a) = args.first().filter(|a| a.starts_with('-')) {
        match a.as_str() {
            "-n" | "-netns" => {
                ns = args.get(1).cloned().ok_or_else(|| Fail::usage("Option \"-n\" needs a namespace"))?;
                args = &args[2..];
            }
            "-4" | "-d" | "-details" | "-s" | "-stats" => args = &args[1..],
            other => return Err(Fail::usage(format!("Option \"{other}\" is unknown, try \"ip -help\"."))),
        }
    }
    let Some(obj) = args.first() else { return Err(Fail::usage(USAGE)) };
    let rest = &args[1..];
    match obj.as_str() {
        o if matches(o, "link") => link(conn, &ns, rest, out),
        o if matches(o, "address") => addr(conn, &ns, rest, out),
        o if matches(o, "route") => route(conn, &ns, rest, out),
        o if matches(o, "netns") => netns(conn, &ns, rest, out),
        o if matches(o, "monitor") => monitor(conn, &ns, rest, out),
        o if matches(o, "tuntap") => tuntap(conn, &ns, rest, out),
        "help" => {
            let _ = out.write_all(USAGE.as_bytes());
            Ok(())
        }
        o => Err(Fail::usage(format!("Object \"{o}\" is unknown, try \"ip help\"."))),
    }
}

/// `ip help`.
pub const USAGE: &str = "\
Usage: ip [ -n NETNS ] OBJECT { COMMAND | help }
where  OBJECT := { link | address | route | netns | monitor | tuntap }
  ip link add NAME type { veth peer [name] PEER [netns NS] | bridge | tun }
  ip tuntap { add | del } [dev] NAME mode tun | ip tuntap [list]
  ip link set [dev] DEV { up | down | netns NS | master BR | nomaster | mtu N | name NEW } ...
  ip link { del | show } [dev] DEV
  ip addr { add | del } ADDR/LEN dev DEV
  ip addr [show [dev DEV]] | ip addr flush dev DEV
  ip route { add | del | replace } { PREFIX | default } [via GW] [dev DEV] [metric N] [src ADDR]
  ip route [show [table { main | local | all }]] | ip route get ADDR
  ip netns { add | del } NAME | ip netns [list] | ip netns exec NAME { ip ... | nft ... | ping ... | bash }
  ip monitor [ all | link | address | route | netns ]
";

fn link(conn: &mut dyn Conn, ns: &str, args: &[String], out: &mut dyn Write) -> Res {
    let Some(cmd) = args.first() else { return link_show(conn, ns, &[], out) };
    let rest = &args[1..];
    match cmd.as_str() {
        "add" => link_add(conn, ns, rest),
        c if matches(c, "delete") => {
            let mut it = rest.iter();
            let mut dev = next(&mut it, "dev")?;
            if dev == "dev" {
                dev = next(&mut it, "dev")?;
            }
            let index = ifindex(conn, ns, dev)?;
            let req = build(RTM_DELLINK, NLM_F_ACK, |w| {
                LinkMsg { header: IfInfoMsg { index: index as i32, ..IfInfoMsg::default() }, ..LinkMsg::default() }
                    .emit(w)
            });
            talk(conn, ns, &req).map(drop)
        }
        "set" => link_set(conn, ns, rest),
        c if matches(c, "show") || matches(c, "list") => link_show(conn, ns, rest, out),
        c => Err(Fail::usage(format!("Command \"{c}\" is unknown, try \"ip link help\"."))),
    }
}

fn link_add(conn: &mut dyn Conn, ns: &str, args: &[String]) -> Res {
    let mut m = LinkMsg::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "name" => m.name = Some(name_arg(next(&mut it, "name")?)?),
            "mtu" => m.mtu = Some(num(next(&mut it, "mtu")?, "mtu")?),
            "netns" => m.netns = Some(NetnsRef::Fd(nsid(conn, next(&mut it, "netns")?)?)),
            "type" => {
                let t = next(&mut it, "type")?;
                m.kind = Some(match t {
                    "veth" => LinkKind::Veth,
                    "bridge" => LinkKind::Bridge,
                    "tun" => LinkKind::Tun,
                    other => return Err(Fail { code: 2, text: format!("Error: Unknown device type \"{other}\".") }),
                });
                if m.kind == Some(LinkKind::Veth) {
                    m.peer = Some(veth_peer(conn, &mut it)?);
                }
            }
            s if m.name.is_none() => m.name = Some(name_arg(s)?),
            s => return Err(Fail::usage(format!("Error: either \"dev\" is duplicate, or \"{s}\" is a garbage."))),
        }
    }
    if m.name.is_none() {
        return Err(Fail::usage("Not enough information: \"dev\" argument is required."));
    }
    if m.kind.is_none() {
        return Err(Fail::usage("Not enough information: \"type\" argument is required."));
    }
    let req = build(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, |w| m.emit(w));
    talk(conn, ns, &req).map(drop)
}

/// `ip tuntap { add | del } [dev] NAME mode tun` and `ip tuntap [list]`:
/// a TUN device of the world (`skbnet::dev::tun`), made and deleted with
/// `RTM_NEWLINK` / `RTM_DELLINK` of kind `tun`. Only `mode tun` exists.
fn tuntap(conn: &mut dyn Conn, ns: &str, args: &[String], out: &mut dyn Write) -> Res {
    let cmd = args.first().map_or("list", String::as_str);
    let (add, del) = (cmd == "add", matches(cmd, "delete"));
    if !add && !del {
        if !(matches(cmd, "list") || matches(cmd, "show")) {
            return Err(Fail::usage(format!("Command \"{cmd}\" is unknown, try \"ip tuntap help\".")));
        }
        let (list, _) = links(conn, ns, &[])?;
        for l in list.iter().filter(|l| l.kind == Some(LinkKind::Tun)) {
            let _ = writeln!(out, "{}: tun", l.name.as_deref().unwrap_or("?"));
        }
        return Ok(());
    }
    let (mut name, mut mode) = (None, None);
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "dev" => name = Some(name_arg(next(&mut it, "dev")?)?),
            "mode" => mode = Some(next(&mut it, "mode")?),
            s if name.is_none() => name = Some(name_arg(s)?),
            s => return Err(Fail::usage(format!("Error: either \"dev\" is duplicate, or \"{s}\" is a garbage."))),
        }
    }
    let name = name.ok_or_else(|| Fail::usage("Not enough information: \"dev\" argument is required."))?;
    match mode {
        Some("tun") => {}
        None if del => {}
        None => return Err(Fail::usage("You failed to specify a tunnel mode")),
        Some("tap") => return Err(Fail { code: 1, text: "skbnet: only mode tun exists (tap: not supported)".into() }),
        Some(m) => return Err(Fail::usage(format!("Unknown tunnel mode \"{m}\""))),
    }
    if del {
        let index = ifindex(conn, ns, &name)?;
        let req = build(RTM_DELLINK, NLM_F_ACK, |w| {
            LinkMsg { header: IfInfoMsg { index: index as i32, ..IfInfoMsg::default() }, ..LinkMsg::default() }.emit(w)
        });
        return talk(conn, ns, &req).map(drop);
    }
    let m = LinkMsg { name: Some(name), kind: Some(LinkKind::Tun), ..LinkMsg::default() };
    let req = build(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, |w| m.emit(w));
    talk(conn, ns, &req).map(drop)
}

/// `peer [name] NAME [netns NS] [mtu N]`.
fn veth_peer(conn: &mut dyn Conn, it: &mut std::slice::Iter<'_, String>) -> Result<VethPeer, Fail> {
    let mut p = VethPeer::default();
    if it.as_slice().first().map(String::as_str) != Some("peer") {
        return Err(Fail::usage("veth needs \"peer name NAME\" here"));
    }
    it.next();
    while let Some(a) = it.as_slice().first().map(String::as_str) {
        match a {
            "name" => {
                it.next();
                p.name = Some(name_arg(next(it, "name")?)?);
            }
            "netns" => {
                it.next();
                p.netns = Some(NetnsRef::Fd(nsid(conn, next(it, "netns")?)?));
            }
            "mtu" => {
                it.next();
                p.mtu = Some(num(next(it, "mtu")?, "mtu")?);
            }
            s if p.name.is_none() => {
                it.next();
                p.name = Some(name_arg(s)?);
            }
            _ => break,
        }
    }
    if p.name.is_none() {
        return Err(Fail::usage("veth needs a peer name"));
    }
    Ok(p)
}

fn link_set(conn: &mut dyn Conn, ns: &str, args: &[String]) -> Res {
    let mut it = args.iter();
    let mut dev = next(&mut it, "dev")?;
    if dev == "dev" {
        dev = next(&mut it, "dev")?;
    }
    let index = ifindex(conn, ns, dev)?;
    let mut m = LinkMsg { header: IfInfoMsg { index: index as i32, ..IfInfoMsg::default() }, ..LinkMsg::default() };
    while let Some(a) = it.next() {
        match a.as_str() {
            "up" => {
                m.header.flags |= IFF_UP;
                m.header.change |= IFF_UP;
            }
            "down" => {
                m.header.flags &= !IFF_UP;
                m.header.change |= IFF_UP;
            }
            "netns" => m.netns = Some(NetnsRef::Fd(nsid(conn, next(&mut it, "netns")?)?)),
            "master" => m.master = Some(ifindex(conn, ns, next(&mut it, "master")?)?),
            "nomaster" => m.master = Some(0),
            "mtu" => m.mtu = Some(num(next(&mut it, "mtu")?, "mtu")?),
            "name" => m.name = Some(name_arg(next(&mut it, "name")?)?),
            s => return Err(Fail::usage(format!("Error: either \"dev\" is duplicate, or \"{s}\" is a garbage."))),
        }
    }
    let req = build(RTM_NEWLINK, NLM_F_ACK, |w| m.emit(w));
    talk(conn, ns, &req).map(drop)
}

/// The links of `ns` (one with `dev`, the ports of a bridge with `master`).
fn links(conn: &mut dyn Conn, ns: &str, args: &[String]) -> Result<(Vec<LinkMsg>, Names), Fail> {
    let mut it = args.iter();
    let (mut dev, mut master) = (None, None);
    while let Some(a) = it.next() {
        match a.as_str() {
            "dev" => dev = Some(next(&mut it, "dev")?.to_string()),
            "master" => master = Some(next(&mut it, "master")?.to_string()),
            "up" => {}
            s => dev = Some(s.to_string()),
        }
    }
    let names = Names::load(conn, ns);
    let master = match master {
        Some(b) => Some(ifindex(conn, ns, &b)?),
        None => None,
    };
    let req = match &dev {
        Some(d) => {
            let index = ifindex(conn, ns, d)?;
            build(RTM_GETLINK, 0, |w| {
                LinkMsg { header: IfInfoMsg { index: index as i32, ..IfInfoMsg::default() }, ..LinkMsg::default() }
                    .emit(w)
            })
        }
        None => build(RTM_GETLINK, NLM_F_DUMP, |w| LinkMsg { master, ..LinkMsg::default() }.emit(w)),
    };
    let r = talk(conn, ns, &req)?;
    let up_only = args.iter().any(|a| a == "up");
    let list = r
        .msgs
        .iter()
        .filter_map(|(_, p)| LinkMsg::parse(p).ok())
        .filter(|m| !up_only || m.header.flags & IFF_UP != 0)
        .collect();
    Ok((list, names))
}

fn link_show(conn: &mut dyn Conn, ns: &str, args: &[String], out: &mut dyn Write) -> Res {
    let (list, names) = links(conn, ns, args)?;
    for m in &list {
        let _ = writeln!(out, "{}", show::link_text(m, &names, true));
    }
    Ok(())
}

/// `A.B.C.D[/N]`.
fn prefix(s: &str) -> Result<(Ipv4Addr, u8), Fail> {
    let bad = || Fail::usage(format!("Error: any valid prefix is expected rather than \"{s}\"."));
    let (a, n) = s.split_once('/').unwrap_or((s, "32"));
    let n: u8 = n.parse().ok().filter(|n| *n <= 32).ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, n))
}

fn addr(conn: &mut dyn Conn, ns: &str, args: &[String], out: &mut dyn Write) -> Res {
    let Some(cmd) = args.first() else { return addr_show(conn, ns, &[], out) };
    let rest = &args[1..];
    match cmd.as_str() {
        "add" | "replace" => addr_change(conn, ns, rest, true, cmd == "replace"),
        c if matches(c, "delete") => addr_change(conn, ns, rest, false, false),
        c if matches(c, "show") || matches(c, "list") => addr_show(conn, ns, rest, out),
        c if matches(c, "flush") => addr_flush(conn, ns, rest),
        c => Err(Fail::usage(format!("Command \"{c}\" is unknown, try \"ip addr help\"."))),
    }
}

fn addr_change(conn: &mut dyn Conn, ns: &str, args: &[String], add: bool, replace: bool) -> Res {
    let mut it = args.iter();
    let (mut local, mut dev, mut label) = (None, None, None);
    while let Some(a) = it.next() {
        match a.as_str() {
            "dev" => dev = Some(next(&mut it, "dev")?.to_string()),
            "label" => label = Some(name_arg(next(&mut it, "label")?)?),
            "brd" | "broadcast" | "scope" => {
                next(&mut it, a)?;
            }
            "local" => local = Some(prefix(next(&mut it, "local")?)?),
            s => local = Some(prefix(s)?),
        }
    }
    let (a, len) = local.ok_or_else(|| Fail::usage("Not enough information: \"local\" argument is required."))?;
    let dev = dev.ok_or_else(|| Fail::usage("Not enough information: \"dev\" argument is required."))?;
    let index = ifindex(conn, ns, &dev)?;
    let m = AddrMsg {
        header: IfAddrMsg { family: AF_INET, prefix_len: len, flags: 0, scope: 0, index },
        address: Some(a),
        local: Some(a),
        label,
        ..AddrMsg::default()
    };
    let (ty, flags) = match (add, replace) {
        (true, false) => (RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL),
        (true, true) => (RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE),
        _ => (RTM_DELADDR, NLM_F_ACK),
    };
    talk(conn, ns, &build(ty, flags, |w| m.emit(w))).map(drop)
}

fn addrs(conn: &mut dyn Conn, ns: &str) -> Result<Vec<AddrMsg>, Fail> {
    let r = talk(conn, ns, &dump_request(RTM_GETADDR))?;
    Ok(r.msgs.iter().filter_map(|(_, p)| AddrMsg::parse(p).ok()).collect())
}

fn addr_show(conn: &mut dyn Conn, ns: &str, args: &[String], out: &mut dyn Write) -> Res {
    let (list, names) = links(conn, ns, args)?;
    let all = addrs(conn, ns)?;
    for m in &list {
        let _ = writeln!(out, "{}", show::link_text(m, &names, false));
        for a in all.iter().filter(|a| a.header.index == m.header.index as u32) {
            let _ = writeln!(out, "{}", show::addr_text(a));
        }
    }
    Ok(())
}

fn addr_flush(conn: &mut dyn Conn, ns: &str, args: &[String]) -> Res {
    let mut it = args.iter();
    let mut dev = next(&mut it, "dev")?;
    if dev == "dev" {
        dev = next(&mut it, "dev")?;
    }
    let index = ifindex(conn, ns, dev)?;
    for a in addrs(conn, ns)?.into_iter().filter(|a| a.header.index == index) {
        let m = AddrMsg { header: a.header, local: a.local, address: a.address, ..AddrMsg::default() };
        talk(conn, ns, &build(RTM_DELADDR, NLM_F_ACK, |w| m.emit(w)))?;
    }
    Ok(())
}

fn route(conn: &mut dyn Conn, ns: &str, args: &[String], out: &mut dyn Write) -> Res {
    let Some(cmd) = args.first() else { return route_show(conn, ns, &[], out) };
    let rest = &args[1..];
    match cmd.as_str() {
        "add" => route_change(conn, ns, rest, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL),
        c if matches(c, "replace") => route_change(conn, ns, rest, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE),
        c if matches(c, "change") => route_change(conn, ns, rest, RTM_NEWROUTE, NLM_F_REPLACE),
        c if matches(c, "delete") => route_change(conn, ns, rest, RTM_DELROUTE, 0),
        c if matches(c, "show") || matches(c, "list") => route_show(conn, ns, rest, out),
        c if matches(c, "get") => route_get(conn, ns, rest, out),
        c => Err(Fail::usage(format!("Command \"{c}\" is unknown, try \"ip route help\"."))),
    }
}

fn table_arg(s: &str) -> Result<u8, Fail> {
    match s {
        "main" => Ok(RT_TABLE_MAIN),
        "local" => Ok(RT_TABLE_LOCAL),
        "all" => Ok(0),
        n => num(n, "table"),
    }
}

fn route_change(conn: &mut dyn Conn, ns: &str, args: &[String], ty: u16, flags: u16) -> Res {
    let del = ty == RTM_DELROUTE;
    let mut m = RouteMsg {
        header: RtMsg {
            family: AF_INET,
            table: RT_TABLE_MAIN,
            protocol: if del { RTPROT_UNSPEC } else { RTPROT_BOOT },
            scope: if del { RT_SCOPE_NOWHERE } else { RT_SCOPE_UNIVERSE },
            kind: if del { RTN_UNSPEC } else { RTN_UNICAST },
            ..RtMsg::default()
        },
        ..RouteMsg::default()
    };
    let mut it = args.iter();
    let mut have_dst = false;
    while let Some(a) = it.next() {
        match a.as_str() {
            "via" => m.gateway = Some(prefix(next(&mut it, "via")?)?.0),
            "dev" | "oif" => m.oif = Some(ifindex(conn, ns, next(&mut it, "dev")?)?),
            "metric" | "priority" | "preference" => m.priority = Some(num(next(&mut it, "metric")?, "metric")?),
            "src" => m.prefsrc = Some(prefix(next(&mut it, "src")?)?.0),
            "table" => m.header.table = table_arg(next(&mut it, "table")?)?,
            "mtu" => {
                let mut v = next(&mut it, "mtu")?;
                if v == "lock" {
                    v = next(&mut it, "mtu")?;
                }
                m.mtu = Some(num(v, "mtu")?);
            }
            "proto" | "protocol" => {
                m.header.protocol = match next(&mut it, "proto")? {
                    "kernel" => RTPROT_KERNEL,
                    "boot" => RTPROT_BOOT,
                    "static" => RTPROT_STATIC,
                    n => num(n, "protocol")?,
                }
            }
            "scope" => {
                m.header.scope = match next(&mut it, "scope")? {
                    "global" | "universe" => RT_SCOPE_UNIVERSE,
                    "link" => RT_SCOPE_LINK,
                    "host" => RT_SCOPE_HOST,
                    n => num(n, "scope")?,
                }
            }
            "unicast" | "local" | "broadcast" | "blackhole" | "unreachable" | "prohibit" if !have_dst => {
                m.header.kind = match a.as_str() {
                    "unicast" => RTN_UNICAST,
                    "local" => RTN_LOCAL,
                    "broadcast" => RTN_BROADCAST,
                    "blackhole" => RTN_BLACKHOLE,
                    "unreachable" => RTN_UNREACHABLE,
                    _ => RTN_PROHIBIT,
                };
            }
            "to" => continue,
            "default" if !have_dst => have_dst = true,
            s if !have_dst => {
                let (d, len) = prefix(s)?;
                m.dst = Some(d);
                m.header.dst_len = len;
                have_dst = true;
            }
            s => return Err(Fail::usage(format!("Error: either \"to\" is duplicate, or \"{s}\" is a garbage."))),
        }
    }
    if !have_dst {
        return Err(Fail::usage("Command line is not complete. Try option \"help\""));
    }
    if !del && m.gateway.is_none() && m.header.kind == RTN_UNICAST && m.header.scope == RT_SCOPE_UNIVERSE {
        // iproute2: a route without a gateway is on the link.
        m.header.scope = RT_SCOPE_LINK;
    }
    if !del && matches!(m.header.kind, RTN_BLACKHOLE | RTN_UNREACHABLE | RTN_PROHIBIT) {
        m.header.scope = RT_SCOPE_UNIVERSE;
    }
    talk(conn, ns, &build(ty, flags | NLM_F_ACK, |w| m.emit(w))).map(drop)
}

fn route_show(conn: &mut dyn Conn, ns: &str, args: &[String], out: &mut dyn Write) -> Res {
    let mut table = RT_TABLE_MAIN;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "table" => table = table_arg(next(&mut it, "table")?)?,
            s => return Err(Fail::usage(format!("Error: \"{s}\" is not supported here."))),
        }
    }
    let names = Names::load(conn, ns);
    let r = talk(conn, ns, &dump_request(RTM_GETROUTE))?;
    let mut list: Vec<RouteMsg> = r.msgs.iter().filter_map(|(_, p)| RouteMsg::parse(p).ok()).collect();
    list.retain(|m| table == 0 || m.table_id() == u32::from(table));
    // iproute2 prints in the kernel's order: by table, then longest prefix last... the
    // kernel walks its trie by address; sort the same way.
    list.sort_by_key(|m| (std::cmp::Reverse(m.table_id()), m.dst.map_or(0, u32::from), m.header.dst_len));
    for m in &list {
        let _ = writeln!(out, "{}", show::route_text(m, &names, table == 0));
    }
    Ok(())
}

fn route_get(conn: &mut dyn Conn, ns: &str, args: &[String], out: &mut dyn Write) -> Res {
    let mut it = args.iter();
    let mut dst = next(&mut it, "to")?;
    if dst == "to" {
        dst = next(&mut it, "to")?;
    }
    let (d, _) = prefix(dst)?;
    let m = RouteMsg {
        header: RtMsg { family: AF_INET, dst_len: 32, ..RtMsg::default() },
        dst: Some(d),
        ..RouteMsg::default()
    };
    let names = Names::load(conn, ns);
    let r = talk(conn, ns, &build(RTM_GETROUTE, 0, |w| m.emit(w)))?;
    for (_, p) in &r.msgs {
        if let Ok(m) = RouteMsg::parse(p) {
            let mut line = show::route_text(&RouteMsg { priority: None, ..m }, &names, false);
            line = line.replace(" proto kernel", "").replace(" scope link", "").replace(" scope host", "");
            let _ = writeln!(out, "{line}\n    cache");
        }
    }
    Ok(())
}

fn netns(conn: &mut dyn Conn, ns: &str, args: &[String], out: &mut dyn Write) -> Res {
    let Some(cmd) = args.first() else { return netns_list(conn, out) };
    let rest = &args[1..];
    match cmd.as_str() {
        "add" => {
            let name = name_arg(rest.first().ok_or_else(|| Fail::usage("No netns name specified"))?)?;
            let req = build(SKBNET_NEWNS, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, |w| {
                NsMsg { id: -1, name: Some(name.clone()) }.emit(w)
            });
            talk(conn, "", &req).map(drop).map_err(|f| {
                if f.code == 2 && f.text.contains("exists") {
                    Fail { code: 1, text: format!("Cannot create namespace file \"/run/netns/{name}\": File exists") }
                } else {
                    f
                }
            })
        }
        c if matches(c, "delete") => {
            let name = name_arg(rest.first().ok_or_else(|| Fail::usage("No netns name specified"))?)?;
            let req = build(SKBNET_DELNS, NLM_F_ACK, |w| NsMsg { id: -1, name: Some(name.clone()) }.emit(w));
            talk(conn, "", &req).map(drop)
        }
        c if matches(c, "list") || c == "ls" || matches(c, "show") => netns_list(conn, out),
        "exec" => {
            let target = rest.first().ok_or_else(|| Fail::usage("No netns name specified"))?;
            let prog = &rest[1..];
            exec(conn, target, prog, out)
        }
        c => {
            let _ = ns;
            Err(Fail::usage(format!("Command \"{c}\" is unknown, try \"ip netns help\".")))
        }
    }
}

/// `ip netns exec NS PROGRAM...`; `bash` or `sh` starts a sub-shell that
/// reads commands from standard input ([`super::shell`]).
pub fn exec(conn: &mut dyn Conn, ns: &str, prog: &[String], out: &mut dyn Write) -> Res {
    match prog.first().map(String::as_str) {
        Some("ip") => ip(conn, ns, &prog[1..], out),
        Some("nft") => super::nft::nft(conn, ns, &prog[1..], out),
        Some("bash" | "sh") => {
            if !ns.is_empty() {
                nsid(conn, ns)?;
            }
            super::shell::shell(conn, ns, &mut super::shell::stdin_line, out)
        }
        Some(_) => {
            let code = conn
                .exec(ns, prog, &mut |line| {
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                })
                .map_err(|e| Fail { code: 1, text: e })?;
            if code == 0 { Ok(()) } else { Err(Fail { code: code as u8, text: String::new() }) }
        }
        None => Err(Fail::usage("No command specified")),
    }
}

fn netns_list(conn: &mut dyn Conn, out: &mut dyn Write) -> Res {
    let r = talk(conn, "", &dump_request(SKBNET_GETNS))?;
    let mut list: Vec<NsMsg> = r.msgs.iter().filter_map(|(_, p)| NsMsg::parse(p).ok()).filter(|m| m.id != 0).collect();
    list.sort_by_key(|m| std::cmp::Reverse(m.id));
    for m in list {
        let _ = writeln!(out, "{} (id: {})", m.name.as_deref().unwrap_or("?"), m.id);
    }
    Ok(())
}

fn monitor(conn: &mut dyn Conn, ns: &str, args: &[String], out: &mut dyn Write) -> Res {
    let bit = |g: u32| 1u32 << (g - 1);
    let mut groups = 0;
    for a in args {
        groups |= match a.as_str() {
            "all" => 0,
            o if matches(o, "link") => bit(RTNLGRP_LINK),
            o if matches(o, "address") => bit(RTNLGRP_IPV4_IFADDR),
            o if matches(o, "route") => bit(RTNLGRP_IPV4_ROUTE),
            o if matches(o, "rule") => bit(RTNLGRP_IPV4_RULE),
            o if matches(o, "netns") || o == "nsid" => bit(SKBNETGRP_NETNS),
            o => return Err(Fail::usage(format!("Argument \"{o}\" is unknown, try \"ip monitor help\"."))),
        };
    }
    if groups == 0 {
        groups = bit(RTNLGRP_LINK)
            | bit(RTNLGRP_IPV4_IFADDR)
            | bit(RTNLGRP_IPV4_ROUTE)
            | bit(RTNLGRP_IPV4_RULE)
            | bit(SKBNETGRP_NETNS);
    }
    let mut names = Names::load(conn, ns);
    conn.monitor(ns, groups, &mut |bytes| {
        print_events(bytes, &mut names, out);
        true
    })
    .map_err(|e| Fail { code: 1, text: e })
}

/// Print a buffer of notifications as `ip monitor` does.
pub fn print_events(bytes: &[u8], names: &mut Names, out: &mut dyn Write) {
    for m in skbnet::netlink::msg::messages(bytes).flatten() {
        if let Some(t) = show::event_text(&m.header, m.payload, names) {
            let _ = writeln!(out, "{t}");
        }
    }
    let _ = out.flush();
}

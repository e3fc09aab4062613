//! `nft list`: tables, chains, sets and rules printed back in the syntax
//! that made them (nft's own layout, tabs and all), counters included, so
//! a listing can be read, compared and fed back in.

use core::fmt::{self, Write};
use core::net::Ipv4Addr;

use super::NfHook;
use super::expr::{
    ChainType, Expr, Family, ICMP_TYPES, Key, NatKind, PROTOCOLS, Policy, REJECT_CODES, RejectWith, Rhs, SetKey,
    Verdict, ct_state, prio, unpack_name,
};
use super::parse::IfaceNames;
use super::table::{Nft, Rule};

/// Part of a table to print.
pub(crate) enum Only {
    Chain(u16),
    Set(u16),
    Sets,
}

pub(crate) struct Lister<'l, 'a> {
    pub nft: &'l Nft<'a>,
    pub ifaces: &'l dyn IfaceNames,
    pub handles: bool,
}

/// A priority as nft prints it: by name when it is a standard one.
fn priority(hook: NfHook, p: i32, f: &mut dyn Write) -> fmt::Result {
    let name = match (p, hook) {
        (prio::RAW, _) => Some("raw"),
        (prio::MANGLE, _) => Some("mangle"),
        (prio::NAT_DST, NfHook::PreRouting | NfHook::LocalOut) => Some("dstnat"),
        (prio::FILTER, _) => Some("filter"),
        (prio::SECURITY, _) => Some("security"),
        (prio::NAT_SRC, NfHook::PostRouting | NfHook::LocalIn) => Some("srcnat"),
        _ => None,
    };
    match name {
        Some(n) => f.write_str(n),
        None => write!(f, "{p}"),
    }
}

fn named(table: &[(u8, &str)], v: u32, f: &mut dyn Write) -> fmt::Result {
    match table.iter().find(|(x, _)| u32::from(*x) == v) {
        Some((_, n)) => f.write_str(n),
        None => write!(f, "{v}"),
    }
}

/// One value of `kind`.
fn scalar(kind: SetKey, v: u32, f: &mut dyn Write) -> fmt::Result {
    match kind {
        SetKey::Ipv4Addr => write!(f, "{}", Ipv4Addr::from(v)),
        SetKey::InetProto => named(&PROTOCOLS, v, f),
        SetKey::IcmpType => named(&ICMP_TYPES, v, f),
        SetKey::Mark => write!(f, "0x{v:08x}"),
        SetKey::InetService | SetKey::Integer => write!(f, "{v}"),
    }
}

/// An interval: a value, a prefix when it is one, or a range.
fn interval(kind: SetKey, lo: u32, hi: u32, f: &mut dyn Write) -> fmt::Result {
    if lo == hi {
        return scalar(kind, lo, f);
    }
    if kind == SetKey::Ipv4Addr {
        let size = hi.wrapping_sub(lo).wrapping_add(1);
        if size.is_power_of_two() && lo & (size - 1) == 0 {
            return write!(f, "{}/{}", Ipv4Addr::from(lo), 32 - size.trailing_zeros());
        }
        if lo == 0 && hi == u32::MAX {
            return f.write_str("0.0.0.0/0");
        }
    }
    scalar(kind, lo, f)?;
    f.write_str("-")?;
    scalar(kind, hi, f)
}

impl Lister<'_, '_> {
    /// A table, whole or only the part asked for.
    pub(crate) fn table(&self, t: u16, only: Option<Only>, f: &mut dyn Write) -> fmt::Result {
        let Some(tb) = self.nft.table(t) else { return Ok(()) };
        write!(f, "table {} {} {{", tb.family.name(), tb.name)?;
        self.handle(tb.handle, f)?;
        f.write_str("\n")?;
        let mut first = true;
        let mut sep = |f: &mut dyn Write| {
            let r = if first { Ok(()) } else { f.write_str("\n") };
            first = false;
            r
        };
        let show_sets = matches!(only, None | Some(Only::Sets));
        for s in self.nft.sets_of(t) {
            if show_sets || matches!(only, Some(Only::Set(x)) if x == s) {
                sep(f)?;
                self.set(s, f)?;
            }
        }
        if matches!(only, None | Some(Only::Chain(_))) {
            for c in self.nft.chains_of(t) {
                if only.as_ref().is_none_or(|o| matches!(o, Only::Chain(x) if *x == c)) {
                    sep(f)?;
                    self.chain(c, tb.family, f)?;
                }
            }
        }
        f.write_str("}\n")
    }

    fn handle(&self, h: u32, f: &mut dyn Write) -> fmt::Result {
        if self.handles { write!(f, " # handle {h}") } else { Ok(()) }
    }

    fn set(&self, s: u16, f: &mut dyn Write) -> fmt::Result {
        let Some(set) = self.nft.set(s) else { return Ok(()) };
        write!(f, "\tset {} {{", set.name)?;
        self.handle(set.handle, f)?;
        write!(f, "\n\t\ttype {}\n", set.key.name())?;
        if set.interval {
            f.write_str("\t\tflags interval\n")?;
        }
        if set.len > 0 {
            f.write_str("\t\telements = { ")?;
            for (i, (lo, hi)) in self.nft.set_elems(s).enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                interval(set.key, lo, hi, f)?;
            }
            f.write_str(" }\n")?;
        }
        f.write_str("\t}\n")
    }

    fn chain(&self, c: u16, family: Family, f: &mut dyn Write) -> fmt::Result {
        let Some(ch) = self.nft.chain(c) else { return Ok(()) };
        write!(f, "\tchain {} {{", ch.name)?;
        self.handle(ch.handle, f)?;
        f.write_str("\n")?;
        if let Some(b) = ch.base {
            let ty = match b.ty {
                ChainType::Filter => "filter",
                ChainType::Nat => "nat",
            };
            write!(f, "\t\ttype {ty} hook {} priority ", b.hook.name())?;
            priority(b.hook, b.priority, f)?;
            let policy = match b.policy {
                Policy::Accept => "accept",
                Policy::Drop => "drop",
            };
            writeln!(f, "; policy {policy};")?;
        }
        for (_, r) in self.nft.rules_of(c) {
            f.write_str("\t\t")?;
            self.rule(r, family, f)?;
            self.handle(r.handle, f)?;
            f.write_str("\n")?;
        }
        f.write_str("\t}\n")
    }

    /// A rule in nft syntax.
    pub(crate) fn rule(&self, r: &Rule, family: Family, f: &mut dyn Write) -> fmt::Result {
        for (i, e) in r.exprs.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            self.expr(r, e, family, f)?;
        }
        Ok(())
    }

    fn expr(&self, r: &Rule, e: &Expr, family: Family, f: &mut dyn Write) -> fmt::Result {
        match *e {
            Expr::Cmp { key, neg, rhs } => {
                f.write_str(key.name())?;
                f.write_str(if neg { " != " } else { " " })?;
                self.rhs(key, &rhs, f)
            }
            Expr::IfName { out, neg, ref name } => {
                f.write_str(if out { "oifname" } else { "iifname" })?;
                write!(f, "{}\"{}\"", if neg { " != " } else { " " }, unpack_name(name))
            }
            Expr::CtState { neg, mask } => {
                f.write_str(if neg { "ct state != " } else { "ct state " })?;
                let mut first = true;
                for (bit, n) in ct_state::NAMES {
                    if mask & bit != 0 {
                        if !first {
                            f.write_str(",")?;
                        }
                        first = false;
                        f.write_str(n)?;
                    }
                }
                Ok(())
            }
            Expr::Counter => write!(f, "counter packets {} bytes {}", r.packets, r.bytes),
            Expr::Log { ref prefix, len } => {
                let p = core::str::from_utf8(prefix.get(..usize::from(len)).unwrap_or(&[])).unwrap_or("");
                if p.is_empty() { f.write_str("log") } else { write!(f, "log prefix \"{p}\"") }
            }
            Expr::MarkSet(m) => write!(f, "meta mark set 0x{m:08x}"),
            Expr::Reject(RejectWith::TcpReset) => f.write_str("reject with tcp reset"),
            Expr::Reject(RejectWith::Icmp(3)) => f.write_str("reject"),
            Expr::Reject(RejectWith::Icmp(code)) => {
                f.write_str("reject with icmp ")?;
                named(&REJECT_CODES, u32::from(code), f)
            }
            Expr::Nat(n) => {
                let ip = if family == Family::Inet { " ip" } else { "" };
                match n.kind {
                    NatKind::Masquerade => f.write_str("masquerade")?,
                    NatKind::Snat => write!(f, "snat{ip} to ")?,
                    NatKind::Dnat => write!(f, "dnat{ip} to ")?,
                }
                if let Some((lo, hi)) = n.addr {
                    interval(SetKey::Ipv4Addr, lo, hi, f)?;
                }
                match (n.kind, n.ports) {
                    (NatKind::Masquerade, Some((a, b))) if a == b => write!(f, " to :{a}"),
                    (NatKind::Masquerade, Some((a, b))) => write!(f, " to :{a}-{b}"),
                    (_, Some((a, b))) if a == b => write!(f, ":{a}"),
                    (_, Some((a, b))) => write!(f, ":{a}-{b}"),
                    (_, None) => Ok(()),
                }
            }
            Expr::Verdict(v) => match v {
                Verdict::Accept => f.write_str("accept"),
                Verdict::Drop => f.write_str("drop"),
                Verdict::Return => f.write_str("return"),
                Verdict::Jump(c) | Verdict::Goto(c) => {
                    let word = if matches!(v, Verdict::Jump(_)) { "jump" } else { "goto" };
                    let name = self.nft.chain(c).map_or("?", |ch| ch.name.as_str());
                    write!(f, "{word} {name}")
                }
            },
        }
    }

    fn rhs(&self, key: Key, rhs: &Rhs, f: &mut dyn Write) -> fmt::Result {
        let kind = key.kind();
        match *rhs {
            Rhs::Value(v) if matches!(key, Key::Iif | Key::Oif) => {
                let i = u16::try_from(v).unwrap_or(0);
                match self.ifaces.name(i) {
                    Some(n) => write!(f, "\"{n}\""),
                    None => write!(f, "{v}"),
                }
            }
            Rhs::Value(v) => scalar(kind, v, f),
            Rhs::Range(a, b) => {
                scalar(kind, a, f)?;
                f.write_str("-")?;
                scalar(kind, b, f)
            }
            Rhs::Prefix(n, l) => write!(f, "{}/{l}", Ipv4Addr::from(n)),
            Rhs::Set(s) => match self.nft.set(s) {
                Some(set) if set.anonymous => {
                    f.write_str("{ ")?;
                    for (i, (lo, hi)) in self.nft.set_elems(s).enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        interval(kind, lo, hi, f)?;
                    }
                    f.write_str(" }")
                }
                Some(set) => write!(f, "@{}", set.name),
                None => f.write_str("@?"),
            },
        }
    }
}

//! The nft command language (the `nft` tool's grammar, the subset this
//! stack implements), parsed and carried out in one pass over the text.
//!
//! Commands, with `[family]` `ip` (the default) or `inet`:
//!
//! ```text
//! add|create table [family] NAME
//! add|create chain [family] TABLE CHAIN [{ type filter|nat hook HOOK priority PRIO ; [policy accept|drop ;] }]
//! add|insert rule [family] TABLE CHAIN [position HANDLE] MATCHES... STATEMENTS...
//! add|create set [family] TABLE SET { type TYPE ; [flags interval ;] [elements = { ... } ;] }
//! add|delete element [family] TABLE SET { ELEMENT, ... }
//! delete table|chain|set ... ; delete rule [family] TABLE CHAIN handle HANDLE
//! flush ruleset | flush table ... | flush chain ... | flush set ...
//! list ruleset | list tables | list table ... | list chain ... | list set ... | list sets
//! ```
//!
//! A leading `sudo`, `nft` and the `-a` (`--handle`) flag are accepted, so
//! lines copied from a shell work as they are; so is `\;` for `;` and a
//! newline anywhere a space may go. Matches: `ip saddr|daddr|protocol|
//! length|ttl`, `tcp|udp|th sport|dport`, `icmp type|code`, `meta
//! l4proto|mark|length|iifname|oifname`, `iifname`, `oifname`, `iif`,
//! `oif`, `ct state`, each with `!=` and a value, range (`1000-2000`),
//! prefix (`10.0.0.0/8`), literal set (`{ 22, 80 }`) or named set
//! (`@blocked`). Statements: `accept`, `drop`, `return`, `jump`, `goto`,
//! `reject [with icmp [type] CODE | with tcp reset]`, `counter`, `log
//! [prefix "..."]`, `meta mark set`, `masquerade [to :PORTS]`, `snat [ip]
//! to ADDR[:PORTS]`, `dnat [ip] to ADDR[:PORT]`.
//!
//! Every error carries the span of the word it is about (see
//! [`NftError::report`]).

use core::fmt;
use core::net::Ipv4Addr;

use super::NfHook;
use super::error::{NftError, NftErrorKind, Span};
use super::expr::{
    BaseChain, ChainType, Expr, Family, ICMP_TYPES, Key, LOG_PREFIX_MAX, MAX_EXPRS, NatKind, NatStmt, NftName,
    PROTOCOLS, Policy, REJECT_CODES, RejectWith, Rhs, SERVICES, SetKey, Verdict, ct_state, pack_name, prio,
};
use super::set::Set;
use super::table::Nft;
use crate::netns::NsId;
use crate::skb::IfIndex;

/// What the commands need to know of the namespace's interfaces.
pub trait IfaceNames {
    /// The index of interface `name`.
    fn index(&self, name: &str) -> Option<IfIndex>;
    /// The name of interface `ifindex`.
    fn name(&self, ifindex: IfIndex) -> Option<&str>;
}

/// One word of the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tok<'t> {
    text: &'t str,
    start: usize,
    end: usize,
}

impl Tok<'_> {
    fn span(&self) -> Span {
        Span::new(self.start, self.end)
    }

    fn err(&self, kind: NftErrorKind) -> NftError {
        NftError::new(kind, self.span())
    }
}

/// The words of a command, one at a time.
#[derive(Clone, Copy)]
struct P<'t> {
    s: &'t str,
    pos: usize,
}

fn is_delim(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b'{' | b'}' | b';' | b',' | b'"')
}

impl<'t> P<'t> {
    fn new(s: &'t str) -> P<'t> {
        P { s, pos: 0 }
    }

    /// The next word from `pos` and where the one after starts.
    fn lex(&self, mut pos: usize) -> Result<Option<(Tok<'t>, usize)>, NftError> {
        let b = self.s.as_bytes();
        // Bounded: every round moves `pos` forward.
        while pos < b.len() {
            if b[pos].is_ascii_whitespace() {
                pos += 1;
            } else if b[pos] == b'#' {
                while pos < b.len() && b[pos] != b'\n' {
                    pos += 1;
                }
            } else if b[pos] == b'\\' && b.get(pos + 1).is_some_and(|c| *c == b'\n' || *c == b'\r') {
                pos += 2;
            } else {
                break;
            }
        }
        if pos >= b.len() {
            return Ok(None);
        }
        let start = pos;
        let tok = |end: usize, text: &'t str| Ok(Some((Tok { text, start, end }, end)));
        match b[pos] {
            b'\\' if b.get(pos + 1) == Some(&b';') => tok(pos + 2, ";"),
            b'{' | b'}' | b';' | b',' => tok(pos + 1, &self.s[pos..pos + 1]),
            b'!' if b.get(pos + 1) == Some(&b'=') => tok(pos + 2, "!="),
            b'"' | b'\\' if b[pos] == b'"' || b.get(pos + 1) == Some(&b'"') => {
                let body = pos + if b[pos] == b'"' { 1 } else { 2 };
                let Some(close) = self.s[body..].find('"').map(|i| body + i) else {
                    return Err(NftError::new(NftErrorKind::Syntax("a closing quote"), Span::new(start, b.len())));
                };
                let text_end = if close > body && b[close - 1] == b'\\' { close - 1 } else { close };
                Ok(Some((Tok { text: &self.s[body..text_end], start, end: close + 1 }, close + 1)))
            }
            _ => {
                while pos < b.len() && !is_delim(b[pos]) && !(b[pos] == b'\\' && b.get(pos + 1) == Some(&b';')) {
                    pos += 1;
                }
                tok(pos, &self.s[start..pos])
            }
        }
    }

    fn peek(&self) -> Result<Option<Tok<'t>>, NftError> {
        Ok(self.lex(self.pos)?.map(|(t, _)| t))
    }

    fn next(&mut self) -> Result<Option<Tok<'t>>, NftError> {
        Ok(self.lex(self.pos)?.map(|(t, after)| {
            self.pos = after;
            t
        }))
    }

    /// The span just past the last word, for "expected more".
    fn end(&self) -> Span {
        Span::new(self.s.len(), self.s.len())
    }

    /// The next word, or an error saying `what` was expected.
    fn word(&mut self, what: &'static str) -> Result<Tok<'t>, NftError> {
        let end = self.end();
        self.next()?.ok_or(NftError::new(NftErrorKind::Syntax(what), end))
    }

    /// Take the next word if it is `text`.
    fn eat(&mut self, text: &str) -> Result<bool, NftError> {
        match self.peek()? {
            Some(t) if t.text == text => {
                self.next()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn expect(&mut self, text: &'static str, what: &'static str) -> Result<Tok<'t>, NftError> {
        let t = self.word(what)?;
        if t.text == text { Ok(t) } else { Err(t.err(NftErrorKind::Syntax(what))) }
    }

    fn done(&mut self) -> Result<(), NftError> {
        match self.next()? {
            None => Ok(()),
            Some(t) => Err(t.err(NftErrorKind::Syntax("the end of the command"))),
        }
    }
}

/// Run one nft command for namespace `ns`; listings go to `out`.
pub fn execute(
    nft: &mut Nft<'_>,
    ifaces: &dyn IfaceNames,
    ns: NsId,
    cmd: &str,
    out: &mut dyn fmt::Write,
) -> Result<(), NftError> {
    let mut p = P::new(cmd);
    let mut handles = false;
    let mut verb = p.word("a command")?;
    // Bounded by the words of the command.
    loop {
        match verb.text {
            "sudo" | "nft" => {}
            "-a" | "--handle" => handles = true,
            _ => break,
        }
        verb = p.word("a command")?;
    }
    let ctx = Ctx { ns, ifaces };
    match verb.text {
        "add" | "create" => {
            let create = verb.text == "create";
            let obj = p.word("table, chain, rule, set or element")?;
            match obj.text {
                "table" => add_table(nft, &ctx, &mut p, create),
                "chain" => add_chain(nft, &ctx, &mut p, create),
                "rule" if !create => add_rule(nft, &ctx, &mut p, false),
                "set" => add_set(nft, &ctx, &mut p, create),
                "element" => elements(nft, &ctx, &mut p, true),
                _ => Err(obj.err(NftErrorKind::Syntax("table, chain, rule, set or element"))),
            }
        }
        "insert" => {
            p.expect("rule", "rule")?;
            add_rule(nft, &ctx, &mut p, true)
        }
        "delete" | "destroy" => {
            let obj = p.word("table, chain, rule, set or element")?;
            match obj.text {
                "table" => {
                    let t = table_ref(nft, &ctx, &mut p)?;
                    p.done()?;
                    nft.delete_table(t);
                    Ok(())
                }
                "chain" => {
                    let (_, c, tok) = chain_ref(nft, &ctx, &mut p)?;
                    p.done()?;
                    nft.delete_chain(c).map_err(|k| tok.err(k))
                }
                "rule" => {
                    let (_, c, _) = chain_ref(nft, &ctx, &mut p)?;
                    p.expect("handle", "handle")?;
                    let h = p.word("a rule handle")?;
                    let handle = number(h.text).ok_or(h.err(NftErrorKind::BadValue("a rule handle is a number")))?;
                    p.done()?;
                    nft.delete_rule(c, handle).map_err(|k| h.err(k))
                }
                "set" => {
                    let (_, s, tok) = set_ref(nft, &ctx, &mut p)?;
                    p.done()?;
                    nft.delete_set(s).map_err(|k| tok.err(k))
                }
                "element" => elements(nft, &ctx, &mut p, false),
                _ => Err(obj.err(NftErrorKind::Syntax("table, chain, rule, set or element"))),
            }
        }
        "flush" => {
            let obj = p.word("ruleset, table, chain or set")?;
            match obj.text {
                "ruleset" => {
                    p.done()?;
                    nft.flush_ruleset(ns);
                    Ok(())
                }
                "table" => {
                    let t = table_ref(nft, &ctx, &mut p)?;
                    p.done()?;
                    nft.flush_table(t);
                    Ok(())
                }
                "chain" => {
                    let (_, c, _) = chain_ref(nft, &ctx, &mut p)?;
                    p.done()?;
                    nft.flush_chain(c);
                    Ok(())
                }
                "set" => {
                    let (_, s, _) = set_ref(nft, &ctx, &mut p)?;
                    p.done()?;
                    nft.flush_set(s);
                    Ok(())
                }
                _ => Err(obj.err(NftErrorKind::Syntax("ruleset, table, chain or set"))),
            }
        }
        "list" => list(nft, &ctx, &mut p, handles, out),
        _ => Err(verb.err(NftErrorKind::Syntax("add, create, insert, delete, flush or list"))),
    }
}

struct Ctx<'c> {
    ns: NsId,
    ifaces: &'c dyn IfaceNames,
}

fn family(p: &mut P<'_>) -> Result<Family, NftError> {
    match p.peek()? {
        Some(t) if t.text == "ip" => {
            p.next()?;
            Ok(Family::Ip)
        }
        Some(t) if t.text == "inet" => {
            p.next()?;
            Ok(Family::Inet)
        }
        Some(t) if matches!(t.text, "ip6" | "arp" | "bridge" | "netdev") => {
            Err(t.err(NftErrorKind::Invalid("only the ip and inet families exist here")))
        }
        _ => Ok(Family::Ip),
    }
}

fn name<'t>(p: &mut P<'t>, what: &'static str) -> Result<Tok<'t>, NftError> {
    let t = p.word(what)?;
    if matches!(t.text, "{" | "}" | ";" | ",") {
        return Err(t.err(NftErrorKind::Syntax(what)));
    }
    if t.text.len() > super::expr::NAME_MAX {
        return Err(t.err(NftErrorKind::BadValue("names are at most 31 bytes")));
    }
    Ok(t)
}

fn table_ref(nft: &Nft<'_>, ctx: &Ctx<'_>, p: &mut P<'_>) -> Result<u16, NftError> {
    let fam = family(p)?;
    let t = name(p, "a table name")?;
    nft.find_table(ctx.ns, fam, t.text).ok_or(t.err(NftErrorKind::NoSuchTable))
}

fn chain_ref<'t>(nft: &Nft<'_>, ctx: &Ctx<'_>, p: &mut P<'t>) -> Result<(u16, u16, Tok<'t>), NftError> {
    let t = table_ref(nft, ctx, p)?;
    let c = name(p, "a chain name")?;
    let slot = nft.find_chain(t, c.text).ok_or(c.err(NftErrorKind::NoSuchChain))?;
    Ok((t, slot, c))
}

fn set_ref<'t>(nft: &Nft<'_>, ctx: &Ctx<'_>, p: &mut P<'t>) -> Result<(u16, u16, Tok<'t>), NftError> {
    let t = table_ref(nft, ctx, p)?;
    let s = name(p, "a set name")?;
    let slot = nft.find_set(t, s.text).ok_or(s.err(NftErrorKind::NoSuchSet))?;
    Ok((t, slot, s))
}

/// Skip an empty `{ }` after a table (nft allows a block there).
fn empty_block(p: &mut P<'_>) -> Result<(), NftError> {
    if p.eat("{")? {
        // Bounded by the words of the command.
        loop {
            let t = p.word("'}'")?;
            match t.text {
                "}" => break,
                ";" => {}
                _ => return Err(t.err(NftErrorKind::Syntax("'}'"))),
            }
        }
    }
    p.done()
}

fn add_table(nft: &mut Nft<'_>, ctx: &Ctx<'_>, p: &mut P<'_>, create: bool) -> Result<(), NftError> {
    let fam = family(p)?;
    let t = name(p, "a table name")?;
    empty_block(p)?;
    nft.add_table(ctx.ns, fam, t.text, create).map(|_| ()).map_err(|k| t.err(k))
}

fn priority(p: &mut P<'_>) -> Result<i32, NftError> {
    let t = p.word("a priority")?;
    let base = match t.text {
        "raw" => prio::RAW,
        "mangle" => prio::MANGLE,
        "dstnat" => prio::NAT_DST,
        "filter" => prio::FILTER,
        "security" => prio::SECURITY,
        "srcnat" => prio::NAT_SRC,
        s => return signed(s).ok_or(t.err(NftErrorKind::BadValue("a priority is a number or a standard name"))),
    };
    let sign = match p.peek()? {
        Some(s) if s.text == "+" => 1,
        Some(s) if s.text == "-" => -1,
        _ => return Ok(base),
    };
    p.next()?;
    let n = p.word("a number")?;
    let off = signed(n.text).ok_or(n.err(NftErrorKind::BadValue("a number")))?;
    Ok(base.saturating_add(off.saturating_mul(sign)))
}

fn add_chain(nft: &mut Nft<'_>, ctx: &Ctx<'_>, p: &mut P<'_>, create: bool) -> Result<(), NftError> {
    let t = table_ref(nft, ctx, p)?;
    let c = name(p, "a chain name")?;
    let mut ty = None;
    let mut hook = None;
    let mut prio_v = None;
    let mut policy = None;
    let mut first = None;
    if p.eat("{")? {
        // Bounded by the words of the command.
        loop {
            let w = p.word("type, hook, priority, policy or '}'")?;
            first.get_or_insert(w);
            match w.text {
                "}" => break,
                ";" => {}
                "type" => {
                    let v = p.word("filter or nat")?;
                    ty = Some(match v.text {
                        "filter" => ChainType::Filter,
                        "nat" => ChainType::Nat,
                        _ => return Err(v.err(NftErrorKind::Syntax("filter or nat"))),
                    });
                }
                "hook" => {
                    let v = p.word("a hook")?;
                    hook = Some(match v.text {
                        "prerouting" => NfHook::PreRouting,
                        "input" => NfHook::LocalIn,
                        "forward" => NfHook::Forward,
                        "output" => NfHook::LocalOut,
                        "postrouting" => NfHook::PostRouting,
                        _ => {
                            return Err(
                                v.err(NftErrorKind::Syntax("prerouting, input, forward, output or postrouting"))
                            );
                        }
                    });
                }
                "priority" => prio_v = Some(priority(p)?),
                "policy" => {
                    let v = p.word("accept or drop")?;
                    policy = Some(match v.text {
                        "accept" => Policy::Accept,
                        "drop" => Policy::Drop,
                        _ => return Err(v.err(NftErrorKind::Syntax("accept or drop"))),
                    });
                }
                _ => return Err(w.err(NftErrorKind::Syntax("type, hook, priority, policy or '}'"))),
            }
        }
    }
    p.done()?;
    let base = match (ty, hook, prio_v) {
        (None, None, None) if policy.is_none() => None,
        (Some(ty), Some(hook), Some(priority)) => {
            Some(BaseChain { ty, hook, priority, policy: policy.unwrap_or(Policy::Accept) })
        }
        _ => {
            let at = first.unwrap_or(c);
            return Err(at.err(NftErrorKind::Syntax("a base chain needs type, hook and priority")));
        }
    };
    if let (Some(b), Some(existing)) = (base, nft.find_chain(t, c.text))
        && !create
        && nft
            .chain(existing)
            .and_then(|ch| ch.base)
            .is_some_and(|e| e.ty == b.ty && e.hook == b.hook && e.priority == b.priority)
    {
        // `add chain` on an existing base chain may change its policy.
        return nft.set_policy(existing, b.policy).map_err(|k| c.err(k));
    }
    nft.add_chain(t, c.text, base, create).map(|_| ()).map_err(|k| c.err(k))
}

fn signed(s: &str) -> Option<i32> {
    s.parse::<i32>().ok()
}

/// A decimal or `0x` hexadecimal number.
fn number(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse::<u32>().ok(),
    }
}

/// A value, range or prefix as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Val {
    One(u32),
    Range(u32, u32),
    Prefix(u32, u8),
}

impl Val {
    fn interval(self) -> (u32, u32) {
        match self {
            Val::One(v) => (v, v),
            Val::Range(a, b) => (a, b),
            Val::Prefix(net, len) => {
                let host = if len >= 32 { 0 } else { u32::MAX >> len };
                (net & !host, net | host)
            }
        }
    }

    fn rhs(self) -> Rhs {
        match self {
            Val::One(v) => Rhs::Value(v),
            Val::Range(a, b) => Rhs::Range(a, b),
            Val::Prefix(n, l) => Rhs::Prefix(n, l),
        }
    }
}

/// One value of `kind`, by number or name.
fn scalar(kind: SetKey, s: &str) -> Option<u32> {
    let named = |table: &[(u8, &str)]| table.iter().find(|(_, n)| *n == s).map(|(v, _)| u32::from(*v));
    let v = match kind {
        SetKey::Ipv4Addr => return s.parse::<Ipv4Addr>().ok().map(u32::from),
        SetKey::InetService => {
            SERVICES.iter().find(|(_, n)| *n == s).map(|(v, _)| u32::from(*v)).or_else(|| number(s))?
        }
        SetKey::InetProto => named(&PROTOCOLS).or_else(|| number(s))?,
        SetKey::IcmpType => named(&ICMP_TYPES).or_else(|| number(s))?,
        SetKey::Mark | SetKey::Integer => number(s)?,
    };
    (v <= kind.max()).then_some(v)
}

fn value(kind: SetKey, t: &Tok<'_>) -> Result<Val, NftError> {
    let bad = t.err(NftErrorKind::BadValue(match kind {
        SetKey::Ipv4Addr => "an IPv4 address, prefix or range",
        SetKey::InetService => "a port, a service name or a range",
        SetKey::InetProto => "a protocol name or number",
        SetKey::IcmpType => "an ICMP type name or number",
        SetKey::Mark | SetKey::Integer => "a number or a range",
    }));
    if let Some(v) = scalar(kind, t.text) {
        return Ok(Val::One(v));
    }
    if kind == SetKey::Ipv4Addr
        && let Some((a, l)) = t.text.split_once('/')
    {
        let a = scalar(kind, a).ok_or(bad)?;
        let len = l.parse::<u8>().ok().filter(|l| *l <= 32).ok_or(bad)?;
        let host = if len >= 32 { 0 } else { u32::MAX >> len };
        return Ok(Val::Prefix(a & !host, len));
    }
    // A range: split at the dash whose both sides parse (names hold dashes).
    for (i, _) in t.text.match_indices('-') {
        if let (Some(a), Some(b)) = (scalar(kind, &t.text[..i]), scalar(kind, &t.text[i + 1..])) {
            return if a <= b {
                Ok(Val::Range(a, b))
            } else {
                Err(t.err(NftErrorKind::BadValue("a range goes from low to high")))
            };
        }
    }
    Err(bad)
}

/// The elements of `{ a, b, ... }`, each handed to `f` with its span.
fn elems<'t>(
    p: &mut P<'t>,
    kind: SetKey,
    mut f: impl FnMut(Val, &Tok<'t>) -> Result<(), NftError>,
) -> Result<(), NftError> {
    p.expect("{", "'{'")?;
    // Bounded by the words of the command.
    loop {
        let t = p.word("an element or '}'")?;
        match t.text {
            "}" => return Ok(()),
            "," => {}
            "{" | ";" => return Err(t.err(NftErrorKind::Syntax("an element or '}'"))),
            _ => f(value(kind, &t)?, &t)?,
        }
    }
}

/// A literal set in a rule, created when the rule is.
struct Pending {
    expr: usize,
    kind: SetKey,
    at: usize,
    span: Span,
}

struct RuleBuf<'t> {
    exprs: heapless::Vec<Expr, MAX_EXPRS>,
    pending: heapless::Vec<Pending, MAX_EXPRS>,
    counter: Option<(u64, u64)>,
    first: Option<Tok<'t>>,
}

impl<'t> RuleBuf<'t> {
    fn push(&mut self, e: Expr, at: &Tok<'t>) -> Result<(), NftError> {
        if self.exprs.last().is_some_and(Expr::is_terminal) {
            return Err(at.err(NftErrorKind::Syntax("nothing after a verdict")));
        }
        self.exprs.push(e).map_err(|_| at.err(NftErrorKind::Full("expressions in one rule (8)")))
    }
}

fn add_rule(nft: &mut Nft<'_>, ctx: &Ctx<'_>, p: &mut P<'_>, insert: bool) -> Result<(), NftError> {
    let (t, c, _) = chain_ref(nft, ctx, p)?;
    let mut position = None;
    if p.eat("position")? || p.eat("handle")? {
        let h = p.word("a rule handle")?;
        position = Some((number(h.text).ok_or(h.err(NftErrorKind::BadValue("a rule handle is a number")))?, h));
    }
    let mut r = RuleBuf { exprs: heapless::Vec::new(), pending: heapless::Vec::new(), counter: None, first: None };
    // Bounded: every round takes at least one word.
    while let Some(w) = p.next()? {
        r.first.get_or_insert(w);
        expr(nft, ctx, t, p, w, &mut r)?;
    }
    let Some(first) = r.first else {
        return Err(NftError::new(NftErrorKind::Syntax("a match or a statement"), p.end()));
    };
    // Literal sets come to life now that the whole rule parsed.
    let mut made: heapless::Vec<u16, MAX_EXPRS> = heapless::Vec::new();
    let undo = |nft: &mut Nft<'_>, made: &[u16]| {
        for &s in made {
            let _ = nft.delete_set(s);
        }
    };
    for pend in &r.pending {
        let set = Set {
            table: t,
            name: NftName::new(),
            key: pend.kind,
            interval: true,
            anonymous: true,
            len: 0,
            refs: 0,
            handle: 0,
        };
        let id = match nft.add_set(t, set, false) {
            Ok(id) => id,
            Err(k) => {
                undo(nft, &made);
                return Err(NftError::new(k, pend.span));
            }
        };
        let _ = made.push(id);
        let mut sub = P { s: p.s, pos: pend.at };
        let res = elems(&mut sub, pend.kind, |v, tok| {
            let (lo, hi) = v.interval();
            nft.stage_elem(id, lo, hi, true).map_err(|k| tok.err(k))
        });
        nft.finish_elems(id, res.is_ok());
        if let Err(e) = res {
            undo(nft, &made);
            return Err(e);
        }
        if let Some(Expr::Cmp { rhs, .. }) = r.exprs.get_mut(pend.expr) {
            *rhs = Rhs::Set(id);
        }
    }
    let anchor = position.map(|(h, _)| h);
    match nft.add_rule(c, &r.exprs, anchor, insert) {
        Ok(handle) => {
            if let Some((pk, by)) = r.counter
                && let Some(rule) = nft.rules.iter_mut().flatten().find(|x| x.chain == c && x.handle == handle)
            {
                rule.packets = pk;
                rule.bytes = by;
            }
            Ok(())
        }
        Err(k) => {
            undo(nft, &made);
            let at = match k {
                NftErrorKind::NoSuchRule => position.map_or(first, |(_, h)| h),
                _ => first,
            };
            Err(at.err(k))
        }
    }
}

/// The comparison after a key: `[!= | ==] VALUE | { SET } | @SET`.
fn cmp<'t>(
    nft: &Nft<'_>,
    table: u16,
    p: &mut P<'t>,
    key: Key,
    r: &mut RuleBuf<'t>,
    at: &Tok<'t>,
) -> Result<(), NftError> {
    let mut neg = false;
    if p.eat("!=")? || p.eat("ne")? {
        neg = true;
    } else {
        let _ = p.eat("==")? || p.eat("eq")?;
    }
    let kind = key.kind();
    let v = p.word("a value")?;
    let rhs = if v.text == "{" {
        if kind == SetKey::Integer && matches!(key, Key::Iif | Key::Oif) {
            return Err(v.err(NftErrorKind::Invalid("interfaces are matched one at a time")));
        }
        let at_brace = v.start;
        let mut sub = P { s: p.s, pos: at_brace };
        elems(&mut sub, kind, |_, _| Ok(()))?;
        p.pos = sub.pos;
        let span = Span::new(at_brace, sub.pos);
        r.pending
            .push(Pending { expr: r.exprs.len(), kind, at: at_brace, span })
            .map_err(|_| v.err(NftErrorKind::Full("sets in one rule")))?;
        Rhs::Set(u16::MAX)
    } else if let Some(set_name) = v.text.strip_prefix('@') {
        let s = nft.find_set(table, set_name).ok_or(v.err(NftErrorKind::NoSuchSet))?;
        if nft.set(s).is_some_and(|s| s.key != kind) {
            return Err(v.err(NftErrorKind::Invalid("the set holds another type")));
        }
        Rhs::Set(s)
    } else {
        value(kind, &v)?.rhs()
    };
    r.push(Expr::Cmp { key, neg, rhs }, at)
}

fn ifname_expr<'t>(p: &mut P<'t>, out: bool, r: &mut RuleBuf<'t>, at: &Tok<'t>) -> Result<(), NftError> {
    let neg = p.eat("!=")?;
    let v = p.word("an interface name")?;
    let name = pack_name(v.text).ok_or(v.err(NftErrorKind::BadValue("interface names are 1 to 15 bytes")))?;
    r.push(Expr::IfName { out, neg, name }, at)
}

fn ct_expr<'t>(p: &mut P<'t>, r: &mut RuleBuf<'t>, at: &Tok<'t>) -> Result<(), NftError> {
    p.expect("state", "state")?;
    let neg = p.eat("!=")?;
    let braced = p.eat("{")?;
    let mut mask = 0u8;
    // Bounded by the words of the command.
    loop {
        let w = p.word("a connection state")?;
        match w.text {
            "}" if braced => break,
            "," => continue,
            s => {
                let bit = ct_state::NAMES
                    .iter()
                    .find(|(_, n)| *n == s)
                    .map(|(b, _)| *b)
                    .ok_or(w.err(NftErrorKind::Syntax("new, established, related, invalid or untracked")))?;
                mask |= bit;
            }
        }
        if !braced && !p.eat(",")? {
            break;
        }
    }
    r.push(Expr::CtState { neg, mask }, at)
}

/// A range of ports `LO[-HI]`.
fn ports(s: &str, t: &Tok<'_>) -> Result<(u16, u16), NftError> {
    let bad = t.err(NftErrorKind::BadValue("a port or a port range"));
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a = a.parse::<u16>().map_err(|_| bad)?;
    let b = b.parse::<u16>().map_err(|_| bad)?;
    if a > b {
        return Err(bad);
    }
    Ok((a, b))
}

/// An address range and an optional port range.
type NatTarget = ((u32, u32), Option<(u16, u16)>);

/// `ADDR[-ADDR][:PORT[-PORT]]` after `snat to` / `dnat to`.
fn nat_target(t: &Tok<'_>) -> Result<NatTarget, NftError> {
    let bad = t.err(NftErrorKind::BadValue("an address, address range, with an optional :port or :port range"));
    let (addr, port) = match t.text.split_once(':') {
        Some((a, p)) => (a, Some(ports(p, t)?)),
        None => (t.text, None),
    };
    let range = match value(SetKey::Ipv4Addr, &Tok { text: addr, ..*t }).map_err(|_| bad)? {
        Val::One(a) => (a, a),
        Val::Range(a, b) => (a, b),
        Val::Prefix(..) => return Err(bad),
    };
    Ok((range, port))
}

fn reject_expr<'t>(p: &mut P<'t>, r: &mut RuleBuf<'t>, at: &Tok<'t>) -> Result<(), NftError> {
    let mut with = RejectWith::Icmp(3);
    if p.eat("with")? {
        let kind = p.word("icmp, icmpx or tcp")?;
        match kind.text {
            "tcp" => {
                p.expect("reset", "reset")?;
                with = RejectWith::TcpReset;
            }
            "icmp" | "icmpx" => {
                let _ = p.eat("type")?;
                let c = p.word("an ICMP unreachable code")?;
                let code = match c.text {
                    "no-route" => Some(0),
                    s => REJECT_CODES.iter().find(|(_, n)| *n == s).map(|(v, _)| *v).or_else(|| s.parse().ok()),
                };
                with = RejectWith::Icmp(code.ok_or(c.err(NftErrorKind::Syntax("an ICMP unreachable code")))?);
            }
            _ => return Err(kind.err(NftErrorKind::Syntax("icmp, icmpx or tcp"))),
        }
    }
    r.push(Expr::Reject(with), at)
}

fn log_expr<'t>(p: &mut P<'t>, r: &mut RuleBuf<'t>, at: &Tok<'t>) -> Result<(), NftError> {
    let mut prefix = [0u8; LOG_PREFIX_MAX];
    let mut len = 0;
    // Bounded by the words of the command.
    loop {
        if p.eat("prefix")? {
            let v = p.word("a prefix")?;
            let b = v.text.as_bytes();
            if b.len() > LOG_PREFIX_MAX {
                return Err(v.err(NftErrorKind::BadValue("a log prefix is at most 24 bytes")));
            }
            prefix[..b.len()].copy_from_slice(b);
            len = b.len() as u8;
        } else if p.eat("level")? {
            let v = p.word("a log level")?;
            if !matches!(v.text, "emerg" | "alert" | "crit" | "err" | "warn" | "notice" | "info" | "debug") {
                return Err(v.err(NftErrorKind::Syntax("a log level")));
            }
        } else {
            break;
        }
    }
    r.push(Expr::Log { prefix, len }, at)
}

fn nat_expr<'t>(p: &mut P<'t>, kind: NatKind, r: &mut RuleBuf<'t>, at: &Tok<'t>) -> Result<(), NftError> {
    let stmt = if kind == NatKind::Masquerade {
        let mut ports_v = None;
        if p.eat("to")? {
            let v = p.word("':' and a port range")?;
            let s = v.text.strip_prefix(':').ok_or(v.err(NftErrorKind::Syntax("':' and a port range")))?;
            ports_v = Some(ports(s, &v)?);
        }
        NatStmt { kind, addr: None, ports: ports_v }
    } else {
        let _ = p.eat("ip")?;
        p.expect("to", "to")?;
        let v = p.word("an address")?;
        let (addr, ports_v) = nat_target(&v)?;
        NatStmt { kind, addr: Some(addr), ports: ports_v }
    };
    // Flags nft knows; the port choice here is already keyed and random.
    while p.eat("random")? || p.eat("fully-random")? || p.eat("persistent")? {}
    r.push(Expr::Nat(stmt), at)
}

fn key_after<'t>(p: &mut P<'t>, pairs: &[(&str, Key)], what: &'static str) -> Result<Key, NftError> {
    let w = p.word(what)?;
    pairs.iter().find(|(n, _)| *n == w.text).map(|(_, k)| *k).ok_or(w.err(NftErrorKind::Syntax(what)))
}

/// One match or statement starting with word `w`.
fn expr<'t>(
    nft: &Nft<'_>,
    ctx: &Ctx<'_>,
    table: u16,
    p: &mut P<'t>,
    w: Tok<'t>,
    r: &mut RuleBuf<'t>,
) -> Result<(), NftError> {
    match w.text {
        "ip" => {
            let key = key_after(
                p,
                &[
                    ("saddr", Key::IpSaddr),
                    ("daddr", Key::IpDaddr),
                    ("protocol", Key::IpProtocol),
                    ("length", Key::IpLength),
                    ("ttl", Key::IpTtl),
                ],
                "saddr, daddr, protocol, length or ttl",
            )?;
            cmp(nft, table, p, key, r, &w)
        }
        "tcp" | "udp" | "th" => {
            let pairs = match w.text {
                "tcp" => [("sport", Key::TcpSport), ("dport", Key::TcpDport)],
                "udp" => [("sport", Key::UdpSport), ("dport", Key::UdpDport)],
                _ => [("sport", Key::ThSport), ("dport", Key::ThDport)],
            };
            let key = key_after(p, &pairs, "sport or dport")?;
            cmp(nft, table, p, key, r, &w)
        }
        "icmp" => {
            let key = key_after(p, &[("type", Key::IcmpType), ("code", Key::IcmpCode)], "type or code")?;
            cmp(nft, table, p, key, r, &w)
        }
        "meta" | "mark" => {
            let sub = if w.text == "mark" { w } else { p.word("l4proto, mark, length, iifname, oifname, iif or oif")? };
            match sub.text {
                "mark" if p.eat("set")? => {
                    let v = p.word("a mark")?;
                    let m = number(v.text).ok_or(v.err(NftErrorKind::BadValue("a mark is a number")))?;
                    r.push(Expr::MarkSet(m), &w)
                }
                "mark" => cmp(nft, table, p, Key::Mark, r, &w),
                "l4proto" | "protocol" => cmp(nft, table, p, Key::L4Proto, r, &w),
                "length" => cmp(nft, table, p, Key::Length, r, &w),
                "iifname" => ifname_expr(p, false, r, &w),
                "oifname" => ifname_expr(p, true, r, &w),
                "iif" | "oif" => if_expr(ctx, p, sub.text == "oif", r, &w),
                _ => Err(sub.err(NftErrorKind::Syntax("l4proto, mark, length, iifname, oifname, iif or oif"))),
            }
        }
        "iifname" => ifname_expr(p, false, r, &w),
        "oifname" => ifname_expr(p, true, r, &w),
        "iif" | "oif" => if_expr(ctx, p, w.text == "oif", r, &w),
        "ct" => ct_expr(p, r, &w),
        "counter" => {
            if p.eat("packets")? {
                let a = p.word("a number")?;
                p.expect("bytes", "bytes")?;
                let b = p.word("a number")?;
                let pk = a.text.parse::<u64>().map_err(|_| a.err(NftErrorKind::BadValue("a number")))?;
                let by = b.text.parse::<u64>().map_err(|_| b.err(NftErrorKind::BadValue("a number")))?;
                r.counter = Some((pk, by));
            }
            r.push(Expr::Counter, &w)
        }
        "log" => log_expr(p, r, &w),
        "accept" => r.push(Expr::Verdict(Verdict::Accept), &w),
        "drop" => r.push(Expr::Verdict(Verdict::Drop), &w),
        "return" => r.push(Expr::Verdict(Verdict::Return), &w),
        "jump" | "goto" => {
            let c = name(p, "a chain name")?;
            let slot = nft.find_chain(table, c.text).ok_or(c.err(NftErrorKind::NoSuchChain))?;
            let v = if w.text == "jump" { Verdict::Jump(slot) } else { Verdict::Goto(slot) };
            r.push(Expr::Verdict(v), &c)
        }
        "reject" => reject_expr(p, r, &w),
        "masquerade" => nat_expr(p, NatKind::Masquerade, r, &w),
        "snat" => nat_expr(p, NatKind::Snat, r, &w),
        "dnat" => nat_expr(p, NatKind::Dnat, r, &w),
        _ => Err(w.err(NftErrorKind::Syntax("a match or a statement"))),
    }
}

/// `iif NAME` / `oif NAME`: the interface must exist now (nft resolves it
/// to its index when the rule is added).
fn if_expr<'t>(ctx: &Ctx<'_>, p: &mut P<'t>, out: bool, r: &mut RuleBuf<'t>, at: &Tok<'t>) -> Result<(), NftError> {
    let neg = p.eat("!=")?;
    let v = p.word("an interface name")?;
    let i = ctx.ifaces.index(v.text).ok_or(v.err(NftErrorKind::NoSuchInterface))?;
    let key = if out { Key::Oif } else { Key::Iif };
    r.push(Expr::Cmp { key, neg, rhs: Rhs::Value(u32::from(i)) }, at)
}

fn set_type(t: &Tok<'_>) -> Result<SetKey, NftError> {
    Ok(match t.text {
        "ipv4_addr" => SetKey::Ipv4Addr,
        "inet_service" => SetKey::InetService,
        "inet_proto" => SetKey::InetProto,
        "icmp_type" => SetKey::IcmpType,
        "mark" => SetKey::Mark,
        _ => return Err(t.err(NftErrorKind::Syntax("ipv4_addr, inet_service, inet_proto, icmp_type or mark"))),
    })
}

fn add_set(nft: &mut Nft<'_>, ctx: &Ctx<'_>, p: &mut P<'_>, create: bool) -> Result<(), NftError> {
    let t = table_ref(nft, ctx, p)?;
    let n = name(p, "a set name")?;
    let open = p.expect("{", "'{'")?;
    let mut key = None;
    let mut interval = false;
    let mut elements_at = None;
    // Bounded by the words of the command.
    loop {
        let w = p.word("type, flags, elements or '}'")?;
        match w.text {
            "}" => break,
            ";" => {}
            "type" => key = Some(set_type(&p.word("a set type")?)?),
            "flags" => loop {
                let f = p.word("a set flag")?;
                match f.text {
                    "interval" => interval = true,
                    "constant" | "dynamic" | "timeout" => {}
                    _ => return Err(f.err(NftErrorKind::Syntax("interval or constant"))),
                }
                if !p.eat(",")? {
                    break;
                }
            },
            "size" => {
                let v = p.word("a number")?;
                number(v.text).ok_or(v.err(NftErrorKind::BadValue("a number")))?;
            }
            "elements" => {
                p.expect("=", "'='")?;
                let k = key.ok_or(w.err(NftErrorKind::Syntax("type before elements")))?;
                let at = p.peek()?.map_or(p.pos, |t| t.start);
                elems(p, k, |_, _| Ok(()))?;
                elements_at = Some(at);
            }
            _ => return Err(w.err(NftErrorKind::Syntax("type, flags, elements or '}'"))),
        }
    }
    p.done()?;
    let key = key.ok_or(open.err(NftErrorKind::Syntax("a set type")))?;
    if let Some(existing) = nft.find_set(t, n.text) {
        if create {
            return Err(n.err(NftErrorKind::Exists));
        }
        if nft.set(existing).is_some_and(|s| s.key != key || s.interval != interval) {
            return Err(n.err(NftErrorKind::Invalid("set exists with another type or flags")));
        }
    }
    let set = Set {
        table: t,
        name: NftName::try_from(n.text).map_err(|_| n.err(NftErrorKind::BadValue("names are at most 31 bytes")))?,
        key,
        interval,
        anonymous: false,
        len: 0,
        refs: 0,
        handle: 0,
    };
    let existed = nft.find_set(t, n.text).is_some();
    let s = nft.add_set(t, set, create).map_err(|k| n.err(k))?;
    if let Some(at) = elements_at {
        let mut sub = P { s: p.s, pos: at };
        let res = elems(&mut sub, key, |v, tok| {
            let (lo, hi) = v.interval();
            nft.stage_elem(s, lo, hi, true).map_err(|k| tok.err(k))
        });
        nft.finish_elems(s, res.is_ok());
        if res.is_err() && !existed {
            // All or nothing: the set this command made goes too.
            let _ = nft.delete_set(s);
        }
        res?;
    }
    Ok(())
}

fn elements(nft: &mut Nft<'_>, ctx: &Ctx<'_>, p: &mut P<'_>, add: bool) -> Result<(), NftError> {
    let (_, s, _) = set_ref(nft, ctx, p)?;
    let key = nft.set(s).map_or(SetKey::Integer, |s| s.key);
    let at = p.pos;
    // Check the words first, so nothing changes when a later one is wrong.
    let mut count = 0usize;
    elems(p, key, |_, _| {
        count += 1;
        Ok(())
    })?;
    p.done()?;
    // All or nothing: every change is staged, then kept or undone.
    let mut sub = P { s: p.s, pos: at };
    let res = elems(&mut sub, key, |v, tok| {
        let (lo, hi) = v.interval();
        nft.stage_elem(s, lo, hi, add).map_err(|k| tok.err(k))
    });
    nft.finish_elems(s, res.is_ok());
    res
}

fn list(nft: &Nft<'_>, ctx: &Ctx<'_>, p: &mut P<'_>, handles: bool, out: &mut dyn fmt::Write) -> Result<(), NftError> {
    let obj = p.word("ruleset, tables, table, chain, set or sets")?;
    let io = |_| obj.err(NftErrorKind::Output);
    let l = super::list::Lister { nft, ifaces: ctx.ifaces, handles };
    match obj.text {
        "ruleset" => {
            p.done()?;
            for (i, t) in nft.tables_of(ctx.ns).enumerate() {
                if i > 0 {
                    out.write_str("\n").map_err(io)?;
                }
                l.table(t, None, out).map_err(io)?;
            }
            Ok(())
        }
        "tables" => {
            p.done()?;
            for t in nft.tables_of(ctx.ns) {
                if let Some(tb) = nft.table(t) {
                    writeln!(out, "table {} {}", tb.family.name(), tb.name).map_err(io)?;
                }
            }
            Ok(())
        }
        "table" => {
            let t = table_ref(nft, ctx, p)?;
            p.done()?;
            l.table(t, None, out).map_err(io)
        }
        "chain" => {
            let (t, c, _) = chain_ref(nft, ctx, p)?;
            p.done()?;
            l.table(t, Some(super::list::Only::Chain(c)), out).map_err(io)
        }
        "set" => {
            let (t, s, _) = set_ref(nft, ctx, p)?;
            p.done()?;
            l.table(t, Some(super::list::Only::Set(s)), out).map_err(io)
        }
        "sets" => {
            p.done()?;
            for t in nft.tables_of(ctx.ns) {
                if nft.sets_of(t).next().is_some() {
                    l.table(t, Some(super::list::Only::Sets), out).map_err(io)?;
                }
            }
            Ok(())
        }
        _ => Err(obj.err(NftErrorKind::Syntax("ruleset, tables, table, chain, set or sets"))),
    }
}

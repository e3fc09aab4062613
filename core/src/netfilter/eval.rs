//! The packet path of the rule engine (Linux's `nft_do_chain`): the
//! packet's fields are read once into a [`Pkt`], then a chain's rules are
//! walked in order, each match compared and each statement done, with a
//! bounded stack for `jump`.

use core::net::Ipv4Addr;

use super::expr::{Expr, JUMP_DEPTH, Key, NatStmt, Policy, RejectWith, Rhs, Verdict, unpack_name};
use super::log::LogPkt;
use super::table::{NIL, Nft};
use crate::skb::{IfIndex, SkBuff, SkbPool};
use crate::time::Instant;

/// The fields rules look at, read once per hook.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pkt {
    pub src: u32,
    pub dst: u32,
    pub proto: u8,
    pub ttl: u8,
    pub ihl: u8,
    pub ip_len: u16,
    /// The packet's length (a GSO packet counts whole).
    pub len: u32,
    /// The transport header is present (not a later fragment, long enough).
    pub l4: bool,
    pub sport: u16,
    pub dport: u16,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub tcp_flags: u8,
    pub mark: u32,
    pub iif: IfIndex,
    pub oif: IfIndex,
    /// `ct state` bits of the packet.
    pub ct_state: u8,
}

impl Pkt {
    /// Read the fields of `skb` (data at its IPv4 header). The transport
    /// header is pulled into the linear part when it is not there yet.
    pub(crate) fn parse(pool: &mut SkbPool<'_>, skb: &SkBuff) -> Option<Pkt> {
        pool.may_pull(skb, 20).ok()?;
        let b = pool.data(skb);
        if b[0] >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(b[0] & 0x0f) * 4;
        let proto = b[9];
        let frag = u16::from_be_bytes([b[6], b[7]]) & 0x1fff != 0;
        let l4_len = match proto {
            6 => 20,
            17 | 1 => 8,
            _ => 4,
        };
        let l4 = !frag && ihl >= 20 && pool.may_pull(skb, ihl + l4_len).is_ok();
        let b = pool.data(skb);
        let be16 = |at: usize| b.get(at..at + 2).map_or(0, |x| u16::from_be_bytes([x[0], x[1]]));
        let addr = |at: usize| b.get(at..at + 4).map_or(0, |x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]));
        let mut p = Pkt {
            src: addr(12),
            dst: addr(16),
            proto,
            ttl: b[8],
            ihl: ihl as u8,
            ip_len: be16(2),
            len: pool.len(skb) as u32,
            l4,
            ..Pkt::default()
        };
        if l4 {
            match proto {
                6 | 17 => {
                    p.sport = be16(ihl);
                    p.dport = be16(ihl + 2);
                    if proto == 6 {
                        p.tcp_flags = b.get(ihl + 13).copied().unwrap_or(0);
                    }
                }
                1 => {
                    p.icmp_type = b.get(ihl).copied().unwrap_or(0);
                    p.icmp_code = b.get(ihl + 1).copied().unwrap_or(0);
                    // Queries' identifier, the "port" conntrack and NAT use.
                    p.sport = be16(ihl + 4);
                }
                _ => {}
            }
        }
        let m = pool.meta(skb);
        p.mark = m.mark;
        Some(p)
    }

    /// The value of `key`, or `None` when the packet has no such field
    /// (which fails the match, negated or not, as nft's implicit protocol
    /// dependencies do).
    fn field(&self, key: Key) -> Option<u32> {
        let tcp = self.l4 && self.proto == 6;
        let udp = self.l4 && self.proto == 17;
        Some(match key {
            Key::IpSaddr => self.src,
            Key::IpDaddr => self.dst,
            Key::IpProtocol | Key::L4Proto => u32::from(self.proto),
            Key::IpLength => u32::from(self.ip_len),
            Key::IpTtl => u32::from(self.ttl),
            Key::TcpSport if tcp => u32::from(self.sport),
            Key::TcpDport if tcp => u32::from(self.dport),
            Key::UdpSport if udp => u32::from(self.sport),
            Key::UdpDport if udp => u32::from(self.dport),
            Key::ThSport if tcp || udp => u32::from(self.sport),
            Key::ThDport if tcp || udp => u32::from(self.dport),
            Key::IcmpType if self.l4 && self.proto == 1 => u32::from(self.icmp_type),
            Key::IcmpCode if self.l4 && self.proto == 1 => u32::from(self.icmp_code),
            Key::Mark => self.mark,
            Key::Length => self.len,
            Key::Iif if self.iif != 0 => u32::from(self.iif),
            Key::Oif if self.oif != 0 => u32::from(self.oif),
            _ => return None,
        })
    }

    fn ports(&self) -> Option<(u16, u16)> {
        (self.l4 && matches!(self.proto, 6 | 17)).then_some((self.sport, self.dport))
    }
}

/// Interface names for `iifname`, `oifname` and `log`.
pub(crate) struct Names<'n> {
    pub iif: &'n str,
    pub oif: &'n str,
}

/// What a chain decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Go on to the next chain at the hook.
    Accept,
    /// Drop the packet.
    Drop,
    /// Drop it and answer.
    Reject(RejectWith),
    /// Translate (from a NAT chain).
    Nat(NatStmt),
}

/// What one rule did.
enum RuleOut {
    /// A match failed, or the rule ended without a verdict.
    Next,
    Verdict(Verdict),
    Reject(RejectWith),
    Nat(NatStmt),
}

fn matches_rhs(sets: &super::set::Sets<'_>, rhs: &Rhs, v: u32) -> bool {
    match *rhs {
        Rhs::Value(x) => v == x,
        Rhs::Range(lo, hi) => lo <= v && v <= hi,
        Rhs::Prefix(net, len) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
            v & mask == net & mask
        }
        Rhs::Set(s) => sets.contains(s, v),
    }
}

impl Nft<'_> {
    /// Evaluate base chain `chain` for `pkt`. `nat` says the chain runs to
    /// choose a translation (NAT statements count only then).
    pub(crate) fn eval_chain(
        &mut self,
        chain: u16,
        pkt: &mut Pkt,
        names: &Names<'_>,
        now: Instant,
        nat: bool,
    ) -> Outcome {
        let policy = self.chain(chain).and_then(|c| c.base).map_or(Policy::Accept, |b| b.policy);
        let end = match policy {
            Policy::Accept => Outcome::Accept,
            Policy::Drop => Outcome::Drop,
        };
        let mut stack = [NIL; JUMP_DEPTH];
        let mut sp = 0;
        let mut rule = self.chain(chain).map_or(NIL, |c| c.first);
        // Bounded: each step visits a rule or pops the stack; every rule is
        // visited at most once per stack level.
        for _ in 0..(self.rules.len() + 1) * (JUMP_DEPTH + 1) {
            if rule == NIL {
                if sp == 0 {
                    return end;
                }
                sp -= 1;
                rule = stack[sp];
                continue;
            }
            let next = self.rule(rule).map_or(NIL, |r| r.next);
            match self.eval_rule(rule, pkt, names, now, nat) {
                RuleOut::Next => rule = next,
                RuleOut::Reject(k) => return Outcome::Reject(k),
                RuleOut::Nat(n) => return Outcome::Nat(n),
                RuleOut::Verdict(v) => match v {
                    Verdict::Accept => return Outcome::Accept,
                    Verdict::Drop => return Outcome::Drop,
                    Verdict::Return => {
                        if sp == 0 {
                            return end;
                        }
                        sp -= 1;
                        rule = stack[sp];
                    }
                    Verdict::Jump(t) => {
                        if sp == JUMP_DEPTH {
                            self.stats.stack_overflow += 1;
                            return Outcome::Drop;
                        }
                        stack[sp] = next;
                        sp += 1;
                        rule = self.chain(t).map_or(NIL, |c| c.first);
                    }
                    Verdict::Goto(t) => rule = self.chain(t).map_or(NIL, |c| c.first),
                },
            }
        }
        Outcome::Drop
    }

    fn eval_rule(&mut self, slot: u16, pkt: &mut Pkt, names: &Names<'_>, now: Instant, nat: bool) -> RuleOut {
        let Some(Some(rule)) = self.rules.get_mut(usize::from(slot)) else { return RuleOut::Next };
        for e in rule.exprs.iter() {
            match e {
                Expr::Cmp { key, neg, rhs } => {
                    let Some(v) = pkt.field(*key) else { return RuleOut::Next };
                    if matches_rhs(&self.sets, rhs, v) == *neg {
                        return RuleOut::Next;
                    }
                }
                Expr::IfName { out, neg, name } => {
                    let have = if *out { names.oif } else { names.iif };
                    if (have == unpack_name(name)) == *neg {
                        return RuleOut::Next;
                    }
                }
                Expr::CtState { neg, mask } => {
                    if (pkt.ct_state & mask != 0) == *neg {
                        return RuleOut::Next;
                    }
                }
                Expr::Counter => {
                    // A counter may start anywhere (`counter packets N`):
                    // it wraps, as the kernel's 64-bit counters do.
                    rule.packets = rule.packets.wrapping_add(1);
                    rule.bytes = rule.bytes.wrapping_add(u64::from(pkt.len));
                }
                Expr::Log { prefix, len } => {
                    let prefix = core::str::from_utf8(prefix.get(..usize::from(*len)).unwrap_or(&[])).unwrap_or("");
                    let icmp = (pkt.l4 && pkt.proto == 1).then_some((pkt.icmp_type, pkt.icmp_code));
                    let line = LogPkt {
                        prefix,
                        iif: names.iif,
                        oif: names.oif,
                        src: Ipv4Addr::from(pkt.src),
                        dst: Ipv4Addr::from(pkt.dst),
                        len: pkt.ip_len,
                        ttl: pkt.ttl,
                        proto: pkt.proto,
                        ports: pkt.ports(),
                        icmp,
                        mark: pkt.mark,
                    };
                    self.log.log(&line, now);
                }
                Expr::MarkSet(m) => pkt.mark = *m,
                Expr::Reject(k) => return RuleOut::Reject(*k),
                Expr::Nat(n) if nat => return RuleOut::Nat(*n),
                Expr::Nat(_) => {}
                Expr::Verdict(v) => return RuleOut::Verdict(*v),
            }
        }
        RuleOut::Next
    }
}

//! The rule engine inside the world: what happens at a hook point when a
//! namespace has tables (Linux's `nf_hook_slow` walking `nf_hook_entries`).
//!
//! At each hook the steps run in priority order, as Linux orders its hook
//! entries:
//!
//! | priority | PREROUTING, OUTPUT          | FORWARD | INPUT, POSTROUTING       |
//! |----------|-----------------------------|---------|--------------------------|
//! | -200     | conntrack lookup            |         |                          |
//! | -100     | destination NAT             |         |                          |
//! | chain's  | filter base chains          | same    | same                     |
//! | 100      |                             |         | source NAT               |
//! | `MAX`    |                             |         | conntrack confirmation   |
//!
//! NAT chains are not steps of their own: the NAT step runs them (in their
//! priority order) for the first packet of a connection to choose its
//! translation, and translates every packet of it. The world's static
//! [`NfHooks`] module runs in the same order by its own
//! [`NfHooks::priority`]; on a tie it goes first (it was registered
//! first). A packet dropped before confirmation takes the connection it
//! created with it.

use core::net::Ipv4Addr;

use super::conntrack::{CtInfo, CtRef, ORIG, REPLY, TcpSeg, Tuple, status};
use super::eval::{Names, Outcome, Pkt};
use super::expr::{ChainType, NatKind, RejectWith, ct_state, prio};
use super::nat::{self, L4Csum, Manip};
use super::{NfHook, NfHooks, NfState, NfVerdict};
use crate::ip::output::IpParams;
use crate::netns::{NsId, World};
use crate::skb::{Checksum, IfIndex, OwnerId, SkBuff};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{DstUnreachable, IpProtocol, TcpFlags, TcpPacket};

/// A step at a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    CtIn,
    Nat(Manip),
    Confirm,
    Chain(u16),
}

/// What a step decided.
enum StepOut {
    Continue,
    Drop,
    Reject(RejectWith),
}

/// The fixed steps of `hook` when conntrack (`ct`) and NAT (`nat`) are on.
fn fixed_steps(hook: NfHook, ct: bool, nat: bool) -> heapless::Vec<(i32, Step), 2> {
    let mut v = heapless::Vec::new();
    match hook {
        NfHook::PreRouting | NfHook::LocalOut => {
            if ct {
                let _ = v.push((prio::CONNTRACK, Step::CtIn));
            }
            if nat {
                let _ = v.push((prio::NAT_DST, Step::Nat(Manip::Dst)));
            }
        }
        NfHook::PostRouting | NfHook::LocalIn => {
            if nat {
                let _ = v.push((prio::NAT_SRC, Step::Nat(Manip::Src)));
            }
            if ct {
                let _ = v.push((prio::CONNTRACK_CONFIRM, Step::Confirm));
            }
        }
        NfHook::Forward => {}
    }
    v
}

/// The name of interface `ifindex` (empty when none).
fn if_name<'w>(ifaces: &'w [Option<crate::netns::Iface<'_>>], ifindex: IfIndex) -> &'w str {
    crate::netns::iface_in(ifaces, ifindex).map_or("", |i| i.name.as_str())
}

/// `ct state` bits of a packet's reference.
fn state_bits(r: Option<CtRef>) -> u8 {
    match r.map(|r| r.info) {
        None | Some(CtInfo::Invalid) => ct_state::INVALID,
        Some(CtInfo::New) => ct_state::NEW,
        Some(CtInfo::Established) => ct_state::ESTABLISHED,
        Some(CtInfo::Related) => ct_state::RELATED,
    }
}

/// The ICMP types that are errors quoting another packet.
fn icmp_error(ty: u8) -> bool {
    matches!(ty, 3 | 4 | 5 | 11 | 12)
}

impl<H: NfHooks> World<'_, H> {
    /// Run everything registered at `state.hook`: the static hooks alone,
    /// or interleaved with the rule tables when the namespace has any.
    pub(crate) fn nf_dispatch(&mut self, state: &NfState, skb: SkBuff) -> NfVerdict {
        match &self.nft {
            Some(n) if n.hook_active(state.ns, state.hook) => self.nft_hook(state, skb),
            _ => self.hooks.hook(&mut self.pool, state, skb),
        }
    }

    /// The next step at the hook after chain index `ci` and fixed step `fi`.
    fn next_step(&self, state: &NfState, fixed: &[(i32, Step)], fi: usize, ci: &mut usize) -> Option<(i32, Step)> {
        let nft = self.nft.as_ref()?;
        let chains = nft.base_chains(state.hook);
        let mut chain = None;
        while let Some(&c) = chains.get(*ci) {
            let ch = nft.chain(c);
            let ours = ch.and_then(|ch| nft.table(ch.table)).is_some_and(|t| t.ns == state.ns);
            match ch.and_then(|ch| ch.base) {
                Some(b) if ours && b.ty == ChainType::Filter => {
                    chain = Some((b.priority, Step::Chain(c)));
                    break;
                }
                _ => *ci += 1,
            }
        }
        match (fixed.get(fi).copied(), chain) {
            (Some(f), Some(c)) if f.0 <= c.0 => Some(f),
            (_, Some(c)) => Some(c),
            (f, None) => f,
        }
    }

    /// The hook with rule tables: see the module documentation.
    fn nft_hook(&mut self, state: &NfState, mut skb: SkBuff) -> NfVerdict {
        let Some(nft) = self.nft.as_mut() else { return NfVerdict::Accept(skb) };
        nft.stats.evaluated += 1;
        let fixed = fixed_steps(state.hook, nft.active.ct.get(state.ns), nft.active.nat.get(state.ns));
        let (mut fi, mut ci) = (0, 0);
        let mut above = i64::MIN;
        let mut pkt: Option<Pkt> = None;
        // Bounded: each round consumes a fixed step or a chain.
        for _ in 0..fixed.len() + self.nft.as_ref().map_or(0, |n| n.base_chains(state.hook).len()) {
            let Some((p, step)) = self.next_step(state, &fixed, fi, &mut ci) else { break };
            match self.hooks.hook_band(&mut self.pool, state, skb, above, i64::from(p)) {
                NfVerdict::Accept(s) => skb = s,
                other => return other,
            }
            above = i64::from(p);
            let out = match step {
                Step::Chain(c) => {
                    ci += 1;
                    self.run_chain(state, &skb, c, &mut pkt)
                }
                Step::CtIn => {
                    fi += 1;
                    pkt = None;
                    self.ct_in(state, &skb)
                }
                Step::Nat(m) => {
                    fi += 1;
                    let out = self.nat_step(state, &skb, m, &mut pkt);
                    pkt = None;
                    out
                }
                Step::Confirm => {
                    fi += 1;
                    self.ct_confirm(&skb);
                    StepOut::Continue
                }
            };
            match out {
                StepOut::Continue => {}
                StepOut::Drop => {
                    self.ct_forget_unconfirmed(&skb);
                    if let Some(n) = self.nft.as_mut() {
                        n.stats.dropped += 1;
                    }
                    return NfVerdict::Drop(skb);
                }
                StepOut::Reject(with) => {
                    self.ct_forget_unconfirmed(&skb);
                    if let Some(n) = self.nft.as_mut() {
                        n.stats.rejected += 1;
                    }
                    self.nft_reject(state, skb, with);
                    self.drop_count(state.ns, DropReason::Netfilter);
                    return NfVerdict::Stolen;
                }
            }
        }
        self.hooks.hook_band(&mut self.pool, state, skb, above, i64::MAX)
    }

    /// The packet's conntrack reference, if it still names an entry.
    fn ct_ref(&self, skb: &SkBuff) -> Option<CtRef> {
        let r = CtRef::from_bits(self.pool.meta(skb).ct?);
        self.nft.as_ref()?.ct.resolve(r).map(|_| r)
    }

    fn set_ct_ref(&mut self, skb: &SkBuff, r: Option<CtRef>) {
        if let Ok(m) = self.pool.meta_mut(skb) {
            m.ct = r.map(CtRef::to_bits);
        }
    }

    /// Read the packet's fields for rules (once per hook, again after NAT).
    fn pkt_of(&mut self, state: &NfState, skb: &SkBuff) -> Option<Pkt> {
        let mut p = Pkt::parse(&mut self.pool, skb)?;
        let m = self.pool.meta(skb);
        p.iif = state.iif.unwrap_or(m.iif);
        p.oif = state.oif.unwrap_or(0);
        p.ct_state = state_bits(self.ct_ref(skb));
        Some(p)
    }

    /// Evaluate a filter base chain.
    fn run_chain(&mut self, state: &NfState, skb: &SkBuff, c: u16, pkt: &mut Option<Pkt>) -> StepOut {
        if pkt.is_none() {
            *pkt = self.pkt_of(state, skb);
        }
        // Not IPv4 at all: nothing to match, the policy decides.
        let mut p = pkt.unwrap_or_default();
        let names = Names { iif: if_name(self.ifaces, p.iif), oif: if_name(self.ifaces, p.oif) };
        let Some(nft) = self.nft.as_mut() else { return StepOut::Continue };
        let out = nft.eval_chain(c, &mut p, &names, state.now, false);
        if pkt.is_some_and(|old| old.mark != p.mark)
            && let Ok(m) = self.pool.meta_mut(skb)
        {
            m.mark = p.mark;
        }
        if pkt.is_some() {
            *pkt = Some(p);
        }
        match out {
            Outcome::Accept | Outcome::Nat(_) => StepOut::Continue,
            Outcome::Drop => StepOut::Drop,
            Outcome::Reject(k) => StepOut::Reject(k),
        }
    }

    /// Connection tracking's lookup (`nf_conntrack_in`).
    fn ct_in(&mut self, state: &NfState, skb: &SkBuff) -> StepOut {
        let (ns, now) = (state.ns, state.now);
        if state.hook == NfHook::PreRouting {
            // Looped back: tracked already on the way out.
            let iif = state.iif.unwrap_or(0);
            let lo = self.is_loopback_dev(iif);
            if lo && self.ct_ref(skb).is_some() {
                return StepOut::Continue;
            }
        }
        self.set_ct_ref(skb, None);
        let Some(p) = Pkt::parse(&mut self.pool, skb) else { return StepOut::Continue };
        if p.proto == 1 && p.l4 && icmp_error(p.icmp_type) {
            self.ct_related(ns, skb, &p, now);
            return StepOut::Continue;
        }
        let has_ports = matches!(p.proto, 1 | 6 | 17);
        if has_ports && !p.l4 {
            self.ct_invalid();
            return StepOut::Continue;
        }
        let tuple = Tuple {
            src: Ipv4Addr::from(p.src),
            dst: Ipv4Addr::from(p.dst),
            proto: p.proto,
            sport: if has_ports { p.sport } else { 0 },
            dport: if matches!(p.proto, 6 | 17) { p.dport } else { 0 },
        };
        let seg = if p.proto == 6 { self.tcp_seg(skb, &p) } else { TcpSeg::default() };
        let Some(nft) = self.nft.as_mut() else { return StepOut::Continue };
        let nat_on = nft.active.nat.get(ns);
        let ct = &mut nft.ct;
        if let Some((slot, dir)) = ct.lookup(ns, &tuple, now) {
            ct.stats.found += 1;
            let timeouts = ct.timeouts;
            let mut invalid = false;
            let Some(e) = ct.entry_mut(slot) else { return StepOut::Continue };
            if p.proto == 6 {
                match e.tcp_track(dir, &seg, &timeouts, now) {
                    Ok(false) => {}
                    Ok(true) => {
                        // A new connection on the tuple of a closed one.
                        ct.remove(slot);
                        return self.ct_new(ns, skb, &p, tuple, &seg, nat_on, now);
                    }
                    Err(()) => invalid = true,
                }
            }
            let seen = e.status & status::SEEN_REPLY != 0;
            if dir == REPLY && !seen {
                ct.seen_reply(slot);
            }
            let Some(e) = ct.entry_mut(slot) else { return StepOut::Continue };
            if dir == REPLY && p.proto == 17 {
                e.status |= status::ASSURED;
            }
            if p.proto != 6 {
                e.refresh(&timeouts, now);
            }
            e.account(dir, p.len as usize);
            let info = match () {
                _ if invalid => CtInfo::Invalid,
                _ if dir == REPLY || seen => CtInfo::Established,
                _ => CtInfo::New,
            };
            if invalid {
                ct.stats.invalid += 1;
            }
            let r = ct.make_ref(slot, info, dir);
            self.set_ct_ref(skb, Some(r));
            return StepOut::Continue;
        }
        self.ct_new(ns, skb, &p, tuple, &seg, nat_on, now)
    }

    fn ct_invalid(&mut self) {
        if let Some(n) = self.nft.as_mut() {
            n.ct.stats.invalid += 1;
        }
    }

    /// A packet no connection knows: start one if it may (`init_conntrack`).
    #[allow(clippy::too_many_arguments)]
    fn ct_new(
        &mut self,
        ns: NsId,
        skb: &SkBuff,
        p: &Pkt,
        tuple: Tuple,
        seg: &TcpSeg,
        nat_on: bool,
        now: Instant,
    ) -> StepOut {
        const SYN: u8 = 0x02;
        const RST: u8 = 0x04;
        const ACK: u8 = 0x10;
        let may_start = match p.proto {
            6 => seg.flags & RST == 0 && (seg.flags & (SYN | ACK) == SYN || seg.flags & (SYN | ACK) == ACK),
            // Only queries start ICMP connections.
            1 => matches!(p.icmp_type, 8 | 13 | 15 | 17),
            _ => true,
        };
        if !may_start {
            self.ct_invalid();
            return StepOut::Continue;
        }
        let Some(nft) = self.nft.as_mut() else { return StepOut::Continue };
        let ct = &mut nft.ct;
        // Without NAT nothing could give a clashing connection another
        // reply tuple (with NAT, source NAT's null binding does).
        if !nat_on && ct.taken(ns, &tuple.invert(), u16::MAX, now) {
            ct.stats.insert_failed += 1;
            ct.stats.drop += 1;
            return StepOut::Drop;
        }
        let Some(slot) = ct.insert(ns, tuple, now) else {
            ct.stats.insert_failed += 1;
            ct.stats.drop += 1;
            return StepOut::Drop;
        };
        let timeouts = ct.timeouts;
        let Some(e) = ct.entry_mut(slot) else { return StepOut::Continue };
        if p.proto == 6 {
            e.tcp_new(seg, &timeouts, now);
        } else {
            e.refresh(&timeouts, now);
        }
        e.account(ORIG, p.len as usize);
        let r = ct.make_ref(slot, CtInfo::New, ORIG);
        self.set_ct_ref(skb, Some(r));
        StepOut::Continue
    }

    /// An ICMP error: RELATED to the connection of the packet it quotes.
    fn ct_related(&mut self, ns: NsId, skb: &SkBuff, p: &Pkt, now: Instant) {
        let ihl = usize::from(p.ihl);
        let want = (ihl + 8 + 60 + 8).min(self.pool.len(skb));
        let _ = self.pool.may_pull(skb, want);
        let inner = quoted_tuple(self.pool.data(skb).get(ihl + 8..).unwrap_or(&[]));
        let Some(nft) = self.nft.as_mut() else { return };
        let found = inner.and_then(|t| nft.ct.lookup(ns, &t.invert(), now));
        match found {
            Some((slot, dir)) => {
                nft.ct.stats.found += 1;
                let r = nft.ct.make_ref(slot, CtInfo::Related, dir);
                self.set_ct_ref(skb, Some(r));
            }
            None => nft.ct.stats.invalid += 1,
        }
    }

    /// The TCP fields conntrack follows.
    fn tcp_seg(&mut self, skb: &SkBuff, p: &Pkt) -> TcpSeg {
        let ihl = usize::from(p.ihl);
        let b = self.pool.data(skb);
        let doff = b.get(ihl + 12).map_or(20, |x| usize::from(x >> 4) * 4);
        let syn = b.get(ihl + 13).is_some_and(|f| f & 0x02 != 0);
        if syn {
            let _ = self.pool.may_pull(skb, (ihl + doff).min(self.pool.len(skb)));
        }
        let b = self.pool.data(skb);
        let be32 = |at: usize| b.get(at..at + 4).map_or(0, |x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]));
        let win = b.get(ihl + 14..ihl + 16).map_or(0, |x| u16::from_be_bytes([x[0], x[1]]));
        let wscale = if syn {
            b.get(ihl + 20..ihl + doff).and_then(|o| crate::wire::TcpOptions::new(o).find_map(wscale_of))
        } else {
            None
        };
        let payload = usize::from(p.ip_len).saturating_sub(ihl + doff) as u32;
        TcpSeg { seq: be32(ihl + 4), ack: be32(ihl + 8), win, flags: p.tcp_flags, len: payload, wscale }
    }

    /// The packet survived the hooks: its connection is confirmed.
    fn ct_confirm(&mut self, skb: &SkBuff) {
        let Some(r) = self.pool.meta(skb).ct.map(CtRef::from_bits) else { return };
        if let Some(e) = self.nft.as_mut().and_then(|n| n.ct.resolve_mut(r)) {
            e.status |= status::CONFIRMED;
        }
    }

    /// A dropped packet takes the unconfirmed connection it started along.
    fn ct_forget_unconfirmed(&mut self, skb: &SkBuff) {
        let Some(r) = self.pool.meta(skb).ct.map(CtRef::from_bits) else { return };
        let Some(nft) = self.nft.as_mut() else { return };
        let fresh = nft
            .ct
            .resolve(r)
            .is_some_and(|e| e.status & status::CONFIRMED == 0 && e.packets[ORIG] + e.packets[REPLY] <= 1);
        if fresh {
            nft.ct.remove(r.slot);
        }
    }

    /// NAT at a hook (`nf_nat_inet_fn`): choose the translation of a new
    /// connection by its NAT chains, then translate the packet.
    fn nat_step(&mut self, state: &NfState, skb: &SkBuff, m: Manip, pkt: &mut Option<Pkt>) -> StepOut {
        let Some(r) = self.ct_ref(skb) else { return StepOut::Continue };
        let done = self.nft.as_ref().and_then(|n| n.ct.resolve(r)).is_none_or(|e| e.status & m.done_bit() != 0);
        if !done && r.info == CtInfo::New && !r.reply {
            match self.nat_choose(state, skb, r, m, pkt) {
                StepOut::Continue => {}
                other => return other,
            }
        }
        if self.nat_apply(skb, r, m) { StepOut::Continue } else { StepOut::Drop }
    }

    /// Run the NAT chains for a new connection and bind what they chose
    /// (or the identity, `alloc_null_binding`).
    fn nat_choose(&mut self, state: &NfState, skb: &SkBuff, r: CtRef, m: Manip, pkt: &mut Option<Pkt>) -> StepOut {
        if pkt.is_none() {
            *pkt = self.pkt_of(state, skb);
        }
        let mut p = pkt.unwrap_or_default();
        let names = Names { iif: if_name(self.ifaces, p.iif), oif: if_name(self.ifaces, p.oif) };
        let Some(nft) = self.nft.as_mut() else { return StepOut::Continue };
        let mut chosen = None;
        let mut verdict = None;
        let mut i = 0;
        while let Some(&c) = nft.base_chains(state.hook).get(i) {
            i += 1;
            let ours = nft.chain(c).and_then(|ch| nft.table(ch.table)).is_some_and(|t| t.ns == state.ns);
            let is_nat = nft.chain(c).and_then(|ch| ch.base).is_some_and(|b| b.ty == ChainType::Nat);
            if !ours || !is_nat {
                continue;
            }
            match nft.eval_chain(c, &mut p, &names, state.now, true) {
                Outcome::Accept => {}
                Outcome::Nat(s) => {
                    chosen = Some(s);
                    break;
                }
                Outcome::Drop => verdict = Some(StepOut::Drop),
                Outcome::Reject(k) => verdict = Some(StepOut::Reject(k)),
            }
            if verdict.is_some() {
                break;
            }
        }
        // `meta mark set` in a NAT chain marks the packet, as in a filter chain.
        if pkt.is_some_and(|old| old.mark != p.mark)
            && let Ok(m) = self.pool.meta_mut(skb)
        {
            m.mark = p.mark;
        }
        if pkt.is_some() {
            *pkt = Some(p);
        }
        if let Some(v) = verdict {
            return v;
        }
        let cur = nft.ct.resolve(r).map(|e| e.tuple[REPLY].invert());
        let Some(cur) = cur else { return StepOut::Continue };
        let (addr, ports) = match chosen {
            Some(s) if s.kind == NatKind::Masquerade => {
                let oif = state.oif.unwrap_or(0);
                let Some(a) = self.select_src(oif, cur.dst) else { return self.nat_failed() };
                if let Some(e) = self.nft.as_mut().and_then(|n| n.ct.resolve_mut(r)) {
                    e.masq_oif = oif;
                }
                ((u32::from(a), u32::from(a)), s.ports)
            }
            Some(s) => (s.addr.unwrap_or_default(), s.ports),
            None => {
                let a = u32::from(if m == Manip::Src { cur.src } else { cur.dst });
                ((a, a), None)
            }
        };
        let Some(nft) = self.nft.as_mut() else { return StepOut::Continue };
        match nat::setup(&mut nft.ct, r.slot, m, addr, ports, state.now) {
            Ok(()) => StepOut::Continue,
            Err(()) => self.nat_failed(),
        }
    }

    fn nat_failed(&mut self) -> StepOut {
        if let Some(n) = self.nft.as_mut() {
            n.ct.stats.nat_failed += 1;
            n.ct.stats.drop += 1;
        }
        StepOut::Drop
    }

    /// Translate the packet as its connection says (`nf_nat_packet`, and
    /// `nf_nat_icmp_reply_translation` for ICMP errors). `false` when the
    /// packet could not be rewritten (it is dropped).
    fn nat_apply(&mut self, skb: &SkBuff, r: CtRef, m: Manip) -> bool {
        let Some(e) = self.nft.as_ref().and_then(|n| n.ct.resolve(r)) else { return true };
        let (tuples, st) = (e.tuple, e.status);
        let (dir, other) = (r.dir(), 1 - r.dir());
        let mut bit = m.nat_bit();
        if dir == REPLY {
            bit ^= status::SRC_NAT | status::DST_NAT;
        }
        let applies = st & bit != 0;
        let related = r.info == CtInfo::Related;
        let translated = st & (status::SRC_NAT | status::DST_NAT) != 0;
        if !(applies || related && translated) {
            return true;
        }
        let len = self.pool.len(skb);
        let head = {
            let b = self.pool.data(skb);
            let ihl = b.first().map_or(20, |x| usize::from(x & 0x0f) * 4);
            match b.get(9) {
                _ if related => len,
                Some(6) => ihl + 20,
                _ => ihl + 8,
            }
        };
        if self.pool.may_pull(skb, head.min(len)).is_err() {
            return false;
        }
        let mode = match self.pool.meta(skb).csum {
            Checksum::Partial { .. } => L4Csum::Partial,
            _ => L4Csum::Full,
        };
        let Ok(b) = self.pool.data_mut(skb) else { return false };
        if related {
            let ihl = usize::from(b[0] & 0x0f) * 4;
            if let Some(inner) = b.get_mut(ihl + 8..) {
                nat::manip(inner, &tuples[other], m.other(), L4Csum::Full);
            }
            if mode == L4Csum::Full {
                nat::icmp_refresh_checksum(b);
            }
        }
        if applies {
            nat::manip(b, &tuples[other].invert(), m, mode);
        }
        if let Ok(meta) = self.pool.meta_mut(skb)
            && let Checksum::Complete(_) = meta.csum
        {
            // The device's sum no longer matches the bytes.
            meta.csum = Checksum::None;
        }
        true
    }

    /// Answer a rejected packet, then free it.
    fn nft_reject(&mut self, state: &NfState, skb: SkBuff, with: RejectWith) {
        let data = self.pool.data_offset(&skb);
        if let Ok(m) = self.pool.meta_mut(&skb) {
            m.network_header = data;
        }
        match with {
            RejectWith::Icmp(code) => self.icmp_dst_unreach(state.ns, skb, DstUnreachable::from_code(code), state.now),
            RejectWith::TcpReset => self.nft_send_reset(state.ns, skb, state.now),
        }
    }

    /// Answer a TCP segment with a reset from its destination
    /// (`nf_send_reset`), then free it.
    fn nft_send_reset(&mut self, ns: NsId, skb: SkBuff, now: Instant) {
        let p = Pkt::parse(&mut self.pool, &skb);
        let seg = p.filter(|p| p.proto == 6 && p.l4).map(|p| (p, self.tcp_seg(&skb, &p)));
        let rt_broadcast = self.pool.meta(&skb).rt_broadcast;
        self.pool.free(skb);
        let Some((p, seg)) = seg else { return };
        if seg.flags & 0x04 != 0 {
            return;
        }
        let (src, dst) = (Ipv4Addr::from(p.dst), Ipv4Addr::from(p.src));
        // Nothing answers for a broadcast or multicast address (Linux's
        // nf_send_reset checks the route's RTCF_BROADCAST|RTCF_MULTICAST).
        if src.is_broadcast() || src.is_multicast() || rt_broadcast {
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.1
        //# If the ACK bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
        //# If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>
        let (seq, ack, flags) = if seg.flags & 0x10 != 0 {
            (seg.ack, 0, TcpFlags::RST)
        } else {
            let len = seg.len + u32::from(seg.flags & 0x02 != 0) + u32::from(seg.flags & 0x01 != 0);
            (0, seg.seq.wrapping_add(len), TcpFlags::RST | TcpFlags::ACK)
        };
        let Ok(route) = self.route_output_anysrc(ns, dst, src, now) else { return };
        let Ok(out) = self.pool.alloc_with_headroom(OwnerId::SYSTEM, 128) else { return };
        let built = self.pool.put(&out, 20).map(|h| {
            h.fill(0);
            let mut t = TcpPacket::new_unchecked(&mut h[..]);
            t.set_src_port(p.dport);
            t.set_dst_port(p.sport);
            t.set_seq_number(seq);
            t.set_ack_number(ack);
            t.set_header_len(20);
            t.set_flags(flags);
            t.fill_checksum(src, dst);
        });
        if built.is_err() {
            self.pool.free(out);
            return;
        }
        let ttl = self.netns(ns).map_or(64, |n| n.sysctl.default_ttl);
        let params = IpParams { proto: IpProtocol::TCP, ttl, tos: 0, df: true };
        let _ = self.ip_queue_xmit(ns, out, &route, dst, params, now);
    }
}

/// The tuple of a packet quoted in an ICMP error.
fn quoted_tuple(q: &[u8]) -> Option<Tuple> {
    if q.len() < 20 || q[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(q[0] & 0x0f) * 4;
    let l4 = q.get(ihl..)?;
    let be16 = |at: usize| l4.get(at..at + 2).map(|x| u16::from_be_bytes([x[0], x[1]]));
    let proto = q[9];
    let (sport, dport) = match proto {
        6 | 17 => (be16(0)?, be16(2)?),
        1 => (be16(4)?, 0),
        _ => (0, 0),
    };
    Some(Tuple {
        src: Ipv4Addr::new(q[12], q[13], q[14], q[15]),
        dst: Ipv4Addr::new(q[16], q[17], q[18], q[19]),
        proto,
        sport,
        dport,
    })
}

fn wscale_of(o: Result<crate::wire::TcpOption, crate::wire::WireError>) -> Option<u8> {
    match o {
        Ok(crate::wire::TcpOption::WindowScale(s)) => Some(s),
        _ => None,
    }
}

//! Running out, cleanly: a full connection table and exhausted NAT ports
//! refuse new connections (their packets dropped and counted), leave the
//! existing ones working, and recover when entries expire. Also: the
//! oldest unreplied connection makes room for a new one, and static hook
//! modules run among the rule tables in priority order.

mod nf_common;

use std::net::SocketAddr;
use std::time::Duration;

use nf_common::*;
use skbnet::netfilter::{NfHook, NfHooks, NfState, NfVerdict};
use skbnet::netns::{NsId, World};
use skbnet::skb::{SkBuff, SkbPool};
use skbnet::socket::{Errno, SockId, SockType};

fn nat_router<H: NfHooks>(w: &mut World<'_, H>, t: &Topo<'_>, ports: &str) {
    nft(w, t.r, "add table ip nat");
    nft(w, t.r, "add chain ip nat postrouting { type nat hook postrouting priority srcnat; }");
    nft(w, t.r, &format!("add rule ip nat postrouting oif eth0 masquerade {ports}"));
}

/// A UDP flow from c1 to the server's echo port: send, let the server
/// answer, return what came back.
fn exchange<H: NfHooks>(w: &mut World<'_, H>, t: &mut Topo<'_>, c: SockId, echo: SockId) -> Result<Vec<u8>, Errno> {
    w.sendmsg(c, b"hello", None)?;
    let (data, from) = recv(w, t, echo, 300)?;
    w.sendmsg(echo, &data, Some(SocketAddr::V4(from)))?;
    recv(w, t, c, 300).map(|(d, _)| d)
}

fn flow<H: NfHooks>(w: &mut World<'_, H>, ns: NsId) -> SockId {
    let c = w.socket(ns, SockType::Udp).unwrap();
    w.connect(c, sa(S, 7)).unwrap();
    c
}

fn short_timeouts<H: NfHooks>(w: &mut World<'_, H>) {
    let n = w.nft_tables_mut().unwrap();
    let mut to = n.ct_timeouts();
    to.udp = Duration::from_secs(5);
    to.udp_stream = Duration::from_secs(10);
    n.set_ct_timeouts(to);
}

#[test]
fn a_full_connection_table_refuses_new_flows_and_recovers() {
    with_topo::<4>(Opts { server_routes: false, ..Opts::default() }, |w, t| {
        nat_router(w, t, "");
        short_timeouts(w);
        let echo = udp_bound(w, t.s, 7);
        let flows: Vec<_> = (0..4).map(|_| flow(w, t.c1)).collect();
        for &c in &flows {
            assert_eq!(exchange(w, t, c, echo).unwrap(), b"hello");
        }
        assert_eq!(w.conntrack(t.r).count(), 4);
        let fifth = flow(w, t.c1);
        assert_eq!(exchange(w, t, fifth, echo), Err(Errno::WouldBlock), "refused: the server saw nothing");
        let st = w.conntrack_stats();
        assert_eq!((st.insert_failed, st.drop, st.early_drop), (1, 1, 0), "{st:?}");
        // The established flows go on.
        for &c in &flows {
            assert_eq!(exchange(w, t, c, echo).unwrap(), b"hello");
        }
        // Idle long enough, they expire and the new flow gets in.
        advance(w, t, 11_000);
        assert_eq!(w.conntrack(t.r).count(), 0, "expired");
        assert_eq!(exchange(w, t, fifth, echo).unwrap(), b"hello");
        assert!(w.conntrack_stats().expired >= 4);
        for c in flows.into_iter().chain([fifth, echo]) {
            w.close(c).unwrap();
        }
    });
}

#[test]
fn the_oldest_unreplied_connection_makes_room() {
    with_topo::<4>(Opts { server_routes: false, ..Opts::default() }, |w, t| {
        nat_router(w, t, "");
        let silent = udp_bound(w, t.s, 7);
        let flows: Vec<_> = (0..5).map(|_| flow(w, t.c1)).collect();
        for &c in &flows {
            w.sendmsg(c, b"anyone?", None).unwrap();
            recv(w, t, silent, 300).unwrap();
        }
        let st = w.conntrack_stats();
        assert_eq!((st.early_drop, st.insert_failed, st.entries), (1, 0, 4), "{st:?}");
        let first_port = w.local_addr(flows[0]).unwrap().port();
        assert!(w.conntrack(t.r).all(|e| e.orig.sport != first_port), "the oldest went");
        for c in flows.into_iter().chain([silent]) {
            w.close(c).unwrap();
        }
    });
}

#[test]
fn exhausted_nat_ports_refuse_new_flows_and_recover() {
    with_topo::<64>(Opts { server_routes: false, ..Opts::default() }, |w, t| {
        nat_router(w, t, "to :40000-40001");
        short_timeouts(w);
        let echo = udp_bound(w, t.s, 7);
        let a = flow(w, t.c1);
        let b = flow(w, t.c1);
        for c in [a, b] {
            assert_eq!(exchange(w, t, c, echo).unwrap(), b"hello");
        }
        let mut ports: Vec<_> = w.conntrack(t.r).map(|e| e.reply.dport).collect();
        ports.sort();
        assert_eq!(ports, [40000, 40001], "both ports of the range in use");
        let c = flow(w, t.c1);
        assert_eq!(exchange(w, t, c, echo), Err(Errno::WouldBlock), "no port left");
        let st = w.conntrack_stats();
        assert_eq!((st.nat_failed, st.drop), (1, 1), "{st:?}");
        assert_eq!(w.conntrack(t.r).count(), 2, "the refused flow left no entry behind");
        for c in [a, b] {
            assert_eq!(exchange(w, t, c, echo).unwrap(), b"hello", "existing flows keep their ports");
        }
        advance(w, t, 11_000);
        assert_eq!(exchange(w, t, c, echo).unwrap(), b"hello", "after expiry a port is free");
        for id in [a, b, c, echo] {
            w.close(id).unwrap();
        }
    });
}

/// A static module that notes the mark it sees at FORWARD and may drop.
#[derive(Default)]
struct Probe {
    priority: i32,
    marks: Vec<u32>,
    drop: bool,
}

impl NfHooks for Probe {
    fn hook(&mut self, pool: &mut SkbPool, state: &NfState, skb: SkBuff) -> NfVerdict {
        if state.hook != NfHook::Forward {
            return NfVerdict::Accept(skb);
        }
        self.marks.push(pool.meta(&skb).mark);
        if self.drop { NfVerdict::Drop(skb) } else { NfVerdict::Accept(skb) }
    }

    fn priority(&self, _: NfHook) -> i32 {
        self.priority
    }
}

#[test]
fn static_hooks_and_tables_run_in_priority_order() {
    let early = Probe { priority: -10, ..Probe::default() };
    let late = Probe { priority: 20, ..Probe::default() };
    with_topo_hooks::<64, _>(Opts::default(), (early, late), |w, t| {
        nft(w, t.r, "add table ip f");
        nft(w, t.r, "add chain ip f fwd { type filter hook forward priority 10; }");
        nft(w, t.r, "add rule ip f fwd counter meta mark set 7");
        let echo = udp_bound(w, t.s, 7);
        let c = flow(w, t.c1);
        w.sendmsg(c, b"1", None).unwrap();
        recv(w, t, echo, 300).unwrap();
        let (early, late) = w.hooks();
        assert_eq!(early.marks, [0], "priority -10 runs before the chain at 10");
        assert_eq!(late.marks, [7], "priority 20 runs after it");
        // A drop at -10 stops the packet before the chain counts it.
        w.hooks().0.drop = true;
        w.sendmsg(c, b"2", None).unwrap();
        assert_eq!(recv(w, t, echo, 300), Err(Errno::WouldBlock));
        let l = nft(w, t.r, "list chain ip f fwd");
        assert!(l.contains("counter packets 1 bytes 29"), "{l}");
        assert_eq!(w.hooks().1.marks, [7]);
        w.close(c).unwrap();
        w.close(echo).unwrap();
    });
}

//! Forwarded packets per second through a router with nftables: no
//! tables at all, a forward chain with no rules, 1,000 rules written one
//! by one (none matching, so each packet is compared with all), and one
//! rule matching a 1,000-element set (one binary search). The goal: the
//! set costs at most 10% of the no-rule rate.
//!
//! ```text
//!  h1 10.0.1.2 ---- 10.0.1.1 r 10.0.2.1 ---- 10.0.2.2 h2      UDP, 64-byte datagrams, batches of 32
//! ```
//!
//! Run: `cargo bench -p skbnet-tests --bench nf_forward` (criterion, each
//! case on its own), or `cargo bench -p skbnet-tests --bench nf_forward --
//! side-by-side` for the goal's ratio with both routers taking turns.

use std::cell::RefCell;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant as WallClock};

use criterion::{Criterion, Throughput, criterion_group};
use skbnet::netfilter::NftStorage;
use skbnet::netns::{SmallWorldStorage, World};
use skbnet::socket::{SockId, SockType};
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet_nic_sim::link::{Link, LinkConfig, NoTap, Side};
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::LinkPort;
use skbnet_tests::net::Mem;

const BATCH: usize = 32;

type BenchLink = Link<512, 1514, NoTap>;
type BenchNic<'l> = SimNic<256, 256, 66_000, LinkPort<'l, 512, 1514, NoTap>>;

/// What the router's forward hook holds.
#[derive(Clone, Copy, Debug)]
enum Rules {
    /// No tables attached.
    Detached,
    /// A forward chain, policy accept, no rules.
    Empty,
    /// 1,000 `ip saddr X drop` rules, none matching.
    Linear,
    /// `ip saddr @blocked drop` with 1,000 elements, none matching.
    Set,
}

fn configure(w: &mut World<'_>, r: skbnet::netns::NsId, rules: Rules) {
    let mut out = String::new();
    let mut nft = |cmd: &str| w.nft(r, cmd, &mut out).unwrap_or_else(|e| panic!("{}", e.report(cmd)));
    if matches!(rules, Rules::Detached) {
        return;
    }
    nft("add table inet filter");
    nft("add chain inet filter forward { type filter hook forward priority 0; policy accept; }");
    let blocked = |i: u32| Ipv4Addr::from(u32::from(Ipv4Addr::new(172, 16, 0, 0)) + i * 4);
    match rules {
        Rules::Linear => {
            for i in 0..1000 {
                nft(&format!("add rule inet filter forward ip saddr {} drop", blocked(i)));
            }
        }
        Rules::Set => {
            nft("add set inet filter blocked { type ipv4_addr; }");
            for i in 0..1000 {
                nft(&format!("add element inet filter blocked {{ {} }}", blocked(i)));
            }
            nft("add rule inet filter forward ip saddr @blocked drop");
        }
        Rules::Detached | Rules::Empty => {}
    }
}

/// Build the router with `rules` and hand `f` a function that sends a
/// batch of datagrams from h1 and waits until h2 received them all.
fn with_router(rules: Rules, f: impl FnOnce(&mut dyn FnMut(usize))) {
    let mut mem = Mem::new(2048, 32);
    let links = [
        RefCell::new(BenchLink::new(LinkConfig::ethernet(), 1, NoTap)),
        RefCell::new(BenchLink::new(LinkConfig::ethernet(), 2, NoTap)),
    ];
    let nic = |mac, link, side| {
        Box::new(BenchNic::new(NicConfig::ethernet(MacAddr([2, 0, 0, 0, 0, mac])), LinkPort::new(link, side)))
    };
    let (mut h1n, mut r0n) = (nic(1, &links[0], Side::A), nic(2, &links[0], Side::B));
    let (mut r1n, mut h2n) = (nic(3, &links[1], Side::A), nic(4, &links[1], Side::B));
    let mut nft_mem = Box::new(NftStorage::<4, 8, 1024, 4, 1024, 64>::new());
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut w = World::new(&mut ws, mem.pool(), [3; 16]).unwrap();
    if !matches!(rules, Rules::Detached) {
        w.attach_nft(&mut nft_mem).unwrap();
    }
    let (h1, r, h2) = (w.add_netns("h1").unwrap(), w.add_netns("r").unwrap(), w.add_netns("h2").unwrap());
    let ip = |a, b, c, d| Ipv4Addr::new(a, b, c, d);
    for (ns, name, dev, addr) in [
        (h1, "eth0", &mut *h1n as &mut dyn skbnet::dev::NetDevice, ip(10, 0, 1, 2)),
        (r, "eth0", &mut *r0n, ip(10, 0, 1, 1)),
        (r, "eth1", &mut *r1n, ip(10, 0, 2, 1)),
        (h2, "eth0", &mut *h2n, ip(10, 0, 2, 2)),
    ] {
        let i = w.add_device(ns, name, dev).unwrap();
        w.set_link_up(i, true).unwrap();
        w.add_addr(i, addr, 24).unwrap();
    }
    w.add_route_via(h1, Ipv4Addr::UNSPECIFIED, 0, ip(10, 0, 1, 1)).unwrap();
    w.add_route_via(h2, Ipv4Addr::UNSPECIFIED, 0, ip(10, 0, 2, 1)).unwrap();
    let mut s = w.sysctl(r).unwrap();
    s.ip_forward = true;
    w.set_sysctl(r, s).unwrap();
    configure(&mut w, r, rules);
    let rx = w.socket(h2, SockType::Udp).unwrap();
    w.bind(rx, SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9))).unwrap();
    let tx = w.socket(h1, SockType::Udp).unwrap();
    w.connect(tx, SocketAddr::V4(SocketAddrV4::new(ip(10, 0, 2, 2), 9))).unwrap();
    let msg = [0x42u8; 64];
    let mut buf = vec![0u8; 2048];
    let mut now = Instant::ZERO;
    let mut exchange = |w: &mut World<'_>, tx: SockId, rx: SockId, want: usize| {
        for _ in 0..want {
            black_box(w.sendmsg(tx, &msg, None).unwrap());
        }
        let mut got = 0;
        // Bounded: a lost datagram fails the benchmark, it does not hang it.
        for _ in 0..1000 {
            now += Duration::from_micros(10);
            w.poll(now);
            while let Ok(m) = w.recvmsg(rx, &mut buf) {
                got += black_box(m.len).min(1);
            }
            if got == want {
                return;
            }
        }
        panic!("only {got} of {want} datagrams arrived ({rules:?})");
    };
    // Resolve the neighbours first (only 8 datagrams may wait for one).
    exchange(&mut w, tx, rx, 1);
    exchange(&mut w, tx, rx, BATCH);
    f(&mut |n| exchange(&mut w, tx, rx, n));
    w.shutdown();
    assert!(w.pool_ref().stats().is_idle());
}

fn bench(c: &mut Criterion, rules: Rules) {
    with_router(rules, |exchange| {
        let mut g = c.benchmark_group("forwarding through nftables");
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_function(format!("{rules:?}"), |b| b.iter(|| exchange(BATCH)));
        g.finish();
    });
}

/// What callgrind counts: 100 batches, nothing else.
#[inline(never)]
fn measured_forward(exchange: &mut dyn FnMut(usize)) {
    for _ in 0..100 {
        exchange(BATCH);
    }
}

fn nf_forward(c: &mut Criterion) {
    for rules in [Rules::Detached, Rules::Empty, Rules::Linear, Rules::Set] {
        bench(c, rules);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = nf_forward
}

/// The goal's ratio measured directly: a router with no rules and a router
/// with the 1,000-element set, side by side in one process, taking turns
/// round after round (which goes first alternates), so whatever the shared
/// machine does to its speed falls on both alike. Prints the median of the
/// rounds' ratios (set rate over no-rule rate) and each router's median rate.
fn side_by_side() {
    const ROUNDS: usize = 41;
    const BATCHES: usize = 300;
    let time = |exchange: &mut dyn FnMut(usize)| {
        let t0 = WallClock::now();
        for _ in 0..BATCHES {
            exchange(BATCH);
        }
        t0.elapsed().as_secs_f64()
    };
    with_router(Rules::Empty, |empty| {
        with_router(Rules::Set, |set| {
            // Warm both up first.
            time(empty);
            time(set);
            let (mut ratios, mut rates_empty, mut rates_set) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..ROUNDS {
                let (te, ts) = if round % 2 == 0 {
                    let te = time(empty);
                    (te, time(set))
                } else {
                    let ts = time(set);
                    (time(empty), ts)
                };
                ratios.push(te / ts);
                let per_sec = |t: f64| (BATCHES * BATCH) as f64 / t;
                rates_empty.push(per_sec(te));
                rates_set.push(per_sec(ts));
            }
            let median = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            println!("forwarding, {ROUNDS} rounds of {BATCHES} batches of {BATCH} datagrams each, taking turns:");
            println!("  a forward chain with no rules          {:>8.0} datagrams/s", median(&mut rates_empty));
            println!("  one rule on a 1,000-element set        {:>8.0} datagrams/s", median(&mut rates_set));
            println!("  set / no rules, median of the rounds   {:>8.3}x (goal: at least 0.9x)", median(&mut ratios));
        });
    });
}

/// `nf_forward callgrind-<Rules>` runs [`measured_forward`] once, for
/// `valgrind --tool=callgrind --toggle-collect=*measured_forward*`;
/// `nf_forward side-by-side` runs [`side_by_side`]; anything else runs
/// criterion.
fn main() {
    if std::env::args().any(|a| a == "side-by-side") {
        // Two routers at once need more stack than the main thread's.
        let t = std::thread::Builder::new().stack_size(64 << 20).spawn(side_by_side).expect("thread");
        return t.join().expect("side by side");
    }
    let arg = std::env::args().find_map(|a| a.strip_prefix("callgrind-").map(str::to_string));
    match arg.as_deref() {
        Some(mode) => {
            let rules = match mode {
                "Detached" => Rules::Detached,
                "Empty" => Rules::Empty,
                "Linear" => Rules::Linear,
                _ => Rules::Set,
            };
            with_router(rules, |exchange| measured_forward(exchange));
        }
        None => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}

//! Route lookup cost at 10, 1,000 and 10,000 routes: longest-prefix match
//! without the dst cache (it must not grow with the route count), and a
//! dst-cache hit.
//!
//! Run: `cargo bench -p skbnet --bench fib`

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use skbnet::ip::fib::{Fib, FibStorage, Route, mask};
use skbnet::netns::NsId;

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn lookups(c: &mut Criterion) {
    let mut g = c.benchmark_group("route lookup");
    for n in [10usize, 1_000, 10_000] {
        let mut st = Box::new(FibStorage::<10_016, 1, 64>::new());
        let mut fib = Fib::new(&mut st);
        let ns = NsId(0);
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        fib.add(ns, Route::unicast(Ipv4Addr::UNSPECIFIED, 0, Some(Ipv4Addr::new(10, 0, 0, 1)), 1)).unwrap();
        // Prefixes of every length from /8 to /32, as a real table mixes them.
        let mut added = 1;
        while added < n {
            let len = 8 + (xorshift(&mut s) % 25) as u8;
            let dst = Ipv4Addr::from(xorshift(&mut s) as u32 & mask(len));
            if fib.add(ns, Route::unicast(dst, len, None, 2)).is_ok() {
                added += 1;
            }
        }
        let probes: Vec<Ipv4Addr> = (0..1024).map(|_| Ipv4Addr::from(xorshift(&mut s) as u32)).collect();
        let mut i = 0;
        g.bench_with_input(BenchmarkId::new("longest-prefix match", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 1023;
                black_box(fib.lookup(ns, black_box(probes[i]), |_| true))
            })
        });
        let hot = probes[7];
        g.bench_with_input(BenchmarkId::new("dst cache hit", n), &n, |b, _| {
            b.iter(|| black_box(fib.route(ns, black_box(hot), |_| true)))
        });
    }
    g.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);

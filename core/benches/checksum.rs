//! Internet checksum throughput on 20 B (an IPv4 header), 64 B, 1500 B and 64 KiB, skbnet's
//! word-at-a-time sum side by side with etherparse's in the same run.
//!
//! Run: `cargo bench -p skbnet --bench checksum`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use etherparse::checksum::Sum16BitWords;
use skbnet::wire::checksum;

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("checksum");
    for size in [20usize, 64, 1500, 65536] {
        // Start one byte into the buffer: packet data after a 14-byte
        // Ethernet header is rarely 8-byte aligned either.
        let buf: Vec<u8> = (0..size + 1).map(|i| (i * 131 + 7) as u8).collect();
        let data = &buf[1..];
        assert_eq!(checksum::checksum(data), Sum16BitWords::new().add_slice(data).ones_complement().to_be());
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("skbnet", size), data, |b, d| {
            b.iter(|| checksum::checksum(black_box(d)))
        });
        group.bench_with_input(BenchmarkId::new("etherparse", size), data, |b, d| {
            b.iter(|| Sum16BitWords::new().add_slice(black_box(d)).ones_complement().to_be())
        });
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);

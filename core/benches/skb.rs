//! sk_buff pool costs: an alloc+free pair and a clone+free pair, in ns.
//!
//! Run: `cargo bench -p skbnet --bench skb`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use skbnet::skb::{OwnerId, PoolStorage, SkbPool};

fn pool_ops(c: &mut Criterion) {
    let mut storage = Box::new(PoolStorage::<256, 128, 2048, 8>::new());
    let mut pool = SkbPool::new(&mut storage);
    let owner = pool.register_owner(1 << 20).unwrap();

    c.bench_function("skb alloc+free", |b| {
        b.iter(|| {
            let skb = pool.alloc(black_box(owner)).unwrap();
            pool.free(black_box(skb));
        })
    });

    let seg = pool.alloc_with_headroom(owner, 128).unwrap();
    pool.put(&seg, 1448).unwrap().fill(0x5a);
    c.bench_function("skb clone+free", |b| {
        b.iter(|| {
            let clone = pool.clone(black_box(&seg), OwnerId::SYSTEM).unwrap();
            pool.free(black_box(clone));
        })
    });

    c.bench_function("skb clone+push 54 B header+free", |b| {
        pool.header_release(&seg).unwrap();
        b.iter(|| {
            let clone = pool.clone(black_box(&seg), OwnerId::SYSTEM).unwrap();
            pool.push(&clone, 54).unwrap()[0] = 0x45;
            pool.free(black_box(clone));
        })
    });

    let big = pool.alloc(owner).unwrap();
    let payload = vec![0xa5u8; 65_000];
    pool.append(&big, &payload).unwrap();
    c.bench_function("skb clone+free 64 KiB chain (33 chunks)", |b| {
        b.iter(|| {
            let clone = pool.clone(black_box(&big), OwnerId::SYSTEM).unwrap();
            pool.free(black_box(clone));
        })
    });
    pool.free(big);
    pool.free(seg);
    assert!(pool.stats().is_idle());
}

criterion_group!(benches, pool_ops);
criterion_main!(benches);

//! UDP datagrams per second between two namespaces over a simulated NIC
//! link: the whole path, socket to socket (sendmsg, IP output, ARP-resolved
//! neighbour, device ring, link, device ring, NAPI, IP input, UDP demux,
//! zero-copy queue, recvmsg).
//!
//! Run: `cargo bench -p skbnet-tests --bench udp`

use std::cell::RefCell;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use skbnet::netns::{SmallWorldStorage, World};
use skbnet::skb::{BufInfo, Head, OwnerSlot, PoolParts, SkbPool};
use skbnet::socket::SockType;
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet_nic_sim::link::{Link, LinkConfig, NoTap, Side};
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::LinkPort;

const BATCH: usize = 32;

fn bench(c: &mut Criterion, size: usize) {
    let (mut heads, mut info) = (vec![Head::EMPTY; 4096], vec![BufInfo::EMPTY; 2048]);
    let (mut data, mut owners) = (vec![0u8; 2048 * 2048], vec![OwnerSlot::EMPTY; 32]);
    let pool = SkbPool::from_parts(PoolParts {
        heads: &mut heads,
        info: &mut info,
        data: &mut data,
        owners: &mut owners,
        buf_size: 2048,
    })
    .unwrap();
    let link = RefCell::new(Link::<512, 1514, NoTap>::new(LinkConfig::ethernet(), 1, NoTap));
    let nic = |mac, side| {
        Box::new(SimNic::<256, 256, 66_000, _>::new(NicConfig::ethernet(MacAddr(mac)), LinkPort::new(&link, side)))
    };
    let (mut a, mut b) = (nic([2, 0, 0, 0, 0, 1], Side::A), nic([2, 0, 0, 0, 0, 2], Side::B));
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut w = World::new(&mut ws, pool, [3; 16]).unwrap();
    let (h1, h2) = (w.add_netns("h1").unwrap(), w.add_netns("h2").unwrap());
    let (x, y) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    let i = w.add_device(h1, "eth0", &mut *a).unwrap();
    w.set_link_up(i, true).unwrap();
    w.add_addr(i, x, 24).unwrap();
    let i = w.add_device(h2, "eth0", &mut *b).unwrap();
    w.set_link_up(i, true).unwrap();
    w.add_addr(i, y, 24).unwrap();
    let rx = w.socket(h2, SockType::Udp).unwrap();
    w.bind(rx, SocketAddr::V4(SocketAddrV4::new(y, 9))).unwrap();
    let tx = w.socket(h1, SockType::Udp).unwrap();
    w.connect(tx, SocketAddr::V4(SocketAddrV4::new(y, 9))).unwrap();
    let msg = vec![0x42u8; size];
    let mut buf = vec![0u8; 2048];
    let mut now = Instant::ZERO;
    // Resolve the neighbour first: before that only 8 datagrams may wait.
    w.sendmsg(tx, &msg, None).unwrap();
    for _ in 0..100 {
        now += core::time::Duration::from_micros(10);
        w.poll(now);
        if w.recvmsg(rx, &mut buf).is_ok() {
            break;
        }
    }
    let mut exchange = |w: &mut World<'_>| {
        for _ in 0..BATCH {
            black_box(w.sendmsg(tx, &msg, None).unwrap());
        }
        let mut got = 0;
        // Bounded: a lost datagram would fail the benchmark, not hang it.
        for _ in 0..1000 {
            now += core::time::Duration::from_micros(10);
            w.poll(now);
            while let Ok(m) = w.recvmsg(rx, &mut buf) {
                got += black_box(m.len).min(1);
            }
            if got == BATCH {
                return;
            }
        }
        panic!("only {got} of {BATCH} datagrams arrived");
    };
    exchange(&mut w);
    let mut g = c.benchmark_group("udp between two namespaces");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function(format!("{size}-byte datagrams, batches of {BATCH}"), |bench| bench.iter(|| exchange(&mut w)));
    g.finish();
    w.shutdown();
    assert!(w.pool_ref().stats().is_idle());
}

fn udp(c: &mut Criterion) {
    bench(c, 64);
    bench(c, 1400);
}

criterion_group!(benches, udp);
criterion_main!(benches);

//! The simulated NIC's costs: frames per second through a ring pair
//! (driver -> device -> link -> device -> driver) at 64 and 1500 bytes, and
//! segmenting a 64 KiB TSO super-packet in the device and in software.
//!
//! Run: `cargo bench -p skbnet-nic-sim --bench nic`

use std::cell::RefCell;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use skbnet::dev::gso::gso_segment;
use skbnet::dev::{Features, NetDevice, TxBusy};
use skbnet::skb::{Checksum, Gso, GsoType, OwnerId, PoolStorage, SkbPool, SkbQueue, VirtioNetHdr};
use skbnet::time::Instant;
use skbnet::wire::checksum::pseudo_header_v4;
use skbnet::wire::{EtherType, EthernetRepr, IpProtocol, Ipv4Repr, MacAddr, TcpFlags, TcpPacket};
use skbnet_nic_sim::link::{Link, LinkConfig, NoTap, Side};
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::{LinkPort, Port, RxFrame};

type Nic<P> = SimNic<256, 256, 66_000, P>;
const BATCH: usize = 32;

/// A port that swallows frames, to time the device alone.
struct Discard(u64);

impl Port for Discard {
    fn transmit(&mut self, _now: Instant, frame: &[u8], _vnet: &VirtioNetHdr) {
        self.0 += frame.len() as u64;
    }
    fn receive(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<RxFrame> {
        None
    }
    fn next_arrival(&self) -> Option<Instant> {
        None
    }
}

/// Ethernet + IPv4 + TCP headers (54 bytes) for `payload` bytes of data.
fn headers(payload: usize) -> [u8; 54] {
    let mut h = [0u8; 54];
    let eth = EthernetRepr {
        dst: MacAddr([2, 0, 0, 0, 0, 2]),
        src: MacAddr([2, 0, 0, 0, 0, 1]),
        vlan: None,
        ethertype: EtherType::IPV4,
    };
    eth.emit(&mut h).unwrap();
    let ip = Ipv4Repr {
        src: [10, 0, 0, 1].into(),
        dst: [10, 0, 0, 2].into(),
        protocol: IpProtocol::TCP,
        ttl: 64,
        ident: 1,
        dont_frag: true,
        payload_len: (20 + payload).min(65_515) as u16,
        dscp: 0,
        ecn: 0,
    };
    ip.emit(&mut h[14..]).unwrap();
    let mut tcp = TcpPacket::new_unchecked(&mut h[34..]);
    tcp.set_src_port(40_000);
    tcp.set_dst_port(5201);
    tcp.set_header_len(20);
    tcp.set_flags(TcpFlags::ACK);
    tcp.set_window(1000);
    let seed = pseudo_header_v4(ip.src, ip.dst, IpProtocol::TCP, (20 + payload) as u16).fold();
    tcp.set_checksum(seed);
    h
}

fn ring_pair(c: &mut Criterion, size: usize) {
    let mut storage = Box::new(PoolStorage::<2048, 1024, 2048, 8>::new());
    let mut pool = SkbPool::new(&mut storage);
    let cfg = |mac| NicConfig { offloads: Features::NONE, ..NicConfig::ethernet(MacAddr(mac)) };
    let link = Box::new(RefCell::new(Link::<512, 1514, NoTap>::new(LinkConfig::ethernet(), 1, NoTap)));
    let mut a = Box::new(Nic::new(cfg([2, 0, 0, 0, 0, 1]), LinkPort::new(&link, Side::A)));
    let mut b = Box::new(Nic::new(cfg([2, 0, 0, 0, 0, 2]), LinkPort::new(&link, Side::B)));
    a.open(&mut pool).unwrap();
    b.open(&mut pool).unwrap();
    let mut frame = vec![0u8; size];
    frame[..54].copy_from_slice(&headers(size - 54));
    let mut rx = SkbQueue::new();
    let mut g = c.benchmark_group("ring pair");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function(format!("{size} B frames, batches of {BATCH}"), |bench| {
        bench.iter(|| {
            for _ in 0..BATCH {
                let skb = pool.alloc_with_headroom(OwnerId::SYSTEM, 64).unwrap();
                pool.put_slice(&skb, &frame).unwrap();
                if let Err(TxBusy(skb)) = a.transmit(&mut pool, Instant::ZERO, skb) {
                    pool.free(skb);
                }
            }
            a.run_hardware(Instant::ZERO, &mut pool);
            b.run_hardware(Instant::ZERO, &mut pool);
            a.reclaim_tx(&mut pool, Instant::ZERO);
            b.poll_rx(&mut pool, Instant::ZERO, 64, &mut rx);
            let n = rx.len();
            rx.purge(&mut pool);
            black_box(n)
        })
    });
    g.finish();
    a.close(&mut pool);
    b.close(&mut pool);
    assert!(pool.stats().is_idle());
}

fn super_packet(pool: &mut SkbPool, payload: &[u8]) -> skbnet::skb::SkBuff {
    let skb = pool.alloc_with_headroom(OwnerId::SYSTEM, 128).unwrap();
    pool.put_slice(&skb, &headers(payload.len())).unwrap();
    pool.append(&skb, payload).unwrap();
    let data = pool.data_offset(&skb);
    let m = pool.meta_mut(&skb).unwrap();
    m.network_header = data + 14;
    m.transport_header = data + 34;
    m.csum = Checksum::Partial { start: data + 34, offset: 16 };
    m.gso = Gso { size: 1460, segs: 45, kind: GsoType::TcpV4, ecn: false };
    skb
}

fn tso(c: &mut Criterion) {
    let mut storage = Box::new(PoolStorage::<2048, 1024, 2048, 8>::new());
    let mut pool = SkbPool::new(&mut storage);
    let mut a = Box::new(Nic::new(NicConfig::ethernet(MacAddr([2, 0, 0, 0, 0, 1])), Discard(0)));
    a.open(&mut pool).unwrap();
    let payload = vec![0x5au8; 65_000];
    let mut g = c.benchmark_group("segmentation of a 64 KiB super-packet");
    g.throughput(Throughput::Bytes(payload.len() as u64));
    g.bench_function("device TSO (45 segments read from the descriptors, checksums)", |bench| {
        bench.iter(|| {
            let skb = super_packet(&mut pool, &payload);
            a.transmit(&mut pool, Instant::ZERO, skb).unwrap();
            a.run_hardware(Instant::ZERO, &mut pool);
            a.reclaim_tx(&mut pool, Instant::ZERO);
        })
    });
    let mut out = SkbQueue::new();
    g.bench_function("software GSO (45 linear segments, checksums finished)", |bench| {
        bench.iter(|| {
            let skb = super_packet(&mut pool, &payload);
            black_box(gso_segment(&mut pool, &skb, false, &mut out).unwrap());
            pool.free(skb);
            out.purge(&mut pool);
        })
    });
    g.finish();
    a.close(&mut pool);
    assert!(pool.stats().is_idle());
    black_box(a.port().0);
}

fn benches(c: &mut Criterion) {
    ring_pair(c, 64);
    ring_pair(c, 1514);
    tso(c);
}

criterion_group!(nic, benches);
criterion_main!(nic);

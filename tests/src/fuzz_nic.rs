//! The fuzz body of the simulated NIC: arbitrary descriptor and offload-field
//! contents, ring registers and frame bytes fed to the device model and its
//! driver. Nothing may panic, and when the NICs are closed and the fuzzer's
//! own packets freed, the pool must be completely free (no buffer leaked,
//! whatever the device was told).
//!
//! The input is a small program: two configuration bytes, then operations
//! (transmit through the driver, write raw TX or RX descriptors and ring a
//! doorbell, put raw frames on the wire, run the hardware, poll, reclaim,
//! let time pass), each reading its operands from the bytes that follow.

use crate::fuzz_input::{Input, features};
use core::cell::RefCell;

use skbnet::dev::NetDevice;
use skbnet::skb::{Checksum, Gso, GsoType, OwnerId, PoolStorage, SkBuff, SkbPool, SkbQueue, SkbRef};
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet_nic_sim::desc::{DmaAddr, RxDesc, TxDesc};
use skbnet_nic_sim::link::{Link, LinkConfig, NoTap, Side};
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::LinkPort;

type FuzzLink = Link<64, 1514, NoTap>;
type FuzzNic<'l> = SimNic<16, 16, 8192, LinkPort<'l, 64, 1514, NoTap>>;

/// The fuzzer's own packets, whose references it writes into descriptors.
struct Held {
    skbs: Vec<SkBuff>,
    stale: Vec<SkbRef>,
}

impl Held {
    fn pick(&self, i: u8) -> Option<SkbRef> {
        let all: Vec<SkbRef> = self.skbs.iter().map(SkBuff::as_ref).chain(self.stale.iter().copied()).collect();
        (!all.is_empty() && i != 0xff).then(|| all[usize::from(i) % all.len()])
    }
}

/// The fuzz body.
pub fn nic(data: &[u8]) {
    let mut storage = Box::new(PoolStorage::<256, 128, 2048, 8>::new());
    let mut pool = SkbPool::new(&mut storage);
    let mut input = Input::new(data);
    let (fa, fb) = (input.u8(), input.u8());
    let cfg = LinkConfig { loss: 0.05, duplicate: 0.05, reorder: 0.05, corrupt: 0.1, ..LinkConfig::ethernet() };
    let link = RefCell::new(FuzzLink::new(cfg, u64::from(fb), NoTap));
    let mk = |mac: u8, bits: u8, side| {
        let c = NicConfig { offloads: features(bits), ..NicConfig::ethernet(MacAddr([2, 0, 0, 0, 0, mac])) };
        Box::new(FuzzNic::new(c, LinkPort::new(&link, side)))
    };
    let (mut a, mut b) = (mk(1, fa, Side::A), mk(2, fa >> 5 | fb << 3, Side::B));
    let _ = a.open(&mut pool);
    let _ = b.open(&mut pool);
    let mut held = Held { skbs: Vec::new(), stale: Vec::new() };
    for len in [60usize, 1514, 3000] {
        if let Ok(s) = pool.alloc(OwnerId::SYSTEM) {
            let _ = pool.append(&s, &vec![0x45; len]);
            held.skbs.push(s);
        }
    }
    let mut now = Instant::ZERO;
    // Bounded: every operation consumes at least one byte.
    while !input.done() {
        step(&mut input, &mut pool, &mut a, &mut b, &link, &mut held, &mut now);
    }
    a.close(&mut pool);
    b.close(&mut pool);
    for s in held.skbs.drain(..) {
        pool.free(s);
    }
    assert!(pool.stats().is_idle(), "the device model leaked buffers: {:?}", pool.stats());
}

fn step(
    input: &mut Input,
    pool: &mut SkbPool,
    a: &mut FuzzNic,
    b: &mut FuzzNic,
    link: &RefCell<FuzzLink>,
    held: &mut Held,
    now: &mut Instant,
) {
    match input.u8() % 9 {
        0 => transmit(input, pool, a, *now),
        1 => {
            let (tx, _) = a.rings_mut();
            let i = usize::from(input.u8()) % tx.desc.len();
            tx.desc[i] = TxDesc {
                addr: held.pick(input.u8()).map(|skb| DmaAddr { skb, offset: u32::from(input.u16()) }),
                len: input.u16(),
                flags: input.u16(),
                csum_start: input.u16(),
                csum_offset: input.u16(),
                mss: input.u16(),
                hdr_len: input.u16(),
            };
            tx.set_tail(u16::from(input.u8()));
        }
        2 => {
            let (_, rx) = b.rings_mut();
            let i = usize::from(input.u8()) % rx.desc.len();
            rx.desc[i] = RxDesc {
                addr: held.pick(input.u8()).map(|skb| DmaAddr { skb, offset: u32::from(input.u16()) }),
                buf_len: input.u16(),
                flags: input.u16(),
                ..RxDesc::default()
            };
            rx.set_tail(u16::from(input.u8()));
        }
        3 => {
            let side = if input.u8() & 1 == 0 { Side::A } else { Side::B };
            let len = usize::from(input.u16() % 1600);
            let frame = input.bytes_padded(len);
            link.borrow_mut().send(*now, side, &frame);
        }
        4 => {
            a.run_hardware(*now, pool);
            b.run_hardware(*now, pool);
        }
        5 => {
            let mut q = SkbQueue::new();
            let budget = usize::from(input.u8() % 70);
            a.poll_rx(pool, *now, budget, &mut q);
            b.poll_rx(pool, *now, budget, &mut q);
            q.purge(pool);
        }
        6 => {
            a.reclaim_tx(pool, *now);
            b.reclaim_tx(pool, *now);
        }
        7 => *now += core::time::Duration::from_micros(u64::from(input.u8()) * 10),
        _ => {
            // Free one of the fuzzer's packets: descriptors may still name it.
            if !held.skbs.is_empty() {
                let s = held.skbs.remove(usize::from(input.u8()) % held.skbs.len());
                held.stale.push(s.as_ref());
                pool.free(s);
            }
        }
    }
}

/// Transmit a packet through the driver with fuzzed bytes and offload metadata.
fn transmit(input: &mut Input, pool: &mut SkbPool, a: &mut FuzzNic, now: Instant) {
    let len = usize::from(input.u16() % 4000);
    let bytes = input.bytes_padded(len);
    let flags = input.u8();
    let (start, offset, size) = (input.u16(), input.u16(), input.u16());
    let Ok(skb) = pool.alloc_with_headroom(OwnerId::SYSTEM, 64) else { return };
    if pool.append(&skb, &bytes).is_err() && !bytes.is_empty() {
        pool.free(skb);
        return;
    }
    if let Ok(m) = pool.meta_mut(&skb) {
        if flags & 1 != 0 {
            m.csum = Checksum::Partial { start, offset };
        }
        if flags & 2 != 0 {
            m.gso = Gso {
                size,
                segs: u16::from(flags >> 2),
                kind: if flags & 4 != 0 { GsoType::TcpV4 } else { GsoType::Udp },
                ecn: false,
            };
        }
    }
    if let Err(busy) = a.transmit(pool, now, skb) {
        pool.free(busy.0);
    }
}

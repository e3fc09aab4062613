//! A pcapng written by a test opens in tshark with no malformed packets and
//! no checksum errors: two links, one interface each, carrying TSO-segmented
//! TCP, LRO input and ICMP.

mod common;

use std::cell::RefCell;
use std::process::Command;

use common::*;
use skbnet::dev::{Features, NetDevice};
use skbnet::time::Instant;
use skbnet_nic_sim::link::{Link, LinkConfig, PcapNgTap, Side};
use skbnet_nic_sim::pcap::{IoSink, LinkType, PcapNgWriter};

#[test]
fn tshark_reads_our_pcapng_without_malformed_packets_or_bad_checksums() {
    let path = std::env::temp_dir().join(format!("skbnet-dev-{}.pcapng", std::process::id()));
    let writer = RefCell::new(PcapNgWriter::new(IoSink(std::fs::File::create(&path).unwrap())).unwrap());
    let if0 = writer.borrow_mut().add_interface("a-b", LinkType::Ethernet).unwrap();
    let if1 = writer.borrow_mut().add_interface("b-c", LinkType::Ethernet).unwrap();
    let mut st = storage();
    let mut pool = st.pool();
    let ab = Box::new(RefCell::new(Link::<512, 1514, _>::new(LinkConfig::ethernet(), 1, PcapNgTap::new(&writer, if0))));
    let bc = Box::new(RefCell::new(Link::<512, 1514, _>::new(LinkConfig::ethernet(), 2, PcapNgTap::new(&writer, if1))));
    let mut a = nic(MAC_A, &ab, Side::A, |_| {});
    // b forwards: its receive side faces a, its transmit side faces c.
    let mut b_in = nic(MAC_B, &ab, Side::B, |c| c.offloads = Features::NONE);
    let mut b_out = nic(MAC_B, &bc, Side::A, |c| {
        c.offloads = Features::NONE;
        // A byte-queue limit large enough that forwarding a burst never pushes back.
        c.bql_min = 1 << 20;
    });
    let mut c = nic([2, 0, 0, 0, 0, 0x0c], &bc, Side::B, |c| c.offloads = Features::NONE);
    a.open(&mut pool).unwrap();
    b_in.open(&mut pool).unwrap();
    b_out.open(&mut pool).unwrap();
    c.open(&mut pool).unwrap();
    // a -> b: a 30 kB TSO super-packet, segmented by a's hardware.
    let payload = payload_of(30_000, 5);
    let skb = super_packet(&mut pool, &Seg { psh: true, ..Seg::default() }, &payload, 1448);
    assert!(send(&mut pool, &mut a, skb).is_none());
    let mut frames = 0;
    for t in 0..5u64 {
        let now = Instant::from_micros(t * 100);
        a.run_hardware(now, &mut pool);
        b_in.run_hardware(now, &mut pool);
        a.reclaim_tx(&mut pool, now);
        let mut q = poll_all(&mut pool, &mut b_in);
        // b forwards what it got to c, unchanged.
        while let Some(skb) = q.pop_front(&mut pool) {
            frames += 1;
            assert!(send(&mut pool, &mut b_out, skb).is_none());
        }
        b_out.run_hardware(now, &mut pool);
        c.run_hardware(now, &mut pool);
        b_out.reclaim_tx(&mut pool, now);
        let mut q = poll_all(&mut pool, &mut c);
        q.purge(&mut pool);
    }
    assert_eq!(frames, 21);
    a.close(&mut pool);
    b_in.close(&mut pool);
    b_out.close(&mut pool);
    c.close(&mut pool);
    assert!(pool.stats().is_idle());
    drop((a, b_in, b_out, c));
    drop((ab, bc));
    let w = writer.into_inner();
    assert_eq!(w.errors(), 0);
    drop(w);

    let Some(tshark) = tool_or_skip("tshark") else { return };
    let run = |args: &[&str]| {
        let out = Command::new(&tshark).arg("-r").arg(&path).args(args).output().unwrap();
        assert!(out.status.success(), "tshark failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let ifaces = run(&["-T", "fields", "-e", "frame.interface_id"]);
    let per_if = |i: &str| ifaces.lines().filter(|l| *l == i).count();
    assert_eq!((per_if("0"), per_if("1")), (21, 21), "every frame on both links");
    let bad = run(&CHECKS);
    assert_eq!(bad, "", "malformed packets or bad checksums");
    let tcp = run(&["-Y", "tcp.len == 1448", "-T", "fields", "-e", "tcp.seq_raw"]);
    assert_eq!(tcp.lines().count(), 40, "20 full segments per link");
    std::fs::remove_file(&path).unwrap();

    // The control: the same filter does catch a bad checksum.
    let mut w = PcapNgWriter::new(IoSink(std::fs::File::create(&path).unwrap())).unwrap();
    let i = w.add_interface("control", LinkType::Ethernet).unwrap();
    let mut f = tcp_frame(&Seg::default(), &[1, 2, 3]);
    *f.last_mut().unwrap() ^= 0x40;
    w.write_packet(i, Instant::ZERO, skbnet_nic_sim::pcap::Direction::Outbound, &f).unwrap();
    drop(w);
    assert_eq!(run(&CHECKS).lines().count(), 1, "the filter finds a corrupted segment");
    std::fs::remove_file(&path).unwrap();
}

const CHECKS: [&str; 8] = [
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    "-Y",
    "_ws.malformed || ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0",
];

//! smoltcp, an independent stack, on the simulated wire: it answers the ARP
//! request and the pings our NIC puts on the link, and its replies come back
//! through our NIC's receive ring intact.

mod common;

use common::*;
use core::net::Ipv4Addr;
use skbnet::dev::{Features, NetDevice};
use skbnet::time::Instant;
use skbnet::wire::{
    ArpOp, ArpPacket, ArpRepr, EtherType, EthernetFrame, EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpProtocol,
    Ipv4Packet, Ipv4Repr, MacAddr,
};
use skbnet_nic_sim::link::{NoTap, Side};
use skbnet_nic_sim::smoltcp_phy::SmolPort;
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

fn eth(dst: MacAddr, ethertype: EtherType, payload_len: usize) -> Vec<u8> {
    let mut f = vec![0u8; 14 + payload_len];
    EthernetRepr { dst, src: MacAddr(MAC_A), vlan: None, ethertype }.emit(&mut f).unwrap();
    f
}

fn arp_request() -> Vec<u8> {
    let mut f = eth(MacAddr::BROADCAST, EtherType::ARP, 28);
    let repr = ArpRepr {
        op: ArpOp::Request,
        sender_hw: MacAddr(MAC_A),
        sender_ip: Ipv4Addr::from(IP_A),
        target_hw: MacAddr::ZERO,
        target_ip: Ipv4Addr::from(IP_B),
    };
    repr.emit(&mut f[14..]).unwrap();
    f
}

fn ping(seq: u16, data: &[u8]) -> Vec<u8> {
    let icmp = Icmpv4Repr::EchoRequest { ident: 0x1234, seq, data };
    let ip = Ipv4Repr {
        src: Ipv4Addr::from(IP_A),
        dst: Ipv4Addr::from(IP_B),
        protocol: IpProtocol::ICMP,
        ttl: 64,
        ident: seq,
        dont_frag: true,
        payload_len: icmp.len() as u16,
        dscp: 0,
        ecn: 0,
    };
    let mut f = eth(MacAddr(MAC_B), EtherType::IPV4, 20 + icmp.len());
    ip.emit(&mut f[14..]).unwrap();
    icmp.emit(&mut f[34..]).unwrap();
    f
}

#[test]
fn smoltcp_answers_arp_and_ping_over_a_nic_sim_link() {
    let mut st = storage();
    let mut pool = st.pool();
    let link = link(NoTap);
    let mut a = nic(MAC_A, &link, Side::A, |c| c.offloads = Features::NONE);
    a.open(&mut pool).unwrap();

    let smol_now = |t: Instant| smoltcp::time::Instant::from_micros(t.micros() as i64);
    let config = Config::new(HardwareAddress::Ethernet(EthernetAddress(MAC_B)));
    let mut iface = Interface::new(config, &mut SmolPort::ethernet(&link, Side::B), smol_now(Instant::ZERO));
    iface.update_ip_addrs(|addrs| addrs.push(IpCidr::new(IpAddress::v4(10, 0, 0, 2), 24)).unwrap());
    let mut sockets = SocketSet::new(vec![]);

    let mut frames = vec![arp_request()];
    let data: Vec<Vec<u8>> = (0..5u16).map(|i| payload_of(56 + usize::from(i) * 300, i as u8)).collect();
    frames.extend(data.iter().enumerate().map(|(i, d)| ping(i as u16, d)));
    let mut replies = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let now = Instant::from_millis(i as u64);
        let skb = rx_skb(&mut pool, f);
        assert!(send(&mut pool, &mut a, skb).is_none());
        a.run_hardware(now, &mut pool);
        iface.poll(smol_now(now), &mut SmolPort::ethernet(&link, Side::B), &mut sockets);
        a.run_hardware(now, &mut pool);
        a.reclaim_tx(&mut pool, now);
        let mut q = poll_all(&mut pool, &mut a);
        replies.extend(drain_bytes(&mut pool, &mut q));
    }
    assert_eq!(replies.len(), 6, "one ARP reply and five echo replies");

    let f = EthernetFrame::new_checked(&replies[0][..]).unwrap();
    assert_eq!((f.dst(), f.src(), f.ethertype()), (MacAddr(MAC_A), MacAddr(MAC_B), EtherType::ARP));
    let arp = ArpRepr::parse(&ArpPacket::new_checked(f.payload()).unwrap());
    assert_eq!(arp.op, ArpOp::Reply);
    assert_eq!((arp.sender_hw, arp.sender_ip), (MacAddr(MAC_B), Ipv4Addr::from(IP_B)));
    assert_eq!((arp.target_hw, arp.target_ip), (MacAddr(MAC_A), Ipv4Addr::from(IP_A)));

    for (i, r) in replies[1..].iter().enumerate() {
        let f = EthernetFrame::new_checked(&r[..]).unwrap();
        let ip = Ipv4Packet::new_checked(f.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!((ip.src(), ip.dst(), ip.protocol()), (Ipv4Addr::from(IP_B), Ipv4Addr::from(IP_A), IpProtocol::ICMP));
        let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
        assert!(icmp.verify_checksum());
        match Icmpv4Repr::parse(&icmp).unwrap() {
            Icmpv4Repr::EchoReply { ident, seq, data: d } => {
                assert_eq!((ident, seq), (0x1234, i as u16));
                assert_eq!(d, &data[i][..], "echo data byte for byte");
            }
            other => panic!("expected an echo reply, got {other:?}"),
        }
    }
    a.close(&mut pool);
    assert!(pool.stats().is_idle());
}

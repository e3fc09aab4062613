//! Interface indexes: handed out by a counter that only grows, so an index
//! a deleted interface held names nothing until the counter wraps, and the
//! wrap skips indexes still in use.

use super::{NsId, SmallWorldStorage, World};
use crate::skb::{PoolStorage, SkbPool};

fn world() -> World<'static> {
    let storage = Box::leak(Box::new(SmallWorldStorage::new()));
    let pool = SkbPool::new(Box::leak(Box::new(PoolStorage::<64, 64, 2048, 16>::new())));
    World::new(storage, pool, [7; 16]).unwrap()
}

#[test]
fn a_deleted_interfaces_index_is_not_handed_out_again() {
    let mut w = world();
    let lo = w.loopback(NsId::INIT).unwrap();
    let (a, b) = w.add_veth(NsId::INIT, "a", NsId::INIT, "b").unwrap();
    assert_eq!((lo, a, b), (1, 2, 3), "indexes count up from 1");
    w.del_link(a).unwrap();
    let (c, d) = w.add_veth(NsId::INIT, "c", NsId::INIT, "d").unwrap();
    assert_eq!((c, d), (4, 5), "the freed 2 and 3 are skipped");
    assert!(w.iface_info(a).is_none() && w.iface_info(b).is_none());
    assert_eq!(w.iface_by_name(NsId::INIT, "c"), Some(c));
    assert_eq!(w.iface_info(d).map(|i| i.ifindex), Some(d));
    assert!(w.del_link(a).is_err(), "deleting a stale index deletes nothing");
    assert_eq!(w.ifaces(NsId::INIT).collect::<Vec<_>>(), [lo, c, d], "4 and 5 took slots 3 and 4");
}

#[test]
fn the_counter_wraps_past_indexes_in_use() {
    let mut w = world();
    w.next_ifindex = u16::MAX - 2;
    let (a, b) = w.add_veth(NsId::INIT, "a", NsId::INIT, "b").unwrap();
    assert_eq!((a, b), (u16::MAX - 2, u16::MAX - 1));
    w.del_link(a).unwrap();
    let (c, d) = w.add_veth(NsId::INIT, "c", NsId::INIT, "d").unwrap();
    // 65535, then 0 is never an index and 1 is lo's: 2 is next.
    assert_eq!((c, d), (u16::MAX, 2));
    assert_eq!(w.iface_info(c).map(|i| i.name), Some("c".try_into().unwrap()));
    assert_eq!(w.iface_info(d).map(|i| i.name), Some("d".try_into().unwrap()));
    assert!(w.iface_info(a).is_none() && w.iface_info(b).is_none());
}

#[test]
fn every_slot_can_be_filled_whatever_the_counter() {
    let mut w = world();
    // 16 slots, lo holds one: 15 more, with the counter at an awkward value.
    w.next_ifindex = 40_000;
    let mut made = Vec::new();
    for k in 0..15 {
        let name = format!("br{k}");
        made.push(w.add_bridge(NsId::INIT, &name).unwrap());
    }
    assert!(w.add_bridge(NsId::INIT, "one_more").is_err(), "full");
    let mut sorted = made.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 15, "indexes are distinct: {made:?}");
    for (k, i) in made.iter().enumerate() {
        assert_eq!(w.iface_info(*i).unwrap().name.as_str(), format!("br{k}"));
    }
    for i in made {
        w.del_link(i).unwrap();
    }
    assert_eq!(w.ifaces(NsId::INIT).count(), 1, "only lo left");
    assert!(w.pool_ref().stats().is_idle());
}

/// Regression: a ping socket wrote its header through the first buffer
/// alone, so with pool buffers too small for the headroom plus the message
/// (the message then starts in the next buffer) it indexed out of bounds.
#[test]
fn ping_works_with_the_smallest_buffers() {
    let storage = Box::leak(Box::new(SmallWorldStorage::new()));
    let pool = SkbPool::new(Box::leak(Box::new(PoolStorage::<256, 256, 128, 16>::new())));
    let mut w = World::new(storage, pool, [7; 16]).unwrap();
    let p = w.socket(NsId::INIT, crate::socket::SockType::Ping).unwrap();
    let to = core::net::SocketAddr::from((core::net::Ipv4Addr::LOCALHOST, 0));
    let echo = [8, 0, 0, 0, 0, 0, 0, 1, b'h', b'i'];
    assert_eq!(w.sendmsg(p, &echo, Some(to)), Ok(echo.len()));
    let mut buf = [0u8; 64];
    let mut got = None;
    for ms in 0..10 {
        w.poll(crate::time::Instant::from_millis(ms));
        if let Ok(m) = w.recvmsg(p, &mut buf) {
            got = Some(m.len);
            break;
        }
    }
    let n = got.expect("the echo reply");
    assert_eq!((buf[0], &buf[6..n]), (0, &[0, 1, b'h', b'i'][..]), "a reply with our sequence and data");
    w.close(p).unwrap();
    w.shutdown();
    assert!(w.pool_ref().stats().is_idle());
}

/// Regression: the search for an index tried one round of values, which
/// the wrap from 65535 to 1 breaks: with only the last slot free and the
/// counter just below the wrap, it said "full".
#[test]
fn the_last_free_slot_is_found_across_the_wrap() {
    let mut w = world();
    // lo is 1 in slot 0; these take 2..=15 in slots 1..=14: slot 15 is free.
    let made: Vec<_> = (0..14).map(|k| w.add_bridge(NsId::INIT, &format!("br{k}")).unwrap()).collect();
    assert_eq!(made.last(), Some(&15));
    w.next_ifindex = u16::MAX - 5;
    let last = w.add_bridge(NsId::INIT, "last").unwrap();
    assert_eq!(last, 16, "65530..65535 and 1..15 land on full slots; 16 is slot 15's");
    assert_eq!(w.iface_info(last).unwrap().name.as_str(), "last");
}

/// A veth end takes no frame longer than its own MTU allows, whatever the
/// sending end's MTU (Linux's `is_skb_forwardable`): with MTUs that do
/// not match, a big ping is dropped at the small end and counted there.
#[test]
fn a_veth_end_drops_frames_longer_than_its_mtu() {
    use core::net::{Ipv4Addr, SocketAddr};
    let mut w = world();
    let ns = w.add_netns("far").unwrap();
    let (a, b) = w.add_veth(NsId::INIT, "va", ns, "vb").unwrap();
    for (i, addr) in [(a, Ipv4Addr::new(10, 5, 0, 1)), (b, Ipv4Addr::new(10, 5, 0, 2))] {
        w.set_link_up(i, true).unwrap();
        w.add_addr(i, addr, 24).unwrap();
    }
    w.set_mtu(b, 576).unwrap();
    let p = w.socket(NsId::INIT, crate::socket::SockType::Ping).unwrap();
    let to = SocketAddr::from((Ipv4Addr::new(10, 5, 0, 2), 0));
    let mut ping = [0u8; 1000];
    ping[0] = 8;
    let answered = |w: &mut World<'static>, len: usize, from_ms: u64| {
        w.sendmsg(p, &ping[..len], Some(to)).unwrap();
        let mut buf = [0u8; 1100];
        (from_ms..from_ms + 20).any(|ms| {
            w.poll(crate::time::Instant::from_millis(ms));
            w.recvmsg(p, &mut buf).is_ok()
        })
    };
    assert!(answered(&mut w, 500, 0), "a ping that fits both MTUs");
    let dropped = w.device_stats(b).unwrap().rx_dropped;
    assert!(!answered(&mut w, 1000, 100), "1028 bytes do not fit the far end's 576");
    assert_eq!(w.device_stats(b).unwrap().rx_dropped, dropped + 1);
    w.close(p).unwrap();
    w.shutdown();
    assert!(w.pool_ref().stats().is_idle());
}

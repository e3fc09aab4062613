//! A driver's carrier, changing under the stack (the cable pulled out of
//! the router's outside port, then put back): routes through it stop and
//! start matching at once, netlink listeners hear both changes, and what
//! waited for the link is dropped and counted.

mod nf_common;

use nf_common::*;
use skbnet::netlink::link::LinkMsg;
use skbnet::netlink::msg::messages;
use skbnet::netlink::uapi::{RTM_NEWLINK, RTNLGRP_LINK};
use skbnet::socket::{Errno, SockType};
use skbnet::stats::DropReason;

#[test]
fn pulling_the_cable_stops_routes_and_putting_it_back_restores_them() {
    with_topo::<64>(Opts::default(), |w, t| {
        let mut mon = w.netlink_socket(t.r, 1).unwrap();
        w.netlink_subscribe(&mut mon, RTNLGRP_LINK).unwrap();
        let server = udp_bound(w, t.s, 7);
        let c = w.socket(t.r, SockType::Udp).unwrap();
        w.sendmsg(c, b"before", Some(sa(S, 7))).unwrap();
        assert_eq!(recv(w, t, server, 200).unwrap().0, b"before");
        // A datagram for a neighbour that never answers waits for ARP.
        w.sendmsg(c, b"waits", Some(sa(std::net::Ipv4Addr::new(198, 51, 100, 77), 7))).unwrap();
        advance(w, t, 5);
        let link_down = w.stats(t.r).unwrap().drops.get(DropReason::LinkDown);

        t.links[0].borrow_mut().set_plugged(false);
        advance(w, t, 5);
        let info = w.iface_info(t.r_out).unwrap();
        assert!(info.up && !info.carrier, "still up, no carrier");
        assert_eq!(w.sendmsg(c, b"during", Some(sa(S, 7))), Err(Errno::NetUnreachable), "the route stopped matching");
        assert_eq!(
            w.stats(t.r).unwrap().drops.get(DropReason::LinkDown),
            link_down + 1,
            "what waited for ARP is dropped with the carrier"
        );

        t.links[0].borrow_mut().set_plugged(true);
        advance(w, t, 5);
        assert!(w.iface_info(t.r_out).unwrap().carrier);
        w.sendmsg(c, b"after", Some(sa(S, 7))).unwrap();
        assert_eq!(recv(w, t, server, 200).unwrap().0, b"after");

        // `ip monitor link`: the outside port lost its carrier, then got it back.
        let mut buf = vec![0u8; 8192];
        let n = w.netlink_recv(&mut mon, &mut buf).unwrap();
        let carrier: Vec<_> = messages(&buf[..n])
            .map(Result::unwrap)
            .filter(|m| m.header.ty == RTM_NEWLINK)
            .map(|m| LinkMsg::parse(m.payload).unwrap())
            .filter(|l| l.header.index == i32::from(t.r_out))
            .map(|l| l.carrier)
            .collect();
        assert_eq!(carrier, [Some(0), Some(1)]);
        w.close(c).unwrap();
        w.close(server).unwrap();
    });
}

//! The demo's world: pool memory, two links, four simulated NICs, and the
//! three namespaces configured as `ip netns`, `ip link`, `ip addr`,
//! `ip route` and `sysctl` would configure them.
//!
//! ```text
//!  h1 eth0 10.0.1.2/24 ---- 10.0.1.1/24 eth0  r  eth1 10.0.2.1/24 ---- 10.0.2.2/24 eth0 h2
//!         link h1-r: MTU 1500, 1 Gb/s, 50 us      link r-h2: MTU 1000, 100 Mb/s, 200 us
//! ```

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::time::Duration;

use skbnet::netns::{NsId, World};
use skbnet::skb::{BufInfo, Head, IfIndex, OwnerSlot, PoolParts, SkbPool};
use skbnet::wire::MacAddr;
use skbnet_nic_sim::link::{Link, LinkConfig, Side};
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::LinkPort;

use super::capture::{Capture, DemoTap};
use super::{Context, Failed};

/// h1's address.
pub const H1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
/// The router's address on h1's link.
pub const R1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
/// The router's address on h2's link.
pub const R2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
/// h2's address.
pub const H2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

/// Frames a link holds queued or in flight, both directions together. On
/// r-h2 they are the router's queue towards the slower link: room for a
/// whole TCP window (about 100 frames here), so the TCP scene loses nothing.
const LINK_SLOTS: usize = 256;
/// Largest frame a link slot holds (an Ethernet frame for MTU 1500).
const LINK_FRAME: usize = 1514;
/// Largest frame (or TSO super-packet) a NIC's device model handles.
const NIC_FRAME: usize = 66_000;
/// Sizes of the pool: heads, buffers, bytes per buffer, accounting owners.
const POOL_HEADS: usize = 1024;
const POOL_BUFS: usize = 512;
const POOL_BUF_SIZE: usize = 2048;
const POOL_OWNERS: usize = 32;

/// A link of the demo, printing and capturing what it delivers.
pub type DemoLink<'c> = Link<LINK_SLOTS, LINK_FRAME, DemoTap<'c>>;

/// A simulated NIC of the demo (64 TX and 64 RX descriptors), cabled to a link.
pub type DemoNic<'l, 'c> = SimNic<64, 64, NIC_FRAME, LinkPort<'l, LINK_SLOTS, LINK_FRAME, DemoTap<'c>>>;

/// Pool memory on the heap: a `PoolStorage` of this size would not fit on
/// the stack while it is built.
pub struct PoolMem {
    heads: Vec<Head>,
    info: Vec<BufInfo>,
    data: Vec<u8>,
    owners: Vec<OwnerSlot>,
}

impl PoolMem {
    /// Empty pool memory.
    pub fn new() -> PoolMem {
        PoolMem {
            heads: vec![Head::EMPTY; POOL_HEADS],
            info: vec![BufInfo::EMPTY; POOL_BUFS],
            data: vec![0; POOL_BUFS * POOL_BUF_SIZE],
            owners: vec![OwnerSlot::EMPTY; POOL_OWNERS],
        }
    }

    /// The pool over this memory.
    pub fn pool(&mut self) -> Result<SkbPool<'_>, Failed> {
        SkbPool::from_parts(PoolParts {
            heads: &mut self.heads,
            info: &mut self.info,
            data: &mut self.data,
            owners: &mut self.owners,
            buf_size: POOL_BUF_SIZE,
        })
        .context("building the pool")
    }
}

/// The two links, in [`super::capture::LINK_NAMES`] order.
pub struct Links<'c> {
    /// h1 (side A) to the router (side B).
    pub h1_r: Box<RefCell<DemoLink<'c>>>,
    /// The router (side A) to h2 (side B): the smaller MTU.
    pub r_h2: Box<RefCell<DemoLink<'c>>>,
}

impl<'c> Links<'c> {
    /// Both links, with fixed seeds, tapped by `capture`.
    pub fn new(capture: &'c Capture) -> Links<'c> {
        let cfg = |mtu: usize, rate_bps, delay_us| LinkConfig {
            max_frame: mtu + 14,
            rate_bps,
            delay: Duration::from_micros(delay_us),
            ..LinkConfig::ethernet()
        };
        Links {
            h1_r: Box::new(RefCell::new(Link::new(cfg(1500, 1_000_000_000, 50), 1, capture.tap(0)))),
            r_h2: Box::new(RefCell::new(Link::new(cfg(1000, 100_000_000, 200), 2, capture.tap(1)))),
        }
    }
}

/// The four NICs: one per host, two in the router.
pub struct Nics<'l, 'c> {
    h1: Box<DemoNic<'l, 'c>>,
    r0: Box<DemoNic<'l, 'c>>,
    r1: Box<DemoNic<'l, 'c>>,
    h2: Box<DemoNic<'l, 'c>>,
}

impl<'l, 'c> Nics<'l, 'c> {
    /// The NICs, cabled to `links`. Each MAC address ends in its IPv4
    /// address, so a frame's addresses say which hop it is on.
    pub fn new(links: &'l Links<'c>) -> Nics<'l, 'c> {
        let nic = |ip: Ipv4Addr, link, side, mtu| {
            let [_, b, c, d] = ip.octets();
            let mut cfg = NicConfig::ethernet(MacAddr([2, 0, 10, b, c, d]));
            cfg.mtu = mtu;
            Box::new(DemoNic::new(cfg, LinkPort::new(link, side)))
        };
        Nics {
            h1: nic(H1, &links.h1_r, Side::A, 1500),
            r0: nic(R1, &links.h1_r, Side::B, 1500),
            r1: nic(R2, &links.r_h2, Side::A, 1000),
            h2: nic(H2, &links.r_h2, Side::B, 1000),
        }
    }
}

/// The demo's three namespaces, and the interfaces whose counters the
/// TCP scene reads.
#[derive(Clone, Copy, Debug)]
pub struct Topo {
    /// The first host.
    pub h1: NsId,
    /// The router.
    pub r: NsId,
    /// The second host.
    pub h2: NsId,
    /// h1's interface.
    pub h1_eth0: IfIndex,
    /// The router's interface on h1's link.
    pub r_eth0: IfIndex,
}

/// The picture at the top of the demo's output.
pub const PICTURE: &str = "\
h1 eth0 10.0.1.2 ---[h1-r: MTU 1500]--- 10.0.1.1 eth0 (r) eth1 10.0.2.1 ---[r-h2: MTU 1000]--- 10.0.2.2 eth0 h2
(virtual time; each frame is printed when its link delivers it)";

/// Create the namespaces, lend them the NICs, and configure addresses,
/// default routes and forwarding.
pub fn build<'a>(world: &mut World<'a>, nics: &'a mut Nics<'_, '_>) -> Result<Topo, Failed> {
    let h1 = world.add_netns("h1").context("ip netns add h1")?;
    let r = world.add_netns("r").context("ip netns add r")?;
    let h2 = world.add_netns("h2").context("ip netns add h2")?;
    let h1_eth0 = attach(world, h1, "eth0", &mut nics.h1, H1)?;
    let r_eth0 = attach(world, r, "eth0", &mut nics.r0, R1)?;
    attach(world, r, "eth1", &mut nics.r1, R2)?;
    attach(world, h2, "eth0", &mut nics.h2, H2)?;
    let topo = Topo { h1, r, h2, h1_eth0, r_eth0 };
    world.add_route_via(topo.h1, Ipv4Addr::UNSPECIFIED, 0, R1).context("h1: ip route add default")?;
    world.add_route_via(topo.h2, Ipv4Addr::UNSPECIFIED, 0, R2).context("h2: ip route add default")?;
    let mut s = world.sysctl(topo.r).ok_or_else(|| Failed("r has no settings".into()))?;
    s.ip_forward = true;
    world.set_sysctl(topo.r, s).context("r: sysctl net.ipv4.ip_forward=1")?;
    Ok(topo)
}

/// Add `nic` to `ns` as `name`, bring it up and give it `addr`/24.
fn attach<'a>(
    world: &mut World<'a>,
    ns: NsId,
    name: &str,
    nic: &'a mut DemoNic<'_, '_>,
    addr: Ipv4Addr,
) -> Result<IfIndex, Failed> {
    let what = format!("{addr}: {name}");
    let i = world.add_device(ns, name, nic).context(&what)?;
    world.set_link_up(i, true).context(&what)?;
    world.add_addr(i, addr, 24).context(&what)?;
    Ok(i)
}

//! Links the world makes and unmakes: veth pairs, bridges and their ports,
//! moving an interface to another namespace, deleting interfaces and whole
//! namespaces (`ip link add|del|set ... netns|master`, `ip netns del`).
//!
//! Each change keeps what depends on it right, as Linux's netdevice
//! notifiers do: an interface that goes away or moves is set down first,
//! loses its addresses (and so their routes), its remaining routes and its
//! neighbours; a port leaves its bridge and the bridge forgets what it
//! learned behind it; a veth end takes its peer with it. Every change is
//! recorded for netlink subscribers ([`crate::netlink::notify`]).

use super::{Device, NsId, World};
use crate::dev::bridge::Bridge;
use crate::dev::veth::Veth;
use crate::dev::{Medium, NetDevice};
use crate::netfilter::NfHooks;
use crate::netlink::notify::{LinkState, RtEvent};
use crate::netlink::uapi::*;
use crate::netns::{Name, NetnsError};
use crate::skb::{IfIndex, SkbQueue};
use crate::wire::MacAddr;

/// Frames a veth end or a bridge holds between polls, each way.
const DEV_QUEUE: usize = 256;

impl<'a, H: NfHooks> World<'a, H> {
    /// A hardware address for a device the world makes: locally
    /// administered unicast, keyed by the world's secret so that two runs
    /// with the same secret build the same network.
    fn new_mac(&mut self) -> MacAddr {
        self.dev_seq = self.dev_seq.wrapping_add(1);
        let s = self.dev_seq.to_be_bytes();
        let h = self.keyed_hash(&[b'm', s[0], s[1], s[2], s[3]]).to_be_bytes();
        MacAddr([(h[0] & 0xfe) | 0x02, h[1], h[2], h[3], h[4], h[5]])
    }

    /// Create a veth pair (`ip link add NAME type veth peer name PEER
    /// [netns NS]`): `name` in `ns`, `peer_name` in `peer_ns`, both down.
    pub fn add_veth(
        &mut self,
        ns: NsId,
        name: &str,
        peer_ns: NsId,
        peer_name: &str,
    ) -> Result<(IfIndex, IfIndex), NetnsError> {
        if self.netns(ns).is_none() || self.netns(peer_ns).is_none() {
            return Err(NetnsError::NotFound);
        }
        if (ns == peer_ns && name == peer_name)
            || self.iface_by_name(ns, name).is_some()
            || self.iface_by_name(peer_ns, peer_name).is_some()
        {
            return Err(NetnsError::Exists);
        }
        if self.ifaces.iter().filter(|i| i.is_none()).count() < 2 {
            return Err(NetnsError::Full);
        }
        let (mac_a, mac_b) = (self.new_mac(), self.new_mac());
        let a = self.add_iface_inner(ns, name, Device::Veth(Veth::new(0, mac_a, DEV_QUEUE)))?;
        let b = match self.add_iface_inner(peer_ns, peer_name, Device::Veth(Veth::new(a, mac_b, DEV_QUEUE))) {
            Ok(b) => b,
            Err(e) => {
                self.remove_iface(a);
                return Err(e);
            }
        };
        if let Some(Device::Veth(v)) = self.iface_mut(a).map(|i| &mut i.dev) {
            v.set_peer(b);
        }
        self.notify_link(a, false);
        self.notify_link(b, false);
        Ok((a, b))
    }

    /// Create a bridge (`ip link add NAME type bridge`), down, with no ports.
    pub fn add_bridge(&mut self, ns: NsId, name: &str) -> Result<IfIndex, NetnsError> {
        let mac = self.new_mac();
        let br = self.add_iface_inner(ns, name, Device::Bridge(Bridge::new(mac, DEV_QUEUE)))?;
        self.notify_link(br, false);
        Ok(br)
    }

    /// Make `port` a port of bridge `bridge` (`ip link set PORT master
    /// BRIDGE`), or of none with `bridge` 0 (`nomaster`). The port must be
    /// an Ethernet interface of the bridge's namespace, and not a bridge.
    pub fn set_master(&mut self, port: IfIndex, bridge: IfIndex) -> Result<(), NetnsError> {
        let p = self.iface(port).ok_or(NetnsError::NotFound)?;
        let (ns, old) = (p.ns, p.master);
        if bridge != 0 {
            let b = self.iface(bridge).ok_or(NetnsError::NotFound)?;
            if b.ns != ns || !matches!(b.dev, Device::Bridge(_)) {
                return Err(NetnsError::NotFound);
            }
            if matches!(p.dev, Device::Bridge(_)) || p.dev.get().medium() != Medium::Ethernet {
                return Err(NetnsError::Invalid);
            }
        }
        if old == bridge {
            return Ok(());
        }
        if old != 0 {
            self.fdb.flush(old, Some(port));
        }
        if let Some(p) = self.iface_mut(port) {
            p.master = bridge;
        }
        self.notify_link(port, false);
        for b in [old, bridge] {
            self.bridge_update_carrier(b);
        }
        Ok(())
    }

    /// The bridge's carrier follows its ports: up when one of them has one.
    fn bridge_update_carrier(&mut self, bridge: IfIndex) {
        if !self.iface(bridge).is_some_and(|b| matches!(b.dev, Device::Bridge(_))) {
            return;
        }
        let on = self.ifaces.iter().flatten().any(|i| i.master == bridge && i.up && i.dev.get().link_up());
        let changed = match self.iface_mut(bridge).map(|b| &mut b.dev) {
            Some(Device::Bridge(b)) => {
                let was = b.link_up();
                b.set_carrier(on);
                was != b.link_up()
            }
            _ => false,
        };
        if changed {
            self.fib.invalidate();
            self.notify_link(bridge, false);
        }
    }

    /// After `ifindex` went up or down: tell a veth's peer (its carrier
    /// changed), let bridges follow their ports, and report the change.
    pub(crate) fn link_changed(&mut self, ifindex: IfIndex) {
        let Some(i) = self.iface(ifindex) else { return };
        let (open, master) = (i.up, i.master);
        let peer = match &i.dev {
            Device::Veth(v) => v.peer(),
            _ => 0,
        };
        self.notify_link(ifindex, false);
        if let Some(Device::Veth(v)) = self.iface_mut(peer).map(|p| &mut p.dev) {
            v.set_peer_open(open);
            self.fib.invalidate();
            // The peer lost its carrier: what waited to go out of it, the
            // neighbours it learned and, if it is a bridge port, the
            // addresses behind it go, as a NIC's carrier loss takes them.
            if !open {
                self.link_lost(peer, true);
            }
            self.notify_link(peer, false);
        }
        self.bridge_update_carrier(master);
        if let Some(m) = self.iface(peer).map(|p| p.master) {
            self.bridge_update_carrier(m);
        }
    }

    /// Move an interface to namespace `ns` (`ip link set DEV netns NS`). It
    /// arrives down, without addresses, routes, neighbours or bridge. The
    /// loopback and bridges stay where they are (`EINVAL` in Linux: they are
    /// `NETIF_F_NETNS_LOCAL`).
    pub fn set_link_netns(&mut self, ifindex: IfIndex, ns: NsId) -> Result<(), NetnsError> {
        let i = self.iface(ifindex).ok_or(NetnsError::NotFound)?;
        if self.netns(ns).is_none() {
            return Err(NetnsError::NotFound);
        }
        if matches!(i.dev, Device::Loopback(_) | Device::Bridge(_)) {
            return Err(NetnsError::Busy);
        }
        if i.ns == ns {
            return Ok(());
        }
        if self.iface_by_name(ns, &i.name.clone()).is_some() {
            return Err(NetnsError::Exists);
        }
        self.unplug(ifindex);
        self.notify_link(ifindex, true);
        if let Some(i) = self.iface_mut(ifindex) {
            i.ns = ns;
        }
        self.if_gen = self.if_gen.wrapping_add(1);
        self.notify_link(ifindex, false);
        // The peer's view of where its other end lives changed.
        if let Some(Device::Veth(v)) = self.iface(ifindex).map(|i| &i.dev) {
            let peer = v.peer();
            self.notify_link(peer, false);
        }
        Ok(())
    }

    /// Rename an interface (`ip link set DEV name NEW`).
    pub fn set_link_name(&mut self, ifindex: IfIndex, name: &str) -> Result<(), NetnsError> {
        let n = Name::try_from(name).map_err(|_| NetnsError::Invalid)?;
        let ns = self.iface(ifindex).ok_or(NetnsError::NotFound)?.ns;
        if self.iface_by_name(ns, name).is_some_and(|i| i != ifindex) {
            return Err(NetnsError::Exists);
        }
        if let Some(i) = self.iface_mut(ifindex) {
            i.name = n;
        }
        self.notify_link(ifindex, false);
        Ok(())
    }

    /// Delete an interface (`ip link del DEV`). A veth end takes its peer
    /// with it; a bridge lets its ports go. The loopback cannot go
    /// (`EPERM`), nor can a driver the application lent (`EOPNOTSUPP` in
    /// Linux: a physical device has no `dellink`).
    pub fn del_link(&mut self, ifindex: IfIndex) -> Result<(), NetnsError> {
        let i = self.iface(ifindex).ok_or(NetnsError::NotFound)?;
        let peer = match &i.dev {
            Device::Loopback(_) | Device::Driver(_) => return Err(NetnsError::Busy),
            Device::Veth(v) => v.peer(),
            Device::Bridge(_) | Device::Tun(_) => 0,
        };
        self.remove_iface(ifindex);
        if peer != 0 {
            self.remove_iface(peer);
        }
        Ok(())
    }

    /// Take an interface out of everything it is part of: down, no
    /// addresses, routes, neighbours, bridge, or ports.
    fn unplug(&mut self, ifindex: IfIndex) {
        let _ = self.set_link_up(ifindex, false);
        let Some(i) = self.iface(ifindex) else { return };
        let (ns, master) = (i.ns, i.master);
        // Bounded: each pass removes an address.
        for _ in 0..super::ADDRS_PER_IFACE {
            let Some(a) = self.iface(ifindex).and_then(|i| i.addrs.first().copied()) else { break };
            let _ = self.del_addr(ifindex, a.addr);
        }
        // Linux flushes the remaining routes through a vanished device
        // without notifications (`fib_sync_down_dev`).
        self.fib.remove_where(ns, |r| r.oif == ifindex);
        self.neigh.flush_iface(&mut self.pool, ifindex);
        if master != 0 {
            let _ = self.set_master(ifindex, 0);
        }
        for slot in 0..self.ifaces.len() {
            if let Some(port) = self.ifaces[slot].as_ref().filter(|p| p.master == ifindex).map(|p| p.ifindex) {
                let _ = self.set_master(port, 0);
            }
        }
        self.fdb.flush(ifindex, None);
        if let Some(i) = super::iface_in_mut(self.ifaces, ifindex) {
            let mut q = SkbQueue::new();
            i.gro.flush(&mut self.pool, &mut q);
            q.purge(&mut self.pool);
        }
        self.fib.invalidate();
    }

    /// Remove an interface and report it gone.
    fn remove_iface(&mut self, ifindex: IfIndex) {
        self.unplug(ifindex);
        let Some(state) = self.link_state(ifindex) else { return };
        let peer = match super::iface_in_mut(self.ifaces, ifindex).map(|i| &mut i.dev) {
            Some(Device::Loopback(lo)) => {
                lo.purge(&mut self.pool);
                0
            }
            Some(Device::Veth(v)) => {
                v.purge(&mut self.pool);
                v.peer()
            }
            Some(Device::Bridge(b)) => {
                b.purge(&mut self.pool);
                0
            }
            Some(Device::Tun(t)) => {
                t.purge(&mut self.pool);
                0
            }
            _ => 0,
        };
        if let Some(slot) = super::iface_slot(self.ifaces.len(), ifindex)
            && self.iface(ifindex).is_some()
        {
            self.ifaces[slot] = None;
            self.if_gen = self.if_gen.wrapping_add(1);
        }
        // A surviving peer has lost its carrier.
        if let Some(Device::Veth(v)) = self.iface_mut(peer).map(|p| &mut p.dev) {
            v.set_peer_open(false);
            self.link_changed(peer);
        }
        self.events.push(RtEvent::Link { deleted: true, link: state });
    }

    /// The first `devN` no interface of the initial namespace is called,
    /// for a driver coming home under a name that is taken there (Linux's
    /// `dev%d` in `default_device_exit_net`). There are fewer interfaces
    /// than names tried, so one is free.
    fn free_dev_name(&self) -> Name {
        (0..=self.ifaces.len())
            .map(dev_name)
            .find(|n| self.iface_by_name(NsId::INIT, n.as_str()).is_none())
            .unwrap_or_else(|| dev_name(self.ifaces.len() + 1))
    }

    /// Delete a namespace (`ip netns del`): its sockets are closed, the
    /// devices the world made for it go (a veth takes its peer along), the
    /// drivers the application lent go back to the initial namespace, down
    /// (renamed `devN` if their name is taken there), and every table
    /// forgets it. The initial namespace cannot go.
    pub fn del_netns(&mut self, ns: NsId) -> Result<(), NetnsError> {
        if ns == NsId::INIT {
            return Err(NetnsError::Busy);
        }
        let name = self.netns(ns).ok_or(NetnsError::NotFound)?.name.clone();
        self.close_ns_sockets(ns);
        let lo = self.loopback(ns).unwrap_or(0);
        for slot in 0..self.ifaces.len() {
            let Some(i) = self.ifaces[slot].as_ref() else { continue };
            let ifindex = i.ifindex;
            if i.ns != ns || ifindex == lo {
                continue;
            }
            if matches!(i.dev, Device::Driver(_)) {
                let name = i.name.clone();
                if self.iface_by_name(NsId::INIT, &name).is_some() {
                    let free = self.free_dev_name();
                    if let Some(i) = self.iface_mut(ifindex) {
                        i.name = free;
                    }
                }
                let _ = self.set_link_netns(ifindex, NsId::INIT);
            } else {
                let _ = self.del_link(ifindex);
            }
        }
        self.remove_iface(lo);
        self.fib.remove_where(ns, |_| true);
        self.reasm.forget_ns(&mut self.pool, ns);
        self.pmtu.forget_ns(ns);
        // Its rules and tracked connections go with it: the next namespace
        // made in this slot gets the same NsId and must start clean.
        if let Some(n) = self.nft.as_mut() {
            n.flush_ruleset(ns);
        }
        self.conntrack_flush(ns);
        self.events.push(RtEvent::Netns { deleted: true, id: ns, name });
        if let Some(slot) = self.ns.get_mut(usize::from(ns.0)) {
            *slot = None;
        }
        Ok(())
    }

    /// Close every socket of `ns` at once, and forget its TIME-WAIT entries.
    fn close_ns_sockets(&mut self, ns: NsId) {
        use crate::socket::Proto;
        // Bounded: each pass removes a socket.
        for _ in 0..self.socks.capacity() {
            let found = self.socks.ids().find(|&id| self.socks.get(id).is_some_and(|s| s.ns == ns));
            let Some(id) = found else { break };
            if self.socks.get(id).is_some_and(|s| s.proto == Proto::Tcp) {
                self.tcp_destroy(id);
            } else {
                let _ = self.close(id);
            }
        }
        for _ in 0..self.tw.len() {
            let Some((l, r)) = self.tw.entries(ns).next().map(|t| (t.local, t.remote)) else { break };
            let Some(i) = self.tw.find(ns, l, r) else { break };
            self.tw.remove_at(i);
        }
    }

    /// What an interface looks like to `ip link` and to netlink.
    pub fn link_state(&self, ifindex: IfIndex) -> Option<LinkState> {
        let i = self.iface(ifindex)?;
        let dev = i.dev.get();
        let medium = dev.medium();
        let carrier = i.up && dev.link_up();
        let (ty, mut flags) = match (&i.dev, medium) {
            (Device::Loopback(_), _) => (ARPHRD_LOOPBACK, IFF_LOOPBACK),
            (_, Medium::Ethernet) => (ARPHRD_ETHER, IFF_BROADCAST | IFF_MULTICAST),
            (_, Medium::Ip) => (ARPHRD_NONE, IFF_POINTOPOINT | IFF_NOARP | IFF_MULTICAST),
        };
        if i.up {
            flags |= IFF_UP;
        }
        if carrier {
            flags |= IFF_RUNNING | IFF_LOWER_UP;
        }
        let operstate = match (&i.dev, medium) {
            (Device::Loopback(_), _) | (_, Medium::Ip) => IF_OPER_UNKNOWN,
            _ if carrier => IF_OPER_UP,
            (Device::Veth(_), _) if i.up => IF_OPER_LOWERLAYERDOWN,
            _ => IF_OPER_DOWN,
        };
        let (kind, peer) = match &i.dev {
            Device::Veth(v) => (Some(crate::netlink::link::LinkKind::Veth), v.peer()),
            Device::Bridge(_) => (Some(crate::netlink::link::LinkKind::Bridge), 0),
            Device::Tun(_) => (Some(crate::netlink::link::LinkKind::Tun), 0),
            _ => (None, 0),
        };
        let peer_ns = self.iface(peer).map(|p| p.ns).filter(|&n| n != i.ns);
        let txqlen = self.netns(i.ns).map_or(1000, |n| n.sysctl.tx_queue_len);
        Some(LinkState {
            ns: i.ns,
            index: ifindex,
            name: i.name.clone(),
            ty,
            flags,
            operstate,
            mtu: i.mtu,
            mac: dev.hw_addr().or(matches!(i.dev, Device::Loopback(_)).then_some(MacAddr::ZERO)),
            kind,
            master: i.master,
            peer,
            peer_ns,
            txqlen,
        })
    }

    /// Record a link event for `ifindex` as it is now.
    pub(crate) fn notify_link(&mut self, ifindex: IfIndex, deleted: bool) {
        if let Some(link) = self.link_state(ifindex) {
            self.events.push(RtEvent::Link { deleted, link });
        }
    }

    /// Which port of which bridge knows `mac` (`bridge fdb show`).
    pub fn fdb_entries(&self, bridge: IfIndex) -> impl Iterator<Item = &crate::dev::bridge::FdbEntry> + '_ {
        self.fdb.entries(bridge)
    }
}

/// The name Linux gives a device that must be renamed (`devN`).
fn dev_name(n: usize) -> Name {
    let mut name = Name::new();
    let _ = core::fmt::write(&mut name, format_args!("dev{n}"));
    name
}

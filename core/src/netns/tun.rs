//! TUN devices in the world (`ip tuntap add dev tun0 mode tun`) and the
//! application's side of them: reading what the stack sent through one,
//! writing what it should receive (see [`crate::dev::tun`]).

use super::{Device, NsId, World};
use crate::dev::tun::{Tun, TunError};
use crate::netfilter::NfHooks;
use crate::netns::NetnsError;
use crate::skb::{IfIndex, OwnerId};

/// Packets a TUN device holds each way.
const TUN_QUEUE: usize = 64;

/// Bytes a TUN write leaves free before the packet for a link header.
const TUN_HEADROOM: usize = 32;

impl<'a, H: NfHooks> World<'a, H> {
    /// Create a TUN device (`ip tuntap add dev NAME mode tun`), down.
    pub fn add_tun(&mut self, ns: NsId, name: &str) -> Result<IfIndex, NetnsError> {
        let t = self.add_iface_inner(ns, name, Device::Tun(Tun::new(TUN_QUEUE)))?;
        self.notify_link(t, false);
        Ok(t)
    }

    /// Read the oldest packet the stack sent through TUN device `ifindex`
    /// into `buf` (a `read` of `/dev/net/tun`): its length, or `None` when
    /// nothing waits. A packet longer than `buf` is cut to fit, as a
    /// datagram read is; the length returned is then `buf.len()`.
    pub fn tun_read(&mut self, ifindex: IfIndex, buf: &mut [u8]) -> Result<Option<usize>, TunError> {
        let Some(Device::Tun(t)) = tun_slot(self.ifaces, ifindex) else {
            return Err(TunError::NotTun);
        };
        let Some(skb) = t.read(&mut self.pool) else { return Ok(None) };
        let n = self.pool.len(&skb).min(buf.len());
        let res = self.pool.copy_to_slice(&skb, 0, &mut buf[..n]);
        self.pool.free(skb);
        res.map(|()| Some(n)).map_err(|_| TunError::BadPacket)
    }

    /// Hand the stack an IP packet through TUN device `ifindex` (a `write`
    /// of `/dev/net/tun`); the next [`World::poll`] receives it.
    pub fn tun_write(&mut self, ifindex: IfIndex, packet: &[u8]) -> Result<(), TunError> {
        let mtu = match self.iface(ifindex) {
            Some(i) if matches!(i.dev, Device::Tun(_)) => usize::from(i.mtu),
            _ => return Err(TunError::NotTun),
        };
        if packet.is_empty() || packet.len() > mtu || packet.len() > self.pool.buf_size() {
            return Err(TunError::BadPacket);
        }
        // Room in front for a link header, so that forwarding the packet
        // out an Ethernet device pushes one in place (Linux's tun_get_user
        // reserves NET_SKB_PAD the same way).
        let headroom = TUN_HEADROOM.min(self.pool.buf_size() - packet.len());
        let skb = self.pool.alloc_with_headroom(OwnerId::SYSTEM, headroom).map_err(|_| TunError::BadPacket)?;
        match self.pool.put(&skb, packet.len()) {
            Ok(b) => b.copy_from_slice(packet),
            Err(_) => {
                self.pool.free(skb);
                return Err(TunError::BadPacket);
            }
        }
        match tun_slot(self.ifaces, ifindex) {
            Some(Device::Tun(t)) => t.write(&mut self.pool, skb),
            _ => {
                self.pool.free(skb);
                Err(TunError::NotTun)
            }
        }
    }
}

/// The device of interface `ifindex`, borrowing only the table.
fn tun_slot<'s, 'a>(ifaces: &'s mut [Option<super::Iface<'a>>], ifindex: IfIndex) -> Option<&'s mut Device<'a>> {
    super::iface_in_mut(ifaces, ifindex).map(|i| &mut i.dev)
}

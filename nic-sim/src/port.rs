//! What the device's PHY connects to: a simulated [`Link`] or, on a host, a
//! TUN device. The device model sends and receives whole frames through a
//! [`Port`]; a port that can carry offload metadata (TUN with
//! `IFF_VNET_HDR`) takes GSO super-packets and partial checksums as they are.

use core::cell::RefCell;

use skbnet::skb::VirtioNetHdr;
use skbnet::time::Instant;

use crate::link::{Link, LinkFrame, PendingCsum, Side, Tap};

/// A frame taken from a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxFrame {
    /// Bytes written into the caller's buffer.
    pub len: usize,
    /// Offload metadata that came with it (all zero from a plain link).
    pub vnet: VirtioNetHdr,
}

/// The far side of the device's PHY.
pub trait Port {
    /// Send `frame`; `vnet` describes pending offloads and is all zero unless
    /// [`Port::carries_offloads`] is true.
    fn transmit(&mut self, now: Instant, frame: &[u8], vnet: &VirtioNetHdr);
    /// The next frame that has arrived by `now`, copied into `buf`.
    fn receive(&mut self, now: Instant, buf: &mut [u8]) -> Option<RxFrame>;
    /// When the next frame arrives, if one is on its way.
    fn next_arrival(&self) -> Option<Instant>;
    /// Send a frame of `len` bytes that `fill` writes in place, in the
    /// port's own buffer, as a NIC's DMA engine feeds its PHY without a
    /// staging copy; `fill` returns the TCP/UDP checksum it left for the
    /// port to finish, if any (a link finishes it when the bytes are first
    /// looked at: see [`LinkFrame`]). Returns `false`, without calling
    /// `fill`, if the port has no buffer to lend: the device then stages
    /// the frame itself, finishes its checksum and calls
    /// [`Port::transmit`]. The default lends none.
    fn transmit_in_place(
        &mut self,
        _now: Instant,
        _len: usize,
        _fill: impl FnOnce(&mut [u8]) -> Option<PendingCsum>,
    ) -> bool {
        false
    }
    /// Hand the next frame that has arrived by `now` to `take`, in place in
    /// the port's buffer (its checksum perhaps still pending): `Ok(None)`
    /// when none has, `Err(take)` if the port has no buffer to lend (use
    /// [`Port::receive`]). The default lends none.
    fn receive_in_place<R, F: FnOnce(LinkFrame<'_>, &VirtioNetHdr) -> R>(
        &mut self,
        _now: Instant,
        take: F,
    ) -> Result<Option<R>, F> {
        Err(take)
    }
    /// True if the port takes GSO super-packets and partial checksums with a
    /// `virtio_net_hdr` (so the device need not segment or checksum).
    fn carries_offloads(&self) -> bool {
        false
    }
    /// True while something is plugged in at the far end (the PHY's link
    /// status, which the device reports as its carrier).
    fn carrier(&self) -> bool {
        true
    }
}

/// One side of a [`Link`] as a device's port. The link sits in a
/// `RefCell` because both of its ends (two NICs, or a NIC and a test) use it.
pub struct LinkPort<'l, const SLOTS: usize, const FRAME: usize, T: Tap> {
    link: &'l RefCell<Link<SLOTS, FRAME, T>>,
    side: Side,
}

impl<'l, const SLOTS: usize, const FRAME: usize, T: Tap> LinkPort<'l, SLOTS, FRAME, T> {
    /// The `side` end of `link`.
    pub fn new(link: &'l RefCell<Link<SLOTS, FRAME, T>>, side: Side) -> Self {
        LinkPort { link, side }
    }
}

impl<const SLOTS: usize, const FRAME: usize, T: Tap> Port for LinkPort<'_, SLOTS, FRAME, T> {
    fn transmit(&mut self, now: Instant, frame: &[u8], _vnet: &VirtioNetHdr) {
        // A giant or a full queue is counted by the link, as a real PHY
        // would drop it on the wire.
        let _ = self.link.borrow_mut().send(now, self.side, frame);
    }

    fn receive(&mut self, now: Instant, buf: &mut [u8]) -> Option<RxFrame> {
        let len = self.link.borrow_mut().recv(now, self.side, buf)?;
        Some(RxFrame { len, vnet: VirtioNetHdr::default() })
    }

    fn next_arrival(&self) -> Option<Instant> {
        self.link.borrow().next_due(self.side)
    }

    fn transmit_in_place(
        &mut self,
        now: Instant,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Option<PendingCsum>,
    ) -> bool {
        let _ = self.link.borrow_mut().send_with(now, self.side, len, fill);
        true
    }

    fn receive_in_place<R, F: FnOnce(LinkFrame<'_>, &VirtioNetHdr) -> R>(
        &mut self,
        now: Instant,
        take: F,
    ) -> Result<Option<R>, F> {
        Ok(self.link.borrow_mut().recv_with(now, self.side, |frame| take(frame, &VirtioNetHdr::default())))
    }

    fn carrier(&self) -> bool {
        self.link.borrow().plugged()
    }
}

/// A port with nothing plugged in: frames sent are lost, none arrive.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unplugged;

impl Port for Unplugged {
    fn transmit(&mut self, _now: Instant, _frame: &[u8], _vnet: &VirtioNetHdr) {}

    fn receive(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<RxFrame> {
        None
    }

    fn next_arrival(&self) -> Option<Instant> {
        None
    }

    fn carrier(&self) -> bool {
        false
    }
}

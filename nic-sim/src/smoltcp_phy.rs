//! One end of a [`Link`] as smoltcp's `phy::Device`, so smoltcp (an
//! independent stack) runs on the same simulated wire as skbnet: for interop
//! tests and side-by-side benchmarks.

use core::cell::RefCell;

use skbnet::time::Instant;
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};

use crate::link::{Link, Side, Tap};

/// smoltcp's view of the `side` end of a link.
///
/// A received frame is copied out of the link into the port's receive
/// buffer, and a frame to send is built in its transmit buffer and copied
/// onto the link: one copy each way, as a NIC's DMA makes (the link cannot
/// be lent while smoltcp answers a frame from inside its receive token).
pub struct SmolPort<'l, const SLOTS: usize, const FRAME: usize, T: Tap> {
    link: &'l RefCell<Link<SLOTS, FRAME, T>>,
    side: Side,
    medium: Medium,
    rx: [u8; FRAME],
    tx: [u8; FRAME],
}

impl<'l, const SLOTS: usize, const FRAME: usize, T: Tap> SmolPort<'l, SLOTS, FRAME, T> {
    /// The `side` end of `link`, carrying Ethernet frames.
    pub fn ethernet(link: &'l RefCell<Link<SLOTS, FRAME, T>>, side: Side) -> Self {
        SmolPort { link, side, medium: Medium::Ethernet, rx: [0; FRAME], tx: [0; FRAME] }
    }

    /// The `side` end of `link`, carrying bare IP packets.
    pub fn ip(link: &'l RefCell<Link<SLOTS, FRAME, T>>, side: Side) -> Self {
        SmolPort { link, side, medium: Medium::Ip, rx: [0; FRAME], tx: [0; FRAME] }
    }
}

fn ours(t: smoltcp::time::Instant) -> Instant {
    Instant::from_micros(u64::try_from(t.total_micros()).unwrap_or(0))
}

/// A received frame, in the port's receive buffer.
pub struct SmolRx<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for SmolRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

/// Permission to send one frame on the link, built in the port's transmit buffer.
pub struct SmolTx<'a, const SLOTS: usize, const FRAME: usize, T: Tap> {
    link: &'a RefCell<Link<SLOTS, FRAME, T>>,
    side: Side,
    now: Instant,
    buf: &'a mut [u8; FRAME],
}

impl<const SLOTS: usize, const FRAME: usize, T: Tap> phy::TxToken for SmolTx<'_, SLOTS, FRAME, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let frame = &mut self.buf[..len.min(FRAME)];
        // smoltcp writes every byte of the `len` it asks for.
        let r = f(frame);
        let _ = self.link.borrow_mut().send(self.now, self.side, frame);
        r
    }
}

impl<const SLOTS: usize, const FRAME: usize, T: Tap> phy::Device for SmolPort<'_, SLOTS, FRAME, T> {
    type RxToken<'a>
        = SmolRx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = SmolTx<'a, SLOTS, FRAME, T>
    where
        Self: 'a;

    fn receive(&mut self, t: smoltcp::time::Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let now = ours(t);
        let len = self.link.borrow_mut().recv(now, self.side, &mut self.rx)?;
        let tx = SmolTx { link: self.link, side: self.side, now, buf: &mut self.tx };
        Some((SmolRx { frame: &self.rx[..len] }, tx))
    }

    fn transmit(&mut self, t: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        Some(SmolTx { link: self.link, side: self.side, now: ours(t), buf: &mut self.tx })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = self.medium;
        caps.max_transmission_unit = self.link.borrow().config().max_frame;
        caps.checksum = ChecksumCapabilities::default();
        caps.checksum.ipv4 = Checksum::Both;
        caps
    }
}

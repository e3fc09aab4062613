//! One end of a [`Link`] as smoltcp's `phy::Device`, so smoltcp (an
//! independent stack) runs on the same simulated wire as skbnet: for interop
//! tests and side-by-side benchmarks.

use core::cell::RefCell;

use skbnet::time::Instant;
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};

use crate::link::{Link, Side, Tap};

/// smoltcp's view of the `side` end of a link.
pub struct SmolPort<'l, const SLOTS: usize, const FRAME: usize, T: Tap> {
    link: &'l RefCell<Link<SLOTS, FRAME, T>>,
    side: Side,
    medium: Medium,
}

impl<'l, const SLOTS: usize, const FRAME: usize, T: Tap> SmolPort<'l, SLOTS, FRAME, T> {
    /// The `side` end of `link`, carrying Ethernet frames.
    pub fn ethernet(link: &'l RefCell<Link<SLOTS, FRAME, T>>, side: Side) -> Self {
        SmolPort { link, side, medium: Medium::Ethernet }
    }

    /// The `side` end of `link`, carrying bare IP packets.
    pub fn ip(link: &'l RefCell<Link<SLOTS, FRAME, T>>, side: Side) -> Self {
        SmolPort { link, side, medium: Medium::Ip }
    }
}

fn ours(t: smoltcp::time::Instant) -> Instant {
    Instant::from_micros(u64::try_from(t.total_micros()).unwrap_or(0))
}

/// A received frame, copied out of the link.
pub struct SmolRx<const FRAME: usize> {
    buf: [u8; FRAME],
    len: usize,
}

impl<const FRAME: usize> phy::RxToken for SmolRx<FRAME> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.buf[..self.len])
    }
}

/// Permission to send one frame on the link.
pub struct SmolTx<'a, const SLOTS: usize, const FRAME: usize, T: Tap> {
    link: &'a RefCell<Link<SLOTS, FRAME, T>>,
    side: Side,
    now: Instant,
}

impl<const SLOTS: usize, const FRAME: usize, T: Tap> phy::TxToken for SmolTx<'_, SLOTS, FRAME, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = [0u8; FRAME];
        let len = len.min(FRAME);
        let r = f(&mut buf[..len]);
        let _ = self.link.borrow_mut().send(self.now, self.side, &buf[..len]);
        r
    }
}

impl<const SLOTS: usize, const FRAME: usize, T: Tap> phy::Device for SmolPort<'_, SLOTS, FRAME, T> {
    type RxToken<'a>
        = SmolRx<FRAME>
    where
        Self: 'a;
    type TxToken<'a>
        = SmolTx<'a, SLOTS, FRAME, T>
    where
        Self: 'a;

    fn receive(&mut self, t: smoltcp::time::Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let now = ours(t);
        let mut buf = [0u8; FRAME];
        let len = self.link.borrow_mut().recv(now, self.side, &mut buf)?;
        Some((SmolRx { buf, len }, SmolTx { link: self.link, side: self.side, now }))
    }

    fn transmit(&mut self, t: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        Some(SmolTx { link: self.link, side: self.side, now: ours(t) })
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

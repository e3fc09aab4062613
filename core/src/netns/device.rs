//! What an interface drives: a built-in device the world owns (loopback,
//! veth ends, bridges, TUN devices), or a driver (a NIC, the simulated NIC, a host
//! bridge) the application owns and lends.

use crate::dev::NetDevice;
use crate::dev::bridge::Bridge;
use crate::dev::loopback::Loopback;
use crate::dev::tun::Tun;
use crate::dev::veth::Veth;

/// An interface's device.
pub enum Device<'a> {
    /// The namespace's loopback, owned by the world.
    Loopback(Loopback),
    /// One end of a veth pair, owned by the world.
    Veth(Veth),
    /// A bridge, owned by the world.
    Bridge(Bridge),
    /// A TUN device whose other side is the application, owned by the world.
    Tun(Tun),
    /// A driver lent by the application for the world's lifetime.
    Driver(&'a mut dyn NetDevice),
}

impl Device<'_> {
    /// The device as a `NetDevice`.
    pub fn get(&self) -> &dyn NetDevice {
        match self {
            Device::Loopback(lo) => lo,
            Device::Veth(v) => v,
            Device::Bridge(b) => b,
            Device::Tun(t) => t,
            Device::Driver(d) => &**d,
        }
    }

    /// The device as a `NetDevice`, for driving it.
    pub fn get_mut(&mut self) -> &mut dyn NetDevice {
        match self {
            Device::Loopback(lo) => lo,
            Device::Veth(v) => v,
            Device::Bridge(b) => b,
            Device::Tun(t) => t,
            Device::Driver(d) => &mut **d,
        }
    }
}

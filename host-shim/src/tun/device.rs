//! Creating the TUN device: `IFF_TUN | IFF_NO_PI | IFF_VNET_HDR` through
//! the `tun` crate, the offloads through `TUNSETOFFLOAD`, then Linux's side
//! of the link as `ip link set DEV mtu N`, `ip addr add A/N dev DEV` and
//! `ip link set DEV up` would set it, with the same ioctls (`SIOCSIFMTU`,
//! `SIOCSIFADDR`, `SIOCSIFNETMASK`, `SIOCSIFFLAGS`) the `tun` crate issues,
//! in this process: no `ip` command is run.
//!
//! When the machine or the user cannot do this, the error says what is
//! missing: the device node, the privilege, or the name.

use std::fs::File;
use std::io;
use std::path::Path;

use tun::AbstractDevice;

use super::opts::Options;
use super::sys;

/// The device node every TUN device is created through.
const TUN_NODE: &str = "/dev/net/tun";

/// An open TUN device, configured and up.
pub struct TunDevice {
    /// The descriptor (non-blocking), closing which removes the device.
    pub file: File,
    /// The name Linux gave it.
    pub name: String,
    /// Linux hands us partial checksums and TCP GSO super-packets.
    pub offloads: bool,
}

/// Why the device could not be made, in words for the user.
#[derive(Debug)]
pub struct OpenError(pub String);

/// Create the device as the options say.
pub fn open(opts: &Options) -> Result<TunDevice, OpenError> {
    if !Path::new(TUN_NODE).exists() {
        return Err(OpenError(format!(
            "{TUN_NODE} does not exist: this kernel has no TUN driver loaded (`modprobe tun`), or this \
             container was started without the device (e.g. `docker run --device /dev/net/tun --cap-add \
             NET_ADMIN`)"
        )));
    }
    let mut cfg = tun::Configuration::default();
    if let Some(name) = &opts.dev {
        cfg.tun_name(name);
    }
    // Addresses and flags are set below, after the offloads: nothing may
    // flow before the kernel knows what the reader accepts.
    cfg.platform_config(|p| {
        p.vnet_hdr(true);
        p.ensure_root_privileges(false);
    });
    let mut dev = tun::create(&cfg).map_err(|e| explain("create a TUN device", opts, e))?;
    let name = dev.tun_name().map_err(|e| explain("read the device's name", opts, e))?;
    let flags = if opts.offload { sys::TUN_F_CSUM | sys::TUN_F_TSO4 } else { 0 };
    sys::set_offload(&dev, flags)
        .map_err(|e| explain(&format!("set the offloads of {name} (TUNSETOFFLOAD)"), opts, e.into()))?;
    dev.set_mtu(opts.mtu).map_err(|e| explain(&format!("set the MTU of {name}"), opts, e))?;
    dev.set_address(opts.host_addr.addr.into()).map_err(|e| explain(&format!("set the address of {name}"), opts, e))?;
    dev.set_netmask(opts.host_addr.netmask().into())
        .map_err(|e| explain(&format!("set the netmask of {name}"), opts, e))?;
    dev.enabled(true).map_err(|e| explain(&format!("bring {name} up"), opts, e))?;
    dev.set_nonblock().map_err(|e| explain(&format!("make {name} non-blocking"), opts, e.into()))?;
    Ok(TunDevice { file: sys::into_file(dev), name, offloads: opts.offload })
}

/// An error of step `what`, with what the user can do about it.
fn explain(what: &str, opts: &Options, e: tun::Error) -> OpenError {
    let (io, errno) = match &e {
        tun::Error::Io(io) => (Some(io.kind()), io.raw_os_error()),
        _ => (None, None),
    };
    if errno == Some(libc::ENODEV) {
        let hint = " (the kernel has no TUN driver loaded: `modprobe tun`)";
        return OpenError(format!("cannot {what}: {e}{hint}"));
    }
    let hint = match io {
        Some(io::ErrorKind::PermissionDenied) => {
            " (creating a TUN device and setting its address needs root, or the CAP_NET_ADMIN capability: \
             run it with sudo, or `setcap cap_net_admin+ep` on the binary)"
                .to_string()
        }
        Some(io::ErrorKind::ResourceBusy) => match &opts.dev {
            Some(d) => format!(" ({d} exists and is in use: choose another --dev)"),
            None => String::new(),
        },
        Some(io::ErrorKind::InvalidInput) if opts.dev.is_some() => {
            " (is an interface of another kind already called that? choose another --dev)".to_string()
        }
        _ => String::new(),
    };
    OpenError(format!("cannot {what}: {e}{hint}"))
}

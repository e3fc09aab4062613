//! The host shim's only calls below std: every `unsafe` of the `skbnet`
//! command is in this module, and each block says why it is sound.
//!
//! - [`set_offload`]: `ioctl(TUNSETOFFLOAD)`, which the `tun` crate does not
//!   offer. It tells the kernel which offloads the reader of the TUN device
//!   (us) accepts, so Linux may hand it partial checksums and TCP GSO
//!   super-packets with a `virtio_net_hdr` in front.
//! - [`into_file`]: takes the descriptor the `tun` crate gives up with
//!   `into_raw_fd` and makes it an ordinary `std::fs::File`, whose
//!   `read_vectored`/`write_vectored` are `readv(2)`/`writev(2)`: header and
//!   packet cross in one system call, without copying them together.
//! - [`wait`]: `ppoll(2)` on the TUN device and the Ctrl-C self-pipe with a
//!   microsecond timeout, so an idle stack sleeps until `World::poll_at()`.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::time::Duration;

/// The kernel may hand us packets whose TCP/UDP checksum is left partial
/// (`VIRTIO_NET_HDR_F_NEEDS_CSUM`).
pub const TUN_F_CSUM: u32 = libc::TUN_F_CSUM;
/// ... and TCP over IPv4 GSO super-packets (requires [`TUN_F_CSUM`]).
pub const TUN_F_TSO4: u32 = libc::TUN_F_TSO4;

/// `ioctl(fd, TUNSETOFFLOAD, flags)` on the device: the offloads its
/// reader accepts (0: none, every packet arrives whole and checksummed).
pub fn set_offload(dev: &tun::Device, flags: u32) -> io::Result<()> {
    // SAFETY: TUNSETOFFLOAD takes its argument by value (an unsigned long of
    // flags), not as a pointer, so no memory is shared with the kernel; the
    // descriptor belongs to `dev`, which is borrowed, so it stays open for
    // the whole call.
    let rc = unsafe { libc::ioctl(dev.as_raw_fd(), libc::TUNSETOFFLOAD, libc::c_ulong::from(flags)) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// The TUN device as a `File` that owns its descriptor (closing it, which
/// removes the device, when it drops).
pub fn into_file(dev: tun::Device) -> File {
    let fd = dev.into_raw_fd();
    // SAFETY: `into_raw_fd` gave up the device's only handle on the
    // descriptor (the `tun` crate no longer closes it), so it is open and
    // this `OwnedFd` becomes its sole owner.
    File::from(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What [`wait`] found ready.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// The TUN device has a packet to read.
    pub tun: bool,
    /// The stop pipe has a byte (Ctrl-C or SIGTERM arrived).
    pub stop: bool,
}

/// Sleep until `tun` or `stop` is readable or `timeout` passes (`None`:
/// no timeout). A signal ends the wait early and reports nothing ready.
pub fn wait(tun: BorrowedFd<'_>, stop: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<Ready> {
    let mut fds = [
        libc::pollfd { fd: tun.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: stop.as_raw_fd(), events: libc::POLLIN, revents: 0 },
    ];
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `fds` is a live array of two initialised pollfd structs whose
    // length is passed with it; `ts_ptr` is null or points at `ts`, which
    // outlives the call; a null signal mask leaves the mask unchanged. The
    // descriptors are borrowed, so they stay open during the call.
    let rc = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ts_ptr, std::ptr::null()) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted { Ok(Ready::default()) } else { Err(e) };
    }
    let ready = |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0;
    Ok(Ready { tun: ready(&fds[0]), stop: ready(&fds[1]) })
}

//! Errors of the socket API, shaped like the errno values Linux returns.

use core::fmt;

/// What a socket call reports, as Linux's errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Errno {
    /// Nothing to read, or no room to send, right now (`EAGAIN`).
    WouldBlock,
    /// The local address is in use (`EADDRINUSE`).
    AddrInUse,
    /// The local address is not one of ours (`EADDRNOTAVAIL`).
    AddrNotAvail,
    /// The peer refused: ICMP port unreachable, or a TCP reset (`ECONNREFUSED`).
    ConnRefused,
    /// The connection was reset (`ECONNRESET`).
    ConnReset,
    /// The socket is not connected (`ENOTCONN`).
    NotConnected,
    /// The socket is already connected (`EISCONN`).
    IsConnected,
    /// A bad argument (`EINVAL`).
    InvalidArgument,
    /// The message is too long (`EMSGSIZE`).
    MsgSize,
    /// No memory for the packet (`ENOBUFS`).
    NoBufs,
    /// No route to the network (`ENETUNREACH`).
    NetUnreachable,
    /// The host did not answer (`EHOSTUNREACH`).
    HostUnreachable,
    /// Not a socket of this world, or closed (`EBADF`).
    BadFd,
    /// The socket table is full (`EMFILE`).
    TooManySockets,
    /// Only IPv4 is supported so far (`EAFNOSUPPORT`).
    AfNotSupported,
    /// The protocol does not fit the socket type (`EPROTONOSUPPORT`).
    ProtoNotSupported,
    /// The operation does not apply to this socket (`EOPNOTSUPP`).
    NotSupported,
    /// Sending to a broadcast address without `SO_BROADCAST` (`EACCES`).
    Access,
    /// The connection timed out (`ETIMEDOUT`).
    TimedOut,
    /// Writing after shutdown (`EPIPE`).
    Pipe,
    /// A connection attempt is under way (`EINPROGRESS`).
    InProgress,
    /// Already connecting (`EALREADY`).
    Already,
    /// A datagram socket that is not connected was given no destination
    /// (`EDESTADDRREQ`).
    DestAddrReq,
    /// A connection attempt ended, its error already reported
    /// (`ECONNABORTED`).
    ConnAborted,
    /// A netfilter rule dropped the packet on its way out (`EPERM`, what
    /// Linux's `ip_local_out` returns for `NF_DROP`: ping says "sendmsg:
    /// Operation not permitted").
    Perm,
}

impl Errno {
    /// The Linux errno number.
    pub fn code(self) -> i32 {
        match self {
            Errno::WouldBlock => 11,
            Errno::AddrInUse => 98,
            Errno::AddrNotAvail => 99,
            Errno::ConnRefused => 111,
            Errno::ConnReset => 104,
            Errno::NotConnected => 107,
            Errno::IsConnected => 106,
            Errno::InvalidArgument => 22,
            Errno::MsgSize => 90,
            Errno::NoBufs => 105,
            Errno::NetUnreachable => 101,
            Errno::HostUnreachable => 113,
            Errno::BadFd => 9,
            Errno::TooManySockets => 24,
            Errno::AfNotSupported => 97,
            Errno::ProtoNotSupported => 93,
            Errno::NotSupported => 95,
            Errno::Access => 13,
            Errno::TimedOut => 110,
            Errno::Pipe => 32,
            Errno::InProgress => 115,
            Errno::Already => 114,
            Errno::DestAddrReq => 89,
            Errno::ConnAborted => 103,
            Errno::Perm => 1,
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Errno::WouldBlock => "resource temporarily unavailable",
            Errno::AddrInUse => "address already in use",
            Errno::AddrNotAvail => "cannot assign requested address",
            Errno::ConnRefused => "connection refused",
            Errno::ConnReset => "connection reset by peer",
            Errno::NotConnected => "transport endpoint is not connected",
            Errno::IsConnected => "transport endpoint is already connected",
            Errno::InvalidArgument => "invalid argument",
            Errno::MsgSize => "message too long",
            Errno::NoBufs => "no buffer space available",
            Errno::NetUnreachable => "network is unreachable",
            Errno::HostUnreachable => "no route to host",
            Errno::BadFd => "bad file descriptor",
            Errno::TooManySockets => "too many open files",
            Errno::AfNotSupported => "address family not supported by protocol",
            Errno::ProtoNotSupported => "protocol not supported",
            Errno::NotSupported => "operation not supported",
            Errno::Access => "permission denied",
            Errno::TimedOut => "connection timed out",
            Errno::Pipe => "broken pipe",
            Errno::InProgress => "operation now in progress",
            Errno::Already => "operation already in progress",
            Errno::DestAddrReq => "destination address required",
            Errno::ConnAborted => "software caused connection abort",
            Errno::Perm => "operation not permitted",
        };
        f.write_str(s)
    }
}

impl core::error::Error for Errno {}

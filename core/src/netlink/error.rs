//! What a request is refused with: a Linux errno (sent negated in
//! `NLMSG_ERROR`, as the kernel does) and a short text for the extended
//! acknowledgement, as Linux's `extack` carries.

use core::fmt;

use crate::netns::NetnsError;

/// The Linux errno values netlink requests are answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Errno {
    /// `EPERM`: not allowed (the loopback cannot be deleted or moved).
    Perm,
    /// `ENOENT`: no such object (namespace, route).
    NoEnt,
    /// `ESRCH`: no such route.
    Srch,
    /// `EBUSY`: a dump is already running on the socket.
    Busy,
    /// `EEXIST`: the object exists and `NLM_F_EXCL` was given.
    Exist,
    /// `ENODEV`: no such device in this namespace.
    NoDev,
    /// `EINVAL`: a malformed message or attribute.
    Inval,
    /// `ERANGE`: a value out of range.
    Range,
    /// `EMSGSIZE`: the reply does not fit the buffer.
    MsgSize,
    /// `EOPNOTSUPP`: a kind or operation skbnet does not do.
    OpNotSupp,
    /// `EAFNOSUPPORT`: an address family other than IPv4.
    AfNoSupport,
    /// `EADDRNOTAVAIL`: no such address.
    AddrNotAvail,
    /// `ENETUNREACH`: no route to the gateway.
    NetUnreach,
    /// `ENOBUFS`: a table is full, or notifications were lost.
    NoBufs,
}

impl Errno {
    /// The errno number.
    pub fn code(self) -> i32 {
        match self {
            Errno::Perm => 1,
            Errno::NoEnt => 2,
            Errno::Srch => 3,
            Errno::Busy => 16,
            Errno::Exist => 17,
            Errno::NoDev => 19,
            Errno::Inval => 22,
            Errno::Range => 34,
            Errno::MsgSize => 90,
            Errno::OpNotSupp => 95,
            Errno::AfNoSupport => 97,
            Errno::AddrNotAvail => 99,
            Errno::NetUnreach => 101,
            Errno::NoBufs => 105,
        }
    }

    /// The errno with this number.
    pub fn from_code(code: i32) -> Option<Errno> {
        const ALL: [Errno; 14] = [
            Errno::Perm,
            Errno::NoEnt,
            Errno::Srch,
            Errno::Busy,
            Errno::Exist,
            Errno::NoDev,
            Errno::Inval,
            Errno::Range,
            Errno::MsgSize,
            Errno::OpNotSupp,
            Errno::AfNoSupport,
            Errno::AddrNotAvail,
            Errno::NetUnreach,
            Errno::NoBufs,
        ];
        ALL.into_iter().find(|e| e.code() == code)
    }

    /// The C library's text for the errno (`strerror`).
    pub fn text(self) -> &'static str {
        match self {
            Errno::Perm => "Operation not permitted",
            Errno::NoEnt => "No such file or directory",
            Errno::Srch => "No such process",
            Errno::Busy => "Device or resource busy",
            Errno::Exist => "File exists",
            Errno::NoDev => "No such device",
            Errno::Inval => "Invalid argument",
            Errno::Range => "Numerical result out of range",
            Errno::MsgSize => "Message too long",
            Errno::OpNotSupp => "Operation not supported",
            Errno::AfNoSupport => "Address family not supported by protocol",
            Errno::AddrNotAvail => "Cannot assign requested address",
            Errno::NetUnreach => "Network is unreachable",
            Errno::NoBufs => "No buffer space available",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// A refused request: the errno, a text saying why, and where in the
/// request the offending attribute starts (`NLMSGERR_ATTR_OFFS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NlError {
    /// The errno.
    pub errno: Errno,
    /// Why, for people (at most [`NlError::MSG_MAX`] bytes).
    pub msg: &'static str,
    /// Offset of the offending attribute from the start of the message.
    pub offset: Option<u32>,
}

impl NlError {
    /// Longest text an error carries.
    pub const MSG_MAX: usize = 63;

    /// An error without an attribute offset.
    pub const fn new(errno: Errno, msg: &'static str) -> NlError {
        NlError { errno, msg, offset: None }
    }

    /// The same error, pointing at the attribute at `offset`.
    pub const fn at(self, offset: usize) -> NlError {
        NlError { offset: Some(offset as u32), ..self }
    }

    /// A malformed message or attribute.
    pub const fn inval(msg: &'static str) -> NlError {
        NlError::new(Errno::Inval, msg)
    }
}

impl fmt::Display for NlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.msg.is_empty() { write!(f, "{}", self.errno) } else { write!(f, "{}: {}", self.errno, self.msg) }
    }
}

impl From<NetnsError> for NlError {
    fn from(e: NetnsError) -> NlError {
        use crate::ip::fib::FibError;
        match e {
            NetnsError::Exists => NlError::new(Errno::Exist, "already exists"),
            NetnsError::NotFound => NlError::new(Errno::NoDev, "no such device"),
            NetnsError::Full => NlError::new(Errno::NoBufs, "table full"),
            NetnsError::Invalid => NlError::inval("invalid value"),
            NetnsError::Busy => NlError::new(Errno::Perm, "not allowed on this device"),
            NetnsError::Route(FibError::Exists) => NlError::new(Errno::Exist, "route exists"),
            NetnsError::Route(FibError::Full) => NlError::new(Errno::NoBufs, "route table full"),
            NetnsError::Route(FibError::NotFound) => NlError::new(Errno::Srch, "no such route"),
            NetnsError::Route(FibError::Invalid) => NlError::inval("invalid prefix"),
            NetnsError::Pool(_) => NlError::new(Errno::NoBufs, "no memory"),
            NetnsError::Device(_) => NlError::new(Errno::NoBufs, "device could not be opened"),
        }
    }
}

//! Netlink: configuration and events as rtnetlink messages, byte for byte
//! what Linux's `NETLINK_ROUTE` sockets carry, so `ip` and libraries written
//! for Linux (netlink-packet-route among them) read and write them.
//!
//! - [`msg`]: the `nlmsghdr`, walking a buffer's messages, and [`NlWriter`],
//!   which writes messages into a caller's buffer.
//! - [`attr`]: attributes (`rtattr`), checked before they are read.
//! - [`link`], [`addr`], [`route`]: `RTM_{NEW,DEL,GET}{LINK,ADDR,ROUTE}`.
//! - [`family`]: skbnet's own messages (namespaces, nft commands as text).
//! - [`notify`]: the bounded log of changes that subscribers read.
//! - [`uapi`]: the numbers, under their Linux names.

pub mod addr;
pub mod attr;
pub mod error;
pub mod family;
pub mod link;
pub mod msg;
pub mod notify;
mod ops;
pub mod route;
mod rtnl;
mod sock;
#[cfg(test)]
mod tests;
pub mod uapi;

pub use error::{Errno, NlError};
pub use msg::{NlHeader, NlWriter, NoRoom};
pub use rtnl::{NeedRoom, REPLY_ROOM, Sent};
pub use sock::NlSock;

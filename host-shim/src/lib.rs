//! The host side of skbnet as a library: the parts of the `skbnet` command
//! that other programs and the tests drive directly.
//!
//! - [`services`]: echo, discard, an HTTP status server and an
//!   iperf3-compatible throughput server, run on a namespace's sockets, and
//!   a client that pushes or pulls bytes to a peer.

pub mod services;

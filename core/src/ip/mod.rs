//! IPv4, as in Linux's `net/ipv4`: routing ([`fib`], with its dst cache),
//! input ([`input`]), forwarding ([`forward`]), output ([`output`]),
//! fragmentation ([`frag`]) and reassembly ([`reasm`]), ICMP ([`icmp`]) and
//! the path-MTU cache ([`pmtu`]).

pub mod fib;
pub mod forward;
pub mod frag;
pub mod icmp;
pub mod input;
pub mod output;
pub mod pmtu;
pub mod reasm;

//! IPv4: routing (the FIB and its dst cache), input, forwarding, output,
//! fragmentation and reassembly, and ICMP, as in Linux's `net/ipv4`.

pub mod fib;

//! # skbnet
//!
//! A `no_std`, heap-free TCP/IP stack in safe Rust, built the way the Linux
//! networking stack is built. Read it top-down as a packet travels:
//!
//! - [`skb`]: sk_buffs in fixed memory pools, their queues and accounting:
//!   the memory every other layer works in.
//! - [`wire`]: zero-copy views of Ethernet, ARP, IPv4, ICMPv4, UDP and TCP
//!   (with options), the Internet checksum and its offload contract, and
//!   tcpdump-style printing.
//! - [`dev`]: the driver boundary (`NetDevice`), NAPI polling, loopback,
//!   and the software fallbacks for offloads: checksums, GSO and GRO.
//! - [`ip`]: IPv4 routing (the FIB), input, forwarding, output, ICMP.
//! - [`netns`]: network namespaces and the world that holds them.
//! - [`netlink`]: rtnetlink-format messages that configure the world and
//!   report its changes.
//! - [`time`]: time is an argument; the core never reads a clock.
//!
//! The crate is `#![no_std]`, uses no `alloc`, and is all safe Rust (the
//! attribute below makes the compiler refuse anything else). Memory
//! is fixed when the pools are built; nothing is allocated afterwards.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod dev;
pub mod hash;
pub mod ip;
pub mod neigh;
pub mod netfilter;
pub mod netlink;
pub mod netns;
pub mod skb;
pub mod socket;
pub mod stats;
pub mod tcp;
pub mod time;
pub mod udp;
pub mod wire;

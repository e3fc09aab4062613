//! # skbnet
//!
//! A `no_std`, heap-free, `unsafe`-free TCP/IP stack built the way the Linux
//! networking stack is built. Read it top-down as a packet travels:
//!
//! - [`skb`]: sk_buffs in fixed memory pools, their queues and accounting:
//!   the memory every other layer works in.
//! - [`time`]: time is an argument; the core never reads a clock.
//!
//! The crate is `#![no_std]`, uses no `alloc`, and forbids `unsafe`. Memory
//! is fixed when the pools are built; nothing is allocated afterwards.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod skb;
pub mod time;

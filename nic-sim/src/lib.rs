//! # skbnet-nic-sim
//!
//! The virtual NIC of skbnet: a model of network hardware (DMA descriptor
//! rings, head and tail registers, a doorbell, TX completion, interrupts with
//! moderation, checksum offload, TSO, LRO) and the driver that runs it, plus
//! links with seeded faults and a pcap tap.
//!
//! This crate is `#![no_std]` and forbids `unsafe`. Its content arrives with
//! the virtual-NIC issue (#4); today it holds nothing.
#![no_std]
#![forbid(unsafe_code)]

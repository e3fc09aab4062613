//! # skbnet-nic-sim
//!
//! The virtual NIC of skbnet: a model of network hardware and the driver that
//! runs it, so the whole stack can be exercised anywhere, deterministically.
//!
//! - [`rng`]: the seeded generator behind every simulated fault.
//! - [`link`]: the cable between two NICs, with rate, delay and seeded loss,
//!   duplication, reordering and corruption.
//! - [`pcap`]: pcap and pcapng writers, so Wireshark shows what crossed a link.
//! - [`desc`]: descriptors and rings, the memory driver and device share.
//! - [`nic`]: the NIC ([`nic::SimNic`]): its device model ([`hw`]) and its
//!   driver ([`driver`]), behind skbnet's `NetDevice`; interrupts ([`irq`])
//!   with moderation; byte-queue limits ([`bql`]).
//! - [`port`]: what the PHY is cabled to: a link or a TUN device.
//! - `smoltcp_phy` (feature `smoltcp`): a link end as smoltcp's
//!   `phy::Device`, so smoltcp runs on the same simulated wire.
//!
//! The crate is `#![no_std]` (the `std` feature adds `std::io` sinks) and
//! forbids `unsafe`.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

pub mod bql;
pub mod desc;
pub mod driver;
pub mod hw;
pub mod irq;
pub mod link;
pub mod nic;
pub mod pcap;
pub mod port;
pub mod rng;
#[cfg(feature = "smoltcp")]
pub mod smoltcp_phy;

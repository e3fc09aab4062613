//! Shared helpers for skbnet's cross-crate tests. The tests themselves live
//! in `tests/tests/`, one file per subject.
//!
//! [`fuzz_bodies`] holds the bodies of the cargo-fuzz targets in `fuzz/`
//! ([`fuzz_nic`] the simulated NIC's), so their corpora also run here on
//! stable (`tests/tests/fuzz_corpus.rs`).

pub mod fuzz_bodies;
pub mod fuzz_nic;
pub mod net;

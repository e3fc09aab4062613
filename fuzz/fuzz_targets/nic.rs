//! Fuzz the simulated NIC's device model and driver with arbitrary
//! descriptors, registers, offload fields and frames: the body is
//! `skbnet_tests::fuzz_nic::nic`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_nic::nic(data));

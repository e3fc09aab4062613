//! Fuzz Ethernet frames (with 802.1Q tags): the body is
//! `skbnet_tests::fuzz_bodies::ethernet`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_bodies::ethernet(data));

//! Fuzz IPv4 packets, checked and quoted: the body is
//! `skbnet_tests::fuzz_bodies::ipv4`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_bodies::ipv4(data));

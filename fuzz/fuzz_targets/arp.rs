//! Fuzz ARP packets: the body is
//! `skbnet_tests::fuzz_bodies::arp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_bodies::arp(data));

//! Fuzz the tcpdump-style printers: the body is
//! `skbnet_tests::fuzz_bodies::pretty`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_bodies::pretty(data));

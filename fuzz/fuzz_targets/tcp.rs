//! Fuzz TCP segments and their options (8 bytes of addresses first): the body is
//! `skbnet_tests::fuzz_bodies::tcp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_bodies::tcp(data));

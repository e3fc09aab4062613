//! Fuzz UDP datagrams (8 bytes of addresses first): the body is
//! `skbnet_tests::fuzz_bodies::udp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_bodies::udp(data));

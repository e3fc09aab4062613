//! Fuzz ICMPv4 messages and their quoted headers: the body is
//! `skbnet_tests::fuzz_bodies::icmpv4`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_bodies::icmpv4(data));

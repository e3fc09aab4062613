//! Fuzz the Internet checksum split at odd offsets: the body is
//! `skbnet_tests::fuzz_bodies::checksum_split`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_bodies::checksum_split(data));

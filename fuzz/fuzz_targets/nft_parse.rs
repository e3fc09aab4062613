//! Fuzz the nft command parser with arbitrary text (commands separated by
//! NUL bytes): the body is `skbnet_tests::fuzz_nft::nft_parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_nft::nft_parse(data));

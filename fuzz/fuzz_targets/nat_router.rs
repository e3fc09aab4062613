//! Fuzz a NAT router (masquerade, DNAT, filter rules, sets, reject, a
//! small connection table) with arbitrary frames: the body is
//! `skbnet_tests::fuzz_nft::nat_router`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_nft::nat_router(data));

//! Fuzz one TCP connection: arbitrary segment sequences and application
//! calls against a socket in each state; the body is
//! `skbnet_tests::fuzz_tcp::tcp_conn`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_tcp::tcp_conn(data));

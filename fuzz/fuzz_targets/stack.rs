//! Fuzz the whole stack with arbitrary frames arriving at a configured
//! namespace (two interfaces, forwarding on, a UDP socket, a known
//! neighbour): the body is `skbnet_tests::fuzz_stack::stack`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_stack::stack(data));

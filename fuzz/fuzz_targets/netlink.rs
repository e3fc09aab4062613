//! Fuzz netlink with arbitrary request buffers sent to a configured world
//! (namespaces, veth pairs, a bridge, a monitor listening): the body is
//! `skbnet_tests::fuzz_netlink::netlink`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skbnet_tests::fuzz_netlink::netlink(data));

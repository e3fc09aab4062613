//! Shared helpers for skbnet's cross-crate tests. The tests themselves live
//! in `tests/tests/`, one file per subject.
//!
//! [`fuzz_bodies`] holds the bodies of the cargo-fuzz targets in `fuzz/`
//! ([`fuzz_nic`] the simulated NIC's, [`fuzz_stack`] the whole stack's), so
//! their corpora also run here on stable (`tests/tests/fuzz_corpus.rs`).
//! [`fuzz_nft`] holds the rule engine's two targets (the nft parser, and a
//! NAT router), their corpora run by `tests/tests/nf_fuzz_corpus.rs`.
//! [`fuzz_netlink`] holds netlink's target (requests to a configured world),
//! its corpus run by `tests/tests/netlink_fuzz_corpus.rs`.
//! [`net`] joins two namespaces by a simulated link; [`smol`] puts smoltcp
//! on such a link, as skbnet's peer or beside it in the benchmarks.

pub mod fuzz_bodies;
mod fuzz_input;
pub mod fuzz_netlink;
pub mod fuzz_nft;
pub mod fuzz_nic;
pub mod fuzz_stack;
pub mod fuzz_tcp;
pub mod net;
pub mod smol;
pub mod trace;

/// Whether the TCP checksum field `got` holds the checksum `want` that an
/// independent implementation (etherparse) computed. One's complement has
/// two zeros, and RFC 1624 section 3 notes that a correct update may leave
/// either in the field: Linux's `skb_checksum_help`, like ours, writes a
/// computed 0 as `0xffff` (`CSUM_MANGLED_0`) so that UDP never reads it as
/// "no checksum", and a TCP receiver accepts both because the whole
/// segment still sums to `0xffff`. UDP must not use this: there `0` means
/// "none" and only `0xffff` is correct.
pub fn tcp_checksum_matches(want: u16, got: u16) -> bool {
    want == got || (want == 0 && got == 0xffff) || (want == 0xffff && got == 0)
}

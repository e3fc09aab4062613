//! Shared helpers for skbnet's cross-crate tests. The tests themselves live
//! in `tests/tests/`, one file per subject.

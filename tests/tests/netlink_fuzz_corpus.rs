//! The netlink fuzz target's corpus as ordinary tests on stable: every file
//! of `fuzz/corpus/netlink/` goes through `skbnet_tests::fuzz_netlink`'s
//! body, and the seeds, cut short and with bytes overwritten, go through it
//! as a property test. Seeds have fixed names and contents.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use proptest::prelude::*;
use skbnet_tests::fuzz_netlink::{netlink, run, seeds};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/netlink")
}

fn write_seeds() {
    let dir = corpus();
    for (name, bytes) in seeds() {
        let path = dir.join(format!("seed-{name}"));
        if fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            fs::create_dir_all(&dir).unwrap();
            fs::write(&path, &bytes).unwrap();
        }
    }
}

#[test]
fn corpus_runs() {
    write_seeds();
    let mut files: Vec<PathBuf> = fs::read_dir(corpus()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= seeds().len());
    let failed: Vec<String> = files
        .iter()
        .filter(|p| {
            let bytes = fs::read(p).unwrap();
            catch_unwind(AssertUnwindSafe(|| netlink(&bytes))).is_err()
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

/// The seeds reach what they are named for.
#[test]
fn seeds_do_what_they_say() {
    let all: std::collections::BTreeMap<_, _> = seeds().into_iter().collect();
    let o = run(&all["configure"]);
    assert_eq!((o.acks, o.errors, o.objects), (5, 0, 1), "{o:?}");
    assert!(o.events >= 8, "the monitor heard the changes: {o:?}");
    for name in ["dumps-small-buffer", "dumps-in-ns1"] {
        let o = run(&all[name]);
        assert_eq!((o.dones, o.errors), (4, 0), "{name}: {o:?}");
        assert!(o.objects >= 8, "{name}: {o:?}");
    }
    let o = run(&all["delete"]);
    assert_eq!((o.acks, o.errors), (2, 0), "{o:?}");
    let o = run(&all["nft"]);
    assert_eq!((o.acks, o.errors), (1, 0), "{o:?}");
    assert!(o.objects >= 1, "the ruleset was listed: {o:?}");
    let o = run(&all["nft-change"]);
    assert_eq!((o.acks, o.errors), (9, 1), "one rule names a chain that does not exist: {o:?}");
    assert!(o.events >= 8, "the rules group heard the changes: {o:?}");
    let o = run(&all["setlink-and-tun"]);
    assert_eq!((o.acks, o.errors), (2, 0), "{o:?}");
    assert_eq!(run(&all["bad-length"]).errors, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn mutated_seeds_never_break_netlink(
        pick in any::<usize>(), cut in any::<usize>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
    ) {
        let all = seeds();
        let mut bytes = all[pick % all.len()].1.clone();
        for (at, value) in edits {
            let n = bytes.len();
            bytes[at % n] = value;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        netlink(&bytes);
    }
}

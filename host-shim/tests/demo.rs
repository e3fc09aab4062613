//! `skbnet demo`, run as a user runs it: the built binary, its exit status,
//! what it prints, and its pcapng read by an independent dissector (tshark):
//! no malformed packet, no bad checksum, frames on both links, IPv4
//! fragments on the smaller-MTU one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `skbnet` binary with `args`.
fn skbnet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skbnet")).args(args).output().expect("run skbnet")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("utf-8 output")
}

/// A scratch file for one test.
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("skbnet-demo-{name}-{}.pcapng", std::process::id()))
}

/// Run the demo writing `pcap`; it must succeed. Returns what it printed.
fn demo(pcap: &Path) -> String {
    let out = skbnet(&["demo", "--pcap", pcap.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "demo failed: {:?}\n{stdout}\n{}", out.status, text(&out.stderr));
    stdout
}

/// The path of an external tool, or `None` with the reason printed. Under
/// `CI=true` a missing tool is a failure, never a skip.
fn tool_or_skip(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{name} is required under CI=true but is not installed");
        println!("SKIP: {name} is not installed (apt-get install {name}); this check runs in CI");
    }
    found
}

/// tshark's display filter for anything malformed or with a bad checksum.
const CHECKS: [&str; 8] = [
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    "-Y",
    "_ws.malformed || ip.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0",
];

/// `tshark -r file args...`, which must succeed; its standard output.
fn tshark(tshark: &Path, file: &Path, args: &[&str]) -> String {
    let out = Command::new(tshark).arg("-r").arg(file).args(args).output().expect("run tshark");
    assert!(out.status.success(), "tshark failed: {}", text(&out.stderr));
    text(&out.stdout)
}

/// True for a printed frame (`  TIME LINK  tcpdump's line`) on `link`.
fn is_frame_on(line: &str, link: &str) -> bool {
    let mut words = line.split_whitespace();
    words.next().is_some_and(|t| t.parse::<f64>().is_ok()) && words.next() == Some(link)
}

/// How many lines of `s` equal `line`.
fn count(s: &str, line: &str) -> usize {
    s.lines().filter(|l| *l == line).count()
}

#[test]
fn the_demo_shows_what_it_promises() {
    let pcap = scratch("promises");
    let out = demo(&pcap);
    std::fs::remove_file(&pcap).unwrap();
    for want in [
        "64 bytes from 10.0.2.2: icmp_seq=1 time=",
        "64 bytes from 10.0.2.2: icmp_seq=3 time=",
        "3 packets transmitted, 3 received, 0% packet loss",
        "h2 echo service: 13 bytes from 10.0.1.2:",
        "h1 got its echo from 10.0.2.2:7: \"hello from h1\"",
        "r fragmented the datagram into 2; h2 reassembled it (1 datagram)",
        "h2 fragmented its echo into 2; r forwarded them; h1 reassembled it (1 datagram)",
        "h1 got all 1400 bytes back, byte for byte",
        "h1's socket reports ECONNREFUSED",
        "Ip:    InReceives 13, ForwDatagrams 13, FragOKs 1, FragCreates 2",
        "drops: NoSocket 1",
        "pool free after shutdown: 0 heads, 0 buffers in use: ok",
    ] {
        assert!(out.contains(want), "the output lacks {want:?}:\n{out}");
    }
    // The first fragment as tcpdump shows it, on the smaller-MTU link.
    let frag = out.lines().find(|l| is_frame_on(l, "r-h2") && l.contains("UDP, length 1400 (frag "));
    assert!(frag.is_some_and(|l| l.ends_with(":976@0+)")), "no first fragment of 976 bytes on r-h2:\n{out}");
}

#[test]
fn tshark_reads_every_link_with_no_malformed_packet_or_bad_checksum() {
    let pcap = scratch("tshark");
    let out = demo(&pcap);
    let Some(tshark_path) = tool_or_skip("tshark") else {
        std::fs::remove_file(&pcap).unwrap();
        return;
    };
    let run = |args: &[&str]| tshark(&tshark_path, &pcap, args);
    assert_eq!(run(&CHECKS), "", "malformed packets or bad checksums");
    // Every frame the demo printed is in the file, on its link's interface.
    let names = run(&["-T", "fields", "-e", "frame.interface_name"]);
    for link in ["h1-r", "r-h2"] {
        let printed = out.lines().filter(|l| is_frame_on(l, link)).count();
        assert!(printed > 10, "{link}: {printed} frames printed");
        assert_eq!(count(&names, link), printed, "{link}: frames in the file");
    }
    assert_eq!(names.lines().count(), 31, "ARP 4, ping 12, echo 4, fragments 7, closed port 4");
    // IPv4 fragments: the router's two and h2's two on r-h2, h2's two again on h1-r.
    let frags = run(&["-Y", "ip.flags.mf == 1 || ip.frag_offset > 0", "-T", "fields", "-e", "frame.interface_name"]);
    assert_eq!((count(&frags, "r-h2"), count(&frags, "h1-r")), (4, 2), "fragments per link:\n{frags}");
    // tshark reassembles them into the 1408-byte UDP datagram.
    let whole = run(&["-Y", "ip.reassembled.length == 1408", "-T", "fields", "-e", "frame.interface_name"]);
    assert_eq!((count(&whole, "r-h2"), count(&whole, "h1-r")), (2, 1), "reassembled by tshark:\n{whole}");
    corrupted_copy_is_caught(&tshark_path, &pcap);
    std::fs::remove_file(&pcap).unwrap();
}

/// The control: the same filter does catch a flipped payload bit (a bad
/// UDP checksum) in a copy of the capture.
fn corrupted_copy_is_caught(tshark_path: &Path, pcap: &Path) {
    let mut bytes = std::fs::read(pcap).unwrap();
    let needle = b"hello from h1";
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("the echo payload in the capture");
    bytes[at] ^= 0x20;
    let bad = scratch("corrupted");
    std::fs::write(&bad, &bytes).unwrap();
    let found = tshark(tshark_path, &bad, &CHECKS);
    std::fs::remove_file(&bad).unwrap();
    assert_eq!(found.lines().count(), 1, "the filter finds the corrupted datagram: {found}");
}

#[test]
fn two_runs_print_and_capture_the_same_bytes() {
    let pcap = scratch("twice");
    let first = (demo(&pcap), std::fs::read(&pcap).unwrap());
    let second = (demo(&pcap), std::fs::read(&pcap).unwrap());
    std::fs::remove_file(&pcap).unwrap();
    assert!(first.1.len() > 1000, "a capture of {} bytes", first.1.len());
    assert!(first == second, "the demo is not deterministic");
}

#[test]
fn help_documents_the_options_and_bad_options_exit_2() {
    let help = skbnet(&["demo", "--help"]);
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("--pcap FILE"), "{}", text(&help.stdout));
    let all = text(&skbnet(&["help"]).stdout);
    for want in ["skbnet demo [--pcap FILE]", "skbnet pool-budget HEADS BUFS SIZE OWNERS", "skbnet help"] {
        assert!(all.contains(want), "`skbnet help` lacks {want:?}:\n{all}");
    }
    for (args, why) in [
        (&["demo", "--frobnicate"][..], "unknown option `--frobnicate`"),
        (&["demo", "--pcap"][..], "`--pcap` needs a FILE"),
    ] {
        let out = skbnet(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(why), "{args:?}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{args:?} ran the demo anyway");
    }
}

#[test]
fn an_unwritable_capture_is_an_error_not_a_crash() {
    let out = skbnet(&["demo", "--pcap", "/nonexistent-dir/x.pcapng"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("creating /nonexistent-dir/x.pcapng"), "{}", text(&out.stderr));
}

#[test]
fn pool_budget_still_works() {
    use skbnet::skb::{BUF_INFO_BYTES, HEAD_BYTES, OWNER_BYTES};
    let out = skbnet(&["pool-budget", "64", "32", "2048", "16"]);
    assert!(out.status.success());
    let total = 64 * HEAD_BYTES + 32 * (2048 + BUF_INFO_BYTES) + 16 * OWNER_BYTES;
    assert!(text(&out.stdout).contains(&format!(" {total} B (")), "{}", text(&out.stdout));
}

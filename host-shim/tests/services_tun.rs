//! The services behind `skbnet tun`, reached by Linux's own programs:
//! `curl` (the status page in HTML and text, 404, `HEAD`, two requests on
//! one kept-alive connection) and a stock `iperf3 -c` with `--json` (client
//! to stack, `-R`, `-P 2`, `--bidir`, a refused `-u`), each report parsed.
//!
//! Each test makes a network namespace of its own (`ip netns add`), runs
//! the built `skbnet tun` and the tools inside it (`ip netns exec`), so
//! every packet stays there, and deletes it at the end. They need root,
//! `/dev/net/tun`, `curl` and `iperf3`; without them a test prints `SKIP:`
//! and why, except under `CI=true`, where that is a failure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// The stack's address.
const STACK: &str = "10.7.0.2";

/// One test at a time: they share the machine with the stack they measure.
static SERIAL: Mutex<()> = Mutex::new(());

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether this machine can run the tests; prints why not, and fails
/// instead under `CI=true`.
fn runnable() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root =
        status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|u| u.split_whitespace().nth(1)) == Some("0");
    let on_path = |t: &str| {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d: PathBuf| d.join(t).is_file()))
    };
    let missing = if !root {
        Some("not root (network namespaces and TUN devices need it)".to_string())
    } else if !Path::new("/dev/net/tun").exists() {
        Some("/dev/net/tun does not exist".to_string())
    } else {
        ["ip", "curl", "iperf3"].into_iter().find(|t| !on_path(t)).map(|t| format!("{t} is not installed"))
    };
    match missing {
        None => true,
        Some(why) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "under CI=true this test must run, but {why}");
            println!("SKIP: {why}; this test runs in CI");
            false
        }
    }
}

/// A namespace of this test running `skbnet tun --services all`; the
/// namespace and whatever runs in it go when it is dropped.
struct Stage {
    ns: String,
    shim: Option<Child>,
    /// What the shim printed, line by line.
    lines: mpsc::Receiver<String>,
}

impl Stage {
    fn new(tag: &str) -> Stage {
        static N: AtomicU32 = AtomicU32::new(0);
        let ns = format!("skbnet-svc-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let ok = |o: Output| assert!(o.status.success(), "{}", text(&o.stderr));
        ok(Command::new("ip").args(["netns", "add", &ns]).output().expect("ip netns add"));
        let (tx, lines) = mpsc::channel();
        let mut stage = Stage { ns, shim: None, lines };
        ok(stage.run("ip", &["link", "set", "lo", "up"]));
        let args = ["tun", "--dev", "tun0", "--addr", "10.7.0.2/24", "--host-addr", "10.7.0.1/24", "--services", "all"];
        let mut shim = Command::new("ip")
            .args(["netns", "exec", &stage.ns, env!("CARGO_BIN_EXE_skbnet")])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start skbnet tun");
        let out = shim.stdout.take().expect("stdout");
        stage.shim = Some(shim);
        std::thread::spawn(move || BufReader::new(out).lines().map_while(Result::ok).for_each(|l| drop(tx.send(l))));
        let mut waiting = std::iter::from_fn(|| stage.lines.recv_timeout(Duration::from_secs(10)).ok());
        assert!(waiting.any(|l| l.starts_with("ready:")), "skbnet tun did not say it was ready");
        stage
    }

    /// `program args` in the namespace, to its end.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip").args(["netns", "exec", &self.ns, program]).args(args).output().expect("ip netns exec")
    }

    /// `iperf3 -c STACK -t 1 --json args`: its report, which must say no error.
    fn iperf3(&self, args: &[&str]) -> Value {
        let mut all = vec!["-c", STACK, "-t", "1", "--json", "--connect-timeout", "5000"];
        all.extend_from_slice(args);
        let out = self.run("iperf3", &all);
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("iperf3 {args:?}: {e}: {}", text(&out.stdout)));
        assert!(out.status.success() && report.get("error").is_none(), "iperf3 {args:?} failed: {report}");
        report
    }

    /// Ctrl-C: the shim must stop cleanly with its pool free. What it printed.
    fn stop(mut self) -> String {
        let mut shim = self.shim.take().expect("running");
        let _ = Command::new("kill").args(["-INT", &shim.id().to_string()]).status();
        let status = shim.wait().expect("wait for skbnet tun");
        let said: String = self.lines.try_iter().map(|l| l + "\n").collect();
        assert!(status.success() && said.contains("all free after shutdown: yes"), "{status}\n{said}");
        said
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(mut shim) = self.shim.take() {
            let _ = shim.kill();
            let _ = shim.wait();
        }
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.ns]).output() {
            for pid in text(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

#[test]
fn curl_reads_the_status_page_and_keeps_the_connection() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !runnable() {
        return;
    }
    let stage = Stage::new("curl");
    let url = |path: &str| format!("http://{STACK}{path}");
    let page = stage.run("curl", &["-sS", "--max-time", "10", &url("/")]);
    let html = text(&page.stdout);
    assert!(page.status.success(), "curl: {}", text(&page.stderr));
    for want in ["<h1>skbnet: namespace", "inet 10.7.0.2/24", "0.0.0.0:5201", "TcpPassiveOpens", "http/tcp"] {
        assert!(html.contains(want), "the page lacks {want:?}:\n{html}");
    }
    // Two URLs, one connection (curl reuses it: no new connect for the second).
    let out = stage.run(
        "curl",
        &["-sS", "--max-time", "10", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n"]
            .into_iter()
            .chain([url("/status.txt").as_str(), url("/nope").as_str()])
            .collect::<Vec<_>>(),
    );
    assert_eq!(text(&out.stdout), "200 1\n404 0\n", "{}", text(&out.stderr));
    let head = stage.run("curl", &["-sS", "--max-time", "10", "-I", &url("/status.txt")]);
    let head = text(&head.stdout);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.contains("Content-Type: text/plain"), "{head}");
    let said = stage.stop();
    assert!(said.contains("http/tcp: "), "{said}");
}

/// Bytes of `end.sum_sent` and `end.sum_received` of a report, and its streams.
fn sums(report: &Value) -> (u64, u64, usize) {
    let end = &report["end"];
    let bytes = |k: &str| end[k]["bytes"].as_u64().unwrap_or_else(|| panic!("no end.{k}.bytes: {end}"));
    (bytes("sum_sent"), bytes("sum_received"), end["streams"].as_array().map_or(0, Vec::len))
}

#[test]
fn iperf3_measures_the_stack_both_ways_in_json() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !runnable() {
        return;
    }
    let stage = Stage::new("iperf3");
    for (args, streams) in [(&[][..], 1), (&["-R"][..], 1), (&["-P", "2"][..], 2), (&["-R", "-P", "2"][..], 2)] {
        let report = stage.iperf3(args);
        let (sent, received, n) = sums(&report);
        println!("iperf3 {args:?}: sent {sent} bytes, received {received} bytes, {n} streams");
        assert_eq!(n, streams, "iperf3 {args:?}");
        // A second of TCP through TUN: far more than a megabyte, and what
        // the receiver counted never exceeds what the sender did.
        assert!(received > 1 << 20 && received <= sent, "iperf3 {args:?}: sent {sent}, received {received}");
        let reverse = report["start"]["test_start"]["reverse"].as_u64();
        assert_eq!(reverse, Some(u64::from(args.contains(&"-R"))), "iperf3 {args:?}");
    }
    let bidir = stage.iperf3(&["--bidir"]);
    let end = &bidir["end"];
    for k in ["sum_sent", "sum_received", "sum_sent_bidir_reverse", "sum_received_bidir_reverse"] {
        assert!(end[k]["bytes"].as_u64().is_some_and(|b| b > 1 << 20), "--bidir: {k}: {end}");
    }
    let udp = stage.run("iperf3", &["-c", STACK, "-u", "-t", "1"]);
    let said = text(&udp.stdout) + &text(&udp.stderr);
    assert!(!udp.status.success() && said.contains("protocol does not exist"), "iperf3 -u: {said}");
    let said = stage.stop();
    assert!(said.contains("iperf3/tcp: "), "{said}");
}

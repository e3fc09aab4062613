//! `skbnet tun` with the Linux kernel as the peer: each test creates a
//! network namespace of its own (`ip netns add`), runs the built `skbnet
//! tun` inside it (`ip netns exec`), so the TUN device and every packet stay
//! in that namespace, and deletes the namespace at the end, also when the
//! test fails. Linux's programs run in the namespace too: `ping`, `tshark`
//! on the capture, and this test binary itself as a kernel TCP client (see
//! [`kernel_tcp_client`]) and as the kernel TCP listener that `skbnet tun
//! --push` and `--pull` connect to (see [`Listener`]). The tests run one at
//! a time: they share the machine's cores with the stack they measure.
//! `curl` and `iperf3` against the services behind `skbnet tun` are in
//! `services_tun.rs`.
//!
//! They need root, `/dev/net/tun` and the tools; without them each test
//! prints `SKIP:` and why, except under `CI=true`, where a skip is a failure.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The stack's address and Linux's, on the TUN link.
const STACK: &str = "10.7.0.2";
const ADDR: &str = "10.7.0.2/24";
const HOST_ADDR: &str = "10.7.0.1/24";
/// The bytes each way of the big TCP transfers.
const BIG: u64 = 256 << 20;
/// Set (to `ADDR:PORT BYTES`) when this binary runs as the kernel TCP client.
const CLIENT_ENV: &str = "SKBNET_TUN_TEST_CLIENT";
/// Linux's address on the TUN link, where the listener is.
const LINUX: &str = "10.7.0.1";
/// The bytes of a `--push` or `--pull`.
const TRANSFER: u64 = 64 << 20;
/// Set (to `PORT MODE`) when this binary runs as the kernel TCP listener.
const LISTENER_ENV: &str = "SKBNET_TUN_TEST_LISTENER";

/// One TUN test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// True when a skip is not allowed.
fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Skip with `why`, or fail under `CI=true`.
fn skip(why: &str) {
    assert!(!in_ci(), "under CI=true this test must run, but {why}");
    println!("SKIP: {why}; this test runs in CI");
}

/// The path of a tool, if installed.
fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
}

/// The effective user is root (from `/proc/self/status`, no unsafe needed).
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"));
    uid.and_then(|u| u.split_whitespace().nth(1)) == Some("0")
}

/// Whether the machine can run the TUN tests with `tools`; prints why not.
fn can_run(tools: &[&str]) -> bool {
    if !is_root() {
        skip("not root (creating network namespaces and TUN devices needs it)");
        return false;
    }
    if !Path::new("/dev/net/tun").exists() {
        skip("/dev/net/tun does not exist");
        return false;
    }
    for t in ["ip"].iter().chain(tools) {
        if tool(t).is_none() {
            skip(&format!("{t} is not installed"));
            return false;
        }
    }
    true
}

/// A network namespace of this test, deleted when dropped.
struct Netns {
    name: String,
}

impl Netns {
    fn create(tag: &str) -> Netns {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("skbnet-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let out = Command::new("ip").args(["netns", "add", &name]).output().expect("run ip netns add");
        assert!(out.status.success(), "ip netns add {name}: {}", text(&out.stderr));
        let ns = Netns { name };
        let up = ns.run("ip", &["link", "set", "lo", "up"]);
        assert!(up.status.success(), "ip link set lo up: {}", text(&up.stderr));
        ns
    }

    /// `program args` inside the namespace.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]).args(args);
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program, args).output().unwrap_or_else(|e| panic!("run {program}: {e}"))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Whatever still runs in the namespace goes with it.
        let _ = Command::new("ip").args(["netns", "pids", &self.name]).output().map(|out| {
            for pid in text(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        });
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// `skbnet tun` running in a namespace.
struct Shim {
    child: Child,
    lines: mpsc::Receiver<String>,
    printed: String,
}

impl Shim {
    /// Start it with the test addresses and `extra` options, and wait until
    /// it says it is ready.
    fn start(ns: &Netns, extra: &[&str]) -> Shim {
        let mut args = vec!["tun", "--dev", "tun0", "--addr", ADDR, "--host-addr", HOST_ADDR];
        args.extend_from_slice(extra);
        let mut child = ns
            .command(env!("CARGO_BIN_EXE_skbnet"), &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start skbnet tun");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut shim = Shim { child, lines, printed: String::new() };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !shim.printed.contains("ready:") {
            let left = deadline.saturating_duration_since(Instant::now());
            match shim.lines.recv_timeout(left) {
                Ok(line) => shim.printed += &format!("{line}\n"),
                Err(_) => {
                    let _ = shim.child.kill();
                    let _ = shim.child.wait();
                    let mut err = String::new();
                    if let Some(mut e) = shim.child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    panic!("skbnet tun did not become ready: {}{err}", shim.printed);
                }
            }
        }
        shim
    }

    /// Ctrl-C, then its exit status and everything it printed.
    fn stop(self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        self.exit(Duration::from_secs(15), "of Ctrl-C")
    }

    /// Its exit status and everything it printed, once it stops by itself
    /// within `within` (of `what`).
    fn exit(mut self, within: Duration, what: &str) -> (ExitStatus, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for skbnet") {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let printed = self.printed.clone() + &self.lines.try_iter().collect::<Vec<_>>().join("\n");
                panic!("skbnet tun did not stop within {within:?} {what}:\n{printed}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) {
            self.printed += &format!("{line}\n");
        }
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status, self.printed.clone() + &err)
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stop the shim and check it stopped cleanly, its pool free.
fn stop_cleanly(shim: Shim) -> String {
    let (status, out) = shim.stop();
    assert!(status.success(), "skbnet tun failed: {status}\n{out}");
    assert!(out.contains("all free after shutdown: yes"), "{out}");
    out
}

/// `ping -c 100 -i 0.01` of `size` bytes: every reply must come back.
fn ping_all(ns: &Netns, size: &str) {
    let out = ns.run("ping", &["-c", "100", "-i", "0.01", "-W", "2", "-s", size, "-q", STACK]);
    let said = text(&out.stdout);
    assert!(out.status.success(), "ping -s {size}: {said}{}", text(&out.stderr));
    assert!(said.contains("100 packets transmitted, 100 received, 0% packet loss"), "ping -s {size}:\n{said}");
}

#[test]
fn linux_pings_the_stack_small_and_fragmented_without_loss() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !can_run(&["ping"]) {
        return;
    }
    let ns = Netns::create("ping");
    let shim = Shim::start(&ns, &[]);
    ping_all(&ns, "56");
    // 8008-byte datagrams: Linux fragments the requests, the stack
    // reassembles them and fragments its replies, Linux reassembles those.
    ping_all(&ns, "8000");
    let out = stop_cleanly(shim);
    assert!(out.contains("Icmp: InMsgs 200 OutMsgs 200"), "{out}");
    assert!(out.contains("ReasmOKs 100 FragOKs 100 FragCreates 600"), "{out}");
}

/// Run this test binary in `ns` as a kernel TCP client of `port`: it sends
/// `bytes` and reads what comes back; its report, parsed.
fn kernel_tcp_client(ns: &Netns, port: u16, bytes: u64) -> ClientReport {
    let exe = std::env::current_exe().expect("the test binary");
    let out = ns
        .command(exe.to_str().expect("a UTF-8 path"), &["--exact", "kernel_tcp_client_in_namespace", "--nocapture"])
        .env(CLIENT_ENV, format!("{STACK}:{port} {bytes}"))
        .output()
        .expect("run the client");
    let said = text(&out.stdout);
    assert!(out.status.success(), "the kernel TCP client failed:\n{said}{}", text(&out.stderr));
    let line = said.lines().find(|l| l.starts_with("client: ")).unwrap_or_else(|| panic!("no report in:\n{said}"));
    let w: Vec<&str> = line.split_whitespace().collect();
    ClientReport {
        sent: w[2].parse().expect("bytes sent"),
        sent_sha: w[4].to_string(),
        got: w[6].parse().expect("bytes received"),
        got_sha: w[8].to_string(),
        seconds: w[10].parse().expect("seconds"),
    }
}

/// What the kernel TCP client did.
struct ClientReport {
    sent: u64,
    sent_sha: String,
    got: u64,
    got_sha: String,
    seconds: f64,
}

/// The pseudo-random bytes the client sends (xorshift64, so a lost, doubled
/// or misplaced chunk changes the digest).
fn fill(buf: &mut [u8], state: &mut u64) {
    for chunk in buf.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
}

/// The kernel TCP client itself: does nothing unless run by
/// [`kernel_tcp_client`] (inside the test's namespace, where the stack is
/// reachable). It connects with `std::net::TcpStream` (Linux's TCP), sends
/// the bytes from one thread while reading the echo in another, and prints
/// the count and SHA-256 of each direction.
#[test]
fn kernel_tcp_client_in_namespace() {
    let Ok(spec) = std::env::var(CLIENT_ENV) else { return };
    let (addr, bytes) = spec.split_once(' ').expect("ADDR:PORT BYTES");
    let (addr, bytes): (SocketAddr, u64) = (addr.parse().expect("ADDR:PORT"), bytes.parse().expect("BYTES"));
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to the stack");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let started = Instant::now();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let (mut sha, mut state, mut left) = (Sha256::new(), 0x9e37_79b9_7f4a_7c15u64, bytes);
        let mut buf = vec![0u8; 1 << 16];
        while left > 0 {
            let n = buf.len().min(left as usize);
            fill(&mut buf[..n], &mut state);
            w.write_all(&buf[..n]).expect("send to the stack");
            sha.update(&buf[..n]);
            left -= n as u64;
        }
        w.shutdown(Shutdown::Write).expect("shutdown(SHUT_WR)");
        hex(&sha.finalize())
    });
    let (mut sha, mut got, mut buf) = (Sha256::new(), 0u64, vec![0u8; 1 << 16]);
    let mut r = &s;
    loop {
        let n = r.read(&mut buf).expect("receive from the stack");
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        got += n as u64;
    }
    let sent_sha = writer.join().expect("the sending thread");
    let secs = started.elapsed().as_secs_f64();
    println!("client: sent {bytes} sha256 {sent_sha} got {got} sha256 {} in {secs:.3} s", hex(&sha.finalize()));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// 256 MiB to the echo service and back through the kernel's TCP.
fn echo_256_mib(offload: bool) {
    let ns = Netns::create(if offload { "tcp" } else { "tcp-nooff" });
    let mut opts = vec!["--services", "echo"];
    if !offload {
        opts.push("--no-offload");
    }
    let shim = Shim::start(&ns, &opts);
    let r = kernel_tcp_client(&ns, 7, BIG);
    let out = stop_cleanly(shim);
    assert_eq!((r.sent, r.got), (BIG, BIG), "every byte back:\n{out}");
    assert_eq!(r.got_sha, r.sent_sha, "what came back is what was sent");
    let mbits = (2 * BIG * 8) as f64 / r.seconds / 1e6;
    println!("256 MiB each way, offloads {}: {:.2} s, {mbits:.0} Mbit/s both ways together", offload, r.seconds);
    assert!(out.contains(&format!("echo/tcp: 1 connections, {BIG} bytes in, {BIG} bytes out")), "{out}");
    let gso =
        out.lines().filter(|l| l.contains(" GSO super-packets")).map(|l| l.contains("(0 GSO")).collect::<Vec<_>>();
    assert_eq!(gso.len(), 2, "{out}");
    // With offloads, super-packets cross both ways; without, none do.
    assert!(gso.iter().all(|&none| none != offload), "super-packets with offloads {offload}:\n{out}");
}

#[test]
fn kernel_tcp_echo_256_mib_each_way_with_offloads() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if can_run(&[]) {
        echo_256_mib(true);
    }
}

#[test]
fn kernel_tcp_echo_256_mib_each_way_without_offloads() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if can_run(&[]) {
        echo_256_mib(false);
    }
}

#[test]
fn the_capture_opens_in_tshark_with_nothing_malformed() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !can_run(&["ping", "tshark"]) {
        return;
    }
    let ns = Netns::create("pcap");
    let pcap = std::env::temp_dir().join(format!("skbnet-tun-{}.pcapng", std::process::id()));
    let shim = Shim::start(&ns, &["--services", "echo", "--pcap", pcap.to_str().unwrap()]);
    let out = ns.run("ping", &["-c", "3", "-i", "0.01", "-s", "8000", "-q", STACK]);
    assert!(out.status.success(), "ping: {}", text(&out.stdout));
    let r = kernel_tcp_client(&ns, 7, 4 << 20);
    assert_eq!((r.got, &r.got_sha), (4 << 20, &r.sent_sha));
    let said = stop_cleanly(shim);
    assert!(said.contains(&format!("pcapng: {}", pcap.display())), "{said}");
    let tshark = |args: &[&str]| {
        let out = Command::new("tshark").arg("-r").arg(&pcap).args(args).output().expect("run tshark");
        assert!(out.status.success(), "tshark: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let malformed = tshark(&["-Y", "_ws.malformed"]);
    let fragments = tshark(&["-Y", "ip.flags.mf == 1", "-T", "fields", "-e", "ip.src"]);
    let supers = tshark(&["-Y", "tcp.len > 1460", "-T", "fields", "-e", "ip.src"]);
    let handshake = tshark(&["-Y", "tcp.flags.syn == 1", "-T", "fields", "-e", "ip.src"]);
    std::fs::remove_file(&pcap).unwrap();
    assert_eq!(malformed, "", "malformed packets in the capture");
    // Fragments both ways, TSO/GSO super-packets both ways, one handshake.
    for (what, lines) in [("fragments", &fragments), ("super-packets", &supers), ("SYNs", &handshake)] {
        for from in ["10.7.0.1", "10.7.0.2"] {
            assert!(lines.lines().any(|l| l == from), "no {what} from {from} in the capture");
        }
    }
}

#[test]
fn without_privileges_it_says_what_is_missing() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !is_root() {
        // Already unprivileged: run it as it is.
        let out = Command::new(env!("CARGO_BIN_EXE_skbnet"))
            .args(["tun", "--addr", ADDR, "--host-addr", HOST_ADDR])
            .output()
            .expect("run skbnet");
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(err.contains("root") || err.contains("/dev/net/tun does not exist"), "{err}");
        return;
    }
    if tool("setpriv").is_none() {
        skip("setpriv is not installed (util-linux)");
        return;
    }
    let ns = Netns::create("nopriv");
    let out = ns.run(
        "setpriv",
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_skbnet"),
            "tun",
            "--addr",
            ADDR,
            "--host-addr",
            HOST_ADDR,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("needs root, or the CAP_NET_ADMIN capability"), "{err}");
}

/// The block `--push` repeats, as `skbnet tun --help` documents it: byte i
/// is `x >> 56` after i+1 steps of xorshift64 (13, 7, 17) from
/// 0x9e3779b97f4a7c15, and the block is 65,521 bytes long. Written here
/// from that text, not taken from the library, so the two are checked
/// against each other.
fn push_block() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..65_521)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 56) as u8
        })
        .collect()
}

/// Send `n` bytes of the push pattern into `w`; their SHA-256.
fn write_pattern(w: &mut impl Write, n: u64) -> String {
    let block = push_block();
    let (mut sha, mut left) = (Sha256::new(), n);
    while left > 0 {
        let k = block.len().min(left as usize);
        w.write_all(&block[..k]).expect("send to the stack");
        sha.update(&block[..k]);
        left -= k as u64;
    }
    hex(&sha.finalize())
}

/// The SHA-256 of the first `n` bytes of the push pattern.
fn pattern_sha256(n: u64) -> String {
    struct Hashing(Sha256);
    impl Write for Hashing {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.update(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    write_pattern(&mut Hashing(Sha256::new()), n)
}

/// What a Linux listener does with the one connection it accepts.
#[derive(Clone, Copy)]
enum Mode {
    /// Read to the end, hash it.
    Sink,
    /// Send this many bytes of the push pattern, then close.
    Source(u64),
    /// Read this many bytes, then close with the rest unread: a reset.
    Reset(u64),
}

/// This test binary run in a namespace as a kernel TCP listener (see
/// [`kernel_tcp_listener_in_namespace`]).
struct Listener {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Listener {
    /// Listen on `port` in `ns`; returns once the socket is listening.
    fn start(ns: &Netns, port: u16, mode: Mode) -> Listener {
        let exe = std::env::current_exe().expect("the test binary");
        let mode = match mode {
            Mode::Sink => "sink".to_string(),
            Mode::Source(n) => format!("source {n}"),
            Mode::Reset(n) => format!("reset {n}"),
        };
        let mut child = ns
            .command(
                exe.to_str().expect("a UTF-8 path"),
                &["--exact", "kernel_tcp_listener_in_namespace", "--nocapture"],
            )
            .env(LISTENER_ENV, format!("{port} {mode}"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the listener");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(l) if l.starts_with("listening") => return Listener { child, lines },
                Ok(_) => {}
                Err(_) => panic!("the kernel TCP listener did not start"),
            }
        }
    }

    /// Wait for it to finish; its report line (`listener: ...`), as words.
    fn report(mut self) -> Vec<String> {
        let status = self.child.wait().expect("wait for the listener");
        let said: Vec<String> = self.lines.iter().collect();
        assert!(status.success(), "the kernel TCP listener failed:\n{}", said.join("\n"));
        let line = said.iter().find(|l| l.starts_with("listener: ")).unwrap_or_else(|| panic!("no report in {said:?}"));
        line.split_whitespace().map(String::from).collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The kernel TCP listener itself: does nothing unless run by
/// [`Listener::start`] (inside the test's namespace, where the stack
/// connects to it). It listens with `std::net::TcpListener` (Linux's TCP)
/// on every address of the namespace, says `listening`, takes one
/// connection and prints `listener: got|sent N sha256 HEX in S s`.
#[test]
fn kernel_tcp_listener_in_namespace() {
    let Ok(spec) = std::env::var(LISTENER_ENV) else { return };
    let w: Vec<&str> = spec.split_whitespace().collect();
    let l = TcpListener::bind(format!("0.0.0.0:{}", w[0])).expect("listen");
    l.set_nonblocking(true).unwrap();
    println!("listening on {}", l.local_addr().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    let s = loop {
        match l.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("no connection from the stack: {e}"),
        }
    };
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let started = Instant::now();
    let n = |i: usize| w[i].parse::<u64>().expect("a byte count");
    let (verb, bytes, sha) = match w[1] {
        "source" => {
            let sha = write_pattern(&mut &s, n(2));
            s.shutdown(Shutdown::Write).expect("shutdown(SHUT_WR)");
            // Wait for the stack's FIN: it read everything.
            let rest = (&s).read(&mut [0u8; 1]).expect("the stack's close");
            assert_eq!(rest, 0, "the stack sent data on a pull");
            ("sent", n(2), sha)
        }
        mode => {
            let limit = if mode == "reset" { n(2) } else { u64::MAX };
            let (mut sha, mut got, mut buf) = (Sha256::new(), 0u64, vec![0u8; 1 << 16]);
            while got < limit {
                let k = (&s).read(&mut buf[..(1 << 16).min(limit - got) as usize]).expect("receive from the stack");
                if k == 0 {
                    break;
                }
                sha.update(&buf[..k]);
                got += k as u64;
            }
            ("got", got, hex(&sha.finalize()))
        }
    };
    // Dropping the socket closes it: with bytes unread (`reset`), Linux resets.
    drop(s);
    let secs = started.elapsed().as_secs_f64();
    println!("listener: {verb} {bytes} sha256 {sha} in {secs:.3} s");
}

/// `skbnet tun`'s report of a transfer (`pushed|pulled N bytes ...
/// (M Mbit/s; ...), sha256 HEX`): bytes, Mbit/s, digest.
fn transfer_report(out: &str, verb: &str) -> (u64, f64, String) {
    let line = out.lines().find(|l| l.starts_with(verb)).unwrap_or_else(|| panic!("no `{verb}` line in:\n{out}"));
    let w: Vec<&str> = line.split_whitespace().collect();
    let mbits = w.iter().position(|x| x.starts_with("Mbit/s")).map(|i| w[i - 1].trim_start_matches('('));
    (
        w[1].parse().expect("bytes"),
        mbits.and_then(|m| m.parse().ok()).unwrap_or_else(|| panic!("no Mbit/s in {line}")),
        w.last().expect("the digest").to_string(),
    )
}

/// Run `skbnet tun extra` in `ns` until it stops by itself after its
/// transfer; its exit status and what it printed.
fn run_transfer(ns: &Netns, extra: &[&str]) -> (ExitStatus, String) {
    let shim = Shim::start(ns, extra);
    shim.exit(Duration::from_secs(120), "of starting its transfer")
}

#[test]
fn the_stack_pushes_64_mib_to_a_linux_listener() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !can_run(&[]) {
        return;
    }
    let ns = Netns::create("push");
    let listener = Listener::start(&ns, 5001, Mode::Sink);
    // The services run beside the transfer.
    let (status, out) = run_transfer(&ns, &["--services", "echo", "--push", &format!("{LINUX}:5001:64M")]);
    assert!(status.success(), "skbnet tun --push failed: {status}\n{out}");
    assert!(out.contains("all free after shutdown: yes"), "{out}");
    let (bytes, mbits, sha) = transfer_report(&out, "pushed ");
    let heard = listener.report();
    let expected = pattern_sha256(TRANSFER);
    assert_eq!((heard[2].as_str(), heard[4].as_str()), (TRANSFER.to_string().as_str(), expected.as_str()));
    assert_eq!((bytes, sha), (TRANSFER, expected), "the stack's report:\n{out}");
    println!("--push 64 MiB, skbnet -> Linux: {mbits:.0} Mbit/s");
}

#[test]
fn the_stack_pulls_64_mib_from_a_linux_listener() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !can_run(&[]) {
        return;
    }
    let ns = Netns::create("pull");
    let listener = Listener::start(&ns, 5001, Mode::Source(TRANSFER));
    let (status, out) = run_transfer(&ns, &["--pull", &format!("{LINUX}:5001")]);
    assert!(status.success(), "skbnet tun --pull failed: {status}\n{out}");
    assert!(out.contains("all free after shutdown: yes"), "{out}");
    let (bytes, mbits, sha) = transfer_report(&out, "pulled ");
    let sent = listener.report();
    let expected = pattern_sha256(TRANSFER);
    assert_eq!((sent[2].as_str(), sent[4].as_str()), (TRANSFER.to_string().as_str(), expected.as_str()));
    assert_eq!((bytes, sha), (TRANSFER, expected), "the stack's report:\n{out}");
    println!("--pull 64 MiB, Linux -> skbnet: {mbits:.0} Mbit/s");
}

#[test]
fn a_refused_or_reset_transfer_fails_with_the_reason() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !can_run(&[]) {
        return;
    }
    let ns = Netns::create("refused");
    // Nobody listens: Linux answers the SYN with a reset.
    let (status, out) = run_transfer(&ns, &["--pull", &format!("{LINUX}:5009")]);
    assert_eq!(status.code(), Some(1), "{out}");
    let want = format!("skbnet tun: --pull {LINUX}:5009: connect failed after 0 bytes: ConnRefused (errno 111)");
    assert!(out.contains(&want), "{out}");
    assert!(out.contains("all free after shutdown: yes"), "{out}");
    // The listener stops reading after 1 MiB and closes: Linux resets.
    let listener = Listener::start(&ns, 5002, Mode::Reset(1 << 20));
    let (status, out) = run_transfer(&ns, &["--push", &format!("{LINUX}:5002:64M")]);
    assert_eq!(listener.report()[2], (1u64 << 20).to_string());
    assert_eq!(status.code(), Some(1), "{out}");
    // Sending or draining the socket, whichever meets the reset first.
    let line = out.lines().find(|l| l.starts_with("skbnet tun: --push")).unwrap_or_else(|| panic!("{out}"));
    let rest = line.strip_prefix(&format!("skbnet tun: --push {LINUX}:5002:{TRANSFER}: ")).expect(line);
    assert!(rest.contains(" failed after ") && rest.ends_with("ConnReset (errno 104)"), "{line}");
    assert!(out.contains("all free after shutdown: yes"), "{out}");
}

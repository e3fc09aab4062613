//! `skbnet script`, `skbnet daemon`, `skbnet ip`, `skbnet nft` and `skbnet
//! ping`, run as a user runs them: the built binary, no privileges, the
//! daemon's Unix socket in a scratch directory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skbnet"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("utf-8 output")
}

fn script_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts").join(name)
}

/// Run a script file; returns (success, stdout, stderr).
fn script(path: &Path, args: &[&str]) -> (bool, String, String) {
    let out = bin().arg("script").args(args).arg(path).output().expect("run skbnet script");
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// Run a script given as text.
fn script_text(name: &str, body: &str, args: &[&str]) -> (bool, String, String) {
    let dir = scratch(name);
    let path = dir.join("script.skbnet");
    std::fs::write(&path, body).unwrap();
    let r = script(&path, args);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("skbnet-ip-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_seed_namespace_example_runs_as_a_script() {
    let (ok, out, err) = script(&script_path("namespaces.skbnet"), &[]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains(
        "$ skbnet ip netns exec ns1 ping 192.168.76.1\nPING 192.168.76.1 (192.168.76.1) 56(84) bytes of data.\n"
    ));
    for seq in 1..=4 {
        assert!(out.contains(&format!("64 bytes from 192.168.76.1: icmp_seq={seq} ttl=64 time=")), "{out}");
    }
    assert!(out.contains("4 packets transmitted, 4 received, 0% packet loss, time 3000ms"), "{out}");
}

#[test]
fn two_namespaces_on_a_switch() {
    let (ok, out, err) = script(&script_path("switch.skbnet"), &[]);
    assert!(ok, "{out}\n{err}");
    assert_eq!(out.matches("3 packets transmitted, 3 received, 0% packet loss").count(), 2, "{out}");
    assert!(out.contains("master br0 state UP mode DEFAULT"), "{out}");
    assert!(out.contains("[monitor] 4: br0: <BROADCAST,MULTICAST,UP,LOWER_UP>"), "the bridge's carrier came up: {out}");
    assert!(out.contains("link-netns ns1") && out.contains("link-netns ns2"), "{out}");
}

#[test]
fn the_ip_tool_and_nftables_examples_run() {
    let (ok, out, err) = script(&script_path("ip-tool.skbnet"), &[]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains(
            "default via 192.168.1.1 dev eth0\n192.168.1.0/24 dev eth0 proto kernel scope link src 192.168.1.100\n"
        ),
        "{out}"
    );
    assert!(out.contains("8.8.8.8 via 192.168.1.1 dev eth0 src 192.168.1.100"), "{out}");
    let (ok, out, err) = script(&script_path("nftables.skbnet"), &[]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("\t\tip saddr 192.168.1.0/24 drop\n\t\ttcp dport 22 drop\n"), "{out}");
    assert!(out.contains("net.ipv4.ip_forward = 1"), "{out}");
}

#[test]
fn a_failing_command_stops_the_script_with_iproute2_s_words() {
    let (ok, out, err) = script_text("fail", "ip link set veth9 up\nip netns add never\n", &[]);
    assert!(!ok);
    assert!(err.contains("Cannot find device \"veth9\""), "{err}");
    assert!(!out.contains("never"), "the script stopped: {out}");
    let body = "ip netns add ns1\nip netns add ns1\nip link add v0 type veth peer name v1\nip link add v0 type veth peer name v2\nip addr add 10.0.0.1/24 dev v0\nip addr add 10.0.0.1/24 dev v0\nip route add 10.9.0.0/16 via 10.7.7.7\nip netns list\n";
    let (ok, out, err) = script_text("errors", body, &["-k"]);
    assert!(!ok);
    assert!(err.contains("Cannot create namespace file \"/run/netns/ns1\": File exists"), "{err}");
    assert!(err.contains("Error: link exists."), "{err}");
    assert!(err.contains("Error: address already assigned."), "{err}");
    assert!(err.contains("Error: gateway not on any connected network."), "{err}");
    assert!(out.contains("ns1 (id: 1)\n"), "-k went on: {out}");
}

#[test]
fn script_monitor_reports_overflow_and_goes_on() {
    // 12 veth pairs with an address each on the root side, their peers in
    // `big`; deleting `big` takes every pair along in one request: more
    // changes than the world's log of 64 keeps.
    let mut body = String::from("ip netns add big\n");
    for i in 0..12 {
        body += &format!("ip link add v{i} type veth peer name w{i} netns big\nip addr add 10.0.{i}.1/24 dev v{i}\n");
    }
    body += "ip monitor\nip netns del big\nip link add probe0 type bridge\n";
    let (ok, out, err) = script_text("overflow", &body, &["-q"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("[monitor] netlink receive error No buffer space available (105)"), "{out}");
    let newest = out.lines().any(|l| l.starts_with("[monitor] Deleted ") && l.contains(": v11@if"));
    assert!(newest, "the newest changes are kept: {out}");
    let tail = out.split("No buffer space").nth(1).unwrap();
    assert!(tail.contains("probe0"), "and it goes on: {out}");
}

/// A daemon on a socket in a scratch directory, killed when dropped.
struct Daemon {
    child: Child,
    sock: PathBuf,
    dir: PathBuf,
}

impl Daemon {
    fn start(name: &str) -> Daemon {
        let dir = scratch(name);
        let sock = dir.join("skbnet.sock");
        let child = bin().arg("daemon").arg("--socket").arg(&sock).stderr(Stdio::null()).spawn().expect("daemon");
        let t = Instant::now();
        while !sock.exists() {
            assert!(t.elapsed() < Duration::from_secs(10), "the daemon did not listen");
            std::thread::sleep(Duration::from_millis(10));
        }
        Daemon { child, sock, dir }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = bin();
        c.args(args).env("SKBNET_SOCKET", &self.sock);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run skbnet")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "skbnet {args:?}: {}\n{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `skbnet ip monitor ARGS`, its lines arriving on a channel.
fn monitor(d: &Daemon, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = d.cmd(&[&["ip", "monitor"], args].concat()).stdout(Stdio::piped()).spawn().expect("monitor");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// Wait for a line containing `want`; returns every line seen until then.
fn expect_line(rx: &mpsc::Receiver<String>, want: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) => {
                let hit = l.contains(want);
                seen.push(l);
                if hit {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no line with {want:?} in {seen:#?}");
}

#[test]
fn the_daemon_runs_the_seed_example_and_monitor_sees_it_happen() {
    let d = Daemon::start("seed");
    let (mut mon, rx) = monitor(&d, &[]);
    // Let the monitor join before the changes.
    std::thread::sleep(Duration::from_millis(300));
    d.ok(&["ip", "netns", "add", "ns1"]);
    expect_line(&rx, "nsid 1 (iproute2 netns name: ns1)");
    d.ok(&["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"]);
    expect_line(&rx, "veth1@veth0: <BROADCAST,MULTICAST>");
    d.ok(&["ip", "link", "set", "veth1", "netns", "ns1"]);
    expect_line(&rx, "Deleted 4: veth1@veth0");
    d.ok(&["ip", "addr", "add", "192.168.76.1/24", "dev", "veth0"]);
    expect_line(&rx, "3: veth0    inet 192.168.76.1/24 brd 192.168.76.255 scope global veth0");
    expect_line(&rx, "192.168.76.0/24 dev veth0 proto kernel scope link src 192.168.76.1");
    d.ok(&["ip", "link", "set", "veth0", "up"]);
    expect_line(&rx, "state LOWERLAYERDOWN");
    d.ok(&["ip", "netns", "exec", "ns1", "ip", "addr", "add", "192.168.76.2/24", "dev", "veth1"]);
    d.ok(&["ip", "netns", "exec", "ns1", "ip", "link", "set", "veth1", "up"]);
    expect_line(&rx, "3: veth0@if4: <BROADCAST,MULTICAST,UP,LOWER_UP>");
    let ping = d.ok(&["ip", "netns", "exec", "ns1", "ping", "-c", "3", "-i", "0.2", "192.168.76.1"]);
    assert!(ping.contains("3 packets transmitted, 3 received, 0% packet loss"), "{ping}");
    let addr = d.ok(&["ip", "addr"]);
    assert!(
        addr.contains(
            "3: veth0@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000"
        ),
        "{addr}"
    );
    assert!(addr.contains("    link/ether ") && addr.contains("link-netns ns1"), "{addr}");
    let route = d.ok(&["ip", "netns", "exec", "ns1", "ip", "route"]);
    assert_eq!(route, "192.168.76.0/24 dev veth1 proto kernel scope link src 192.168.76.2\n");
    assert_eq!(d.ok(&["ip", "netns", "list"]), "ns1 (id: 1)\n");
    // Errors come back with iproute2's words and status.
    let out = d.run(&["ip", "addr", "add", "192.168.76.1/24", "dev", "veth0"]);
    assert_eq!((out.status.code(), text(&out.stderr)), (Some(2), "Error: address already assigned.\n".to_string()));
    let out = d.run(&["ip", "netns", "exec", "nsX", "ip", "link"]);
    assert!(text(&out.stderr).contains("Cannot open network namespace \"nsX\""), "{}", text(&out.stderr));
    // nft through the daemon, and its rule events on the monitor.
    d.ok(&["nft", "add", "table", "inet", "filter"]);
    expect_line(&rx, "add table inet filter");
    let _ = mon.kill();
    let _ = mon.wait();
}

#[test]
fn the_daemon_s_monitor_reports_overflow() {
    let d = Daemon::start("overflow");
    d.ok(&["ip", "netns", "add", "big"]);
    for i in 0..12 {
        let (v, w, a) = (format!("v{i}"), format!("w{i}"), format!("10.0.{i}.1/24"));
        d.ok(&["ip", "link", "add", &v, "type", "veth", "peer", "name", &w, "netns", "big"]);
        d.ok(&["ip", "addr", "add", &a, "dev", &v]);
    }
    let (mut mon, rx) = monitor(&d, &["link", "address", "route"]);
    std::thread::sleep(Duration::from_millis(300));
    d.ok(&["ip", "netns", "del", "big"]);
    expect_line(&rx, "netlink receive error No buffer space available (105)");
    d.ok(&["ip", "link", "add", "probe0", "type", "bridge"]);
    expect_line(&rx, "probe0");
    let _ = mon.kill();
    let _ = mon.wait();
}

#[test]
fn without_a_daemon_the_client_says_so() {
    let dir = scratch("nodaemon");
    let out = bin().args(["ip", "link"]).env("SKBNET_SOCKET", dir.join("none.sock")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot reach the skbnet daemon"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_seed_s_tun_example_makes_a_tun_device() {
    let (ok, out, err) = script(&script_path("tun.skbnet"), &["-k"]);
    // The seed's fourth command gets Linux's answer: the address made that route.
    assert!(!ok && err.contains("Error: route exists.\nskbnet script: line 9: exit status 2"), "{out}\n{err}");
    assert_eq!(err.matches("exit status").count(), 1, "only the route that exists fails: {err}");
    assert!(out.contains("$ skbnet ip tuntap\ntun0: tun\n"), "{out}");
    assert!(
        out.contains("tun0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1500 qdisc noqueue state UNKNOWN"),
        "{out}"
    );
    assert!(out.contains("    link/none\n"), "{out}");
    assert!(out.contains("10.0.0.0/24 dev tun0 proto kernel scope link src 10.0.0.1\n"), "{out}");
    // Deleting it, and a mode that does not exist.
    let body = "ip tuntap add tun0 mode tun\nip tuntap del dev tun0 mode tun\nip tuntap\nip link\nip tuntap add dev tap0 mode tap\n";
    let (ok, out, err) = script_text("tundel", body, &[]);
    assert!(!ok && err.contains("only mode tun exists"), "{out}\n{err}");
    assert!(out.contains("$ skbnet ip tuntap\n$ skbnet ip link\n1: lo:") && !out.contains("tun0:"), "{out}");
}

#[test]
fn ip_netns_exec_bash_in_a_script_runs_the_lines_after_it_in_the_namespace() {
    let (ok, out, err) = script(&script_path("netns-shell.skbnet"), &[]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("$ skbnet ip netns exec ns1 bash\nns1# ip addr add 192.168.76.2/24 dev veth1\n"), "{out}");
    assert!(out.contains("2 packets transmitted, 2 received, 0% packet loss"), "{out}");
    assert!(
        out.contains("ns1# ip route\n192.168.76.0/24 dev veth1 proto kernel scope link src 192.168.76.2\nns1# exit\n")
    );
    assert!(out.ends_with("$ skbnet ip route\n192.168.76.0/24 dev veth0 proto kernel scope link src 192.168.76.1\n"));
}

#[test]
fn ip_netns_exec_bash_reads_commands_from_standard_input() {
    use std::io::Write;
    let d = Daemon::start("bash");
    d.ok(&["ip", "netns", "add", "ns1"]);
    d.ok(&["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", "ns1"]);
    d.ok(&["ip", "addr", "add", "192.168.76.1/24", "dev", "veth0"]);
    d.ok(&["ip", "link", "set", "veth0", "up"]);
    let mut child = d
        .cmd(&["ip", "netns", "exec", "ns1", "bash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = "ip addr add 192.168.76.2/24 dev veth1\n\
                 sudo ip link set veth1 up\n\
                 # a comment, then a blank line\n\n\
                 curl http://192.168.76.1/\n\
                 skbnet ping -c 2 -i 0.2 192.168.76.1\n\
                 ip route\n\
                 sudo nft add table inet filter\n";
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "the last command's status: {stdout}\n{stderr}");
    assert!(stdout.contains("2 packets transmitted, 2 received, 0% packet loss"), "{stdout}");
    assert!(stdout.contains("192.168.76.0/24 dev veth1 proto kernel scope link src 192.168.76.2\n"), "{stdout}");
    assert!(stderr.contains("curl: command not found"), "{stderr}");
    // It ran in ns1: the table is there, not in the initial namespace.
    assert_eq!(d.ok(&["ip", "netns", "exec", "ns1", "nft", "list", "tables"]), "table inet filter\n");
    assert_eq!(d.ok(&["nft", "list", "tables"]), "");
    // `exit N` ends it with that status; a namespace that does not exist is refused.
    let out = d.cmd(&["ip", "netns", "exec", "ns1", "sh"]).output_with("exit 3\nip link\n");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    assert!(out.stdout.is_empty(), "nothing after exit runs");
    let out = d.cmd(&["ip", "netns", "exec", "nsX", "bash"]).stdin(Stdio::null()).output().unwrap();
    assert!(text(&out.stderr).contains("Cannot open network namespace \"nsX\""), "{}", text(&out.stderr));
}

/// Run a command with `input` on its standard input.
trait OutputWith {
    fn output_with(&mut self, input: &str) -> Output;
}

impl OutputWith for Command {
    fn output_with(&mut self, input: &str) -> Output {
        use std::io::Write;
        let mut child = self.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }
}

#[test]
fn a_leading_sudo_is_accepted_and_ignored() {
    let d = Daemon::start("sudo");
    d.ok(&["sudo", "nft", "add", "table", "inet", "filter"]);
    d.ok(&[
        "sudo", "nft", "add", "chain", "inet", "filter", "input", "{", "type", "filter", "hook", "input", "priority",
        "0", ";", "policy", "accept", ";", "}",
    ]);
    assert!(d.ok(&["sudo", "nft", "list", "table", "inet", "filter"]).contains("chain input {"));
    assert_eq!(d.ok(&["sudo", "sysctl", "-w", "net.ipv4.ip_forward=1"]), "net.ipv4.ip_forward = 1\n");
    assert!(d.ok(&["sudo", "ip", "link"]).contains("1: lo:"));
    // In scripts too (the seed's nft examples are written with sudo).
    let (ok, out, err) = script_text("sudo", "sudo ip netns add ns1\nsudo skbnet ip netns\n", &[]);
    assert!(ok && out.ends_with("$ skbnet ip netns\nns1 (id: 1)\n"), "{out}\n{err}");
}

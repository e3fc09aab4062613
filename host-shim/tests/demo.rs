//! `skbnet demo`, run as a user runs it: the built binary, its exit status,
//! what it prints, and its pcapng read by an independent dissector (tshark):
//! no malformed packet, no bad checksum, frames on both links, IPv4
//! fragments on the smaller-MTU one, and a TCP stream that tshark follows
//! on each link with nothing to remark on.

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

/// tshark's display filter for anything malformed or with a bad checksum
/// (status 0 is "Bad").
const CHECKS: [&str; 8] = [
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    "-Y",
    "_ws.malformed || ip.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0 \
     || tcp.checksum.status == 0",
];

/// What the TCP scene sends: byte `i` is `i % 251`.
const TCP_BYTES: usize = 256 * 1024;

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

/// The lines of one namespace's block in the counters (`h1:` up to the next
/// namespace or `links:`).
fn counters_of<'a>(out: &'a str, ns: &str) -> Vec<&'a str> {
    let mut lines = out.lines().skip_while(|l| !l.starts_with("== counters")).skip_while(|l| *l != ns);
    let first = lines.next().into_iter();
    first.chain(lines.take_while(|l| l.starts_with(' '))).collect()
}

/// The printout of the scene whose title starts with `title`, up to the next.
fn scene<'a>(out: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = out.lines().skip_while(|l| !l.starts_with(title));
    let first = lines.next().into_iter();
    first.chain(lines.take_while(|l| !l.starts_with("== "))).collect()
}

/// The printout of the TCP scene.
fn tcp_scene(out: &str) -> Vec<&str> {
    scene(out, "== TCP")
}

/// The numbers in `... N TCP frames not printed (h1-r A with data + B
/// without, r-h2 C with data + D without) ...`: (N, per link A + B).
fn elided(out: &str) -> (usize, [usize; 2]) {
    let line = out.lines().find(|l| l.contains("TCP frames not printed")).expect("an elision line");
    let line = &line[..line.find(')').expect("counts in parentheses")];
    let nums: Vec<usize> =
        line.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).filter_map(|w| w.parse().ok()).collect();
    // N, then h1-r's "1" and two counts, then r-h2's "2" and two counts.
    assert_eq!(nums.len(), 7, "{line}");
    (nums[0], [nums[2] + nums[3], nums[5] + nums[6]])
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
        "h2 read 262144 bytes, then the end of the stream: every byte is the one h1 sent",
        "drops: NoSocket 1",
        "pool free after shutdown: 0 heads, 0 buffers in use: ok",
    ] {
        assert!(out.contains(want), "the output lacks {want:?}:\n{out}");
    }
    // The router fragments one datagram.
    let r = counters_of(&out, "r:").join("\n");
    let ip = |name: &str| {
        let at = r.find(&format!(" {name} ")).unwrap_or_else(|| panic!("r has no {name}:\n{r}"));
        r[at + name.len() + 2..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse::<u64>().unwrap()
    };
    // The router forwards everything it receives but the one datagram its
    // firewall rule drops.
    assert_eq!(ip("InReceives"), ip("ForwDatagrams") + 1, "{r}");
    assert!(r.contains("drops: Netfilter 1"), "{r}");
    assert!(r.contains("FragOKs 1, FragCreates 2"), "{r}");
    // The TCP counters, as nstat shows them.
    let h1 = counters_of(&out, "h1:").join("\n");
    let h2 = counters_of(&out, "h2:").join("\n");
    assert!(h1.contains("  Tcp:   ActiveOpens 1, ") && h1.contains("  TcpExt: ") && h1.contains(" TW 1"), "{h1}");
    assert!(h2.contains("  Tcp:   PassiveOpens 1, "), "{h2}");
    assert!(!h1.contains("RetransSegs") && !h2.contains("RetransSegs"), "retransmissions:\n{h1}\n{h2}");
    // The first fragment as tcpdump shows it, on the smaller-MTU link.
    let frag = out.lines().find(|l| is_frame_on(l, "r-h2") && l.contains("UDP, length 1400 (frag "));
    assert!(frag.is_some_and(|l| l.ends_with(":976@0+)")), "no first fragment of 976 bytes on r-h2:\n{out}");
}

#[test]
fn the_router_masquerades_drops_a_port_and_lists_its_rules() {
    let pcap = scratch("nat");
    let out = demo(&pcap);
    std::fs::remove_file(&pcap).unwrap();
    let nat = scene(&out, "== NAT");
    let text = nat.join("\n");
    // The same datagram on both links: h1's address on h1-r, r's on r-h2,
    // and the echo back translated to h1 again.
    let on = |link: &str, what: &str| nat.iter().filter(|l| is_frame_on(l, link) && l.contains(what)).count();
    assert_eq!(on("h1-r", ": 10.0.1.2.44840 > 10.0.2.2.7: UDP, length 17"), 1, "{text}");
    assert_eq!(on("r-h2", ": 10.0.2.1.44840 > 10.0.2.2.7: UDP, length 17"), 1, "{text}");
    assert_eq!(on("r-h2", ": 10.0.2.2.7 > 10.0.2.1.44840: UDP, length 17"), 1, "{text}");
    assert_eq!(on("h1-r", ": 10.0.2.2.7 > 10.0.1.2.44840: UDP, length 17"), 1, "{text}");
    assert_eq!(
        (on("h1-r", "10.0.1.2 > 10.0.2.2: ICMP echo request"), on("r-h2", "10.0.2.1 > 10.0.2.2: ICMP echo request")),
        (1, 1)
    );
    // The datagram to port 9 crossed h1-r only, and nothing answered it.
    assert_eq!((on("h1-r", " > 10.0.2.2.9: UDP"), on("r-h2", ".9: UDP")), (1, 0), "{text}");
    assert!(!text.contains("ICMP 10.0.2.2 udp port 9 unreachable"), "{text}");
    for want in [
        "h2 echo service: 17 bytes from 10.0.2.1:44840, sent back",
        "h1 got its echo from 10.0.2.2:7: \"hello through NAT\"",
        "h1 sent to 10.0.2.2:9 and heard nothing in 1 s",
        "  udp      17 118 src=10.0.1.2 dst=10.0.2.2 sport=44840 dport=7 packets=1 bytes=45 \
         src=10.0.2.2 dst=10.0.2.1 sport=7 dport=44840 packets=1 bytes=45 [ASSURED] mark=0 use=1",
        "  (2 flow entries)",
    ] {
        assert!(text.contains(want), "the NAT scene lacks {want:?}:\n{text}");
    }
    // `nft list ruleset`, counters included: two connections masqueraded
    // (their first packets), one datagram dropped, two replies let through.
    let listing = text.split("r# nft list ruleset\n").nth(1).expect("a listing");
    assert_eq!(
        listing,
        "  table ip nat {\n      chain postrouting {\n          type nat hook postrouting priority srcnat; policy accept;\n\
         \x20         oifname \"eth1\" counter packets 2 bytes 76 masquerade\n      }\n  }\n\n\
         \x20 table inet filter {\n      chain forward {\n          type filter hook forward priority filter; policy accept;\n\
         \x20         udp dport 9 counter packets 1 bytes 35 drop\n\
         \x20         ct state established,related counter packets 2 bytes 76 accept\n      }\n  }\n"
    );
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
    // Every frame the demo printed or counted as not printed is in the
    // file, on its link's interface.
    let names = run(&["-T", "fields", "-e", "frame.interface_name"]);
    let (_, not_printed) = elided(&out);
    for (link, not_printed) in ["h1-r", "r-h2"].into_iter().zip(not_printed) {
        let printed = out.lines().filter(|l| is_frame_on(l, link)).count();
        assert!(printed > 10, "{link}: {printed} frames printed");
        assert_eq!(count(&names, link), printed + not_printed, "{link}: frames in the file");
    }
    let not_tcp = run(&["-Y", "!tcp", "-T", "fields", "-e", "frame.interface_name"]);
    // ARP 4 + 4: the two neighbour entries made from requests (h2's for r,
    // r's for h1) are probed by unicast 5 s after their first use, as
    // Linux's delay_first_probe_time has it.
    assert_eq!(
        not_tcp.lines().count(),
        44,
        "ARP 8, ping 12, echo 4, fragments 7, closed port 4; through the NAT: ping 4, echo 4, dropped 1"
    );
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

/// The number after `key` in `line` (`key 12.5 ...`).
fn number_after(line: &str, key: &str) -> f64 {
    let at = line.find(key).unwrap_or_else(|| panic!("no {key:?} in {line}")) + key.len();
    let num: String = line[at..].trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    num.parse().unwrap_or_else(|_| panic!("no number after {key:?} in {line}"))
}

#[test]
fn the_tcp_scene_prints_the_handshake_the_first_segments_and_the_close() {
    let pcap = scratch("tcp-printout");
    let out = demo(&pcap);
    std::fs::remove_file(&pcap).unwrap();
    let scene = tcp_scene(&out);
    let frames: Vec<&str> =
        scene.iter().copied().filter(|l| is_frame_on(l, "h1-r") || is_frame_on(l, "r-h2")).collect();
    let flags = |f: &str| frames.iter().filter(|l| l.contains(&format!(": Flags {f}, "))).count();
    // Handshake and close, each frame on both links.
    assert_eq!((flags("[S]"), flags("[S.]"), flags("[F.]"), flags("[R]")), (2, 2, 4, 0), "{scene:#?}");
    // Linux's option layout; each host announces its own MTU less 40.
    let syn = frames.iter().find(|l| l.contains("Flags [S],")).unwrap();
    assert!(syn.contains("options [mss 1460,sackOK,TS val ") && syn.contains(",nop,wscale "), "{syn}");
    let syn_ack = frames.iter().find(|l| l.contains("Flags [S.],")).unwrap();
    assert!(syn_ack.contains("options [mss 960,sackOK,TS val "), "{syn_ack}");
    // The first window (IW10) on h1-r: ten full segments, back to back.
    let data: Vec<&str> =
        frames.iter().copied().filter(|l| is_frame_on(l, "h1-r") && l.contains(", length 948")).collect();
    assert_eq!(data.len(), 10, "{scene:#?}");
    let seqs: Vec<(u32, u32)> = data
        .iter()
        .map(|l| {
            let range = l.split(", seq ").nth(1).unwrap().split(',').next().unwrap();
            let (a, b) = range.split_once(':').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0].1 == w[1].0), "not back to back: {seqs:?}");
    assert!(seqs.iter().all(|(a, b)| b.wrapping_sub(*a) == 948), "{seqs:?}");
    // The rest is counted, not printed: the whole output stays short.
    let (not_printed, _) = elided(&out);
    assert!(not_printed > 500, "{not_printed} frames not printed");
    assert!(out.lines().count() < 200, "{} lines printed", out.lines().count());
    // The summary: the window grew from IW10, nothing was retransmitted,
    // and the goodput is below what the 100 Mb/s link carries of data.
    let cwnd = scene.iter().find(|l| l.contains("congestion window every")).unwrap();
    let cwnd: Vec<u32> = cwnd.split(": ").nth(1).unwrap().split(' ').map(|n| n.parse().unwrap()).collect();
    assert_eq!(cwnd[0], 10, "IW10");
    assert!(cwnd.iter().max() > Some(&40), "the window grew: {cwnd:?}");
    let goodput = scene.iter().find(|l| l.contains("Mb/s of goodput")).unwrap();
    assert!(goodput.starts_with(&format!("  {TCP_BYTES} bytes from 10.0.1.2 to 10.0.2.2 in ")), "{goodput}");
    assert!(goodput.ends_with("; 0 segments retransmitted"), "{goodput}");
    let mbps = number_after(goodput, "virtual time:");
    assert!(mbps > 50.0 && mbps < 100.0 * 948.0 / 1014.0, "{goodput}");
}

/// `tshark -r pcap -Y 'frame.interface_name == "LINK"' -w FILE`: one
/// link's frames in a file of their own, so tshark analyses each hop's TCP
/// stream alone (in one file the same stream on two links looks like
/// every segment sent twice).
fn one_link(tshark_path: &Path, pcap: &Path, link: &str) -> PathBuf {
    let file = scratch(&format!("link-{link}"));
    let filter = format!("frame.interface_name == \"{link}\"");
    tshark(tshark_path, pcap, &["-Y", &filter, "-w", file.to_str().unwrap()]);
    file
}

/// The bytes node 0 (the client) sent in TCP stream 0, as tshark's
/// `follow,tcp,raw` reassembles them; and how many lines the server sent.
fn follow_client_bytes(tshark_path: &Path, file: &Path) -> (Vec<u8>, usize) {
    let text = tshark(tshark_path, file, &["-q", "-z", "follow,tcp,raw,0"]);
    let body = text.lines().skip_while(|l| !l.starts_with("Node 1:")).skip(1).filter(|l| !l.starts_with('='));
    let (mut client, mut server) = (Vec::new(), 0);
    for line in body {
        if line.starts_with('\t') {
            server += 1;
            continue;
        }
        let hex = line.trim();
        client.extend((0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex")));
    }
    (client, server)
}

/// The TCP analysis flags tshark raises in `file`, except window updates
/// (an ACK that only opens the window is ordinary).
fn tcp_remarks(tshark_path: &Path, file: &Path) -> String {
    let filter = "tcp.analysis.flags && !tcp.analysis.window_update";
    tshark(tshark_path, file, &["-Y", filter, "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"])
}

#[test]
fn tshark_follows_the_tcp_stream_on_each_link_with_nothing_to_remark() {
    let pcap = scratch("tcp-tshark");
    demo(&pcap);
    let Some(tshark_path) = tool_or_skip("tshark") else {
        std::fs::remove_file(&pcap).unwrap();
        return;
    };
    let pattern: Vec<u8> = (0..TCP_BYTES).map(|i| (i % 251) as u8).collect();
    for link in ["h1-r", "r-h2"] {
        let file = one_link(&tshark_path, &pcap, link);
        let run = |args: &[&str]| tshark(&tshark_path, &file, args);
        // No retransmission, lost segment, duplicate ACK, out-of-order
        // segment or zero window on a link that loses nothing.
        assert_eq!(tcp_remarks(&tshark_path, &file), "", "{link}: tshark's remarks");
        // The stream tshark reassembles is the pattern, byte for byte.
        let (client, server_lines) = follow_client_bytes(&tshark_path, &file);
        assert_eq!((client.len(), server_lines), (TCP_BYTES, 0), "{link}: stream lengths");
        assert!(client == pattern, "{link}: the stream differs from the pattern");
        // The SYN and the SYN-ACK announce each host's MSS.
        let mss =
            run(&["-Y", "tcp.flags.syn == 1", "-T", "fields", "-e", "tcp.flags.ack", "-e", "tcp.options.mss_val"]);
        assert_eq!(mss, "0\t1460\n1\t960\n", "{link}");
        // One FIN each way, no reset.
        let fins = run(&["-Y", "tcp.flags.fin == 1 || tcp.flags.reset == 1", "-T", "fields", "-e", "tcp.flags.str"]);
        assert_eq!(fins.lines().count(), 2, "{link}: {fins}");
        assert!(fins.lines().all(|f| f.contains('F') && !f.contains('R')), "{link}: {fins}");
        // Full segments fit r-h2: no TCP fragment, no "need to frag", and
        // the largest packet is exactly the smaller MTU.
        let refused =
            run(&["-Y", "(tcp && ip.flags.mf == 1) || ip.frag_offset > 0 && ip.proto == 6 || icmp.code == 4"]);
        assert_eq!(refused, "", "{link}");
        let lens = run(&["-Y", "tcp", "-T", "fields", "-e", "ip.len"]);
        assert_eq!(lens.lines().filter_map(|l| l.parse::<u32>().ok()).max(), Some(1000), "{link}");
        if link == "h1-r" {
            one_lost_segment_is_remarked(&tshark_path, &file);
        }
        std::fs::remove_file(&file).unwrap();
    }
    std::fs::remove_file(&pcap).unwrap();
}

/// The control: with one data segment taken out of the capture, tshark
/// does remark on it, and the stream no longer matches.
fn one_lost_segment_is_remarked(tshark_path: &Path, file: &Path) {
    let data = tshark(tshark_path, file, &["-Y", "tcp.len > 0", "-T", "fields", "-e", "frame.number"]);
    let fifth = data.lines().nth(4).expect("five data segments");
    let gap = scratch("tcp-gap");
    let keep = format!("frame.number != {fifth}");
    tshark(tshark_path, file, &["-Y", &keep, "-w", gap.to_str().unwrap()]);
    let remarks = tcp_remarks(tshark_path, &gap);
    let (client, _) = follow_client_bytes(tshark_path, &gap);
    std::fs::remove_file(&gap).unwrap();
    assert!(remarks.contains("Previous segment(s) not captured"), "no remark on the gap: {remarks}");
    assert!(client.len() < TCP_BYTES, "tshark followed the stream across the gap");
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

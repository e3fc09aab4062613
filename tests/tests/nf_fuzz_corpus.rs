//! The rule engine's fuzz corpora as ordinary tests on stable: every file
//! of `fuzz/corpus/nft_parse/` and `fuzz/corpus/nat_router/` goes through
//! its body (`skbnet_tests::fuzz_nft`), so what a campaign found stays
//! fixed without nightly. The seeds are written here, with fixed names
//! and contents, from the seed's commands and from frames etherparse
//! builds.

use std::fs;
use std::net::Ipv4Addr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use etherparse::PacketBuilder;
use proptest::prelude::*;
use skbnet_tests::fuzz_nft::{ETH0_MAC, ETH1_MAC, GATEWAY_IP, OUTSIDE_IP, RULES, nat_router, nft_parse};
use skbnet_tests::fuzz_stack::{control, peer_mac, program};

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target)
}

fn nft_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let seed = [
        "sudo nft add table inet filter",
        r"sudo nft add chain inet filter input { type filter hook input priority 0 \; policy accept \; }",
        "sudo nft add rule inet filter input ip saddr 192.168.1.0/24 drop",
        "nft add rule inet filter input tcp dport 22 drop",
        "sudo nft list table inet filter",
        "nft add table ip nat",
        "nft add chain ip nat postrouting {\n    type nat hook postrouting priority 100\\;\n}",
        "nft add rule ip nat postrouting ip saddr 10.100.0.0/24 oif \"eth0\" masquerade",
        "nft -a list ruleset",
    ];
    let errors = [
        "add table inet f",
        "add chain inet f c { type filter hook input priority filter + 5; policy drop; }",
        "add rule inet f c tcp dpot 22 drop",
        "add rule inet f c ip saddr 300.0.0.1 drop",
        "add rule inet f c jump c",
        "add rule inet f c log prefix \"unterminated",
        "delete rule inet f c handle 77",
        "add rule inet f c ct state { new, invalid } counter packets 1 bytes 2 reject with tcp reset",
        "insert rule inet f c position 4 iifname != \"eth0\" meta mark set 0xff accept",
        "add set inet f s { type inet_service; flags interval; elements = { 1-1024, ssh, 8080 } }",
        "delete element inet f s { 8080 }",
        "flush chain inet f c",
        "delete chain inet f c",
        "flush ruleset",
    ];
    // Commands that fail halfway: each must leave the ruleset as it was.
    let halfway = [
        "add table inet f",
        "add set inet f s { type ipv4_addr; flags interval; elements = { 10.0.0.0/24 } }",
        "add element inet f s { 10.1.0.1, 10.0.0.7 }",
        "delete element inet f s { 10.0.0.0/24, 10.9.9.9 }",
        "add set inet f t { type inet_service; elements = { 22, 1-5 } }",
        "add chain inet f c { type filter hook forward priority 0; }",
        "add chain inet f sub",
        "add rule inet f c jump sub",
        "add rule inet f sub masquerade",
        "add rule inet f c ip saddr { 10.0.0.0/8, 10.1.1.1 } drop",
    ];
    vec![
        ("commands", seed.join("\0").into_bytes()),
        ("router-rules", RULES.join("\0").into_bytes()),
        ("errors-and-edits", errors.join("\0").into_bytes()),
        ("fail-halfway", halfway.join("\0").into_bytes()),
    ]
}

/// An Ethernet/IPv4 frame on `link` (0 inside, 1 outside) written by etherparse.
fn frame(
    link: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    build: impl FnOnce(etherparse::PacketBuilderStep<etherparse::IpHeaders>, &mut Vec<u8>),
) -> Vec<u8> {
    let (from, to) = if link == 0 { (peer_mac(src), ETH0_MAC) } else { (peer_mac(GATEWAY_IP), ETH1_MAC) };
    let mut f = Vec::new();
    build(PacketBuilder::ethernet2(from, to).ipv4(src.octets(), dst.octets(), 64), &mut f);
    f
}

fn udp(link: u8, src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    frame(link, src, dst, |b, f| b.udp(sport, dport).write(f, b"payload").unwrap())
}

fn tcp_syn(link: u8, src: Ipv4Addr, dst: Ipv4Addr, dport: u16) -> Vec<u8> {
    frame(link, src, dst, |b, f| b.tcp(40000, dport, 1000, 64240).syn().write(f, &[]).unwrap())
}

fn ping(link: u8, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    frame(link, src, dst, |b, f| b.icmpv4_echo_request(9, 1).write(f, &[0x5a; 32]).unwrap())
}

fn nat_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let host = Ipv4Addr::new(10, 0, 1, 2);
    let far = Ipv4Addr::new(198, 51, 100, 7);
    let bad = Ipv4Addr::new(10, 0, 1, 200);
    let out = udp(0, host, far, 5000, 53);
    // A reply to each port the masquerade may have chosen: one of them hits.
    let replies: Vec<Vec<u8>> = (40000..40008).map(|p| udp(1, far, OUTSIDE_IP, 53, p)).collect();
    let mut flows: Vec<(u8, &[u8])> = vec![(control(0, false, 1), &out)];
    flows.extend(replies.iter().map(|r| (control(1, false, 0), r.as_slice())));
    let syn_in = tcp_syn(1, far, OUTSIDE_IP, 8080);
    let syn_23 = tcp_syn(0, host, far, 23);
    let udp_9 = udp(0, host, far, 5001, 9);
    let from_bad = udp(0, bad, far, 5002, 53);
    let echo = ping(0, host, far);
    let dnat_udp = udp(1, far, OUTSIDE_IP, 6000, 5005);
    let local = udp(0, host, Ipv4Addr::new(10, 0, 1, 1), 5003, 7);
    let ssh = tcp_syn(1, far, OUTSIDE_IP, 22);
    let mix: Vec<(u8, &[u8])> = vec![
        (control(1, false, 1), &syn_in),
        (control(0, false, 1), &syn_23),
        (control(0, false, 1), &udp_9),
        (control(0, false, 1), &from_bad),
        (control(0, false, 1), &echo),
        (control(1, false, 1), &dnat_udp),
        (control(0, false, 1), &local),
        (control(1, false, 1), &ssh),
    ];
    // More flows than the connection table holds.
    let many: Vec<Vec<u8>> = (0..40).map(|i| udp(0, host, far, 6000 + i, 53)).collect();
    let burst: Vec<(u8, &[u8])> = many.iter().map(|f| (control(0, false, 0), f.as_slice())).collect();
    vec![
        ("masquerade-reply", program(0x1f | 0x20, &flows)),
        ("rules-mix", program(0x20, &mix)),
        ("table-full", program(0x1f, &burst)),
    ]
}

fn write_seeds(target: &str, seeds: &[(&str, Vec<u8>)]) {
    let dir = corpus_dir(target);
    fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in seeds {
        let path = dir.join(format!("seed-{name}"));
        if fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            fs::write(&path, bytes).unwrap();
        }
    }
}

/// Run every corpus file of `target` through `body`; report all that panicked.
fn run_corpus(target: &str, body: fn(&[u8])) {
    let dir = corpus_dir(target);
    let mut failed = Vec::new();
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        n += 1;
        if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(n > 0, "no corpus in {}", dir.display());
    assert!(failed.is_empty(), "{} of {n} inputs panicked: {failed:#?}", failed.len());
}

#[test]
fn nft_parse_corpus() {
    write_seeds("nft_parse", &nft_seeds());
    run_corpus("nft_parse", nft_parse);
}

#[test]
fn nat_router_corpus() {
    write_seeds("nat_router", &nat_seeds());
    run_corpus("nat_router", nat_router);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Seeds with bytes changed, cut or inserted never break the parser.
    #[test]
    fn mutated_commands_never_break_the_parser(
        seed in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..12),
    ) {
        let mut data = nft_seeds()[seed].1.clone();
        for (at, byte, op) in edits {
            let i = at % (data.len() + 1);
            match op {
                0 if i < data.len() => data[i] = byte,
                1 => data.insert(i, byte),
                _ => data.truncate(i.max(1)),
            }
        }
        nft_parse(&data);
    }
}

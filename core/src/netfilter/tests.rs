//! The nft language and the engine's control path, without a world: the
//! seed's commands word for word, listings, errors that point at the
//! offending word, validation, sets.

use std::string::String;

use super::expr::{Expr, Key, Rhs, SetKey};
use super::parse::{IfaceNames, execute};
use super::table::{Nft, NftStorage};
use super::*;

struct Ifs;

impl IfaceNames for Ifs {
    fn index(&self, name: &str) -> Option<IfIndex> {
        match name {
            "eth0" => Some(2),
            "eth1" => Some(3),
            _ => None,
        }
    }

    fn name(&self, i: IfIndex) -> Option<&str> {
        match i {
            2 => Some("eth0"),
            3 => Some("eth1"),
            _ => None,
        }
    }
}

type Storage = NftStorage<4, 24, 1100, 8, 2048, 16>;

fn with_nft<R>(f: impl FnOnce(&mut Nft<'_>) -> R) -> R {
    let mut storage = std::boxed::Box::new(Storage::new());
    let mut nft = Nft::new(&mut storage, [1; 16]);
    f(&mut nft)
}

fn run(nft: &mut Nft<'_>, cmd: &str) -> Result<String, NftError> {
    let mut out = String::new();
    execute(nft, &Ifs, NsId(1), cmd, &mut out)?;
    Ok(out)
}

fn ok(nft: &mut Nft<'_>, cmd: &str) -> String {
    run(nft, cmd).unwrap_or_else(|e| panic!("{}", e.report(cmd)))
}

#[test]
fn the_seed_commands_word_for_word() {
    with_nft(|n| {
        ok(n, "sudo nft add table inet filter");
        ok(n, r"sudo nft add chain inet filter input { type filter hook input priority 0 \; policy accept \; }");
        ok(n, "sudo nft add rule inet filter input ip saddr 192.168.1.0/24 drop");
        ok(n, "nft add rule inet filter input tcp dport 22 drop");
        let listing = ok(n, "sudo nft list table inet filter");
        assert_eq!(
            listing,
            "table inet filter {\n\
             \tchain input {\n\
             \t\ttype filter hook input priority filter; policy accept;\n\
             \t\tip saddr 192.168.1.0/24 drop\n\
             \t\ttcp dport 22 drop\n\
             \t}\n\
             }\n"
        );
        ok(n, "nft add table ip nat");
        ok(n, "nft add chain ip nat postrouting {\n    type nat hook postrouting priority 100\\;\n}");
        ok(n, "nft add rule ip nat postrouting ip saddr 10.100.0.0/24 oif \"eth0\" masquerade");
        assert_eq!(
            ok(n, "nft list table ip nat"),
            "table ip nat {\n\
             \tchain postrouting {\n\
             \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
             \t\tip saddr 10.100.0.0/24 oif \"eth0\" masquerade\n\
             \t}\n\
             }\n"
        );
        assert!(n.hook_active(NsId(1), NfHook::LocalIn));
        assert!(n.active.ct.get(NsId(1)) && n.active.nat.get(NsId(1)));
        assert!(!n.hook_active(NsId(0), NfHook::LocalIn), "namespaces are apart");
    });
}

#[test]
fn listings_read_back_as_the_same_rules() {
    with_nft(|n| {
        ok(n, "add table inet t");
        ok(n, "add chain inet t fwd { type filter hook forward priority filter - 5; policy drop; }");
        ok(n, "add chain inet t sub");
        ok(
            n,
            "add set inet t blocked { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 192.0.2.7, 198.51.100.1-198.51.100.9 } }",
        );
        let rules = [
            "ct state established,related accept",
            "ct state invalid drop",
            "iifname \"eth1\" ip saddr @blocked counter packets 0 bytes 0 drop",
            "tcp dport { 22, 80, 1000-2000 } log prefix \"web \" accept",
            "udp sport != 53 meta mark set 0x00000007 jump sub",
            "icmp type echo-request ip length 100-200 reject with icmp host-unreachable",
            "meta l4proto tcp meta mark 0x00000007 reject with tcp reset",
            "th dport 443 oifname != \"eth0\" goto sub",
        ];
        for r in rules {
            ok(n, &std::format!("add rule inet t fwd {r}"));
        }
        ok(n, "add rule inet t sub ip daddr 203.0.113.0/24 return");
        let first = ok(n, "list table inet t");
        for r in rules {
            assert!(first.contains(&std::format!("\t\t{r}\n")), "{r} in\n{first}");
        }
        assert!(first.contains("type filter hook forward priority -5; policy drop;"), "{first}");
        assert!(first.contains("elements = { 10.0.0.0/8, 192.0.2.7, 198.51.100.1-198.51.100.9 }"), "{first}");
        // Feed the listing's rules back into a fresh table: the same listing.
        ok(n, "add table inet u");
        ok(n, "add chain inet u fwd { type filter hook forward priority -5; policy drop; }");
        ok(n, "add chain inet u sub");
        ok(
            n,
            "add set inet u blocked { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 192.0.2.7, 198.51.100.1-198.51.100.9 } }",
        );
        let mut chain = None;
        for line in first.lines() {
            if let Some(c) = line.strip_prefix("\tchain ") {
                chain = c.split(' ').next();
            } else if line == "\t}" {
                chain = None;
            } else if let (Some(c), Some(rule)) = (chain, line.strip_prefix("\t\t"))
                && !rule.starts_with("type filter")
            {
                ok(n, &std::format!("add rule inet u {c} {rule}"));
            }
        }
        let second = ok(n, "list table inet u");
        assert_eq!(first.replace("table inet t", "table inet u"), second);
    });
}

#[test]
fn errors_point_at_the_offending_word() {
    with_nft(|n| {
        ok(n, "add table inet filter");
        ok(n, "add chain inet filter input { type filter hook input priority 0; }");
        let cmd = "add rule inet filter input tcp dpot 22 drop";
        let e = run(n, cmd).unwrap_err();
        assert_eq!(e.span.text(cmd), "dpot");
        let report = std::format!("{}", e.report(cmd));
        assert_eq!(
            report,
            "Error: syntax error, expected sport or dport\n\
             add rule inet filter input tcp dpot 22 drop\n                               ^^^^"
        );
        let cases = [
            ("add rule inet filter nope drop", "nope", NftErrorKind::NoSuchChain),
            ("add rule inet filtr input drop", "filtr", NftErrorKind::NoSuchTable),
            (
                "add rule inet filter input ip saddr 300.1.1.1 drop",
                "300.1.1.1",
                NftErrorKind::BadValue("an IPv4 address, prefix or range"),
            ),
            ("add rule inet filter input oif eth9 drop", "eth9", NftErrorKind::NoSuchInterface),
            (
                "add rule inet filter input tcp dport 22 drop accept",
                "accept",
                NftErrorKind::Syntax("nothing after a verdict"),
            ),
            ("add rule inet filter input ip saddr @nothere drop", "@nothere", NftErrorKind::NoSuchSet),
            (
                "add rule inet filter input masquerade",
                "masquerade",
                NftErrorKind::Invalid("snat and masquerade belong in a nat chain at postrouting or input"),
            ),
            (
                "add chain inet filter x { type filter priority 0; }",
                "type",
                NftErrorKind::Syntax("a base chain needs type, hook and priority"),
            ),
            (
                "add chain inet filter x { type nat hook forward priority 0; }",
                "x",
                NftErrorKind::Invalid("nat chains cannot hook forward"),
            ),
            (
                "frobnicate table inet filter",
                "frobnicate",
                NftErrorKind::Syntax("add, create, insert, delete, flush or list"),
            ),
            ("add table ip6 filter", "ip6", NftErrorKind::Invalid("only the ip and inet families exist here")),
            ("delete rule inet filter input handle 999", "999", NftErrorKind::NoSuchRule),
            ("create table inet filter", "filter", NftErrorKind::Exists),
            (
                "add rule inet filter input tcp dport 2000-1000 drop",
                "2000-1000",
                NftErrorKind::BadValue("a range goes from low to high"),
            ),
        ];
        for (cmd, word, kind) in cases {
            let e = run(n, cmd).unwrap_err();
            assert_eq!((e.span.text(cmd), e.kind), (word, kind), "{cmd}");
        }
        let cmd = "add rule inet filter input ip saddr";
        let e = run(n, cmd).unwrap_err();
        assert_eq!(e.span.start as usize, cmd.len(), "missing words point at the end");
        assert_eq!(n.rules_of(n.find_chain(0, "input").unwrap()).count(), 0, "nothing was added");
    });
}

#[test]
fn jumps_may_not_loop_or_nest_too_deep() {
    with_nft(|n| {
        ok(n, "add table ip t");
        ok(n, "add chain ip t in { type filter hook input priority 0; }");
        for i in 0..17 {
            ok(n, &std::format!("add chain ip t c{i}"));
        }
        ok(n, "add rule ip t in jump c0");
        ok(n, "add rule ip t c0 jump c1");
        let e = run(n, "add rule ip t c1 jump c0").unwrap_err();
        assert_eq!(e.kind, NftErrorKind::Invalid("jump would make a loop"));
        let e = run(n, "add rule ip t c1 goto c1").unwrap_err();
        assert_eq!(e.kind, NftErrorKind::Invalid("jump would make a loop"));
        let e = run(n, "add rule ip t c0 jump in").unwrap_err();
        assert_eq!(e.kind, NftErrorKind::Invalid("cannot jump to a base chain"));
        for i in 1..15 {
            ok(n, &std::format!("add rule ip t c{i} jump c{}", i + 1));
        }
        let e = run(n, "add rule ip t c15 jump c16").unwrap_err();
        assert_eq!(e.kind, NftErrorKind::Invalid("chains nest deeper than 16"));
        let e = run(n, "delete chain ip t c3").unwrap_err();
        assert_eq!(e.kind, NftErrorKind::Busy, "c3 has a rule and a jump to it");
        ok(n, "flush chain ip t c2");
        ok(n, "flush chain ip t c3");
        ok(n, "delete chain ip t c3");
    });
}

#[test]
fn delete_flush_insert_and_positions() {
    with_nft(|n| {
        ok(n, "add table inet f");
        ok(n, "add chain inet f in { type filter hook input priority 0; }");
        ok(n, "add rule inet f in tcp dport 1 accept");
        ok(n, "add rule inet f in tcp dport 3 accept");
        ok(n, "insert rule inet f in tcp dport 0 accept");
        let listing = ok(n, "-a list chain inet f in");
        assert!(listing.contains("tcp dport 1 accept # handle 3"), "{listing}");
        ok(n, "add rule inet f in position 3 tcp dport 2 accept");
        let order: std::vec::Vec<u32> = n
            .rules_of(n.find_chain(0, "in").unwrap())
            .map(|(_, r)| match r.exprs[0] {
                Expr::Cmp { rhs: Rhs::Value(v), .. } => v,
                _ => 99,
            })
            .collect();
        assert_eq!(order, [0, 1, 2, 3]);
        ok(n, "delete rule inet f in handle 3");
        assert_eq!(n.rules_of(n.find_chain(0, "in").unwrap()).count(), 3);
        ok(n, "add rule inet f in tcp dport { 7, 9 } accept");
        assert_eq!(n.sets.sets.iter().flatten().count(), 1, "the literal set");
        ok(n, "flush table inet f");
        assert_eq!(n.sets.sets.iter().flatten().count(), 0, "went with its rule");
        ok(n, "flush ruleset");
        assert_eq!(ok(n, "list ruleset"), "");
        assert!(!n.hook_active(NsId(1), NfHook::LocalIn));
    });
}

#[test]
fn a_thousand_element_set_is_one_binary_search() {
    with_nft(|n| {
        ok(n, "add table inet f");
        ok(n, "add set inet f many { type ipv4_addr; flags interval; }");
        let s = n.find_set(0, "many").unwrap();
        for i in 0..1000u32 {
            ok(n, &std::format!("add element inet f many {{ 10.{}.{}.0/24 }}", i / 256, i % 256));
        }
        assert_eq!(n.set(s).unwrap().len, 1000);
        assert!(n.sets.contains(s, u32::from(core::net::Ipv4Addr::new(10, 3, 231, 77))));
        assert!(!n.sets.contains(s, u32::from(core::net::Ipv4Addr::new(10, 3, 232, 1))));
        assert_eq!(n.set(s).unwrap().key, SetKey::Ipv4Addr);
        let e = run(n, "add element inet f many { 10.0.0.128/25 }").unwrap_err();
        assert_eq!(e.kind, NftErrorKind::Invalid("conflicting intervals specified"));
        ok(n, "delete element inet f many { 10.0.5.0/24 }");
        assert!(!n.sets.contains(s, u32::from(core::net::Ipv4Addr::new(10, 0, 5, 1))));
        ok(n, "add chain inet f in { type filter hook input priority 0; }");
        ok(n, "add rule inet f in ip saddr @many drop");
        assert_eq!(run(n, "delete set inet f many").unwrap_err().kind, NftErrorKind::Busy);
        let e = run(n, "add rule inet f in tcp dport @many drop").unwrap_err();
        assert_eq!(e.kind, NftErrorKind::Invalid("the set holds another type"));
        let e = run(n, "add set inet f p { type inet_service; }").map(|_| ());
        assert!(e.is_ok());
        let e = run(n, "add element inet f p { 1-5 }").unwrap_err();
        assert_eq!(e.kind, NftErrorKind::Invalid("ranges and prefixes need a set with flags interval"));
        assert!(matches!(Key::TcpDport.kind(), SetKey::InetService));
    });
}

#[test]
fn nat_statements_parse_and_print() {
    with_nft(|n| {
        ok(n, "add table inet nat");
        ok(n, "add chain inet nat pre { type nat hook prerouting priority dstnat; }");
        ok(n, "add chain inet nat post { type nat hook postrouting priority srcnat; }");
        ok(n, "add rule inet nat pre iif eth0 tcp dport 8080 dnat ip to 10.0.1.2:80");
        ok(n, "add rule inet nat pre udp dport 5000-5010 dnat to 10.0.1.3");
        ok(n, "add rule inet nat post oifname \"eth0\" masquerade to :40000-40003");
        ok(n, "add rule inet nat post ip saddr 10.0.0.0/8 snat to 192.0.2.1-192.0.2.4:1024-2047");
        let l = ok(n, "list ruleset");
        for want in [
            "iif \"eth0\" tcp dport 8080 dnat ip to 10.0.1.2:80",
            "udp dport 5000-5010 dnat ip to 10.0.1.3",
            "oifname \"eth0\" masquerade to :40000-40003",
            "snat ip to 192.0.2.1-192.0.2.4:1024-2047",
            "type nat hook prerouting priority dstnat; policy accept;",
        ] {
            assert!(l.contains(want), "{want} in\n{l}");
        }
        let e = run(n, "add rule inet nat post dnat to 1.2.3.4").unwrap_err();
        assert_eq!(e.kind, NftErrorKind::Invalid("dnat belongs in a nat chain at prerouting or output"));
    });
}

#[test]
fn element_commands_are_all_or_nothing() {
    with_nft(|n| {
        ok(n, "add table inet f");
        ok(n, "add set inet f s { type ipv4_addr; flags interval; elements = { 10.0.0.0/24, 10.0.3.3 } ; }");
        let before = ok(n, "list set inet f s");
        let total = n.sets.total();
        let unchanged = |n: &mut Nft<'_>, why: &str| {
            assert_eq!(ok(n, "list set inet f s"), before, "{why}");
            assert_eq!(n.sets.total(), total, "{why}");
        };
        for (cmd, word, kind) in [
            (
                "add element inet f s { 10.0.1.1, 10.0.2.0/24, 10.0.0.5 }",
                "10.0.0.5",
                NftErrorKind::Invalid("conflicting intervals specified"),
            ),
            ("delete element inet f s { 10.0.0.0/24, 10.9.9.9 }", "10.9.9.9", NftErrorKind::NoSuchElement),
            ("delete element inet f s { 10.0.3.3, 10.0.3.3 }", "10.0.3.3", NftErrorKind::NoSuchElement),
            (
                "add set inet f s { type ipv4_addr; flags interval; elements = { 10.5.0.0/16, 10.0.0.0/8 } ; }",
                "10.0.0.0/8",
                NftErrorKind::Invalid("conflicting intervals specified"),
            ),
        ] {
            let e = run(n, cmd).unwrap_err();
            assert_eq!(e.kind, kind, "{cmd}");
            assert_eq!(e.span.text(cmd), word, "{cmd}");
            unchanged(n, cmd);
        }
        // A set the failed command would have made is not made at all.
        let e = run(n, "add set inet f p { type inet_service; elements = { 22, 80, 1000-2000 } ; }").unwrap_err();
        assert_eq!(e.kind, NftErrorKind::Invalid("ranges and prefixes need a set with flags interval"));
        assert_eq!(n.find_set(0, "p"), None);
        // Running out of room halfway takes back the first half.
        let many: std::vec::Vec<std::string::String> =
            (0..2100u32).map(|i| std::format!("172.16.{}.{}", i / 256, i % 256)).collect();
        let cmd = std::format!("add element inet f s {{ {} }}", many.join(", "));
        assert_eq!(run(n, &cmd).unwrap_err().kind, NftErrorKind::Full("set elements"));
        unchanged(n, "a full element array");
        // A literal set in a rule that fails goes too.
        ok(n, "add chain inet f in { type filter hook input priority 0; }");
        let cmd = "add rule inet f in ip saddr { 10.1.0.0/16, 10.1.2.3 } drop";
        assert_eq!(run(n, cmd).unwrap_err().kind, NftErrorKind::Invalid("conflicting intervals specified"));
        unchanged(n, "a literal set");
        // And the same commands, right, do their work.
        ok(n, "add element inet f s { 10.0.1.1, 10.0.2.0/24 }");
        ok(n, "delete element inet f s { 10.0.0.0/24, 10.0.3.3 }");
        assert_eq!(n.sets.total(), 2);
    });
}

#[test]
fn nat_statements_reached_from_a_filter_chain_are_refused() {
    const SRC: NftErrorKind =
        NftErrorKind::Invalid("snat and masquerade belong in a nat chain at postrouting or input");
    const DST: NftErrorKind = NftErrorKind::Invalid("dnat belongs in a nat chain at prerouting or output");
    with_nft(|n| {
        ok(n, "add table ip t");
        ok(n, "add chain ip t fwd { type filter hook forward priority 0; }");
        ok(n, "add chain ip t post { type nat hook postrouting priority srcnat; }");
        ok(n, "add chain ip t pre { type nat hook prerouting priority dstnat; }");
        for c in ["sub", "masq", "mid", "dn"] {
            ok(n, &std::format!("add chain ip t {c}"));
        }
        // In a regular chain a filter chain reaches: refused.
        ok(n, "add rule ip t fwd jump sub");
        assert_eq!(run(n, "add rule ip t sub masquerade").unwrap_err().kind, SRC);
        // In a chain nothing reaches yet, or only the right NAT chain: fine.
        ok(n, "add rule ip t masq oifname \"eth0\" masquerade");
        ok(n, "add rule ip t post jump masq");
        ok(n, "add rule ip t mid jump masq");
        // A jump that would make it reachable from the filter chain, directly
        // or two chains down, is refused.
        let e = run(n, "add rule ip t fwd udp dport 53 jump masq").unwrap_err();
        assert_eq!((e.kind, e.span.text("add rule ip t fwd udp dport 53 jump masq")), (SRC, "udp"));
        assert_eq!(run(n, "add rule ip t fwd goto mid").unwrap_err().kind, SRC);
        assert_eq!(run(n, "add rule ip t sub jump mid").unwrap_err().kind, SRC);
        // So is dnat under a postrouting chain, and masquerade under prerouting.
        ok(n, "add rule ip t dn dnat to 10.0.0.1");
        assert_eq!(run(n, "add rule ip t post jump dn").unwrap_err().kind, DST);
        ok(n, "add rule ip t pre jump dn");
        assert_eq!(run(n, "add rule ip t pre jump mid").unwrap_err().kind, SRC);
        // Nothing of the refused rules stayed.
        let sub = n.find_chain(0, "sub").unwrap();
        let fwd = n.find_chain(0, "fwd").unwrap();
        assert_eq!((n.rules_of(sub).count(), n.rules_of(fwd).count()), (0, 1));
    });
}

#[test]
fn jump_validation_is_bounded_on_a_graph_with_billions_of_paths() {
    // 15 levels of 5 chains, each jumping to every chain of the next
    // level: 5^14 paths from the top, which a search path by path would
    // never finish; the bounded passes take milliseconds.
    const WIDTH: usize = 5;
    const LEVELS: usize = 15;
    let mut storage = std::boxed::Box::new(NftStorage::<1, 80, 400, 1, 1, 1>::new());
    let mut n = Nft::new(&mut storage, [1; 16]);
    let n = &mut n;
    ok(n, "add table ip t");
    ok(n, "add chain ip t in { type filter hook input priority 0; }");
    for l in 0..LEVELS {
        for i in 0..WIDTH {
            ok(n, &std::format!("add chain ip t c{l}_{i}"));
        }
    }
    let started = std::time::Instant::now();
    // Bottom up, so every jump lands on a chain that already has jumps.
    for l in (0..LEVELS - 1).rev() {
        for i in 0..WIDTH {
            for j in 0..WIDTH {
                ok(n, &std::format!("add rule ip t c{l}_{i} udp dport {j} jump c{}_{j}", l + 1));
            }
        }
    }
    ok(n, "add rule ip t in jump c0_0");
    // The top is at depth 1, the bottom at 15: one more level is too deep.
    ok(n, "add chain ip t deeper");
    ok(n, "add rule ip t deeper accept");
    let e = run(n, "add rule ip t c14_3 jump deeper");
    assert!(e.is_ok(), "depth 16 is allowed");
    ok(n, "add chain ip t deepest");
    let e = run(n, "add rule ip t deeper jump deepest").unwrap_err();
    assert_eq!(e.kind, NftErrorKind::Invalid("chains nest deeper than 16"));
    let e = run(n, "add rule ip t c14_0 jump c0_4").unwrap_err();
    assert_eq!(e.kind, NftErrorKind::Invalid("jump would make a loop"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
}

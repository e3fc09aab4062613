//! The NAT and firewall scene: r gets rule tables, written as the `nft`
//! tool takes them. A NAT chain masquerades everything leaving through
//! r's eth1 (towards h2), and a filter chain on the forward hook drops UDP
//! to port 9 and counts the established traffic it lets through. Then h1
//! pings h2, sends to h2's echo service, and knocks on port 9 again: the
//! frames show h1's address on h1-r and r's on r-h2 (h2's echo service
//! sees r as the sender), the knock goes unanswered where it was refused
//! before, and the scene prints r's connection table (`conntrack -L`) and
//! its rule set with counters (`nft list ruleset`).

use std::time::Duration;

use skbnet::socket::{Errno, SockType};

use super::scenes::{Demo, sa};
use super::topo::{H2, R2};
use super::{Context, Failed};

/// r's rule set, one `nft` command a line, as a shell script would hold it.
const RULES: [&str; 7] = [
    "add table ip nat",
    "add chain ip nat postrouting { type nat hook postrouting priority srcnat ; policy accept ; }",
    "add rule ip nat postrouting oifname \"eth1\" counter masquerade",
    "add table inet filter",
    "add chain inet filter forward { type filter hook forward priority filter ; policy accept ; }",
    "add rule inet filter forward udp dport 9 counter drop",
    "add rule inet filter forward ct state established,related counter accept",
];

/// The echo service's port on h2.
const ECHO_PORT: u16 = 7;
/// The port r's filter drops (the closed port of the earlier scene).
const DROPPED_PORT: u16 = 9;
/// How long h1 listens for an answer to the dropped datagram.
const SILENCE: Duration = Duration::from_secs(1);

impl Demo<'_, '_> {
    /// r masquerades h1's traffic and drops a port; see the module
    /// documentation.
    pub fn nat_firewall(&mut self) -> Result<(), Failed> {
        self.scene(&format!(
            "NAT and a firewall: r masquerades what leaves eth1 as {R2} and drops UDP to port {DROPPED_PORT}"
        ))?;
        for cmd in RULES {
            say!("  r# nft {cmd}");
            self.nft_r(cmd)?;
        }
        self.nat_ping()?;
        self.nat_echo()?;
        self.nat_dropped()?;
        say!("  r# conntrack -L");
        let entries: Vec<String> = self.world.conntrack(self.topo.r).map(|c| c.to_string()).collect();
        for e in &entries {
            say!("  {e}");
        }
        say!("  ({} flow entries)", entries.len());
        if entries.len() != 2 || !entries.iter().all(|e| e.contains(&format!(" dst={R2} "))) {
            return Err(Failed(format!("r: expected two connections translated to {R2}: {entries:#?}")));
        }
        say!("  r# nft list ruleset");
        let listing = self.nft_r("list ruleset")?;
        for line in listing.lines().map(|l| l.replace('\t', "    ")) {
            say!("{}", if line.is_empty() { line } else { format!("  {line}") });
        }
        Ok(())
    }

    /// Run `cmd` in r; nft's report of the offending word on error.
    fn nft_r(&mut self, cmd: &str) -> Result<String, Failed> {
        let mut out = String::new();
        self.world.nft(self.topo.r, cmd, &mut out).map_err(|e| Failed(format!("r: nft {cmd}:\n{}", e.report(cmd))))?;
        Ok(out)
    }

    /// One echo request from h1 to h2 and its reply, through the NAT.
    fn nat_ping(&mut self) -> Result<(), Failed> {
        let p = self.world.socket(self.topo.h1, SockType::Ping).context("h1: ping socket")?;
        let req = [8, 0, 0, 0, 0, 0, 0, 1, b'n', b'a', b't'];
        self.world.sendmsg(p, &req, Some(sa(H2, 0))).context("h1: ping")?;
        let (reply, from) = self.recv(p, "h1: echo reply")?.context("h1: echo reply")?;
        if reply.get(8..) != Some(&b"nat"[..]) || *from.ip() != H2 {
            return Err(Failed(format!("h1: the echo reply is not the request's answer: {reply:02x?}")));
        }
        say!("  h1 got its echo reply from {}: r translated it back", from.ip());
        self.world.close(p).context("h1: close the ping socket")
    }

    /// A datagram to h2's echo service: h2 sees it come from r.
    fn nat_echo(&mut self) -> Result<(), Failed> {
        let c = self.world.socket(self.topo.h1, SockType::Udp).context("h1: socket")?;
        self.world.connect(c, sa(H2, ECHO_PORT)).context("h1: connect")?;
        let msg = b"hello through NAT";
        self.world.sendmsg(c, msg, None).context("h1: send")?;
        let (back, from) = self.recv(c, "h1: the echo")?.context("h1: the echo")?;
        if back != msg || *from.ip() != H2 {
            return Err(Failed(format!("h1: the echo differs: {back:02x?} from {from}")));
        }
        say!("  h1 got its echo from {from}: {:?}", String::from_utf8_lossy(&back));
        self.world.close(c).context("h1: close")
    }

    /// A datagram to the dropped port: r drops it, nobody answers.
    fn nat_dropped(&mut self) -> Result<(), Failed> {
        let c = self.world.socket(self.topo.h1, SockType::Udp).context("h1: socket")?;
        self.world.connect(c, sa(H2, DROPPED_PORT)).context("h1: connect")?;
        self.world.sendmsg(c, b"anyone?", None).context("h1: send")?;
        let mut buf = [0u8; 64];
        let mut got = Err(Errno::WouldBlock);
        self.run(self.now + SILENCE, |w, _| {
            got = w.recvmsg(c, &mut buf).map(|m| m.len);
            got != Err(Errno::WouldBlock)
        })?;
        if got != Err(Errno::WouldBlock) {
            return Err(Failed(format!("h1: expected silence from {H2}:{DROPPED_PORT}, got {got:?}")));
        }
        say!(
            "  h1 sent to {H2}:{DROPPED_PORT} and heard nothing in {} s: r dropped it (no ECONNREFUSED this time)",
            SILENCE.as_secs()
        );
        self.world.close(c).context("h1: close")
    }
}

//! `skbnet demo`: a small world in one process, with no privileges.
//!
//! Two hosts and a router live in three namespaces of one [`World`], joined
//! by simulated NICs on two links, the second with a smaller MTU. The demo
//! pings across the router, runs a UDP echo, sends a datagram that the
//! router must fragment for the second link (and the far host reassembles),
//! knocks on a closed port, and moves 256 KiB over TCP across the router,
//! checked byte for byte. Last the router gets nft rule tables: it
//! masquerades what leaves towards h2 and drops UDP to one port, and the
//! demo prints its connection table and `nft list ruleset` with counters
//! ([`nat`]). Every frame is printed as it crosses a link,
//! tcpdump-style, except the bulk of the TCP transfer, which is counted;
//! the counters follow at the end (per namespace the MIB counters by their
//! `/proc/net/snmp` and `/proc/net/netstat` names, drops by reason, device
//! counters), and the world is shut down and its pool checked to be free.
//! With `--pcap FILE` every link's traffic goes into one pcapng file, one
//! interface per link, so Wireshark shows each packet hop by hop.
//!
//! Time is virtual: the demo polls the world at `now` and jumps to
//! `poll_at()`, so it takes a few milliseconds of real time. The secret and
//! the link seeds are fixed, so two runs print and capture the same bytes.

/// `println!` that carries on when standard output is closed (as in
/// `skbnet demo | head`): the demo still runs to its end and checks its pool.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod capture;
mod nat;
mod report;
mod scenes;
mod tcp;
mod topo;

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use skbnet::netfilter::NftStorage;
use skbnet::netns::{SmallWorldStorage, World};

use capture::Capture;
use scenes::Demo;
use topo::{Links, Nics, PoolMem};

/// The demo's part of `skbnet help`, and all of `skbnet demo --help`.
pub const USAGE: &str = "\
  skbnet demo [--pcap FILE]
      run two hosts and a router in one process, with virtual time: ping
      across the router, a UDP echo, a datagram fragmented for a smaller-MTU
      link and reassembled, a closed port, 256 KiB over TCP, then NAT and
      a firewall rule on the router (nft rules, conntrack -L, nft list
      ruleset); print every frame (of the TCP transfer's bulk only a
      count) and the counters
      --pcap FILE   also write every link's traffic to FILE (pcapng, one
                    interface per link: h1-r and r-h2; every frame, the
                    TCP transfer's too); read it with `tshark -r FILE`
                    or Wireshark
";

/// Room for the router's rule tables: 4 tables, 8 chains, 16 rules, 4
/// sets of 64 elements in all, 64 tracked connections.
type DemoNftStorage = NftStorage<4, 8, 16, 4, 64, 64>;

/// The key for every choice the stack randomises (IP IDs, ephemeral
/// ports): fixed, so the demo is the same on every run.
const SECRET: [u8; 16] = *b"skbnet demo key!";

/// What the command line asked for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    /// Where to write the pcapng capture.
    pcap: Option<PathBuf>,
    /// Print the usage and stop.
    help: bool,
}

/// Parse `demo`'s arguments (those after the word `demo`).
fn parse(args: &[String]) -> Result<Options, String> {
    let mut opts = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => opts.help = true,
            "--pcap" => {
                let file = it.next().ok_or("`--pcap` needs a FILE")?;
                opts.pcap = Some(PathBuf::from(file));
            }
            other => match other.strip_prefix("--pcap=") {
                Some("") => return Err("`--pcap` needs a FILE".into()),
                Some(file) => opts.pcap = Some(PathBuf::from(file)),
                None => return Err(format!("unknown option `{other}`")),
            },
        }
    }
    Ok(opts)
}

/// Run `skbnet demo ARGS`: 0 when everything the demo shows happened and
/// the pool was free at the end, 1 when something failed, 2 for a bad
/// command line.
pub fn main(args: &[String]) -> ExitCode {
    let opts = match parse(args) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("skbnet demo: {e}\n\nusage:\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if opts.help {
        print!("usage:\n{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skbnet demo: {e}");
            ExitCode::from(1)
        }
    }
}

/// Why the demo failed: what it was doing and what went wrong.
#[derive(Debug)]
pub struct Failed(pub String);

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Name the step an error came from.
pub trait Context<T> {
    /// The value, or a [`Failed`] saying `what` was being done.
    fn context(self, what: &str) -> Result<T, Failed>;
}

impl<T, E: fmt::Debug> Context<T> for Result<T, E> {
    fn context(self, what: &str) -> Result<T, Failed> {
        self.map_err(|e| Failed(format!("{what}: {e:?}")))
    }
}

/// Open the capture, run the world, then close the capture (after every
/// link that writes to it is gone).
fn run(opts: &Options) -> Result<(), Failed> {
    let capture = Capture::create(opts.pcap.as_deref())?;
    simulate(&capture)?;
    capture.finish()
}

/// Build the world, play the scenes, print the counters, shut down.
fn simulate(capture: &Capture) -> Result<(), Failed> {
    let links = Links::new(capture);
    let mut nics = Nics::new(&links);
    let mut mem = PoolMem::new();
    let mut storage = Box::new(SmallWorldStorage::new());
    let mut rules = Box::new(DemoNftStorage::new());
    let mut world = World::new(&mut storage, mem.pool()?, SECRET).context("creating the world")?;
    world.attach_nft(&mut rules).context("attaching the rule tables")?;
    let topo = topo::build(&mut world, &mut nics)?;
    say!("{}\n", topo::PICTURE);
    let mut demo = Demo::new(&mut world, topo, capture)?;
    demo.ping()?;
    demo.udp_echo()?;
    demo.fragments()?;
    demo.closed_port()?;
    demo.tcp_transfer()?;
    demo.nat_firewall()?;
    report::counters(&world, &links);
    report::shutdown(&mut world)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_parse_and_refuse_what_they_do_not_know() {
        assert_eq!(parse(&args(&[])), Ok(Options::default()));
        let want = Options { pcap: Some("x.pcapng".into()), help: false };
        assert_eq!(parse(&args(&["--pcap", "x.pcapng"])), Ok(want));
        let want = Options { pcap: Some("y".into()), help: true };
        assert_eq!(parse(&args(&["--pcap=y", "-h"])), Ok(want));
        assert_eq!(parse(&args(&["--pcap"])), Err("`--pcap` needs a FILE".into()));
        assert_eq!(parse(&args(&["--pcap="])), Err("`--pcap` needs a FILE".into()));
        assert_eq!(parse(&args(&["--verbose"])), Err("unknown option `--verbose`".into()));
        assert_eq!(parse(&args(&["extra"])), Err("unknown option `extra`".into()));
    }
}

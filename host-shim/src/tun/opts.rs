//! The command line of `skbnet tun`: what each option means is in
//! [`super::USAGE`]; this file turns words into [`Options`] and refuses
//! what it does not understand with a message that says why.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use skbnet_host_shim::services::{Direction, Service};

/// Smallest and largest MTU the command accepts (IPv4's minimum
/// datagram every host must take, and a jumbo frame).
pub const MTU_RANGE: (u16, u16) = (576, 9000);

/// An IPv4 address with its prefix length (`10.7.0.2/24`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0 to 32.
    pub prefix_len: u8,
}

impl Cidr {
    /// The netmask of the prefix (`255.255.255.0` for /24).
    pub fn netmask(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(self.prefix_len)).unwrap_or(0))
    }

    /// True when `other` lies in this address's subnet.
    pub fn contains(self, other: Ipv4Addr) -> bool {
        let m = u32::from(self.netmask());
        u32::from(self.addr) & m == u32::from(other) & m
    }
}

/// `--push HOST:PORT:BYTES` or `--pull HOST:PORT`: one TCP transfer with a
/// Linux listener, after which the command stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// The Linux listener.
    pub peer: SocketAddrV4,
    /// Push this many bytes, or pull until the peer closes.
    pub direction: Direction,
}

impl fmt::Display for Transfer {
    /// The option as the user gave it (bytes in full), for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.direction {
            Direction::Push(n) => write!(f, "--push {}:{n}", self.peer),
            Direction::Pull => write!(f, "--pull {}", self.peer),
        }
    }
}

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The TUN device's name; the kernel picks one (`tunN`) when absent.
    pub dev: Option<String>,
    /// The stack's address on the link.
    pub addr: Cidr,
    /// Linux's address on the TUN device.
    pub host_addr: Cidr,
    /// The link MTU, on both sides.
    pub mtu: u16,
    /// Checksum offload and TSO/GRO across the TUN device.
    pub offload: bool,
    /// Where to write the pcapng capture of what crosses the device.
    pub pcap: Option<PathBuf>,
    /// Seed of the fault profile's random choices.
    pub seed: u64,
    /// Services to run.
    pub services: Vec<Service>,
    /// Probability that a packet is lost, each direction.
    pub loss: f64,
    /// Extra one-way delay, each direction.
    pub delay: Duration,
    /// A transfer with a Linux listener, if any.
    pub transfer: Option<Transfer>,
}

/// What a command line amounts to: run, or print the usage.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Run the stack behind a TUN device.
    Run(Options),
    /// `--help`.
    Help,
}

/// The options as parsed so far (addresses may still be missing).
#[derive(Default)]
struct Draft {
    dev: Option<String>,
    addr: Option<Cidr>,
    host_addr: Option<Cidr>,
    mtu: Option<u16>,
    no_offload: bool,
    pcap: Option<PathBuf>,
    seed: Option<u64>,
    services: Vec<Service>,
    loss: Option<f64>,
    delay: Option<Duration>,
    transfer: Option<Transfer>,
}

/// Parse `tun`'s arguments (those after the word `tun`).
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut d = Draft::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        match name {
            "-h" | "--help" => return Ok(Command::Help),
            "--no-offload" if inline.is_some() => return Err("`--no-offload` takes no value".into()),
            "--no-offload" => d.no_offload = true,
            "--dev" | "--addr" | "--host-addr" | "--mtu" | "--pcap" | "--seed" | "--services" | "--loss"
            | "--delay" | "--push" | "--pull" => {
                let value = inline.or_else(|| it.next().cloned()).filter(|v| !v.is_empty());
                let value = value.ok_or_else(|| format!("`{name}` needs a value"))?;
                d.set(name, &value)?;
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    d.finish().map(Command::Run)
}

impl Draft {
    fn set(&mut self, name: &str, v: &str) -> Result<(), String> {
        match name {
            "--dev" => self.dev = Some(dev_name(v)?),
            "--addr" => self.addr = Some(cidr(name, v)?),
            "--host-addr" => self.host_addr = Some(cidr(name, v)?),
            "--mtu" => self.mtu = Some(mtu(v)?),
            "--pcap" => self.pcap = Some(PathBuf::from(v)),
            "--seed" => self.seed = Some(v.parse().map_err(|_| format!("`--seed {v}`: want a whole number"))?),
            "--services" => {
                self.services = Service::parse_list(v).map_err(|e| format!("`--services {v}`: {e}"))?;
            }
            "--loss" => self.loss = Some(probability(v)?),
            "--push" | "--pull" => {
                if let Some(t) = self.transfer {
                    return Err(format!("`{name} {v}` after `{t}`: one transfer a run"));
                }
                self.transfer = Some(transfer(name, v)?);
            }
            _ => self.delay = Some(delay(v)?),
        }
        Ok(())
    }

    fn finish(self) -> Result<Options, String> {
        let addr = self.addr.ok_or("`--addr A/N` is required: the stack's address, e.g. 10.7.0.2/24")?;
        let host_addr = self.host_addr.ok_or("`--host-addr A/N` is required: Linux's address, e.g. 10.7.0.1/24")?;
        if addr.addr == host_addr.addr {
            return Err(format!("`--addr` and `--host-addr` are both {}: they must differ", addr.addr));
        }
        if !addr.contains(host_addr.addr) || !host_addr.contains(addr.addr) {
            return Err(format!(
                "{}/{} and {}/{} are not on one subnet: Linux and the stack must reach each other directly",
                addr.addr, addr.prefix_len, host_addr.addr, host_addr.prefix_len
            ));
        }
        if let Some(t) = self.transfer.filter(|t| *t.peer.ip() == addr.addr) {
            return Err(format!("`{t}`: {} is the stack's own address; give a Linux listener's", addr.addr));
        }
        Ok(Options {
            dev: self.dev,
            addr,
            host_addr,
            mtu: self.mtu.unwrap_or(1500),
            offload: !self.no_offload,
            pcap: self.pcap,
            seed: self.seed.unwrap_or(1),
            services: self.services,
            loss: self.loss.unwrap_or(0.0),
            delay: self.delay.unwrap_or(Duration::ZERO),
            transfer: self.transfer,
        })
    }
}

/// A Linux interface name: 1 to 15 bytes, no `/`, whitespace or `%`
/// (the kernel would pick a number for `%d` itself).
fn dev_name(v: &str) -> Result<String, String> {
    let bad = v.len() > 15 || v.chars().any(|c| c == '/' || c == '%' || c.is_whitespace() || c.is_control());
    if bad || v == "." || v == ".." {
        return Err(format!("`--dev {v}`: an interface name is 1 to 15 characters without `/`, `%` or spaces"));
    }
    Ok(v.to_string())
}

fn cidr(name: &str, v: &str) -> Result<Cidr, String> {
    let bad = || format!("`{name} {v}`: want an IPv4 address and prefix length, e.g. 10.7.0.2/24");
    let (a, n) = v.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
    let prefix_len: u8 = n.parse().map_err(|_| bad())?;
    if !(1..=30).contains(&prefix_len) {
        return Err(format!("`{name} {v}`: the prefix length must be 1 to 30, so both ends fit in the subnet"));
    }
    if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() || addr.is_loopback() {
        return Err(format!("`{name} {v}`: want a unicast address"));
    }
    Ok(Cidr { addr, prefix_len })
}

fn mtu(v: &str) -> Result<u16, String> {
    let (lo, hi) = MTU_RANGE;
    match v.parse::<u16>() {
        Ok(m) if (lo..=hi).contains(&m) => Ok(m),
        _ => Err(format!("`--mtu {v}`: want a number from {lo} to {hi}")),
    }
}

/// `0.01` or `1%`: a probability from 0 to 1.
fn probability(v: &str) -> Result<f64, String> {
    let p = match v.strip_suffix('%') {
        Some(pct) => pct.parse::<f64>().map(|x| x / 100.0),
        None => v.parse::<f64>(),
    };
    match p {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`--loss {v}`: want a probability from 0 to 1, or a percentage like 1%")),
    }
}

/// `--push HOST:PORT:BYTES` or `--pull HOST:PORT`.
fn transfer(name: &str, v: &str) -> Result<Transfer, String> {
    let parts: Vec<&str> = v.split(':').collect();
    match (name, parts.as_slice()) {
        ("--pull", [host, port]) => {
            let peer = endpoint(host, port).map_err(|why| format!("`--pull {v}`: {why}"))?;
            Ok(Transfer { peer, direction: Direction::Pull })
        }
        ("--pull", [_, _, _]) => {
            Err(format!("`--pull {v}`: want HOST:PORT; a pull takes no byte count, it reads until Linux closes"))
        }
        ("--pull", _) => Err(format!("`--pull {v}`: want HOST:PORT, e.g. 10.7.0.1:5001")),
        (_, [host, port, bytes]) => {
            let peer = endpoint(host, port).map_err(|why| format!("`--push {v}`: {why}"))?;
            let n = byte_count(bytes).ok_or_else(|| {
                format!("`--push {v}`: want a byte count like 1000, 64K, 2M or 1G (binary multiples) after the port")
            })?;
            Ok(Transfer { peer, direction: Direction::Push(n) })
        }
        _ => Err(format!("`--push {v}`: want HOST:PORT:BYTES, e.g. 10.7.0.1:5001:64M")),
    }
}

/// HOST an IPv4 unicast address (no names: nothing is resolved) and PORT 1
/// to 65535; otherwise what is wrong with them.
fn endpoint(host: &str, port: &str) -> Result<SocketAddrV4, &'static str> {
    let ip: Ipv4Addr = host.parse().map_err(|_| "want an IPv4 address before the port (names are not resolved)")?;
    if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || ip.is_loopback() {
        return Err("want a unicast IPv4 address");
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(SocketAddrV4::new(ip, p)),
        _ => Err("want a port from 1 to 65535"),
    }
}

/// A whole number of bytes, optionally with K, M or G (case-insensitive,
/// binary multiples: 2M is 2,097,152); `None` when it is not one.
fn byte_count(v: &str) -> Option<u64> {
    let (digits, shift) = match v.char_indices().last()? {
        (i, 'k' | 'K') => (&v[..i], 10),
        (i, 'm' | 'M') => (&v[..i], 20),
        (i, 'g' | 'G') => (&v[..i], 30),
        _ => (v, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// Milliseconds, fractions allowed, at most a minute.
fn delay(v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(ms) if (0.0..=60_000.0).contains(&ms) => Ok(Duration::from_secs_f64(ms / 1000.0)),
        _ => Err(format!("`--delay {v}`: want milliseconds from 0 to 60000")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(s: &str) -> Result<Command, String> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    fn run(s: &str) -> Options {
        match parse_words(s) {
            Ok(Command::Run(o)) => o,
            other => panic!("{s}: {other:?}"),
        }
    }

    const BASE: &str = "--addr 10.7.0.2/24 --host-addr 10.7.0.1/24";

    #[test]
    fn the_addresses_alone_give_the_defaults() {
        let o = run(BASE);
        assert_eq!(o.addr, Cidr { addr: Ipv4Addr::new(10, 7, 0, 2), prefix_len: 24 });
        assert_eq!(o.host_addr.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!((o.dev, o.mtu, o.offload, o.pcap, o.seed), (None, 1500, true, None, 1));
        assert!(o.services.is_empty());
        assert_eq!((o.loss, o.delay, o.transfer), (0.0, Duration::ZERO, None));
    }

    #[test]
    fn every_option_in_both_spellings() {
        let o = run(&format!(
            "{BASE} --dev skb0 --mtu=9000 --no-offload --pcap x.pcapng --seed=7 --services echo,http,echo \
             --loss 1% --delay=2.5"
        ));
        assert_eq!(o.dev.as_deref(), Some("skb0"));
        assert_eq!((o.mtu, o.offload, o.seed), (9000, false, 7));
        assert_eq!(o.pcap, Some(PathBuf::from("x.pcapng")));
        assert_eq!(o.services, [Service::Echo, Service::Http]);
        assert!((o.loss - 0.01).abs() < 1e-12);
        assert_eq!(o.delay, Duration::from_micros(2500));
        assert_eq!(parse_words(&format!("{BASE} --help")), Ok(Command::Help));
    }

    fn transfer_of(s: &str) -> Option<Transfer> {
        run(&format!("{BASE} --services echo {s}")).transfer
    }

    #[test]
    fn push_and_pull_name_a_listener_and_push_a_byte_count() {
        let peer = SocketAddrV4::new(Ipv4Addr::new(10, 7, 0, 1), 5001);
        let push = |n| Some(Transfer { peer, direction: Direction::Push(n) });
        assert_eq!(transfer_of("--push 10.7.0.1:5001:1000"), push(1000));
        assert_eq!(transfer_of("--push=10.7.0.1:5001:64K"), push(64 << 10));
        assert_eq!(transfer_of("--push 10.7.0.1:5001:2M"), push(2 << 20));
        assert_eq!(transfer_of("--push 10.7.0.1:5001:1g"), push(1 << 30));
        assert_eq!(transfer_of("--push 10.7.0.1:5001:0"), push(0));
        assert_eq!(transfer_of("--pull 10.7.0.1:5001"), Some(Transfer { peer, direction: Direction::Pull }));
        // Any address Linux routes: the stack's default route goes through it.
        assert_eq!(transfer_of("--pull=192.168.1.9:80").map(|t| t.peer), Some("192.168.1.9:80".parse().unwrap()));
        assert_eq!(push(2 << 20).unwrap().to_string(), "--push 10.7.0.1:5001:2097152");
    }

    #[test]
    fn a_bad_push_or_pull_says_what_is_wrong() {
        let err = |s: &str| parse_words(&format!("{BASE} {s}")).unwrap_err();
        assert_eq!(err("--push 10.7.0.1:5001"), "`--push 10.7.0.1:5001`: want HOST:PORT:BYTES, e.g. 10.7.0.1:5001:64M");
        assert!(err("--push 10.7.0.1:5001:1:2").contains("want HOST:PORT:BYTES"));
        assert!(err("--push host:5001:1M").contains("names are not resolved"));
        assert!(err("--push 10.7.0.1:0:1M").contains("port from 1 to 65535"));
        assert!(err("--push 10.7.0.1:70000:1M").contains("port from 1 to 65535"));
        assert!(err("--push 0.0.0.0:5001:1M").contains("unicast"));
        for bytes in ["", "M", "1.5M", "-1", "2X", "1MB", "+5", "99999999999G"] {
            let e = err(&format!("--push 10.7.0.1:5001:{bytes}"));
            assert!(e.contains("want a byte count like 1000, 64K, 2M or 1G"), "{bytes}: {e}");
        }
        assert!(err("--pull 10.7.0.1").contains("`--pull 10.7.0.1`: want HOST:PORT, e.g. 10.7.0.1:5001"));
        assert!(err("--pull 10.7.0.1:5001:1M").contains("a pull takes no byte count"));
        assert!(err("--pull 224.0.0.1:5001").contains("unicast"));
        assert_eq!(err("--pull"), "`--pull` needs a value");
        assert_eq!(
            err("--push 10.7.0.1:5001:1M --pull 10.7.0.1:5002"),
            "`--pull 10.7.0.1:5002` after `--push 10.7.0.1:5001:1048576`: one transfer a run"
        );
        assert_eq!(
            err("--pull 10.7.0.2:5001"),
            "`--pull 10.7.0.2:5001`: 10.7.0.2 is the stack's own address; give a Linux listener's"
        );
    }

    #[test]
    fn what_cannot_work_is_refused_with_a_reason() {
        let err = |s: &str| parse_words(s).unwrap_err();
        assert!(err("--host-addr 10.7.0.1/24").contains("`--addr A/N` is required"));
        assert!(err("--addr 10.7.0.2/24").contains("`--host-addr A/N` is required"));
        assert!(err("--addr 10.7.0.2 --host-addr 10.7.0.1/24").contains("prefix length"));
        assert!(err("--addr 10.7.0.2/24 --host-addr 10.7.0.2/24").contains("must differ"));
        assert!(err("--addr 10.7.0.2/24 --host-addr 10.8.0.1/24").contains("not on one subnet"));
        assert!(err(&format!("{BASE} --mtu 100")).contains("576 to 9000"));
        assert!(err(&format!("{BASE} --loss 2")).contains("probability"));
        assert!(err(&format!("{BASE} --delay -1")).contains("milliseconds"));
        assert!(err(&format!("{BASE} --services echo,ftp")).contains("unknown service `ftp`"));
        assert!(err(&format!("{BASE} --dev a/b")).contains("interface name"));
        assert!(err(&format!("{BASE} --dev waytoolongforlinux")).contains("interface name"));
        assert_eq!(err(&format!("{BASE} --pcap")), "`--pcap` needs a value");
        assert_eq!(err(&format!("{BASE} --pcap=")), "`--pcap` needs a value");
        assert_eq!(err(&format!("{BASE} --verbose")), "unknown option `--verbose`");
        assert_eq!(err(&format!("{BASE} --no-offload=yes")), "`--no-offload` takes no value");
    }
}

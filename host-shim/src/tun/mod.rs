//! `skbnet tun`: the stack on a Linux TUN device, reached by real Linux
//! programs (`ping`, `curl`, `iperf3`, any socket).
//!
//! ```text
//!  Linux: ping, curl, iperf3       skbnet (this process)
//!    tun0 10.7.0.1/24  <== /dev/net/tun ==>  TunPort -- SimNic (rings, TSO, LRO) -- eth0 10.7.0.2/24
//!          virtio_net_hdr + IP packet              nic-sim device model + driver      World, services
//! ```
//!
//! The TUN device is opened with `IFF_TUN | IFF_NO_PI | IFF_VNET_HDR`
//! ([`device`]); each packet crosses with a `virtio_net_hdr`, which the
//! simulated NIC maps to and from sk_buff metadata the way a virtio-net
//! device does: with offloads on (`TUNSETOFFLOAD` with `TUN_F_CSUM |
//! TUN_F_TSO4`) our TSO super-packets go to Linux in one write, and Linux's
//! GSO packets arrive as one GRO-style sk_buff. Packets go through the NIC's
//! descriptor rings and driver, never around them ([`port`]). A loss and
//! delay profile can sit on the wire ([`faults`]), and a pcapng capture can
//! record it. Time is the OS's monotonic clock, the stack's secret comes
//! from the OS, the loop sleeps until `poll_at()` or a packet ([`stack`]),
//! and Ctrl-C closes the connections, flushes the capture and checks the
//! pool. The few system calls std lacks, and every `unsafe`, are in [`sys`].

/// `println!` that carries on when standard output is closed.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod device;
mod faults;
mod opts;
mod port;
mod report;
mod stack;
mod sys;

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::process::ExitCode;

use skbnet_nic_sim::pcap::{IoSink, LinkType, PcapNgWriter};

use crate::demo::{Context, Failed};
use faults::Faults;
use opts::{Command, Options};
use port::{PcapFile, TunPort};
use stack::{Clock, Env, Stop};

/// `tun`'s part of `skbnet help`, and all of `skbnet tun --help`.
pub const USAGE: &str = "  \
skbnet tun --addr A/N --host-addr A/N [--dev NAME] [--mtu N] [--no-offload]
             [--pcap FILE] [--services LIST] [--loss P] [--delay MS] [--seed N]
             [--push HOST:PORT:BYTES | --pull HOST:PORT]
      run the stack behind a Linux TUN device, so Linux programs reach it
      (needs root or CAP_NET_ADMIN, and /dev/net/tun); Ctrl-C stops it
      --addr A/N        the stack's address and prefix, e.g. 10.7.0.2/24
      --host-addr A/N   Linux's address on the device, e.g. 10.7.0.1/24
                        (same subnet)
      --dev NAME        the device's name (default: the kernel's, tunN)
      --mtu N           the link MTU on both sides, 576 to 9000 (1500)
      --no-offload      nothing offloaded across the device or in the NIC
                        (checksums, TSO, LRO): Linux and the stack segment
                        and checksum in software (default: offloads on, so
                        64 KiB super-packets cross whole)
      --pcap FILE       write what crosses the device to FILE (pcapng, raw
                        IP, after --loss and --delay); flushed on Ctrl-C
      --services LIST   serve on the stack, comma-separated, or all:
                        echo (TCP/UDP 7), discard (TCP/UDP 9),
                        http (TCP 80, a status page), iperf (TCP 5201, for
                        iperf3 -c, -R included)
      --loss P          lose each packet with probability P (0.01 or 1%),
                        both directions (a GSO super-packet is one packet:
                        with --no-offload every packet is one segment)
      --delay MS        delay each packet by MS milliseconds, both directions
      --seed N          seed of --loss's random choices (1)
      --push HOST:PORT:BYTES
                        connect to a Linux listener (e.g. 10.7.0.1:5001),
                        send BYTES (K, M, G: binary multiples, so 64M is
                        67108864) and close; the bytes repeat a block of
                        65521, whose byte i is x >> 56 after i+1 steps of
                        xorshift64 (x ^= x<<13; x ^= x>>7; x ^= x<<17)
                        from x = 0x9e3779b97f4a7c15
      --pull HOST:PORT  connect to a Linux listener and read until it closes
                        (with --push or --pull, services run beside the
                        transfer; at its end skbnet prints one line: bytes,
                        seconds, Mbit/s and the bytes' SHA-256, and stops,
                        exit 0; 1 when the connection was refused or reset,
                        or Ctrl-C came first)
";

/// Run `skbnet tun ARGS`: 0 after a clean stop, 1 when something failed
/// (the TUN device could not be made, a `--push` or `--pull` did not
/// complete, the pool was not free at the end), 2 for a bad command line.
pub fn main(args: &[String]) -> ExitCode {
    let opts = match opts::parse(args) {
        Ok(Command::Run(opts)) => opts,
        Ok(Command::Help) => {
            print!("usage:\n{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("skbnet tun: {e}\n\nusage:\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skbnet tun: {e}");
            ExitCode::from(1)
        }
    }
}

/// Open the device and the capture, serve, then report and close the capture.
fn run(opts: &Options) -> Result<(), Failed> {
    let stop = Stop::catch()?;
    let clock = Clock::start();
    let mut secret = [0u8; 16];
    getrandom::fill(&mut secret).map_err(|e| Failed(format!("reading a secret from the OS: {e}")))?;
    let dev = device::open(opts).map_err(|e| Failed(e.0))?;
    let pcap = opts.pcap.as_deref().map(|p| create_pcap(p, &dev.name)).transpose()?;
    let tun = dev.file.try_clone().context("duplicating the TUN descriptor")?;
    let faults = Faults::new(opts.loss, opts.delay, opts.seed);
    let pcap = pcap.map(|w| (w, epoch_offset_micros()));
    let mut nic = stack::nic(opts, TunPort::new(dev.file, dev.offloads, faults, pcap));
    let env = Env { opts, dev_name: &dev.name, tun: &tun, stop: &stop, clock, secret };
    let served = stack::serve(&env, &mut nic);
    let port = nic.port_mut();
    report::port(&dev.name, port);
    let finished = match (port.take_pcap(), &opts.pcap) {
        (Some(w), Some(path)) => finish_pcap(w, path),
        _ => Ok(()),
    };
    served.and(finished)
}

/// Microseconds from the Unix epoch to now, less the stack clock's reading
/// (zero now): added to capture timestamps so Wireshark shows the wall time.
fn epoch_offset_micros() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(0))
}

/// Create `path` as a pcapng file with one raw-IP interface named `dev`.
fn create_pcap(path: &Path, dev: &str) -> Result<PcapFile, Failed> {
    let what = format!("creating {}", path.display());
    let file = File::create(path).context(&what)?;
    let mut w = PcapNgWriter::new(IoSink(BufWriter::new(file))).context(&what)?;
    w.add_interface(dev, LinkType::Raw).context(&what)?;
    Ok(w)
}

/// Flush the capture and check that every write reached the file.
fn finish_pcap(w: PcapFile, path: &Path) -> Result<(), Failed> {
    let what = format!("writing {}", path.display());
    if w.errors() > 0 {
        return Err(Failed(format!("{what}: {} writes failed", w.errors())));
    }
    w.into_inner().0.into_inner().context(&what)?;
    say!("pcapng: {}", path.display());
    Ok(())
}

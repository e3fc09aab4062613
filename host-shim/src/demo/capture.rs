//! What the demo shows of the wire: every frame a link delivers is printed
//! as tcpdump prints it (`-e -n`, with fragments marked the way tcpdump's
//! `(frag id:len@offset+)` does), and, with `--pcap`, written to one pcapng
//! file in which each link is an interface. During a bulk TCP transfer the
//! printout keeps the first few TCP frames and counts the rest in one
//! `... N TCP frames not printed ...` line; the capture file keeps every frame.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use skbnet::time::Instant;
use skbnet::wire::pretty::Frame;
use skbnet::wire::{EtherType, EthernetFrame, IpProtocol, Ipv4Packet, TcpPacket};
use skbnet_nic_sim::link::{PcapNgTap, Side, Tap};
use skbnet_nic_sim::pcap::{IoSink, LinkType, PcapNgWriter};

use super::{Context, Failed};

/// The names of the links, in the order they become pcapng interfaces.
pub const LINK_NAMES: [&str; 2] = ["h1-r", "r-h2"];

/// The bytes of a capture file.
type Sink = IoSink<BufWriter<File>>;

/// The capture file, if the command line asked for one, and which frames
/// the printout shows.
pub struct Capture {
    file: Option<(PathBuf, RefCell<PcapNgWriter<Sink>>)>,
    trace: Cell<Trace>,
}

/// Which frames are printed: all, or only the first `budget` TCP frames
/// from now on, the others counted per link.
#[derive(Clone, Copy, Debug, Default)]
struct Trace {
    /// TCP frames still to print before the rest are elided; `None`
    /// prints every frame.
    budget: Option<u32>,
    /// TCP frames elided so far, per link: (carrying data, not carrying data).
    elided: [(u64, u64); LINK_NAMES.len()],
}

impl Capture {
    /// Create `path` (if given) as a pcapng file with one Ethernet
    /// interface per link.
    pub fn create(path: Option<&Path>) -> Result<Capture, Failed> {
        let Some(path) = path else {
            return Ok(Capture { file: None, trace: Cell::default() });
        };
        let what = format!("creating {}", path.display());
        let file = File::create(path).context(&what)?;
        let mut w = PcapNgWriter::new(IoSink(BufWriter::new(file))).context(&what)?;
        for name in LINK_NAMES {
            w.add_interface(name, LinkType::Ethernet).context(&what)?;
        }
        Ok(Capture { file: Some((path.to_path_buf(), RefCell::new(w))), trace: Cell::default() })
    }

    /// The tap for link `link` (an index into [`LINK_NAMES`]).
    pub fn tap(&self, link: usize) -> DemoTap<'_> {
        let pcap = self.file.as_ref().map(|(_, w)| PcapNgTap::new(w, link as u32));
        DemoTap { link, pcap, trace: &self.trace }
    }

    /// From now on print only the next `shown` TCP frames and count the
    /// others, until [`Capture::print_all`].
    pub fn elide_tcp_after(&self, shown: u32) {
        self.trace.set(Trace { budget: Some(shown), ..Trace::default() });
    }

    /// Print every frame again, after a line that says how many were not
    /// printed since [`Capture::elide_tcp_after`].
    pub fn print_all(&self) {
        let t = self.trace.take();
        let total: u64 = t.elided.iter().map(|&(data, other)| data + other).sum();
        if total == 0 {
            return;
        }
        let per_link: Vec<String> = LINK_NAMES
            .iter()
            .zip(t.elided)
            .map(|(name, (data, other))| format!("{name} {data} with data + {other} without"))
            .collect();
        let kept = match &self.file {
            Some((path, _)) => format!("{} has them all", path.display()),
            None => "--pcap FILE keeps them all".into(),
        };
        say!("  ... {total} TCP frames not printed ({}); {kept} ...", per_link.join(", "));
    }

    /// Flush the file and check that every write reached it.
    pub fn finish(self) -> Result<(), Failed> {
        let Some((path, w)) = self.file else {
            return Ok(());
        };
        let w = w.into_inner();
        let what = format!("writing {}", path.display());
        if w.errors() > 0 {
            return Err(Failed(format!("{what}: {} writes failed", w.errors())));
        }
        w.into_inner().0.into_inner().context(&what)?;
        say!("\npcapng: {} ({} interfaces: {})", path.display(), LINK_NAMES.len(), LINK_NAMES.join(", "));
        Ok(())
    }
}

/// A link's tap: prints each delivered frame (or counts it, while TCP
/// frames are elided) and writes it to the capture.
pub struct DemoTap<'c> {
    /// The link's index in [`LINK_NAMES`].
    link: usize,
    pcap: Option<PcapNgTap<'c, Sink>>,
    trace: &'c Cell<Trace>,
}

impl Tap for DemoTap<'_> {
    fn capture(&mut self, now: Instant, from: Side, frame: &[u8]) {
        let mut t = self.trace.get();
        match (t.budget, tcp_payload_len(frame)) {
            (Some(0), Some(len)) => {
                let (data, other) = &mut t.elided[self.link];
                *if len > 0 { data } else { other } += 1;
            }
            (budget, tcp) => {
                t.budget = budget.map(|n| n - u32::from(tcp.is_some()));
                say!("{}", line(now, LINK_NAMES[self.link], frame));
            }
        }
        self.trace.set(t);
        if let Some(p) = &mut self.pcap {
            p.capture(now, from, frame);
        }
    }
}

/// The payload length of a TCP segment in an unfragmented IPv4 packet;
/// `None` for any other frame.
fn tcp_payload_len(frame: &[u8]) -> Option<usize> {
    let eth = EthernetFrame::new_checked(frame).ok().filter(|e| e.ethertype() == EtherType::IPV4)?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok().filter(|ip| ip.protocol() == IpProtocol::TCP)?;
    if ip.is_fragment() {
        return None;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    Some(tcp.payload().len())
}

/// One frame as the demo prints it: time in seconds, link, tcpdump's line.
pub fn line(now: Instant, link: &str, frame: &[u8]) -> String {
    let (s, us) = (now.micros() / 1_000_000, now.micros() % 1_000_000);
    format!("  {s}.{us:06} {link:<4}  {}{}", Frame(frame), frag_note(frame))
}

/// ` (frag ID:LEN@OFFSET+)` for an IPv4 fragment, as tcpdump marks one
/// (`+` when more fragments follow); empty for anything else.
fn frag_note(frame: &[u8]) -> String {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return String::new();
    };
    if eth.ethertype() != EtherType::IPV4 {
        return String::new();
    }
    match Ipv4Packet::new_checked(eth.payload()) {
        Ok(ip) if ip.is_fragment() => {
            let len = usize::from(ip.total_len()).saturating_sub(ip.header_len());
            let more = if ip.more_frags() { "+" } else { "" };
            format!(" (frag {}:{len}@{}{more})", ip.ident(), ip.frag_offset())
        }
        _ => String::new(),
    }
}

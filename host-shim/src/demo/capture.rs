//! What the demo shows of the wire: every frame a link delivers is printed
//! as tcpdump prints it (`-e -n`, with fragments marked the way tcpdump's
//! `(frag id:len@offset+)` does), and, with `--pcap`, written to one pcapng
//! file in which each link is an interface.

use std::cell::RefCell;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use skbnet::time::Instant;
use skbnet::wire::pretty::Frame;
use skbnet::wire::{EtherType, EthernetFrame, Ipv4Packet};
use skbnet_nic_sim::link::{PcapNgTap, Side, Tap};
use skbnet_nic_sim::pcap::{IoSink, LinkType, PcapNgWriter};

use super::{Context, Failed};

/// The names of the links, in the order they become pcapng interfaces.
pub const LINK_NAMES: [&str; 2] = ["h1-r", "r-h2"];

/// The bytes of a capture file.
type Sink = IoSink<BufWriter<File>>;

/// The capture file, if the command line asked for one.
pub struct Capture {
    file: Option<(PathBuf, RefCell<PcapNgWriter<Sink>>)>,
}

impl Capture {
    /// Create `path` (if given) as a pcapng file with one Ethernet
    /// interface per link.
    pub fn create(path: Option<&Path>) -> Result<Capture, Failed> {
        let Some(path) = path else {
            return Ok(Capture { file: None });
        };
        let what = format!("creating {}", path.display());
        let file = File::create(path).context(&what)?;
        let mut w = PcapNgWriter::new(IoSink(BufWriter::new(file))).context(&what)?;
        for name in LINK_NAMES {
            w.add_interface(name, LinkType::Ethernet).context(&what)?;
        }
        Ok(Capture { file: Some((path.to_path_buf(), RefCell::new(w))) })
    }

    /// The tap for link `link` (an index into [`LINK_NAMES`]).
    pub fn tap(&self, link: usize) -> DemoTap<'_> {
        let pcap = self.file.as_ref().map(|(_, w)| PcapNgTap::new(w, link as u32));
        DemoTap { link: LINK_NAMES[link], pcap }
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

/// A link's tap: prints each delivered frame and writes it to the capture.
pub struct DemoTap<'c> {
    link: &'static str,
    pcap: Option<PcapNgTap<'c, Sink>>,
}

impl Tap for DemoTap<'_> {
    fn capture(&mut self, now: Instant, from: Side, frame: &[u8]) {
        say!("{}", line(now, self.link, frame));
        if let Some(p) = &mut self.pcap {
            p.capture(now, from, frame);
        }
    }
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

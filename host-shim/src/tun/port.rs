//! The TUN device as the far end of a simulated NIC's PHY: a nic-sim
//! [`Port`] whose wire is the TUN file descriptor, as a virtio-net device's
//! wire is its virtqueues.
//!
//! Every packet crosses with the 10-byte `virtio_net_hdr` in front
//! (`IFF_VNET_HDR`), in one `readv`/`writev`. With offloads on, the port
//! says so ([`Port::carries_offloads`]): the NIC hands it TSO super-packets
//! and partial checksums as they are, described by the header, and Linux
//! segments them; and Linux hands it GSO super-packets, whose header the
//! NIC turns into one GRO-style receive. The fault profile ([`Faults`])
//! sits between the descriptor and the NIC, and the capture records what
//! crosses the descriptor (after any delay, without what was lost), as
//! `tcpdump -i tun0` would on the Linux side.

use std::fs::File;
use std::io::{BufWriter, IoSlice, IoSliceMut, Read, Write};

use skbnet::skb::{Meta, VirtioNetHdr};
use skbnet::time::Instant;
use skbnet_nic_sim::pcap::{Direction, IoSink, PcapNgWriter};
use skbnet_nic_sim::port::{Port, RxFrame};

use super::faults::{Dir, Faults};

/// Largest packet that crosses the device: an IPv4 packet of 64 KiB.
pub const PACKET_MAX: usize = 65_536;

/// Packets one `receive` may read and throw away (lost, malformed) before
/// it returns, so a flood cannot hold the device model forever.
const READS_PER_CALL: usize = 64;

/// A capture file's writer.
pub type PcapFile = PcapNgWriter<IoSink<BufWriter<File>>>;

/// Counters of one direction of the port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    /// Packets that crossed the descriptor.
    pub packets: u64,
    /// Their bytes (IP packets, without the header).
    pub bytes: u64,
    /// Of them, GSO super-packets (several segments on the wire).
    pub super_packets: u64,
    /// With a partial checksum for the receiver to finish.
    pub partial_csum: u64,
}

impl Flow {
    fn count(&mut self, len: usize, vnet: &VirtioNetHdr) {
        self.packets += 1;
        self.bytes += len as u64;
        if vnet.gso_type != VirtioNetHdr::GSO_NONE {
            self.super_packets += 1;
        }
        if vnet.flags & VirtioNetHdr::F_NEEDS_CSUM != 0 {
            self.partial_csum += 1;
        }
    }
}

/// The port's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Written to Linux.
    pub to_linux: Flow,
    /// Read from Linux.
    pub to_stack: Flow,
    /// Writes the kernel refused.
    pub write_errors: u64,
    /// Reads that failed with something other than "nothing to read".
    pub read_errors: u64,
    /// Packets read whose `virtio_net_hdr` did not fit the packet (dropped).
    pub bad_headers: u64,
}

/// The TUN device behind a simulated NIC.
pub struct TunPort {
    file: File,
    offloads: bool,
    faults: Faults,
    pcap: Option<PcapFile>,
    /// Added to the clock for capture timestamps (the wall time at zero).
    pcap_epoch_us: u64,
    /// A packet being read when the fault profile needs it in hand.
    scratch: Vec<u8>,
    stats: PortStats,
    /// The first write error, for the report.
    first_write_error: Option<String>,
}

impl TunPort {
    /// The port over the TUN device `file` (non-blocking, opened with
    /// `IFF_VNET_HDR`). `offloads` says whether `TUNSETOFFLOAD` accepted
    /// checksum offload and TSO. `pcap` records on its interface 0, with
    /// timestamps moved by the given microseconds (the Unix time at which
    /// the clock read zero, so a reader shows the wall time).
    pub fn new(file: File, offloads: bool, faults: Faults, pcap: Option<(PcapFile, u64)>) -> TunPort {
        let (pcap, pcap_epoch_us) = pcap.map_or((None, 0), |(w, at)| (Some(w), at));
        TunPort {
            file,
            offloads,
            faults,
            pcap,
            pcap_epoch_us,
            scratch: vec![0; VirtioNetHdr::LEN + PACKET_MAX],
            stats: PortStats::default(),
            first_write_error: None,
        }
    }

    /// The counters.
    pub fn stats(&self) -> PortStats {
        self.stats
    }

    /// The fault profile, for its counters.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The first error a write reported, if any did.
    pub fn first_write_error(&self) -> Option<&str> {
        self.first_write_error.as_deref()
    }

    /// The capture writer, to finish the file.
    pub fn take_pcap(&mut self) -> Option<PcapFile> {
        self.pcap.take()
    }

    fn capture(&mut self, now: Instant, dir: Direction, packet: &[u8]) {
        if let Some(w) = &mut self.pcap {
            let t = Instant::from_micros(now.micros().saturating_add(self.pcap_epoch_us));
            // A failed write is counted by the writer and reported at the end.
            let _ = w.write_packet(0, t, dir, packet);
        }
    }

    /// Write one packet to Linux, header and packet in one `writev`.
    fn write_now(&mut self, now: Instant, packet: &[u8], vnet: &VirtioNetHdr) {
        let hdr = vnet.to_bytes();
        match self.file.write_vectored(&[IoSlice::new(&hdr), IoSlice::new(packet)]) {
            Ok(n) if n == hdr.len() + packet.len() => {
                self.stats.to_linux.count(packet.len(), vnet);
                self.capture(now, Direction::Outbound, packet);
            }
            Ok(n) => self.write_failed(format!("short write: {n} of {} bytes", hdr.len() + packet.len())),
            Err(e) => self.write_failed(e.to_string()),
        }
    }

    fn write_failed(&mut self, why: String) {
        self.stats.write_errors += 1;
        self.first_write_error.get_or_insert(why);
    }

    /// Read one packet from Linux into `buf` (header into `hdr`); `None`
    /// when nothing is waiting.
    fn read_into(&mut self, hdr: &mut [u8; VirtioNetHdr::LEN], buf: &mut [u8]) -> Option<usize> {
        match self.file.read_vectored(&mut [IoSliceMut::new(hdr), IoSliceMut::new(buf)]) {
            Ok(n) => Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Some(0),
            Err(_) => {
                // The device went away (or worse): count it and stop reading
                // this time; the next run tries again.
                self.stats.read_errors += 1;
                None
            }
        }
    }

    /// The next packet from Linux that passes the header check and the
    /// fault profile, in `buf`. Held packets that come due go first.
    fn next_from_linux(&mut self, now: Instant, buf: &mut [u8]) -> Option<RxFrame> {
        if let Some(h) = self.faults.pop_due(Dir::ToStack, now) {
            let len = h.bytes.len().min(buf.len());
            buf[..len].copy_from_slice(&h.bytes[..len]);
            return Some(self.delivered(now, h.vnet, buf, len));
        }
        for _ in 0..READS_PER_CALL {
            let mut hdr = [0u8; VirtioNetHdr::LEN];
            let direct = self.faults.is_clear();
            let n = if direct {
                self.read_into(&mut hdr, buf)?
            } else {
                let mut scratch = std::mem::take(&mut self.scratch);
                let n = self.read_into(&mut hdr, &mut scratch[..PACKET_MAX]);
                self.scratch = scratch;
                n?
            };
            let Some(len) = n.checked_sub(VirtioNetHdr::LEN) else { continue };
            let Some(vnet) = checked_header(&hdr, len) else {
                self.stats.bad_headers += 1;
                continue;
            };
            if direct {
                return Some(self.delivered(now, vnet, buf, len));
            }
            if !self.faults.survives(Dir::ToStack) {
                continue;
            }
            if self.faults.delays() {
                let scratch = std::mem::take(&mut self.scratch);
                self.faults.hold(Dir::ToStack, now, vnet, &scratch[..len]);
                self.scratch = scratch;
                continue;
            }
            let len = len.min(buf.len());
            buf[..len].copy_from_slice(&self.scratch[..len]);
            return Some(self.delivered(now, vnet, buf, len));
        }
        None
    }

    fn delivered(&mut self, now: Instant, vnet: VirtioNetHdr, buf: &[u8], len: usize) -> RxFrame {
        self.stats.to_stack.count(len, &vnet);
        self.capture(now, Direction::Inbound, &buf[..len]);
        RxFrame { len, vnet }
    }
}

/// The header of a `len`-byte packet from Linux, if it describes the packet
/// consistently and asks for nothing but what the NIC model handles (a
/// partial checksum, TCP/IPv4 segmentation).
fn checked_header(bytes: &[u8], len: usize) -> Option<VirtioNetHdr> {
    let vnet = VirtioNetHdr::from_bytes(bytes)?;
    vnet.to_meta(&mut Meta::new(), 0, len)?;
    let gso = vnet.gso_type & !VirtioNetHdr::GSO_ECN;
    let supported = gso == VirtioNetHdr::GSO_NONE
        || (gso == VirtioNetHdr::GSO_TCPV4 && usize::from(vnet.hdr_len) < len && vnet.gso_size > 0);
    supported.then_some(vnet)
}

impl Port for TunPort {
    fn transmit(&mut self, now: Instant, frame: &[u8], vnet: &VirtioNetHdr) {
        if !self.faults.survives(Dir::ToLinux) {
            return;
        }
        if self.faults.delays() {
            self.faults.hold(Dir::ToLinux, now, *vnet, frame);
            return;
        }
        self.write_now(now, frame, vnet);
    }

    /// The PHY's receive side, run on every pass of the device model: it
    /// first puts on the wire what the delay held for Linux and is now due,
    /// then takes the next packet from Linux.
    fn receive(&mut self, now: Instant, buf: &mut [u8]) -> Option<RxFrame> {
        while let Some(h) = self.faults.pop_due(Dir::ToLinux, now) {
            self.write_now(now, &h.bytes, &h.vnet);
        }
        self.next_from_linux(now, buf)
    }

    fn next_arrival(&self) -> Option<Instant> {
        // Packets from Linux announce themselves on the descriptor (the run
        // loop waits on it); only what the delay holds has a time.
        self.faults.next_due()
    }

    fn carries_offloads(&self) -> bool {
        self.offloads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(v: VirtioNetHdr) -> [u8; VirtioNetHdr::LEN] {
        v.to_bytes()
    }

    #[test]
    fn headers_from_linux_are_checked_against_the_packet() {
        let plain = VirtioNetHdr::default();
        assert_eq!(checked_header(&hdr(plain), 60), Some(plain));
        let partial = VirtioNetHdr { flags: VirtioNetHdr::F_NEEDS_CSUM, csum_start: 20, csum_offset: 16, ..plain };
        assert_eq!(checked_header(&hdr(partial), 60), Some(partial));
        assert_eq!(checked_header(&hdr(partial), 30), None, "checksum field past the end");
        let tso = VirtioNetHdr { gso_type: VirtioNetHdr::GSO_TCPV4, gso_size: 1448, hdr_len: 52, ..partial };
        assert_eq!(checked_header(&hdr(tso), 52 + 3 * 1448), Some(tso));
        assert_eq!(checked_header(&hdr(VirtioNetHdr { hdr_len: 9000, ..tso }), 4396), None, "headers past the end");
        let uso = VirtioNetHdr { gso_type: VirtioNetHdr::GSO_UDP_L4, ..tso };
        assert_eq!(checked_header(&hdr(uso), 4396), None, "UDP segmentation was never offered");
        assert_eq!(checked_header(&hdr(VirtioNetHdr { gso_size: 0, ..tso }), 4396), None);
        assert_eq!(checked_header(&[0; 4], 60), None, "a short header");
    }
}

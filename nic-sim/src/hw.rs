//! The device half of the simulated NIC: what the silicon does.
//!
//! On each run it fetches transmit descriptors from its head register up to
//! the tail the driver wrote, reads each packet's buffers by DMA, performs
//! the offloads the descriptor asks for (checksum insertion, TCP
//! segmentation), puts frames on its port (built in place in the port's
//! buffer when it lends one) and writes completion back. It takes arriving
//! frames (in place, likewise) into posted receive buffers, verifies checksums,
//! coalesces TCP segments of a flow (LRO), writes status back, and drops
//! (and counts) what arrives when no buffer is posted. Interrupts fire under
//! moderation and mask themselves until the driver's poll re-enables them.

use skbnet::dev::Medium;
use skbnet::dev::gro::{GroVerdict, TcpSeg, fix_merged_headers, merge_verdict};
use skbnet::dev::gso::{SegmentHeaders, TsoLayout};
use skbnet::skb::{Chunks, SkbPool, SkbRef, VirtioNetHdr};
use skbnet::time::Instant;
use skbnet::wire::checksum::{checksum, pseudo_header_v4};
use skbnet::wire::{EtherType, EthernetFrame, IpProtocol, Ipv4Packet, TcpPacket, UdpPacket};

use crate::desc::{
    DD, DmaAddr, EOP, OWN, RX_CSUM_PARTIAL, RX_L3_OK, RX_L4_BAD, RX_L4_OK, RX_RSC, RX_TRUNCATED, Ring, RxDesc, SOP,
    TX_CSUM, TX_TSO, TxDesc,
};
use crate::irq::{CAUSE_RX, CAUSE_TX};
use crate::link::{LinkFrame, PendingCsum};
use crate::nic::{Coalesce, NicConfig, SimNic, usecs};
use crate::port::Port;

/// Counters the device keeps in its own registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HwStats {
    /// Frames taken from the port.
    pub rx_frames: u64,
    /// Frames dropped because no receive descriptor was posted.
    pub rx_missed: u64,
    /// Frames whose TCP/UDP checksum the device found bad.
    pub rx_csum_bad: u64,
    /// Segments LRO merged into an earlier one.
    pub lro_merged: u64,
    /// Packets fetched from the TX ring.
    pub tx_packets: u64,
    /// Frames put on the port (a TSO packet makes several).
    pub tx_frames: u64,
    /// TX packets the device could not send (malformed descriptors, too big).
    pub tx_errors: u64,
    /// Interrupts fired.
    pub interrupts: u64,
}

/// Events waiting for an interrupt.
#[derive(Clone, Copy, Debug, Default)]
struct Pending {
    count: u32,
    since: Option<Instant>,
}

impl Pending {
    fn add(&mut self, now: Instant, n: u32) {
        if self.count == 0 {
            self.since = Some(now);
        }
        self.count += n;
    }

    fn due(&self, now: Instant, frames: u32, wait_us: u32) -> bool {
        match self.since {
            Some(since) if self.count > 0 => self.count >= frames.max(1) || now >= since + usecs(wait_us),
            _ => false,
        }
    }

    fn deadline(&self, wait_us: u32) -> Option<Instant> {
        self.since.filter(|_| self.count > 0).map(|s| s + usecs(wait_us))
    }
}

/// What the device writes back on a packet's first descriptor.
#[derive(Clone, Copy, Debug, Default)]
struct RxStatus {
    /// `RX_*` status bits.
    flags: u16,
    /// Segments coalesced and their payload size (with `RX_RSC`).
    segs: u16,
    mss: u16,
    /// Where the sum left to finish starts and its field (with
    /// `RX_CSUM_PARTIAL`).
    csum_start: u16,
    csum_offset: u16,
}

/// An LRO context: a packet being built from merged segments, its
/// descriptors not yet written back.
#[derive(Clone, Copy, Debug)]
struct Lro {
    first: u16,
    last: u16,
    seg: TcpSeg,
    next_seq: u32,
    last_id: u16,
    mss: u16,
    segs: u16,
    /// Offset of the IPv4 header in the first buffer.
    l3: u16,
    total_len: u16,
    psh: bool,
    status: u16,
    /// When the context opened: it is written back `lro_usecs` later at
    /// the latest, as RSC hardware does on its timer.
    opened: Instant,
}

/// The device's internal state: registers beyond the ring pointers,
/// moderation timers, the LRO context and counters.
pub struct HwState {
    masked: bool,
    rx_ev: Pending,
    tx_ev: Pending,
    lro: Option<Lro>,
    pub(crate) stats: HwStats,
}

impl HwState {
    pub(crate) fn new() -> Self {
        HwState {
            masked: false,
            rx_ev: Pending::default(),
            tx_ev: Pending::default(),
            lro: None,
            stats: HwStats::default(),
        }
    }

    /// The driver read the cause register (clearing it) and unmasked.
    pub(crate) fn ack_and_unmask(&mut self) {
        self.rx_ev = Pending::default();
        self.tx_ev = Pending::default();
        self.masked = false;
    }

    /// When a timer fires next (interrupt moderation, the LRO flush), if one runs.
    pub(crate) fn timer_deadline(&self, c: &Coalesce, lro_usecs: u32) -> Option<Instant> {
        let lro = self.lro.map(|l| l.opened + usecs(lro_usecs));
        let irq =
            if self.masked { [None, None] } else { [self.rx_ev.deadline(c.rx_usecs), self.tx_ev.deadline(c.tx_usecs)] };
        [lro, irq[0], irq[1]].into_iter().flatten().min()
    }
}

/// The device's on-chip buffers. A port that lends its own buffers (a
/// simulated link) is written and read in place; for one that does not (a
/// TUN device) frames are staged here. A TSO packet's headers are kept in
/// `frame` while its segments are built.
pub struct HwBuffers<const FRAME: usize> {
    pub(crate) frame: [u8; FRAME],
    pub(crate) seg: [u8; FRAME],
}

impl<const FRAME: usize> HwBuffers<FRAME> {
    pub(crate) fn new() -> Self {
        HwBuffers { frame: [0; FRAME], seg: [0; FRAME] }
    }
}

/// The DMA engine reading one transmit packet: its descriptors from
/// `start` to `end`, addressed by byte offset into the packet. Reads in
/// increasing order (a TSO packet's segments; a segment the link loses is
/// skipped) go on from where the last one stopped, as the engine walks its
/// scatter list once per packet. Each descriptor's bus address is
/// translated to pool memory once, and the translation follows the buffer
/// chain on from the previous descriptor when the next one continues the
/// same packet (an address-translation cache), rather than walking the
/// chain from its start again.
struct TxDma<'p> {
    start: u16,
    end: u16,
    /// The descriptor to load next, `None` past the last.
    next: Option<u16>,
    /// The packet offset of the next unread byte.
    pos: usize,
    /// The current descriptor's unread bytes, translated.
    rest: &'p [u8],
    /// The current descriptor's unread bytes when they do not lie in one
    /// buffer: where they start and how many are left, read through the
    /// pool.
    spill: Option<(DmaAddr, usize)>,
    /// The chain walk the last translation left off at: the packet, the
    /// offset of its next buffer, and the buffers from there on.
    walk: Option<(SkbRef, usize, Chunks<'p>)>,
}

impl<'p> TxDma<'p> {
    fn new(start: u16, end: u16) -> TxDma<'p> {
        TxDma { start, end, next: Some(start), pos: 0, rest: &[], spill: None, walk: None }
    }

    /// Pool memory holding `len` bytes at `a`, if they lie in one buffer.
    fn translate(&mut self, pool: &'p SkbPool, a: DmaAddr, len: usize) -> Option<&'p [u8]> {
        let off = a.offset as usize;
        if let Some((skb, next, chunks)) = &mut self.walk
            && *skb == a.skb
            && *next == off
        {
            let chunk = chunks.next()?;
            *next += chunk.len();
            return chunk.get(..len);
        }
        let (mut chunks, mut at) = (pool.chunks(&a.skb), 0usize);
        while let Some(chunk) = chunks.next() {
            if off < at + chunk.len() {
                self.walk = Some((a.skb, at + chunk.len(), chunks));
                return chunk.get(off - at..off - at + len);
            }
            at += chunk.len();
        }
        None
    }

    /// Copy the packet's bytes from `offset` into `dst`. The descriptors
    /// were checked ([`SimNic::dma_valid`]) and `dst` ends inside the
    /// packet, so every read lands.
    fn read_at<const TXN: usize>(
        &mut self,
        ring: &Ring<TxDesc, TXN>,
        pool: &'p SkbPool,
        offset: usize,
        dst: &mut [u8],
    ) {
        if offset < self.pos {
            *self = TxDma::new(self.start, self.end);
        }
        let skip = offset - self.pos;
        if skip > 0 && self.walk_over(ring, pool, skip, None) < skip {
            return;
        }
        self.walk_over(ring, pool, dst.len(), Some(dst));
    }

    /// Go over the next `len` bytes, copying them into `dst` if given;
    /// returns how many there were.
    fn walk_over<const TXN: usize>(
        &mut self,
        ring: &Ring<TxDesc, TXN>,
        pool: &'p SkbPool,
        len: usize,
        mut dst: Option<&mut [u8]>,
    ) -> usize {
        let mut done = 0;
        while done < len {
            let want = len - done;
            if !self.rest.is_empty() {
                let n = self.rest.len().min(want);
                let (now, later) = self.rest.split_at(n);
                if let Some(d) = dst.as_deref_mut() {
                    d[done..done + n].copy_from_slice(now);
                }
                self.rest = later;
                done += n;
            } else if let Some((a, left)) = &mut self.spill
                && *left > 0
            {
                let n = (*left).min(want);
                if let Some(d) = dst.as_deref_mut() {
                    let _ = pool.copy_to_slice(&a.skb, a.offset as usize, &mut d[done..done + n]);
                }
                a.offset += n as u32;
                *left -= n;
                done += n;
            } else if !self.load(ring, pool) {
                break;
            }
        }
        self.pos += done;
        done
    }

    /// Move on to the next descriptor; false past the last.
    fn load<const TXN: usize>(&mut self, ring: &Ring<TxDesc, TXN>, pool: &'p SkbPool) -> bool {
        let Some(i) = self.next else { return false };
        self.next = (i != self.end).then(|| Ring::<TxDesc, TXN>::next(i));
        let d = &ring.desc[usize::from(i)];
        let Some(a) = d.addr else { return false };
        let len = usize::from(d.len);
        match self.translate(pool, a, len) {
            Some(bytes) => (self.rest, self.spill) = (bytes, None),
            None => (self.rest, self.spill) = (&[], Some((a, len))),
        }
        true
    }
}

impl<const TXN: usize, const RXN: usize, const FRAME: usize, P: Port> SimNic<TXN, RXN, FRAME, P> {
    pub(crate) fn hw_run(&mut self, now: Instant, pool: &mut SkbPool) {
        self.tx_doorbell = None;
        self.carrier = self.port.carrier();
        self.hw_tx(now, pool);
        self.hw_rx(now, pool);
        self.hw_interrupts(now);
    }

    fn hw_tx(&mut self, now: Instant, pool: &SkbPool) {
        while self.tx.head != self.tx.tail {
            let start = self.tx.head;
            let Some((end, total)) = self.tx_packet_extent(start) else { return };
            let d = self.tx.desc[usize::from(start)];
            self.hw.stats.tx_packets += 1;
            let sent = d.flags & (OWN | SOP) == OWN | SOP
                && total <= FRAME
                && self.dma_valid(pool, start, end)
                && self.tx_offload_and_send(now, pool, &d, TxDma::new(start, end), total);
            if !sent {
                self.hw.stats.tx_errors += 1;
            }
            let mut i = start;
            loop {
                let desc = &mut self.tx.desc[usize::from(i)];
                desc.flags = (desc.flags & !OWN) | DD;
                if i == end {
                    break;
                }
                i = Ring::<TxDesc, TXN>::next(i);
            }
            self.tx.head = Ring::<TxDesc, TXN>::next(end);
            self.hw.tx_ev.add(now, 1);
        }
    }

    /// The EOP descriptor and total length of the packet starting at
    /// `start`, or `None` while its descriptors are not all handed over.
    fn tx_packet_extent(&self, start: u16) -> Option<(u16, usize)> {
        let (mut i, mut total) = (start, 0usize);
        loop {
            let d = self.tx.desc[usize::from(i)];
            total += usize::from(d.len);
            if d.flags & EOP != 0 || d.flags & OWN == 0 {
                return Some((i, total));
            }
            i = Ring::<TxDesc, TXN>::next(i);
            if i == self.tx.tail {
                return None;
            }
        }
    }

    /// True if every buffer of the packet is memory the device can read
    /// (a bus error otherwise: the packet is not sent).
    fn dma_valid(&self, pool: &SkbPool, start: u16, end: u16) -> bool {
        let mut i = start;
        loop {
            let d = self.tx.desc[usize::from(i)];
            let Some(a) = d.addr else { return false };
            if !pool.is_valid(&a.skb) || a.offset as usize + usize::from(d.len) > pool.len(&a.skb) {
                return false;
            }
            if i == end {
                return true;
            }
            i = Ring::<TxDesc, TXN>::next(i);
        }
    }

    fn tx_offload_and_send<'p>(
        &mut self,
        now: Instant,
        pool: &'p SkbPool,
        d: &TxDesc,
        mut dma: TxDma<'p>,
        total: usize,
    ) -> bool {
        if self.port.carries_offloads() && d.flags & TX_CSUM != 0 {
            let frame = &mut self.bufs.frame[..total];
            dma.read_at(&self.tx, pool, 0, frame);
            let mut vnet = VirtioNetHdr {
                flags: VirtioNetHdr::F_NEEDS_CSUM,
                csum_start: d.csum_start,
                csum_offset: d.csum_offset,
                ..VirtioNetHdr::default()
            };
            if d.flags & TX_TSO != 0 && total > usize::from(d.hdr_len) + usize::from(d.mss) {
                vnet.gso_type = VirtioNetHdr::GSO_TCPV4;
                vnet.gso_size = d.mss;
                vnet.hdr_len = d.hdr_len;
            }
            self.port.transmit(now, frame, &vnet);
            self.hw.stats.tx_frames += 1;
            return true;
        }
        if d.flags & TX_TSO != 0 {
            return self.tso_send(now, pool, d, dma, total);
        }
        let csum = (d.flags & TX_CSUM != 0).then_some(PendingCsum { start: d.csum_start, offset: d.csum_offset });
        if csum.is_some_and(|c| !c.fits(total)) {
            return false;
        }
        let SimNic { port, tx, bufs, .. } = self;
        let sent = port.transmit_in_place(now, total, |frame| {
            dma.read_at(tx, pool, 0, frame);
            csum
        });
        if !sent {
            let frame = &mut bufs.frame[..total];
            dma.read_at(tx, pool, 0, frame);
            if let Some(c) = csum {
                c.finish(frame);
            }
            port.transmit(now, frame, &VirtioNetHdr::default());
        }
        self.hw.stats.tx_frames += 1;
        true
    }

    /// Segment the super-packet into MSS-sized frames: its headers are read
    /// once, each segment's payload is read from the packet's buffers
    /// straight into the frame being sent.
    fn tso_send<'p>(&mut self, now: Instant, pool: &'p SkbPool, d: &TxDesc, mut dma: TxDma<'p>, total: usize) -> bool {
        let hdr_len = usize::from(d.hdr_len);
        let mss = usize::from(d.mss);
        if hdr_len > total || mss == 0 {
            return false;
        }
        let SimNic { port, tx, bufs, hw, cfg, .. } = self;
        let HwBuffers { frame, seg } = bufs;
        let hdr = &mut frame[..hdr_len];
        dma.read_at(tx, pool, 0, hdr);
        let l3 = if cfg.medium == Medium::Ethernet {
            match EthernetFrame::new_checked(&*hdr) {
                Ok(eth) => eth.header_len(),
                Err(_) => return false,
            }
        } else {
            0
        };
        let layout = TsoLayout { l3, l4: usize::from(d.csum_start), hdr_len, mss };
        let payload = total - hdr_len;
        let csum = PendingCsum { start: d.csum_start, offset: d.csum_offset };
        let field_end = usize::from(d.csum_start) + usize::from(d.csum_offset) + 2;
        if layout.l4 + 20 > hdr_len
            || layout.l3 >= layout.l4
            || field_end > hdr_len
            || hdr_len + mss.min(payload) - l3 > 0xffff
        {
            return false;
        }
        // Every segment carries the same headers: check them once, so the
        // segments below cannot fail part way.
        let Ok(headers) = SegmentHeaders::new(hdr, &layout) else { return false };
        let hdr = &*hdr;
        let segs = payload.div_ceil(mss).max(1);
        for i in 0..segs {
            let len = mss.min(payload - i * mss);
            let last = i + 1 == segs;
            let build = |frame: &mut [u8], dma: &mut TxDma<'p>| {
                frame[..hdr_len].copy_from_slice(hdr);
                dma.read_at(tx, pool, hdr_len + i * mss, &mut frame[hdr_len..]);
                // Checked above on the same headers.
                let _ = headers.fix(frame, i as u16, len, last);
            };
            let sent = port.transmit_in_place(now, hdr_len + len, |frame| {
                build(frame, &mut dma);
                Some(csum)
            });
            if !sent {
                let frame = &mut seg[..hdr_len + len];
                build(frame, &mut dma);
                csum.finish(frame);
                port.transmit(now, frame, &VirtioNetHdr::default());
            }
            hw.stats.tx_frames += 1;
        }
        true
    }

    fn hw_rx(&mut self, now: Instant, pool: &mut SkbPool) {
        let SimNic { port, cfg, rx, hw, bufs, .. } = self;
        let mut eng = RxEngine { cfg, rx, hw };
        // A run takes at most what fits in the ring, then leaves the rest on
        // the port for the next run, as a real FIFO would fill and drop.
        for _ in 0..RXN * 4 {
            let took = match port.receive_in_place(now, |frame, vnet| eng.frame::<FRAME>(now, pool, frame, vnet)) {
                Ok(took) => took.is_some(),
                Err(_) => match port.receive(now, &mut bufs.frame) {
                    Some(f) => {
                        let frame = LinkFrame::finished(&mut bufs.frame[..f.len.min(FRAME)]);
                        eng.frame::<FRAME>(now, pool, frame, &f.vnet);
                        true
                    }
                    None => false,
                },
            };
            if !took {
                break;
            }
        }
        let expired = eng.hw.lro.is_some_and(|c| now >= c.opened + usecs(eng.cfg.lro_usecs));
        if expired {
            eng.lro_flush(now, pool);
        }
    }

    fn hw_interrupts(&mut self, now: Instant) {
        if self.hw.masked {
            return;
        }
        let c = self.cfg.coalesce;
        let mut causes = 0;
        if self.hw.rx_ev.due(now, c.rx_frames, c.rx_usecs) {
            causes |= CAUSE_RX;
            self.stats.rx_interrupts += 1;
        }
        if self.hw.tx_ev.due(now, c.tx_frames, c.tx_usecs) {
            causes |= CAUSE_TX;
            self.stats.tx_interrupts += 1;
        }
        if causes != 0 {
            self.hw.masked = true;
            self.hw.stats.interrupts += 1;
            self.irq.raise(causes);
        }
    }
}

/// The receive half of the device at work on one run: its registers and
/// the RX ring, taking frames wherever they are (in the port's buffer or
/// staged on chip).
struct RxEngine<'n, const RXN: usize> {
    cfg: &'n NicConfig,
    rx: &'n mut Ring<RxDesc, RXN>,
    hw: &'n mut HwState,
}

impl<const RXN: usize> RxEngine<'_, RXN> {
    /// Take one arrived frame (cut to the device's `FRAME` bytes).
    ///
    /// A frame whose checksum the link still holds pending is finished
    /// before any of its header bytes are written to host memory; a segment
    /// LRO merges into an earlier one gives only its payload, so it is
    /// verified from its headers ([`Self::pending_status`]) and never
    /// summed.
    fn frame<const FRAME: usize>(
        &mut self,
        now: Instant,
        pool: &mut SkbPool,
        mut frame: LinkFrame<'_>,
        vnet: &VirtioNetHdr,
    ) {
        if frame.len() > FRAME {
            // Cut what crossed the wire, not a frame still to be finished.
            frame.finish();
        }
        let len = frame.len().min(FRAME);
        self.hw.stats.rx_frames += 1;
        // A host that vouches for the checksum (DATA_VALID), or left it
        // for the receiver to finish (NEEDS_CSUM), gives the device
        // nothing to verify, as with virtio-net: verifying would only
        // find the partial sum "bad".
        let partial = vnet.flags & VirtioNetHdr::F_NEEDS_CSUM != 0;
        let vouched = partial || vnet.flags & VirtioNetHdr::F_DATA_VALID != 0;
        // The TCP headers, parsed once for the checksum and for LRO.
        let judge_pending = !vouched && self.cfg.offloads.rx_csum && frame.pending().is_some();
        let tcp = if self.cfg.offloads.lro || judge_pending { self.tcp_headers(&frame.bytes()[..len]) } else { None };
        let status = match (vouched, self.cfg.offloads.rx_csum) {
            // The sum is the receiver's to finish: the packet goes up with
            // where it starts, not as verified, so that forwarding it
            // finishes it (virtio-net receive sets CHECKSUM_PARTIAL).
            (true, _) if partial => RX_L3_OK | RX_CSUM_PARTIAL,
            (true, _) => RX_L3_OK | RX_L4_OK,
            (false, true) => match frame
                .pending()
                .zip(tcp.as_ref())
                .and_then(|(c, (l3, seg))| Self::pending_status(&frame.bytes()[..len], *l3, seg, c))
            {
                Some(status) => status,
                None => {
                    frame.finish();
                    self.rx_checksums(&frame.bytes()[..len])
                }
            },
            (false, false) => 0,
        };
        let csum = RxStatus { csum_start: vnet.csum_start, csum_offset: vnet.csum_offset, ..RxStatus::default() };
        if vnet.gso_type != VirtioNetHdr::GSO_NONE && vnet.gso_size != 0 {
            self.lro_flush(now, pool);
            frame.finish();
            let frame = &frame.bytes()[..len];
            let payload = frame.len().saturating_sub(usize::from(vnet.hdr_len));
            let segs = payload.div_ceil(usize::from(vnet.gso_size)) as u16;
            self.rx_write(now, pool, frame, RxStatus { flags: status | RX_RSC, segs, mss: vnet.gso_size, ..csum });
            return;
        }
        if self.cfg.offloads.lro {
            if status & RX_L4_OK != 0 && self.lro_try(now, pool, &mut frame, len, tcp.as_ref(), status) {
                return;
            }
            // A frame LRO does not take closes the open context first, as
            // RSC hardware does: it would otherwise sit in the ring behind
            // the unfinished packet until the LRO timer.
            self.lro_flush(now, pool);
        }
        frame.finish();
        self.rx_write(now, pool, &frame.bytes()[..len], RxStatus { flags: status, ..csum });
    }

    /// Where the IPv4 header starts in the frame and its TCP headers, if it
    /// holds TCP over IPv4.
    fn tcp_headers(&self, frame: &[u8]) -> Option<(usize, TcpSeg)> {
        let l3 = self.l3_offset(frame)?;
        Some((l3, TcpSeg::parse(&frame[l3..])?))
    }

    /// The status [`Self::rx_checksums`] would give the frame once its
    /// pending checksum `c` were finished, from its headers alone (`seg`,
    /// its IPv4 header at `l3`), for a TCP segment without IP options whose
    /// checksum covers exactly its IP payload: it verifies exactly when the
    /// seed in the field is the segment's pseudo-header sum
    /// ([`LinkFrame::pending`]). `None` for any other frame, and for one that
    /// would fail: finish it and verify it as it is. (`TcpSeg::parse`
    /// accepted the headers, and the IPv4 packet ends with the frame, which
    /// is what `rx_checksums`' parsers check.)
    fn pending_status(frame: &[u8], l3: usize, seg: &TcpSeg, c: PendingCsum) -> Option<u16> {
        let l4 = l3 + 20;
        let covers_payload = seg.ip_plain
            && usize::from(c.start) == l4
            && c.offset == 16
            && l3 + usize::from(seg.ip_total_len) == frame.len();
        if !covers_payload || checksum(&frame[l3..l4]) != 0 {
            return None;
        }
        let seed = pseudo_header_v4(seg.src, seg.dst, IpProtocol::TCP, seg.ip_total_len - 20).fold();
        let field = u16::from_be_bytes([frame[l4 + 16], frame[l4 + 17]]);
        // One's complement has two zeros: a field of 0 is the seed 0xffff.
        (field == seed || (field == 0 && seed == 0xffff)).then_some(RX_L3_OK | RX_L4_OK)
    }

    /// Verify the IPv4 header checksum and the TCP/UDP checksum of the frame.
    fn rx_checksums(&mut self, frame: &[u8]) -> u16 {
        let Some(l3) = self.l3_offset(frame) else { return 0 };
        let Ok(ip) = Ipv4Packet::new_checked(&frame[l3..]) else { return 0 };
        if !ip.verify_checksum() {
            return 0;
        }
        if ip.is_fragment() {
            return RX_L3_OK;
        }
        let good = match ip.protocol() {
            IpProtocol::TCP => {
                TcpPacket::new_checked(ip.payload()).is_ok_and(|t| t.verify_checksum(ip.src(), ip.dst()))
            }
            IpProtocol::UDP => {
                UdpPacket::new_checked(ip.payload()).is_ok_and(|u| u.verify_checksum(ip.src(), ip.dst()))
            }
            _ => return RX_L3_OK,
        };
        if good {
            RX_L3_OK | RX_L4_OK
        } else {
            self.hw.stats.rx_csum_bad += 1;
            RX_L3_OK | RX_L4_BAD
        }
    }

    /// Where the IPv4 header starts in the frame, if it holds IPv4.
    fn l3_offset(&self, frame: &[u8]) -> Option<usize> {
        match self.cfg.medium {
            Medium::Ip => Some(0),
            Medium::Ethernet => {
                let eth = EthernetFrame::new_checked(frame).ok()?;
                (eth.ethertype() == EtherType::IPV4).then(|| eth.header_len())
            }
        }
    }

    /// DMA the frame into posted descriptors and write status back. Drops
    /// and counts the frame when too few are posted.
    fn rx_write(&mut self, now: Instant, pool: &mut SkbPool, frame: &[u8], status: RxStatus) {
        let Some((first, last)) = self.rx_take(pool, frame) else { return };
        self.rx_writeback(first, last, &status);
        self.hw.rx_ev.add(now, 1);
    }

    /// Copy `bytes` into descriptors from the RX head onward, leaving them
    /// unwritten-back. Returns the first and last used.
    fn rx_take(&mut self, pool: &mut SkbPool, bytes: &[u8]) -> Option<(u16, u16)> {
        let first = self.rx.head;
        let (mut i, mut done, mut last) = (first, 0usize, first);
        let avail = Ring::<RxDesc, RXN>::distance(self.rx.head, self.rx.tail);
        let need = self.descs_for(bytes.len(), first)?;
        if need > avail {
            self.hw.stats.rx_missed += 1;
            return None;
        }
        for _ in 0..need {
            let d = &mut self.rx.desc[usize::from(i)];
            let n = usize::from(d.buf_len).min(bytes.len() - done);
            if let Some(addr) = d.addr {
                if pool.write_at(&addr.skb, addr.offset as usize, &bytes[done..done + n]).is_err() {
                    d.flags |= RX_TRUNCATED;
                }
            } else {
                d.flags |= RX_TRUNCATED;
            }
            d.len = n as u16;
            done += n;
            last = i;
            i = Ring::<RxDesc, RXN>::next(i);
        }
        self.rx.head = i;
        Some((first, last))
    }

    /// Descriptors needed for `len` bytes from `first` (buffers may differ in size).
    fn descs_for(&mut self, len: usize, first: u16) -> Option<usize> {
        let (mut i, mut room, mut n) = (first, 0usize, 0usize);
        while room < len.max(1) {
            if i == self.rx.tail || self.rx.desc[usize::from(i)].flags & OWN == 0 {
                self.hw.stats.rx_missed += 1;
                return None;
            }
            room += usize::from(self.rx.desc[usize::from(i)].buf_len);
            n += 1;
            i = Ring::<RxDesc, RXN>::next(i);
        }
        Some(n)
    }

    fn rx_writeback(&mut self, first: u16, last: u16, status: &RxStatus) {
        let mut i = first;
        loop {
            let d = &mut self.rx.desc[usize::from(i)];
            d.flags = (d.flags & !OWN) | DD | status.flags;
            if i == first {
                d.flags |= SOP;
                d.rsc_segs = status.segs;
                d.rsc_mss = status.mss;
                d.csum_start = status.csum_start;
                d.csum_offset = status.csum_offset;
            }
            if i == last {
                d.flags |= EOP;
                break;
            }
            i = Ring::<RxDesc, RXN>::next(i);
        }
    }

    /// Merge the first `len` bytes of the frame into the open LRO context,
    /// or open one. False when the frame is not LRO material (it is then
    /// written on its own).
    fn lro_try(
        &mut self,
        now: Instant,
        pool: &mut SkbPool,
        frame: &mut LinkFrame<'_>,
        len: usize,
        tcp: Option<&(usize, TcpSeg)>,
        status: u16,
    ) -> bool {
        // The headers stay where they were parsed (a copy of the 96-byte
        // segment per frame cost store-forwarding stalls).
        let Some(&(l3, ref seg)) = tcp else {
            self.lro_flush(now, pool);
            return false;
        };
        if let Some(ctx) = &self.hw.lro {
            let verdict = merge_verdict(&ctx.seg, ctx.next_seq, ctx.last_id, ctx.mss, seg);
            let room = usize::from(ctx.total_len) + usize::from(seg.payload_len) <= usize::from(u16::MAX);
            if verdict != GroVerdict::Flush
                && room
                && ctx.segs < self.cfg.lro_max_segs
                && self.lro_append(pool, &frame.bytes()[..len], l3, seg)
            {
                if verdict == GroVerdict::MergeThenFlush {
                    self.lro_flush(now, pool);
                }
                return true;
            }
            self.lro_flush(now, pool);
        }
        self.lro_open(now, pool, frame, len, l3, status, seg)
    }

    /// Open a context with the frame as its first segment: its headers
    /// become the merged packet's, so its checksum is finished first.
    #[allow(clippy::too_many_arguments)]
    fn lro_open(
        &mut self,
        now: Instant,
        pool: &mut SkbPool,
        frame: &mut LinkFrame<'_>,
        len: usize,
        l3: usize,
        status: u16,
        seg: &TcpSeg,
    ) -> bool {
        if seg.payload_len == 0 || !seg.mergeable_alone() {
            return false;
        }
        // The merged data follows the first segment's IP datagram, so the
        // frame is taken without the Ethernet padding (or any trailer) after
        // it, which would otherwise sit between the payloads.
        let used = l3 + usize::from(seg.ip_total_len);
        if used > len {
            return false;
        }
        frame.finish();
        let Some((first, last)) = self.rx_take(pool, &frame.bytes()[..used]) else { return true };
        let ctx = Lro {
            first,
            last,
            next_seq: seg.seq.wrapping_add(u32::from(seg.payload_len)),
            last_id: seg.ip_id,
            mss: seg.payload_len,
            segs: 1,
            l3: l3 as u16,
            total_len: seg.ip_total_len,
            psh: seg.flags & 0x08 != 0,
            status,
            seg: *seg,
            opened: now,
        };
        self.hw.lro = Some(ctx);
        if seg.flags & 0x08 != 0 {
            self.lro_flush(now, pool);
        }
        true
    }

    /// DMA the payload of the segment in `frame` after the context's last
    /// descriptor, and fix the merged packet's headers in its first buffer.
    fn lro_append(&mut self, pool: &mut SkbPool, frame: &[u8], l3: usize, seg: &TcpSeg) -> bool {
        let Some(ctx) = &self.hw.lro else { return false };
        let payload_at = l3 + usize::from(seg.hdr_len);
        let payload = usize::from(seg.payload_len);
        if Ring::<RxDesc, RXN>::next(ctx.last) != self.rx.head || payload_at + payload > frame.len() {
            return false;
        }
        let Some((_, last)) = self.rx_take(pool, &frame[payload_at..payload_at + payload]) else { return false };
        let Some(ctx) = &mut self.hw.lro else { return false };
        ctx.last = last;
        ctx.segs += 1;
        ctx.next_seq = ctx.next_seq.wrapping_add(u32::from(seg.payload_len));
        ctx.last_id = seg.ip_id;
        ctx.total_len = ctx.total_len.saturating_add(seg.payload_len);
        ctx.psh |= seg.flags & 0x08 != 0;
        self.hw.stats.lro_merged += 1;
        true
    }

    /// Close the LRO context: fix the merged headers and write all its
    /// descriptors back as one packet.
    fn lro_flush(&mut self, now: Instant, pool: &mut SkbPool) {
        let Some(ctx) = self.hw.lro.take() else { return };
        if ctx.segs > 1 {
            self.lro_fix_headers(pool, &ctx);
        }
        let status = match ctx.segs > 1 {
            true => RxStatus { flags: ctx.status | RX_RSC, segs: ctx.segs, mss: ctx.mss, ..RxStatus::default() },
            false => RxStatus { flags: ctx.status, ..RxStatus::default() },
        };
        self.rx_writeback(ctx.first, ctx.last, &status);
        self.hw.rx_ev.add(now, 1);
    }

    /// Patch the first buffer of a merged packet, as a DMA read-modify-write
    /// of its header bytes: IPv4 total length and checksum, TCP PSH if any
    /// segment had it, and the TCP checksum field seeded with the
    /// pseudo-header sum of the merged length (GRO's `CHECKSUM_PARTIAL` form,
    /// so the packet can be segmented again if it is forwarded).
    fn lro_fix_headers(&mut self, pool: &mut SkbPool, ctx: &Lro) {
        let Some(addr) = self.rx.desc[usize::from(ctx.first)].addr else { return };
        let (l3, hdr) = (usize::from(ctx.l3), usize::from(ctx.seg.hdr_len));
        let mut h = [0u8; 120];
        let at = addr.offset as usize + l3;
        if hdr > h.len() || pool.copy_to_slice(&addr.skb, at, &mut h[..hdr]).is_err() {
            return;
        }
        if fix_merged_headers(&mut h[..hdr], ctx.total_len, ctx.psh).is_ok() {
            let _ = pool.write_at(&addr.skb, at, &h[..hdr]);
        }
    }
}

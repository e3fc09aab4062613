//! The packet-trace harness: TCP unit tests written as traces.
//!
//! The test plays the peer. One namespace of a world ("us", 10.0.0.1) sits
//! on a simulated NIC at one end of a link; the test owns the other end
//! (10.0.0.2, known to us as a permanent neighbour, so no ARP). It injects
//! segments at chosen times — built by etherparse, an independent encoder —
//! and reads what our stack put on the wire, decoded by etherparse with
//! both checksums verified:
//!
//! ```text
//! with_trace(TraceConfig::default(), |t| {
//!     let l = t.listen(80);
//!     t.inject(&Pkt::syn(40_000, 80, 1000).mss(1460));
//!     let synack = t.expect_one();
//!     assert!(synack.syn && synack.ack_flag);
//! });
//! ```
//!
//! Time is virtual: [`Trace::inject`] lets the frame cross and be answered
//! (a millisecond at most), and [`Trace::advance`] runs the clock on,
//! firing timers and collecting what they send.

use core::cell::RefCell;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::time::Duration;

use etherparse::{EtherType, Ethernet2Header, IpNumber, Ipv4Header, TcpHeader, TcpOptionElement};
use skbnet::dev::Features;
use skbnet::netns::{NsId, SmallWorldStorage, World};
use skbnet::socket::{Errno, SockId, SockType};
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet_nic_sim::link::{Link, LinkConfig, NoTap, Side};
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::LinkPort;

use crate::net::Mem;

/// Our address.
pub const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The peer's (the test's) address.
pub const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Our MAC address.
pub const US_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// The peer's MAC address.
pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

type TraceLink = Link<256, 1514, NoTap>;
type TraceNic<'l> = SimNic<64, 64, 66_000, LinkPort<'l, 256, 1514, NoTap>>;

/// A segment for the peer to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pkt {
    /// Source port (the peer's).
    pub sport: u16,
    /// Destination port (ours).
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number; `Some` sets the ACK flag.
    pub ack: Option<u32>,
    /// SYN.
    pub syn: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
    /// PSH.
    pub psh: bool,
    /// Window field as sent.
    pub window: u16,
    /// MSS option.
    pub mss: Option<u16>,
    /// Window-scale option.
    pub wscale: Option<u8>,
    /// SACK-permitted option.
    pub sack_perm: bool,
    /// Timestamps option (TSval, TSecr).
    pub ts: Option<(u32, u32)>,
    /// SACK blocks.
    pub sack: Vec<(u32, u32)>,
    /// Payload.
    pub payload: Vec<u8>,
    /// Destination address, when not ours (broadcast tests).
    pub dst: Option<Ipv4Addr>,
    /// Source address, when not the peer's (spoofing tests).
    pub src: Option<Ipv4Addr>,
}

impl Pkt {
    /// A SYN from `sport` to `dport` with sequence number `seq`.
    pub fn syn(sport: u16, dport: u16, seq: u32) -> Pkt {
        Pkt { sport, dport, seq, syn: true, window: 65_535, ..Pkt::default() }
    }

    /// A segment with the ACK flag.
    pub fn ack(sport: u16, dport: u16, seq: u32, ack: u32) -> Pkt {
        Pkt { sport, dport, seq, ack: Some(ack), window: 65_535, ..Pkt::default() }
    }

    /// With this payload (and PSH).
    pub fn data(mut self, payload: &[u8]) -> Pkt {
        self.payload = payload.to_vec();
        self.psh = !payload.is_empty();
        self
    }

    /// With the MSS option.
    pub fn mss(mut self, mss: u16) -> Pkt {
        self.mss = Some(mss);
        self
    }

    /// With the window-scale option.
    pub fn wscale(mut self, shift: u8) -> Pkt {
        self.wscale = Some(shift);
        self
    }

    /// With SACK permitted.
    pub fn sack_perm(mut self) -> Pkt {
        self.sack_perm = true;
        self
    }

    /// With timestamps.
    pub fn ts(mut self, val: u32, ecr: u32) -> Pkt {
        self.ts = Some((val, ecr));
        self
    }

    /// With SACK blocks.
    pub fn sack(mut self, blocks: &[(u32, u32)]) -> Pkt {
        self.sack = blocks.to_vec();
        self
    }

    /// With this window field.
    pub fn win(mut self, window: u16) -> Pkt {
        self.window = window;
        self
    }

    /// With FIN.
    pub fn fin(mut self) -> Pkt {
        self.fin = true;
        self
    }

    /// With RST.
    pub fn rst(mut self) -> Pkt {
        self.rst = true;
        self
    }

    /// The Ethernet frame, checksums filled in by etherparse.
    pub fn frame(&self) -> Vec<u8> {
        let mut tcp = TcpHeader::new(self.sport, self.dport, self.seq, self.window);
        tcp.syn = self.syn;
        tcp.fin = self.fin;
        tcp.rst = self.rst;
        tcp.psh = self.psh;
        if let Some(a) = self.ack {
            tcp.ack = true;
            tcp.acknowledgment_number = a;
        }
        let mut opts = Vec::new();
        if let Some(m) = self.mss {
            opts.push(TcpOptionElement::MaximumSegmentSize(m));
        }
        if self.sack_perm {
            opts.push(TcpOptionElement::Noop);
            opts.push(TcpOptionElement::Noop);
            opts.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
        }
        if let Some((v, e)) = self.ts {
            opts.push(TcpOptionElement::Noop);
            opts.push(TcpOptionElement::Noop);
            opts.push(TcpOptionElement::Timestamp(v, e));
        }
        if let Some(w) = self.wscale {
            opts.push(TcpOptionElement::Noop);
            opts.push(TcpOptionElement::WindowScale(w));
        }
        if let Some((&first, rest)) = self.sack.split_first() {
            let mut more = [None; 3];
            for (m, &b) in more.iter_mut().zip(rest) {
                *m = Some(b);
            }
            opts.push(TcpOptionElement::Noop);
            opts.push(TcpOptionElement::Noop);
            opts.push(TcpOptionElement::SelectiveAcknowledgement(first, more));
        }
        tcp.set_options(&opts).expect("options fit");
        let src = self.src.unwrap_or(PEER);
        let dst = self.dst.unwrap_or(US);
        let l4 = tcp.header_len() + self.payload.len();
        let ip = Ipv4Header::new(l4 as u16, 64, IpNumber::TCP, src.octets(), dst.octets()).expect("ip header");
        tcp.checksum = tcp.calc_checksum_ipv4(&ip, &self.payload).expect("checksum");
        let eth = Ethernet2Header { source: PEER_MAC, destination: US_MAC, ether_type: EtherType::IPV4 };
        let mut out = Vec::new();
        eth.write(&mut out).expect("eth");
        ip.write(&mut out).expect("ip");
        tcp.write(&mut out).expect("tcp");
        out.extend_from_slice(&self.payload);
        out
    }
}

/// A segment our stack sent, as etherparse decoded it.
#[derive(Clone, PartialEq, Eq)]
pub struct Out {
    /// When it reached the peer's end of the link.
    pub at: Instant,
    /// Source port (ours).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful with `ack_flag`).
    pub ack: u32,
    /// ACK flag.
    pub ack_flag: bool,
    /// SYN.
    pub syn: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
    /// PSH.
    pub psh: bool,
    /// Window field as sent.
    pub window: u16,
    /// MSS option.
    pub mss: Option<u16>,
    /// Window-scale option.
    pub wscale: Option<u8>,
    /// SACK-permitted option.
    pub sack_perm: bool,
    /// Timestamps option.
    pub ts: Option<(u32, u32)>,
    /// SACK blocks, in the order sent.
    pub sack: Vec<(u32, u32)>,
    /// Payload.
    pub payload: Vec<u8>,
    /// IPv4 Don't Fragment.
    pub df: bool,
    /// IPv4 TTL.
    pub ttl: u8,
}

impl core::fmt::Debug for Out {
    /// One line, tcpdump-like, with the payload's length only.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{}us {}>{} [{}] seq {} ack {} win {} len {}",
            self.at.micros(),
            self.sport,
            self.dport,
            self.flags(),
            self.seq,
            self.ack,
            self.window,
            self.payload.len()
        )?;
        if let Some(m) = self.mss {
            write!(f, " mss {m}")?;
        }
        if let Some(w) = self.wscale {
            write!(f, " wscale {w}")?;
        }
        if self.sack_perm {
            write!(f, " sackOK")?;
        }
        if let Some((v, e)) = self.ts {
            write!(f, " TS {v}:{e}")?;
        }
        if !self.sack.is_empty() {
            write!(f, " sack {:?}", self.sack)?;
        }
        Ok(())
    }
}

impl Out {
    /// Sequence space it occupies.
    pub fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.syn) + u32::from(self.fin)
    }

    /// `[S]`, `[S.]`, `[.]`, `[P.]`, `[F.]`, `[R]`... as tcpdump shows flags.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        for (on, c) in [(self.syn, 'S'), (self.fin, 'F'), (self.rst, 'R'), (self.psh, 'P'), (self.ack_flag, '.')] {
            if on {
                f.push(c);
            }
        }
        f
    }
}

/// Decode a frame our stack sent, asserting that it is Ethernet/IPv4/TCP
/// with correct checksums and lengths.
pub fn decode(at: Instant, frame: &[u8]) -> Out {
    let (eth, rest) = Ethernet2Header::from_slice(frame).expect("ethernet");
    assert_eq!(eth.ether_type, EtherType::IPV4, "not IPv4: {frame:02x?}");
    assert_eq!(eth.source, US_MAC);
    let (ip, rest) = Ipv4Header::from_slice(rest).expect("ipv4");
    assert_eq!(ip.calc_header_checksum(), ip.header_checksum, "IPv4 header checksum");
    assert_eq!(ip.protocol, IpNumber::TCP, "not TCP");
    let l4 = usize::from(ip.total_len) - ip.header_len();
    assert!(rest.len() >= l4, "frame shorter than the IPv4 total length");
    let (tcp, payload) = TcpHeader::from_slice(&rest[..l4]).expect("tcp");
    let want = tcp.calc_checksum_ipv4(&ip, payload).expect("sum");
    assert!(
        crate::tcp_checksum_matches(want, tcp.checksum),
        "TCP checksum {:#06x}, want {want:#06x}, of {frame:02x?}",
        tcp.checksum
    );
    let mut o = Out {
        at,
        sport: tcp.source_port,
        dport: tcp.destination_port,
        seq: tcp.sequence_number,
        ack: tcp.acknowledgment_number,
        ack_flag: tcp.ack,
        syn: tcp.syn,
        fin: tcp.fin,
        rst: tcp.rst,
        psh: tcp.psh,
        window: tcp.window_size,
        mss: None,
        wscale: None,
        sack_perm: false,
        ts: None,
        sack: Vec::new(),
        payload: payload.to_vec(),
        df: ip.dont_fragment,
        ttl: ip.time_to_live,
    };
    for opt in tcp.options_iterator() {
        match opt.expect("well-formed options") {
            TcpOptionElement::MaximumSegmentSize(m) => o.mss = Some(m),
            TcpOptionElement::WindowScale(w) => o.wscale = Some(w),
            TcpOptionElement::SelectiveAcknowledgementPermitted => o.sack_perm = true,
            TcpOptionElement::Timestamp(v, e) => o.ts = Some((v, e)),
            TcpOptionElement::SelectiveAcknowledgement(first, more) => {
                o.sack.push(first);
                o.sack.extend(more.iter().flatten());
            }
            TcpOptionElement::Noop => {}
        }
    }
    o
}

/// How to build the trace.
#[derive(Clone, Copy, Debug)]
pub struct TraceConfig {
    /// Our NIC's offloads (TSO cuts super-packets on the NIC either way;
    /// without it the stack's software GSO does).
    pub offloads: Features,
    /// Pool buffers.
    pub bufs: usize,
}

impl Default for TraceConfig {
    fn default() -> TraceConfig {
        TraceConfig { offloads: Features::ALL, bufs: 1024 }
    }
}

/// The running trace.
pub struct Trace<'w, 'l> {
    /// The world.
    pub w: World<'w>,
    /// Our namespace.
    pub ns: NsId,
    /// The virtual clock.
    pub now: Instant,
    link: &'l RefCell<TraceLink>,
    seen: Vec<Out>,
}

/// Build the trace, run `f`, then shut the world down and check that the
/// pool is completely free. Runs on a thread with a large stack (the NIC
/// and link are built in place).
pub fn with_trace<R: Send>(cfg: TraceConfig, f: impl FnOnce(&mut Trace<'_, '_>) -> R + Send) -> R {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(s, move || trace_body(cfg, f))
            .expect("thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

fn trace_body<R>(cfg: TraceConfig, f: impl FnOnce(&mut Trace<'_, '_>) -> R) -> R {
    let mut mem = Mem::new(cfg.bufs, 64);
    // No delay, 10 Gb/s: a frame crosses in about a microsecond.
    let link_cfg = LinkConfig { rate_bps: 10_000_000_000, delay: Duration::ZERO, ..LinkConfig::ethernet() };
    let link = Box::new(RefCell::new(TraceLink::new(link_cfg, 1, NoTap)));
    let mut nc = NicConfig::ethernet(MacAddr(US_MAC));
    nc.offloads = cfg.offloads;
    let mut nic = Box::new(TraceNic::new(nc, LinkPort::new(&link, Side::A)));
    let mut ws = Box::new(SmallWorldStorage::new());
    let mut w = World::new(&mut ws, mem.pool(), *b"skbnet-trace-key").expect("world");
    let ns = w.add_netns("us").expect("ns");
    let i = w.add_device(ns, "eth0", &mut *nic).expect("device");
    w.set_link_up(i, true).expect("up");
    w.add_addr(i, US, 24).expect("addr");
    w.add_neigh(i, PEER, MacAddr(PEER_MAC)).expect("neigh");
    let mut t = Trace { w, ns, now: Instant::from_secs(1), link: &link, seen: Vec::new() };
    t.w.poll(t.now);
    let r = f(&mut t);
    t.w.shutdown();
    let st = t.w.pool_ref().stats();
    assert!(st.is_idle(), "pool not free at the end: {st:?}");
    assert_eq!(st.bad_handles, 0, "stale handles used");
    r
}

impl Trace<'_, '_> {
    /// The peer sends `p` now; the world runs until the frame has arrived
    /// and everything it caused immediately has gone out (up to 1 ms).
    pub fn inject(&mut self, p: &Pkt) {
        self.inject_frame(&p.frame());
    }

    /// The peer sends all of `ps` back to back, so they arrive in one
    /// burst (one NAPI poll, where GRO merges what it can).
    pub fn inject_many(&mut self, ps: &[Pkt]) {
        for p in ps {
            self.link.borrow_mut().send(self.now, Side::B, &p.frame());
        }
        self.settle();
    }

    /// Inject raw bytes as a frame from the peer.
    pub fn inject_frame(&mut self, frame: &[u8]) {
        self.link.borrow_mut().send(self.now, Side::B, frame);
        self.settle();
    }

    /// Run for at most 1 ms of virtual time, while frames are crossing.
    fn settle(&mut self) {
        let end = self.now + Duration::from_millis(1);
        self.run_until(end, true);
    }

    /// Poll from now to `end`, jumping between deadlines; with `quiet`,
    /// stop early once nothing is due before `end` on the link or in the
    /// world's devices (timers beyond `end` wait).
    fn run_until(&mut self, end: Instant, quiet: bool) {
        // Bounded: each pass moves the clock forward at least 1 us.
        for _ in 0..1_000_000 {
            self.poll();
            let next = [self.w.poll_at(), self.link.borrow().poll_at()].into_iter().flatten().min();
            match next {
                Some(n) if n <= end => self.now = n.max(self.now + Duration::from_micros(1)),
                _ if quiet => return,
                _ => {
                    self.now = end;
                    self.poll();
                    return;
                }
            }
            if self.now >= end {
                self.poll();
                return;
            }
        }
    }

    /// Poll once and take what reached the peer, stamped with the time.
    fn poll(&mut self) {
        self.w.poll(self.now);
        let mut buf = [0u8; 1514];
        let mut link = self.link.borrow_mut();
        while let Some(n) = link.recv(self.now, Side::B, &mut buf) {
            self.seen.push(decode(self.now, &buf[..n]));
        }
    }

    /// Let `d` of virtual time pass (timers fire).
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        self.run_until(end, false);
    }

    /// Everything our stack sent that reached the peer, oldest first
    /// (after letting what is on its way arrive, up to 1 ms).
    pub fn out(&mut self) -> Vec<Out> {
        self.settle();
        core::mem::take(&mut self.seen)
    }

    /// Exactly one segment went out; return it.
    #[track_caller]
    pub fn expect_one(&mut self) -> Out {
        let mut v = self.out();
        assert_eq!(v.len(), 1, "expected one segment, got {}: {v:#?}", v.len());
        v.remove(0)
    }

    /// Nothing went out.
    #[track_caller]
    pub fn expect_none(&mut self) {
        let v = self.out();
        assert!(v.is_empty(), "expected silence, got {v:#?}");
    }

    /// A listening socket on `port` (backlog 16).
    pub fn listen(&mut self, port: u16) -> SockId {
        self.listen_backlog(port, 16)
    }

    /// A listening socket on `port` with `backlog`.
    pub fn listen_backlog(&mut self, port: u16, backlog: u16) -> SockId {
        let l = self.w.socket(self.ns, SockType::Tcp).expect("socket");
        self.w.bind(l, SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))).expect("bind");
        self.w.listen(l, backlog).expect("listen");
        l
    }

    /// A socket connecting to the peer's `port`; returns it and its SYN.
    pub fn connect(&mut self, port: u16) -> (SockId, Out) {
        let s = self.w.socket(self.ns, SockType::Tcp).expect("socket");
        assert_eq!(self.w.connect(s, SocketAddr::V4(SocketAddrV4::new(PEER, port))), Err(Errno::InProgress));
        self.settle();
        let syn = self.expect_one();
        assert!(syn.syn && !syn.ack_flag, "{syn:?}");
        (s, syn)
    }

    /// The link's counters: frames from us, and from the peer.
    pub fn link_stats(&self) -> (skbnet_nic_sim::link::LinkStats, skbnet_nic_sim::link::LinkStats) {
        let l = self.link.borrow();
        (l.stats(Side::A), l.stats(Side::B))
    }

    /// Handshakes in progress in our namespace.
    pub fn tcp_requests(&self) -> u32 {
        self.w.tcp_sockstat(self.ns).syn_recv
    }

    /// The namespace's counters.
    pub fn stats(&self) -> skbnet::stats::NetStats {
        *self.w.stats(self.ns).expect("ns")
    }

    /// A connection accepted by a listener on `port`: the peer sends SYN
    /// (`opts` sets its options; its ISN is `irs`), we answer SYN-ACK, the
    /// peer ACKs, and `accept` hands out the socket.
    pub fn passive_open(&mut self, port: u16, opts: impl Fn(Pkt) -> Pkt, irs: u32) -> Flow {
        let l = self.listen(port);
        let peer_port = 40_000;
        self.inject(&opts(Pkt::syn(peer_port, port, irs)));
        let synack = self.expect_one();
        assert!(synack.syn && synack.ack_flag && synack.ack == irs.wrapping_add(1), "{synack:?}");
        let mut f = Flow::new(port, peer_port, synack.seq.wrapping_add(1), irs.wrapping_add(1), &synack);
        f.listener = Some(l);
        self.inject(&f.pkt());
        self.expect_none();
        let (s, peer) = self.w.accept(l).expect("accepted");
        assert_eq!(peer, SocketAddrV4::new(PEER, peer_port));
        f.sock = s;
        f
    }

    /// A connection we open: `connect` sends SYN, the peer answers SYN-ACK
    /// (options by `opts`, ISN `irs`), we ACK.
    pub fn active_open(&mut self, port: u16, opts: impl Fn(Pkt) -> Pkt, irs: u32) -> Flow {
        let (s, syn) = self.connect(port);
        let mut synack = opts(Pkt::syn(port, syn.sport, irs));
        synack.ack = Some(syn.seq.wrapping_add(1));
        if let (Some((v, _)), Some((ours, _))) = (synack.ts, syn.ts) {
            synack.ts = Some((v, ours));
        }
        self.inject(&synack);
        let ack = self.expect_one();
        assert!(ack.ack_flag && !ack.syn && ack.ack == irs.wrapping_add(1), "{ack:?}");
        let mut f = Flow::new(syn.sport, port, syn.seq.wrapping_add(1), irs.wrapping_add(1), &ack);
        f.ts = synack.ts.map(|(v, _)| v);
        f.sock = s;
        f
    }
}

/// One connection between us and the peer, with the peer's side of the
/// sequence space, to build its segments.
#[derive(Clone, Debug)]
pub struct Flow {
    /// Our socket.
    pub sock: SockId,
    /// The listener that accepted it, if any.
    pub listener: Option<SockId>,
    /// Our port.
    pub our_port: u16,
    /// The peer's port.
    pub peer_port: u16,
    /// The next sequence number we will send (what the peer ACKs).
    pub our_nxt: u32,
    /// The peer's next sequence number.
    pub peer_nxt: u32,
    /// The peer's TSval, when timestamps are on (it echoes our latest).
    pub ts: Option<u32>,
    /// Our latest TSval seen.
    pub our_ts: u32,
    /// The peer's window field.
    pub window: u16,
}

impl Flow {
    /// A flow between our `our_port` and the peer's `peer_port`, with the
    /// next sequence numbers of each side and no timestamps.
    pub fn for_test(our_port: u16, peer_port: u16, our_nxt: u32, peer_nxt: u32) -> Flow {
        Flow {
            sock: SockId::NONE,
            listener: None,
            our_port,
            peer_port,
            our_nxt,
            peer_nxt,
            ts: None,
            our_ts: 0,
            window: 65_535,
        }
    }

    fn new(our_port: u16, peer_port: u16, our_nxt: u32, peer_nxt: u32, last: &Out) -> Flow {
        Flow {
            sock: SockId::NONE,
            listener: None,
            our_port,
            peer_port,
            our_nxt,
            peer_nxt,
            ts: last.ts.map(|_| 100),
            our_ts: last.ts.map_or(0, |t| t.0),
            window: 65_535,
        }
    }

    /// A bare ACK of everything we sent, at the peer's next sequence
    /// number, with timestamps when they are on.
    pub fn pkt(&self) -> Pkt {
        let mut p = Pkt::ack(self.peer_port, self.our_port, self.peer_nxt, self.our_nxt).win(self.window);
        if let Some(v) = self.ts {
            p = p.ts(v, self.our_ts);
        }
        p
    }

    /// The peer sends `data` (advancing its sequence number).
    pub fn data(&mut self, data: &[u8]) -> Pkt {
        let p = self.pkt().data(data);
        self.peer_nxt = self.peer_nxt.wrapping_add(data.len() as u32);
        p
    }

    /// Take note of what we sent: the timestamp to echo.
    pub fn saw(&mut self, o: &Out) {
        if let Some((v, _)) = o.ts {
            self.our_ts = v;
        }
    }

    /// Advance the peer's clock (its TSval).
    pub fn tick(&mut self, by: u32) {
        if let Some(v) = self.ts.as_mut() {
            *v = v.wrapping_add(by);
        }
    }
}

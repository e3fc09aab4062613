//! Helpers shared by the device-layer tests: frame builders (etherparse, an
//! independent implementation, writes them), frame checkers, a pool, and a
//! pair of simulated NICs on a link.
#![allow(dead_code)]

use std::cell::RefCell;

use etherparse::{EtherType, Ethernet2Header, IpNumber, Ipv4Header, TcpHeader};
use skbnet::dev::{NetDevice, TxBusy};
use skbnet::skb::{BufInfo, Checksum, Gso, GsoType, Head, OwnerId, OwnerSlot, PoolParts, SkBuff, SkbPool, SkbQueue};
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet::wire::checksum::pseudo_header_v4;
use skbnet_nic_sim::link::{Link, LinkConfig, NoTap, Side, Tap};
use skbnet_nic_sim::nic::{NicConfig, SimNic};
use skbnet_nic_sim::port::LinkPort;

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
pub const IP_A: [u8; 4] = [10, 0, 0, 1];
pub const IP_B: [u8; 4] = [10, 0, 0, 2];

/// Pool memory on the heap (a 2 MiB `PoolStorage` would not fit on a test
/// thread's stack while it is built): 2048 heads, 1024 buffers of 2048 bytes.
pub struct Mem {
    heads: Vec<Head>,
    info: Vec<BufInfo>,
    data: Vec<u8>,
    owners: Vec<OwnerSlot>,
}

impl Mem {
    pub fn pool(&mut self) -> SkbPool<'_> {
        SkbPool::from_parts(PoolParts {
            heads: &mut self.heads,
            info: &mut self.info,
            data: &mut self.data,
            owners: &mut self.owners,
            buf_size: 2048,
        })
        .unwrap()
    }
}

pub fn storage() -> Mem {
    Mem {
        heads: vec![Head::EMPTY; 2048],
        info: vec![BufInfo::EMPTY; 1024],
        data: vec![0; 1024 * 2048],
        owners: vec![OwnerSlot::EMPTY; 64],
    }
}

/// A TCP segment's header fields, for building frames.
#[derive(Clone, Debug)]
pub struct Seg {
    pub seq: u32,
    pub ack: u32,
    pub fin: bool,
    pub syn: bool,
    pub rst: bool,
    pub psh: bool,
    pub urg: bool,
    pub ece: bool,
    pub cwr: bool,
    pub window: u16,
    pub ip_id: u16,
    pub df: bool,
    pub ttl: u8,
    pub tos: u8,
    /// TCP timestamps option (`nop, nop, TS`), Linux's data-segment layout.
    pub ts: Option<(u32, u32)>,
    pub ip_options: bool,
    pub more_frags: bool,
    pub sport: u16,
    pub dport: u16,
}

impl Default for Seg {
    fn default() -> Seg {
        Seg {
            seq: 1000,
            ack: 5000,
            fin: false,
            syn: false,
            rst: false,
            psh: false,
            urg: false,
            ece: false,
            cwr: false,
            window: 502,
            ip_id: 100,
            df: true,
            ttl: 64,
            tos: 0,
            ts: Some((7, 3)),
            ip_options: false,
            more_frags: false,
            sport: 40_000,
            dport: 5201,
        }
    }
}

fn headers(s: &Seg, payload_len: usize) -> (Ethernet2Header, Ipv4Header, TcpHeader) {
    let eth = Ethernet2Header { source: MAC_A, destination: MAC_B, ether_type: EtherType::IPV4 };
    let mut tcp = TcpHeader::new(s.sport, s.dport, s.seq, s.window);
    tcp.acknowledgment_number = s.ack;
    tcp.ack = true;
    (tcp.fin, tcp.syn, tcp.rst, tcp.psh, tcp.urg, tcp.ece, tcp.cwr) = (s.fin, s.syn, s.rst, s.psh, s.urg, s.ece, s.cwr);
    if let Some((val, ecr)) = s.ts {
        let mut o = vec![1u8, 1, 8, 10];
        o.extend_from_slice(&val.to_be_bytes());
        o.extend_from_slice(&ecr.to_be_bytes());
        tcp.set_options_raw(&o).unwrap();
    }
    let l4 = tcp.header_len() + payload_len;
    let mut ip = Ipv4Header::new(l4 as u16, s.ttl, IpNumber::TCP, IP_A, IP_B).unwrap();
    ip.identification = s.ip_id;
    ip.dont_fragment = s.df;
    ip.more_fragments = s.more_frags;
    ip.dscp = etherparse::IpDscp::try_new(s.tos >> 2).unwrap();
    if s.ip_options {
        // Router alert (RFC 2113) padded to a word.
        ip.options = [0x94u8, 0x04, 0, 0][..].try_into().unwrap();
    }
    ip.total_len = (ip.header_len() + l4) as u16;
    ip.header_checksum = ip.calc_header_checksum();
    (eth, ip, tcp)
}

/// A complete Ethernet/IPv4/TCP frame with valid checksums.
pub fn tcp_frame(s: &Seg, payload: &[u8]) -> Vec<u8> {
    let (eth, ip, mut tcp) = headers(s, payload.len());
    tcp.checksum = tcp.calc_checksum_ipv4(&ip, payload).unwrap();
    let mut out = Vec::new();
    eth.write(&mut out).unwrap();
    ip.write(&mut out).unwrap();
    tcp.write(&mut out).unwrap();
    out.extend_from_slice(payload);
    out
}

/// A received frame as an independent parser sees it, after checking both
/// checksums and every length.
pub struct Parsed {
    pub ip: Ipv4Header,
    pub tcp: TcpHeader,
    pub payload: Vec<u8>,
}

pub fn parse_valid(frame: &[u8]) -> Parsed {
    let (eth, rest) = Ethernet2Header::from_slice(frame).unwrap();
    assert_eq!(eth.ether_type, EtherType::IPV4);
    let (ip, rest) = Ipv4Header::from_slice(rest).unwrap();
    assert_eq!(ip.calc_header_checksum(), ip.header_checksum, "IPv4 header checksum");
    let l4_len = usize::from(ip.total_len) - ip.header_len();
    assert!(rest.len() >= l4_len, "frame shorter than its IPv4 total length");
    let (tcp, payload) = TcpHeader::from_slice(&rest[..l4_len]).unwrap();
    let want = tcp.calc_checksum_ipv4(&ip, payload).unwrap();
    assert!(
        skbnet_tests::tcp_checksum_matches(want, tcp.checksum),
        "TCP checksum {:#06x}, want {want:#06x}",
        tcp.checksum
    );
    Parsed { ip, tcp, payload: payload.to_vec() }
}

/// A TCP super-packet in the pool, as TCP hands it to IP output with GSO:
/// headers linear, payload chained, checksum `CHECKSUM_PARTIAL`.
pub fn super_packet(pool: &mut SkbPool, s: &Seg, payload: &[u8], mss: u16) -> SkBuff {
    let (eth, ip, mut tcp) = headers(s, payload.len());
    tcp.checksum = pseudo_header_v4(
        IP_A.into(),
        IP_B.into(),
        skbnet::wire::IpProtocol::TCP,
        (tcp.header_len() + payload.len()) as u16,
    )
    .fold();
    let mut hdr = Vec::new();
    eth.write(&mut hdr).unwrap();
    ip.write(&mut hdr).unwrap();
    tcp.write(&mut hdr).unwrap();
    let skb = pool.alloc_with_headroom(OwnerId::SYSTEM, 128).unwrap();
    pool.put_slice(&skb, &hdr).unwrap();
    assert_eq!(pool.append(&skb, payload).unwrap(), payload.len());
    let data = pool.data_offset(&skb);
    let l4 = 14 + ip.header_len() as u16;
    let m = pool.meta_mut(&skb).unwrap();
    m.mac_header = data;
    m.network_header = data + 14;
    m.transport_header = data + l4;
    m.csum = Checksum::Partial { start: data + l4, offset: 16 };
    m.gso = Gso { size: mss, segs: payload.len().div_ceil(usize::from(mss)) as u16, kind: GsoType::TcpV4, ecn: false };
    skb
}

/// A frame as a received packet would arrive from a device.
pub fn rx_skb(pool: &mut SkbPool, frame: &[u8]) -> SkBuff {
    let skb = pool.alloc_with_headroom(OwnerId::SYSTEM, 64).unwrap();
    pool.put_slice(&skb, frame).unwrap();
    skb
}

/// Every byte of a packet.
pub fn bytes(pool: &SkbPool, skb: &impl skbnet::skb::SkbId) -> Vec<u8> {
    pool.chunks(skb).flatten().copied().collect()
}

pub fn payload_of(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt)).collect()
}

/// A test link: 512 frames in flight, Ethernet-sized.
pub type TestLink<T = NoTap> = Link<512, 1514, T>;

/// A simulated NIC big enough for 64 KiB TSO packets, cabled to a test link.
pub type Nic<'l, T = NoTap> = SimNic<64, 64, 66_000, LinkPort<'l, 512, 1514, T>>;

pub fn nic<'l, T: Tap>(
    mac: [u8; 6],
    link: &'l RefCell<TestLink<T>>,
    side: Side,
    f: impl FnOnce(&mut NicConfig),
) -> Box<Nic<'l, T>> {
    let mut cfg = NicConfig::ethernet(MacAddr(mac));
    f(&mut cfg);
    Box::new(Nic::new(cfg, LinkPort::new(link, side)))
}

/// A recording tap.
#[derive(Default)]
pub struct Rec(pub Vec<(Instant, Side, Vec<u8>)>);

impl Tap for Rec {
    fn capture(&mut self, now: Instant, from: Side, frame: &[u8]) {
        self.0.push((now, from, frame.to_vec()));
    }
}

pub fn link<T: Tap>(tap: T) -> Box<RefCell<TestLink<T>>> {
    link_with(LinkConfig::ethernet(), 1, tap)
}

/// A test link with `cfg` and faults drawn from `seed`.
#[inline(never)]
pub fn link_with<T: Tap>(cfg: LinkConfig, seed: u64, tap: T) -> Box<RefCell<TestLink<T>>> {
    Box::new(RefCell::new(TestLink::new(cfg, seed, tap)))
}

/// Run both NICs' hardware at `now`.
pub fn run_hw<T: Tap>(pool: &mut SkbPool, a: &mut Nic<'_, T>, b: &mut Nic<'_, T>, now: Instant) {
    a.run_hardware(now, pool);
    b.run_hardware(now, pool);
}

/// Transmit, keeping what the device refuses; returns the refused packet.
pub fn send<T: Tap>(pool: &mut SkbPool, nic: &mut Nic<'_, T>, skb: SkBuff) -> Option<SkBuff> {
    match nic.transmit(pool, Instant::ZERO, skb) {
        Ok(()) => None,
        Err(TxBusy(skb)) => Some(skb),
    }
}

/// Send every frame from `a`, running both NICs' hardware, reclaiming
/// completions whenever `a` pushes back (ring or byte-queue limit full) and
/// polling `b`, as a stack would. Nothing is lost: every refused packet is
/// offered again. Returns what `b` received meanwhile.
pub fn send_frames<T: Tap>(pool: &mut SkbPool, a: &mut Nic<'_, T>, b: &mut Nic<'_, T>, frames: &[Vec<u8>]) -> SkbQueue {
    let mut got = SkbQueue::new();
    let step = |pool: &mut SkbPool, a: &mut Nic<'_, T>, b: &mut Nic<'_, T>, got: &mut SkbQueue| {
        run_hw(pool, a, b, Instant::ZERO);
        a.reclaim_tx(pool, Instant::ZERO);
        let mut q = poll_all(pool, b);
        got.splice_back(pool, &mut q);
    };
    for f in frames {
        let mut skb = rx_skb(pool, f);
        while let Some(back) = send(pool, a, skb) {
            step(pool, a, b, &mut got);
            skb = back;
        }
    }
    step(pool, a, b, &mut got);
    got
}

/// Poll everything `nic` has received.
pub fn poll_all<T: Tap>(pool: &mut SkbPool, nic: &mut Nic<'_, T>) -> SkbQueue {
    let mut q = SkbQueue::new();
    while nic.poll_rx(pool, Instant::ZERO, 64, &mut q) == 64 {}
    q
}

/// Take each packet of a queue as bytes, freeing it.
pub fn drain_bytes(pool: &mut SkbPool, q: &mut SkbQueue) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(skb) = q.pop_front(pool) {
        out.push(bytes(pool, &skb));
        pool.free(skb);
    }
    out
}

/// The path of an external tool, or `None` with the reason printed. Under
/// `CI=true` a missing tool is a failure, never a skip.
pub fn tool_or_skip(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{name} is required under CI=true but is not installed");
        println!("SKIP: {name} is not installed (apt-get install {name}); this check runs in CI");
    }
    found
}

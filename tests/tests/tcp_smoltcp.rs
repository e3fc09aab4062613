//! TCP interop with smoltcp, an independent stack, over a nic-sim link:
//! skbnet as client with a smoltcp server, and smoltcp as client with an
//! skbnet server. In each pairing 64 MiB cross each way at once, the SHA-256
//! of what each side received equals that of what the other sent, and both
//! directions close with a FIN. skbnet runs with TSO and LRO in its NIC,
//! with GSO and GRO in software, and with neither (no NIC offload at all,
//! software GRO off), so every segmentation and merging path meets a peer
//! that knows nothing of them.

use std::time::Duration;

use etherparse::{SlicedPacket, TransportSlice};
use sha2::{Digest, Sha256};
use skbnet::dev::Features;
use skbnet::netns::World;
use skbnet::socket::{Errno, SockId, SockType};
use skbnet::tcp::{Shutdown, TcpState};
use skbnet_nic_sim::link::{LinkConfig, Side};
use skbnet_tests::net::{A_IP, B_IP, sa};
use skbnet_tests::smol::{SmolHost, SmolPair, SmolPairConfig, SmolTcpConfig, with_smol_pair};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;

/// Bytes each way.
const TOTAL: usize = 64 << 20;
/// The sources make their bytes in chunks of this size.
const CHUNK: usize = 64 << 10;
/// The server's port.
const PORT: u16 = 6000;

/// A deterministic byte stream of `total` bytes, hashed as the socket
/// takes it.
struct Source {
    total: usize,
    x: u64,
    buf: Vec<u8>,
    off: usize,
    taken: usize,
    hash: Sha256,
}

impl Source {
    fn new(salt: u64, total: usize) -> Source {
        Source {
            total,
            x: salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            buf: Vec::new(),
            off: 0,
            taken: 0,
            hash: Sha256::new(),
        }
    }

    /// What waits to be sent (empty once everything was taken).
    fn pending(&mut self) -> &[u8] {
        if self.off == self.buf.len() && self.taken < self.total {
            self.buf.clear();
            self.buf.extend((0..CHUNK / 8).flat_map(|_| {
                self.x ^= self.x << 13;
                self.x ^= self.x >> 7;
                self.x ^= self.x << 17;
                self.x.to_le_bytes()
            }));
            self.buf.truncate(self.total - self.taken);
            self.off = 0;
        }
        &self.buf[self.off..]
    }

    /// The socket took `n` bytes of [`Source::pending`].
    fn take(&mut self, n: usize) {
        self.hash.update(&self.buf[self.off..self.off + n]);
        self.off += n;
        self.taken += n;
    }

    fn done(&self) -> bool {
        self.taken == self.total
    }
}

/// What one side received.
struct Sink {
    got: usize,
    hash: Sha256,
    eof: bool,
}

impl Sink {
    fn new() -> Sink {
        Sink { got: 0, hash: Sha256::new(), eof: false }
    }

    fn put(&mut self, b: &[u8]) {
        self.got += b.len();
        self.hash.update(b);
    }
}

/// One end of the connection: what it sends, what it got, whether it shut
/// down its sending side.
struct End {
    src: Source,
    sink: Sink,
    shut: bool,
}

impl End {
    fn new(salt: u64, total: usize) -> End {
        End { src: Source::new(salt, total), sink: Sink::new(), shut: false }
    }

    fn finished(&self) -> bool {
        self.src.done() && self.shut && self.sink.eof
    }
}

/// Move bytes through skbnet's socket `id`: send what fits, shut down the
/// sending side after the last byte, read everything there is.
fn pump_skbnet(w: &mut World<'_>, id: SockId, e: &mut End, buf: &mut [u8]) {
    while !e.src.done() {
        match w.sendmsg(id, e.src.pending(), None) {
            Ok(n) => e.src.take(n),
            Err(Errno::WouldBlock) => break,
            Err(err) => panic!("skbnet send: {err:?}"),
        }
    }
    if e.src.done() && !e.shut {
        w.shutdown_socket(id, Shutdown::Write).expect("shutdown");
        e.shut = true;
    }
    while !e.sink.eof {
        match w.recvmsg(id, buf) {
            Ok(m) if m.len == 0 => e.sink.eof = true,
            Ok(m) => e.sink.put(&buf[..m.len]),
            Err(Errno::WouldBlock) => break,
            Err(err) => panic!("skbnet recv: {err:?}"),
        }
    }
}

/// The same through smoltcp's socket `h` (`close` sends its FIN).
fn pump_smoltcp(smol: &mut SmolHost<'_>, h: SocketHandle, e: &mut End, buf: &mut [u8]) {
    let s = smol.tcp(h);
    while !e.src.done() && s.can_send() {
        let n = s.send_slice(e.src.pending()).expect("smoltcp send");
        if n == 0 {
            break;
        }
        e.src.take(n);
    }
    if e.src.done() && !e.shut {
        s.close();
        e.shut = true;
    }
    while !e.sink.eof {
        match s.recv_slice(buf) {
            Ok(0) => break,
            Ok(n) => e.sink.put(&buf[..n]),
            Err(tcp::RecvError::Finished) => e.sink.eof = true,
            Err(err) => panic!("smoltcp recv: {err:?}"),
        }
    }
}

/// Who opens the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    Skbnet,
    Smoltcp,
}

/// What skbnet's NIC and stack do for segmentation and merging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Offloads {
    /// Every NIC offload: TSO and LRO in the device.
    Nic,
    /// Checksums in the NIC, GSO and GRO in software.
    Software,
    /// Nothing: no NIC offload at all, software GRO turned off.
    Off,
}

impl Offloads {
    fn features(self) -> Features {
        match self {
            Offloads::Nic => Features::ALL,
            Offloads::Software => Features { tso: None, lro: false, ..Features::ALL },
            Offloads::Off => Features::NONE,
        }
    }
}

/// ARP frames smoltcp sends: its reply to skbnet's request, or its own
/// request (skbnet learns smoltcp's address from it and asks nothing).
const SMOL_ARP_FRAMES: u64 = 1;

/// TCP flags of the frames the capture holds, per side: (FINs, RSTs).
fn fins_and_rsts(p: &SmolPair<'_, '_>, side: Side) -> (usize, usize) {
    let link = p.link.borrow();
    let mut fin_rst = (0, 0);
    for (_, from, f) in &link.tap().frames {
        if *from != side {
            continue;
        }
        let Ok(pkt) = SlicedPacket::from_ethernet(f) else { continue };
        if let Some(TransportSlice::Tcp(t)) = pkt.transport {
            fin_rst.0 += usize::from(t.fin());
            fin_rst.1 += usize::from(t.rst());
        }
    }
    fin_rst
}

/// Open the connection with `client` on the active side: skbnet's socket
/// and, when skbnet is the server, its listener.
fn open(p: &mut SmolPair<'_, '_>, client: Client, h: SocketHandle) -> (SockId, Option<SockId>) {
    let (ours, listener) = match client {
        Client::Skbnet => {
            p.smol.tcp(h).listen(PORT).expect("smoltcp listen");
            let c = p.w.socket(p.ns, SockType::Tcp).expect("socket");
            assert_eq!(p.w.connect(c, sa(B_IP, PORT)), Err(Errno::InProgress));
            (c, None)
        }
        Client::Smoltcp => {
            let l = p.w.socket(p.ns, SockType::Tcp).expect("socket");
            p.w.bind(l, sa(A_IP, PORT)).expect("bind");
            p.w.listen(l, 4).expect("listen");
            p.smol.connect(h, (A_IP, PORT), 49_152);
            let mut child = None;
            let accepted = p.run(Duration::from_secs(10), |w, _, _| {
                child = child.or_else(|| w.accept(l).ok().map(|(s, _)| s));
                child.is_some()
            });
            assert!(accepted, "skbnet did not accept");
            (child.expect("accepted"), Some(l))
        }
    };
    let up = p.run(Duration::from_secs(10), |w, smol, _| {
        w.events(ours).is_ok_and(|e| e.writable) && smol.tcp(h).state() == tcp::State::Established
    });
    assert!(up, "handshake did not complete");
    (ours, listener)
}

/// Move `total` bytes each way at once, each side shutting down its
/// sending direction after its last byte, until both saw the other's FIN;
/// compare the SHA-256 of the bytes. The end of it is captured from the
/// moment the first side has handed over all its bytes.
fn transfer(p: &mut SmolPair<'_, '_>, ours: SockId, h: SocketHandle, total: usize) {
    let (mut us, mut them) = (End::new(1, total), End::new(2, total));
    let mut buf = vec![0u8; 64 << 10];
    let link = p.link;
    let ok = p.run(Duration::from_secs(600), |w, smol, _| {
        pump_skbnet(w, ours, &mut us, &mut buf);
        pump_smoltcp(smol, h, &mut them, &mut buf);
        if us.src.done() || them.src.done() {
            link.borrow_mut().tap_mut().on = true;
        }
        us.finished() && them.finished()
    });
    let (got, sent) = ((us.sink.got, them.sink.got), (us.src.taken, them.src.taken));
    assert!(ok, "transfer stalled at {:?}: got {got:?} (skbnet, smoltcp), sent {sent:?}", p.now);
    assert_eq!(got, (total, total));
    let digest = |h: &Sha256| h.clone().finalize();
    assert_eq!(digest(&us.sink.hash), digest(&them.src.hash), "smoltcp to skbnet: bytes differ");
    assert_eq!(digest(&them.sink.hash), digest(&us.src.hash), "skbnet to smoltcp: bytes differ");
}

/// Both FINs are acknowledged: skbnet's connection is over (in TIME-WAIT's
/// compact table or closed), smoltcp's too; neither side sent a reset, and
/// on a clean link each sent its FIN once.
fn check_closed(p: &mut SmolPair<'_, '_>, ours: SockId, h: SocketHandle, clean: bool) {
    let closed = p.run(Duration::from_secs(120), |w, smol, _| {
        w.tcp_info(ours).is_ok_and(|i| i.state == TcpState::Closed)
            && matches!(smol.tcp(h).state(), tcp::State::TimeWait | tcp::State::Closed)
    });
    let states = (p.w.tcp_info(ours).map(|i| i.state), p.smol.tcp(h).state());
    assert!(closed, "close did not finish: (skbnet, smoltcp) {states:?}");
    for (side, who) in [(Side::A, "skbnet"), (Side::B, "smoltcp")] {
        let (fins, rsts) = fins_and_rsts(p, side);
        assert_eq!(rsts, 0, "{who} sends no reset");
        assert!(fins >= 1, "{who} sends its FIN");
        assert!(!clean || fins == 1, "{who} sends its FIN once, not {fins} times");
    }
}

/// skbnet's counters after a clean exchange, and proof that the offloads
/// were used or not.
fn check_counters(p: &mut SmolPair<'_, '_>, client: Client, offloads: Offloads) {
    let st = p.w.stats(p.ns).expect("stats");
    let (tcp, ext) = (st.tcp, st.tcp_ext);
    match client {
        Client::Skbnet => assert_eq!((tcp.ActiveOpens, tcp.PassiveOpens), (1, 0)),
        Client::Smoltcp => assert_eq!((tcp.ActiveOpens, tcp.PassiveOpens), (0, 1)),
    }
    assert_eq!((tcp.RetransSegs, ext.TCPTimeouts), (0, 0), "no retransmission on a clean link");
    assert_eq!((tcp.AttemptFails, tcp.EstabResets, tcp.OutRsts), (0, 0, 0));
    assert_eq!((tcp.InErrs, tcp.InCsumErrors, tcp.CurrEstab), (0, 0, 0));
    let drops: Vec<_> = st.drops.iter().filter(|d| d.1 > 0).collect();
    assert!(drops.is_empty(), "nothing dropped: {drops:?}");
    // Every segment smoltcp sent arrived and was counted once, merged or not.
    let (to_smol, from_smol) = (p.link.borrow().stats(Side::A), p.link.borrow().stats(Side::B));
    assert_eq!(from_smol.lost + from_smol.queue_drops, 0);
    assert_eq!(tcp.InSegs, from_smol.delivered - SMOL_ARP_FRAMES, "InSegs counts merged segments one by one");
    let eth0 = p.w.iface_by_name(p.ns, "eth0").expect("eth0");
    let dev = p.w.device_stats(eth0).expect("device stats");
    let gro = p.w.gro_stats(eth0).expect("gro stats");
    // With TSO the NIC repeats a super-packet's headers on every frame, so
    // the wire carries more bytes than the stack handed over.
    let tso = dev.tx_bytes + to_smol.delivered_bytes / 50 < to_smol.delivered_bytes;
    let lro = dev.rx_packets * 4 < from_smol.delivered;
    match offloads {
        Offloads::Nic => assert_eq!((tso, lro, gro.merged), (true, true, 0), "TSO and LRO, no software GRO"),
        Offloads::Software => {
            assert_eq!((tso, lro), (false, false));
            assert!(gro.merged * 2 > from_smol.delivered, "software GRO merged {} segments", gro.merged);
        }
        Offloads::Off => {
            assert_eq!((dev.tx_bytes, dev.rx_packets), (to_smol.delivered_bytes, from_smol.delivered));
            assert_eq!(gro.merged, 0, "GRO off");
        }
    }
}

/// skbnet (10.0.0.1) and smoltcp (10.0.0.2), `client` on the active side:
/// open, move 64 MiB each way at once, close both directions, check.
fn exchange(client: Client, offloads: Offloads, smol_cfg: SmolTcpConfig) {
    let cfg = SmolPairConfig { offloads: offloads.features(), ..SmolPairConfig::default() };
    with_smol_pair(cfg, |p| {
        if offloads == Offloads::Off {
            let eth0 = p.w.iface_by_name(p.ns, "eth0").expect("eth0");
            p.w.set_gro(eth0, false).expect("gro off");
        }
        let h = p.smol.tcp_socket(smol_cfg);
        let (ours, listener) = open(p, client, h);
        transfer(p, ours, h, TOTAL);
        check_closed(p, ours, h, true);
        check_counters(p, client, offloads);
        p.w.close(ours).expect("close");
        if let Some(l) = listener {
            p.w.close(l).expect("close listener");
        }
    });
}

/// Bytes each way over a lossy link.
const LOSSY_TOTAL: usize = 4 << 20;

/// The same exchange, `LOSSY_TOTAL` bytes each way, over a link that loses,
/// duplicates, reorders and delays frames: skbnet's recovery (SACK, which
/// smoltcp sends, and RTO) against smoltcp's, bytes intact, a clean close.
fn exchange_lossy(client: Client, seed: u64, smol_cfg: SmolTcpConfig) {
    let link = LinkConfig {
        delay: Duration::from_millis(2),
        loss: 0.02,
        duplicate: 0.01,
        reorder: 0.02,
        reorder_delay: Duration::from_millis(1),
        rate_bps: 200_000_000,
        ..LinkConfig::ethernet()
    };
    let cfg = SmolPairConfig { link, seed, ..SmolPairConfig::default() };
    eprintln!("{client:?} client, link seed {seed}");
    with_smol_pair(cfg, |p| {
        let h = p.smol.tcp_socket(smol_cfg);
        let (ours, listener) = open(p, client, h);
        transfer(p, ours, h, LOSSY_TOTAL);
        check_closed(p, ours, h, false);
        let st = p.w.stats(p.ns).expect("stats");
        assert!(st.tcp.RetransSegs > 0, "the link lost segments: skbnet resent some");
        assert_eq!((st.tcp.EstabResets, st.tcp.OutRsts, st.tcp.InErrs), (0, 0, 0), "{:?}", st.tcp);
        p.w.close(ours).expect("close");
        if let Some(l) = listener {
            p.w.close(l).expect("close listener");
        }
    });
}

/// smoltcp as server answers the timestamps skbnet offers; as client it
/// offers none, so both option layouts (and MSS 1448 and 1460) are covered.
fn smol_server() -> SmolTcpConfig {
    SmolTcpConfig::default()
}

fn smol_client() -> SmolTcpConfig {
    SmolTcpConfig { timestamps: false, ..SmolTcpConfig::default() }
}

#[test]
fn skbnet_client_smoltcp_server_64_mib_each_way_nic_tso_and_lro() {
    exchange(Client::Skbnet, Offloads::Nic, smol_server());
}

#[test]
fn skbnet_client_smoltcp_server_64_mib_each_way_software_gso_and_gro() {
    exchange(Client::Skbnet, Offloads::Software, smol_server());
}

#[test]
fn skbnet_client_smoltcp_server_64_mib_each_way_without_offloads_or_gro() {
    exchange(Client::Skbnet, Offloads::Off, smol_server());
}

#[test]
fn smoltcp_client_skbnet_server_64_mib_each_way_nic_tso_and_lro() {
    exchange(Client::Smoltcp, Offloads::Nic, smol_client());
}

#[test]
fn smoltcp_client_skbnet_server_64_mib_each_way_software_gso_and_gro() {
    exchange(Client::Smoltcp, Offloads::Software, smol_client());
}

#[test]
fn smoltcp_client_skbnet_server_64_mib_each_way_without_offloads_or_gro() {
    exchange(Client::Smoltcp, Offloads::Off, smol_client());
}

/// Link seeds for the lossy exchanges: 3, or `TCP_SMOLTCP_SEEDS`.
fn lossy_seeds() -> std::ops::RangeInclusive<u64> {
    1..=std::env::var("TCP_SMOLTCP_SEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(3)
}

#[test]
fn skbnet_client_smoltcp_server_over_a_lossy_link() {
    for seed in lossy_seeds() {
        exchange_lossy(Client::Skbnet, seed, smol_server());
    }
}

#[test]
fn smoltcp_client_skbnet_server_over_a_lossy_link() {
    for seed in lossy_seeds() {
        exchange_lossy(Client::Smoltcp, seed, smol_client());
    }
}

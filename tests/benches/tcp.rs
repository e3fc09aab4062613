//! TCP between two hosts over a simulated NIC link: skbnet (two namespaces
//! of one world) and smoltcp (two interfaces) on the same link
//! configuration, in the same run, reported side by side with the ratio
//! (DESIGN.md: ratios, not just absolute times).
//!
//! - `bulk`: one-way transfer over a perfect link (MTU 1500, no rate limit,
//!   no delay), 64 KiB receive windows on both stacks: bytes per
//!   wall-clock second, so the cost of the stacks (and of the simulated NIC
//!   and link they share) is what is measured.
//! - `loss`: the same transfer at 1% loss with 5 ms delay each way (10 ms
//!   RTT) on a 100 Mbit/s link: goodput in simulated time, the mean over
//!   several seeds.
//! - `rr`: 1-byte request, 1-byte response on the perfect link:
//!   transactions per wall-clock second.
//!
//! Both stacks run CUBIC, timestamps and Nagle as they default to (except
//! `rr`, where both send at once as request/response programs do).
//!
//! Run: `cargo bench -p skbnet-tests --bench tcp` (all three), or name the
//! ones to run: `cargo bench -p skbnet-tests --bench tcp -- bulk rr`.
//! `callgrind-skbnet` and `callgrind-smoltcp` run one fixed bulk transfer
//! of one stack (32 MiB, or `TCP_BENCH_BYTES`), inside a function
//! `tests/benches/callgrind.sh` restricts callgrind to, to report
//! instructions per transferred byte; they serve `perf record` as well.
//! `callgrind-skbnet-rr` and `callgrind-smoltcp-rr` do the same for one
//! request/response run (instructions per transaction).

use std::hint::black_box;
use std::time::{Duration, Instant as WallClock};

use skbnet::socket::{Errno, SockId, SockOpt};
use skbnet::tcp::{Shutdown, TcpOpt};
use skbnet_nic_sim::link::{LinkConfig, Side};
use skbnet_tests::net::{B_IP, Pair, PairConfig, with_pair};
use skbnet_tests::smol::{SmolDuo, SmolHost, SmolTcpConfig, with_smol_duo};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;

const PORT: u16 = 5001;
/// The receive window both stacks advertise.
const WINDOW: u32 = 64 << 10;
/// skbnet's `SO_RCVBUF` for a 64 KiB window: it advertises its free
/// receive memory as the payload it can hold, an MSS (1448 with
/// timestamps) per 2048-byte buffer, so 45 buffers offer 65 152 bytes.
const SKBNET_RCVBUF: u32 = (WINDOW + 1448 / 2) / 1448 * 2048;
/// Send buffers: 128 KiB of payload on both (skbnet packs its send
/// buffers full).
const SNDBUF: u32 = 128 << 10;
/// Bytes per bulk transfer.
const BULK_BYTES: u64 = 128 << 20;
/// Runs per stack of the wall-clock measurements, alternating between the
/// stacks so that a change in the machine's load hits both; the median counts.
const REPS: usize = 5;
/// Bytes per lossy transfer, and the link seeds it runs with.
const LOSS_BYTES: u64 = 8 << 20;
const LOSS_SEEDS: [u64; 5] = [1, 2, 3, 4, 5];
/// Request/response transactions per run.
const RR_COUNT: u64 = 20_000;
/// Bytes of the transfer the callgrind modes run, unless `TCP_BENCH_BYTES` says.
const CALLGRIND_BYTES: u64 = 32 << 20;

/// What one measured run did.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// Bytes delivered (or transactions completed).
    units: u64,
    /// Wall-clock time.
    wall: Duration,
    /// Simulated time.
    virt: Duration,
    /// Frames the sending side put on the link.
    frames: u64,
}

impl Run {
    fn per_wall_sec(&self) -> f64 {
        self.units as f64 / self.wall.as_secs_f64()
    }
}

fn perfect_link() -> LinkConfig {
    LinkConfig::ethernet()
}

fn lossy_link() -> LinkConfig {
    LinkConfig { loss: 0.01, delay: Duration::from_millis(5), rate_bps: 100_000_000, ..LinkConfig::ethernet() }
}

// skbnet: two namespaces of one world, each on a simulated NIC.

/// A connection from a (client, sender) to b (server, receiver) with the
/// benchmark's buffers.
fn skbnet_connect(p: &mut Pair<'_, '_>, nodelay: bool) -> (SockId, SockId) {
    let l = p.listener(PORT, 8);
    p.w.setsockopt(l, SockOpt::RcvBuf(SKBNET_RCVBUF)).expect("rcvbuf");
    p.w.setsockopt(l, SockOpt::SndBuf(SNDBUF)).expect("sndbuf");
    let (c, s) = p.connect_pair(l, PORT);
    p.w.setsockopt(c, SockOpt::RcvBuf(SKBNET_RCVBUF)).expect("rcvbuf");
    p.w.setsockopt(c, SockOpt::SndBuf(SNDBUF)).expect("sndbuf");
    for id in [c, s] {
        p.w.set_tcp_option(id, TcpOpt::NoDelay(nodelay)).expect("nodelay");
    }
    p.w.close(l).expect("close listener");
    (c, s)
}

/// Send `total` bytes from `c` to `s`; the clock stops when the last byte
/// was read.
#[inline(never)]
fn measured_skbnet_bulk(p: &mut Pair<'_, '_>, c: SockId, s: SockId, total: u64) -> Run {
    let data = vec![0x5au8; 64 << 10];
    let mut buf = vec![0u8; 64 << 10];
    let (mut sent, mut got) = (0u64, 0u64);
    let frames0 = p.link.borrow().stats(Side::A).sent;
    let (wall0, virt0) = (WallClock::now(), p.now);
    let ok = p.run(Duration::from_secs(3600), |w, _| {
        while sent < total {
            let n = (total - sent).min(data.len() as u64) as usize;
            match w.sendmsg(c, &data[..n], None) {
                Ok(k) => sent += k as u64,
                Err(Errno::WouldBlock) => break,
                Err(e) => panic!("send: {e:?}"),
            }
        }
        while let Ok(m) = w.recvmsg(s, &mut buf) {
            if m.len == 0 {
                break;
            }
            got += black_box(m.len) as u64;
        }
        got == total
    });
    assert!(ok, "skbnet transfer stalled at {got} of {total} bytes");
    let frames = p.link.borrow().stats(Side::A).sent - frames0;
    Run { units: got, wall: wall0.elapsed(), virt: p.now.saturating_duration_since(virt0), frames }
}

fn skbnet_bulk(link: LinkConfig, seed: u64, total: u64) -> Run {
    with_pair(PairConfig { link, seed, ..PairConfig::default() }, |p| {
        let (c, s) = skbnet_connect(p, false);
        let run = measured_skbnet_bulk(p, c, s, total);
        // The receiver's FIN carries the window of its empty buffer.
        p.w.shutdown_socket(s, Shutdown::Write).expect("shutdown");
        let mut b = [0u8; 1];
        assert!(p.run(Duration::from_secs(5), |w, _| w.recvmsg(c, &mut b).is_ok_and(|m| m.len == 0)));
        let wnd = p.w.tcp_info(c).expect("info").snd_wnd;
        assert!(wnd.abs_diff(WINDOW) < 1448, "skbnet offers {wnd}, not 64 KiB");
        let st = p.w.stats(p.a).expect("stats").tcp;
        if link.loss == 0.0 {
            assert_eq!(st.RetransSegs, 0, "no retransmission on a perfect link");
        }
        p.w.close(c).expect("close");
        p.w.close(s).expect("close");
        run
    })
}

/// `count` transactions: a byte from `c` to `s`, a byte back.
#[inline(never)]
fn measured_skbnet_rr(p: &mut Pair<'_, '_>, c: SockId, s: SockId, count: u64) -> Run {
    let mut b = [0u8; 16];
    let (mut done, mut waiting_server) = (0u64, None::<bool>);
    let frames0 = frames_both_ways(p.link);
    let (wall0, virt0) = (WallClock::now(), p.now);
    let ok = p.run(Duration::from_secs(3600), |w, _| {
        loop {
            match waiting_server {
                None => {
                    assert_eq!(w.sendmsg(c, b"q", None), Ok(1));
                    waiting_server = Some(true);
                }
                Some(true) => match w.recvmsg(s, &mut b) {
                    Ok(m) if m.len == 1 => {
                        assert_eq!(w.sendmsg(s, b"r", None), Ok(1));
                        waiting_server = Some(false);
                    }
                    _ => return false,
                },
                Some(false) => match w.recvmsg(c, &mut b) {
                    Ok(m) if m.len == 1 => {
                        done += 1;
                        waiting_server = None;
                        if done == count {
                            return true;
                        }
                    }
                    _ => return false,
                },
            }
        }
    });
    assert!(ok, "skbnet request/response stalled after {done}");
    let frames = frames_both_ways(p.link) - frames0;
    Run { units: done, wall: wall0.elapsed(), virt: p.now.saturating_duration_since(virt0), frames }
}

fn skbnet_rr(count: u64) -> Run {
    with_pair(PairConfig::default(), |p| {
        let (c, s) = skbnet_connect(p, true);
        let run = measured_skbnet_rr(p, c, s, count);
        p.w.close(c).expect("close");
        p.w.close(s).expect("close");
        run
    })
}

// smoltcp: two interfaces, one on each end of the same kind of link.

/// A connection from `a` (client, sender) to `b` (server, receiver).
fn smoltcp_connect(d: &mut SmolDuo<'_>, nagle: bool) -> (SocketHandle, SocketHandle) {
    let cfg = SmolTcpConfig {
        rx_bytes: WINDOW as usize,
        tx_bytes: SNDBUF as usize,
        timestamps: true,
        congestion: tcp::CongestionControl::Cubic,
        nagle,
    };
    let (c, s) = (d.a.tcp_socket(cfg), d.b.tcp_socket(cfg));
    d.b.tcp(s).listen(PORT).expect("listen");
    d.a.connect(c, (B_IP, PORT), 49_152);
    let up = d.run(Duration::from_secs(30), |a, b, _| {
        a.tcp(c).state() == tcp::State::Established && b.tcp(s).state() == tcp::State::Established
    });
    assert!(up, "smoltcp handshake did not complete");
    (c, s)
}

/// The same as [`measured_skbnet_bulk`], from `c` on `a` to `s` on `b`.
#[inline(never)]
fn measured_smoltcp_bulk(d: &mut SmolDuo<'_>, c: SocketHandle, s: SocketHandle, total: u64) -> Run {
    let data = vec![0x5au8; 64 << 10];
    let mut buf = vec![0u8; 64 << 10];
    let (mut sent, mut got) = (0u64, 0u64);
    let frames0 = d.link.borrow().stats(Side::A).sent;
    let (wall0, virt0) = (WallClock::now(), d.now);
    let ok = d.run(Duration::from_secs(3600), |a: &mut SmolHost<'_>, b: &mut SmolHost<'_>, _| {
        let tx = a.tcp(c);
        while sent < total && tx.can_send() {
            let n = (total - sent).min(data.len() as u64) as usize;
            match tx.send_slice(&data[..n]) {
                Ok(0) => break,
                Ok(k) => sent += k as u64,
                Err(e) => panic!("send: {e:?}"),
            }
        }
        let rx = b.tcp(s);
        while let Ok(n) = rx.recv_slice(&mut buf) {
            if n == 0 {
                break;
            }
            got += black_box(n) as u64;
        }
        got == total
    });
    assert!(ok, "smoltcp transfer stalled at {got} of {total} bytes");
    let frames = d.link.borrow().stats(Side::A).sent - frames0;
    Run { units: got, wall: wall0.elapsed(), virt: d.now.saturating_duration_since(virt0), frames }
}

fn smoltcp_bulk(link: LinkConfig, seed: u64, total: u64) -> Run {
    with_smol_duo(link, seed, |d| {
        let (c, s) = smoltcp_connect(d, true);
        measured_smoltcp_bulk(d, c, s, total)
    })
}

/// Frames sent on a link, both directions together.
fn frames_both_ways<const N: usize, const F: usize, T: skbnet_nic_sim::link::Tap>(
    l: &std::cell::RefCell<skbnet_nic_sim::link::Link<N, F, T>>,
) -> u64 {
    let l = l.borrow();
    l.stats(Side::A).sent + l.stats(Side::B).sent
}

/// The same as [`measured_skbnet_rr`].
#[inline(never)]
fn measured_smoltcp_rr(d: &mut SmolDuo<'_>, c: SocketHandle, s: SocketHandle, count: u64) -> Run {
    let mut b = [0u8; 16];
    let (mut done, mut waiting_server) = (0u64, None::<bool>);
    let frames0 = frames_both_ways(d.link);
    let (wall0, virt0) = (WallClock::now(), d.now);
    let ok = d.run(Duration::from_secs(3600), |a, bh, _| {
        loop {
            match waiting_server {
                None => {
                    assert_eq!(a.tcp(c).send_slice(b"q"), Ok(1));
                    waiting_server = Some(true);
                }
                Some(true) => match bh.tcp(s).recv_slice(&mut b) {
                    Ok(1) => {
                        assert_eq!(bh.tcp(s).send_slice(b"r"), Ok(1));
                        waiting_server = Some(false);
                    }
                    _ => return false,
                },
                Some(false) => match a.tcp(c).recv_slice(&mut b) {
                    Ok(1) => {
                        done += 1;
                        waiting_server = None;
                        if done == count {
                            return true;
                        }
                    }
                    _ => return false,
                },
            }
        }
    });
    assert!(ok, "smoltcp request/response stalled after {done}");
    let frames = frames_both_ways(d.link) - frames0;
    Run { units: done, wall: wall0.elapsed(), virt: d.now.saturating_duration_since(virt0), frames }
}

fn smoltcp_rr(count: u64) -> Run {
    with_smol_duo(perfect_link(), 1, |d| {
        let (c, s) = smoltcp_connect(d, false);
        measured_smoltcp_rr(d, c, s, count)
    })
}

// What is printed.

fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by_key(|r| r.wall);
    runs[runs.len() / 2]
}

/// `REPS` runs of each, alternating; the median of each.
fn alternate(ours: impl Fn() -> Run, theirs: impl Fn() -> Run) -> (Run, Run) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..REPS {
        a.push(ours());
        b.push(theirs());
    }
    (median(a), median(b))
}

fn mib(bytes_per_sec: f64) -> f64 {
    bytes_per_sec / f64::from(1u32 << 20)
}

fn bulk() {
    let (ours, theirs) =
        alternate(|| skbnet_bulk(perfect_link(), 1, BULK_BYTES), || smoltcp_bulk(perfect_link(), 1, BULK_BYTES));
    println!("bulk, {} MiB one way, 64 KiB windows, perfect link, wall clock (median of {REPS}):", BULK_BYTES >> 20);
    for (name, r) in [("skbnet", ours), ("smoltcp", theirs)] {
        println!(
            "  {name:8} {:9.1} MiB/s  {:>12.0} B/s  ({} frames, {:.3} s)",
            mib(r.per_wall_sec()),
            r.per_wall_sec(),
            r.frames,
            r.wall.as_secs_f64()
        );
    }
    println!("  ratio    {:.2}x", ours.per_wall_sec() / theirs.per_wall_sec());
}

fn loss() {
    let total = |runs: &[Run]| {
        let units: u64 = runs.iter().map(|r| r.units).sum();
        let virt: Duration = runs.iter().map(|r| r.virt).sum();
        let frames: u64 = runs.iter().map(|r| r.frames).sum();
        (units as f64 / virt.as_secs_f64(), frames)
    };
    let ours: Vec<Run> = LOSS_SEEDS.iter().map(|&s| skbnet_bulk(lossy_link(), s, LOSS_BYTES)).collect();
    let theirs: Vec<Run> = LOSS_SEEDS.iter().map(|&s| smoltcp_bulk(lossy_link(), s, LOSS_BYTES)).collect();
    let (ours, theirs) = (total(&ours), total(&theirs));
    println!(
        "goodput, {} MiB one way x {} seeds, 1% loss, 10 ms RTT, 100 Mbit/s, 64 KiB windows, simulated time:",
        LOSS_BYTES >> 20,
        LOSS_SEEDS.len()
    );
    let segs = (LOSS_BYTES * LOSS_SEEDS.len() as u64).div_ceil(1448);
    for (name, (rate, frames)) in [("skbnet", ours), ("smoltcp", theirs)] {
        println!(
            "  {name:8} {:9.2} MiB/s  {:>12.0} B/s  ({frames} frames for {segs} segments of data)",
            mib(rate),
            rate
        );
    }
    println!("  ratio    {:.2}x", ours.0 / theirs.0);
}

fn rr() {
    let (ours, theirs) = alternate(|| skbnet_rr(RR_COUNT), || smoltcp_rr(RR_COUNT));
    println!(
        "request/response, 1-byte messages, {RR_COUNT} transactions, perfect link, wall clock (median of {REPS}):"
    );
    for (name, r) in [("skbnet", ours), ("smoltcp", theirs)] {
        println!(
            "  {name:8} {:10.0} transactions/s  ({:.2} frames a transaction)",
            r.per_wall_sec(),
            r.frames as f64 / r.units as f64
        );
    }
    println!("  ratio    {:.2}x", ours.per_wall_sec() / theirs.per_wall_sec());
}

fn main() {
    // `cargo bench` passes `--bench`; the rest are the modes to run.
    let modes: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let all = modes.is_empty();
    let wants = |m: &str| all || modes.iter().any(|x| x == m);
    let once = std::env::var("TCP_BENCH_BYTES").ok().and_then(|b| b.parse().ok()).unwrap_or(CALLGRIND_BYTES);
    if modes.iter().any(|m| m == "callgrind-skbnet") {
        let r = skbnet_bulk(perfect_link(), 1, once);
        println!("bytes {}", r.units);
        return;
    }
    if modes.iter().any(|m| m == "callgrind-smoltcp") {
        let r = smoltcp_bulk(perfect_link(), 1, once);
        println!("bytes {}", r.units);
        return;
    }
    if modes.iter().any(|m| m == "callgrind-skbnet-rr") {
        println!("transactions {}", skbnet_rr(RR_COUNT).units);
        return;
    }
    if modes.iter().any(|m| m == "callgrind-smoltcp-rr") {
        println!("transactions {}", smoltcp_rr(RR_COUNT).units);
        return;
    }
    if wants("bulk") {
        bulk();
    }
    if wants("loss") {
        loss();
    }
    if wants("rr") {
        rr();
    }
}

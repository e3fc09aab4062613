//! The stack behind the TUN device: one namespace of a [`World`] whose
//! interface `eth0` is a simulated NIC (nic-sim's rings, offloads and
//! driver) cabled to the TUN device, the services on its sockets, and the
//! loop that runs them in real time.
//!
//! The loop polls the world with the OS's monotonic clock, lets the
//! services move their connections, and then sleeps in `ppoll` on the TUN
//! device and the stop pipe until the earlier of `World::poll_at()` and
//! `Services::poll_at()`: an idle stack wakes only for a packet, a timer or
//! Ctrl-C. With `--push` or `--pull` a [`Client`] moves its bytes in the
//! same loop, beside the services, and the loop ends when its transfer
//! does, with the transfer's report. On Ctrl-C (or SIGTERM), or after the
//! transfer, the services close their connections (FINs), the world runs a
//! little longer so the closes complete, what is left is reset, and the
//! world is shut down with its pool checked free.

use std::fs::File;
use std::io::Read;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use skbnet::dev::{Features, Medium};
use skbnet::netns::{NsId, SmallWorldStorage, World};
use skbnet::skb::{BufInfo, Head, IfIndex, OwnerSlot, PoolParts, SkbPool};
use skbnet::tcp::TcpState;
use skbnet::time::Instant;
use skbnet::wire::MacAddr;
use skbnet_host_shim::services::{Client, ClientError, Report, Services};
use skbnet_nic_sim::nic::{NicConfig, SimNic};

use super::opts::{Options, Transfer};
use super::port::{PACKET_MAX, TunPort};
use super::sys;
use crate::demo::{Context, Failed};

/// Transmit descriptors: room for a few 64 KiB super-packets of 2 KiB buffers.
const TXN: usize = 256;
/// Receive descriptors: a GSO packet from Linux takes 33 of them.
const RXN: usize = 1024;
/// Sizes of the pool: heads, buffer memory, accounting owners.
const POOL_HEADS: usize = 16_384;
const POOL_BYTES: usize = 32 << 20;
const POOL_OWNERS: usize = 256;
/// Headroom the NIC's driver reserves in each receive buffer.
const RX_HEADROOM: usize = 64;
/// How long connections get to close after Ctrl-C before they are reset.
const GRACE: Duration = Duration::from_secs(2);

/// The simulated NIC whose PHY is the TUN device.
pub type TunNic = SimNic<TXN, RXN, PACKET_MAX, TunPort>;

/// The NIC for the TUN device: bare IP packets (`Medium::Ip`, as TUN
/// carries them), the link's MTU, and every offload or none but
/// scatter-gather (without which a packet larger than one pool buffer, as
/// with a jumbo MTU, could not be sent at all).
pub fn nic(opts: &Options, port: TunPort) -> Box<TunNic> {
    let mut cfg = NicConfig::ethernet(MacAddr([0; 6]));
    cfg.medium = Medium::Ip;
    cfg.mtu = opts.mtu;
    cfg.offloads = if opts.offload { Features::ALL } else { Features { sg: true, ..Features::NONE } };
    cfg.rx_headroom = RX_HEADROOM as u16;
    cfg.rx_buf_len = (buf_size(opts.mtu) - RX_HEADROOM) as u16;
    // Merge what one pass of the device took from Linux, and no more: a
    // timer would hold segments back until the next wake-up.
    cfg.lro_usecs = 0;
    Box::new(TunNic::new(cfg, port))
}

/// The stack's clock: the OS's monotonic time since the shim started, as
/// a firmware's clock counts from boot.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: std::time::Instant,
}

impl Clock {
    /// A clock reading zero now.
    pub fn start() -> Clock {
        Clock { start: std::time::Instant::now() }
    }

    /// The time now.
    pub fn now(&self) -> Instant {
        Instant::from_micros(u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX))
    }
}

/// Ctrl-C and SIGTERM: a flag to test between polls and a pipe to wake the
/// sleeping loop.
pub struct Stop {
    flag: Arc<AtomicBool>,
    pipe: UnixStream,
}

impl Stop {
    /// Catch SIGINT and SIGTERM from now on.
    pub fn catch() -> Result<Stop, Failed> {
        let (pipe, wake) = UnixStream::pair().context("creating the stop pipe")?;
        pipe.set_nonblocking(true).context("creating the stop pipe")?;
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&flag)).context("catching Ctrl-C")?;
            signal_hook::low_level::pipe::register(sig, wake.try_clone().context("catching Ctrl-C")?)
                .context("catching Ctrl-C")?;
        }
        Ok(Stop { flag, pipe })
    }

    fn requested(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Read what the signals wrote, so the pipe can wake us again.
    fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.pipe).read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// Bytes of one pool buffer for a link of `mtu`: 2 KiB, or enough for a
/// whole packet of a jumbo MTU, because the stack's software segmentation
/// (with offloads off) builds each segment in one buffer.
fn buf_size(mtu: u16) -> usize {
    (usize::from(mtu) + RX_HEADROOM).next_multiple_of(1024).max(2048)
}

/// Pool memory on the heap: [`POOL_BYTES`] of buffers of `buf_size`.
struct PoolMem {
    heads: Vec<Head>,
    info: Vec<BufInfo>,
    data: Vec<u8>,
    owners: Vec<OwnerSlot>,
    buf_size: usize,
}

impl PoolMem {
    fn new(buf_size: usize) -> PoolMem {
        let bufs = POOL_BYTES / buf_size;
        PoolMem {
            heads: vec![Head::EMPTY; POOL_HEADS],
            info: vec![BufInfo::EMPTY; bufs],
            data: vec![0; bufs * buf_size],
            owners: vec![OwnerSlot::EMPTY; POOL_OWNERS],
            buf_size,
        }
    }

    fn pool(&mut self) -> Result<SkbPool<'_>, Failed> {
        SkbPool::from_parts(PoolParts {
            heads: &mut self.heads,
            info: &mut self.info,
            data: &mut self.data,
            owners: &mut self.owners,
            buf_size: self.buf_size,
        })
        .context("building the pool")
    }
}

/// What the loop needs besides the world.
pub struct Env<'e> {
    /// The options.
    pub opts: &'e Options,
    /// The TUN device's name on the Linux side.
    pub dev_name: &'e str,
    /// A second handle on the TUN device, to wait on (the NIC owns the first).
    pub tun: &'e File,
    /// Ctrl-C.
    pub stop: &'e Stop,
    /// The clock.
    pub clock: Clock,
    /// The stack's secret.
    pub secret: [u8; 16],
}

/// Build the world around `nic`, serve until Ctrl-C, shut down.
pub fn serve(env: &Env<'_>, nic: &mut TunNic) -> Result<(), Failed> {
    let mut mem = PoolMem::new(buf_size(env.opts.mtu));
    let mut storage = Box::new(SmallWorldStorage::new());
    let mut world = World::new(&mut storage, mem.pool()?, env.secret).context("creating the world")?;
    let ns = NsId::INIT;
    let eth0 = configure(&mut world, ns, env.opts, nic)?;
    let mut services = Services::start(&mut world, ns, &env.opts.services).context("starting the services")?;
    say!("{}", ready_line(env, &services));
    let served = match env.opts.transfer {
        Some(t) => transfer(env, &mut world, ns, &mut services, t),
        None => run(env, &mut world, &mut services, None).map(|_| ()),
    };
    say!("\nskbnet tun: stopping: closing connections");
    services.shutdown(&mut world);
    close_connections(env, &mut world, ns);
    super::report::counters(&world, ns, eth0, &services);
    served.and(shutdown(&mut world))
}

/// Run `t` to its end beside the services and print its report: an error
/// when it failed or Ctrl-C cut it short.
fn transfer(
    env: &Env<'_>,
    world: &mut World<'_>,
    ns: NsId,
    services: &mut Services,
    t: Transfer,
) -> Result<(), Failed> {
    let mut client = Client::connect(world, ns, t.peer, t.direction).map_err(|e| Failed(format!("{t}: {e}")))?;
    match run(env, world, services, Some(&mut client))? {
        Some(Ok(report)) => {
            say!("{report}");
            Ok(())
        }
        Some(Err(e)) => Err(Failed(format!("{t}: {e}"))),
        None => {
            let moved = client.bytes();
            client.abort(world);
            Err(Failed(format!("{t}: interrupted after {moved} bytes")))
        }
    }
}

/// `ip link set eth0 up`, `ip addr add ADDR dev eth0`, and a default route
/// through Linux, so the stack answers whatever Linux routes to it.
fn configure<'a>(world: &mut World<'a>, ns: NsId, opts: &Options, nic: &'a mut TunNic) -> Result<IfIndex, Failed> {
    let eth0 = world.add_device(ns, "eth0", nic).context("adding eth0")?;
    world.set_link_up(eth0, true).context("ip link set eth0 up")?;
    world.add_addr(eth0, opts.addr.addr, opts.addr.prefix_len).context("ip addr add ... dev eth0")?;
    world
        .add_route_via(ns, Ipv4Addr::UNSPECIFIED, 0, opts.host_addr.addr)
        .context("ip route add default via HOST-ADDR")?;
    Ok(eth0)
}

/// The line that says the stack is up (the tests wait for its first word).
fn ready_line(env: &Env<'_>, services: &Services) -> String {
    let o = env.opts;
    let offloads = if o.offload { "checksum, TSO4 and GRO across TUN" } else { "off" };
    let running: Vec<String> = services.running().iter().map(|s| format!("{s} ({})", s.port())).collect();
    let running = if running.is_empty() { "none".to_string() } else { running.join(", ") };
    // Optional lines: the fault profile, the transfer.
    let mut more = String::new();
    if o.loss > 0.0 || !o.delay.is_zero() {
        more = format!("\n  faults: {:.3}% loss and {:?} delay each way (seed {})", o.loss * 100.0, o.delay, o.seed);
    }
    if let Some(t) = o.transfer {
        more += &format!("\n  transfer: {t}, then stop");
    }
    format!(
        "ready: Linux {dev} {}/{} <-> skbnet eth0 {}/{}, MTU {}\n  offloads: {offloads}\n  services: {running}{more}\n  \
         Ctrl-C stops",
        o.host_addr.addr,
        o.host_addr.prefix_len,
        o.addr.addr,
        o.addr.prefix_len,
        o.mtu,
        dev = env.dev_name,
    )
}

/// What a transfer ended with.
type Outcome = Result<Report, ClientError>;

/// Poll, serve, move the client's bytes, sleep until something is due;
/// until Ctrl-C (`None`) or the client's transfer ends (its outcome).
fn run(
    env: &Env<'_>,
    world: &mut World<'_>,
    services: &mut Services,
    mut client: Option<&mut Client>,
) -> Result<Option<Outcome>, Failed> {
    while !env.stop.requested() {
        let now = env.clock.now();
        world.poll(now);
        services.poll(world, now);
        if let Some(outcome) = client.as_mut().and_then(|c| c.poll(world, now)) {
            return Ok(Some(outcome));
        }
        let client_due = client.as_ref().and_then(|c| c.poll_at());
        let due = [world.poll_at(), services.poll_at(), client_due].into_iter().flatten().min();
        let timeout = due.map(|t| t.saturating_duration_since(env.clock.now()));
        if timeout == Some(Duration::ZERO) {
            continue;
        }
        sys::wait(env.tun.as_fd(), env.stop.pipe.as_fd(), timeout).context("waiting for packets")?;
    }
    Ok(None)
}

/// Let connections finish closing for up to [`GRACE`] (a second Ctrl-C
/// cuts it short), then reset what is left and give the resets a chance to
/// leave.
fn close_connections(env: &Env<'_>, world: &mut World<'_>, ns: NsId) {
    let until = env.clock.now() + GRACE;
    env.stop.drain();
    loop {
        let now = env.clock.now();
        world.poll(now);
        let open = world.tcp_table(ns).any(|e| !matches!(e.state, TcpState::Listen | TcpState::TimeWait));
        if !open || now >= until {
            break;
        }
        let due = world.poll_at().map_or(until, |t| t.min(until));
        let timeout = due.saturating_duration_since(env.clock.now()).min(Duration::from_millis(10));
        match sys::wait(env.tun.as_fd(), env.stop.pipe.as_fd(), Some(timeout)) {
            Ok(ready) if !ready.stop => {}
            _ => break,
        }
    }
    world.close_all();
    // The first poll's device pass sends the resets, the second completes them.
    for _ in 0..2 {
        world.poll(env.clock.now());
    }
}

/// Shut the world down; every sk_buff must be back in the pool.
fn shutdown(world: &mut World<'_>) -> Result<(), Failed> {
    world.shutdown();
    let st = world.pool_ref().stats();
    say!(
        "pool: {} of {} buffers of {} bytes at most in use; all free after shutdown: {}",
        st.bufs_high_water,
        st.bufs_total,
        st.buf_size,
        if st.is_idle() { "yes" } else { "NO" }
    );
    if !st.is_idle() || st.bad_handles > 0 {
        return Err(Failed(format!("the pool is not free after shutdown: {st:?}")));
    }
    Ok(())
}

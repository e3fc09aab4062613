//! The `log` statement (Linux's `nf_log_syslog`): one line per packet in
//! the kernel's format, through the stack's logger (`log` on std hosts,
//! `defmt` on firmware), rate limited as `net_ratelimit` is: a burst of
//! [`BURST`] lines, then one per [`INTERVAL_MS`] / [`BURST`].

use core::fmt::Write;
use core::net::Ipv4Addr;

use crate::time::Instant;

/// Lines allowed in a burst.
pub const BURST: u32 = 10;
/// The window the burst refills over (`net_ratelimit`: 5 s).
pub const INTERVAL_MS: u64 = 5_000;

/// Longest line kept.
pub const LINE_MAX: usize = 192;

/// The rate limit and the last line.
#[derive(Debug)]
pub(crate) struct LogState {
    tokens: u32,
    refill: Instant,
    pub emitted: u64,
    pub suppressed: u64,
    pub last: heapless::String<LINE_MAX>,
}

/// What a log line says about a packet.
pub(crate) struct LogPkt<'n> {
    pub prefix: &'n str,
    pub iif: &'n str,
    pub oif: &'n str,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub len: u16,
    pub ttl: u8,
    pub proto: u8,
    pub ports: Option<(u16, u16)>,
    pub icmp: Option<(u8, u8)>,
    pub mark: u32,
}

impl LogState {
    pub(crate) fn new() -> LogState {
        LogState { tokens: BURST, refill: Instant::ZERO, emitted: 0, suppressed: 0, last: heapless::String::new() }
    }

    /// Write one line about `p`, unless the rate limit holds it back.
    pub(crate) fn log(&mut self, p: &LogPkt<'_>, now: Instant) {
        let per_token_ms = INTERVAL_MS / u64::from(BURST);
        let earned = now.saturating_duration_since(self.refill).as_millis() as u64 / per_token_ms;
        if earned > 0 {
            self.tokens = (u64::from(self.tokens) + earned).min(u64::from(BURST)) as u32;
            self.refill = now;
        }
        if self.tokens == 0 {
            self.suppressed += 1;
            return;
        }
        self.tokens -= 1;
        self.emitted += 1;
        self.last.clear();
        // A line longer than the buffer is cut; the part written stays.
        let _ = format_line(&mut self.last, p);
        #[cfg(feature = "log")]
        log::info!("{}", self.last);
        #[cfg(feature = "defmt")]
        defmt::info!("{=str}", self.last.as_str());
    }
}

/// The kernel's format: `PREFIX IN=eth0 OUT=eth1 SRC=... DST=... LEN=60
/// TTL=64 PROTO=TCP SPT=40000 DPT=22 MARK=0x1`.
fn format_line(w: &mut impl Write, p: &LogPkt<'_>) -> core::fmt::Result {
    write!(w, "{}IN={} OUT={} SRC={} DST={} LEN={} TTL={} ", p.prefix, p.iif, p.oif, p.src, p.dst, p.len, p.ttl)?;
    match p.proto {
        6 => w.write_str("PROTO=TCP")?,
        17 => w.write_str("PROTO=UDP")?,
        1 => w.write_str("PROTO=ICMP")?,
        n => write!(w, "PROTO={n}")?,
    }
    if let Some((s, d)) = p.ports {
        write!(w, " SPT={s} DPT={d}")?;
    }
    if let Some((t, c)) = p.icmp {
        write!(w, " TYPE={t} CODE={c}")?;
    }
    if p.mark != 0 {
        write!(w, " MARK=0x{:x}", p.mark)?;
    }
    Ok(())
}

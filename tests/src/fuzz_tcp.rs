//! The fuzz body of one TCP connection: arbitrary segment sequences, with
//! arbitrary application calls and clock jumps between them, against a
//! socket brought first into a chosen state (LISTEN, SYN-SENT,
//! ESTABLISHED by either open, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT,
//! LAST-ACK, CLOSING, TIME-WAIT). It runs on the packet-trace harness
//! ([`crate::trace`]): segments cross a link into a simulated NIC, and
//! etherparse decodes what comes back.
//!
//! Sequence and acknowledgment numbers are given as offsets from where the
//! connection is, so most segments land near the window, where the
//! interesting decisions are. Payload bytes are a function of their
//! sequence number on both sides, which turns every run into a check of
//! reassembly and retransmission: whatever the application reads must be
//! the peer's stream at that offset, and every byte we send must be our
//! application's stream at its offset. Nothing may panic, and after
//! `shutdown` the pool must be completely free.
//!
//! The input: a state byte, a byte of the peer's SYN options, a byte of
//! NIC offloads, then records of an operation byte and its operands (see
//! [`Op`]); build programs with [`program`].

use crate::fuzz_input::{Input, features};
use core::time::Duration;

use skbnet::socket::{Errno, RecvFlags, SockOpt};
use skbnet::stats::NetStats;
use skbnet::tcp::TcpOpt;

use crate::trace::{Flow, Out, Pkt, Trace, TraceConfig, with_trace};

/// The states a run can start from.
pub const STATES: [&str; 10] = [
    "listen",
    "syn-sent",
    "established-passive",
    "established-active",
    "fin-wait-1",
    "fin-wait-2",
    "close-wait",
    "last-ack",
    "closing",
    "time-wait",
];

/// One operation of a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// The peer sends a segment: flags (FIN 1, SYN 2, RST 4, PSH 8, ACK
    /// 16, timestamps 32, SACK 64, window scaled down 128), sequence and
    /// acknowledgment offsets from where the connection is, window field,
    /// payload length (below 3000).
    Seg {
        /// Flag bits as above.
        flags: u8,
        /// Offset from the next sequence number the peer should send.
        seq: i16,
        /// Offset from the next sequence number we will send.
        ack: i16,
        /// Window field.
        win: u16,
        /// Payload bytes.
        len: u16,
    },
    /// The application sends `n` bytes.
    Send(u16),
    /// The application reads up to `n` bytes.
    Recv(u16),
    /// The clock jumps `ms` squared milliseconds.
    Wait(u8),
    /// The application shuts its side for writing.
    ShutWr,
    /// The application closes the socket.
    Close,
    /// A socket option: `TCP_NODELAY`, `SO_LINGER` 0, keepalive on with
    /// short times, a small `SO_RCVBUF`, a tiny `TCP_MAXSEG`, NewReno.
    Opt(u8),
    /// The peer sends `n` consecutive full segments in one burst (GRO).
    Burst(u8),
    /// The application reads up to `n` bytes with flags: bit 0 `MSG_PEEK`,
    /// bit 1 `MSG_TRUNC` (skip without copying).
    RecvFlags(u16, u8),
}

impl Op {
    fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Op::Seg { flags, seq, ack, win, len } => {
                out.push(0);
                out.push(flags);
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(&ack.to_be_bytes());
                out.extend_from_slice(&win.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
            }
            Op::Send(n) => {
                out.push(1);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Op::Recv(n) => {
                out.push(2);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Op::Wait(ms) => out.extend_from_slice(&[3, ms]),
            Op::ShutWr => out.push(4),
            Op::Close => out.push(5),
            Op::Opt(o) => out.extend_from_slice(&[6, o]),
            Op::Burst(n) => out.extend_from_slice(&[7, n]),
            Op::RecvFlags(n, f) => {
                out.push(8);
                out.extend_from_slice(&n.to_be_bytes());
                out.push(f);
            }
        }
    }
}

/// A program: start state (index into [`STATES`]), SYN option bits (MSS 1,
/// SACK 2, timestamps 4, window scale 8), offload bits, operations.
pub fn program(state: u8, syn_opts: u8, offloads: u8, ops: &[Op]) -> Vec<u8> {
    let mut p = vec![state, syn_opts, offloads];
    for op in ops {
        op.encode(&mut p);
    }
    p
}

impl Input<'_> {
    fn op(&mut self) -> Op {
        match self.u8() % 9 {
            0 => Op::Seg {
                flags: self.u8(),
                seq: self.u16() as i16,
                ack: self.u16() as i16,
                win: self.u16(),
                len: self.u16() % 3000,
            },
            1 => Op::Send(self.u16() % 20_000),
            2 => Op::Recv(self.u16()),
            3 => Op::Wait(self.u8()),
            4 => Op::ShutWr,
            5 => Op::Close,
            6 => Op::Opt(self.u8()),
            7 => Op::Burst(self.u8() % 16),
            _ => Op::RecvFlags(self.u16(), self.u8()),
        }
    }
}

/// The peer's stream: the byte at sequence number `k`, whatever the
/// connection's ISN (so a SYN-ACK at any number still gives a checkable stream).
fn peer_byte(k: u32) -> u8 {
    (k.wrapping_mul(2_654_435_761) >> 24) as u8
}

/// Our application's stream: byte `k` of it.
fn our_byte(k: u32) -> u8 {
    (k.wrapping_mul(40_503) >> 8) as u8 ^ 0x5a
}

/// The state of the run.
struct Run {
    f: Flow,
    /// The sequence number of the next byte the application reads, once
    /// the connection is synchronized.
    read_seq: Option<u32>,
    /// Where reading started.
    first_read: Option<u32>,
    /// Our ISN + 1, once known.
    our_base: Option<u32>,
    /// Bytes our application wrote.
    written: u32,
    /// The socket is closed (the id is dead).
    closed: bool,
    /// Checks of our segments hold while this connection is the only
    /// incarnation (a SYN-ACK of ours means a new one).
    checking: bool,
    syn_opts: u8,
}

/// A program decoded, for reading a finding: state, SYN option bits,
/// offload bits, operations.
pub fn decode(data: &[u8]) -> (&'static str, u8, u8, Vec<Op>) {
    let mut input = Input::new(data);
    let state = STATES[usize::from(input.u8()) % STATES.len()];
    let (syn, offloads) = (input.u8(), input.u8());
    let mut ops = Vec::new();
    while !input.done() {
        ops.push(input.op());
    }
    (state, syn, offloads, ops)
}

/// What a run did, for checking that seeds reach what they are named for.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    /// Bytes the application read, all checked against the peer's stream.
    pub read: u32,
    /// Bytes the application wrote.
    pub written: u32,
    /// The namespace's counters before shutdown.
    pub stats: NetStats,
}

/// The fuzz body.
pub fn tcp_conn(data: &[u8]) {
    run(data);
}

/// Run a program; panics on a finding, as the fuzz body does.
pub fn run(data: &[u8]) -> Summary {
    let mut input = Input::new(data);
    let state = usize::from(input.u8()) % STATES.len();
    let syn_opts = input.u8();
    let offloads = features(input.u8());
    with_trace(TraceConfig { offloads, bufs: 256 }, |t| {
        let mut r = start(t, state, syn_opts);
        // Bounded: each record consumes at least one input byte.
        while !input.done() {
            let op = input.op();
            apply(t, &mut r, op);
        }
        if !r.closed {
            let _ = t.w.close(r.f.sock);
        }
        t.advance(Duration::from_secs(200));
        let seen = t.out();
        check_ours(&mut r, &seen);
        let read = r.read_seq.zip(r.first_read).map_or(0, |(a, b)| a.wrapping_sub(b));
        Summary { read, written: r.written, stats: t.stats() }
    })
}

fn syn_options(p: Pkt, bits: u8) -> Pkt {
    let mut p = p;
    if bits & 1 != 0 {
        p = p.mss(536 + u16::from(bits >> 4) * 64);
    }
    if bits & 2 != 0 {
        p = p.sack_perm();
    }
    if bits & 4 != 0 {
        p = p.ts(100, 0);
    }
    if bits & 8 != 0 {
        p = p.wscale((bits >> 4) % 15);
    }
    p
}

/// Bring a connection into `STATES[state]`.
fn start(t: &mut Trace<'_, '_>, state: usize, syn_opts: u8) -> Run {
    let opts = move |p: Pkt| syn_options(p, syn_opts);
    let irs = 1000;
    let mut f = match state {
        0 => {
            let l = t.listen(80);
            let mut f = Flow::for_test(80, 40_000, 0, irs + 1);
            f.sock = l;
            f
        }
        1 => {
            let (s, syn) = t.connect(443);
            // The peer's SYN would carry `irs`: offsets start there.
            let mut f = Flow::for_test(syn.sport, 443, syn.seq.wrapping_add(1), irs);
            f.sock = s;
            f
        }
        3 => t.active_open(443, opts, irs),
        _ => t.passive_open(80, opts, irs),
    };
    let our_base = (state >= 1).then_some(f.our_nxt);
    let mut seen = Vec::new();
    match STATES[state] {
        "fin-wait-1" | "fin-wait-2" | "closing" | "time-wait" => {
            let _ = t.w.shutdown_socket(f.sock, skbnet::socket::Shutdown::Write);
            seen = t.out();
            let fin = f.our_nxt;
            if STATES[state] == "closing" {
                let p = f.pkt().fin();
                f.peer_nxt = f.peer_nxt.wrapping_add(1);
                t.inject(&p);
            } else if STATES[state] != "fin-wait-1" {
                f.our_nxt = fin.wrapping_add(1);
                t.inject(&f.pkt());
                if STATES[state] == "time-wait" {
                    let p = f.pkt().fin();
                    f.peer_nxt = f.peer_nxt.wrapping_add(1);
                    t.inject(&p);
                }
            }
        }
        "close-wait" | "last-ack" => {
            let p = f.pkt().fin();
            f.peer_nxt = f.peer_nxt.wrapping_add(1);
            t.inject(&p);
            if STATES[state] == "last-ack" {
                let _ = t.w.close(f.sock);
            }
        }
        _ => {}
    }
    let mut r = Run {
        f,
        read_seq: (state >= 2).then_some(irs + 1),
        first_read: (state >= 2).then_some(irs + 1),
        our_base,
        written: 0,
        closed: STATES[state] == "last-ack",
        checking: true,
        syn_opts,
    };
    seen.extend(t.out());
    check_ours(&mut r, &seen);
    r
}

/// Every data byte we sent is our application's stream at its offset.
fn check_ours(r: &mut Run, seen: &[Out]) {
    for o in seen {
        r.f.saw(o);
        if o.ack_flag && !o.rst {
            // In SYN-SENT our first acknowledgment (an ACK of the SYN-ACK,
            // or our SYN-ACK in a simultaneous open) is the peer's ISN + 1:
            // the stream starts there.
            r.read_seq.get_or_insert(o.ack);
            r.first_read.get_or_insert(o.ack);
        }
        if o.syn && o.ack_flag && r.our_base.is_none_or(|b| o.seq.wrapping_add(1) != b) {
            // A SYN-ACK of a new incarnation, or a listener's.
            r.checking = false;
        }
        if o.rst || o.syn {
            continue;
        }
        r.f.our_nxt = if o.seq.wrapping_add(o.seg_len()).wrapping_sub(r.f.our_nxt) as i32 > 0 {
            o.seq.wrapping_add(o.seg_len())
        } else {
            r.f.our_nxt
        };
        if o.ack_flag {
            r.f.peer_nxt = o.ack;
        }
        let (Some(base), true) = (r.our_base, r.checking) else { continue };
        let off = o.seq.wrapping_sub(base);
        if off > u32::MAX / 2 || o.payload.is_empty() {
            continue;
        }
        assert!(off + o.payload.len() as u32 <= r.written, "we sent bytes past what was written: {o:?}");
        for (i, &b) in o.payload.iter().enumerate() {
            assert_eq!(b, our_byte(off + i as u32), "byte {} of our stream in {o:?}", off + i as u32);
        }
    }
}

fn apply(t: &mut Trace<'_, '_>, r: &mut Run, op: Op) {
    let s = r.f.sock;
    match op {
        Op::Seg { flags, seq, ack, win, len } => {
            let p = segment(r, flags, seq, ack, win, len);
            t.inject(&p);
        }
        Op::Burst(n) => {
            let mss = t.w.tcp_info(s).map_or(536, |i| u32::from(i.mss));
            let ps: Vec<Pkt> = (0..u32::from(n))
                .map(|i| {
                    let mut p = r.f.pkt();
                    p.seq = r.f.peer_nxt.wrapping_add(i * mss);
                    p.payload = (0..mss).map(|k| peer_byte(p.seq.wrapping_add(k))).collect();
                    p
                })
                .collect();
            t.inject_many(&ps);
        }
        Op::Send(n) if !r.closed => {
            let data: Vec<u8> = (0..u32::from(n)).map(|k| our_byte(r.written + k)).collect();
            if let Ok(took) = t.w.sendmsg(s, &data, None) {
                r.written += took as u32;
            }
        }
        Op::Recv(n) if !r.closed => {
            let mut buf = vec![0u8; usize::from(n).max(1)];
            if let Ok(m) = t.w.recvmsg(s, &mut buf)
                && m.len > 0
            {
                let at = r.read_seq.expect("data read before the connection was synchronized");
                for (i, &b) in buf[..m.len].iter().enumerate() {
                    assert_eq!(
                        b,
                        peer_byte(at.wrapping_add(i as u32)),
                        "the peer's stream at {}",
                        at.wrapping_add(i as u32)
                    );
                }
                r.read_seq = Some(at.wrapping_add(m.len as u32));
            }
        }
        Op::RecvFlags(n, f) if !r.closed => {
            let flags = RecvFlags { peek: f & 1 != 0, trunc: f & 2 != 0 };
            const UNTOUCHED: u8 = 0xa5;
            let mut buf = vec![UNTOUCHED; usize::from(n).max(1)];
            if let Ok(m) = t.w.recvmsg_flags(s, &mut buf, flags)
                && m.len > 0
            {
                let at = r.read_seq.expect("data read before the connection was synchronized");
                assert!(m.len <= buf.len(), "a stream never reports more than it was asked for");
                if !flags.trunc {
                    for (i, &b) in buf[..m.len].iter().enumerate() {
                        let k = at.wrapping_add(i as u32);
                        assert_eq!(b, peer_byte(k), "the peer's stream at {k} ({flags:?})");
                    }
                } else {
                    assert!(buf.iter().all(|&b| b == UNTOUCHED), "MSG_TRUNC on a stream copies nothing");
                }
                if !flags.peek {
                    r.read_seq = Some(at.wrapping_add(m.len as u32));
                }
            }
        }
        Op::Wait(ms) => t.advance(Duration::from_millis(u64::from(ms) * u64::from(ms))),
        Op::ShutWr if !r.closed => {
            let _ = t.w.shutdown_socket(s, skbnet::socket::Shutdown::Write);
        }
        Op::Close if !r.closed => {
            r.closed = t.w.close(s).is_ok();
        }
        Op::Opt(o) if !r.closed => {
            let _ = match o % 7 {
                0 => t.w.set_tcp_option(s, TcpOpt::NoDelay(o & 8 != 0)),
                1 => t.w.set_tcp_option(s, TcpOpt::Linger(Some(Duration::ZERO))),
                2 => {
                    t.w.set_tcp_option(s, TcpOpt::KeepIdle(Duration::from_secs(1)))
                        .and_then(|()| t.w.set_tcp_option(s, TcpOpt::KeepInterval(Duration::from_secs(1))))
                        .and_then(|()| t.w.set_tcp_option(s, TcpOpt::KeepAlive(true)))
                }
                3 => t.w.setsockopt(s, SockOpt::RcvBuf(4096)),
                4 => t.w.set_tcp_option(s, TcpOpt::MaxSeg(88)),
                5 => t.w.set_tcp_option(s, TcpOpt::Congestion(skbnet::tcp::cong::CongAlgo::NewReno)),
                _ => t.w.set_tcp_option(s, TcpOpt::UserTimeout(Duration::from_secs(2))),
            };
        }
        _ => {}
    }
    let seen = t.out();
    check_ours(r, &seen);
    if let Err(e) = t.w.tcp_info(s)
        && !r.closed
    {
        assert_eq!(e, Errno::BadFd, "only a closed socket loses its id");
    }
}

/// The peer's segment for `Op::Seg`.
fn segment(r: &mut Run, flags: u8, seq: i16, ack: i16, win: u16, len: u16) -> Pkt {
    let mut p = Pkt::ack(r.f.peer_port, r.f.our_port, 0, 0).win(win);
    p.seq = r.f.peer_nxt.wrapping_add(seq as i32 as u32);
    p.ack = (flags & 16 != 0).then(|| r.f.our_nxt.wrapping_add(ack as i32 as u32));
    p.fin = flags & 1 != 0;
    p.syn = flags & 2 != 0;
    p.rst = flags & 4 != 0;
    p.psh = flags & 8 != 0;
    if flags & 32 != 0 || r.syn_opts & 4 != 0 {
        r.f.tick(1);
        p.ts = Some((r.f.ts.unwrap_or(100), r.f.our_ts));
    }
    if flags & 64 != 0 {
        let a = r.f.our_nxt.wrapping_add((seq as i32 as u32) & 0x3fff);
        p.sack = vec![(a, a.wrapping_add(u32::from(len).max(1)))];
    }
    if p.syn {
        p = syn_options(p, r.syn_opts);
    }
    // The payload is the peer's stream at its sequence numbers.
    let first = p.seq.wrapping_add(u32::from(p.syn));
    p.payload = (0..u32::from(len)).map(|k| peer_byte(first.wrapping_add(k))).collect();
    p
}

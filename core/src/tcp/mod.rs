//! TCP, as Linux builds it (`net/ipv4/tcp*.c`).
//!
//! The send side follows the seed: `tcp_sendmsg` copies the application's
//! bytes once, into sk_buffs on the write queue (`output.rs`);
//! `tcp_write_xmit` sends what the congestion window, the receiver's window
//! and Nagle allow, as GSO super-packets of up to 64 KiB that the device
//! (or the software fallback) cuts into MSS-sized segments; each goes out as
//! a clone of the queued sk_buff with the headers pushed into its headroom,
//! so retransmission copies nothing; `tcp_transmit_skb` writes the header.
//! The receive side ([`input`]) validates, demultiplexes through hash tables,
//! runs the RFC 9293 state machine with RFC 5961's defences and PAWS,
//! processes ACKs with SACK-based loss recovery (`ack.rs`), and queues data
//! in order — the received sk_buffs themselves — or out of order with SACK
//! blocks for the peer (`recv.rs`). Timers (`timer.rs`) drive retransmission
//! (RFC 6298), delayed ACKs, zero-window probes and keepalive. Listeners
//! ([`listen`]) keep a SYN queue of small request entries and answer with
//! SYN cookies when it overflows; closed connections wait in a compact
//! TIME-WAIT table ([`timewait`]).
//!
//! Where the RFCs leave a choice, skbnet does what Linux does (DESIGN.md):
//! option layouts, a 1 kHz timestamp clock, IW10, 40 ms minimum delayed
//! ACK, 200 ms minimum RTO, 60 s TIME-WAIT.

mod ack;
mod api;
mod chain;
pub mod cong;
pub mod input;
pub mod isn;
pub mod listen;
mod output;
mod recv;
pub mod seq;
pub mod tcb;
mod timer;
pub mod timewait;

pub use api::{Shutdown, TcpEntry, TcpOpt, TcpSockStat};
pub use seq::Seq;
pub use tcb::{Tcb, TcpInfo};

use core::time::Duration;

/// Connection states (RFC 9293 §3.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TcpState {
    /// No connection.
    Closed,
    /// Waiting for connection requests.
    Listen,
    /// Sent a SYN, waiting for the SYN-ACK.
    SynSent,
    /// Got a SYN, sent a SYN-ACK, waiting for the ACK.
    SynReceived,
    /// Open.
    Established,
    /// Sent our FIN, waiting for its ACK.
    FinWait1,
    /// Our FIN was acknowledged, waiting for the peer's.
    FinWait2,
    /// The peer closed; we may still send.
    CloseWait,
    /// Both sent FIN at once, waiting for the ACK of ours.
    Closing,
    /// The peer closed first, we closed, waiting for the ACK of our FIN.
    LastAck,
    /// Both closed; waiting out old duplicates.
    TimeWait,
}

impl TcpState {
    /// True in the states where a connection is synchronized (RFC 9293).
    pub fn synchronized(self) -> bool {
        !matches!(self, TcpState::Closed | TcpState::Listen | TcpState::SynSent | TcpState::SynReceived)
    }

    /// True while the peer may still send us data.
    pub fn can_receive(self) -> bool {
        matches!(self, TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2)
    }
}

/// Linux's initial retransmission timeout (`TCP_TIMEOUT_INIT`, RFC 6298 §2.1).
pub const RTO_INIT: Duration = Duration::from_secs(1);
/// Linux's minimum RTO (`TCP_RTO_MIN`).
pub const RTO_MIN: Duration = Duration::from_millis(200);
/// Linux's maximum RTO (`TCP_RTO_MAX`).
pub const RTO_MAX: Duration = Duration::from_secs(120);
/// SYN retransmissions before `connect` gives up (`tcp_syn_retries`).
pub const SYN_RETRIES: u8 = 6;
/// SYN-ACK retransmissions of a request (`tcp_synack_retries`).
pub const SYNACK_RETRIES: u8 = 5;
/// Retransmissions of established data before the connection dies (`tcp_retries2`).
pub const RETRIES2: u8 = 15;
/// Shortest delayed-ACK wait (`TCP_DELACK_MIN`).
pub const DELACK_MIN: Duration = Duration::from_millis(40);
/// Longest delayed-ACK wait (`TCP_DELACK_MAX`).
pub const DELACK_MAX: Duration = Duration::from_millis(200);
/// How long TIME-WAIT lasts (`TCP_TIMEWAIT_LEN`).
pub const TIME_WAIT: Duration = Duration::from_secs(60);
/// How long an orphaned FIN-WAIT-2 waits for the peer's FIN (`tcp_fin_timeout`).
pub const FIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Initial congestion window in segments (RFC 6928).
pub const INIT_CWND: u32 = 10;
/// The MSS assumed when the peer says nothing (RFC 9293 §3.7.1).
pub const DEFAULT_MSS: u16 = 536;
/// Bytes of a TCP super-packet, headers included (`GSO_MAX_SIZE`).
pub const GSO_MAX: usize = 65_536;
/// Our receive window scale (Linux computes it from the largest buffer;
/// 7 covers 8 MiB).
pub const WSCALE: u8 = 7;
/// Headroom reserved in every TCP sk_buff for Ethernet, IPv4 and TCP
/// headers with options (`MAX_TCP_HEADER`).
pub const HEADROOM: usize = 128;

//! What a rule is made of: matches ("expressions" in nftables' words) and
//! statements, in a fixed-size, `Copy` form that the rule engine walks
//! without decoding (Linux compiles nft rules into `struct nft_expr`
//! arrays; here the parser fills [`Expr`] slots directly).
//!
//! A rule is at most [`MAX_EXPRS`] of them, evaluated left to right: a
//! match that fails ends the rule, a statement does something, and a
//! verdict statement ends the rule and decides the packet's fate in the
//! chain.

use crate::netfilter::NfHook;

/// Most matches and statements one rule holds.
pub const MAX_EXPRS: usize = 8;

/// Longest table, chain or set name.
pub const NAME_MAX: usize = 31;

/// A table, chain or set name.
pub type NftName = heapless::String<NAME_MAX>;

/// Longest `log prefix`.
pub const LOG_PREFIX_MAX: usize = 24;

/// Deepest `jump` nesting (Linux's `NFT_JUMP_STACK_SIZE`).
pub const JUMP_DEPTH: usize = 16;

/// An nftables address family. Both see IPv4 packets; `inet` will also see
/// IPv6 when the stack has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Family {
    /// `ip`: IPv4.
    Ip,
    /// `inet`: IPv4 and (later) IPv6.
    Inet,
}

impl Family {
    /// The keyword.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Inet => "inet",
        }
    }
}

/// A base chain's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ChainType {
    /// `filter`: sees every packet.
    Filter,
    /// `nat`: sees the first packet of each connection and decides its
    /// address translation.
    Nat,
}

/// What a base chain does with a packet no rule decided about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Policy {
    /// Let it pass.
    Accept,
    /// Drop it.
    Drop,
}

/// Standard priorities (Linux's `NF_IP_PRI_*`): lower runs first.
pub mod prio {
    /// Raw table, before conntrack.
    pub const RAW: i32 = -300;
    /// Connection tracking.
    pub const CONNTRACK: i32 = -200;
    /// Packet mangling.
    pub const MANGLE: i32 = -150;
    /// Destination NAT (`dstnat`).
    pub const NAT_DST: i32 = -100;
    /// Filtering (`filter`).
    pub const FILTER: i32 = 0;
    /// Security.
    pub const SECURITY: i32 = 50;
    /// Source NAT (`srcnat`).
    pub const NAT_SRC: i32 = 100;
    /// Conntrack confirmation, after everything.
    pub const CONNTRACK_CONFIRM: i32 = i32::MAX;
}

/// How a base chain hangs off a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BaseChain {
    /// Filter or NAT.
    pub ty: ChainType,
    /// The hook.
    pub hook: NfHook,
    /// Order among everything at the hook.
    pub priority: i32,
    /// Fate of packets no rule decided about.
    pub policy: Policy,
}

/// The packet field a comparison reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Key {
    /// `ip saddr`.
    IpSaddr,
    /// `ip daddr`.
    IpDaddr,
    /// `ip protocol`.
    IpProtocol,
    /// `meta l4proto`.
    L4Proto,
    /// `ip length` (the IPv4 total length).
    IpLength,
    /// `ip ttl`.
    IpTtl,
    /// `tcp sport`.
    TcpSport,
    /// `tcp dport`.
    TcpDport,
    /// `udp sport`.
    UdpSport,
    /// `udp dport`.
    UdpDport,
    /// `th sport`: TCP or UDP.
    ThSport,
    /// `th dport`: TCP or UDP.
    ThDport,
    /// `icmp type`.
    IcmpType,
    /// `icmp code`.
    IcmpCode,
    /// `meta mark`.
    Mark,
    /// `meta length`: the packet's length.
    Length,
    /// `iif`: the input interface, by index.
    Iif,
    /// `oif`: the output interface, by index.
    Oif,
}

impl Key {
    /// How the rule prints it.
    pub fn name(self) -> &'static str {
        match self {
            Key::IpSaddr => "ip saddr",
            Key::IpDaddr => "ip daddr",
            Key::IpProtocol => "ip protocol",
            Key::L4Proto => "meta l4proto",
            Key::IpLength => "ip length",
            Key::IpTtl => "ip ttl",
            Key::TcpSport => "tcp sport",
            Key::TcpDport => "tcp dport",
            Key::UdpSport => "udp sport",
            Key::UdpDport => "udp dport",
            Key::ThSport => "th sport",
            Key::ThDport => "th dport",
            Key::IcmpType => "icmp type",
            Key::IcmpCode => "icmp code",
            Key::Mark => "meta mark",
            Key::Length => "meta length",
            Key::Iif => "iif",
            Key::Oif => "oif",
        }
    }

    /// The kind of value it compares, which also types the sets it may use.
    pub fn kind(self) -> SetKey {
        match self {
            Key::IpSaddr | Key::IpDaddr => SetKey::Ipv4Addr,
            Key::IpProtocol | Key::L4Proto => SetKey::InetProto,
            Key::TcpSport | Key::TcpDport | Key::UdpSport | Key::UdpDport | Key::ThSport | Key::ThDport => {
                SetKey::InetService
            }
            Key::IcmpType => SetKey::IcmpType,
            Key::Mark => SetKey::Mark,
            Key::IpLength | Key::IpTtl | Key::IcmpCode | Key::Length | Key::Iif | Key::Oif => SetKey::Integer,
        }
    }
}

/// The type of a set's elements (`type ipv4_addr` ...), which is also how
/// values of a [`Key`] are written and printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SetKey {
    /// `ipv4_addr`.
    Ipv4Addr,
    /// `inet_service`: a port.
    InetService,
    /// `inet_proto`: an IP protocol number.
    InetProto,
    /// `icmp_type`.
    IcmpType,
    /// `mark`.
    Mark,
    /// A plain number (lengths, codes, interface indexes): not a set type.
    Integer,
}

impl SetKey {
    /// The `type` keyword.
    pub fn name(self) -> &'static str {
        match self {
            SetKey::Ipv4Addr => "ipv4_addr",
            SetKey::InetService => "inet_service",
            SetKey::InetProto => "inet_proto",
            SetKey::IcmpType => "icmp_type",
            SetKey::Mark => "mark",
            SetKey::Integer => "integer",
        }
    }

    /// The largest value of the type.
    pub fn max(self) -> u32 {
        match self {
            SetKey::Ipv4Addr | SetKey::Mark | SetKey::Integer => u32::MAX,
            SetKey::InetService => u32::from(u16::MAX),
            SetKey::InetProto | SetKey::IcmpType => u32::from(u8::MAX),
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Rhs {
    /// Equal to the value.
    Value(u32),
    /// Within the inclusive range.
    Range(u32, u32),
    /// Within the prefix (an address and its length).
    Prefix(u32, u8),
    /// In the set with this slot (named or anonymous).
    Set(u16),
}

/// Connection-tracking states, as `ct state` bits.
pub mod ct_state {
    /// `invalid`: no connection could be associated.
    pub const INVALID: u8 = 1;
    /// `established`: a connection that has seen packets both ways.
    pub const ESTABLISHED: u8 = 2;
    /// `related`: an ICMP error about a tracked connection.
    pub const RELATED: u8 = 4;
    /// `new`: the first packets of a connection, before any reply.
    pub const NEW: u8 = 8;
    /// `untracked`: never set by this stack (no `notrack`).
    pub const UNTRACKED: u8 = 64;
    /// The names in listing order.
    pub const NAMES: [(u8, &str); 5] = [
        (INVALID, "invalid"),
        (ESTABLISHED, "established"),
        (RELATED, "related"),
        (NEW, "new"),
        (UNTRACKED, "untracked"),
    ];
}

/// How `reject` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RejectWith {
    /// An ICMP destination unreachable with this code (3 port, 1 host,
    /// 0 net, 2 protocol, 13 administratively prohibited).
    Icmp(u8),
    /// A TCP reset (TCP packets only; others are just dropped).
    TcpReset,
}

/// Which address a NAT statement rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NatKind {
    /// `snat to`: the source, to a given address.
    Snat,
    /// `masquerade`: the source, to the output interface's address.
    Masquerade,
    /// `dnat to`: the destination.
    Dnat,
}

/// A NAT statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NatStmt {
    /// What is rewritten.
    pub kind: NatKind,
    /// The address range to choose from (`None` for masquerade).
    pub addr: Option<(u32, u32)>,
    /// The port range to choose from, if given.
    pub ports: Option<(u16, u16)>,
}

/// A verdict statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Verdict {
    /// Accept in this chain (later base chains still see the packet).
    Accept,
    /// Drop the packet.
    Drop,
    /// Back to the chain that jumped here (or the policy of a base chain).
    Return,
    /// Evaluate the chain with this slot, then come back.
    Jump(u16),
    /// Evaluate the chain with this slot instead of the rest of this one.
    Goto(u16),
}

/// One match or statement of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Expr {
    /// Compare a packet field; `neg` for `!=`.
    Cmp {
        /// The field.
        key: Key,
        /// Negated.
        neg: bool,
        /// What it is compared with.
        rhs: Rhs,
    },
    /// `iifname` (`out == false`) or `oifname` equal to `name` (NUL padded).
    IfName {
        /// The output interface.
        out: bool,
        /// Negated.
        neg: bool,
        /// The name's bytes.
        name: [u8; 16],
    },
    /// `ct state` in the bit mask of [`ct_state`].
    CtState {
        /// Negated.
        neg: bool,
        /// The states.
        mask: u8,
    },
    /// `counter`: count packets and bytes in the rule.
    Counter,
    /// `log [prefix "..."]`.
    Log {
        /// The prefix bytes.
        prefix: [u8; LOG_PREFIX_MAX],
        /// Its length.
        len: u8,
    },
    /// `meta mark set`.
    MarkSet(u32),
    /// `reject`.
    Reject(RejectWith),
    /// `snat`, `dnat`, `masquerade`.
    Nat(NatStmt),
    /// `accept`, `drop`, `return`, `jump`, `goto`.
    Verdict(Verdict),
}

impl Expr {
    /// True for the statements that end a rule.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Expr::Verdict(_) | Expr::Reject(_) | Expr::Nat(_))
    }

    /// The set this expression refers to, if any.
    pub fn set(&self) -> Option<u16> {
        match self {
            Expr::Cmp { rhs: Rhs::Set(s), .. } => Some(*s),
            _ => None,
        }
    }
}

/// Store an interface name NUL padded; `None` when it is too long.
pub fn pack_name(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 15 {
        return None;
    }
    let mut out = [0u8; 16];
    out[..b.len()].copy_from_slice(b);
    Some(out)
}

/// The name stored by [`pack_name`].
pub fn unpack_name(b: &[u8]) -> &str {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    core::str::from_utf8(&b[..n]).unwrap_or("?")
}

/// ICMP type names, as nft spells them.
pub const ICMP_TYPES: [(u8, &str); 13] = [
    (0, "echo-reply"),
    (3, "destination-unreachable"),
    (4, "source-quench"),
    (5, "redirect"),
    (8, "echo-request"),
    (9, "router-advertisement"),
    (10, "router-solicitation"),
    (11, "time-exceeded"),
    (12, "parameter-problem"),
    (13, "timestamp-request"),
    (14, "timestamp-reply"),
    (15, "info-request"),
    (16, "info-reply"),
];

/// ICMP unreachable codes `reject with icmp` knows.
pub const REJECT_CODES: [(u8, &str); 5] = [
    (0, "net-unreachable"),
    (1, "host-unreachable"),
    (2, "prot-unreachable"),
    (3, "port-unreachable"),
    (13, "admin-prohibited"),
];

/// IP protocol names.
pub const PROTOCOLS: [(u8, &str); 3] = [(1, "icmp"), (6, "tcp"), (17, "udp")];

/// Well-known service names (`/etc/services`).
pub const SERVICES: [(u16, &str); 13] = [
    (20, "ftp-data"),
    (21, "ftp"),
    (22, "ssh"),
    (23, "telnet"),
    (25, "smtp"),
    (53, "domain"),
    (67, "bootps"),
    (68, "bootpc"),
    (80, "http"),
    (123, "ntp"),
    (161, "snmp"),
    (443, "https"),
    (8080, "http-alt"),
];

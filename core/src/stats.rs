//! Per-namespace MIB counters named as Linux names them in `/proc/net/snmp`
//! and `/proc/net/netstat`, and drop counters by reason (Linux's
//! `SKB_DROP_REASON_*`), so every dropped packet is accounted for.

/// Define a counter struct whose field list doubles as the Linux names.
macro_rules! mib {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident = $linux:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[allow(non_snake_case)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: u64,)*
        }

        impl $name {
            /// Every counter with its Linux name, in `/proc/net/snmp` order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
                [$(($linux, self.$field)),*].into_iter()
            }
        }
    };
}

mib!(
    /// The `Ip:` and `IpExt:` lines.
    IpMib {
        /// Datagrams received from interfaces, errors included.
        InReceives = "InReceives",
        /// Discarded for header errors: bad version, header length, checksum, TTL expired, martian source.
        InHdrErrors = "InHdrErrors",
        /// Discarded because the destination was not ours and we do not forward.
        InAddrErrors = "InAddrErrors",
        /// Forwarded.
        ForwDatagrams = "ForwDatagrams",
        /// Delivered locally but no protocol handles them.
        InUnknownProtos = "InUnknownProtos",
        /// Discarded for lack of resources.
        InDiscards = "InDiscards",
        /// Delivered to a transport protocol.
        InDelivers = "InDelivers",
        /// Sent by local protocols.
        OutRequests = "OutRequests",
        /// Discarded on output for lack of resources.
        OutDiscards = "OutDiscards",
        /// Discarded on output because no route matched.
        OutNoRoutes = "OutNoRoutes",
        /// Reassemblies that timed out.
        ReasmTimeout = "ReasmTimeout",
        /// Fragments received that needed reassembly.
        ReasmReqds = "ReasmReqds",
        /// Datagrams reassembled.
        ReasmOKs = "ReasmOKs",
        /// Reassembly failures (timeouts, overlaps, limits).
        ReasmFails = "ReasmFails",
        /// Datagrams fragmented.
        FragOKs = "FragOKs",
        /// Datagrams that needed fragmenting but could not be (DF set).
        FragFails = "FragFails",
        /// Fragments created.
        FragCreates = "FragCreates",
        /// Received datagrams with no route (forwarding).
        InNoRoutes = "InNoRoutes",
        /// Received datagrams shorter than their headers say.
        InTruncatedPkts = "InTruncatedPkts",
        /// Received with a bad IPv4 header checksum.
        InCsumErrors = "InCsumErrors",
        /// Received link-layer broadcasts.
        InBcastPkts = "InBcastPkts",
        /// Sent link-layer broadcasts.
        OutBcastPkts = "OutBcastPkts",
        /// Bytes received.
        InOctets = "InOctets",
        /// Bytes sent.
        OutOctets = "OutOctets",
    }
);

mib!(
    /// The `Icmp:` line.
    IcmpMib {
        /// Messages received.
        InMsgs = "InMsgs",
        /// Messages received with errors.
        InErrors = "InErrors",
        /// Messages with a bad checksum.
        InCsumErrors = "InCsumErrors",
        /// Destination unreachable received.
        InDestUnreachs = "InDestUnreachs",
        /// Time exceeded received.
        InTimeExcds = "InTimeExcds",
        /// Parameter problem received.
        InParmProbs = "InParmProbs",
        /// Echo requests received.
        InEchos = "InEchos",
        /// Echo replies received.
        InEchoReps = "InEchoReps",
        /// Messages sent.
        OutMsgs = "OutMsgs",
        /// Messages not sent for lack of resources.
        OutErrors = "OutErrors",
        /// Errors not sent because of the rate limit.
        OutRateLimitGlobal = "OutRateLimitGlobal",
        /// Destination unreachable sent.
        OutDestUnreachs = "OutDestUnreachs",
        /// Time exceeded sent.
        OutTimeExcds = "OutTimeExcds",
        /// Parameter problem sent.
        OutParmProbs = "OutParmProbs",
        /// Echo requests sent.
        OutEchos = "OutEchos",
        /// Echo replies sent.
        OutEchoReps = "OutEchoReps",
    }
);

mib!(
    /// The `Udp:` line.
    UdpMib {
        /// Datagrams delivered to sockets.
        InDatagrams = "InDatagrams",
        /// Datagrams for a port with no socket.
        NoPorts = "NoPorts",
        /// Datagrams discarded for errors (length, checksum, buffer).
        InErrors = "InErrors",
        /// Datagrams sent.
        OutDatagrams = "OutDatagrams",
        /// Datagrams dropped because the socket's receive buffer was full.
        RcvbufErrors = "RcvbufErrors",
        /// Datagrams not sent because the socket's send buffer was full.
        SndbufErrors = "SndbufErrors",
        /// Datagrams with a bad checksum.
        InCsumErrors = "InCsumErrors",
        /// Broadcast datagrams for a port no socket is bound to (not
        /// counted as `NoPorts`: nobody is owed an answer).
        IgnoredMulti = "IgnoredMulti",
    }
);

mib!(
    /// The `Tcp:` line.
    TcpMib {
        /// Connections that went from CLOSED to SYN-SENT.
        ActiveOpens = "ActiveOpens",
        /// Connections that went from LISTEN to SYN-RECEIVED.
        PassiveOpens = "PassiveOpens",
        /// Connection attempts that failed.
        AttemptFails = "AttemptFails",
        /// Established connections reset.
        EstabResets = "EstabResets",
        /// Connections now ESTABLISHED or CLOSE-WAIT (a gauge).
        CurrEstab = "CurrEstab",
        /// Segments received, errors included.
        InSegs = "InSegs",
        /// Segments sent, retransmissions excluded.
        OutSegs = "OutSegs",
        /// Segments retransmitted.
        RetransSegs = "RetransSegs",
        /// Segments received in error (bad checksum, bad header).
        InErrs = "InErrs",
        /// Resets sent.
        OutRsts = "OutRsts",
        /// Segments with a bad checksum.
        InCsumErrors = "InCsumErrors",
    }
);

mib!(
    /// The `TcpExt:` line (the counters skbnet keeps).
    TcpExtMib {
        /// SYN cookies sent.
        SyncookiesSent = "SyncookiesSent",
        /// Valid SYN cookies received.
        SyncookiesRecv = "SyncookiesRecv",
        /// Invalid SYN cookies received.
        SyncookiesFailed = "SyncookiesFailed",
        /// Connections put in TIME-WAIT.
        TW = "TW",
        /// Segments dropped by PAWS.
        PAWSEstab = "PAWSEstab",
        /// Delayed ACKs sent.
        DelayedACKs = "DelayedACKs",
        /// Times the accept queue was full.
        ListenOverflows = "ListenOverflows",
        /// SYNs and handshakes dropped at a listener.
        ListenDrops = "ListenDrops",
        /// Recoveries using SACK.
        TCPSACKRecovery = "TCPSACKRecovery",
        /// Recoveries using NewReno.
        TCPRenoRecovery = "TCPRenoRecovery",
        /// Retransmission timeouts.
        TCPTimeouts = "TCPTimeouts",
        /// Segments retransmitted by fast retransmit.
        TCPFastRetrans = "TCPFastRetrans",
        /// Segments retransmitted in slow start after a timeout.
        TCPSlowStartRetrans = "TCPSlowStartRetrans",
        /// Challenge ACKs sent (RFC 5961).
        TCPChallengeACK = "TCPChallengeACK",
        /// Challenge ACKs sent for a SYN on a synchronized connection.
        TCPSYNChallenge = "TCPSYNChallenge",
        /// Segments queued out of order.
        TCPOFOQueue = "TCPOFOQueue",
        /// Out-of-order segments dropped (no room).
        TCPOFODrop = "TCPOFODrop",
        /// In-order segments dropped for lack of receive buffer.
        TCPRcvQDrop = "TCPRcvQDrop",
        /// Segments dropped because the window was zero.
        TCPZeroWindowDrop = "TCPZeroWindowDrop",
        /// Connections aborted by the application with data unread.
        TCPAbortOnData = "TCPAbortOnData",
        /// Connections reset because the application closed with data unread.
        TCPAbortOnClose = "TCPAbortOnClose",
        /// Connections reset by a close with `SO_LINGER` zero or its time up.
        TCPAbortOnLinger = "TCPAbortOnLinger",
        /// Connections aborted after close by a timeout.
        TCPAbortOnTimeout = "TCPAbortOnTimeout",
        /// Zero-window probes sent.
        TCPWinProbe = "TCPWinProbe",
        /// Keepalive probes sent.
        TCPKeepAlive = "TCPKeepAlive",
        /// ACKs for data we never sent, dropped.
        TCPACKSkippedSeq = "TCPACKSkippedSeq",
        /// Out-of-order packets discarded to make room for in-order data.
        OfoPruned = "OfoPruned",
        /// Retransmission timeouts that found the peer had discarded data it
        /// had SACKed (reneging): the SACK marks were forgotten.
        TCPSACKReneging = "TCPSACKReneging",
    }
);

/// Why a packet was dropped. Each has its own counter, so nothing is lost
/// without a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum DropReason {
    /// A header is shorter than it must be.
    Truncated,
    /// IP version is not 4.
    BadVersion,
    /// IP header length below 20 or beyond the packet.
    BadHeaderLen,
    /// IP total length below the header or beyond the packet.
    BadTotalLen,
    /// IPv4 header checksum wrong.
    BadIpChecksum,
    /// TCP/UDP/ICMP checksum wrong.
    BadL4Checksum,
    /// Source is a loopback address, received from the wire.
    MartianLoopback,
    /// Source in 240.0.0.0/4 (class E).
    MartianClassE,
    /// Source is a broadcast address.
    MartianBroadcast,
    /// Source is a multicast address.
    MartianMulticast,
    /// Source in 0.0.0.0/8 on a packet that is not to the limited
    /// broadcast address (as a DHCP discover is).
    MartianZero,
    /// Source is one of the namespace's own addresses, received from a
    /// device other than loopback (Linux's `fib_validate_source`).
    MartianLocal,
    /// Destination in 127.0.0.0/8 or 0.0.0.0/8, received from a device other
    /// than loopback (RFC 1122 §3.2.1.3).
    MartianDestination,
    /// IPv4 options that do not parse (an option running past the header,
    /// a length below 2): answered with a parameter problem.
    BadIpOptions,
    /// A source-route option (LSRR, SSRR): refused, as Linux refuses it
    /// with `accept_source_route` off (its default).
    SourceRoute,
    /// Destination is ours neither by address nor by route, and we do not forward.
    NotForUs,
    /// No route to the destination.
    NoRoute,
    /// TTL ran out while forwarding.
    TtlExpired,
    /// Packet too big for the next hop with DF set.
    FragNeeded,
    /// Transport protocol not handled.
    UnknownProtocol,
    /// A netfilter hook said drop.
    Netfilter,
    /// No socket for the destination port.
    NoSocket,
    /// The socket's receive buffer is full.
    RcvBufFull,
    /// A UDP length field disagrees with the IP length.
    BadUdpLength,
    /// Malformed ICMP message.
    BadIcmp,
    /// An ICMP error that quotes a packet we did not send.
    IcmpNotOurs,
    /// Fragments overlapped.
    ReasmOverlap,
    /// Reassembly timed out.
    ReasmTimeout,
    /// Reassembly slots or memory were full.
    ReasmNoSpace,
    /// Reassembled datagram would exceed 65535 bytes.
    ReasmTooBig,
    /// An exact copy of a fragment already held (Linux's `DUP_FRAG`): the
    /// copy goes, the datagram lives on.
    ReasmDuplicate,
    /// Malformed or unsupported ARP.
    BadArp,
    /// The neighbour could not be resolved.
    NeighFailed,
    /// Too many packets waiting for a neighbour.
    NeighQueueFull,
    /// The neighbour table is full.
    NeighTableFull,
    /// The interface's transmit backlog is full.
    TxQueueFull,
    /// The device refused the packet (its features or link).
    DeviceDrop,
    /// The pool had no memory to finish the job.
    NoMemory,
    /// The interface is down.
    LinkDown,
    /// Not IPv4 or ARP.
    UnknownEtherType,
    /// A TCP segment outside the receive window, or otherwise unacceptable.
    TcpBadSeq,
    /// A TCP segment for no connection and no listener.
    TcpNoSocket,
    /// A TCP segment failed PAWS.
    TcpPaws,
    /// A listener's queues were full.
    TcpListenOverflow,
    /// A TCP segment sent to a broadcast or multicast address.
    TcpNotUnicast,
    /// A TCP handshake segment whose ACK is not for our SYN or SYN-ACK
    /// (answered with a reset; Linux's `TCP_INVALID_ACK_SEQUENCE`).
    TcpInvalidAck,
    /// A TCP segment acknowledging data never sent (RFC 5961 §5.2; Linux's
    /// `TCP_ACK_UNSENT_DATA`).
    TcpAckUnsentData,
    /// A TCP segment whose ACK is older than any window (RFC 5961 §5.2;
    /// answered by a challenge ACK; Linux's `TCP_TOO_OLD_ACK`).
    TcpOldAck,
    /// A TCP segment with flags its connection's state cannot take: no ACK
    /// once synchronized, neither SYN nor RST in SYN-SENT (Linux's
    /// `TCP_FLAGS`).
    TcpFlags,
    /// A SYN on a synchronized connection (answered by a challenge ACK,
    /// RFC 5961 §4; Linux's `TCP_INVALID_SYN`).
    TcpInvalidSyn,
    /// A reset inside the window but not at `RCV.NXT` (answered by a
    /// challenge ACK, RFC 5961 §3; Linux's `TCP_RESET`).
    TcpRstNotExact,
    /// TCP data all of which had been received already (Linux's
    /// `TCP_OLD_DATA`).
    TcpOldData,
    /// TCP data entirely beyond the receive window (Linux's
    /// `TCP_OVERWINDOW`).
    TcpOverWindow,
    /// TCP data at `RCV.NXT` that came while the receive window was closed,
    /// a zero-window probe among them (Linux's `TCP_ZEROWINDOW`; also
    /// counted in `TCPZeroWindowDrop`).
    TcpZeroWindow,
    /// A frame whose source MAC is multicast, broadcast or zero (Linux's
    /// `MAC_INVALID_SOURCE`).
    BadSrcMac,
    /// A link-layer frame addressed to another host.
    OtherHost,
}

impl DropReason {
    /// How many reasons there are.
    pub const COUNT: usize = DropReason::OtherHost as usize + 1;

    /// All reasons, in counter order.
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::Truncated,
        DropReason::BadVersion,
        DropReason::BadHeaderLen,
        DropReason::BadTotalLen,
        DropReason::BadIpChecksum,
        DropReason::BadL4Checksum,
        DropReason::MartianLoopback,
        DropReason::MartianClassE,
        DropReason::MartianBroadcast,
        DropReason::MartianMulticast,
        DropReason::MartianZero,
        DropReason::MartianLocal,
        DropReason::MartianDestination,
        DropReason::BadIpOptions,
        DropReason::SourceRoute,
        DropReason::NotForUs,
        DropReason::NoRoute,
        DropReason::TtlExpired,
        DropReason::FragNeeded,
        DropReason::UnknownProtocol,
        DropReason::Netfilter,
        DropReason::NoSocket,
        DropReason::RcvBufFull,
        DropReason::BadUdpLength,
        DropReason::BadIcmp,
        DropReason::IcmpNotOurs,
        DropReason::ReasmOverlap,
        DropReason::ReasmTimeout,
        DropReason::ReasmNoSpace,
        DropReason::ReasmTooBig,
        DropReason::ReasmDuplicate,
        DropReason::BadArp,
        DropReason::NeighFailed,
        DropReason::NeighQueueFull,
        DropReason::NeighTableFull,
        DropReason::TxQueueFull,
        DropReason::DeviceDrop,
        DropReason::NoMemory,
        DropReason::LinkDown,
        DropReason::UnknownEtherType,
        DropReason::TcpBadSeq,
        DropReason::TcpNoSocket,
        DropReason::TcpPaws,
        DropReason::TcpListenOverflow,
        DropReason::TcpNotUnicast,
        DropReason::TcpInvalidAck,
        DropReason::TcpAckUnsentData,
        DropReason::TcpOldAck,
        DropReason::TcpFlags,
        DropReason::TcpInvalidSyn,
        DropReason::TcpRstNotExact,
        DropReason::TcpOldData,
        DropReason::TcpOverWindow,
        DropReason::TcpZeroWindow,
        DropReason::BadSrcMac,
        DropReason::OtherHost,
    ];
}

/// Drop counts by reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Drops([u64; DropReason::COUNT]);

impl Default for Drops {
    fn default() -> Drops {
        Drops([0; DropReason::COUNT])
    }
}

impl Drops {
    /// Count one drop.
    pub fn count(&mut self, why: DropReason) {
        self.0[why as usize] += 1;
    }

    /// Count `n` drops of one reason.
    pub fn add(&mut self, why: DropReason, n: u64) {
        self.0[why as usize] += n;
    }

    /// Drops for one reason.
    pub fn get(&self, why: DropReason) -> u64 {
        self.0[why as usize]
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Reasons with a non-zero count.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|&r| (r, self.get(r))).filter(|&(_, n)| n > 0)
    }
}

/// Every counter of a namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NetStats {
    /// IP.
    pub ip: IpMib,
    /// ICMP.
    pub icmp: IcmpMib,
    /// UDP.
    pub udp: UdpMib,
    /// TCP.
    pub tcp: TcpMib,
    /// TCP extensions.
    pub tcp_ext: TcpExtMib,
    /// Drops by reason.
    pub drops: Drops,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_linux_and_reasons_are_dense() {
        let ip = IpMib { InReceives: 3, ..IpMib::default() };
        assert_eq!(ip.iter().next(), Some(("InReceives", 3)));
        assert_eq!(UdpMib::default().iter().map(|(n, _)| n).collect::<Vec<_>>()[..2], ["InDatagrams", "NoPorts"]);
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        let mut d = Drops::default();
        d.count(DropReason::NoSocket);
        d.count(DropReason::NoSocket);
        assert_eq!(d.iter().collect::<Vec<_>>(), [(DropReason::NoSocket, 2)]);
        assert_eq!(d.total(), 2);
    }
}

//! The numbers of Linux's netlink and rtnetlink interface
//! (`linux/netlink.h`, `linux/rtnetlink.h`, `linux/if_link.h`,
//! `linux/if_addr.h`, `linux/if.h`, `linux/veth.h`), under their Linux names,
//! and the numbers of skbnet's own message family.
//!
//! Integers in headers and attributes are in host byte order, as Linux's
//! are; addresses are in network byte order.

// Message types of the netlink layer itself.
/// Nothing: skipped.
pub const NLMSG_NOOP: u16 = 1;
/// An error, or (error 0) an acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// The end of a multipart message (a dump).
pub const NLMSG_DONE: u16 = 3;
/// Data lost.
pub const NLMSG_OVERRUN: u16 = 4;
/// Types below this are the netlink layer's own.
pub const NLMSG_MIN_TYPE: u16 = 0x10;

// Flags of every message.
/// A request.
pub const NLM_F_REQUEST: u16 = 0x1;
/// Part of a multipart message, ended by `NLMSG_DONE`.
pub const NLM_F_MULTI: u16 = 0x2;
/// Answer with an acknowledgement (an `NLMSG_ERROR` with error 0).
pub const NLM_F_ACK: u16 = 0x4;
/// Echo the request back.
pub const NLM_F_ECHO: u16 = 0x8;
/// The dump changed while it was being written: it may be inconsistent.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// The dump was filtered as asked.
pub const NLM_F_DUMP_FILTERED: u16 = 0x20;
// Flags of GET requests.
/// Return the whole table.
pub const NLM_F_ROOT: u16 = 0x100;
/// Return every entry that matches.
pub const NLM_F_MATCH: u16 = 0x200;
/// `NLM_F_ROOT | NLM_F_MATCH`: a dump.
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
// Flags of NEW requests.
/// Replace an existing object.
pub const NLM_F_REPLACE: u16 = 0x100;
/// Fail if the object exists.
pub const NLM_F_EXCL: u16 = 0x200;
/// Create the object if it does not exist.
pub const NLM_F_CREATE: u16 = 0x400;
/// Add to the end of a list.
pub const NLM_F_APPEND: u16 = 0x800;
// Flags of acknowledgements.
/// The error message carries only the request's header, not its payload.
pub const NLM_F_CAPPED: u16 = 0x100;
/// Extended acknowledgement attributes follow the error.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

// Extended acknowledgement attributes (`enum nlmsgerr_attrs`).
/// A text message (NUL-terminated string).
pub const NLMSGERR_ATTR_MSG: u16 = 1;
/// Offset of the offending attribute in the request (u32).
pub const NLMSGERR_ATTR_OFFS: u16 = 2;

// Attribute type bits.
/// The attribute holds attributes.
pub const NLA_F_NESTED: u16 = 1 << 15;
/// The attribute's payload is in network byte order.
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
/// The type bits of an attribute's type.
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

// rtnetlink message types.
/// Create or change a link.
pub const RTM_NEWLINK: u16 = 16;
/// Delete a link.
pub const RTM_DELLINK: u16 = 17;
/// Get or dump links.
pub const RTM_GETLINK: u16 = 18;
/// Change a link (`ip link set` on old iproute2; libraries' `set`).
pub const RTM_SETLINK: u16 = 19;
/// Add an address.
pub const RTM_NEWADDR: u16 = 20;
/// Delete an address.
pub const RTM_DELADDR: u16 = 21;
/// Dump addresses.
pub const RTM_GETADDR: u16 = 22;
/// Add a route.
pub const RTM_NEWROUTE: u16 = 24;
/// Delete a route.
pub const RTM_DELROUTE: u16 = 25;
/// Get (look up) or dump routes.
pub const RTM_GETROUTE: u16 = 26;

// Address families.
/// Any family.
pub const AF_UNSPEC: u8 = 0;
/// IPv4.
pub const AF_INET: u8 = 2;
/// Bridge (forwarding database entries, port settings).
pub const AF_BRIDGE: u8 = 7;
/// IPv6.
pub const AF_INET6: u8 = 10;

// Device types (`ifi_type`, `ARPHRD_*`).
/// Ethernet.
pub const ARPHRD_ETHER: u16 = 1;
/// Loopback.
pub const ARPHRD_LOOPBACK: u16 = 772;
/// No link-layer header (TUN).
pub const ARPHRD_NONE: u16 = 0xfffe;

// Interface flags (`ifi_flags`, `IFF_*`).
/// Administratively up.
pub const IFF_UP: u32 = 0x1;
/// Has a broadcast address.
pub const IFF_BROADCAST: u32 = 0x2;
/// A loopback device.
pub const IFF_LOOPBACK: u32 = 0x8;
/// Point-to-point.
pub const IFF_POINTOPOINT: u32 = 0x10;
/// Operationally up (`RUNNING`).
pub const IFF_RUNNING: u32 = 0x40;
/// No ARP.
pub const IFF_NOARP: u32 = 0x80;
/// Receives every frame.
pub const IFF_PROMISC: u32 = 0x100;
/// A bridge or bond master.
pub const IFF_MASTER: u32 = 0x400;
/// A port of a master.
pub const IFF_SLAVE: u32 = 0x800;
/// Supports multicast.
pub const IFF_MULTICAST: u32 = 0x1000;
/// The device has carrier.
pub const IFF_LOWER_UP: u32 = 0x10000;

// Link attributes (`IFLA_*`).
/// Hardware address.
pub const IFLA_ADDRESS: u16 = 1;
/// Hardware broadcast address.
pub const IFLA_BROADCAST: u16 = 2;
/// Interface name (string).
pub const IFLA_IFNAME: u16 = 3;
/// MTU (u32).
pub const IFLA_MTU: u16 = 4;
/// The link this one is bound to (a veth's peer) (u32 ifindex).
pub const IFLA_LINK: u16 = 5;
/// Queueing discipline name (string).
pub const IFLA_QDISC: u16 = 6;
/// The master device (bridge) of a port (u32 ifindex; 0 detaches).
pub const IFLA_MASTER: u16 = 10;
/// Transmit queue length (u32).
pub const IFLA_TXQLEN: u16 = 13;
/// RFC 2863 operational state (u8, `IF_OPER_*`).
pub const IFLA_OPERSTATE: u16 = 16;
/// Link mode (u8).
pub const IFLA_LINKMODE: u16 = 17;
/// Kind-specific information (nested `IFLA_INFO_*`).
pub const IFLA_LINKINFO: u16 = 18;
/// Move to the namespace of this process (u32). In skbnet: a namespace id.
pub const IFLA_NET_NS_PID: u16 = 19;
/// Move to the namespace of this file (u32). In skbnet: a namespace id.
pub const IFLA_NET_NS_FD: u16 = 28;
/// Which extra information a dump wants (u32, ignored).
pub const IFLA_EXT_MASK: u16 = 29;
/// Carrier (u8).
pub const IFLA_CARRIER: u16 = 33;
/// The namespace of `IFLA_LINK`, when it is another one (i32).
pub const IFLA_LINK_NETNSID: u16 = 37;
/// Smallest MTU (u32).
pub const IFLA_MIN_MTU: u16 = 50;
/// Largest MTU (u32).
pub const IFLA_MAX_MTU: u16 = 51;

// Inside `IFLA_LINKINFO`.
/// The kind of link (string: `veth`, `bridge`).
pub const IFLA_INFO_KIND: u16 = 1;
/// Kind-specific data (nested).
pub const IFLA_INFO_DATA: u16 = 2;
/// The kind of master a port belongs to (string: `bridge`).
pub const IFLA_INFO_SLAVE_KIND: u16 = 4;
/// Inside a veth's `IFLA_INFO_DATA`: the peer (an `ifinfomsg` and its attributes).
pub const VETH_INFO_PEER: u16 = 1;

// Operational states (`IF_OPER_*`).
/// Unknown (loopback, TUN).
pub const IF_OPER_UNKNOWN: u8 = 0;
/// Down.
pub const IF_OPER_DOWN: u8 = 2;
/// The lower layer (the peer, the carrier) is down.
pub const IF_OPER_LOWERLAYERDOWN: u8 = 3;
/// Up.
pub const IF_OPER_UP: u8 = 6;

// Address attributes (`IFA_*`).
/// The address (the peer's, on point-to-point links).
pub const IFA_ADDRESS: u16 = 1;
/// The local address.
pub const IFA_LOCAL: u16 = 2;
/// The label (interface name, string).
pub const IFA_LABEL: u16 = 3;
/// The broadcast address.
pub const IFA_BROADCAST: u16 = 4;
/// Lifetimes (`struct ifa_cacheinfo`, ignored on requests).
pub const IFA_CACHEINFO: u16 = 6;
/// Flags (u32, a superset of `ifa_flags`).
pub const IFA_FLAGS: u16 = 8;
/// Address flag: never expires.
pub const IFA_F_PERMANENT: u8 = 0x80;

// Route attributes (`RTA_*`).
/// Destination prefix.
pub const RTA_DST: u16 = 1;
/// Source prefix (policy routing; not supported).
pub const RTA_SRC: u16 = 2;
/// Input interface (u32).
pub const RTA_IIF: u16 = 3;
/// Output interface (u32).
pub const RTA_OIF: u16 = 4;
/// Gateway.
pub const RTA_GATEWAY: u16 = 5;
/// Metric (u32).
pub const RTA_PRIORITY: u16 = 6;
/// Preferred source address.
pub const RTA_PREFSRC: u16 = 7;
/// Metrics (nested `RTAX_*`).
pub const RTA_METRICS: u16 = 8;
/// Table (u32), for tables above 255.
pub const RTA_TABLE: u16 = 15;
/// `rtm_flags`: the reply is a lookup result, not a table entry.
pub const RTM_F_CLONED: u32 = 0x200;
/// Inside `RTA_METRICS`: the path MTU lock (u32).
pub const RTAX_MTU: u16 = 2;
/// The highest metric Linux defines (`RTAX_FASTOPEN_NO_COOKIE`).
pub const RTAX_MAX_KNOWN: u16 = 17;

// Route types (`rtm_type`, `RTN_*`).
/// Unknown.
pub const RTN_UNSPEC: u8 = 0;
/// A gateway or a direct route.
pub const RTN_UNICAST: u8 = 1;
/// A local address.
pub const RTN_LOCAL: u8 = 2;
/// A broadcast address.
pub const RTN_BROADCAST: u8 = 3;
/// Drop silently.
pub const RTN_BLACKHOLE: u8 = 6;
/// Drop, answer net unreachable.
pub const RTN_UNREACHABLE: u8 = 7;
/// Drop, answer administratively prohibited.
pub const RTN_PROHIBIT: u8 = 8;

// Route origins (`rtm_protocol`, `RTPROT_*`).
/// Unknown.
pub const RTPROT_UNSPEC: u8 = 0;
/// The kernel (with an address).
pub const RTPROT_KERNEL: u8 = 2;
/// An administrator (`ip route add`).
pub const RTPROT_BOOT: u8 = 3;
/// A routing daemon or static configuration.
pub const RTPROT_STATIC: u8 = 4;

// Route scopes (`rtm_scope`, also `ifa_scope`).
/// Anywhere.
pub const RT_SCOPE_UNIVERSE: u8 = 0;
/// On the link.
pub const RT_SCOPE_LINK: u8 = 253;
/// This host.
pub const RT_SCOPE_HOST: u8 = 254;
/// No destination.
pub const RT_SCOPE_NOWHERE: u8 = 255;

// Route tables (`rtm_table`).
/// Unspecified: on requests, the main table.
pub const RT_TABLE_UNSPEC: u8 = 0;
/// The main table.
pub const RT_TABLE_MAIN: u8 = 254;
/// The local table.
pub const RT_TABLE_LOCAL: u8 = 255;

// Multicast groups (`RTNLGRP_*`); a socket's legacy group mask has bit
// `group - 1` set.
/// Link changes.
pub const RTNLGRP_LINK: u32 = 1;
/// IPv4 address changes.
pub const RTNLGRP_IPV4_IFADDR: u32 = 5;
/// IPv4 route changes.
pub const RTNLGRP_IPV4_ROUTE: u32 = 7;
/// Rule changes: in skbnet, netfilter rule set changes (`SKBNET_NFT` messages).
pub const RTNLGRP_IPV4_RULE: u32 = 8;
/// Namespace changes (skbnet's own group, `SKBNET_NEWNS`/`SKBNET_DELNS` messages).
pub const SKBNETGRP_NETNS: u32 = 31;

// skbnet's own message family. Linux creates namespaces with `unshare(2)`
// and names them with files under /run/netns; a world has neither processes
// nor files, so namespaces are made, named and listed with messages.
/// Create a namespace (attribute `SKBNA_NAME`).
pub const SKBNET_NEWNS: u16 = 0x1000;
/// Delete a namespace (by name, or by the id in the header).
pub const SKBNET_DELNS: u16 = 0x1001;
/// Dump namespaces: one `SKBNET_NEWNS` each, id in the header, name attribute.
pub const SKBNET_GETNS: u16 = 0x1002;
/// An nft command as text (attribute `SKBNA_NFT_CMD`); the reply's text
/// comes in `SKBNA_NFT_OUTPUT`.
pub const SKBNET_NFT: u16 = 0x1010;
/// A namespace's name (string).
pub const SKBNA_NAME: u16 = 1;
/// An nft command line, without the word `nft` (string).
pub const SKBNA_NFT_CMD: u16 = 2;
/// What an nft command printed (string).
pub const SKBNA_NFT_OUTPUT: u16 = 3;

//! Route messages (`RTM_NEWROUTE`, `RTM_DELROUTE`, `RTM_GETROUTE`): the
//! `rtmsg` header and the `RTA_*` attributes of IPv4 routes, and the
//! mapping between them and the FIB's [`Route`].

use core::net::Ipv4Addr;

use super::attr::Attrs;
use super::error::{Errno, NlError};
use super::msg::{NlWriter, NoRoom, ne32};
use super::uapi::*;
use crate::ip::fib::{Route, RouteKind, RouteProto, RouteScope, RouteTable};

/// `struct rtmsg`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RtMsg {
    /// Address family (`AF_INET`).
    pub family: u8,
    /// Destination prefix length.
    pub dst_len: u8,
    /// Source prefix length (policy routing: must be 0).
    pub src_len: u8,
    /// TOS (must be 0).
    pub tos: u8,
    /// Table (`RT_TABLE_*`).
    pub table: u8,
    /// Origin (`RTPROT_*`).
    pub protocol: u8,
    /// Scope (`RT_SCOPE_*`).
    pub scope: u8,
    /// Type (`RTN_*`).
    pub kind: u8,
    /// `RTM_F_*` flags.
    pub flags: u32,
}

impl RtMsg {
    /// Its size.
    pub const LEN: usize = 12;

    /// The header at the start of `b`.
    pub fn parse(b: &[u8]) -> Option<RtMsg> {
        let h = b.get(..8)?;
        Some(RtMsg {
            family: h[0],
            dst_len: h[1],
            src_len: h[2],
            tos: h[3],
            table: h[4],
            protocol: h[5],
            scope: h[6],
            kind: h[7],
            flags: ne32(b, 8)?,
        })
    }

    /// Its 12 bytes.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0; Self::LEN];
        b[..8].copy_from_slice(&[
            self.family,
            self.dst_len,
            self.src_len,
            self.tos,
            self.table,
            self.protocol,
            self.scope,
            self.kind,
        ]);
        b[8..].copy_from_slice(&self.flags.to_ne_bytes());
        b
    }
}

/// A route message: `rtmsg` and the attributes skbnet knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouteMsg {
    /// The header.
    pub header: RtMsg,
    /// `RTA_DST`.
    pub dst: Option<Ipv4Addr>,
    /// `RTA_GATEWAY`.
    pub gateway: Option<Ipv4Addr>,
    /// `RTA_PREFSRC`.
    pub prefsrc: Option<Ipv4Addr>,
    /// `RTA_OIF`.
    pub oif: Option<u32>,
    /// `RTA_IIF` (route lookups).
    pub iif: Option<u32>,
    /// `RTA_PRIORITY`: the metric.
    pub priority: Option<u32>,
    /// `RTA_TABLE`.
    pub table: Option<u32>,
    /// `RTA_METRICS` / `RTAX_MTU`.
    pub mtu: Option<u32>,
}

impl RouteMsg {
    /// Parse a message's payload (after `nlmsghdr`). IPv4 only.
    pub fn parse(payload: &[u8]) -> Result<RouteMsg, NlError> {
        let header = RtMsg::parse(payload).ok_or(NlError::inval("rtmsg truncated"))?;
        let mut m = RouteMsg { header, ..RouteMsg::default() };
        let base = super::msg::NLMSG_HDRLEN + RtMsg::LEN;
        for a in Attrs::new(payload.get(RtMsg::LEN..).unwrap_or(&[]), base) {
            let a = a?;
            match a.ty {
                RTA_DST => m.dst = Some(a.ipv4()?),
                RTA_GATEWAY => m.gateway = Some(a.ipv4()?),
                RTA_PREFSRC => m.prefsrc = Some(a.ipv4()?),
                RTA_OIF => m.oif = Some(a.u32()?),
                RTA_IIF => m.iif = Some(a.u32()?),
                RTA_PRIORITY => m.priority = Some(a.u32()?),
                RTA_TABLE => m.table = Some(a.u32()?),
                RTA_METRICS => {
                    for x in a.nested()? {
                        let x = x?;
                        match x.ty {
                            RTAX_MTU => m.mtu = Some(x.u32()?),
                            // A metric Linux knows (`initcwnd`, `advmss`,
                            // `mtu lock`...) that this stack does not keep:
                            // refused by name rather than as garbage, so
                            // `ip route add ... initcwnd 10` says why.
                            1..=RTAX_MAX_KNOWN => {
                                return Err(NlError::new(Errno::OpNotSupp, "route metric not supported").at(x.offset));
                            }
                            _ => return Err(x.unknown()),
                        }
                    }
                }
                _ => return Err(a.unknown()),
            }
        }
        Ok(m)
    }

    /// Write the `rtmsg` and attributes (not the `nlmsghdr`).
    pub fn emit(&self, w: &mut NlWriter<'_>) -> Result<(), NoRoom> {
        w.bytes(&self.header.to_bytes())?;
        if let Some(t) = self.table {
            w.attr_u32(RTA_TABLE, t)?;
        }
        if let Some(a) = self.dst {
            w.attr_ipv4(RTA_DST, a)?;
        }
        if let Some(v) = self.priority {
            w.attr_u32(RTA_PRIORITY, v)?;
        }
        if let Some(a) = self.prefsrc {
            w.attr_ipv4(RTA_PREFSRC, a)?;
        }
        if let Some(a) = self.gateway {
            w.attr_ipv4(RTA_GATEWAY, a)?;
        }
        if let Some(v) = self.iif {
            w.attr_u32(RTA_IIF, v)?;
        }
        if let Some(v) = self.oif {
            w.attr_u32(RTA_OIF, v)?;
        }
        if let Some(v) = self.mtu {
            let n = w.nest(RTA_METRICS | NLA_F_NESTED)?;
            w.attr_u32(RTAX_MTU, v)?;
            w.end_nest(n);
        }
        Ok(())
    }

    /// The table the message names (`RTA_TABLE` wins over `rtm_table`).
    pub fn table_id(&self) -> u32 {
        self.table.unwrap_or(u32::from(self.header.table))
    }

    /// The message for a FIB route.
    pub fn from_route(r: &Route) -> RouteMsg {
        let table = match r.table {
            RouteTable::Local => RT_TABLE_LOCAL,
            RouteTable::Main => RT_TABLE_MAIN,
        };
        RouteMsg {
            header: RtMsg {
                family: AF_INET,
                dst_len: r.prefix_len,
                src_len: 0,
                tos: 0,
                table,
                protocol: match r.proto {
                    RouteProto::Kernel => RTPROT_KERNEL,
                    RouteProto::Boot => RTPROT_BOOT,
                    RouteProto::Static => RTPROT_STATIC,
                    RouteProto::Other(n) => n,
                },
                scope: match r.scope {
                    RouteScope::Universe => RT_SCOPE_UNIVERSE,
                    RouteScope::Link => RT_SCOPE_LINK,
                    RouteScope::Host => RT_SCOPE_HOST,
                },
                kind: match r.kind {
                    RouteKind::Unicast => RTN_UNICAST,
                    RouteKind::Local => RTN_LOCAL,
                    RouteKind::Broadcast => RTN_BROADCAST,
                    RouteKind::Unreachable => RTN_UNREACHABLE,
                    RouteKind::Blackhole => RTN_BLACKHOLE,
                    RouteKind::Prohibit => RTN_PROHIBIT,
                },
                flags: 0,
            },
            dst: (r.prefix_len > 0).then_some(r.dst),
            gateway: r.gateway,
            prefsrc: r.prefsrc,
            oif: (r.oif != 0).then_some(u32::from(r.oif)),
            iif: None,
            priority: (r.metric != 0).then_some(r.metric),
            table: Some(u32::from(table)),
            mtu: (r.mtu != 0).then_some(u32::from(r.mtu)),
        }
    }

    /// The FIB route a request describes (`ip route add`), with its output
    /// interface as given (0: find it from the gateway).
    pub fn to_route(&self) -> Result<Route, NlError> {
        let h = &self.header;
        if h.family != AF_INET {
            return Err(NlError::new(Errno::AfNoSupport, "only IPv4 routes"));
        }
        if h.src_len != 0 || h.tos != 0 {
            return Err(NlError::new(Errno::OpNotSupp, "source and TOS routing not supported"));
        }
        if h.dst_len > 32 {
            return Err(NlError::inval("invalid prefix length"));
        }
        let table = match self.table_id() {
            0 | 254 => RouteTable::Main,
            255 => RouteTable::Local,
            _ => return Err(NlError::new(Errno::OpNotSupp, "only the main and local tables")),
        };
        let kind = match h.kind {
            RTN_UNICAST | RTN_UNSPEC => RouteKind::Unicast,
            RTN_LOCAL => RouteKind::Local,
            RTN_BROADCAST => RouteKind::Broadcast,
            RTN_UNREACHABLE => RouteKind::Unreachable,
            RTN_BLACKHOLE => RouteKind::Blackhole,
            RTN_PROHIBIT => RouteKind::Prohibit,
            _ => return Err(NlError::new(Errno::OpNotSupp, "route type not supported")),
        };
        let proto = match h.protocol {
            RTPROT_KERNEL => RouteProto::Kernel,
            RTPROT_STATIC => RouteProto::Static,
            RTPROT_BOOT => RouteProto::Boot,
            // Linux stores the number as it came (`rtm_protocol`), even 0.
            n => RouteProto::Other(n),
        };
        let scope = match h.scope {
            RT_SCOPE_HOST => RouteScope::Host,
            RT_SCOPE_LINK => RouteScope::Link,
            RT_SCOPE_UNIVERSE => RouteScope::Universe,
            _ => return Err(NlError::inval("invalid scope")),
        };
        let dst = self.dst.unwrap_or(Ipv4Addr::UNSPECIFIED);
        if u32::from(dst) & !crate::ip::fib::mask(h.dst_len) != 0 {
            return Err(NlError::inval("invalid prefix for given prefix length"));
        }
        let oif = match self.oif {
            None => 0,
            Some(i) => u16::try_from(i).ok().filter(|&i| i != 0).ok_or(NlError::new(Errno::NoDev, "no such device"))?,
        };
        let mtu =
            self.mtu.map_or(Ok(0), |m| u16::try_from(m).map_err(|_| NlError::new(Errno::Range, "MTU too big")))?;
        Ok(Route {
            dst,
            prefix_len: h.dst_len,
            kind,
            gateway: self.gateway,
            oif,
            metric: self.priority.unwrap_or(0),
            prefsrc: self.prefsrc,
            proto,
            scope,
            table,
            mtu,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_the_fib_route() {
        let mut r = Route::unicast(Ipv4Addr::UNSPECIFIED, 0, Some(Ipv4Addr::new(192, 168, 1, 1)), 3);
        r.metric = 100;
        r.mtu = 1400;
        let m = RouteMsg::from_route(&r);
        let mut buf = [0u8; 128];
        let mut w = NlWriter::new(&mut buf);
        m.emit(&mut w).unwrap();
        let n = w.len();
        let back = RouteMsg::parse(&buf[..n]).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_route().unwrap(), r);
    }

    #[test]
    fn refuses_what_the_fib_cannot_hold() {
        let base = RouteMsg::from_route(&Route::unicast(Ipv4Addr::new(10, 0, 0, 0), 8, None, 1));
        let mut v6 = base;
        v6.header.family = AF_INET6;
        let mut host_bits = base;
        host_bits.dst = Some(Ipv4Addr::new(10, 0, 0, 1));
        let mut table = base;
        table.table = Some(100);
        let mut long = base;
        long.header.dst_len = 33;
        for (m, e) in
            [(v6, Errno::AfNoSupport), (host_bits, Errno::Inval), (table, Errno::OpNotSupp), (long, Errno::Inval)]
        {
            assert_eq!(m.to_route().unwrap_err().errno, e);
        }
    }
}

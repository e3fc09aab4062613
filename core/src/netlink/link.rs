//! Link messages (`RTM_NEWLINK`, `RTM_DELLINK`, `RTM_GETLINK`): the
//! `ifinfomsg` header and the `IFLA_*` attributes skbnet reads and writes,
//! with the veth peer (`IFLA_LINKINFO` / `IFLA_INFO_DATA` /
//! `VETH_INFO_PEER`) and the move to another namespace.
//!
//! A namespace is named in these messages by its id (what `ip netns list`
//! prints as `(id: N)`), carried in `IFLA_NET_NS_FD`: a world has no file
//! descriptors, so the "file" of a namespace is its id. `IFLA_NET_NS_PID` is
//! read the same way (a world has no processes either), and
//! `IFLA_LINK_NETNSID` on replies is the id of a veth peer's namespace.

use super::attr::{Attr, Attrs};
use super::error::{Errno, NlError};
use super::msg::{NlWriter, NoRoom, ne16, ne32};
use super::uapi::*;
use crate::netns::Name;
use crate::wire::MacAddr;

/// `struct ifinfomsg`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct IfInfoMsg {
    /// Address family (`AF_UNSPEC`).
    pub family: u8,
    /// Device type (`ARPHRD_*`).
    pub ty: u16,
    /// Interface index (0: by name, or a new link).
    pub index: i32,
    /// `IFF_*` flags.
    pub flags: u32,
    /// Which flags to change (on requests).
    pub change: u32,
}

impl IfInfoMsg {
    /// Its size.
    pub const LEN: usize = 16;

    /// The header at the start of `b`.
    pub fn parse(b: &[u8]) -> Option<IfInfoMsg> {
        Some(IfInfoMsg {
            family: *b.first()?,
            ty: ne16(b, 2)?,
            index: ne32(b, 4)? as i32,
            flags: ne32(b, 8)?,
            change: ne32(b, 12)?,
        })
    }

    /// Its 16 bytes.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0; Self::LEN];
        b[0] = self.family;
        b[2..4].copy_from_slice(&self.ty.to_ne_bytes());
        b[4..8].copy_from_slice(&self.index.to_ne_bytes());
        b[8..12].copy_from_slice(&self.flags.to_ne_bytes());
        b[12..16].copy_from_slice(&self.change.to_ne_bytes());
        b
    }
}

/// The kinds of link skbnet creates (`IFLA_INFO_KIND`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkKind {
    /// A veth pair.
    Veth,
    /// A bridge (learning switch).
    Bridge,
    /// A TUN device ([`crate::dev::tun`]).
    Tun,
}

impl LinkKind {
    /// Its name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            LinkKind::Veth => "veth",
            LinkKind::Bridge => "bridge",
            LinkKind::Tun => "tun",
        }
    }

    fn parse(a: &Attr<'_>) -> Result<LinkKind, NlError> {
        match a.str()? {
            "veth" => Ok(LinkKind::Veth),
            "bridge" => Ok(LinkKind::Bridge),
            "tun" => Ok(LinkKind::Tun),
            _ => Err(NlError::new(Errno::OpNotSupp, "unknown link kind").at(a.offset)),
        }
    }
}

/// How a message names a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NetnsRef {
    /// `IFLA_NET_NS_FD`: in skbnet, the namespace id.
    Fd(u32),
    /// `IFLA_NET_NS_PID`: in skbnet, the namespace id too.
    Pid(u32),
}

impl NetnsRef {
    /// The namespace id it names.
    pub fn id(self) -> u32 {
        match self {
            NetnsRef::Fd(n) | NetnsRef::Pid(n) => n,
        }
    }

    fn emit(self, w: &mut NlWriter<'_>) -> Result<(), NoRoom> {
        match self {
            NetnsRef::Fd(n) => w.attr_u32(IFLA_NET_NS_FD, n),
            NetnsRef::Pid(n) => w.attr_u32(IFLA_NET_NS_PID, n),
        }
    }
}

/// The peer of a new veth (`VETH_INFO_PEER`): its own `ifinfomsg` and
/// attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VethPeer {
    /// Its header.
    pub header: IfInfoMsg,
    /// Its name (`IFLA_IFNAME`).
    pub name: Option<Name>,
    /// Its hardware address.
    pub address: Option<MacAddr>,
    /// Its MTU.
    pub mtu: Option<u32>,
    /// The namespace it is created in.
    pub netns: Option<NetnsRef>,
}

/// A link message: `ifinfomsg` and the attributes skbnet knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkMsg {
    /// The header.
    pub header: IfInfoMsg,
    /// `IFLA_IFNAME`.
    pub name: Option<Name>,
    /// `IFLA_ADDRESS`.
    pub address: Option<MacAddr>,
    /// `IFLA_BROADCAST`.
    pub broadcast: Option<MacAddr>,
    /// `IFLA_MTU`.
    pub mtu: Option<u32>,
    /// `IFLA_LINK`: a veth's peer.
    pub link: Option<u32>,
    /// `IFLA_LINK_NETNSID`: the namespace of the peer, when another one.
    pub link_netnsid: Option<i32>,
    /// `IFLA_MASTER`: the bridge a port belongs to (0 on a request detaches).
    pub master: Option<u32>,
    /// `IFLA_TXQLEN`.
    pub txqlen: Option<u32>,
    /// `IFLA_OPERSTATE`.
    pub operstate: Option<u8>,
    /// `IFLA_CARRIER`.
    pub carrier: Option<u8>,
    /// `IFLA_NET_NS_FD` or `IFLA_NET_NS_PID`: move to (or create in) this namespace.
    pub netns: Option<NetnsRef>,
    /// `IFLA_INFO_KIND`.
    pub kind: Option<LinkKind>,
    /// `IFLA_INFO_SLAVE_KIND`: the kind of the master of a port.
    pub slave_kind: Option<LinkKind>,
    /// `VETH_INFO_PEER`, on a request that creates a veth.
    pub peer: Option<VethPeer>,
}

impl LinkMsg {
    /// Parse a message's payload (after `nlmsghdr`). Unknown attributes are
    /// refused (`EINVAL`), as Linux's strict validation does.
    pub fn parse(payload: &[u8]) -> Result<LinkMsg, NlError> {
        let header = IfInfoMsg::parse(payload).ok_or(NlError::inval("ifinfomsg truncated"))?;
        let mut m = LinkMsg { header, ..LinkMsg::default() };
        let base = super::msg::NLMSG_HDRLEN + IfInfoMsg::LEN;
        for a in Attrs::new(&payload[IfInfoMsg::LEN..], base) {
            let a = a?;
            match a.ty {
                IFLA_IFNAME => m.name = Some(a.name()?),
                IFLA_ADDRESS => m.address = Some(a.mac()?),
                IFLA_BROADCAST => m.broadcast = Some(a.mac()?),
                IFLA_MTU => m.mtu = Some(a.u32()?),
                IFLA_LINK => m.link = Some(a.u32()?),
                IFLA_LINK_NETNSID => m.link_netnsid = Some(a.i32()?),
                IFLA_MASTER => m.master = Some(a.u32()?),
                IFLA_TXQLEN => m.txqlen = Some(a.u32()?),
                IFLA_OPERSTATE => m.operstate = Some(a.u8()?),
                IFLA_CARRIER => m.carrier = Some(a.u8()?),
                IFLA_NET_NS_FD => m.netns = Some(NetnsRef::Fd(a.u32()?)),
                IFLA_NET_NS_PID => m.netns = Some(NetnsRef::Pid(a.u32()?)),
                IFLA_LINKINFO => m.parse_linkinfo(&a)?,
                // Read and ignored, as Linux ignores them where they mean nothing.
                IFLA_EXT_MASK | IFLA_LINKMODE | IFLA_QDISC | IFLA_MIN_MTU | IFLA_MAX_MTU => {}
                _ => return Err(a.unknown()),
            }
        }
        Ok(m)
    }

    fn parse_linkinfo(&mut self, info: &Attr<'_>) -> Result<(), NlError> {
        let mut data = None;
        for a in info.nested()? {
            let a = a?;
            match a.ty {
                IFLA_INFO_KIND => self.kind = Some(LinkKind::parse(&a)?),
                IFLA_INFO_SLAVE_KIND => self.slave_kind = Some(LinkKind::parse(&a)?),
                IFLA_INFO_DATA => data = Some(a),
                _ => return Err(a.unknown()),
            }
        }
        let Some(data) = data else { return Ok(()) };
        if self.kind != Some(LinkKind::Veth) {
            return Err(NlError::new(Errno::OpNotSupp, "link options not supported").at(data.offset));
        }
        for a in data.nested()? {
            let a = a?;
            match a.ty {
                VETH_INFO_PEER => self.peer = Some(parse_peer(&a)?),
                _ => return Err(a.unknown()),
            }
        }
        Ok(())
    }

    /// Write the `ifinfomsg` and attributes (not the `nlmsghdr`).
    pub fn emit(&self, w: &mut NlWriter<'_>) -> Result<(), NoRoom> {
        w.bytes(&self.header.to_bytes())?;
        if let Some(n) = &self.name {
            w.attr_str(IFLA_IFNAME, n)?;
        }
        if let Some(v) = self.txqlen {
            w.attr_u32(IFLA_TXQLEN, v)?;
        }
        if let Some(v) = self.operstate {
            w.attr_u8(IFLA_OPERSTATE, v)?;
        }
        if let Some(v) = self.mtu {
            w.attr_u32(IFLA_MTU, v)?;
        }
        if let Some(v) = self.master {
            w.attr_u32(IFLA_MASTER, v)?;
        }
        if let Some(v) = self.carrier {
            w.attr_u8(IFLA_CARRIER, v)?;
        }
        if let Some(v) = self.address {
            w.attr_mac(IFLA_ADDRESS, v)?;
        }
        if let Some(v) = self.broadcast {
            w.attr_mac(IFLA_BROADCAST, v)?;
        }
        if let Some(v) = self.link {
            w.attr_u32(IFLA_LINK, v)?;
        }
        if let Some(v) = self.link_netnsid {
            w.attr_i32(IFLA_LINK_NETNSID, v)?;
        }
        if let Some(ns) = self.netns {
            ns.emit(w)?;
        }
        if self.kind.is_some() || self.slave_kind.is_some() {
            let info = w.nest(IFLA_LINKINFO | NLA_F_NESTED)?;
            if let Some(k) = self.kind {
                w.attr_str(IFLA_INFO_KIND, k.name())?;
            }
            if let Some(p) = &self.peer {
                let data = w.nest(IFLA_INFO_DATA | NLA_F_NESTED)?;
                let peer = w.nest(VETH_INFO_PEER)?;
                w.bytes(&p.header.to_bytes())?;
                if let Some(n) = &p.name {
                    w.attr_str(IFLA_IFNAME, n)?;
                }
                if let Some(v) = p.mtu {
                    w.attr_u32(IFLA_MTU, v)?;
                }
                if let Some(v) = p.address {
                    w.attr_mac(IFLA_ADDRESS, v)?;
                }
                if let Some(ns) = p.netns {
                    ns.emit(w)?;
                }
                w.end_nest(peer);
                w.end_nest(data);
            }
            if let Some(k) = self.slave_kind {
                w.attr_str(IFLA_INFO_SLAVE_KIND, k.name())?;
            }
            w.end_nest(info);
        }
        Ok(())
    }
}

/// `VETH_INFO_PEER`: an `ifinfomsg` followed by attributes.
fn parse_peer(a: &Attr<'_>) -> Result<VethPeer, NlError> {
    let header = IfInfoMsg::parse(a.payload).ok_or(NlError::inval("veth peer ifinfomsg truncated").at(a.offset))?;
    let mut p = VethPeer { header, ..VethPeer::default() };
    let base = a.offset + super::msg::NLA_HDRLEN + IfInfoMsg::LEN;
    for x in Attrs::new(&a.payload[IfInfoMsg::LEN..], base) {
        let x = x?;
        match x.ty {
            IFLA_IFNAME => p.name = Some(x.name()?),
            IFLA_ADDRESS => p.address = Some(x.mac()?),
            IFLA_MTU => p.mtu = Some(x.u32()?),
            IFLA_NET_NS_FD => p.netns = Some(NetnsRef::Fd(x.u32()?)),
            IFLA_NET_NS_PID => p.netns = Some(NetnsRef::Pid(x.u32()?)),
            IFLA_TXQLEN | IFLA_LINKMODE => {}
            _ => return Err(x.unknown()),
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(m: &LinkMsg) -> LinkMsg {
        let mut buf = [0u8; 256];
        let mut w = NlWriter::new(&mut buf);
        m.emit(&mut w).unwrap();
        let n = w.len();
        LinkMsg::parse(&buf[..n]).unwrap()
    }

    #[test]
    fn veth_request_round_trips() {
        let m = LinkMsg {
            header: IfInfoMsg::default(),
            name: Some(Name::try_from("veth0").unwrap()),
            kind: Some(LinkKind::Veth),
            peer: Some(VethPeer {
                name: Some(Name::try_from("veth1").unwrap()),
                netns: Some(NetnsRef::Fd(1)),
                ..VethPeer::default()
            }),
            ..LinkMsg::default()
        };
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn reply_round_trips() {
        let m = LinkMsg {
            header: IfInfoMsg { family: 0, ty: ARPHRD_ETHER, index: 4, flags: IFF_UP | IFF_BROADCAST, change: 0 },
            name: Some(Name::try_from("br0").unwrap()),
            address: Some(MacAddr([2, 1, 2, 3, 4, 5])),
            broadcast: Some(MacAddr::BROADCAST),
            mtu: Some(1500),
            link: Some(3),
            link_netnsid: Some(1),
            master: Some(7),
            txqlen: Some(1000),
            operstate: Some(IF_OPER_UP),
            carrier: Some(1),
            netns: None,
            kind: Some(LinkKind::Bridge),
            slave_kind: Some(LinkKind::Bridge),
            peer: None,
        };
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        let mut buf = [0u8; 64];
        let mut w = NlWriter::new(&mut buf);
        w.bytes(&IfInfoMsg::default().to_bytes()).unwrap();
        w.attr_u32(200, 1).unwrap();
        let n = w.len();
        let e = LinkMsg::parse(&buf[..n]).unwrap_err();
        assert_eq!((e.errno, e.offset), (Errno::Inval, Some(32)));
        assert!(LinkMsg::parse(&buf[..10]).is_err());
        let mut w = NlWriter::new(&mut buf);
        w.bytes(&IfInfoMsg::default().to_bytes()).unwrap();
        let info = w.nest(IFLA_LINKINFO).unwrap();
        w.attr_str(IFLA_INFO_KIND, "vxlan").unwrap();
        w.end_nest(info);
        let n = w.len();
        assert_eq!(LinkMsg::parse(&buf[..n]).unwrap_err().errno, Errno::OpNotSupp);
    }
}

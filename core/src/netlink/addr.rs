//! Address messages (`RTM_NEWADDR`, `RTM_DELADDR`, `RTM_GETADDR`): the
//! `ifaddrmsg` header and the `IFA_*` attributes of IPv4 addresses.

use core::net::Ipv4Addr;

use super::attr::Attrs;
use super::error::NlError;
use super::msg::{NlWriter, NoRoom, ne32};
use super::uapi::*;
use crate::netns::Name;

/// `struct ifaddrmsg`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct IfAddrMsg {
    /// Address family (`AF_INET`).
    pub family: u8,
    /// Prefix length.
    pub prefix_len: u8,
    /// `IFA_F_*` flags.
    pub flags: u8,
    /// Scope (`RT_SCOPE_*`).
    pub scope: u8,
    /// Interface index.
    pub index: u32,
}

impl IfAddrMsg {
    /// Its size.
    pub const LEN: usize = 8;

    /// The header at the start of `b`.
    pub fn parse(b: &[u8]) -> Option<IfAddrMsg> {
        Some(IfAddrMsg {
            family: *b.first()?,
            prefix_len: *b.get(1)?,
            flags: *b.get(2)?,
            scope: *b.get(3)?,
            index: ne32(b, 4)?,
        })
    }

    /// Its 8 bytes.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0; Self::LEN];
        b[..4].copy_from_slice(&[self.family, self.prefix_len, self.flags, self.scope]);
        b[4..].copy_from_slice(&self.index.to_ne_bytes());
        b
    }
}

/// `struct ifa_cacheinfo`: lifetimes in seconds (`u32::MAX`: forever) and
/// creation and update stamps in hundredths of a second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CacheInfo {
    /// Preferred lifetime.
    pub preferred: u32,
    /// Valid lifetime.
    pub valid: u32,
    /// Created.
    pub cstamp: u32,
    /// Last updated.
    pub tstamp: u32,
}

impl CacheInfo {
    /// A permanent address.
    pub const FOREVER: CacheInfo = CacheInfo { preferred: u32::MAX, valid: u32::MAX, cstamp: 0, tstamp: 0 };

    fn to_bytes(self) -> [u8; 16] {
        let mut b = [0; 16];
        for (i, v) in [self.preferred, self.valid, self.cstamp, self.tstamp].into_iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
        }
        b
    }
}

/// An address message: `ifaddrmsg` and the attributes skbnet knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddrMsg {
    /// The header.
    pub header: IfAddrMsg,
    /// `IFA_ADDRESS` (the peer's address on point-to-point links, else the local one).
    pub address: Option<Ipv4Addr>,
    /// `IFA_LOCAL`.
    pub local: Option<Ipv4Addr>,
    /// `IFA_BROADCAST`.
    pub broadcast: Option<Ipv4Addr>,
    /// `IFA_LABEL`.
    pub label: Option<Name>,
    /// `IFA_FLAGS`.
    pub flags: Option<u32>,
    /// `IFA_CACHEINFO`.
    pub cacheinfo: Option<CacheInfo>,
}

impl AddrMsg {
    /// Parse a message's payload (after `nlmsghdr`). IPv4 only: address
    /// attributes must be 4 bytes.
    pub fn parse(payload: &[u8]) -> Result<AddrMsg, NlError> {
        let header = IfAddrMsg::parse(payload).ok_or(NlError::inval("ifaddrmsg truncated"))?;
        let mut m = AddrMsg { header, ..AddrMsg::default() };
        let base = super::msg::NLMSG_HDRLEN + IfAddrMsg::LEN;
        for a in Attrs::new(&payload[IfAddrMsg::LEN..], base) {
            let a = a?;
            match a.ty {
                IFA_ADDRESS => m.address = Some(a.ipv4()?),
                IFA_LOCAL => m.local = Some(a.ipv4()?),
                IFA_BROADCAST => m.broadcast = Some(a.ipv4()?),
                IFA_LABEL => m.label = Some(a.name()?),
                IFA_FLAGS => m.flags = Some(a.u32()?),
                IFA_CACHEINFO => {
                    let b: [u8; 16] =
                        a.payload.try_into().map_err(|_| NlError::inval("cacheinfo is not 16 bytes").at(a.offset))?;
                    let at = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                    m.cacheinfo = Some(CacheInfo { preferred: at(0), valid: at(4), cstamp: at(8), tstamp: at(12) });
                }
                _ => return Err(a.unknown()),
            }
        }
        Ok(m)
    }

    /// The address the message is about: `IFA_LOCAL`, else `IFA_ADDRESS`.
    pub fn addr(&self) -> Option<Ipv4Addr> {
        self.local.or(self.address)
    }

    /// Write the `ifaddrmsg` and attributes (not the `nlmsghdr`).
    pub fn emit(&self, w: &mut NlWriter<'_>) -> Result<(), NoRoom> {
        w.bytes(&self.header.to_bytes())?;
        if let Some(a) = self.address {
            w.attr_ipv4(IFA_ADDRESS, a)?;
        }
        if let Some(a) = self.local {
            w.attr_ipv4(IFA_LOCAL, a)?;
        }
        if let Some(a) = self.broadcast {
            w.attr_ipv4(IFA_BROADCAST, a)?;
        }
        if let Some(l) = &self.label {
            w.attr_str(IFA_LABEL, l)?;
        }
        if let Some(f) = self.flags {
            w.attr_u32(IFA_FLAGS, f)?;
        }
        if let Some(c) = self.cacheinfo {
            w.attr(IFA_CACHEINFO, &c.to_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::msg::NLA_HDRLEN;

    /// Bytes an attribute of `payload` bytes takes.
    const fn attr_space(payload: usize) -> usize {
        crate::netlink::msg::align(NLA_HDRLEN + payload)
    }

    #[test]
    fn round_trip() {
        let m = AddrMsg {
            header: IfAddrMsg { family: AF_INET, prefix_len: 24, flags: IFA_F_PERMANENT, scope: 0, index: 3 },
            address: Some(Ipv4Addr::new(192, 168, 76, 1)),
            local: Some(Ipv4Addr::new(192, 168, 76, 1)),
            broadcast: Some(Ipv4Addr::new(192, 168, 76, 255)),
            label: Some(Name::try_from("veth0").unwrap()),
            flags: Some(u32::from(IFA_F_PERMANENT)),
            cacheinfo: Some(CacheInfo::FOREVER),
        };
        let mut buf = [0u8; 128];
        let mut w = NlWriter::new(&mut buf);
        m.emit(&mut w).unwrap();
        let n = w.len();
        assert_eq!(n, 8 + 3 * attr_space(4) + attr_space(6) + attr_space(4) + attr_space(16));
        assert_eq!(AddrMsg::parse(&buf[..n]).unwrap(), m);
        assert!(AddrMsg::parse(&buf[..7]).is_err());
    }
}

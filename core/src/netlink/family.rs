//! skbnet's own messages: namespaces (`SKBNET_NEWNS`, `SKBNET_DELNS`,
//! `SKBNET_GETNS`) and nft commands as text (`SKBNET_NFT`).
//!
//! Linux makes a namespace with `unshare(2)` and names it with a file under
//! `/run/netns`; a world has neither processes nor files, so namespaces are
//! made, named and listed with messages. Each begins with a 4-byte header,
//! the namespace id (`i32`, -1 when not known, as Linux's
//! `NETNSA_NSID_NOT_ASSIGNED`), then attributes. An nft command is one
//! string attribute holding the command line after the word `nft`; what it
//! prints comes back in `SKBNA_NFT_OUTPUT` attributes.

use super::attr::Attrs;
use super::error::NlError;
use super::msg::{NLMSG_HDRLEN, NlWriter, NoRoom, ne32};
use super::uapi::*;
use crate::netns::Name;

/// A namespace message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NsMsg {
    /// The namespace id (-1: not given).
    pub id: i32,
    /// `SKBNA_NAME`.
    pub name: Option<Name>,
}

impl NsMsg {
    /// Size of the header.
    pub const LEN: usize = 4;

    /// Parse a message's payload (after `nlmsghdr`).
    pub fn parse(payload: &[u8]) -> Result<NsMsg, NlError> {
        let id = ne32(payload, 0).ok_or(NlError::inval("namespace header truncated"))? as i32;
        let mut m = NsMsg { id, name: None };
        for a in Attrs::new(&payload[Self::LEN..], NLMSG_HDRLEN + Self::LEN) {
            let a = a?;
            match a.ty {
                SKBNA_NAME => m.name = Some(a.name()?),
                _ => return Err(a.unknown()),
            }
        }
        Ok(m)
    }

    /// Write the header and attributes (not the `nlmsghdr`).
    pub fn emit(&self, w: &mut NlWriter<'_>) -> Result<(), NoRoom> {
        w.bytes(&self.id.to_ne_bytes())?;
        if let Some(n) = &self.name {
            w.attr_str(SKBNA_NAME, n)?;
        }
        Ok(())
    }
}

/// An nft message: a command on requests, printed text on replies and
/// notifications.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NftMsg<'a> {
    /// `SKBNA_NFT_CMD`: the command line after `nft`.
    pub cmd: Option<&'a str>,
    /// `SKBNA_NFT_OUTPUT`: what the command printed.
    pub output: Option<&'a str>,
}

impl<'a> NftMsg<'a> {
    /// Size of the header (reserved, zero).
    pub const LEN: usize = 4;

    /// Parse a message's payload (after `nlmsghdr`).
    pub fn parse(payload: &'a [u8]) -> Result<NftMsg<'a>, NlError> {
        let rest = payload.get(Self::LEN..).ok_or(NlError::inval("nft header truncated"))?;
        let mut m = NftMsg::default();
        for a in Attrs::new(rest, NLMSG_HDRLEN + Self::LEN) {
            let a = a?;
            match a.ty {
                SKBNA_NFT_CMD => m.cmd = Some(a.str()?),
                SKBNA_NFT_OUTPUT => m.output = Some(a.str()?),
                _ => return Err(a.unknown()),
            }
        }
        Ok(m)
    }

    /// Write the header and attributes (not the `nlmsghdr`).
    pub fn emit(&self, w: &mut NlWriter<'_>) -> Result<(), NoRoom> {
        w.bytes(&[0; Self::LEN])?;
        if let Some(c) = self.cmd {
            w.attr_str(SKBNA_NFT_CMD, c)?;
        }
        if let Some(o) = self.output {
            w.attr_str(SKBNA_NFT_OUTPUT, o)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut buf = [0u8; 96];
        let m = NsMsg { id: 2, name: Some(Name::try_from("ns1").unwrap()) };
        let mut w = NlWriter::new(&mut buf);
        m.emit(&mut w).unwrap();
        let n = w.len();
        assert_eq!(NsMsg::parse(&buf[..n]).unwrap(), m);
        let m = NftMsg { cmd: Some("list ruleset"), output: None };
        let mut w = NlWriter::new(&mut buf);
        m.emit(&mut w).unwrap();
        let n = w.len();
        assert_eq!(NftMsg::parse(&buf[..n]).unwrap(), m);
        assert!(NftMsg::parse(&buf[..3]).is_err());
    }
}

//! Attributes (`struct nlattr`, `struct rtattr`): type-length-value
//! records after a message's fixed header, nested inside one another.
//!
//! Reading checks every length before touching the payload, and each
//! typed accessor checks the payload's size, so a hostile attribute is an
//! `EINVAL` pointing at its offset, never a panic.

use core::net::Ipv4Addr;

use super::error::NlError;
use super::msg::{NLA_HDRLEN, align, ne16};
use super::uapi::NLA_TYPE_MASK;
use crate::netns::{NAME_LEN, Name};
use crate::wire::MacAddr;

/// Deepest nesting a request may use.
pub const MAX_NEST: u8 = 4;

/// One attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    /// Its type, without the nested and byte-order flags.
    pub ty: u16,
    /// The payload.
    pub payload: &'a [u8],
    /// Where the attribute starts, from the start of the message.
    pub offset: usize,
    depth: u8,
}

/// The attributes of a region, in order. A malformed attribute yields an
/// error and ends the walk.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    depth: u8,
}

impl<'a> Attrs<'a> {
    /// The attributes in `buf`, which starts `base` bytes into its message.
    pub fn new(buf: &'a [u8], base: usize) -> Attrs<'a> {
        Attrs { buf, pos: 0, base, depth: 0 }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, NlError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        let offset = self.base + self.pos;
        let fail = |why| Some(Err(NlError::inval(why).at(offset)));
        let (Some(len), Some(ty)) = (ne16(rest, 0), ne16(rest, 2)) else {
            self.pos = self.buf.len();
            return fail("truncated attribute header");
        };
        let len = usize::from(len);
        if len < NLA_HDRLEN || len > rest.len() {
            self.pos = self.buf.len();
            return fail("attribute length out of bounds");
        }
        self.pos = self.pos.saturating_add(align(len)).min(self.buf.len());
        Some(Ok(Attr { ty: ty & NLA_TYPE_MASK, payload: &rest[NLA_HDRLEN..len], offset, depth: self.depth }))
    }
}

impl<'a> Attr<'a> {
    fn bad(&self, why: &'static str) -> NlError {
        NlError::inval(why).at(self.offset)
    }

    /// The payload as exactly `N` bytes.
    fn exact<const N: usize>(&self, why: &'static str) -> Result<[u8; N], NlError> {
        self.payload.try_into().map_err(|_| self.bad(why))
    }

    /// A u8.
    pub fn u8(&self) -> Result<u8, NlError> {
        Ok(self.exact::<1>("attribute is not a u8")?[0])
    }

    /// A u32 in host byte order.
    pub fn u32(&self) -> Result<u32, NlError> {
        Ok(u32::from_ne_bytes(self.exact("attribute is not a u32")?))
    }

    /// An i32 in host byte order.
    pub fn i32(&self) -> Result<i32, NlError> {
        Ok(i32::from_ne_bytes(self.exact("attribute is not an i32")?))
    }

    /// An IPv4 address.
    pub fn ipv4(&self) -> Result<Ipv4Addr, NlError> {
        Ok(Ipv4Addr::from(self.exact::<4>("address is not 4 bytes")?))
    }

    /// A hardware address.
    pub fn mac(&self) -> Result<MacAddr, NlError> {
        Ok(MacAddr(self.exact("hardware address is not 6 bytes")?))
    }

    /// A string: UTF-8, one optional terminating NUL, no NUL inside.
    pub fn str(&self) -> Result<&'a str, NlError> {
        let b = self.payload.strip_suffix(&[0]).unwrap_or(self.payload);
        if b.contains(&0) {
            return Err(self.bad("string with a NUL inside"));
        }
        core::str::from_utf8(b).map_err(|_| self.bad("string is not UTF-8"))
    }

    /// A device or namespace name: a non-empty string of at most 15 bytes
    /// without `/` or white space (Linux's `dev_valid_name`).
    pub fn name(&self) -> Result<Name, NlError> {
        let s = self.str()?;
        if s.is_empty() || s.len() > NAME_LEN || s == "." || s == ".." {
            return Err(self.bad("name empty or longer than 15 bytes"));
        }
        if s.chars().any(|c| c == '/' || c == ':' || c.is_whitespace()) {
            return Err(self.bad("name with '/', ':' or white space"));
        }
        Name::try_from(s).map_err(|_| self.bad("name too long"))
    }

    /// The attributes nested in this one.
    pub fn nested(&self) -> Result<Attrs<'a>, NlError> {
        if self.depth >= MAX_NEST {
            return Err(self.bad("attributes nested too deep"));
        }
        Ok(Attrs { buf: self.payload, pos: 0, base: self.offset + NLA_HDRLEN, depth: self.depth + 1 })
    }

    /// The error for an attribute type this message does not know.
    pub fn unknown(&self) -> NlError {
        self.bad("unknown attribute type")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::msg::NlWriter;
    use crate::netlink::uapi::NLA_F_NESTED;

    #[test]
    fn typed_accessors_check_sizes() {
        let mut buf = [0u8; 64];
        let mut w = NlWriter::new(&mut buf);
        w.attr_u32(4, 1500).unwrap();
        w.attr_str(3, "veth0").unwrap();
        w.attr(1, &[1, 2, 3]).unwrap();
        let n = w.len();
        let attrs: Vec<_> = Attrs::new(&buf[..n], 16).map(Result::unwrap).collect();
        assert_eq!(attrs[0].u32(), Ok(1500));
        assert_eq!(attrs[0].offset, 16);
        assert_eq!(attrs[1].name().unwrap().as_str(), "veth0");
        assert_eq!(attrs[1].offset, 24);
        assert_eq!(attrs[2].u32().unwrap_err().offset, Some(36));
        assert!(attrs[2].mac().is_err() && attrs[2].ipv4().is_err() && attrs[2].u8().is_err());
    }

    #[test]
    fn hostile_lengths_and_names() {
        let bad_len = [2u8, 0, 1, 0];
        assert!(Attrs::new(&bad_len, 0).next().unwrap().is_err());
        let past_end = [200u8, 0, 1, 0, 0, 0];
        assert!(Attrs::new(&past_end, 0).next().unwrap().is_err());
        let cut = [8u8, 0];
        assert!(Attrs::new(&cut, 0).next().unwrap().is_err());
        for name in [&b"\0"[..], b"a/b", b"sixteen-bytes-xx", b"a\0b", b"\xff"] {
            let mut buf = [0u8; 32];
            let mut w = NlWriter::new(&mut buf);
            w.attr(3, name).unwrap();
            let n = w.len();
            let a = Attrs::new(&buf[..n], 0).next().unwrap().unwrap();
            assert!(a.name().is_err(), "{name:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        // Each level wraps the previous one: 8 levels deep.
        let mut inner: Vec<u8> = vec![8, 0, 1, 0, 0, 0, 0, 0];
        for _ in 0..8 {
            let len = (inner.len() + 4) as u16;
            let mut outer = len.to_ne_bytes().to_vec();
            outer.extend_from_slice(&(1u16 | NLA_F_NESTED).to_ne_bytes());
            outer.extend_from_slice(&inner);
            inner = outer;
        }
        let mut a = Attrs::new(&inner, 0).next().unwrap().unwrap();
        let mut depth = 0;
        while let Ok(mut n) = a.nested() {
            a = n.next().unwrap().unwrap();
            depth += 1;
        }
        assert_eq!(depth, usize::from(MAX_NEST));
    }
}

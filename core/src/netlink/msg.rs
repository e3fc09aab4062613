//! Netlink messages on the wire: the 16-byte `nlmsghdr`, walking the
//! messages of a buffer, and writing messages into a caller's buffer.
//!
//! ```text
//!  0        4      6      8        12       16
//!  +--------+------+------+--------+--------+---------------------+
//!  | length | type | flags| seq    | port id| payload, padded to 4 |
//!  +--------+------+------+--------+--------+---------------------+
//! ```
//!
//! Lengths count the header; messages and attributes start on 4-byte
//! boundaries (`NLMSG_ALIGN`, `NLA_ALIGN`). Integers are in host byte order.

use core::net::Ipv4Addr;

use super::error::NlError;
use crate::wire::MacAddr;

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;

/// Size of an attribute header (`struct nlattr` / `struct rtattr`).
pub const NLA_HDRLEN: usize = 4;

/// `len` rounded up to a multiple of 4 (`NLMSG_ALIGN`, `NLA_ALIGN`).
pub const fn align(len: usize) -> usize {
    len.saturating_add(3) & !3
}

/// A native-endian u16 at `at`, if `b` holds it.
pub(crate) fn ne16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

/// A native-endian u32 at `at`, if `b` holds it.
pub(crate) fn ne32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// The header of a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NlHeader {
    /// Length of the message, header included.
    pub len: u32,
    /// Message type (`RTM_*`, `NLMSG_*`).
    pub ty: u16,
    /// Flags (`NLM_F_*`).
    pub flags: u16,
    /// Sequence number, copied into replies.
    pub seq: u32,
    /// Port id of the sender, copied into replies.
    pub pid: u32,
}

impl NlHeader {
    /// The header at the start of `b`, if `b` is long enough.
    pub fn parse(b: &[u8]) -> Option<NlHeader> {
        Some(NlHeader { len: ne32(b, 0)?, ty: ne16(b, 4)?, flags: ne16(b, 6)?, seq: ne32(b, 8)?, pid: ne32(b, 12)? })
    }

    /// The header as its 16 bytes.
    pub fn to_bytes(&self) -> [u8; NLMSG_HDRLEN] {
        let mut b = [0; NLMSG_HDRLEN];
        b[0..4].copy_from_slice(&self.len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.ty.to_ne_bytes());
        b[6..8].copy_from_slice(&self.flags.to_ne_bytes());
        b[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        b[12..16].copy_from_slice(&self.pid.to_ne_bytes());
        b
    }
}

/// One message of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NlMsg<'a> {
    /// Its header.
    pub header: NlHeader,
    /// What follows the header, up to `header.len`.
    pub payload: &'a [u8],
}

/// A message whose header cannot be trusted: too short, or a length that
/// does not fit the buffer. Nothing after it can be found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed {
    /// The header as far as it could be read (zeros where it was cut off).
    pub header: NlHeader,
    /// Why.
    pub error: NlError,
}

/// The messages of a buffer, in order (`nlmsg_for_each`). A malformed
/// message ends the walk: its length cannot be trusted to find the next.
#[derive(Clone, Debug)]
pub struct Messages<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Walk the messages of `buf`.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { buf, pos: 0 }
}

impl<'a> Messages<'a> {
    /// Bytes of the buffer not yet walked.
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<NlMsg<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        let mut head = [0u8; NLMSG_HDRLEN];
        let n = rest.len().min(NLMSG_HDRLEN);
        head[..n].copy_from_slice(&rest[..n]);
        let header = NlHeader::parse(&head).unwrap_or_default();
        let len = header.len as usize;
        let bad = if rest.len() < NLMSG_HDRLEN {
            Some("truncated message header")
        } else if len < NLMSG_HDRLEN {
            Some("message length shorter than its header")
        } else if len > rest.len() {
            Some("message length beyond the buffer")
        } else {
            None
        };
        if let Some(why) = bad {
            self.pos = self.buf.len();
            return Some(Err(Malformed { header, error: NlError::inval(why) }));
        }
        self.pos = self.pos.saturating_add(align(len)).min(self.buf.len());
        Some(Ok(NlMsg { header, payload: &rest[NLMSG_HDRLEN..len] }))
    }
}

/// The buffer is full: what was being written did not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NoRoom;

/// A position in a [`NlWriter`], to finish a message or nest there, or to
/// take back what was written after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a mark is needed to finish what it began"]
pub struct Mark(usize);

/// Writes messages into a caller's buffer. Everything it writes is
/// aligned and zero-padded; a write that does not fit writes nothing.
#[derive(Debug)]
pub struct NlWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> NlWriter<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> NlWriter<'a> {
        NlWriter { buf, len: 0 }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes still free.
    pub fn room(&self) -> usize {
        self.buf.len() - self.len
    }

    /// What was written.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The current position.
    pub fn mark(&self) -> Mark {
        Mark(self.len)
    }

    /// Forget everything written after `m`.
    pub fn rollback(&mut self, m: Mark) {
        self.len = m.0.min(self.len);
    }

    /// Append `bytes`, zero-padded to a multiple of 4.
    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), NoRoom> {
        let padded = align(bytes.len());
        let dst = self.buf.get_mut(self.len..self.len + padded).ok_or(NoRoom)?;
        dst[..bytes.len()].copy_from_slice(bytes);
        dst[bytes.len()..].fill(0);
        self.len += padded;
        Ok(())
    }

    /// Start a message; finish it with [`NlWriter::end`].
    pub fn begin(&mut self, ty: u16, flags: u16, seq: u32, pid: u32) -> Result<Mark, NoRoom> {
        let m = self.mark();
        self.bytes(&NlHeader { len: 0, ty, flags, seq, pid }.to_bytes())?;
        Ok(m)
    }

    /// Finish the message (or nest) begun at `m`: write its length.
    pub fn end(&mut self, m: Mark) {
        let len = self.len.saturating_sub(m.0);
        if let Some(at) = self.buf.get_mut(m.0..m.0 + 4) {
            at.copy_from_slice(&(len as u32).to_ne_bytes());
        }
    }

    /// Finish a nested attribute begun at `m` (its length is a u16).
    pub fn end_nest(&mut self, m: Mark) {
        let len = self.len.saturating_sub(m.0).min(usize::from(u16::MAX)) as u16;
        if let Some(at) = self.buf.get_mut(m.0..m.0 + 2) {
            at.copy_from_slice(&len.to_ne_bytes());
        }
    }

    /// An attribute of type `ty` holding `payload`.
    pub fn attr(&mut self, ty: u16, payload: &[u8]) -> Result<(), NoRoom> {
        let len = NLA_HDRLEN + payload.len();
        let len16 = u16::try_from(len).map_err(|_| NoRoom)?;
        if align(len) > self.room() {
            return Err(NoRoom);
        }
        let mut head = [0u8; NLA_HDRLEN];
        head[..2].copy_from_slice(&len16.to_ne_bytes());
        head[2..].copy_from_slice(&ty.to_ne_bytes());
        self.buf[self.len..self.len + NLA_HDRLEN].copy_from_slice(&head);
        self.len += NLA_HDRLEN;
        self.bytes(payload)
    }

    /// Start a nested attribute; finish it with [`NlWriter::end_nest`].
    pub fn nest(&mut self, ty: u16) -> Result<Mark, NoRoom> {
        let m = self.mark();
        self.attr(ty, &[])?;
        Ok(m)
    }

    /// A u8 attribute.
    pub fn attr_u8(&mut self, ty: u16, v: u8) -> Result<(), NoRoom> {
        self.attr(ty, &[v])
    }

    /// A u32 attribute (host byte order).
    pub fn attr_u32(&mut self, ty: u16, v: u32) -> Result<(), NoRoom> {
        self.attr(ty, &v.to_ne_bytes())
    }

    /// An i32 attribute (host byte order).
    pub fn attr_i32(&mut self, ty: u16, v: i32) -> Result<(), NoRoom> {
        self.attr(ty, &v.to_ne_bytes())
    }

    /// A string attribute, NUL-terminated as Linux writes them.
    pub fn attr_str(&mut self, ty: u16, s: &str) -> Result<(), NoRoom> {
        let len = NLA_HDRLEN + s.len() + 1;
        let len16 = u16::try_from(len).map_err(|_| NoRoom)?;
        if align(len) > self.room() {
            return Err(NoRoom);
        }
        let at = self.len;
        self.buf[at..at + 2].copy_from_slice(&len16.to_ne_bytes());
        self.buf[at + 2..at + 4].copy_from_slice(&ty.to_ne_bytes());
        self.buf[at + 4..at + 4 + s.len()].copy_from_slice(s.as_bytes());
        self.buf[at + 4 + s.len()..at + align(len)].fill(0);
        self.len += align(len);
        Ok(())
    }

    /// An IPv4 address attribute (network byte order).
    pub fn attr_ipv4(&mut self, ty: u16, a: Ipv4Addr) -> Result<(), NoRoom> {
        self.attr(ty, &a.octets())
    }

    /// A hardware address attribute.
    pub fn attr_mac(&mut self, ty: u16, m: MacAddr) -> Result<(), NoRoom> {
        self.attr(ty, &m.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_walk() {
        let mut buf = [0xaau8; 64];
        let mut w = NlWriter::new(&mut buf);
        let m = w.begin(16, 5, 7, 9).unwrap();
        w.attr_str(3, "eth0").unwrap();
        w.end(m);
        let m = w.begin(3, 2, 8, 9).unwrap();
        w.bytes(&0i32.to_ne_bytes()).unwrap();
        w.end(m);
        let n = w.len();
        assert_eq!(n, 16 + 12 + 16 + 4);
        let got: Vec<_> = messages(&buf[..n]).collect();
        assert_eq!(got.len(), 2);
        let a = got[0].unwrap();
        assert_eq!((a.header.len, a.header.ty, a.header.flags, a.header.seq, a.header.pid), (28, 16, 5, 7, 9));
        assert_eq!(a.payload, &[9, 0, 3, 0, b'e', b't', b'h', b'0', 0, 0, 0, 0]);
        assert_eq!(got[1].unwrap().header.ty, 3);
    }

    #[test]
    fn bad_lengths_stop_the_walk() {
        let short = [1u8, 2, 3];
        let got: Vec<_> = messages(&short).collect();
        assert!(matches!(got[..], [Err(_)]));
        let mut too_long = NlHeader { len: 100, ty: 16, flags: 1, seq: 3, pid: 0 }.to_bytes().to_vec();
        too_long.extend_from_slice(&[0; 8]);
        let got: Vec<_> = messages(&too_long).collect();
        let [Err(e)] = got[..] else { panic!("{got:?}") };
        assert_eq!(e.header.seq, 3);
        let tiny = NlHeader { len: 4, ty: 16, flags: 1, seq: 4, pid: 0 }.to_bytes();
        assert!(matches!(messages(&tiny).collect::<Vec<_>>()[..], [Err(_)]));
    }

    #[test]
    fn writes_that_do_not_fit_write_nothing() {
        let mut buf = [0u8; 24];
        let mut w = NlWriter::new(&mut buf);
        let m = w.begin(16, 0, 0, 0).unwrap();
        assert_eq!(w.attr_str(3, "toolong"), Err(NoRoom));
        assert_eq!(w.len(), 16);
        w.attr_u8(1, 1).unwrap();
        assert_eq!(w.attr_u8(1, 1), Err(NoRoom));
        w.rollback(m);
        assert!(w.is_empty());
    }
}

//! Ethernet II frames with an optional 802.1Q VLAN tag: what `eth_type_trans`
//! and the VLAN code of `net/8021q` read before handing a packet up, and
//! what `eth_header` writes on the way out.
//!
//! ```text
//!  0      6      12          14                  (untagged)
//!  | dst  | src  | ethertype | payload ...
//!  0      6      12     14    16          18      (802.1Q)
//!  | dst  | src  | 8100 | TCI | ethertype | payload ...
//! ```

use core::fmt;

use super::{EtherType, MacAddr, WireError, be16, put16};

mod field {
    use core::ops::Range;

    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
    pub const TCI: usize = 14;
    pub const INNER_ETHERTYPE: usize = 16;
}

/// An 802.1Q tag: priority, drop-eligible bit and VLAN id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VlanTag {
    /// Priority code point (3 bits).
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier (12 bits).
    pub vid: u16,
}

impl VlanTag {
    /// The tag of a tag-control-information word.
    pub fn from_tci(tci: u16) -> VlanTag {
        VlanTag { pcp: (tci >> 13) as u8, dei: tci & 0x1000 != 0, vid: tci & 0x0fff }
    }

    /// The tag-control-information word (out-of-range bits are dropped).
    pub fn tci(&self) -> u16 {
        u16::from(self.pcp & 0x7) << 13 | u16::from(self.dei) << 12 | (self.vid & 0x0fff)
    }
}

impl fmt::Display for VlanTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vlan {}, p {}", self.vid, self.pcp)?;
        if self.dei {
            f.write_str(", DEI")?;
        }
        Ok(())
    }
}

/// A view of an Ethernet II frame (without the FCS), tagged or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Length of an untagged header.
    pub const HEADER_LEN: usize = 14;
    /// Length of a header with one 802.1Q tag.
    pub const VLAN_HEADER_LEN: usize = 18;

    /// A view with no validation: accessors panic if the buffer is shorter
    /// than [`Self::header_len`].
    pub const fn new_unchecked(buffer: T) -> EthernetFrame<T> {
        EthernetFrame { buffer }
    }

    /// A view of a validated frame.
    pub fn new_checked(buffer: T) -> Result<EthernetFrame<T>, WireError> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Check that the header, with its tag if there is one, fits:
    /// [`WireError::Truncated`] otherwise.
    pub fn check_len(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        if b.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b.len() < self.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole frame's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Destination address.
    pub fn dst(&self) -> MacAddr {
        MacAddr(self.buffer.as_ref()[field::DST].try_into().unwrap_or_default())
    }

    /// Source address.
    pub fn src(&self) -> MacAddr {
        MacAddr(self.buffer.as_ref()[field::SRC].try_into().unwrap_or_default())
    }

    /// The EtherType right after the addresses ([`EtherType::VLAN`] for a
    /// tagged frame).
    pub fn outer_ethertype(&self) -> EtherType {
        EtherType(be16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// The 802.1Q tag, if the frame has one.
    pub fn vlan(&self) -> Option<VlanTag> {
        self.is_tagged().then(|| VlanTag::from_tci(be16(self.buffer.as_ref(), field::TCI)))
    }

    /// The EtherType of the payload (after the tag on a tagged frame).
    pub fn ethertype(&self) -> EtherType {
        let at = if self.is_tagged() { field::INNER_ETHERTYPE } else { field::ETHERTYPE };
        EtherType(be16(self.buffer.as_ref(), at))
    }

    /// 14, or 18 with a tag.
    pub fn header_len(&self) -> usize {
        if self.is_tagged() { Self::VLAN_HEADER_LEN } else { Self::HEADER_LEN }
    }

    /// The bytes after the header (including any padding to 60 bytes).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    fn is_tagged(&self) -> bool {
        self.outer_ethertype() == EtherType::VLAN
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Set the destination address.
    pub fn set_dst(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.0);
    }

    /// Set the source address.
    pub fn set_src(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.0);
    }

    /// Set the payload's EtherType (after the tag on a tagged frame).
    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        let at = if self.is_tagged() { field::INNER_ETHERTYPE } else { field::ETHERTYPE };
        put16(self.buffer.as_mut(), at, ethertype.0);
    }

    /// Rewrite the tag of a tagged frame. An untagged frame has no room for
    /// one ([`EthernetRepr`] builds tagged headers): [`WireError::Unsupported`].
    pub fn set_vlan(&mut self, tag: VlanTag) -> Result<(), WireError> {
        if !self.is_tagged() {
            return Err(WireError::Unsupported);
        }
        put16(self.buffer.as_mut(), field::TCI, tag.tci());
        Ok(())
    }

    /// The bytes after the header, for writing.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        &mut self.buffer.as_mut()[at..]
    }
}

impl<T: AsRef<[u8]>> fmt::Display for EthernetFrame<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&super::pretty::Frame(self.buffer.as_ref()), f)
    }
}

/// An Ethernet header to build: addresses, an optional tag, the EtherType.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EthernetRepr {
    /// Destination address.
    pub dst: MacAddr,
    /// Source address.
    pub src: MacAddr,
    /// An 802.1Q tag to insert.
    pub vlan: Option<VlanTag>,
    /// The payload's EtherType.
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// The header of a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> EthernetRepr {
        EthernetRepr { dst: frame.dst(), src: frame.src(), vlan: frame.vlan(), ethertype: frame.ethertype() }
    }

    /// Bytes the header takes.
    pub fn header_len(&self) -> usize {
        if self.vlan.is_some() { 18 } else { 14 }
    }

    /// Write the header at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.header_len();
        let b = buf.get_mut(..len).ok_or(WireError::Truncated)?;
        b[field::DST].copy_from_slice(&self.dst.0);
        b[field::SRC].copy_from_slice(&self.src.0);
        match self.vlan {
            Some(tag) => {
                put16(b, field::ETHERTYPE, EtherType::VLAN.0);
                put16(b, field::TCI, tag.tci());
                put16(b, field::INNER_ETHERTYPE, self.ethertype.0);
            }
            None => put16(b, field::ETHERTYPE, self.ethertype.0),
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNTAGGED: [u8; 16] =
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0xaa, 0xbb];
    const TAGGED: [u8; 19] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x81, 0x00, 0xb0, 0x0a, 0x08, 0x00,
        0x45,
    ];

    #[test]
    fn untagged_fields() {
        let f = EthernetFrame::new_checked(&UNTAGGED[..]).unwrap();
        assert_eq!(f.dst(), MacAddr::BROADCAST);
        assert_eq!(f.src(), MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!((f.ethertype(), f.outer_ethertype(), f.vlan()), (EtherType::ARP, EtherType::ARP, None));
        assert_eq!((f.header_len(), f.payload()), (14, &[0xaa, 0xbb][..]));
    }

    #[test]
    fn tagged_fields() {
        let f = EthernetFrame::new_checked(&TAGGED[..]).unwrap();
        assert_eq!(f.vlan(), Some(VlanTag { pcp: 5, dei: true, vid: 10 }));
        assert_eq!((f.ethertype(), f.outer_ethertype()), (EtherType::IPV4, EtherType::VLAN));
        assert_eq!((f.header_len(), f.payload()), (18, &[0x45][..]));
    }

    #[test]
    fn truncation() {
        assert_eq!(EthernetFrame::new_checked(&UNTAGGED[..13]).err(), Some(WireError::Truncated));
        assert!(EthernetFrame::new_checked(&UNTAGGED[..14]).is_ok());
        assert_eq!(EthernetFrame::new_checked(&TAGGED[..17]).err(), Some(WireError::Truncated));
        let f = EthernetFrame::new_checked(&TAGGED[..18]).unwrap();
        assert_eq!(f.payload(), &[] as &[u8]);
    }

    #[test]
    fn setters_write_in_place() {
        let mut b = TAGGED;
        let mut f = EthernetFrame::new_checked(&mut b[..]).unwrap();
        f.set_dst(MacAddr([1, 2, 3, 4, 5, 6]));
        f.set_src(MacAddr([7, 8, 9, 10, 11, 12]));
        f.set_ethertype(EtherType::ARP);
        f.set_vlan(VlanTag { pcp: 1, dei: false, vid: 0xfff }).unwrap();
        f.payload_mut()[0] = 0x46;
        assert_eq!(b, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0x2f, 0xff, 0x08, 0x06, 0x46]);
        let mut u = UNTAGGED;
        let mut f = EthernetFrame::new_checked(&mut u[..]).unwrap();
        assert_eq!(f.set_vlan(VlanTag::default()), Err(WireError::Unsupported));
        f.set_ethertype(EtherType::IPV6);
        assert_eq!(&u[12..14], &[0x86, 0xdd]);
    }

    #[test]
    fn repr_round_trip() {
        let r = EthernetRepr::parse(&EthernetFrame::new_checked(&TAGGED[..]).unwrap());
        let mut out = [0u8; 18];
        assert_eq!(r.emit(&mut out), Ok(18));
        assert_eq!(out[..], TAGGED[..18]);
        let plain = EthernetRepr { vlan: None, ..r };
        assert_eq!(plain.emit(&mut out[..13]), Err(WireError::Truncated));
        assert_eq!(plain.emit(&mut out), Ok(14));
        assert_eq!(&out[12..14], &[0x08, 0x00]);
    }

    #[test]
    fn tci_round_trip_and_display() {
        let t = VlanTag { pcp: 7, dei: true, vid: 4095 };
        assert_eq!(t.tci(), 0xffff);
        assert_eq!(VlanTag::from_tci(0xffff), t);
        assert_eq!(std::format!("{t}"), "vlan 4095, p 7, DEI");
        assert_eq!(std::format!("{}", VlanTag::from_tci(0x0064)), "vlan 100, p 0");
    }
}

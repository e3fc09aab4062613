//! Per-packet metadata: what Linux keeps in `struct sk_buff` beside the data
//! pointers, and its one-to-one mapping onto `struct virtio_net_hdr`.

use crate::time::Instant;

/// An interface index inside a namespace; `0` means "none", as in Linux.
pub type IfIndex = u16;

/// Marker for a header offset that has not been set.
pub const OFFSET_UNSET: u16 = u16::MAX;

/// Checksum state of a packet (Linux's `skb->ip_summed` with its companions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Checksum {
    /// Nothing is known; software must verify (RX) or the packet is complete (TX).
    #[default]
    None,
    /// The device verified the L4 checksum (`CHECKSUM_UNNECESSARY`).
    Unnecessary,
    /// The device computed the one's-complement sum of the packet from the
    /// start of the network header (`CHECKSUM_COMPLETE`), given here.
    Complete(u16),
    /// The L4 checksum still has to be finished (`CHECKSUM_PARTIAL`): the
    /// pseudo-header sum is seeded in the field; sum everything from `start`
    /// (an offset from the buffer head) to the end and store the folded
    /// complement at `start + offset`.
    Partial {
        /// Offset of the L4 header from the start of the first buffer.
        start: u16,
        /// Offset of the checksum field from `start`.
        offset: u16,
    },
}

/// Kind of segmentation offload a super-packet asks for (`skb_shinfo->gso_type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GsoType {
    /// Not a GSO packet.
    #[default]
    None,
    /// TCP over IPv4 (`SKB_GSO_TCPV4`, `VIRTIO_NET_HDR_GSO_TCPV4`).
    TcpV4,
    /// TCP over IPv6 (`SKB_GSO_TCPV6`), reserved for the dual stack.
    TcpV6,
    /// UDP fragmentation offload (`VIRTIO_NET_HDR_GSO_UDP`).
    Udp,
    /// UDP segmentation offload (`SKB_GSO_UDP_L4`, `VIRTIO_NET_HDR_GSO_UDP_L4`).
    UdpL4,
}

/// Segmentation-offload metadata (`gso_size`, `gso_segs`, `gso_type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Gso {
    /// Payload bytes per segment (the MSS); `0` when not a GSO packet.
    pub size: u16,
    /// Number of segments the packet stands for (for accounting, as in Linux).
    pub segs: u16,
    /// Offload kind.
    pub kind: GsoType,
    /// The sender set CWR: segments after the first must carry ECN bits as
    /// `SKB_GSO_TCP_ECN` requires.
    pub ecn: bool,
}

impl Gso {
    /// True when this packet must be segmented before it reaches the wire.
    pub fn is_gso(&self) -> bool {
        self.kind != GsoType::None && self.size != 0
    }
}

/// Link-layer destination class of a received packet (`skb->pkt_type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PacketType {
    /// Addressed to us.
    #[default]
    Host,
    /// Link-layer broadcast.
    Broadcast,
    /// Link-layer multicast.
    Multicast,
    /// Addressed to another host (seen in promiscuous mode).
    OtherHost,
    /// Sent by us (looped back).
    Outgoing,
}

/// The metadata of a packet. Header offsets are relative to the start of the
/// packet's first buffer (Linux's `skb->head`), so pushing and pulling the
/// data pointer does not move them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Meta {
    /// EtherType of the network protocol (`skb->protocol`), host order.
    pub protocol: u16,
    /// Offset of the link-layer header, or [`OFFSET_UNSET`].
    pub mac_header: u16,
    /// Offset of the network header, or [`OFFSET_UNSET`].
    pub network_header: u16,
    /// Offset of the transport header, or [`OFFSET_UNSET`].
    pub transport_header: u16,
    /// Interface the packet arrived on (`0`: locally generated).
    pub iif: IfIndex,
    /// Interface the packet leaves through (`0`: not routed yet).
    pub oif: IfIndex,
    /// Firewall mark (`skb->mark`).
    pub mark: u32,
    /// Connection-tracking reference (`skb->_nfct`), if any: an opaque
    /// word the netfilter layer gives the packet (its connection's slot
    /// and generation, and how the packet relates to it).
    pub ct: Option<u32>,
    /// Checksum state (`skb->ip_summed`, `csum`, `csum_start`, `csum_offset`).
    pub csum: Checksum,
    /// Segmentation offload state.
    pub gso: Gso,
    /// Receive or transmit timestamp.
    pub tstamp: Instant,
    /// Link-layer destination class.
    pub pkt_type: PacketType,
    /// Queue-selection priority (`skb->priority`).
    pub priority: u8,
    /// The input route took the packet in as an IP broadcast (Linux's
    /// `RTCF_BROADCAST` on its route), not for one of our addresses. Set
    /// when a received packet is routed; TCP and echo refuse such packets.
    pub rt_broadcast: bool,
    /// Scratch space owned by the layer that holds the packet (Linux's
    /// `skb->cb`): TCP keeps a queued segment's sequence range, send time
    /// and SACK state here.
    pub cb: [u32; 4],
}

impl Meta {
    /// Metadata of a freshly allocated packet.
    pub const fn new() -> Meta {
        Meta {
            protocol: 0,
            mac_header: OFFSET_UNSET,
            network_header: OFFSET_UNSET,
            transport_header: OFFSET_UNSET,
            iif: 0,
            oif: 0,
            mark: 0,
            ct: None,
            csum: Checksum::None,
            gso: Gso { size: 0, segs: 0, kind: GsoType::None, ecn: false },
            tstamp: Instant::ZERO,
            pkt_type: PacketType::Host,
            priority: 0,
            rt_broadcast: false,
            cb: [0; 4],
        }
    }

    /// Forget every header offset (the packet moved to another buffer, or a
    /// layer wants to start over).
    pub fn reset_headers(&mut self) {
        self.mac_header = OFFSET_UNSET;
        self.network_header = OFFSET_UNSET;
        self.transport_header = OFFSET_UNSET;
    }
}

impl Default for Meta {
    fn default() -> Meta {
        Meta::new()
    }
}

/// `struct virtio_net_hdr` (virtio 1.x, little-endian; 10 bytes), the header
/// a TUN device opened with `IFF_VNET_HDR` puts before every packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VirtioNetHdr {
    /// `VIRTIO_NET_HDR_F_*` bits.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*` value.
    pub gso_type: u8,
    /// Length of the headers to copy into every segment.
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where checksumming starts, from the start of the packet.
    pub csum_start: u16,
    /// Where to store the checksum, from `csum_start`.
    pub csum_offset: u16,
}

impl VirtioNetHdr {
    /// Size on the wire.
    pub const LEN: usize = 10;
    /// The checksum must be finished by the receiver of the header.
    pub const F_NEEDS_CSUM: u8 = 1;
    /// The checksum was verified.
    pub const F_DATA_VALID: u8 = 2;
    /// No segmentation.
    pub const GSO_NONE: u8 = 0;
    /// TCP over IPv4.
    pub const GSO_TCPV4: u8 = 1;
    /// UDP fragmentation.
    pub const GSO_UDP: u8 = 3;
    /// TCP over IPv6.
    pub const GSO_TCPV6: u8 = 4;
    /// UDP segmentation.
    pub const GSO_UDP_L4: u8 = 5;
    /// ECN bit of `gso_type`.
    pub const GSO_ECN: u8 = 0x80;

    /// Encode (little-endian).
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        b
    }

    /// Decode the first [`Self::LEN`] bytes of `b`; `None` if `b` is shorter.
    pub fn from_bytes(b: &[u8]) -> Option<VirtioNetHdr> {
        let b: &[u8; Self::LEN] = b.get(..Self::LEN)?.try_into().ok()?;
        let le = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Some(VirtioNetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: le(2),
            gso_size: le(4),
            csum_start: le(6),
            csum_offset: le(8),
        })
    }

    /// The header that describes a packet with metadata `meta` whose data
    /// starts `data_off` bytes into its first buffer. `hdr_len` is the length
    /// of all headers up to and including the L4 header (needed only for GSO).
    pub fn from_meta(meta: &Meta, data_off: u16, hdr_len: u16) -> VirtioNetHdr {
        let mut h = VirtioNetHdr::default();
        match meta.csum {
            Checksum::Partial { start, offset } => {
                h.flags = Self::F_NEEDS_CSUM;
                h.csum_start = start.saturating_sub(data_off);
                h.csum_offset = offset;
            }
            Checksum::Unnecessary => h.flags = Self::F_DATA_VALID,
            Checksum::None | Checksum::Complete(_) => {}
        }
        if meta.gso.is_gso() {
            h.gso_type = match meta.gso.kind {
                GsoType::None => Self::GSO_NONE,
                GsoType::TcpV4 => Self::GSO_TCPV4,
                GsoType::TcpV6 => Self::GSO_TCPV6,
                GsoType::Udp => Self::GSO_UDP,
                GsoType::UdpL4 => Self::GSO_UDP_L4,
            };
            if meta.gso.ecn {
                h.gso_type |= Self::GSO_ECN;
            }
            h.gso_size = meta.gso.size;
            h.hdr_len = hdr_len;
        }
        h
    }

    /// Apply this header to `meta` for a packet whose data starts `data_off`
    /// bytes into its first buffer and which is `len` bytes long. Returns
    /// `None` (and leaves `meta` alone) when the header is inconsistent: an
    /// unknown GSO type, a checksum start past the end, or GSO without a size.
    pub fn to_meta(&self, meta: &mut Meta, data_off: u16, len: usize) -> Option<()> {
        let kind = match self.gso_type & !Self::GSO_ECN {
            Self::GSO_NONE => GsoType::None,
            Self::GSO_TCPV4 => GsoType::TcpV4,
            Self::GSO_TCPV6 => GsoType::TcpV6,
            Self::GSO_UDP => GsoType::Udp,
            Self::GSO_UDP_L4 => GsoType::UdpL4,
            _ => return None,
        };
        if kind != GsoType::None && self.gso_size == 0 {
            return None;
        }
        let csum = if self.flags & Self::F_NEEDS_CSUM != 0 {
            let end = usize::from(self.csum_start) + usize::from(self.csum_offset) + 2;
            if end > len {
                return None;
            }
            Checksum::Partial { start: data_off.checked_add(self.csum_start)?, offset: self.csum_offset }
        } else if self.flags & Self::F_DATA_VALID != 0 {
            Checksum::Unnecessary
        } else {
            Checksum::None
        };
        meta.csum = csum;
        meta.gso = Gso { size: self.gso_size, segs: 0, kind, ecn: self.gso_type & Self::GSO_ECN != 0 };
        if kind != GsoType::None {
            let payload = len.saturating_sub(usize::from(self.hdr_len));
            let segs = payload.div_ceil(usize::from(self.gso_size));
            meta.gso.segs = u16::try_from(segs).unwrap_or(u16::MAX);
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtio_roundtrip_partial_tso() {
        let mut meta = Meta::new();
        meta.csum = Checksum::Partial { start: 64 + 20, offset: 16 };
        meta.gso = Gso { size: 1448, segs: 3, kind: GsoType::TcpV4, ecn: true };
        let h = VirtioNetHdr::from_meta(&meta, 64, 52);
        assert_eq!(h.flags, VirtioNetHdr::F_NEEDS_CSUM);
        assert_eq!(h.gso_type, VirtioNetHdr::GSO_TCPV4 | VirtioNetHdr::GSO_ECN);
        assert_eq!((h.csum_start, h.csum_offset, h.hdr_len, h.gso_size), (20, 16, 52, 1448));
        let bytes = h.to_bytes();
        assert_eq!(bytes, [1, 0x81, 52, 0, 0xa8, 0x05, 20, 0, 16, 0]);
        let back = VirtioNetHdr::from_bytes(&bytes).unwrap();
        assert_eq!(back, h);
        let mut m2 = Meta::new();
        back.to_meta(&mut m2, 64, 52 + 3 * 1448).unwrap();
        assert_eq!(m2.csum, meta.csum);
        assert_eq!(m2.gso, meta.gso);
    }

    #[test]
    fn virtio_rejects_inconsistent_headers() {
        let mut m = Meta::new();
        let bad_type = VirtioNetHdr { gso_type: 9, gso_size: 100, ..Default::default() };
        assert!(bad_type.to_meta(&mut m, 0, 200).is_none());
        let no_size = VirtioNetHdr { gso_type: VirtioNetHdr::GSO_TCPV4, ..Default::default() };
        assert!(no_size.to_meta(&mut m, 0, 200).is_none());
        let past_end = VirtioNetHdr { flags: 1, csum_start: 190, csum_offset: 16, ..Default::default() };
        assert!(past_end.to_meta(&mut m, 0, 200).is_none());
        assert_eq!(m, Meta::new(), "a rejected header leaves the metadata alone");
        assert!(VirtioNetHdr::from_bytes(&[0; 9]).is_none());
        let valid = VirtioNetHdr { flags: VirtioNetHdr::F_DATA_VALID, ..Default::default() };
        valid.to_meta(&mut m, 0, 60).unwrap();
        assert_eq!(m.csum, Checksum::Unnecessary);
    }
}

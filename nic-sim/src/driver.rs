//! The driver half of the simulated NIC: what a real driver does with the
//! same hardware. Transmit fills descriptors (one per buffer of the packet,
//! with the offload fields), respects the byte-queue limit and rings the
//! doorbell; reclaim frees what the device completed; the NAPI poll takes
//! finished receive descriptors, builds sk_buffs (chaining multi-buffer
//! frames), sets checksum and GRO metadata from the device's status, refills
//! the ring from the pool, and re-enables interrupts when it is drained.

use skbnet::dev::{Medium, TxBusy};
use skbnet::skb::{Checksum, Gso, GsoType, SkBuff, SkbPool, SkbQueue};
use skbnet::time::Instant;
use skbnet::wire::checksum::finish_partial;
use skbnet::wire::{EthernetFrame, Ipv4Packet};

use crate::desc::{
    DD, DmaAddr, EOP, OWN, RX_CSUM_PARTIAL, RX_L4_OK, RX_RSC, RX_TRUNCATED, Ring, RxDesc, SOP, TX_CSUM, TX_TSO, TxDesc,
};
use crate::nic::SimNic;
use crate::port::Port;

/// Offload fields of a packet's first descriptor.
struct TxOffload {
    flags: u16,
    csum_start: u16,
    csum_offset: u16,
    mss: u16,
    hdr_len: u16,
}

impl<const TXN: usize, const RXN: usize, const FRAME: usize, P: Port> SimNic<TXN, RXN, FRAME, P> {
    /// `ndo_start_xmit`.
    pub(crate) fn driver_xmit(&mut self, pool: &mut SkbPool, now: Instant, skb: SkBuff) -> Result<(), TxBusy> {
        let chunks = pool.chunk_count(&skb);
        // `features()` told the stack how many buffers fit (`max_frags`), so
        // more than that is the stack breaking the contract.
        let unusable = !self.link_up || chunks == 0 || chunks >= TXN || (chunks > 1 && !self.cfg.offloads.sg);
        let offload = if unusable { None } else { self.tx_offload(pool, &skb) };
        let Some(off) = offload else {
            // The stack broke the contract (or the link is down): drop and count.
            self.stats.tx_dropped += 1;
            pool.free(skb);
            return Ok(());
        };
        let used = Ring::<TxDesc, TXN>::distance(self.tx_clean, self.tx.tail);
        if TXN - 1 - used < chunks {
            self.stats.tx_busy += 1;
            return Err(TxBusy(skb));
        }
        if !self.bql.can_queue() {
            self.bql.held_back();
            self.stats.tx_busy += 1;
            return Err(TxBusy(skb));
        }
        let len = pool.len(&skb) as u32;
        let r = skb.as_ref();
        let (mut i, mut last, mut offset) = (self.tx.tail, self.tx.tail, 0u32);
        for (k, chunk) in pool.chunks(&skb).enumerate() {
            let mut flags = OWN;
            if k == 0 {
                flags |= SOP | off.flags;
            }
            if k + 1 == chunks {
                flags |= EOP;
            }
            self.tx.desc[usize::from(i)] = TxDesc {
                addr: Some(DmaAddr { skb: r, offset }),
                len: chunk.len() as u16,
                flags,
                csum_start: off.csum_start,
                csum_offset: off.csum_offset,
                mss: off.mss,
                hdr_len: off.hdr_len,
            };
            offset += chunk.len() as u32;
            last = i;
            i = Ring::<TxDesc, TXN>::next(i);
        }
        if let Some(stale) = self.tx_skbs[usize::from(last)].replace(skb) {
            // Only a corrupted ring (registers written behind the driver's
            // back) gets here; the old packet is dropped, not leaked.
            self.stats.tx_errors += 1;
            pool.free(stale);
        }
        self.bql.queued(len);
        // The doorbell: the device may now process up to the new tail.
        self.tx.tail = i;
        self.tx_doorbell.get_or_insert(now);
        Ok(())
    }

    /// The offload fields for `skb`, finishing a partial checksum in software
    /// when the hardware cannot. `None` when the packet asks for an offload the
    /// hardware lacks and software cannot stand in for (TSO).
    fn tx_offload(&self, pool: &mut SkbPool, skb: &SkBuff) -> Option<TxOffload> {
        let meta = *pool.meta(skb);
        let data = pool.data_offset(skb);
        let mut off = TxOffload { flags: 0, csum_start: 0, csum_offset: 0, mss: 0, hdr_len: 0 };
        if let Checksum::Partial { start, offset } = meta.csum {
            if self.cfg.offloads.tx_csum {
                off.flags |= TX_CSUM;
                off.csum_start = start.checked_sub(data)?;
                off.csum_offset = offset;
            } else {
                finish_partial(pool, skb).ok()?;
            }
        }
        if meta.gso.is_gso() {
            if self.cfg.offloads.tso.is_none() || off.flags & TX_CSUM == 0 || meta.gso.kind != GsoType::TcpV4 {
                return None;
            }
            let mut th = [0u8; 13];
            pool.copy_to_slice(skb, usize::from(off.csum_start), &mut th).ok()?;
            off.flags |= TX_TSO;
            off.mss = meta.gso.size;
            off.hdr_len = off.csum_start + u16::from(th[12] >> 4) * 4;
        }
        Some(off)
    }

    /// Free completed transmissions.
    pub(crate) fn driver_reclaim_tx(&mut self, pool: &mut SkbPool, now: Instant) -> usize {
        let mut n = 0;
        while self.tx_clean != self.tx.tail {
            let i = usize::from(self.tx_clean);
            let d = self.tx.desc[i];
            if d.flags & DD == 0 {
                break;
            }
            if let Some(skb) = self.tx_skbs[i].take() {
                let len = pool.len(&skb) as u64;
                self.stats.tx_packets += u64::from(pool.meta(&skb).gso.segs.max(1));
                self.stats.tx_bytes += len;
                self.bql.completed(now, len as u32);
                pool.free(skb);
                n += 1;
            }
            self.tx.desc[i] = TxDesc::default();
            self.tx_clean = Ring::<TxDesc, TXN>::next(self.tx_clean);
        }
        n
    }

    /// The NAPI poll.
    pub(crate) fn driver_poll_rx(
        &mut self,
        pool: &mut SkbPool,
        now: Instant,
        budget: usize,
        rx: &mut SkbQueue,
    ) -> usize {
        self.irq.take();
        let mut n = 0;
        while n < budget {
            let Some(end) = self.complete_packet_end() else { break };
            if let Some(skb) = self.assemble(pool, end, now) {
                rx.push_back(pool, skb);
                n += 1;
            }
        }
        self.refill_rx(pool);
        if n < budget {
            // Drained: acknowledge what the device recorded and let it interrupt again.
            self.hw.ack_and_unmask();
        } else {
            self.irq.reschedule();
        }
        n
    }

    /// The index of the EOP descriptor of a fully written packet at `rx_clean`.
    fn complete_packet_end(&self) -> Option<u16> {
        let mut i = self.rx_clean;
        for _ in 0..RXN {
            let d = self.rx.desc[usize::from(i)];
            if d.flags & DD == 0 {
                return None;
            }
            if d.flags & EOP != 0 {
                return Some(i);
            }
            i = Ring::<RxDesc, RXN>::next(i);
        }
        None
    }

    /// Build the packet from `rx_clean` to `end`, consuming the descriptors.
    ///
    /// The buffers are trimmed to what the device wrote front to back, then
    /// chained back to front: each buffer takes the chain built so far as
    /// its continuation, so every link is made at a single-buffer packet and
    /// a packet of n buffers costs n steps, not the n²/2 of appending each
    /// at the end of a growing chain.
    fn assemble(&mut self, pool: &mut SkbPool, end: u16, now: Instant) -> Option<SkBuff> {
        let start = self.rx_clean;
        let first = self.rx.desc[usize::from(start)];
        let mut ok = first.flags & RX_TRUNCATED == 0;
        loop {
            let i = usize::from(self.rx_clean);
            let d = self.rx.desc[i];
            self.rx.desc[i] = RxDesc::default();
            match &self.rx_skbs[i] {
                Some(skb) => ok &= pool.trim(skb, usize::from(d.len)).is_ok(),
                None => ok = false,
            }
            let done = self.rx_clean == end;
            self.rx_clean = Ring::<RxDesc, RXN>::next(self.rx_clean);
            if done {
                break;
            }
        }
        let (mut i, mut pkt) = (end, None::<SkBuff>);
        loop {
            if let Some(skb) = self.rx_skbs[usize::from(i)].take() {
                pkt = match pkt {
                    None => Some(skb),
                    Some(rest) => match pool.append_skb(&skb, rest) {
                        Ok(()) => Some(skb),
                        Err((_, rest)) => {
                            ok = false;
                            pool.free(rest);
                            Some(skb)
                        }
                    },
                };
            }
            if i == start {
                break;
            }
            i = Ring::<RxDesc, RXN>::prev(i);
        }
        let skb = pkt?;
        if !ok {
            self.stats.rx_errors += 1;
            pool.free(skb);
            return None;
        }
        let merged_l4 = if first.flags & RX_RSC != 0 && first.rsc_segs > 1 { self.l4_offset(pool, &skb) } else { None };
        let (data_off, len) = (pool.data_offset(&skb), pool.len(&skb));
        if let Ok(meta) = pool.meta_mut(&skb) {
            meta.tstamp = now;
            if first.flags & RX_L4_OK != 0 {
                meta.csum = Checksum::Unnecessary;
            }
            // A sum the far side left to finish, where the device says; one
            // whose field lies past the packet goes up unverified, so the
            // stack checks it (and drops it as bad).
            let field = usize::from(first.csum_start) + usize::from(first.csum_offset) + 2;
            if first.flags & RX_CSUM_PARTIAL != 0
                && field <= len
                && let Some(start) = data_off.checked_add(first.csum_start)
            {
                meta.csum = Checksum::Partial { start, offset: first.csum_offset };
            }
            if let Some((l3, l4)) = merged_l4 {
                // A merged packet carries GRO's form: TCP checksum seeded with
                // the pseudo-header sum, ready to be segmented again, and its
                // headers marked, as a bridge forwarding it to a port without
                // TSO segments it without `ip_rcv` having looked.
                meta.gso = Gso { size: first.rsc_mss, segs: first.rsc_segs, kind: GsoType::TcpV4, ecn: false };
                meta.csum = Checksum::Partial { start: data_off + l4, offset: 16 };
                meta.network_header = data_off + l3;
                meta.transport_header = data_off + l4;
            }
        }
        self.stats.rx_packets += 1;
        self.stats.rx_bytes += pool.len(&skb) as u64;
        Some(skb)
    }

    /// Offsets of the IPv4 and TCP headers in a received merged packet,
    /// read from its headers as a driver fixing up RSC packets does.
    fn l4_offset(&self, pool: &SkbPool, skb: &SkBuff) -> Option<(u16, u16)> {
        let data = pool.data(skb);
        let l3 = match self.cfg.medium {
            Medium::Ip => 0,
            Medium::Ethernet => EthernetFrame::new_checked(data).ok()?.header_len(),
        };
        let ip = Ipv4Packet::new_quoted(data.get(l3..)?).ok()?;
        Some((u16::try_from(l3).ok()?, u16::try_from(l3 + ip.header_len()).ok()?))
    }

    /// Post fresh receive buffers up to one short of a full ring.
    pub(crate) fn refill_rx(&mut self, pool: &mut SkbPool) {
        let Some(owner) = self.rx_owner else { return };
        let (headroom, len) = (usize::from(self.cfg.rx_headroom), usize::from(self.cfg.rx_buf_len));
        while Ring::<RxDesc, RXN>::next(self.rx.tail) != self.rx_clean {
            let Ok(skb) = pool.alloc_sized(owner, headroom, len) else { break };
            let i = usize::from(self.rx.tail);
            self.rx.desc[i] = RxDesc {
                addr: Some(DmaAddr { skb: skb.as_ref(), offset: 0 }),
                buf_len: len as u16,
                flags: OWN,
                ..RxDesc::default()
            };
            if let Some(stale) = self.rx_skbs[i].replace(skb) {
                self.stats.rx_errors += 1;
                pool.free(stale);
            }
            self.rx.tail = Ring::<RxDesc, RXN>::next(self.rx.tail);
        }
    }
}

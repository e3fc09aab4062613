//! What every fuzz body reads its input with: operands taken from the
//! front of the fuzzer's bytes, zeros once they run out, so any input is a
//! complete program.

use skbnet::dev::{Features, TsoLimits};

/// Operands read from the input; zeros once it runs out.
pub(crate) struct Input<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Input<'a> {
    /// Read `data` from its start.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Input { data, pos: 0 }
    }

    /// Every byte has been read.
    pub(crate) fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The next byte, or zero.
    pub(crate) fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }

    /// The next two bytes, big-endian.
    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// Up to `n` bytes, fewer if the input ends first.
    pub(crate) fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        &self.data[start..end]
    }

    /// Exactly `n` bytes, zeros past the end of the input.
    pub(crate) fn bytes_padded(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u8()).collect()
    }
}

/// Offload features from five bits of the input: TX checksum, TSO, RX
/// checksum, LRO, scatter-gather.
pub(crate) fn features(bits: u8) -> Features {
    Features {
        tx_csum: bits & 1 != 0,
        tso: (bits & 2 != 0).then_some(TsoLimits { max_size: 65_536, max_segs: 64 }),
        rx_csum: bits & 4 != 0,
        lro: bits & 8 != 0,
        sg: bits & 16 != 0,
        // The simulated NIC caps it at its ring anyway.
        max_frags: u16::MAX,
    }
}

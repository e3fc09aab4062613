//! The interrupt line between the simulated device and its driver.
//!
//! The device raises an interrupt; the handler (here [`IrqLine::raise`])
//! only records the cause and schedules a NAPI poll, under
//! `critical-section`, so it would be sound from a real interrupt context.
//! The device masks itself when it fires (auto-mask); the driver unmasks it
//! when a poll finishes with work left undone by no one.

use core::cell::Cell;

use critical_section::Mutex;

/// Receive cause.
pub const CAUSE_RX: u8 = 1;
/// Transmit-completion cause.
pub const CAUSE_TX: u8 = 2;

#[derive(Clone, Copy, Default)]
struct State {
    causes: u8,
    scheduled: bool,
    raised: u32,
}

/// What an interrupt handler records, shared by device and driver.
pub struct IrqLine {
    state: Mutex<Cell<State>>,
}

impl IrqLine {
    /// A quiet line.
    pub const fn new() -> IrqLine {
        IrqLine { state: Mutex::new(Cell::new(State { causes: 0, scheduled: false, raised: 0 })) }
    }

    /// The interrupt handler: note `causes` and schedule a poll. Nothing else.
    pub fn raise(&self, causes: u8) {
        critical_section::with(|cs| {
            let cell = self.state.borrow(cs);
            let mut s = cell.get();
            s.causes |= causes;
            s.scheduled = true;
            s.raised += 1;
            cell.set(s);
        });
    }

    /// True when a poll is scheduled.
    pub fn scheduled(&self) -> bool {
        critical_section::with(|cs| self.state.borrow(cs).get().scheduled)
    }

    /// Take the recorded causes and end the schedule (start of a NAPI poll).
    pub fn take(&self) -> u8 {
        critical_section::with(|cs| {
            let cell = self.state.borrow(cs);
            let mut s = cell.get();
            let causes = s.causes;
            s.causes = 0;
            s.scheduled = false;
            cell.set(s);
            causes
        })
    }

    /// Schedule a poll without an interrupt (the last poll used its whole
    /// budget, so more work is waiting: NAPI keeps polling).
    pub fn reschedule(&self) {
        critical_section::with(|cs| {
            let cell = self.state.borrow(cs);
            let mut s = cell.get();
            s.scheduled = true;
            cell.set(s);
        });
    }

    /// Interrupts raised so far.
    pub fn raised(&self) -> u32 {
        critical_section::with(|cs| self.state.borrow(cs).get().raised)
    }
}

impl Default for IrqLine {
    fn default() -> Self {
        Self::new()
    }
}

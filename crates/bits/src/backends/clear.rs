//! Plain bits, for testing circuits against integer arithmetic and for measuring them: the
//! backend counts gates and bootstraps, and every bit carries its depth in gate layers.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{BitKey, BitsError, GateOp, Gates};

/// A clear bit and the number of gate layers (NOT excluded) between it and the inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClearBit {
    /// The bit.
    pub value: bool,
    /// Gate layers between the bit and the inputs (NOT excluded); 0 for inputs and
    /// constants.
    pub depth: u32,
}

/// The plain backend; it is also its own key.
#[derive(Debug, Default)]
pub struct Clear {
    gates: AtomicU64,
    bootstraps: AtomicU64,
}

/// Gates evaluated since the last [`Clear::reset`]: NOTs excluded from `gates`, MUX counted
/// as one gate and two bootstraps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClearCounts {
    /// Gates evaluated, NOTs excluded.
    pub gates: u64,
    /// Bootstraps the same gates would cost on the bootstrapped engine.
    pub bootstraps: u64,
}

impl Clear {
    /// A backend with its counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The gates and bootstraps counted so far.
    pub fn counts(&self) -> ClearCounts {
        ClearCounts {
            gates: self.gates.load(Ordering::Relaxed),
            bootstraps: self.bootstraps.load(Ordering::Relaxed),
        }
    }

    /// Sets the counters back to zero.
    pub fn reset(&self) {
        self.gates.store(0, Ordering::Relaxed);
        self.bootstraps.store(0, Ordering::Relaxed);
    }
}

impl Gates for Clear {
    type Bit = ClearBit;

    fn constant(&self, bit: bool) -> ClearBit {
        ClearBit {
            value: bit,
            depth: 0,
        }
    }

    fn gate(&self, op: &GateOp<'_, ClearBit>) -> Result<ClearBit, BitsError> {
        let input_depth = op.inputs().iter().map(|b| b.depth).max().unwrap_or(0);
        let cost = op.bootstraps();
        let free = matches!(op, GateOp::Not(_));
        if !free {
            self.gates.fetch_add(1, Ordering::Relaxed);
            self.bootstraps.fetch_add(cost, Ordering::Relaxed);
        }
        Ok(ClearBit {
            value: op.eval_clear(|b| b.value),
            depth: input_depth + u32::from(!free),
        })
    }
}

impl BitKey for Clear {
    type Bit = ClearBit;

    fn encrypt_bit(&mut self, bit: bool) -> Result<ClearBit, BitsError> {
        Ok(self.constant(bit))
    }

    fn decrypt_bit(&self, bit: &ClearBit) -> Result<bool, BitsError> {
        Ok(bit.value)
    }
}

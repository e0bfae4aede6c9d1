//! Operation counters: tables of operation counts come from the code, not from hand analysis.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of how many costly operations an [`crate::Evaluator`] performed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Ciphertext-ciphertext products (tensoring).
    pub ct_mul: u64,
    /// Ciphertext-plaintext products (including by constants).
    pub pt_mul: u64,
    /// Slot rotations and conjugations.
    pub rotations: u64,
    /// Rescales, including those fused with a relinearization.
    pub rescales: u64,
    /// Key switches (relinearizations plus rotations).
    pub key_switches: u64,
}

impl std::ops::Sub for OpCounts {
    type Output = OpCounts;
    fn sub(self, o: OpCounts) -> OpCounts {
        OpCounts {
            ct_mul: self.ct_mul - o.ct_mul,
            pt_mul: self.pt_mul - o.pt_mul,
            rotations: self.rotations - o.rotations,
            rescales: self.rescales - o.rescales,
            key_switches: self.key_switches - o.key_switches,
        }
    }
}

#[derive(Default, Debug)]
pub(crate) struct Counters {
    ct_mul: AtomicU64,
    pt_mul: AtomicU64,
    rotations: AtomicU64,
    rescales: AtomicU64,
    key_switches: AtomicU64,
}

#[derive(Clone, Copy)]
pub(crate) enum Op {
    CtMul,
    PtMul,
    Rotation,
    Rescale,
    KeySwitch,
}

impl Counters {
    pub fn bump(&self, op: Op) {
        let c = match op {
            Op::CtMul => &self.ct_mul,
            Op::PtMul => &self.pt_mul,
            Op::Rotation => &self.rotations,
            Op::Rescale => &self.rescales,
            Op::KeySwitch => &self.key_switches,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> OpCounts {
        OpCounts {
            ct_mul: self.ct_mul.load(Ordering::Relaxed),
            pt_mul: self.pt_mul.load(Ordering::Relaxed),
            rotations: self.rotations.load(Ordering::Relaxed),
            rescales: self.rescales.load(Ordering::Relaxed),
            key_switches: self.key_switches.load(Ordering::Relaxed),
        }
    }
}

//! The backend trait: what an engine must evaluate for the circuits of this crate.

use crate::BitsError;

/// One gate on the bits of a backend, borrowing its inputs.
///
/// Besides the two-input gates there are two multi-input ones, which the bootstrapped engine
/// evaluates in a single bootstrap (`ServerKey::sum_bit`): [`GateOp::Parity`] (XOR of any
/// number of bits, a full adder's sum) and [`GateOp::Carry`] (the parity of half the count of
/// ones, a full adder's carry when given three bits).
#[derive(Clone, Debug)]
pub enum GateOp<'a, T> {
    /// `!a`, free on the bootstrapped engine.
    Not(&'a T),
    /// `a && b`.
    And(&'a T, &'a T),
    /// `a || b`.
    Or(&'a T, &'a T),
    /// `a ^ b`.
    Xor(&'a T, &'a T),
    /// `select ? then : otherwise`.
    Mux {
        /// The bit that chooses.
        select: &'a T,
        /// The output when `select` is true.
        then: &'a T,
        /// The output when `select` is false.
        otherwise: &'a T,
    },
    /// XOR of all inputs.
    Parity(Vec<&'a T>),
    /// Bit 1 of `offset + (number of true inputs)`: the parity of the carries a column of
    /// these bits (plus `offset` constant ones) sends to the next column; for three bits and
    /// offset 0 the majority.
    Carry {
        /// The bits counted; a bit listed twice counts twice.
        inputs: Vec<&'a T>,
        /// Constant ones added to the count.
        offset: u8,
    },
}

impl<T> GateOp<'_, T> {
    /// The gate on clear bits, reading each input through `bit`.
    pub fn eval_clear(&self, bit: impl Fn(&T) -> bool) -> bool {
        let count = |xs: &[&T]| xs.iter().filter(|x| bit(x)).count();
        match self {
            GateOp::Not(a) => !bit(a),
            GateOp::And(a, b) => bit(a) && bit(b),
            GateOp::Or(a, b) => bit(a) || bit(b),
            GateOp::Xor(a, b) => bit(a) ^ bit(b),
            GateOp::Mux {
                select,
                then,
                otherwise,
            } => bit(if bit(select) { then } else { otherwise }),
            GateOp::Parity(xs) => count(xs) % 2 == 1,
            GateOp::Carry { inputs, offset } => (count(inputs) + *offset as usize) >> 1 & 1 == 1,
        }
    }

    /// Bootstraps the gate costs on the bootstrapped engine: NOT is a free negation, MUX two
    /// gates, every other gate one.
    pub fn bootstraps(&self) -> u64 {
        match self {
            GateOp::Not(_) => 0,
            GateOp::Mux { .. } => 2,
            _ => 1,
        }
    }

    /// Every input, in order.
    pub fn inputs(&self) -> Vec<&T> {
        match self {
            GateOp::Not(a) => vec![a],
            GateOp::And(a, b) | GateOp::Or(a, b) | GateOp::Xor(a, b) => vec![a, b],
            GateOp::Mux {
                select,
                then,
                otherwise,
            } => vec![select, then, otherwise],
            GateOp::Parity(xs) | GateOp::Carry { inputs: xs, .. } => xs.clone(),
        }
    }
}

/// An engine that evaluates gates on its own kind of bits. Circuits are written once against
/// this trait; a circuit hands the backend one layer of mutually independent gates at a time,
/// which a backend may evaluate in parallel.
pub trait Gates: Sync {
    /// The engine's bit: a ciphertext, or a clear bit for the plain backend.
    type Bit: Clone + Send + Sync;

    /// A public constant as a bit of this engine (a trivial, noiseless encryption).
    fn constant(&self, bit: bool) -> Self::Bit;

    /// Evaluates one gate; the errors are the engine's ([`BitsError::Engine`]).
    fn gate(&self, op: &GateOp<'_, Self::Bit>) -> Result<Self::Bit, BitsError>;

    /// Independent gates; in order, one output each. Sequential unless a backend overrides it.
    fn layer(&self, ops: &[GateOp<'_, Self::Bit>]) -> Result<Vec<Self::Bit>, BitsError> {
        ops.iter().map(|op| self.gate(op)).collect()
    }
}

/// A key that encrypts and decrypts single bits of a backend.
pub trait BitKey {
    /// The backend's bit, what [`Gates::Bit`] is for the backend of this key.
    type Bit;
    /// Encrypts one bit.
    fn encrypt_bit(&mut self, bit: bool) -> Result<Self::Bit, BitsError>;
    /// Decrypts one bit; errors if it is not under this key.
    fn decrypt_bit(&self, bit: &Self::Bit) -> Result<bool, BitsError>;
}

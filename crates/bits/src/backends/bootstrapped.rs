//! The bootstrapped engine: every gate but NOT ends in a bootstrap, so depth is unlimited;
//! a layer's gates run in parallel, each thread sharing its reads of the key. Parity and carry of any number of bits are a
//! single bootstrap of a weighted sum (`ServerKey::sum_bit`).

use shroud_lwe::bootstrap::{ClientKey, Gate, LweCiphertext, PendingGate, ServerKey};

use crate::{BitKey, BitsError, GateOp, Gates};

/// The bootstrapped engine over a [`ServerKey`]: every gate but NOT costs one bootstrap
/// (MUX two), whatever the depth, and each layer's bootstraps run as one batch. Bits are
/// encrypted and decrypted with the matching [`ClientKey`].
pub struct Bootstrapped {
    server: ServerKey,
}

impl Bootstrapped {
    /// The engine evaluating with `server`.
    pub fn new(server: ServerKey) -> Self {
        Self { server }
    }

    /// The server key it evaluates with (to read its operation counts, for instance).
    pub fn server_key(&self) -> &ServerKey {
        &self.server
    }
}

/// Every input with weight `w`, a repeated one merged into a single term.
fn weighted<'a>(w: i64, xs: &[&'a LweCiphertext]) -> Vec<(i64, &'a LweCiphertext)> {
    // An input listed twice is one term of twice the weight: its noise adds up coherently,
    // which the bootstrap's failure bound must count as such.
    let mut terms: Vec<(i64, &LweCiphertext)> = Vec::with_capacity(xs.len());
    for &x in xs {
        match terms.iter_mut().find(|(_, y)| std::ptr::eq(*y, x)) {
            Some(term) => term.0 += w,
            None => terms.push((w, x)),
        }
    }
    terms
}

impl Gates for Bootstrapped {
    type Bit = LweCiphertext;

    fn constant(&self, bit: bool) -> LweCiphertext {
        self.server.trivial_bit(bit)
    }

    fn gate(&self, op: &GateOp<'_, LweCiphertext>) -> Result<LweCiphertext, BitsError> {
        Ok(self.server.finish(vec![self.pending(op)?])?.remove(0))
    }

    /// All bootstraps of a layer in one batch: each thread runs its share against one pass
    /// over the bootstrapping key.
    fn layer(&self, ops: &[GateOp<'_, LweCiphertext>]) -> Result<Vec<LweCiphertext>, BitsError> {
        let pending = ops
            .iter()
            .map(|op| self.pending(op))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.server.finish(pending)?)
    }
}

impl Bootstrapped {
    /// The gate's linear part, its bootstraps left to [`ServerKey::finish`].
    fn pending(&self, op: &GateOp<'_, LweCiphertext>) -> Result<PendingGate, BitsError> {
        let s = &self.server;
        Ok(match op {
            GateOp::Not(a) => s.pending_not(a)?,
            GateOp::And(a, b) => s.pending_gate(Gate::And, a, b)?,
            GateOp::Or(a, b) => s.pending_gate(Gate::Or, a, b)?,
            GateOp::Xor(a, b) => s.pending_gate(Gate::Xor, a, b)?,
            GateOp::Mux {
                select,
                then,
                otherwise,
            } => s.pending_mux(select, then, otherwise)?,
            GateOp::Parity(xs) => s.pending_sum_bit(&weighted(2, xs), 0)?,
            GateOp::Carry { inputs, offset } => {
                s.pending_sum_bit(&weighted(1, inputs), *offset as i64)?
            }
        })
    }
}

impl BitKey for ClientKey {
    type Bit = LweCiphertext;

    fn encrypt_bit(&mut self, bit: bool) -> Result<LweCiphertext, BitsError> {
        Ok(ClientKey::encrypt_bit(self, bit))
    }

    fn decrypt_bit(&self, bit: &LweCiphertext) -> Result<bool, BitsError> {
        Ok(ClientKey::decrypt_bit(self, bit)?)
    }
}

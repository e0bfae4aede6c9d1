//! The bootstrapped engine: every gate but NOT ends in a bootstrap, so depth is unlimited;
//! a layer's gates run in parallel with rayon. Parity and carry of any number of bits are a
//! single bootstrap of a weighted sum (`ServerKey::sum_bit`).

use rayon::prelude::*;
use shroud_lwe::bootstrap::{ClientKey, LweCiphertext, ServerKey};

use crate::{BitKey, BitsError, GateOp, Gates};

pub struct Bootstrapped {
    server: ServerKey,
}

impl Bootstrapped {
    pub fn new(server: ServerKey) -> Self {
        Self { server }
    }

    pub fn server_key(&self) -> &ServerKey {
        &self.server
    }
}

/// Every input with the same weight.
fn weighted<'a>(w: i64, xs: &[&'a LweCiphertext]) -> Vec<(i64, &'a LweCiphertext)> {
    xs.iter().map(|&x| (w, x)).collect()
}

impl Gates for Bootstrapped {
    type Bit = LweCiphertext;

    fn constant(&self, bit: bool) -> LweCiphertext {
        self.server.trivial_bit(bit)
    }

    fn gate(&self, op: &GateOp<'_, LweCiphertext>) -> Result<LweCiphertext, BitsError> {
        let s = &self.server;
        Ok(match op {
            GateOp::Not(a) => s.not(a)?,
            GateOp::And(a, b) => s.and(a, b)?,
            GateOp::Or(a, b) => s.or(a, b)?,
            GateOp::Xor(a, b) => s.xor(a, b)?,
            GateOp::Mux {
                select,
                then,
                otherwise,
            } => s.mux(select, then, otherwise)?,
            GateOp::Parity(xs) => s.sum_bit(&weighted(2, xs), 0)?,
            GateOp::Carry { inputs, offset } => s.sum_bit(&weighted(1, inputs), *offset as i64)?,
        })
    }

    fn layer(&self, ops: &[GateOp<'_, LweCiphertext>]) -> Result<Vec<LweCiphertext>, BitsError> {
        ops.par_iter().map(|op| self.gate(op)).collect()
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

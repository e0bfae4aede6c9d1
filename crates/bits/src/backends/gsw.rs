//! The leveled GSW engine: no bootstrapping, so a circuit runs only as deep as the noise
//! allows; past that the engine's `NoiseExhausted` comes back as [`BitsError::Engine`].
//! The multi-input gates are built from two-input ones, balanced to keep the depth low.

use rayon::prelude::*;
use shroud_lwe::gsw::{GswCiphertext, GswEvaluator, GswSecretKey};

use crate::{BitKey, BitsError, GateOp, Gates};

/// The leveled GSW engine over a [`GswEvaluator`]: no bootstrapping, so a circuit runs only
/// as deep as the noise allows. Bits are encrypted and decrypted with a [`GswSecretKey`].
pub struct Gsw {
    eval: GswEvaluator,
}

impl Gsw {
    /// The engine evaluating with `eval`.
    pub fn new(eval: GswEvaluator) -> Self {
        Self { eval }
    }

    /// XOR of all inputs as a balanced tree.
    fn parity(&self, xs: Vec<GswCiphertext>) -> Result<GswCiphertext, BitsError> {
        let mut level = xs;
        while level.len() > 1 {
            level = level
                .par_chunks(2)
                .map(|pair| match pair {
                    [a, b] => Ok(self.eval.xor(a, b)?),
                    _ => Ok(pair[0].clone()),
                })
                .collect::<Result<_, BitsError>>()?;
        }
        level
            .pop()
            .ok_or_else(|| BitsError::InvalidArgument("parity of no bits".into()))
    }

    /// Bit 1 of a count is the parity of the pairwise products (the second elementary
    /// symmetric polynomial mod 2); an odd offset adds the parity of the count itself, an
    /// offset of 2 or 3 flips the result. An input listed `m` times counts `m` times: its odd
    /// part joins the pairwise products and its twos flip bit 1 directly (the adders list the
    /// top column's bits twice), which keeps the products to the inputs listed an odd
    /// number of times.
    fn carry(&self, xs: &[&GswCiphertext], offset: u8) -> Result<GswCiphertext, BitsError> {
        let mut counted: Vec<(&GswCiphertext, usize)> = Vec::with_capacity(xs.len());
        for &x in xs {
            match counted.iter_mut().find(|(y, _)| std::ptr::eq(*y, x)) {
                Some(entry) => entry.1 += 1,
                None => counted.push((x, 1)),
            }
        }
        let singles: Vec<&GswCiphertext> = counted
            .iter()
            .filter(|(_, m)| m % 2 == 1)
            .map(|&(x, _)| x)
            .collect();
        let pairs: Vec<(usize, usize)> = (0..singles.len())
            .flat_map(|i| (i + 1..singles.len()).map(move |j| (i, j)))
            .collect();
        let mut terms: Vec<GswCiphertext> = pairs
            .par_iter()
            .map(|&(i, j)| self.eval.and(singles[i], singles[j]))
            .collect::<Result<_, _>>()?;
        if offset & 1 == 1 {
            terms.extend(singles.iter().map(|&x| x.clone()));
        }
        terms.extend(
            counted
                .iter()
                .filter(|(_, m)| m / 2 % 2 == 1)
                .map(|&(x, _)| x.clone()),
        );
        let bit = if terms.is_empty() {
            self.eval.trivial(false)
        } else {
            self.parity(terms)?
        };
        Ok(if offset & 2 == 2 {
            self.eval.not(&bit)?
        } else {
            bit
        })
    }
}

impl Gates for Gsw {
    type Bit = GswCiphertext;

    fn constant(&self, bit: bool) -> GswCiphertext {
        self.eval.trivial(bit)
    }

    fn gate(&self, op: &GateOp<'_, GswCiphertext>) -> Result<GswCiphertext, BitsError> {
        let e = &self.eval;
        Ok(match op {
            GateOp::Not(a) => e.not(a)?,
            GateOp::And(a, b) => e.and(a, b)?,
            GateOp::Or(a, b) => e.or(a, b)?,
            GateOp::Xor(a, b) => e.xor(a, b)?,
            // The two products are never both one, so their XOR is their OR.
            GateOp::Mux {
                select,
                then,
                otherwise,
            } => {
                let (x, y) =
                    rayon::join(|| e.and(select, then), || e.and(&e.not(select)?, otherwise));
                e.xor(&x?, &y?)?
            }
            GateOp::Parity(xs) => self.parity(xs.iter().map(|&x| x.clone()).collect())?,
            GateOp::Carry { inputs, offset } => self.carry(inputs, *offset)?,
        })
    }

    fn layer(&self, ops: &[GateOp<'_, GswCiphertext>]) -> Result<Vec<GswCiphertext>, BitsError> {
        ops.par_iter().map(|op| self.gate(op)).collect()
    }
}

impl BitKey for GswSecretKey {
    type Bit = GswCiphertext;

    fn encrypt_bit(&mut self, bit: bool) -> Result<GswCiphertext, BitsError> {
        Ok(self.encrypt(bit as u64)?)
    }

    fn decrypt_bit(&self, bit: &GswCiphertext) -> Result<bool, BitsError> {
        Ok(GswSecretKey::decrypt_bit(self, bit)?)
    }
}

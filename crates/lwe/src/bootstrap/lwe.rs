//! LWE ciphertexts on the torus `Z / 2^64` and the two encodings the gates and lookup tables
//! use.

use serde::{Deserialize, Serialize};
use shroud_math::KeyTag;

use crate::LweError;

/// `(a_1, ..., a_d, b)` with phase `b - <a, s>` = encoded message + noise, and the tag of
/// the parameters and key it is under: ciphertexts of different keys are never combined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LweCiphertext {
    pub(crate) data: Vec<u64>,
    pub(crate) tag: KeyTag,
}

/// The encoding of gate bootstrapping: true is +1/8 of the torus, false -1/8, so that sums of
/// two bits land on either side of the decision boundaries 0 and 1/2.
pub(crate) const EIGHTH: u64 = 1 << 61;

pub(crate) fn encode_bit(bit: bool) -> u64 {
    if bit {
        EIGHTH
    } else {
        EIGHTH.wrapping_neg()
    }
}

/// Scale of a `bits`-bit message with one padding bit on top: `2^64 / 2^(bits + 1)`.
pub(crate) fn delta(bits: u32) -> u64 {
    1u64 << (63 - bits)
}

impl LweCiphertext {
    /// Key dimension this ciphertext is encrypted under.
    pub fn dimension(&self) -> usize {
        // Saturating: a ciphertext deserialized by other means than `from_bytes` may be empty,
        // and must then fail the dimension checks rather than panic.
        self.data.len().saturating_sub(1)
    }

    /// The parameters and key this ciphertext is under.
    pub fn tag(&self) -> KeyTag {
        self.tag
    }

    /// Adds `c` to the body (nothing for an empty ciphertext, which every check refuses).
    pub(crate) fn add_to_body(&mut self, c: u64) {
        if let Some(body) = self.data.last_mut() {
            *body = body.wrapping_add(c);
        }
    }

    fn check(&self, other: &Self) -> Result<(), LweError> {
        self.tag.check(other.tag)?;
        if self.data.len() != other.data.len() {
            return Err(LweError::DimensionMismatch {
                expected: self.dimension(),
                found: other.dimension(),
            });
        }
        Ok(())
    }

    /// Adds the messages (and the noises).
    pub fn add(&self, other: &Self) -> Result<Self, LweError> {
        self.check(other)?;
        let data = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(x, y)| x.wrapping_add(*y))
            .collect();
        Ok(Self {
            data,
            tag: self.tag,
        })
    }

    /// Subtracts the messages (the noises still add).
    pub fn sub(&self, other: &Self) -> Result<Self, LweError> {
        self.check(other)?;
        let data = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(x, y)| x.wrapping_sub(*y))
            .collect();
        Ok(Self {
            data,
            tag: self.tag,
        })
    }

    /// Multiplies the message by a small integer (the noise grows by the same factor).
    pub fn scalar_mul(&self, k: i64) -> Self {
        let data = self.data.iter().map(|x| x.wrapping_mul(k as u64)).collect();
        Self {
            data,
            tag: self.tag,
        }
    }

    /// Negation; on a gate-encoded bit this is a free NOT.
    pub fn neg(&self) -> Self {
        self.scalar_mul(-1)
    }

    /// Adds a clear integer to an integer-encoded message of `bits` bits. Negative `m` work
    /// too: encodings wrap modulo `2^(bits + 1)`, so a message that is back in `[0, 2^bits)`
    /// after a sequence of signed additions is correctly encoded.
    pub fn add_clear(&self, m: i64, bits: u32) -> Self {
        self.with_body_added((m as u64).wrapping_mul(delta(bits)))
    }

    /// Adds a raw torus value to the phase.
    pub(crate) fn with_body_added(&self, c: u64) -> Self {
        let mut out = self.clone();
        out.add_to_body(c);
        out
    }

    /// `sum_i k_i * c_i` in one pass (the noise variance grows by `sum_i k_i^2`). Errors on an
    /// empty sum or ciphertexts of different dimensions.
    pub fn weighted_sum<'a>(
        terms: impl IntoIterator<Item = (&'a LweCiphertext, i64)>,
    ) -> Result<Self, LweError> {
        let mut terms = terms.into_iter();
        let (first, k) = terms.next().ok_or(LweError::EmptySum)?;
        let mut out = first.scalar_mul(k);
        for (ct, k) in terms {
            out.check(ct)?;
            let k = k as u64;
            for (o, x) in out.data.iter_mut().zip(&ct.data) {
                *o = o.wrapping_add(x.wrapping_mul(k));
            }
        }
        Ok(out)
    }
}

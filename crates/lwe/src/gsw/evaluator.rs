//! The homomorphic operations of GSW: add, multiply, NOT, NAND, AND, OR, XOR.

use rayon::prelude::*;

use super::ciphertext::GswCiphertext;
use super::params::{fresh_variance, GswParams};
use crate::LweError;
use shroud_math::KeyTag;

/// The homomorphic operations; each checks its operands against the parameters and refuses
/// a result whose noise bound reaches the decryption limit.
pub struct GswEvaluator {
    params: GswParams,
}

impl GswEvaluator {
    /// An evaluator for `params`; errors if they fail [`GswParams::validate`].
    pub fn new(params: &GswParams) -> Result<Self, LweError> {
        params.validate()?;
        Ok(Self {
            params: params.clone(),
        })
    }

    /// Validates operands against the parameters and each other (one key, or public).
    fn check(&self, a: &GswCiphertext, b: &GswCiphertext) -> Result<KeyTag, LweError> {
        a.validate(&self.params)?;
        b.validate(&self.params)?;
        a.joined_tag(b)
    }

    fn check_bits(&self, cts: &[&GswCiphertext]) -> Result<(), LweError> {
        for ct in cts {
            ct.validate(&self.params)?;
            if ct.max_message > 1 {
                return Err(LweError::NotABit(ct.max_message));
            }
        }
        if let [a, b] = cts {
            a.joined_tag(b)?;
        }
        Ok(())
    }

    /// A public bit as a noiseless ciphertext (`bit G`), for constants in circuits. Its noise
    /// is recorded as a fresh encryption's, an over-estimate every check accepts.
    pub fn trivial(&self, bit: bool) -> GswCiphertext {
        GswCiphertext {
            noise_variance: fresh_variance(),
            max_message: 1,
            ..GswCiphertext::trivial(&self.params, bit as u32)
        }
    }

    /// `C1 + C2`: the sum of the messages (an integer, not a bit).
    pub fn add(&self, a: &GswCiphertext, b: &GswCiphertext) -> Result<GswCiphertext, LweError> {
        self.check(a, b)?;
        a.combine(b, 1).checked(&self.params)
    }

    /// `G^-1(C1') C2'`: the product of the messages. The noise of `b` is amplified by the
    /// digits of `a`, so put the fresher ciphertext first.
    pub fn mul(&self, a: &GswCiphertext, b: &GswCiphertext) -> Result<GswCiphertext, LweError> {
        let p = &self.params;
        let tag = self.check(a, b)?;
        let out = GswCiphertext {
            rows: Vec::new(),
            noise_variance: p.product_variance(a.noise_variance, b.noise_variance, b.max_message),
            max_message: a.max_message * b.max_message,
            tag,
        }
        .checked(p)?;
        Ok(GswCiphertext {
            rows: product(p, &a.rows, &b.rows),
            ..out
        })
    }

    /// `G - C`.
    pub fn not(&self, a: &GswCiphertext) -> Result<GswCiphertext, LweError> {
        self.check_bits(&[a])?;
        let mut out = GswCiphertext::trivial(&self.params, 1).combine(a, u32::MAX);
        out.max_message = 1;
        Ok(out)
    }

    /// `G - A B`.
    pub fn nand(&self, a: &GswCiphertext, b: &GswCiphertext) -> Result<GswCiphertext, LweError> {
        self.check_bits(&[a, b])?;
        let ab = self.mul(a, b)?;
        self.not(&ab)
    }

    /// `A B`.
    pub fn and(&self, a: &GswCiphertext, b: &GswCiphertext) -> Result<GswCiphertext, LweError> {
        self.check_bits(&[a, b])?;
        self.mul(a, b)
    }

    /// `A + B - A B`.
    pub fn or(&self, a: &GswCiphertext, b: &GswCiphertext) -> Result<GswCiphertext, LweError> {
        self.linear_with_product(a, b, u32::MAX)
    }

    /// `A + B - 2 A B`.
    pub fn xor(&self, a: &GswCiphertext, b: &GswCiphertext) -> Result<GswCiphertext, LweError> {
        self.linear_with_product(a, b, 2u32.wrapping_neg())
    }

    /// `A + B + k A B` for the bit-valued results of OR (k = -1) and XOR (k = -2).
    fn linear_with_product(
        &self,
        a: &GswCiphertext,
        b: &GswCiphertext,
        k: u32,
    ) -> Result<GswCiphertext, LweError> {
        self.check_bits(&[a, b])?;
        let ab = self.mul(a, b)?;
        let mut out = a.combine(b, 1).combine(&ab, k);
        out.max_message = 1;
        out.checked(&self.params)
    }
}

/// `G^-1(a) b`: every row of `a` is decomposed into `N` balanced digits, and the output row is
/// the digit-weighted sum of the rows of `b`. Rows are independent, so they run in parallel.
fn product(p: &GswParams, a: &[u32], b: &[u32]) -> Vec<u32> {
    let (l, w) = (p.levels(), p.lwe_dimension + 1);
    let base_log = p.base_log;
    let mut out = vec![0u32; a.len()];
    out.par_chunks_mut(w)
        .zip(a.par_chunks(w))
        .for_each(|(out_row, a_row)| {
            let mut digits = vec![0i32; l];
            for (i, &x) in a_row.iter().enumerate() {
                decompose(x, base_log, &mut digits);
                for (j, &d) in digits.iter().enumerate() {
                    if d == 0 {
                        continue;
                    }
                    let b_row = &b[(i * l + j) * w..][..w];
                    let d = d as u32;
                    for (o, &y) in out_row.iter_mut().zip(b_row) {
                        *o = o.wrapping_add(y.wrapping_mul(d));
                    }
                }
            }
        });
    out
}

/// Balanced digits of `x` modulo 2^32, least significant first, each in `[-B/2, B/2)`; the
/// last carry falls off the top (it is a multiple of 2^32).
fn decompose(x: u32, base_log: u32, digits: &mut [i32]) {
    let mut v = x as u64;
    let base = 1u64 << base_log;
    let half = base / 2;
    for d in digits.iter_mut() {
        let mut digit = v & (base - 1);
        v >>= base_log;
        if digit >= half {
            digit = digit.wrapping_sub(base);
            v += 1;
        }
        *d = digit as i64 as i32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsw::params::LOG_Q;

    #[test]
    fn decomposition_recomposes() {
        for b in [1u32, 3, 4, 8, 16] {
            let l = LOG_Q.div_ceil(b) as usize;
            let mut digits = vec![0i32; l];
            for x in [0u32, 1, 0x8000_0000, u32::MAX, 0x1234_5678, 0xdead_beef] {
                decompose(x, b, &mut digits);
                let mut r = 0u32;
                for (j, &d) in digits.iter().enumerate() {
                    assert!(d >= -(1 << (b - 1)) && d < (1 << (b - 1)).max(1));
                    r = r.wrapping_add((d as u32).wrapping_shl(j as u32 * b));
                }
                assert_eq!(r, x, "base 2^{b}");
            }
        }
    }
}

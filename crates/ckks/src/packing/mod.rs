//! Encrypted matrices packed into ciphertext slots, and the matrix algorithms of encrypted
//! training: matrix-vector products by row packing and by diagonal packing (plain and
//! baby-step giant-step), outer products, and transposition by rotations.
//!
//! Every algorithm returns its [`Cost`]: the operations it performed, read from the
//! evaluator's counters, and the levels it consumed. Counts are exact as long as nothing else
//! uses the same evaluator concurrently.
//!
//! Layouts, for an `M x N` matrix `W` and `D = max(M, N)`:
//! - Row packing ([`RowMatrix`]): one ciphertext per row, `W[k][j]` in slot `j`. Vectors are
//!   plain: `x[j]` in slot `j`, zeros elsewhere.
//! - Diagonal packing ([`DiagonalMatrix`]): `W` padded with zeros to `D x D`, one ciphertext
//!   per generalized diagonal `d_i[j] = W[j][(j + i) mod D]`, repeated with period `D` across
//!   the slots. Vectors are periodic too (`x[j mod D]` in slot `j`), so a slot rotation by `i`
//!   is a cyclic rotation of the length-`D` vector and products come out periodic, ready for
//!   the next layer without re-packing. The stepped variant stores diagonal `g B + b` already
//!   rotated by `-g B` (the giant step), so the baby-step giant-step product needs only
//!   `B - 1 + G - 1` rotations.

mod diagonal;
mod row;

pub use diagonal::{DiagonalLayout, DiagonalMatrix, RotatedVector};
pub use row::RowMatrix;

use rayon::prelude::*;

use crate::{Ciphertext, CkksError, Decryptor, Encoder, Encryptor, Evaluator, OpCounts, Plaintext};

/// What an algorithm cost: operations and levels consumed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Evaluator operations performed, by kind.
    pub ops: OpCounts,
    /// Levels consumed: from the level the algorithm started at (the lower of its operands')
    /// down to the level of its result.
    pub depth: usize,
}

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost {
            ops: OpCounts {
                ct_mul: self.ops.ct_mul + o.ops.ct_mul,
                pt_mul: self.ops.pt_mul + o.ops.pt_mul,
                rotations: self.ops.rotations + o.ops.rotations,
                rescales: self.ops.rescales + o.ops.rescales,
                key_switches: self.ops.key_switches + o.ops.key_switches,
            },
            depth: self.depth + o.depth,
        }
    }
}

/// Runs `f`, attributing to it the evaluator operations it performs and the levels between
/// `level_before` and the level of what it returns.
pub(crate) fn measured<T>(
    eval: &Evaluator,
    level_before: usize,
    level_of: impl Fn(&T) -> usize,
    f: impl FnOnce() -> Result<T, CkksError>,
) -> Result<(T, Cost), CkksError> {
    let before = eval.counts();
    let value = f()?;
    let depth = level_before.saturating_sub(level_of(&value));
    Ok((
        value,
        Cost {
            ops: eval.counts() - before,
            depth,
        },
    ))
}

/// Rotation steps sorted, without repeats and without the free rotation by zero.
fn distinct_nonzero(mut steps: Vec<i64>) -> Vec<i64> {
    steps.retain(|&s| s != 0);
    steps.sort_unstable();
    steps.dedup();
    steps
}

/// `values` repeated with period `period` over every whole period that fits in the slots.
pub fn periodic(values: &[f64], period: usize, slots: usize) -> Result<Vec<f64>, CkksError> {
    if values.len() > period || period == 0 || period > slots {
        return Err(CkksError::InvalidParams(format!(
            "{} values cannot repeat with period {period} in {slots} slots",
            values.len()
        )));
    }
    let mut out = vec![0.0; slots / period * period];
    for (s, o) in out.iter_mut().enumerate() {
        *o = values.get(s % period).copied().unwrap_or(0.0);
    }
    Ok(out)
}

/// Encrypts `values` repeated with period `period`: the vector layout of diagonal packing.
pub fn encrypt_periodic(
    encoder: &Encoder,
    encryptor: &mut Encryptor,
    values: &[f64],
    period: usize,
    level: usize,
    scale: f64,
) -> Result<Ciphertext, CkksError> {
    let slots = encoder.params().slots();
    encryptor.encrypt_values(encoder, &periodic(values, period, slots)?, level, scale)
}

/// Decrypts and decodes each of `cts`, in parallel.
pub(crate) fn decrypt_all(
    encoder: &Encoder,
    decryptor: &Decryptor,
    cts: &[Ciphertext],
) -> Result<Vec<Vec<f64>>, CkksError> {
    cts.par_iter()
        .map(|ct| encoder.decode(&decryptor.decrypt(ct)?))
        .collect()
}

/// A plaintext with ones at offsets `offsets` of every block of `block` slots, zeros elsewhere.
pub(crate) fn block_mask(
    encoder: &Encoder,
    block: usize,
    offsets: impl Iterator<Item = usize> + Clone,
    level: usize,
    scale: f64,
) -> Result<Plaintext, CkksError> {
    let slots = encoder.params().slots();
    let mut v = vec![0.0; slots];
    for b in (0..slots).step_by(block) {
        offsets.clone().for_each(|o| v[b + o] = 1.0);
    }
    encoder.encode_at(&v, level, scale)
}

/// Each of `cts` multiplied by `factor` and brought to exactly `(level, scale)`: how fresh
/// weights meet gradients computed several levels down. Without a rescale where the factor
/// is large ([`Evaluator::mul_large_scalar_to`]; a gradient's scale is about the square of a
/// weight's), otherwise one level below the ciphertext's own at least.
pub(crate) fn scaled_all(
    eval: &Evaluator,
    cts: &[Ciphertext],
    factor: f64,
    level: usize,
    scale: f64,
) -> Result<Vec<Ciphertext>, CkksError> {
    cts.par_iter()
        .map(|c| {
            if level <= c.level() {
                let dropped = eval.at_level(c, level)?;
                if let Some(scaled) = eval.mul_large_scalar_to(&dropped, factor, scale)? {
                    return Ok(scaled);
                }
            }
            eval.scaled_to(c, factor, level, scale)
        })
        .collect()
}

/// `a - b` pairwise, both brought to the lower of their levels.
pub(crate) fn sub_all(
    eval: &Evaluator,
    a: &[Ciphertext],
    b: &[Ciphertext],
) -> Result<Vec<Ciphertext>, CkksError> {
    a.par_iter()
        .zip(b)
        .map(|(a, b)| {
            let level = a.level().min(b.level());
            let mut diff = eval.mod_drop_to(a, level)?;
            eval.sub_assign(&mut diff, &*eval.at_level(b, level)?)?;
            Ok(diff)
        })
        .collect()
}

/// Relinearizes and rescales a product that is to be multiplied or rotated again, and leaves
/// it raw otherwise.
pub(crate) fn finish(
    eval: &Evaluator,
    product: Ciphertext,
    relinearize: bool,
) -> Result<Ciphertext, CkksError> {
    if relinearize {
        eval.relin_rescale(&product)
    } else {
        Ok(product)
    }
}

//! Row packing: one ciphertext per matrix row. Products need a slot sum per row; transposition
//! gathers every column with a mask and rotations; outer products broadcast one entry of a
//! vector across a row with a mask and rotations.
//!
//! The slots are cut into blocks of `B` slots, one independent sample per block (a batch).
//! A vector `x` sits at offsets `0..len` of its block with zeros after it; a row `k` of the
//! matrix sits at offsets `0..cols` of every block, so one product serves the whole batch.

use ndarray::Array2;

use super::{
    block_mask, decrypt_all, distinct_nonzero, finish, measured, scaled_all, sub_all, Cost,
};
use crate::{Ciphertext, CkksError, Decryptor, Encoder, Encryptor, Evaluator, Plaintext};

/// An encrypted `rows x cols` matrix, row `k` at offsets `0..cols` of every block of
/// ciphertext `k`.
#[derive(Clone, Debug)]
pub struct RowMatrix {
    rows: usize,
    cols: usize,
    block: usize,
    /// Whether slots past `cols` are zero. Rows made by [`RowMatrix::transpose`] carry
    /// leftovers there, harmless to products with clean vectors but not to a second transpose.
    clean: bool,
    row_cts: Vec<Ciphertext>,
}

/// Slots a row sum spans: the next power of two.
fn span(len: usize) -> usize {
    len.next_power_of_two()
}

impl RowMatrix {
    /// The smallest block in which every algorithm on a `rows x cols` matrix and its
    /// transpose stays inside its block: the transpose lays `rows` rows end to end with
    /// stride `max(rows, cols)` and its leftovers must stay clear of the next block's sums.
    pub fn block_for(rows: usize, cols: usize) -> usize {
        let stride = rows.max(cols);
        (stride * (stride + 1) + 2 * span(stride)).next_power_of_two()
    }

    /// Rotation steps whose Galois keys products, transposes, outer products and row scalings
    /// of a `rows x cols` matrix need (those of the transpose included).
    pub fn rotation_steps(rows: usize, cols: usize) -> Vec<i64> {
        let mut steps = Self::product_steps(rows, cols);
        steps.extend(Self::product_steps(cols, rows));
        steps.extend(Self::transpose_steps(rows, cols));
        distinct_nonzero(steps)
    }

    /// Rotation steps of products, outer products and row scalings of a `rows x cols` matrix.
    pub fn product_steps(rows: usize, cols: usize) -> Vec<i64> {
        let mut steps = Vec::new();
        // Slot sums and broadcasts over the next power of two.
        for s in (0..)
            .map(|k| 1i64 << k)
            .take_while(|&s| s < span(cols) as i64)
        {
            steps.extend([s, -s]);
        }
        // Placing row results, and moving entry k to the front to broadcast it.
        steps.extend((1..rows as i64).flat_map(|k| [k, -k]));
        distinct_nonzero(steps)
    }

    /// Rotation steps of the transposition of a `rows x cols` matrix.
    pub fn transpose_steps(rows: usize, cols: usize) -> Vec<i64> {
        let stride = rows.max(cols);
        let mut steps = Vec::new();
        for k in 0..rows {
            steps.push(-((k * stride) as i64));
            for j in 0..cols {
                steps.push((k * stride + j) as i64 - k as i64);
            }
        }
        distinct_nonzero(steps)
    }

    /// Client side: encrypts each row of `w`, repeated in every block of `block` slots.
    pub fn encrypt(
        w: &Array2<f64>,
        block: usize,
        encoder: &Encoder,
        encryptor: &mut Encryptor,
        level: usize,
        scale: f64,
    ) -> Result<Self, CkksError> {
        let rows_slots = Self::slot_vectors(w, block, encoder.params().slots())?;
        let row_cts = encryptor.encrypt_many(encoder, &rows_slots, level, scale)?;
        Self::from_rows(w.ncols(), block, row_cts)
    }

    /// What [`Self::encrypt`] encrypts: the slots of each row of `w` (for senders that
    /// encrypt them in another form, such as seeded).
    pub fn slot_vectors(
        w: &Array2<f64>,
        block: usize,
        slots: usize,
    ) -> Result<Vec<Vec<f64>>, CkksError> {
        let (rows, cols) = w.dim();
        if rows == 0
            || cols == 0
            || block < Self::block_for(rows, cols)
            || !block.is_power_of_two()
            || block > slots
        {
            return Err(CkksError::InvalidParams(format!(
                "a {rows} x {cols} matrix does not fit row packing in blocks of {block} of {slots} slots"
            )));
        }
        Ok(w.rows()
            .into_iter()
            .map(|r| {
                let mut v = vec![0.0; slots];
                for b in (0..slots).step_by(block) {
                    v[b..b + cols].iter_mut().zip(r).for_each(|(o, x)| *o = *x);
                }
                v
            })
            .collect())
    }

    /// Reassembles a matrix from its row ciphertexts (for instance after they crossed the
    /// network), checking their number.
    pub fn from_rows(
        cols: usize,
        block: usize,
        row_cts: Vec<Ciphertext>,
    ) -> Result<Self, CkksError> {
        let rows = row_cts.len();
        if rows == 0 || cols == 0 || !block.is_power_of_two() || block < Self::block_for(rows, cols)
        {
            return Err(CkksError::InvalidParams(format!(
                "{rows} rows of {cols} in blocks of {block}"
            )));
        }
        Ok(Self {
            rows,
            cols,
            block,
            clean: true,
            row_cts,
        })
    }

    /// Client side: decrypts back to the matrix (block 0).
    pub fn decrypt(
        &self,
        encoder: &Encoder,
        decryptor: &Decryptor,
    ) -> Result<Array2<f64>, CkksError> {
        self.decrypt_block_sum(encoder, decryptor, 1)
    }

    /// Client side, for matrices computed per block (one sample per block): the sum of the
    /// matrices held in the first `blocks` blocks.
    pub fn decrypt_block_sum(
        &self,
        encoder: &Encoder,
        decryptor: &Decryptor,
        blocks: usize,
    ) -> Result<Array2<f64>, CkksError> {
        if blocks == 0 || blocks * self.block > encoder.params().slots() {
            return Err(CkksError::InvalidParams(format!(
                "{blocks} blocks of {} slots",
                self.block
            )));
        }
        let mut w = Array2::zeros((self.rows, self.cols));
        for (k, v) in decrypt_all(encoder, decryptor, &self.row_cts)?
            .iter()
            .enumerate()
        {
            for (j, o) in w.row_mut(k).iter_mut().enumerate() {
                *o = (0..blocks).map(|b| v[b * self.block + j]).sum();
            }
        }
        Ok(w)
    }

    /// This matrix's shape with other row ciphertexts.
    fn with_rows(&self, row_cts: Vec<Ciphertext>) -> RowMatrix {
        RowMatrix {
            row_cts,
            rows: self.rows,
            cols: self.cols,
            block: self.block,
            clean: self.clean,
        }
    }

    /// Rows of the matrix: one ciphertext each.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the matrix: a row fills offsets `0..cols` of each block.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Slots per block (one sample per block): a power of two, at least
    /// [`Self::block_for`] the matrix's shape.
    pub fn block(&self) -> usize {
        self.block
    }

    /// The lowest level among the row ciphertexts, which algorithms bring the others down to.
    pub fn level(&self) -> usize {
        self.row_cts
            .iter()
            .map(Ciphertext::level)
            .min()
            // A matrix has at least one row; an empty one would have no level left.
            .unwrap_or(0)
    }

    /// The row ciphertexts, row `k` at index `k`.
    pub fn row_ciphertexts(&self) -> &[Ciphertext] {
        &self.row_cts
    }

    /// `W x` for `x` at offsets `0..cols` of each block and zero after; the result is at
    /// offsets `0..rows` and zero after. Per row: a product, a slot sum, a mask keeping the
    /// sum, and a rotation into place. Two levels.
    pub fn matvec(
        &self,
        eval: &Evaluator,
        encoder: &Encoder,
        x: &Ciphertext,
    ) -> Result<(Ciphertext, Cost), CkksError> {
        let level = x.level().min(self.level());
        measured(eval, level, Ciphertext::level, || {
            let x = eval.mod_drop_to(x, level)?;
            // Every row's sum sits at offset 0 one level down: one mask serves them all.
            let below = level.checked_sub(1).ok_or(CkksError::LevelsExhausted(0))?;
            let mask = offset_mask(encoder, self.block, 0, below)?;
            let mut y: Option<Ciphertext> = None;
            for (k, r) in self.row_cts.iter().enumerate() {
                let p = eval.mul_relin_rescale(&eval.mod_drop_to(r, level)?, &x)?;
                let s = eval.sum_slots(&p, span(self.cols))?;
                let mut kept = eval.mul_plain(&s, &mask)?;
                eval.rescale_assign(&mut kept)?;
                let placed = eval.rotate(&kept, -(k as i64))?;
                match &mut y {
                    None => y = Some(placed),
                    Some(acc) => eval.add_assign(acc, &placed)?,
                }
            }
            y.ok_or(CkksError::Internal("a matrix has at least one row"))
        })
    }

    /// `W^T` as a row matrix: the rows are laid out with stride `S = max(rows, cols)` in one
    /// ciphertext, then column `j` is cut out with one mask and its `rows` entries rotated into
    /// offsets `0..rows`, the rotations of one column hoisted together. The stride keeps the
    /// other entries of a column, moved along, out of offsets `0..rows`. One level.
    pub fn transpose(
        &self,
        eval: &Evaluator,
        encoder: &Encoder,
    ) -> Result<(RowMatrix, Cost), CkksError> {
        if !self.clean {
            return Err(CkksError::InvalidParams(
                "a transposed row matrix must be re-encrypted before transposing again".into(),
            ));
        }
        let (rows, cols) = (self.rows, self.cols);
        let stride = rows.max(cols);
        let level = self.level();
        measured(eval, level, RowMatrix::level, || {
            let mut all = eval.mod_drop_to(&self.row_cts[0], level)?;
            for (k, r) in self.row_cts.iter().enumerate().skip(1) {
                let shifted = eval.rotate(&eval.mod_drop_to(r, level)?, -((k * stride) as i64))?;
                eval.add_assign(&mut all, &shifted)?;
            }
            let q_last = encoder.params().q_moduli()[level].value() as f64;
            let row_cts = (0..cols)
                .map(|j| {
                    let offsets = (0..rows).map(|k| k * stride + j);
                    let pt = block_mask(encoder, self.block, offsets, level, q_last)?;
                    let mut column = eval.mul_plain(&all, &pt)?;
                    eval.rescale_assign(&mut column)?;
                    let steps: Vec<i64> = (0..rows)
                        .map(|k| (k * stride + j) as i64 - k as i64)
                        .collect();
                    let moved = eval.rotate_hoisted(&column, &steps)?;
                    let mut acc = moved[0].clone();
                    for m in &moved[1..] {
                        eval.add_assign(&mut acc, m)?;
                    }
                    Ok(acc)
                })
                .collect::<Result<Vec<_>, CkksError>>()?;
            Ok(RowMatrix {
                rows: cols,
                cols: rows,
                block: self.block,
                clean: false,
                row_cts,
            })
        })
    }

    /// The outer product `u v^T` as a `rows x cols` row matrix in blocks of `block`: row `k`
    /// is `u[k]` broadcast times `v`. Two levels with `relinearize`; without, the rows are
    /// the raw products (see [`super::DiagonalMatrix::outer`]) and one level is consumed.
    pub fn outer(
        eval: &Evaluator,
        encoder: &Encoder,
        u: &Ciphertext,
        v: &Ciphertext,
        (rows, cols): (usize, usize),
        block: usize,
        relinearize: bool,
    ) -> Result<(RowMatrix, Cost), CkksError> {
        let level = u.level().min(v.level());
        measured(eval, level, RowMatrix::level, || {
            let row_cts = (0..rows)
                .map(|k| {
                    let b = broadcast(eval, encoder, block, u, k, span(cols))?;
                    let v = eval.mod_drop_to(v, b.level())?;
                    finish(eval, eval.multiply(&b, &v)?, relinearize)
                })
                .collect::<Result<Vec<_>, CkksError>>()?;
            Ok(RowMatrix {
                rows,
                cols,
                block,
                clean: true,
                row_cts,
            })
        })
    }

    /// `diag(u) W`: row `k` scaled by `u[k]`; `relinearize` as in [`Self::outer`].
    pub fn scale_rows(
        &self,
        eval: &Evaluator,
        encoder: &Encoder,
        u: &Ciphertext,
        relinearize: bool,
    ) -> Result<(RowMatrix, Cost), CkksError> {
        let level = u.level().min(self.level());
        measured(eval, level, RowMatrix::level, || {
            let row_cts = self
                .row_cts
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    let b = broadcast(eval, encoder, self.block, u, k, span(self.cols))?;
                    let r = eval.mod_drop_to(r, b.level())?;
                    finish(eval, eval.multiply(&b, &r)?, relinearize)
                })
                .collect::<Result<Vec<_>, CkksError>>()?;
            Ok(self.with_rows(row_cts))
        })
    }

    /// Every row multiplied by `factor` and brought to exactly `(level, scale)`; see
    /// [`super::DiagonalMatrix::scaled_to`].
    pub fn scaled_to(
        &self,
        eval: &Evaluator,
        factor: f64,
        level: usize,
        scale: f64,
    ) -> Result<RowMatrix, CkksError> {
        Ok(self.with_rows(scaled_all(eval, &self.row_cts, factor, level, scale)?))
    }

    /// `self - other`, row by row; `other` must have the same shape and scale.
    pub fn sub(&self, eval: &Evaluator, other: &RowMatrix) -> Result<RowMatrix, CkksError> {
        if (self.rows, self.cols, self.block) != (other.rows, other.cols, other.block) {
            return Err(CkksError::InvalidParams(
                "matrices of different shapes or blocks".into(),
            ));
        }
        let mut diff = self.with_rows(sub_all(eval, &self.row_cts, &other.row_cts)?);
        diff.clean = self.clean && other.clean;
        Ok(diff)
    }
}

/// A mask keeping offset `k` of every block, for a ciphertext at `level`. It is encoded at the
/// scale of the prime the rescale removes, so the scale comes back unchanged.
fn offset_mask(
    encoder: &Encoder,
    block: usize,
    k: usize,
    level: usize,
) -> Result<Plaintext, CkksError> {
    let q_last = encoder.params().q_moduli()[level].value() as f64;
    block_mask(encoder, block, std::iter::once(k), level, q_last)
}

/// Entry `k` of the vector `u` copied to offsets `0..width` of each block (`width` a power of
/// two), zeros elsewhere. One level.
fn broadcast(
    eval: &Evaluator,
    encoder: &Encoder,
    block: usize,
    u: &Ciphertext,
    k: usize,
    width: usize,
) -> Result<Ciphertext, CkksError> {
    let mut kept = eval.mul_plain(u, &offset_mask(encoder, block, k, u.level())?)?;
    eval.rescale_assign(&mut kept)?;
    eval.spread_slots(&eval.rotate(&kept, k as i64)?, width)
}

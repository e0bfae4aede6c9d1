//! Row packing: one ciphertext per matrix row. Products need a slot sum per row; transposition
//! gathers every column with a mask and rotations.

use ndarray::Array2;

use super::{distinct_nonzero, mask, measured, Cost};
use crate::{Ciphertext, CkksError, Decryptor, Encoder, Encryptor, Evaluator};

/// An encrypted `rows x cols` matrix, row `k` in slots `0..cols` of ciphertext `k`.
#[derive(Clone, Debug)]
pub struct RowMatrix {
    rows: usize,
    cols: usize,
    /// Whether slots past `cols` are zero. Rows made by [`RowMatrix::transpose`] carry
    /// leftovers there, harmless to products with clean vectors but not to a second transpose.
    clean: bool,
    row_cts: Vec<Ciphertext>,
}

impl RowMatrix {
    /// Rotation steps whose Galois keys products and transposes of a `rows x cols` matrix
    /// need (products of the transpose included).
    pub fn rotation_steps(rows: usize, cols: usize) -> Vec<i64> {
        let mut steps = Vec::new();
        for (r, c) in [(rows, cols), (cols, rows)] {
            // Slot sums over the next power of two, and placing row results.
            steps.extend(
                (0..)
                    .map(|k| 1i64 << k)
                    .take_while(|&s| (s as usize) < c.next_power_of_two()),
            );
            steps.extend((1..r as i64).map(|k| -k));
        }
        let stride = rows.max(cols);
        for k in 0..rows {
            steps.push(-((k * stride) as i64));
            for j in 0..cols {
                steps.push((k * stride + j) as i64 - k as i64);
            }
        }
        distinct_nonzero(steps)
    }

    /// Client side: encrypts each row of `w`.
    pub fn encrypt(
        w: &Array2<f64>,
        encoder: &Encoder,
        encryptor: &mut Encryptor,
        level: usize,
        scale: f64,
    ) -> Result<Self, CkksError> {
        let (rows, cols) = w.dim();
        if rows == 0 || rows * rows.max(cols) > encoder.params().slots() {
            return Err(CkksError::InvalidParams(format!(
                "a {rows} x {cols} matrix does not fit row packing in {} slots",
                encoder.params().slots()
            )));
        }
        let row_cts = w
            .rows()
            .into_iter()
            .map(|r| encryptor.encrypt(&encoder.encode_at(&r.to_vec(), level, scale)?))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            rows,
            cols,
            clean: true,
            row_cts,
        })
    }

    /// Client side: decrypts back to the matrix.
    pub fn decrypt(
        &self,
        encoder: &Encoder,
        decryptor: &Decryptor,
    ) -> Result<Array2<f64>, CkksError> {
        let mut w = Array2::zeros((self.rows, self.cols));
        for (k, ct) in self.row_cts.iter().enumerate() {
            let v = encoder.decode(&decryptor.decrypt(ct)?)?;
            w.row_mut(k).iter_mut().zip(&v).for_each(|(o, x)| *o = *x);
        }
        Ok(w)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn level(&self) -> usize {
        self.row_cts
            .iter()
            .map(Ciphertext::level)
            .min()
            .expect("at least one row")
    }

    pub fn row_ciphertexts(&self) -> &[Ciphertext] {
        &self.row_cts
    }

    /// `W x` for `x` in slots `0..cols` and zero elsewhere; the result is in slots `0..rows`
    /// and zero elsewhere. Per row: a product, a slot sum, a mask keeping slot 0, and a
    /// rotation into place. Two levels.
    pub fn matvec(
        &self,
        eval: &Evaluator,
        encoder: &Encoder,
        x: &Ciphertext,
    ) -> Result<(Ciphertext, Cost), CkksError> {
        let level = x.level().min(self.level());
        measured(eval, level, Ciphertext::level, || {
            let x = eval.mod_drop_to(x, level)?;
            let span = self.cols.next_power_of_two();
            let mut y: Option<Ciphertext> = None;
            for (k, r) in self.row_cts.iter().enumerate() {
                let p = eval.mul_relin_rescale(&eval.mod_drop_to(r, level)?, &x)?;
                let s = eval.sum_slots(&p, span)?;
                // The mask is encoded at the scale of the prime the rescale removes, so the
                // scale comes back unchanged.
                let q_last = encoder.params().q_moduli()[s.level()].value() as f64;
                let m =
                    eval.rescale(&eval.mul_plain(&s, &mask(encoder, 0, 1, s.level(), q_last)?)?)?;
                let placed = eval.rotate(&m, -(k as i64))?;
                match &mut y {
                    None => y = Some(placed),
                    Some(acc) => eval.add_assign(acc, &placed)?,
                }
            }
            Ok(y.expect("at least one row"))
        })
    }

    /// `W^T` as a row matrix: the rows are laid out with stride `S = max(rows, cols)` in one
    /// ciphertext, then column `j` is cut out with one mask and its `rows` entries rotated into
    /// slots `0..rows`, the rotations of one column hoisted together. The stride keeps the
    /// other entries of a column, moved along, out of slots `0..rows`. One level.
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
                    let mut column_mask = vec![0.0; rows * stride];
                    (0..rows).for_each(|k| column_mask[k * stride + j] = 1.0);
                    let pt = encoder.encode_at(&column_mask, level, q_last)?;
                    let column = eval.rescale(&eval.mul_plain(&all, &pt)?)?;
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
                clean: false,
                row_cts,
            })
        })
    }
}

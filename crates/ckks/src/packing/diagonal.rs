//! Diagonal packing (Halevi-Shoup, as in Gazelle): products by rotations of the vector,
//! transposition by rotations of the diagonals alone.

use std::borrow::Cow;

use ndarray::Array2;
use rayon::prelude::*;

use super::{decrypt_all, distinct_nonzero, finish, measured, periodic, scaled_all, sub_all, Cost};
use crate::{Ciphertext, CkksError, Decryptor, Encoder, Encryptor, Evaluator};

/// How the diagonals of a [`DiagonalMatrix`] are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagonalLayout {
    /// Diagonal `i` as is: a product needs `D - 1` rotations of the vector.
    Plain,
    /// Diagonal `g * baby + b` pre-rotated by `-g * baby` ("stepped"): a product needs
    /// `baby - 1` rotations of the vector and `D / baby - 1` of partial sums.
    Stepped {
        /// The baby step `B`, between 1 and `D`: the vector is rotated by `0 .. B` and the
        /// partial sums by multiples of `B`.
        baby: usize,
    },
}

impl DiagonalLayout {
    /// The giant-step offset stored into diagonal `i`.
    fn offset(self, i: usize) -> usize {
        match self {
            DiagonalLayout::Plain => 0,
            DiagonalLayout::Stepped { baby } => i / baby * baby,
        }
    }
}

/// An encrypted `rows x cols` matrix as the diagonals of its zero-padded `D x D` square.
#[derive(Clone, Debug)]
pub struct DiagonalMatrix {
    rows: usize,
    cols: usize,
    dim: usize,
    layout: DiagonalLayout,
    diagonals: Vec<Ciphertext>,
}

/// A stepped layout's baby step must divide the work into at least one giant step.
fn check_baby_step(layout: DiagonalLayout, dim: usize) -> Result<(), CkksError> {
    match layout {
        DiagonalLayout::Stepped { baby } if baby == 0 || baby > dim => Err(
            CkksError::InvalidParams(format!("baby step {baby} for dimension {dim}")),
        ),
        _ => Ok(()),
    }
}

impl DiagonalMatrix {
    /// The smallest padded dimension for a `rows x cols` matrix. A network packs all its
    /// matrices with one common dimension (at least this for each) so that one layer's output
    /// is the next layer's input without re-packing.
    pub fn dim_for(rows: usize, cols: usize) -> usize {
        rows.max(cols)
    }

    /// Rotation steps whose Galois keys the products and transposes of a `D x D` matrix in
    /// this layout need.
    pub fn rotation_steps(dim: usize, layout: DiagonalLayout) -> Vec<i64> {
        // Every rotation acts on data periodic in D, so all amounts are taken mod D.
        let steps: Vec<i64> = match layout {
            DiagonalLayout::Plain => (1..dim as i64).collect(),
            DiagonalLayout::Stepped { baby } => {
                let mut s: Vec<i64> = (1..baby as i64).collect();
                for i in 0..dim {
                    s.push(Self::transpose_amount(layout, dim, i));
                    // Giant steps forward (products) and backward (outer products).
                    s.push(layout.offset(i) as i64);
                    s.push(((dim - layout.offset(i)) % dim) as i64);
                }
                s
            }
        };
        distinct_nonzero(steps)
    }

    /// Client side: encrypts `w` padded to a `dim x dim` square, with
    /// `max(rows, cols) <= dim <= slots / 2`.
    pub fn encrypt(
        w: &Array2<f64>,
        dim: usize,
        layout: DiagonalLayout,
        encoder: &Encoder,
        encryptor: &mut Encryptor,
        level: usize,
        scale: f64,
    ) -> Result<Self, CkksError> {
        let stored = Self::slot_vectors(w, dim, layout, encoder.params().slots())?;
        let diagonals = encryptor.encrypt_many(encoder, &stored, level, scale)?;
        let (rows, cols) = w.dim();
        Self::from_diagonals(rows, cols, layout, diagonals)
    }

    /// What [`Self::encrypt`] encrypts: the slots of each stored diagonal of `w` padded to a
    /// `dim x dim` square (for senders that encrypt them in another form, such as seeded).
    pub fn slot_vectors(
        w: &Array2<f64>,
        dim: usize,
        layout: DiagonalLayout,
        slots: usize,
    ) -> Result<Vec<Vec<f64>>, CkksError> {
        let (rows, cols) = w.dim();
        if dim == 0 || dim < Self::dim_for(rows, cols) || 2 * dim > slots {
            return Err(CkksError::InvalidParams(format!(
                "a {rows} x {cols} matrix does not fit diagonal packing in {slots} slots"
            )));
        }
        check_baby_step(layout, dim)?;
        let at = |r: usize, c: usize| if r < rows && c < cols { w[[r, c]] } else { 0.0 };
        (0..dim)
            .map(|i| {
                let off = layout.offset(i);
                // Stored slot j holds d_i[(j - off) mod D] = W[j - off][j - off + i].
                let d: Vec<f64> = (0..dim)
                    .map(|j| {
                        let r = (j + dim - off % dim) % dim;
                        at(r, (r + i) % dim)
                    })
                    .collect();
                periodic(&d, dim, slots)
            })
            .collect()
    }

    /// Client side: decrypts back to the `rows x cols` matrix.
    pub fn decrypt(
        &self,
        encoder: &Encoder,
        decryptor: &Decryptor,
    ) -> Result<Array2<f64>, CkksError> {
        self.decrypt_block_sum(encoder, decryptor, self.dim, 1)
    }

    /// Reassembles a matrix from its diagonal ciphertexts (for instance after they crossed
    /// the network), checking their number and that they share one level.
    pub fn from_diagonals(
        rows: usize,
        cols: usize,
        layout: DiagonalLayout,
        diagonals: Vec<Ciphertext>,
    ) -> Result<Self, CkksError> {
        let dim = diagonals.len();
        if rows == 0 || cols == 0 || dim < Self::dim_for(rows, cols) {
            return Err(CkksError::InvalidParams(format!(
                "{dim} diagonals for a {rows} x {cols} matrix"
            )));
        }
        check_baby_step(layout, dim)?;
        if diagonals.iter().any(|d| d.level() != diagonals[0].level()) {
            return Err(CkksError::InvalidParams(
                "diagonals at different levels".into(),
            ));
        }
        Ok(Self {
            rows,
            cols,
            dim,
            layout,
            diagonals,
        })
    }

    /// Client side, for matrices computed per block of `block` slots (one sample per block):
    /// decrypts the matrix held in each of the first `blocks` blocks and returns their sum.
    pub fn decrypt_block_sum(
        &self,
        encoder: &Encoder,
        decryptor: &Decryptor,
        block: usize,
        blocks: usize,
    ) -> Result<Array2<f64>, CkksError> {
        let d = self.dim;
        if block < d || !block.is_multiple_of(d) || block * blocks > encoder.params().slots() {
            return Err(CkksError::InvalidParams(format!(
                "{blocks} blocks of {block} slots"
            )));
        }
        let mut w = Array2::zeros((self.rows, self.cols));
        for (i, stored) in decrypt_all(encoder, decryptor, &self.diagonals)?
            .iter()
            .enumerate()
        {
            let off = self.layout.offset(i);
            for r in 0..self.rows {
                let c = (r + i) % d;
                if c < self.cols {
                    w[[r, c]] = (0..blocks).map(|b| stored[b * block + (r + off) % d]).sum();
                }
            }
        }
        Ok(w)
    }

    /// Every diagonal multiplied by `factor` and brought to exactly `(level, scale)`, one level
    /// below at least: how fresh weights meet gradients computed several levels down.
    pub fn scaled_to(
        &self,
        eval: &Evaluator,
        factor: f64,
        level: usize,
        scale: f64,
    ) -> Result<DiagonalMatrix, CkksError> {
        Ok(self.with_diagonals(scaled_all(eval, &self.diagonals, factor, level, scale)?))
    }

    /// This matrix's shape and layout with other diagonals.
    fn with_diagonals(&self, diagonals: Vec<Ciphertext>) -> DiagonalMatrix {
        DiagonalMatrix {
            rows: self.rows,
            cols: self.cols,
            dim: self.dim,
            layout: self.layout,
            diagonals,
        }
    }

    /// Rows of the matrix, before padding.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the matrix, before padding.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The padded dimension `D`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// How the diagonals are stored.
    pub fn layout(&self) -> DiagonalLayout {
        self.layout
    }

    /// The level of the diagonals, which share one.
    pub fn level(&self) -> usize {
        self.diagonals[0].level()
    }

    /// The `D` diagonal ciphertexts, diagonal `i` at index `i`, as the layout stores them
    /// (pre-rotated by their giant step when stepped).
    pub fn diagonals(&self) -> &[Ciphertext] {
        &self.diagonals
    }

    /// `W x` for `x` stored with period `D` (see [`super::encrypt_periodic`]); the result has
    /// the same layout, its first `rows` entries meaningful and the rest of each period zero.
    /// One level.
    pub fn matvec(
        &self,
        eval: &Evaluator,
        x: &Ciphertext,
    ) -> Result<(Ciphertext, Cost), CkksError> {
        let (rotated, rotations) = RotatedVector::new(eval, x, self.dim, self.layout)?;
        let (y, product) = self.matvec_rotated(eval, &rotated)?;
        Ok((y, rotations + product))
    }

    /// [`Self::matvec`] on a vector whose rotations are already computed, for instance
    /// because an outer product reads the same vector.
    pub fn matvec_rotated(
        &self,
        eval: &Evaluator,
        x: &RotatedVector,
    ) -> Result<(Ciphertext, Cost), CkksError> {
        x.check(self.dim, self.layout)?;
        // Products run at the lower level of their operands: nothing is dropped by copying.
        let level = x.level().min(self.level());
        measured(eval, level, Ciphertext::level, || match self.layout {
            DiagonalLayout::Plain => eval.dot(&self.diagonals, &x.rotations),
            DiagonalLayout::Stepped { baby } => self.matvec_bsgs(eval, &x.rotations, baby),
        })
    }

    /// `sum_g rot(sum_b s_{gB+b} * rot(x, b), gB)`: baby-step rotations are hoisted, and each
    /// giant step's partial sum is relinearized once before its rotation.
    fn matvec_bsgs(
        &self,
        eval: &Evaluator,
        rotated: &[Ciphertext],
        baby: usize,
    ) -> Result<Ciphertext, CkksError> {
        let mut total: Option<Ciphertext> = None;
        for (g, chunk) in self.diagonals.chunks(baby).enumerate() {
            let mut partial = eval.multiply(&chunk[0], &rotated[0])?;
            for (d, r) in chunk.iter().zip(rotated).skip(1) {
                eval.add_assign(&mut partial, &eval.multiply(d, r)?)?;
            }
            let partial = eval.rotate(&eval.relinearize(&partial)?, (g * baby) as i64)?;
            match &mut total {
                None => total = Some(partial),
                Some(t) => eval.add_assign(t, &partial)?,
            }
        }
        let mut total = total.ok_or(CkksError::Internal("a matrix has at least one diagonal"))?;
        eval.rescale_assign(&mut total)?;
        Ok(total)
    }

    /// `W^T` by rotations only: diagonal `i` of the transpose is diagonal `-i` rotated by `i`
    /// (adjusted for the stored giant-step offsets). No multiplication, no level.
    pub fn transpose(&self, eval: &Evaluator) -> Result<(DiagonalMatrix, Cost), CkksError> {
        let d = self.dim;
        measured(eval, self.level(), DiagonalMatrix::level, || {
            let diagonals = (0..d)
                .into_par_iter()
                .map(|i| {
                    let amount = Self::transpose_amount(self.layout, d, i);
                    eval.rotate(&self.diagonals[(d - i) % d], amount)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(DiagonalMatrix {
                rows: self.cols,
                cols: self.rows,
                dim: d,
                layout: self.layout,
                diagonals,
            })
        })
    }

    /// Rotation taking stored diagonal `-i` to stored diagonal `i` of the transpose.
    fn transpose_amount(layout: DiagonalLayout, dim: usize, i: usize) -> i64 {
        let j = (dim - i) % dim;
        ((i + layout.offset(j)) as i64 - layout.offset(i) as i64).rem_euclid(dim as i64)
    }

    /// The outer product `u v^T` as a `rows x cols` diagonal matrix of dimension `dim` in
    /// `layout`, from `u` and `v` stored with period `dim`: diagonal `i` is `u * rot(v, i)`.
    /// With `relinearize`, one level. Without, the diagonals are the raw products: three
    /// polynomials at the product of the scales, not rescaled, consuming no level. That is
    /// enough for additions and decryption (a gradient on its way back to the key owner) at a
    /// fraction of the cost, but not for further products or rotations; and it is also the
    /// precise choice, since rescaling a three-polynomial ciphertext multiplies its rounding
    /// error by the square of the secret.
    pub fn outer(
        eval: &Evaluator,
        u: &Ciphertext,
        v: &Ciphertext,
        (rows, cols): (usize, usize),
        dim: usize,
        layout: DiagonalLayout,
        relinearize: bool,
    ) -> Result<(DiagonalMatrix, Cost), CkksError> {
        // Only the rotations the outer product reads, at the level it runs at.
        let level = u.level().min(v.level());
        let (v, rotations) = RotatedVector::new(eval, &eval.mod_drop_to(v, level)?, dim, layout)?;
        let (m, product) = Self::outer_rotated(eval, u, &v, (rows, cols), relinearize)?;
        Ok((m, rotations + product))
    }

    /// [`Self::outer`] with the rotations of `v` already computed (by a product with the same
    /// vector, typically), in their layout and dimension.
    pub fn outer_rotated(
        eval: &Evaluator,
        u: &Ciphertext,
        v: &RotatedVector,
        (rows, cols): (usize, usize),
        relinearize: bool,
    ) -> Result<(DiagonalMatrix, Cost), CkksError> {
        let (dim, layout) = (v.dim, v.layout);
        if dim < Self::dim_for(rows, cols) {
            return Err(CkksError::InvalidParams(format!(
                "dimension {dim} for {rows} x {cols}"
            )));
        }
        let level = u.level().min(v.level());
        measured(eval, level, DiagonalMatrix::level, || {
            // Stored diagonal i = rot(u * rot(v, i), -off) = rot(u, -off) * rot(v, i - off),
            // and i - off is the baby step of i.
            let (u_rot, index) = Self::row_factors(eval, u, level, dim, layout)?;
            let diagonals = (0..dim)
                .into_par_iter()
                .map(|i| {
                    let b = i - layout.offset(i);
                    let product = eval.multiply(&u_rot[index[i]], &v.rotations[b])?;
                    finish(eval, product, relinearize)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(DiagonalMatrix {
                rows,
                cols,
                dim,
                layout,
                diagonals,
            })
        })
    }

    /// `diag(u) W`: row `r` scaled by `u[r]`, for `u` stored with period `D`; `relinearize` as
    /// in [`Self::outer`]. With
    /// `W = v w^T` this is the outer product `(u * v) w^T` one level closer to `u`, which is how
    /// a gradient avoids waiting for the product `u * v`.
    pub fn scale_rows(
        &self,
        eval: &Evaluator,
        u: &Ciphertext,
        relinearize: bool,
    ) -> Result<(DiagonalMatrix, Cost), CkksError> {
        let level = u.level().min(self.level());
        measured(eval, level, DiagonalMatrix::level, || {
            let (u_rot, index) = Self::row_factors(eval, u, level, self.dim, self.layout)?;
            let diagonals = self
                .diagonals
                .par_iter()
                .zip(index)
                .map(|(d, i)| finish(eval, eval.multiply(&u_rot[i], d)?, relinearize))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(self.with_diagonals(diagonals))
        })
    }

    /// The factors `rot(u, -off_i)` that align `u` with the rows of each stored diagonal `i`
    /// (a left rotation by `D - off_i`, valid on periodic data): the distinct ones, rotated
    /// together (hoisted) at `level`, and for each diagonal the index of its own. The rotation
    /// by zero is `u` itself, not a copy.
    fn row_factors<'a>(
        eval: &Evaluator,
        u: &'a Ciphertext,
        level: usize,
        dim: usize,
        layout: DiagonalLayout,
    ) -> Result<(Vec<Cow<'a, Ciphertext>>, Vec<usize>), CkksError> {
        let step = |i: usize| ((dim - layout.offset(i)) % dim) as i64;
        let mut giant: Vec<i64> = (0..dim).map(step).collect();
        giant.sort_unstable();
        giant.dedup();
        let index = (0..dim)
            .map(|i| {
                giant
                    .binary_search(&step(i))
                    .map_err(|_| CkksError::Internal("every step is listed"))
            })
            .collect::<Result<_, _>>()?;
        let rotated = distinct_nonzero(giant.clone());
        let mut factors = Vec::with_capacity(giant.len());
        if giant[0] == 0 {
            factors.push(Cow::Borrowed(u));
        }
        if !rotated.is_empty() {
            let low = eval.mod_drop_to(u, level)?;
            factors.extend(
                eval.rotate_hoisted(&low, &rotated)?
                    .into_iter()
                    .map(Cow::Owned),
            );
        }
        Ok((factors, index))
    }

    /// `self - other`, diagonal by diagonal; `other` must have the same shape, layout and
    /// scale, and `self` is brought down to its level.
    pub fn sub(
        &self,
        eval: &Evaluator,
        other: &DiagonalMatrix,
    ) -> Result<DiagonalMatrix, CkksError> {
        if (self.rows, self.cols, self.layout) != (other.rows, other.cols, other.layout) {
            return Err(CkksError::InvalidParams(
                "matrices of different shapes or layouts".into(),
            ));
        }
        Ok(self.with_diagonals(sub_all(eval, &self.diagonals, &other.diagonals)?))
    }
}

/// A vector stored with period `D` together with its rotations by every baby step of a
/// layout (`0 .. D` for plain diagonals, `0 .. baby` for stepped ones): what a product with a
/// diagonal matrix and an outer product with the vector on the right both read. Computing
/// them once (hoisted) lets a training step share them between the forward product and the
/// gradient's outer product.
#[derive(Clone, Debug)]
pub struct RotatedVector {
    dim: usize,
    layout: DiagonalLayout,
    /// `rotations[b] = rot(x, b)`; `rotations[0]` is `x`.
    rotations: Vec<Ciphertext>,
}

impl RotatedVector {
    /// Rotates `x` by every baby step of `layout` for matrices of dimension `dim`.
    pub fn new(
        eval: &Evaluator,
        x: &Ciphertext,
        dim: usize,
        layout: DiagonalLayout,
    ) -> Result<(Self, Cost), CkksError> {
        let baby = match layout {
            DiagonalLayout::Plain => dim,
            DiagonalLayout::Stepped { baby } => baby,
        };
        if dim == 0 || baby == 0 || baby > dim {
            return Err(CkksError::InvalidParams(format!(
                "rotations for dimension {dim} in {layout:?}"
            )));
        }
        let steps: Vec<i64> = (0..baby as i64).collect();
        measured(eval, x.level(), RotatedVector::level, || {
            Ok(RotatedVector {
                dim,
                layout,
                rotations: eval.rotate_hoisted(x, &steps)?,
            })
        })
    }

    /// The level of the vector and its rotations.
    pub fn level(&self) -> usize {
        self.rotations[0].level()
    }

    /// The vector itself (rotation by zero).
    pub fn vector(&self) -> &Ciphertext {
        &self.rotations[0]
    }

    fn check(&self, dim: usize, layout: DiagonalLayout) -> Result<(), CkksError> {
        if (self.dim, self.layout) != (dim, layout) {
            return Err(CkksError::InvalidParams(format!(
                "rotations for dimension {} in {:?} used with dimension {dim} in {layout:?}",
                self.dim, self.layout
            )));
        }
        Ok(())
    }
}

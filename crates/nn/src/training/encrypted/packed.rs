//! The matrix operations of one training step, over either packing: the server's algorithm is
//! written once against [`Packed`], and row and diagonal packing differ only in how each
//! operation is carried out (and what it costs).

use ndarray::Array2;
use shroud_ckks::packing::{DiagonalLayout, DiagonalMatrix, RotatedVector, RowMatrix};
use shroud_ckks::{Ciphertext, CkksError, Decryptor, Encoder, Evaluator};

use super::{Packing, Shape};

/// What the packed algorithms need: the evaluator, and an encoder for the masks of row packing.
pub(crate) struct Kit<'a> {
    pub eval: &'a Evaluator,
    pub encoder: &'a Encoder,
}

pub(crate) trait Packed: Sized + Send + Sync {
    /// A vector ready for products with matrices of this packing. Diagonal packing reads its
    /// rotations, computed once and shared by the forward product and the outer product of
    /// the gradient; row packing reads the vector itself.
    type Input: Send + Sync;

    fn prepare(k: &Kit, shape: &Shape, x: &Ciphertext) -> Result<Self::Input, CkksError>;
    /// Client side: the slots of each ciphertext of `w` in this packing.
    fn slot_vectors(
        w: &Array2<f64>,
        shape: &Shape,
        slots: usize,
    ) -> Result<Vec<Vec<f64>>, CkksError>;
    /// Reassembles a `rows x cols` matrix from its ciphertexts.
    fn from_ciphertexts(
        rows: usize,
        cols: usize,
        shape: &Shape,
        cts: Vec<Ciphertext>,
    ) -> Result<Self, CkksError>;
    fn ciphertexts(&self) -> &[Ciphertext];
    fn rows(&self) -> usize;
    fn cols(&self) -> usize;
    /// Client side: the sum of the matrices held in the first `count` sample blocks.
    fn decrypt_block_sum(
        &self,
        shape: &Shape,
        encoder: &Encoder,
        decryptor: &Decryptor,
        count: usize,
    ) -> Result<Array2<f64>, CkksError>;

    fn matvec(&self, k: &Kit, x: &Self::Input) -> Result<Ciphertext, CkksError>;
    fn transpose(&self, k: &Kit) -> Result<Self, CkksError>;
    /// `u v^T` as a `rows x cols` matrix.
    fn outer(
        k: &Kit,
        shape: &Shape,
        u: &Ciphertext,
        v: &Self::Input,
        rows_cols: (usize, usize),
        relinearize: bool,
    ) -> Result<Self, CkksError>;
    /// `diag(u) W`.
    fn scale_rows(&self, k: &Kit, u: &Ciphertext, relinearize: bool) -> Result<Self, CkksError>;
    /// `factor W` at exactly `(level, scale)`.
    fn scaled_to(
        &self,
        eval: &Evaluator,
        factor: f64,
        level: usize,
        scale: f64,
    ) -> Result<Self, CkksError>;
    fn sub(&self, eval: &Evaluator, other: &Self) -> Result<Self, CkksError>;

    fn level(&self) -> usize {
        self.ciphertexts()
            .iter()
            .map(Ciphertext::level)
            .min()
            // Every packing has at least one ciphertext; none would have no level left.
            .unwrap_or(0)
    }

    fn scale(&self) -> f64 {
        self.ciphertexts()[0].scale()
    }
}

fn diagonal_layout(shape: &Shape) -> Result<DiagonalLayout, CkksError> {
    match shape.packing {
        Packing::Diagonal(layout) => Ok(layout),
        Packing::Row => Err(CkksError::InvalidParams(
            "diagonal matrices for a row-packed network".into(),
        )),
    }
}

impl Packed for DiagonalMatrix {
    type Input = RotatedVector;

    fn prepare(k: &Kit, shape: &Shape, x: &Ciphertext) -> Result<RotatedVector, CkksError> {
        Ok(RotatedVector::new(k.eval, x, shape.dim(), diagonal_layout(shape)?)?.0)
    }

    fn slot_vectors(
        w: &Array2<f64>,
        shape: &Shape,
        slots: usize,
    ) -> Result<Vec<Vec<f64>>, CkksError> {
        DiagonalMatrix::slot_vectors(w, shape.dim(), diagonal_layout(shape)?, slots)
    }

    fn from_ciphertexts(
        rows: usize,
        cols: usize,
        shape: &Shape,
        cts: Vec<Ciphertext>,
    ) -> Result<Self, CkksError> {
        DiagonalMatrix::from_diagonals(rows, cols, diagonal_layout(shape)?, cts)
    }

    fn ciphertexts(&self) -> &[Ciphertext] {
        self.diagonals()
    }

    fn rows(&self) -> usize {
        DiagonalMatrix::rows(self)
    }

    fn cols(&self) -> usize {
        DiagonalMatrix::cols(self)
    }

    fn decrypt_block_sum(
        &self,
        shape: &Shape,
        encoder: &Encoder,
        decryptor: &Decryptor,
        count: usize,
    ) -> Result<Array2<f64>, CkksError> {
        DiagonalMatrix::decrypt_block_sum(self, encoder, decryptor, shape.block(), count)
    }

    fn matvec(&self, k: &Kit, x: &RotatedVector) -> Result<Ciphertext, CkksError> {
        Ok(DiagonalMatrix::matvec_rotated(self, k.eval, x)?.0)
    }

    fn transpose(&self, k: &Kit) -> Result<Self, CkksError> {
        Ok(DiagonalMatrix::transpose(self, k.eval)?.0)
    }

    fn outer(
        k: &Kit,
        _shape: &Shape,
        u: &Ciphertext,
        v: &RotatedVector,
        rows_cols: (usize, usize),
        relinearize: bool,
    ) -> Result<Self, CkksError> {
        Ok(DiagonalMatrix::outer_rotated(k.eval, u, v, rows_cols, relinearize)?.0)
    }

    fn scale_rows(&self, k: &Kit, u: &Ciphertext, relinearize: bool) -> Result<Self, CkksError> {
        Ok(DiagonalMatrix::scale_rows(self, k.eval, u, relinearize)?.0)
    }

    fn scaled_to(
        &self,
        eval: &Evaluator,
        factor: f64,
        level: usize,
        scale: f64,
    ) -> Result<Self, CkksError> {
        DiagonalMatrix::scaled_to(self, eval, factor, level, scale)
    }

    fn sub(&self, eval: &Evaluator, other: &Self) -> Result<Self, CkksError> {
        DiagonalMatrix::sub(self, eval, other)
    }
}

impl Packed for RowMatrix {
    type Input = Ciphertext;

    fn prepare(_k: &Kit, _shape: &Shape, x: &Ciphertext) -> Result<Ciphertext, CkksError> {
        Ok(x.clone())
    }

    fn slot_vectors(
        w: &Array2<f64>,
        shape: &Shape,
        slots: usize,
    ) -> Result<Vec<Vec<f64>>, CkksError> {
        RowMatrix::slot_vectors(w, shape.block(), slots)
    }

    fn from_ciphertexts(
        rows: usize,
        cols: usize,
        shape: &Shape,
        cts: Vec<Ciphertext>,
    ) -> Result<Self, CkksError> {
        if cts.len() != rows {
            return Err(CkksError::InvalidParams(format!(
                "{} row ciphertexts for {rows} rows",
                cts.len()
            )));
        }
        RowMatrix::from_rows(cols, shape.block(), cts)
    }

    fn ciphertexts(&self) -> &[Ciphertext] {
        self.row_ciphertexts()
    }

    fn rows(&self) -> usize {
        RowMatrix::rows(self)
    }

    fn cols(&self) -> usize {
        RowMatrix::cols(self)
    }

    fn decrypt_block_sum(
        &self,
        _shape: &Shape,
        encoder: &Encoder,
        decryptor: &Decryptor,
        count: usize,
    ) -> Result<Array2<f64>, CkksError> {
        RowMatrix::decrypt_block_sum(self, encoder, decryptor, count)
    }

    fn matvec(&self, k: &Kit, x: &Ciphertext) -> Result<Ciphertext, CkksError> {
        Ok(RowMatrix::matvec(self, k.eval, k.encoder, x)?.0)
    }

    fn transpose(&self, k: &Kit) -> Result<Self, CkksError> {
        Ok(RowMatrix::transpose(self, k.eval, k.encoder)?.0)
    }

    fn outer(
        k: &Kit,
        shape: &Shape,
        u: &Ciphertext,
        v: &Ciphertext,
        rows_cols: (usize, usize),
        relinearize: bool,
    ) -> Result<Self, CkksError> {
        let block = shape.block();
        Ok(RowMatrix::outer(k.eval, k.encoder, u, v, rows_cols, block, relinearize)?.0)
    }

    fn scale_rows(&self, k: &Kit, u: &Ciphertext, relinearize: bool) -> Result<Self, CkksError> {
        Ok(RowMatrix::scale_rows(self, k.eval, k.encoder, u, relinearize)?.0)
    }

    fn scaled_to(
        &self,
        eval: &Evaluator,
        factor: f64,
        level: usize,
        scale: f64,
    ) -> Result<Self, CkksError> {
        RowMatrix::scaled_to(self, eval, factor, level, scale)
    }

    fn sub(&self, eval: &Evaluator, other: &Self) -> Result<Self, CkksError> {
        RowMatrix::sub(self, eval, other)
    }
}

//! Training on encrypted data and encrypted weights with CKKS, in two roles that share no
//! secret: the [`Client`] owns the data and the secret key, the [`Server`] holds evaluation
//! keys only and runs the training arithmetic. Everything between them is serialized
//! ciphertext ([`messages`]).
//!
//! One SGD step on a batch of `B` samples:
//! 1. the client encrypts the batch: sample `b` occupies slots `[b S, (b + 1) S)` of one
//!    ciphertext for the inputs and one for the targets, repeated with the packing period `D`
//!    inside its block, so every operation processes the whole batch at once;
//! 2. the server runs the forward pass (`h = W1 x`, `a = h^2`, `o = W2 a`), transposes `W2` by
//!    rotations, back-propagates (`e = o - y`, `c = lr * 2 / (3 B)`, `t = (c W2)^T e`, `g_h = 2 t h`,
//!    `grad W2 = e (c a)^T`),
//!    forms the per-sample gradients as outer products and applies the SGD update
//!    `W / B - grad` in every block;
//! 3. the client repacks: it decrypts the updated weights, adds the blocks (which completes
//!    the batch average) and encrypts fresh weights for the next step. Repacking is what
//!    resets the noise and the levels, as in the design this follows.

pub mod checkpoint;
mod client;
pub mod messages;
mod packed;
mod server;
pub mod server_only;
pub mod tiles;
mod trainer;

pub use client::Client;
pub use server::{PhaseTimes, Server};
pub use trainer::{train_encrypted, train_encrypted_with, EncryptedRun, StepServer};

use shroud_ckks::packing::{DiagonalLayout, DiagonalMatrix, RowMatrix};
use shroud_ckks::{presets, Params, ParamsLiteral};

use crate::NnError;

/// How the weight matrices are packed into ciphertexts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packing {
    /// One ciphertext per row (the design's Algorithm 1; transposition by Algorithm 3).
    Row,
    /// One ciphertext per generalized diagonal (Algorithm 2; transposition by Algorithm 4,
    /// or 5 for the stepped layout).
    Diagonal(DiagonalLayout),
}

impl Packing {
    /// Levels a matrix-vector product consumes: row packing spends one more on a mask.
    pub(crate) fn matvec_levels(self) -> usize {
        match self {
            Packing::Diagonal(_) => 1,
            Packing::Row => 2,
        }
    }

    /// Levels a transposition consumes: rotations only for diagonals, a mask for rows.
    pub(crate) fn transpose_levels(self) -> usize {
        match self {
            Packing::Diagonal(_) => 0,
            Packing::Row => 1,
        }
    }
}

/// The packings by name, as a command line, a query string and JSON carry them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackingName {
    /// One ciphertext per matrix row (the design's Algorithms 1 and 3).
    Row,
    /// One ciphertext per generalized diagonal (Gazelle's method; Algorithms 2 and 4).
    Diagonal,
    /// Diagonals pre-rotated for baby-step giant-step products (Algorithm 5).
    Stepped,
}

impl PackingName {
    /// Every packing name: row, diagonal, stepped.
    pub const ALL: [PackingName; 3] = [Self::Row, Self::Diagonal, Self::Stepped];

    /// The name as written on a command line or in JSON (`row`, `diagonal`, `stepped`).
    pub fn name(self) -> &'static str {
        match self {
            PackingName::Row => "row",
            PackingName::Diagonal => "diagonal",
            PackingName::Stepped => "stepped",
        }
    }

    /// The packing this name stands for (`stepped` is the stepped diagonal layout with 4
    /// baby steps).
    pub fn packing(self) -> Packing {
        match self {
            PackingName::Row => Packing::Row,
            PackingName::Diagonal => Packing::Diagonal(DiagonalLayout::Plain),
            PackingName::Stepped => Packing::Diagonal(DiagonalLayout::Stepped { baby: 4 }),
        }
    }

    /// The name of a packing, if it has one.
    pub fn of(packing: Packing) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.packing() == packing)
    }
}

impl std::str::FromStr for PackingName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("{s:?}: the packings are row, diagonal and stepped"))
    }
}

/// Where one training step first reads what the client sends (`h = W1 x`, `a = h^2`,
/// `o = W2 a`): the client encrypts each ciphertext at that level and no lower, since
/// fewer primes are less to encrypt, send and parse.
pub(crate) struct StepLevels {
    pub x: usize,
    pub w1: usize,
    /// The level of `a`.
    pub w2: usize,
    /// One above the outputs: the targets are brought to the outputs' scale by a rescale.
    pub y: usize,
}

impl StepLevels {
    pub(crate) fn new(params: &Params, packing: Packing) -> Result<Self, NnError> {
        let top = params.max_level();
        let m = packing.matvec_levels();
        let outputs = top.checked_sub(2 * m + 1).ok_or_else(|| {
            NnError::InvalidConfig(format!(
                "{top} levels cannot hold a training step with {packing:?} packing"
            ))
        })?;
        Ok(Self {
            x: top,
            w1: top,
            w2: top - m - 1,
            y: outputs + 1,
        })
    }
}

/// Sizes shared by both roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Features per sample (for [`prepare_iris`](crate::datasets::iris::prepare_iris)'s data, the bias
    /// column included).
    pub inputs: usize,
    /// Width of the hidden layer.
    pub hidden: usize,
    /// Number of outputs (classes).
    pub outputs: usize,
    /// How the weight matrices are packed into ciphertexts.
    pub packing: Packing,
}

impl Shape {
    /// The padded dimension of diagonal packing: every matrix of the network is packed as a
    /// `D x D` square, so one period fits every layer and no re-packing happens between
    /// layers.
    pub fn dim(&self) -> usize {
        self.inputs.max(self.hidden).max(self.outputs)
    }

    /// Slots per sample. Diagonal packing: four periods, since the deepest chain of rotations
    /// in a step moves data by less than three periods and the first period must stay valid.
    /// Row packing: the block every row algorithm on both matrices needs.
    pub fn block(&self) -> usize {
        match self.packing {
            Packing::Diagonal(_) => 4 * self.dim(),
            Packing::Row => RowMatrix::block_for(self.hidden, self.inputs)
                .max(RowMatrix::block_for(self.outputs, self.hidden)),
        }
    }

    /// Every rotation step the server needs keys for.
    pub fn rotation_steps(&self) -> Vec<i64> {
        match self.packing {
            Packing::Diagonal(layout) => DiagonalMatrix::rotation_steps(self.dim(), layout),
            Packing::Row => {
                // Products with W1, W2 and W2^T, outer products of their shapes, and the
                // transposition of W2 only: each key is large at nine levels.
                let (i, h, o) = (self.inputs, self.hidden, self.outputs);
                let mut steps = RowMatrix::product_steps(h, i);
                steps.extend(RowMatrix::product_steps(o, h));
                steps.extend(RowMatrix::product_steps(h, o));
                steps.extend(RowMatrix::transpose_steps(o, h));
                steps.sort_unstable();
                steps.dedup();
                steps
            }
        }
    }

    /// The slots of one sample's vector `v` inside its block: repeated with the period `D`
    /// for diagonal packing, once and followed by zeros for row packing.
    pub(crate) fn place(&self, v: &[f64], block: &mut [f64]) {
        match self.packing {
            Packing::Diagonal(_) => {
                let d = self.dim();
                for (p, s) in block.iter_mut().enumerate() {
                    *s = v.get(p % d).copied().unwrap_or(0.0);
                }
            }
            Packing::Row => block[..v.len()].copy_from_slice(v),
        }
    }
}

/// The parameters of encrypted training for a packing, 128-bit secure (see
/// docs/security.md). A diagonal-packed step consumes five levels: N = 2^13 at scale 2^28.
/// A row-packed step consumes nine, since its products and broadcasts each spend a level on
/// a mask: N = 2^14 at scale 2^36.
pub fn training_params(packing: Packing) -> ParamsLiteral {
    match packing {
        Packing::Diagonal(_) => presets::n13_l5(),
        Packing::Row => presets::n14_l9(),
    }
}

/// Validated [`training_params`].
pub fn default_params(packing: Packing) -> Result<Params, shroud_ckks::CkksError> {
    Params::new(training_params(packing))
}

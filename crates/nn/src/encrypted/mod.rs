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

mod client;
pub mod messages;
mod server;
mod trainer;

pub use client::Client;
pub use server::{PhaseTimes, Server};
pub use trainer::{train_encrypted, EncryptedRun};

use shroud_ckks::packing::DiagonalLayout;
use shroud_ckks::{presets, Params, ParamsLiteral};

/// Sizes shared by both roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub inputs: usize,
    pub hidden: usize,
    pub outputs: usize,
    pub layout: DiagonalLayout,
}

impl Shape {
    /// The padded dimension: every matrix of the network is packed as a `D x D` square, so
    /// one period fits every layer and no re-packing happens between layers.
    pub fn dim(&self) -> usize {
        self.inputs.max(self.hidden).max(self.outputs)
    }

    /// Slots per sample: four periods, since the deepest chain of rotations in a step moves
    /// data by less than three periods and the first period must stay valid.
    pub fn block(&self) -> usize {
        4 * self.dim()
    }

    /// Every rotation step the server needs keys for.
    pub fn rotation_steps(&self) -> Vec<i64> {
        shroud_ckks::packing::DiagonalMatrix::rotation_steps(self.dim(), self.layout)
    }
}

/// The parameters of encrypted training: N = 2^13 and six levels at scale 2^25 (a step
/// consumes six), 128-bit secure (see docs/security.md).
pub fn training_params() -> ParamsLiteral {
    presets::n13_l5()
}

/// Validated [`training_params`].
pub fn default_params() -> Result<Params, shroud_ckks::CkksError> {
    Params::new(training_params())
}

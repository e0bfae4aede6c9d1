//! The matrix GSW scheme (Gentry, Sahai, Waters, CRYPTO 2013), from scratch.
//!
//! A bit `mu` is a matrix `C` with `C v = mu v + e` for the secret vector `v = G t`, where
//! `t = (1, -s)` and `G` is the gadget matrix `I_(n+1) (x) (1, B, ..., B^(l-1))`. The original
//! scheme stores `C` as the `N x N` matrix of `Flatten(.)` (digits), `N = (n+1) l`; Shroud
//! stores the equivalent `N x (n+1)` matrix `C'` with `C = G^-1(C')` and decomposes on the fly,
//! so a product is `G^-1(C1') C2'` and costs `N^2 (n+1)` instead of `N^3` operations for the
//! same result. With `B = 2` this is exactly BitDecomp/Flatten.
//!
//! Homomorphic operations: `C1 + C2` adds the messages, `G^-1(C1') C2'` multiplies them,
//! `G - C` is NOT, and NAND, AND, OR, XOR follow. Every ciphertext records the variance of its
//! noise; an operation whose result could not be decrypted reliably returns
//! [`LweError::NoiseExhausted`](crate::LweError::NoiseExhausted) instead of a ciphertext.
//!
//! Roles: [`params`] (sets, security, noise model, depth), `keys` (secret key, encryption,
//! decryption), `ciphertext` (the matrix and its noise record), `evaluator` (the gates).

mod ciphertext;
mod evaluator;
mod keys;
pub mod params;

pub use ciphertext::GswCiphertext;
pub use evaluator::GswEvaluator;
pub use keys::GswSecretKey;
pub use params::{presets, GswParams};

//! Quantized MNIST: the 784-500-256-10 ReLU network in float, its N-bit integer versions
//! (N = 2..8) with the integer evaluators the encrypted engines reproduce, and encrypted
//! inference.
//!
//! - [`idx`]: the gzip IDX files of the original distribution (and pooled images).
//! - [`model`], [`train`]: the float network and mini-batch SGD.
//! - [`projection`], [`scaling`], [`qat`], [`integer`]: the two-phase form of the design
//!   (alternating projection, scaling layers, fine-tuning with shadow weights) and its
//!   integer evaluator.
//! - [`window`]: the window form, one lookup per neuron, for the LWE engine.
//! - [`lwe_engine`]: encrypted inference on LWE ciphertexts, client and server apart.
//! - [`bits_engine`]: the two-phase network as one circuit of encrypted bits.
//! - [`saved`]: model files; `wire`: the engines' messages.

pub mod bits_engine;
pub mod idx;
pub mod integer;
pub mod lwe_engine;
pub mod model;
pub mod projection;
pub mod qat;
pub mod saved;
pub mod scaling;
pub mod train;
pub mod window;
pub(crate) mod wire;

//! Quantized MNIST: the 784-500-256-10 ReLU network in float, its N-bit integer version
//! (N = 2..8) and the integer evaluator whose operations the encrypted engines reproduce.
//!
//! - [`idx`]: the gzip IDX files of the original distribution.
//! - [`model`], [`train`]: the float network and mini-batch SGD.

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

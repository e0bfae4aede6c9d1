//! The encrypted engines and their compilation.
//!
//! - [`plan`](mod@plan): compilation of a [`QuantizedGraph`](crate::quant::QuantizedGraph)
//!   for the LWE engine (widths, bootstraps, key, failure bound, latency), from the
//!   parameters alone;
//! - [`lwe`]: the server of encrypted inference of any quantized graph on LWE ciphertexts,
//!   bit-exact with the integer evaluator wherever every bootstrap decrypts correctly (which
//!   the plan bounds);
//! - [`client`]: the data owner's side of the LWE engines (secret key, encryption,
//!   decryption);
//! - [`two_phase`]: the design's two-phase MLP on LWE ciphertexts, a bootstrap per block;
//! - [`bits`]: the two-phase MLP as one circuit of encrypted bits (`shroud-bits`), client and
//!   server.
//!
//! Every server refuses a model it cannot run exactly before any ciphertext exists.

pub mod bits;
pub mod client;
pub mod lwe;
pub mod plan;
pub mod two_phase;
pub(crate) mod wire;

pub use client::{Encoding, Form, LweClient};
pub use lwe::{CompiledGraph, GraphServer};
pub use plan::{plan, LwePlan, NodePlan};
pub use two_phase::TwoPhaseServer;

//! Engines that run a [`QuantizedGraph`](crate::quant::QuantizedGraph) on ciphertexts.
//!
//! - [`plan`](mod@plan): compilation for the LWE engine (widths, bootstraps, key, failure bound,
//!   latency), from the parameters alone;
//! - [`lwe`]: the server of encrypted inference on LWE ciphertexts, bit-exact with the
//!   integer evaluator wherever every bootstrap decrypts correctly (which the plan bounds).

pub mod lwe;
pub mod plan;

pub use lwe::{CompiledGraph, GraphServer};
pub use plan::{plan, LwePlan, NodePlan};

//! The three implementations of [`Gates`](crate::Gates): plain bits with gate counting, the
//! leveled GSW engine and the bootstrapped engine.

mod bootstrapped;
mod clear;
mod gsw;

pub use bootstrapped::Bootstrapped;
pub use clear::{Clear, ClearBit, ClearCounts};
pub use gsw::Gsw;

//! # shroud-bits
//!
//! Encrypted fixed-point integers as lists of encrypted bits, the first design's way of
//! computing on encrypted numbers: `math <- lwe <- bits <- nn`. A number is a list of
//! encrypted bits (least significant first) with a public [`Format`]: width, ones' or two's
//! complement [`Encoding`], and fixed-point scale. Arithmetic is boolean circuits.
//!
//! Reading order:
//! - [`Gates`] is what an engine must provide: NOT, AND, OR, XOR, MUX and two multi-input
//!   gates, parity and carry (a full adder's sum and carry), plus a layer of independent
//!   gates at once. Three backends in [`backends`]: [`Clear`](backends::Clear) (plain bits,
//!   counts gates and depth), [`Gsw`](backends::Gsw) (leveled, depth-limited) and
//!   [`Bootstrapped`](backends::Bootstrapped) (every gate bootstrapped, layers in parallel
//!   sharing reads of the bootstrapping key, parity and carry of any width in one bootstrap each).
//! - [`Circuit`] is a netlist: constants fold, equal gates are shared, and evaluation runs
//!   it layer by layer on any backend.
//! - [`Builder`] holds the integer operations on circuit words ([`Word`]): add, subtract
//!   (ripple or parallel-prefix [`Adder`]), negate, abs, compare, max, max pooling (exact,
//!   and the L_n-norm with Newton's root), products (array or tree [`Summation`], and by a
//!   public constant in non-adjacent form), fast and slow ReLU, secure scale, fractions,
//!   Taylor polynomials. Each is written once, for every backend.
//! - [`Evaluator`] runs a builder circuit on a backend's [`EncInt`]s.
//!
//! ```
//! use shroud_bits::{backends::Clear, Builder, EncInt, Encoding, Evaluator, Format};
//!
//! let mut key = Clear::new();
//! let f = Format::new(8, Encoding::TwosComplement, 0)?;
//! let x = EncInt::encrypt(&mut key, -7, f)?;
//! let y = EncInt::encrypt(&mut key, 5, f)?;
//! let ev = Evaluator::new(Clear::new());
//! assert_eq!(ev.binary(&x, &y, Builder::mul)?.decrypt(&key)?, -35);
//! assert_eq!(ev.unary(&x, |b, w| Ok(b.relu_fast(w)))?.decrypt(&key)?, 0);
//! // The product is 69 bootstraps; the ReLU one AND per bit, the sign's folding to zero.
//! assert_eq!(ev.backend().counts().bootstraps, 69 + 7);
//! # Ok::<(), shroud_bits::BitsError>(())
//! ```

// Library code reports errors instead of panicking (docs/reliability.md); tests may panic.
// Indexing stays allowed: hot loops index by lengths checked where objects are built or
// loaded.
// Every public item says what it is for (checked by `cargo doc` in scripts/publish-check.sh).
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod arith;
pub mod backends;
mod circuit;
mod error;
mod evaluator;
mod format;
mod gates;
mod int;
mod word;

pub use arith::adder::Adder;
pub use arith::sum::Summation;
pub use circuit::{Circuit, CircuitStats, Wire};
pub use error::BitsError;
pub use evaluator::{Evaluator, Outputs};
pub use format::{Encoding, Format};
pub use gates::{BitKey, GateOp, Gates};
pub use int::EncInt;
pub use word::{Builder, Fraction, Word};

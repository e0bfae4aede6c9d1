//! # shroud-math
//!
//! The arithmetic under every Shroud scheme: word-sized modular arithmetic ([`Modulus`], with
//! Barrett and Shoup multiplication), NTT-friendly prime generation ([`ntt_primes`]), the
//! negacyclic NTT ([`NttTable`]), residue number systems ([`RnsBasis`], [`BasisConverter`],
//! [`CrtComposer`]), RNS polynomials ([`RnsPoly`]), a CSPRNG-backed [`Sampler`], the
//! versioned envelope every scheme serializes with ([`WireFormat`]) and the identities of
//! parameter sets and keys ([`Fingerprint`], [`KeyTag`]).
//!
//! It is the lowest layer: `ckks` and `lwe` build on it and it depends on neither.
//!
//! ```
//! use shroud_math::{ntt_primes, RnsBasis, RnsPoly};
//!
//! // Multiply (1 + X) by X^(n-1) in Z_Q[X]/(X^n + 1) with Q a product of two 50-bit primes.
//! let n = 1024;
//! let basis = RnsBasis::new(n, &ntt_primes(50, n, 2, &[]).unwrap()).unwrap();
//! let mut a = vec![0i64; n];
//! a[0] = 1;
//! a[1] = 1;
//! let mut b = vec![0i64; n];
//! b[n - 1] = 1;
//! let (mut a, mut b) = (RnsPoly::from_signed(&basis, &a), RnsPoly::from_signed(&basis, &b));
//! a.ntt_forward(&basis);
//! b.ntt_forward(&basis);
//! a.mul_assign(&basis, &b);
//! a.ntt_backward(&basis);
//! // X^n = -1, so the product is X^(n-1) - 1.
//! assert_eq!(a.limb(0)[0], basis.modulus(0).value() - 1);
//! assert_eq!(a.limb(1)[n - 1], 1);
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

mod identity;
mod modulus;
mod ntt;
mod poly;
mod prime;
mod rns;
mod sampler;
mod wire;

pub use identity::{Fingerprint, KeyTag, TagMismatch};
pub use modulus::{Modulus, NarrowModulus, MAX_MODULUS_BITS};
pub use ntt::{automorphism_permutation, NttTable};
pub use poly::RnsPoly;
pub use prime::{is_prime, ntt_primes};
pub use rns::{BasisConverter, CrtComposer, RnsBasis, TailDivider};
pub use sampler::{Sampler, ERROR_BOUND, ERROR_STD_DEV};
/// Byte strings that serialize as one block rather than byte by byte.
pub use serde_bytes;
pub use wire::{reseal, WireError, WireFormat};

/// What can go wrong in the arithmetic layer; every variant names the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MathError {
    /// [`Modulus::new`] was given 0, 1 or a value of more than [`MAX_MODULUS_BITS`] bits; holds
    /// that value.
    #[error("modulus {0} is not in [2, 2^61)")]
    InvalidModulus(u64),
    /// A value shares a factor with the modulus, so [`Modulus::inv`] has no answer. Building a
    /// [`BasisConverter`], [`TailDivider`] or [`CrtComposer`] reports it when moduli of its
    /// bases are not coprime.
    #[error("{value} has no inverse modulo {modulus}")]
    NotInvertible {
        /// The value that has no inverse.
        value: u64,
        /// The modulus it was to be inverted modulo.
        modulus: u64,
    },
    /// [`NttTable::new`] cannot transform at this size modulo this prime: the size is not a
    /// power of two of at least 16, or the modulus is not 1 mod `2n` (or not a prime that the
    /// NTT backend accepts).
    #[error("no negacyclic NTT of size {n} exists modulo {modulus}")]
    NotNttFriendly {
        /// The modulus of the requested table.
        modulus: u64,
        /// The requested transform size (the ring degree).
        n: usize,
    },
    /// [`ntt_primes`] ran out of candidates before finding as many primes as asked, or was
    /// asked for a size outside `2..=61` bits or a degree that is not a power of two.
    #[error("not enough {bits}-bit primes congruent to 1 mod {}", 2 * n)]
    NoPrime {
        /// The requested size of the primes, in bits.
        bits: u32,
        /// The ring degree the primes were to support (primes are 1 mod `2n`).
        n: usize,
    },
    /// Two objects that must share a ring degree do not: NTT tables assembled into one basis,
    /// the two bases of a [`BasisConverter`], or flat data given to [`RnsPoly::from_data`] whose
    /// length is not a multiple of the degree.
    #[error("ring degree mismatch: expected {expected}, found {found}")]
    DegreeMismatch {
        /// The degree required (the basis' degree, or the `n` passed in).
        expected: usize,
        /// The degree found; for [`RnsPoly::from_data`], the length of the data.
        found: usize,
    },
    /// An RNS basis would hold the same modulus twice, and so not be a basis of coprime moduli;
    /// holds that modulus.
    #[error("modulus {0} appears twice in one basis")]
    RepeatedModulus(u64),
    /// An RNS basis was built from no moduli at all.
    #[error("an RNS basis needs at least one modulus")]
    EmptyBasis,
}

//! # shroud-ckks
//!
//! RNS-CKKS approximate homomorphic encryption: encrypt vectors of real or complex numbers,
//! add, multiply, rotate them while encrypted, decrypt an approximation of the result.
//!
//! It sits on `shroud-math` (primes, NTT, RNS) and under `shroud-nn` (encrypted training).
//! The roles follow SEAL and Lattigo: [`Params`] (validated parameters and precomputation),
//! [`KeyGenerator`], [`Encoder`], [`Encryptor`], [`Decryptor`], [`Evaluator`]. Key switching is
//! hybrid: ciphertext primes are grouped into a few digits and a handful of special primes `P`
//! absorb the noise, which needs far fewer NTTs than one digit per prime.
//!
//! ```
//! use shroud_ckks::{presets, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Params};
//!
//! let params = Params::new_insecure(presets::insecure_test_n12())?; // use presets::n15() for real
//! let mut keygen = KeyGenerator::new(&params);
//! let sk = keygen.secret_key();
//! let pk = keygen.public_key(&sk)?;
//! let eval = Evaluator::new(&params)
//!     .with_relin_key(keygen.relin_key(&sk)?)?
//!     .with_galois_keys(keygen.galois_keys(&sk, &[1], false)?)?;
//! let encoder = Encoder::new(&params);
//! let mut encryptor = Encryptor::with_public_key(&params, &pk)?;
//!
//! let x = encryptor.encrypt(&encoder.encode(&[1.0, 2.0, 3.0])?)?;
//! let y = encryptor.encrypt(&encoder.encode(&[0.5, 0.25, -1.0])?)?;
//! let xy = eval.mul_relin_rescale(&x, &y)?; // [0.5, 0.5, -3.0]
//! let rotated = eval.rotate(&xy, 1)?; // [0.5, -3.0, 0, ...]
//!
//! let out = encoder.decode(&Decryptor::new(&params, &sk)?.decrypt(&rotated)?)?;
//! assert!((out[0] - 0.5).abs() < 1e-6 && (out[1] + 3.0).abs() < 1e-6);
//! # Ok::<(), shroud_ckks::CkksError>(())
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

pub mod bootstrap;
mod ciphertext;
mod counters;
mod decryptor;
mod encoder;
mod encryptor;
mod error;
mod evaluator;
mod evaluator_keyswitch;
mod keys;
pub mod linear;
pub mod packing;
mod params;
mod plaintext;
pub mod polynomial;
pub mod security;
mod serialize;

pub use ciphertext::{Ciphertext, SeededCiphertext};
pub use counters::OpCounts;
pub use decryptor::Decryptor;
pub use encoder::Encoder;
pub use encryptor::Encryptor;
pub use error::CkksError;
pub use evaluator::{Evaluator, LARGE_FACTOR};
pub use keys::{
    conjugation_element, galois_element, EncapsulationKey, GaloisKeys, KeyGenerator, PublicKey,
    RelinKey, SecretKey, SwitchingKey,
};
pub use num_complex::Complex64;
pub use params::{presets, Params, ParamsLiteral};
pub use plaintext::Plaintext;
pub use serialize::FORMAT_VERSION;

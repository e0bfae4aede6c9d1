//! # shroud-lwe
//!
//! Bit-level FHE on LWE, the layer under `bits` (encrypted integers) and the quantized
//! networks: `math <- lwe <- bits <- nn`. Two engines:
//!
//! - [`gsw`]: the matrix GSW scheme (Gentry-Sahai-Waters 2013). Bits are matrices, gates are
//!   matrix sums and products, noise grows with depth and is tracked: an operation that would
//!   make a result undecryptable returns [`LweError::NoiseExhausted`]. Without bootstrapping
//!   it supports shallow circuits only ([`gsw::GswParams::supported_depth`]).
//! - [`bootstrap`]: TFHE-style gate and programmable bootstrapping. Every gate ends in a
//!   bootstrap (key switch, modulus switch, blind rotation with RGSW external products in the
//!   FFT domain, sample extraction) that resets the noise, so depth is unlimited; a lookup
//!   table in place of the gate evaluates any function of a small integer (up to 6 bits with
//!   the 128-bit presets).
//!
//! Parameter sets carry their security estimate (sources in docs/security-lwe.md); test-only
//! sets say "insecure" in their names. Secret keys zeroize on drop; serialized keys and
//! ciphertexts are validated on load.
//!
//! ```
//! use shroud_lwe::bootstrap::{presets, ClientKey, Lut};
//!
//! // Insecure test parameters keep the example fast; presets::gates_128() is the real one.
//! let mut client = ClientKey::from_seed(&presets::insecure_test(), 1)?;
//! let server = client.server_key();
//! let (a, b) = (client.encrypt_bit(true), client.encrypt_bit(false));
//! let nand = server.nand(&a, &b)?;
//! assert!(client.decrypt_bit(&nand)?);
//!
//! // Programmable bootstrapping: x -> x^2 mod 64 on an encrypted 6-bit integer.
//! let x = client.encrypt_int(13, 6)?;
//! let square = Lut::from_fn(&server, 6, |m| m * m)?;
//! assert_eq!(client.decrypt_int(&server.apply_lut(&x, &square)?, 6)?, 169 % 64);
//!
//! // The matrix GSW scheme: a NAND, with its noise checked.
//! use shroud_lwe::gsw::{self, GswEvaluator, GswSecretKey};
//! let p = gsw::presets::insecure_test();
//! let mut sk = GswSecretKey::from_seed(&p, 2)?;
//! let eval = GswEvaluator::new(&p)?;
//! let c = eval.nand(&sk.encrypt(1)?, &sk.encrypt(1)?)?;
//! assert!(!sk.decrypt_bit(&c)?);
//! assert!(c.noise_bound() < p.noise_limit());
//! # Ok::<(), shroud_lwe::LweError>(())
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
mod error;
pub mod gsw;
mod serialize;

pub use error::LweError;
pub use serialize::FORMAT_VERSION;

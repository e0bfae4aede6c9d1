//! TFHE-style bootstrapped LWE: gates on encrypted bits and lookup tables on small encrypted
//! integers, with noise reset by every bootstrap so circuits have unlimited depth.
//!
//! Roles: [`params`] (parameter sets, security and noise analysis), `keys` (client and server
//! keys), `compressed` (seeded server keys, what a client sends), `lwe` (ciphertexts and encodings), `bootstrap_key` (GGSW key, external product,
//! blind rotation, sample extraction), `keyswitch`, `pbs` (bootstrapping, lookup tables,
//! gates, batches), `fft` (negacyclic FFT around `rustfft`), `wide` (exact floors and clamped
//! tables on integers wider than a bootstrap's message space).

mod bootstrap_key;
mod compressed;
mod fft;
mod keys;
mod keyswitch;
mod lwe;
pub mod params;
mod pbs;
mod random;
mod wide;

pub(crate) use bootstrap_key::BootstrapKey;
pub use bootstrap_key::BODY_BITS;
pub use compressed::CompressedServerKey;
// Public for the benchmark of the transform the bootstrap spends its time in.
pub use fft::NegacyclicFft;
pub use keys::{ClientKey, OpCounts, ServerKey};
pub(crate) use keyswitch::KeySwitchKey;
pub use lwe::LweCiphertext;
pub use params::{presets, BlindRotation, BootstrapParams, Decomposition, KeyLevel};
pub use pbs::{Gate, Lut, PendingGate, MAX_LOG2_FAILURE};
pub use wide::{WideCiphertext, WidePlanner, WideShape};

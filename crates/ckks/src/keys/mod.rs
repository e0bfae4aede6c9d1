//! Key material: one file per key kind, and the generator that makes them all.

mod keygen;
mod public_key;
mod secret_key;
mod switching_key;

pub use keygen::KeyGenerator;
pub use public_key::PublicKey;
pub use secret_key::SecretKey;
pub use switching_key::{
    conjugation_element, galois_element, EncapsulationKey, GaloisKeys, RelinKey, SwitchingKey,
};

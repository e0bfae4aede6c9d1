use shroud_math::{KeyTag, RnsPoly};

/// An encryption of a vector of `N/2` complex numbers: polynomials `(c_0, c_1[, c_2])` in
/// evaluation form with `c_0 + c_1 s (+ c_2 s^2) = m + e`. A product has three until it is
/// relinearized.
#[derive(Clone, Debug, PartialEq)]
pub struct Ciphertext {
    pub(crate) tag: KeyTag,
    pub(crate) level: usize,
    pub(crate) scale: f64,
    pub(crate) polys: Vec<RnsPoly>,
}

impl Ciphertext {
    /// The parameters and key it is under.
    pub fn tag(&self) -> KeyTag {
        self.tag
    }

    /// Remaining rescales: a ciphertext at level `l` has `l + 1` primes.
    pub fn level(&self) -> usize {
        self.level
    }

    /// The factor the encrypted values are multiplied by; decoding divides by it.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Number of polynomials minus one: 1 normally, 2 after an unrelinearized product.
    pub fn degree(&self) -> usize {
        self.polys.len() - 1
    }
}

/// A fresh secret-key encryption in the form to send: `c_0` and the 32-byte seed whose
/// expansion is `c_1` (uniform, so a seed determines it as well as its `N (l + 1)` residues
/// would). Half the bytes of a [`Ciphertext`]; the receiver's [`Ciphertext::from_bytes`]
/// expands the seed. Made by [`crate::Encryptor::encrypt_values_seeded`].
#[derive(Clone, Debug, PartialEq)]
pub struct SeededCiphertext {
    pub(crate) tag: KeyTag,
    pub(crate) level: usize,
    pub(crate) scale: f64,
    pub(crate) c0: RnsPoly,
    pub(crate) seed: [u8; 32],
}

impl SeededCiphertext {
    /// Remaining rescales of the ciphertext it expands to, which has `level + 1` primes.
    pub fn level(&self) -> usize {
        self.level
    }

    /// The factor the encrypted values are multiplied by; decoding divides by it.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

use shroud_math::{Fingerprint, RnsPoly};

/// An encoded (not encrypted) vector: a polynomial in evaluation form at some level, with the
/// scale its values were multiplied by.
#[derive(Clone, Debug, PartialEq)]
pub struct Plaintext {
    pub(crate) params_id: Fingerprint,
    pub(crate) level: usize,
    pub(crate) scale: f64,
    pub(crate) poly: RnsPoly,
}

impl Plaintext {
    /// The level it is encoded at: its polynomial has `level + 1` limbs, and it combines with
    /// ciphertexts at that level.
    pub fn level(&self) -> usize {
        self.level
    }

    /// The factor the encoded values were multiplied by; decoding divides by it.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

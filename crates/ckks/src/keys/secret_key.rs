use shroud_math::{Fingerprint, KeyTag, RnsPoly};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A ternary secret `s`, kept in evaluation form over every prime (ciphertext and special).
/// Its memory is wiped when it is dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey {
    /// The parameters' fingerprint and a hash of the coefficients.
    #[zeroize(skip)]
    pub(crate) tag: KeyTag,
    /// Coefficients in {-1, 0, 1}, kept for re-deriving the key on other bases.
    pub(crate) coeffs: Vec<i64>,
    /// `s` over `q_0..q_L, p_0..` in evaluation form.
    pub(crate) poly: RnsPoly,
}

impl SecretKey {
    /// The tag of this key's ciphertexts and evaluation keys.
    pub fn tag(&self) -> KeyTag {
        self.tag
    }

    /// The tag of the key with ternary `coeffs` under parameters `params`: one-way, so it
    /// names the key without revealing it.
    pub(crate) fn identity(params: Fingerprint, coeffs: &[i64]) -> KeyTag {
        let words = zeroize::Zeroizing::new(coeffs.iter().map(|&c| c as u64).collect::<Vec<_>>());
        KeyTag {
            params,
            key: Fingerprint::of_words("shroud-ckks-key", params, &[&words]),
        }
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

use shroud_math::RnsPoly;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A ternary secret `s`, kept in evaluation form over every prime (ciphertext and special).
/// Its memory is wiped when it is dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey {
    #[zeroize(skip)]
    pub(crate) params_id: u64,
    /// Coefficients in {-1, 0, 1}, kept for re-deriving the key on other bases.
    pub(crate) coeffs: Vec<i64>,
    /// `s` over `q_0..q_L, p_0..` in evaluation form.
    pub(crate) poly: RnsPoly,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

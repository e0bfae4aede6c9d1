use shroud_math::RnsPoly;

/// An encryption of zero `(b, a) = (-a s + e, a)` at the top level, which lets anyone encrypt.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicKey {
    pub(crate) params_id: u64,
    pub(crate) b: RnsPoly,
    pub(crate) a: RnsPoly,
}

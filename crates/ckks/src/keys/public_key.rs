use shroud_math::{KeyTag, RnsPoly};

/// An encryption of zero `(b, a) = (-a s + e, a)` at the top level, which lets anyone encrypt.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicKey {
    pub(crate) tag: KeyTag,
    pub(crate) b: RnsPoly,
    pub(crate) a: RnsPoly,
}

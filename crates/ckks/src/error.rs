use shroud_math::{Fingerprint, MathError, TagMismatch};

/// Every way a CKKS operation can refuse its inputs. Operations never panic on bad input and
/// never return a silently wrong result: they return one of these.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CkksError {
    /// An argument the operation cannot work with: a parameter literal, bootstrapping spec,
    /// matrix shape, interpolation interval, count or step out of its domain, or a key of the
    /// wrong kind. Holds a description of what was wrong.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// [`Params::new`](crate::Params::new) was given parameters that the security estimate
    /// puts below 128 bits; [`Params::new_insecure`](crate::Params::new_insecure) accepts
    /// them, for tests.
    #[error("parameters are below 128-bit security by the HE standard's table (log QP too large for N, or N outside it); use an insecure constructor for tests")]
    Insecure,
    /// Objects of different parameter sets were used together, or bytes were read under
    /// other parameters than those they were written with.
    #[error("objects of different parameter sets (expected parameters {expected}, found {found})")]
    ParamsMismatch {
        /// Fingerprint of the parameters in use ([`Params::id`](crate::Params::id)).
        expected: Fingerprint,
        /// Fingerprint of the parameters the other object belongs to.
        found: Fingerprint,
    },
    /// Objects that must belong to one secret key do not: a ciphertext under another key than
    /// the evaluator's keys, two ciphertexts under different keys, or evaluation keys of
    /// different secrets. Holds both tags.
    #[error(transparent)]
    KeyMismatch(#[from] TagMismatch),
    /// A scale that cannot hold a message at the level in question: not finite, below 1, or
    /// leaving no room under the modulus for a value of magnitude 1 and its sign. For
    /// bootstrapping, also a scale more than four times away from the default one.
    #[error("scale 2^{scale_log2:.2} out of bounds for a modulus of 2^{modulus_log2:.2}")]
    ScaleOutOfBounds {
        /// `log2` of the refused scale.
        scale_log2: f64,
        /// `log2` of the modulus at the level in question (for bootstrapping, `log2 q_0`).
        modulus_log2: f64,
    },
    /// Two operands are at different levels, or an operation was asked to move a ciphertext
    /// to a level it cannot reach (a higher one, for a modulus drop). Holds the level of the
    /// ciphertext (or plaintext) operated on, then the other operand's or the requested one.
    #[error("level mismatch: {0} vs {1} (use mod_drop to align)")]
    LevelMismatch(usize, usize),
    /// Two operands of an addition or subtraction have scales that differ by more than a
    /// relative 2^-40. Holds `log2` of both scales, the first operand's first.
    #[error("scale mismatch: 2^{0:.3} vs 2^{1:.3}")]
    ScaleMismatch(f64, f64),
    /// A ciphertext has too few levels left for the operation: a rescale, or an operation
    /// that ends in one, at level 0, or a polynomial evaluation deeper than its level. Holds
    /// the ciphertext's level.
    #[error("no levels left to rescale or multiply at level {0}")]
    LevelsExhausted(usize),
    /// A level above the parameters' top level was asked for, by an argument or by
    /// serialized bytes.
    #[error("level {level} requested but the parameters stop at level {max}")]
    LevelOutOfRange {
        /// The level asked for.
        level: usize,
        /// The top level of the parameters, [`Params::max_level`](crate::Params::max_level).
        max: usize,
    },
    /// An operation needs to relinearize, but the evaluator was given no relinearization key
    /// ([`Evaluator::with_relin_key`](crate::Evaluator::with_relin_key)).
    #[error("no relinearization key was given to the evaluator")]
    MissingRelinKey,
    /// Bootstrapping with an encapsulated spec needs an
    /// [`EncapsulationKey`](crate::EncapsulationKey)
    /// ([`Evaluator::with_encapsulation_key`](crate::Evaluator::with_encapsulation_key)) and
    /// the evaluator has none.
    #[error("no encapsulation key was given to the evaluator (bootstrapping with a dense secret needs one)")]
    MissingEncapsulationKey,
    /// A rotation or conjugation needs the key of a Galois element the evaluator was not
    /// given (a rotation without its own key also finds no power-of-two keys to compose).
    /// Holds the element, as [`galois_element`](crate::galois_element) computes it.
    #[error("no Galois key for element {0} (rotation or conjugation not generated)")]
    MissingGaloisKey(u64),
    /// An operation that takes a ciphertext of two polynomials got more: an unrelinearized
    /// product of [`Evaluator::multiply`](crate::Evaluator::multiply). Holds the ciphertext's
    /// degree.
    #[error("ciphertext has degree {0}; relinearize it first")]
    NotRelinearized(usize),
    /// More values were given to encode than there are slots.
    #[error("{given} values do not fit in {slots} slots")]
    TooManyValues {
        /// Number of values given.
        given: usize,
        /// Number of slots, `N/2`.
        slots: usize,
    },
    /// A value to encode, or a constant to add or multiply by, is not finite or does not fit
    /// under the modulus at the scale and level in use. Holds the value: the largest
    /// magnitude among those to encode, the real part of one that is not finite, or the
    /// constant (for some operations already multiplied by the scale).
    #[error("value {0} times the scale does not fit under the modulus")]
    ValueOutOfRange(f64),
    /// Bytes given to a `from_bytes` are not a valid object of the kind asked for: foreign,
    /// truncated, padded or edited, or with contents that fail validation (a residue not
    /// below its modulus, a wrong number of polynomials or key parts, a secret key that does
    /// not match its identity). Holds what was wrong.
    #[error("malformed serialized object: {0}")]
    Malformed(String),
    /// Bytes written in another version of the serialization format than this build reads.
    #[error("serialization format version {found}, this build reads {expected}")]
    UnsupportedVersion {
        /// The version the bytes were written in.
        found: u16,
        /// The version this build reads and writes, [`FORMAT_VERSION`](crate::FORMAT_VERSION).
        expected: u16,
    },
    /// An invariant of the crate's own code did not hold: a bug, reported as an error rather
    /// than a crash.
    #[error("internal error: {0} (a bug in Shroud; please report it)")]
    Internal(&'static str),
    /// An error of the arithmetic layer: for instance, too few NTT-friendly primes of a
    /// requested size for the ring degree when building [`Params`](crate::Params).
    #[error(transparent)]
    Math(#[from] MathError),
}

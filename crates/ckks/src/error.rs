use shroud_math::{Fingerprint, MathError, TagMismatch};

/// Every way a CKKS operation can refuse its inputs. Operations never panic on bad input and
/// never return a silently wrong result: they return one of these.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CkksError {
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    #[error("parameters give only {bits} bits of security (need 128); use an insecure constructor for tests")]
    Insecure { bits: u32 },
    #[error("objects of different parameter sets (expected parameters {expected}, found {found})")]
    ParamsMismatch {
        expected: Fingerprint,
        found: Fingerprint,
    },
    #[error(transparent)]
    KeyMismatch(#[from] TagMismatch),
    #[error("scale 2^{scale_log2:.2} out of bounds for a modulus of 2^{modulus_log2:.2}")]
    ScaleOutOfBounds { scale_log2: f64, modulus_log2: f64 },
    #[error("level mismatch: {0} vs {1} (use mod_drop to align)")]
    LevelMismatch(usize, usize),
    #[error("scale mismatch: 2^{0:.3} vs 2^{1:.3}")]
    ScaleMismatch(f64, f64),
    #[error("no levels left to rescale or multiply at level {0}")]
    LevelsExhausted(usize),
    #[error("level {level} requested but the parameters stop at level {max}")]
    LevelOutOfRange { level: usize, max: usize },
    #[error("no relinearization key was given to the evaluator")]
    MissingRelinKey,
    #[error("no encapsulation key was given to the evaluator (bootstrapping with a dense secret needs one)")]
    MissingEncapsulationKey,
    #[error("no Galois key for element {0} (rotation or conjugation not generated)")]
    MissingGaloisKey(u64),
    #[error("ciphertext has degree {0}; relinearize it first")]
    NotRelinearized(usize),
    #[error("{given} values do not fit in {slots} slots")]
    TooManyValues { given: usize, slots: usize },
    #[error("value {0} times the scale does not fit under the modulus")]
    ValueOutOfRange(f64),
    #[error("malformed serialized object: {0}")]
    Malformed(String),
    #[error("serialization format version {found}, this build reads {expected}")]
    UnsupportedVersion { found: u16, expected: u16 },
    /// An invariant of the crate's own code did not hold: a bug, reported as an error rather
    /// than a crash.
    #[error("internal error: {0} (a bug in Shroud; please report it)")]
    Internal(&'static str),
    #[error(transparent)]
    Math(#[from] MathError),
}

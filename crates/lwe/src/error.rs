//! The one error type of the crate: every refusal names what was wrong.

use shroud_math::TagMismatch;

/// What can go wrong in `shroud-lwe`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LweError {
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    #[error("dimension mismatch: expected {expected}, found {found}")]
    DimensionMismatch { expected: usize, found: usize },
    #[error("message {message} does not fit in {bits} bits")]
    MessageOutOfRange { message: u64, bits: u32 },
    #[error("value {value} does not fit in a signed {bits}-bit message (|value| < 2^{bits})")]
    SignedOutOfRange { value: i64, bits: u32 },
    #[error("a weighted sum needs at least one term")]
    EmptySum,
    #[error("lookup table has {found} entries, expected {expected}")]
    LutSize { expected: usize, found: usize },
    #[error("GSW noise exhausted: the result's noise bound 2^{bound_log2:.1} would reach the decryption limit 2^{limit_log2:.1}")]
    NoiseExhausted { bound_log2: f64, limit_log2: f64 },
    #[error("bootstrap input too noisy: failure probability 2^{log2:.1} above 2^{limit_log2:.1}")]
    FailureProbability { log2: f64, limit_log2: f64 },
    #[error("GSW ciphertext does not encrypt a bit (message may be up to {0})")]
    NotABit(u64),
    #[error(transparent)]
    Mismatch(#[from] TagMismatch),
    #[error("wide integers of widths {0} and {1} cannot be combined")]
    WidthMismatch(u32, u32),
    #[error("the interval of a weighted sum overflows 64 bits")]
    RangeOverflow,
    #[error("malformed serialized input: {0}")]
    Malformed(String),
    /// An invariant of the crate's own code did not hold: a bug, reported as an error rather
    /// than a crash.
    #[error("internal error: {0} (a bug in Shroud; please report it)")]
    Internal(&'static str),
}

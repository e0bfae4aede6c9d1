//! The one error type of the crate: every refusal names what was wrong.

use shroud_math::TagMismatch;

/// What can go wrong in `shroud-lwe`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LweError {
    /// A parameter set failed its checks (the message says which), or a wide-integer
    /// operation was asked for something its shapes do not allow: an interval that does not
    /// fit its width, a window or round too wide for the integer, lists of different lengths.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// A ciphertext's size does not match its key or the ciphertext it is combined with.
    #[error("dimension mismatch: expected {expected}, found {found}")]
    DimensionMismatch {
        /// The size required: the key dimension, that of the other operand, or for a GSW
        /// ciphertext its number of words.
        expected: usize,
        /// The size of the ciphertext that was given.
        found: usize,
    },
    /// An unsigned message or table entry is not below `2^bits`, or `bits` itself is 0 or
    /// above the parameters' message bits (then `message` is 0).
    #[error("message {message} does not fit in {bits} bits")]
    MessageOutOfRange {
        /// The message that does not fit.
        message: u64,
        /// The width it had to fit, in bits.
        bits: u32,
    },
    /// A signed value does not fit the width it is encoded at (encryption at a scale, signed
    /// or clamped lookup tables), or the width is outside what the encoding supports (then
    /// `value` is 0).
    #[error("value {value} does not fit in a signed {bits}-bit message (|value| < 2^{bits})")]
    SignedOutOfRange {
        /// The value that does not fit.
        value: i64,
        /// The width it had to fit, in bits.
        bits: u32,
    },
    /// A weighted sum of ciphertexts was given no terms.
    #[error("a weighted sum needs at least one term")]
    EmptySum,
    /// A lookup table does not have the `2^bits` entries its width calls for, or a clamped
    /// table's length is not a power of two.
    #[error("lookup table has {found} entries, expected {expected}")]
    LutSize {
        /// Entries the table should have (for clamped tables, the most it may have).
        expected: usize,
        /// Entries it has.
        found: usize,
    },
    /// A GSW operation refused to return a ciphertext that could not be decrypted reliably:
    /// its noise bound would reach the decryption limit, or its message bound the plaintext
    /// modulus.
    #[error("GSW noise exhausted: the result's noise bound 2^{bound_log2:.1} would reach the decryption limit 2^{limit_log2:.1}")]
    NoiseExhausted {
        /// log2 of the result's noise bound
        /// ([`GswCiphertext::noise_bound`](crate::gsw::GswCiphertext::noise_bound)).
        bound_log2: f64,
        /// log2 of the parameters' decryption limit
        /// ([`GswParams::noise_limit`](crate::gsw::GswParams::noise_limit)).
        limit_log2: f64,
    },
    /// A bootstrap ([`ServerKey::sum_bit`](crate::bootstrap::ServerKey::sum_bit) or one of a
    /// wide-integer operation), or the decryption of a wide integer, would go wrong with a
    /// probability above [`MAX_LOG2_FAILURE`](crate::bootstrap::MAX_LOG2_FAILURE) given the
    /// tracked noise; the operation (or its plan) was refused before any bootstrap ran.
    #[error("bootstrap input too noisy: failure probability 2^{log2:.1} above 2^{limit_log2:.1}")]
    FailureProbability {
        /// log2 of the estimated failure probability.
        log2: f64,
        /// log2 of the largest failure probability accepted.
        limit_log2: f64,
    },
    /// A GSW gate was given a ciphertext whose message may exceed 1 (a sum, for instance);
    /// holds that message bound.
    #[error("GSW ciphertext does not encrypt a bit (message may be up to {0})")]
    NotABit(u64),
    /// Objects of different parameter sets or different keys were used together.
    #[error(transparent)]
    Mismatch(#[from] TagMismatch),
    /// A weighted sum of wide integers mixed widths; holds the first term's width and the
    /// differing one.
    #[error("wide integers of widths {0} and {1} cannot be combined")]
    WidthMismatch(u32, u32),
    /// The interval tracked for a weighted sum of wide integers overflowed `i64`.
    #[error("the interval of a weighted sum overflows 64 bits")]
    RangeOverflow,
    /// Serialized input could not be decoded or failed validation against its parameters;
    /// the message says what was wrong.
    #[error("malformed serialized input: {0}")]
    Malformed(String),
    /// An invariant of the crate's own code did not hold: a bug, reported as an error rather
    /// than a crash.
    #[error("internal error: {0} (a bug in Shroud; please report it)")]
    Internal(&'static str),
}

//! The one error type of the crate.

use shroud_lwe::LweError;

use crate::Format;

/// What can go wrong in `shroud-bits`. Engine errors (GSW noise exhausted, mismatched keys)
/// pass through as [`BitsError::Engine`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BitsError {
    /// The engine under the backend refused a gate or a key operation (GSW noise
    /// exhausted, ciphertexts of different keys or parameters, a bootstrap too likely to
    /// fail).
    #[error(transparent)]
    Engine(#[from] LweError),
    /// [`Format::new`] was given a width outside 2 to 62, or a scale that leaves no integer
    /// bit; the message says which.
    #[error("invalid format: {0}")]
    InvalidFormat(String),
    /// An operation on two words was given words of different formats.
    #[error("operands have different formats: {left:?} and {right:?}")]
    FormatMismatch {
        /// The format of the first operand.
        left: Format,
        /// The format of the second operand.
        right: Format,
    },
    /// A raw value lies outside the range of the format it is to be encoded in
    /// ([`Format::min`] to [`Format::max`]).
    #[error("value {value} does not fit {format:?}")]
    OutOfRange {
        /// The raw value.
        value: i64,
        /// The format it does not fit.
        format: Format,
    },
    /// A list of bits does not have the length it needs: the width of a format, or the
    /// number of inputs of a circuit.
    #[error("expected {expected} bits, found {found}")]
    BitCount {
        /// Bits needed.
        expected: usize,
        /// Bits given.
        found: usize,
    },
    /// An operation was given arguments it cannot build a circuit for (an empty window, a
    /// polynomial without coefficients, a constant the format cannot represent, a rescale by
    /// more bits than the scale has) or produced no output; the message says which.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

//! The one error type of the crate.

use shroud_lwe::LweError;

use crate::Format;

/// What can go wrong in `shroud-bits`. Engine errors (GSW noise exhausted, mismatched keys)
/// pass through as [`BitsError::Engine`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BitsError {
    #[error(transparent)]
    Engine(#[from] LweError),
    #[error("invalid format: {0}")]
    InvalidFormat(String),
    #[error("operands have different formats: {left:?} and {right:?}")]
    FormatMismatch { left: Format, right: Format },
    #[error("value {value} does not fit {format:?}")]
    OutOfRange { value: i64, format: Format },
    #[error("expected {expected} bits, found {found}")]
    BitCount { expected: usize, found: usize },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

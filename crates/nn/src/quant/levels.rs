//! Integer levels: the ranges of `N`-bit weights and activations, closed intervals of
//! integers (what an engine sizes its registers and tables from) and the class an integer
//! output names.

/// A closed interval of integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    /// The smallest value.
    pub lo: i64,
    /// The largest value.
    pub hi: i64,
}

impl Interval {
    /// Whether `v` lies in `[lo, hi]`.
    pub fn contains(&self, v: i64) -> bool {
        (self.lo..=self.hi).contains(&v)
    }

    /// The image under a non-decreasing function.
    pub(crate) fn map(self, f: impl Fn(i64) -> i64) -> Self {
        Self {
            lo: f(self.lo),
            hi: f(self.hi),
        }
    }

    /// The smallest interval holding both.
    pub(crate) fn hull(self, other: Self) -> Self {
        Self {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
        }
    }

    /// Bits of the smallest two's-complement register holding every value.
    pub fn bits(&self) -> u32 {
        let magnitude = |v: i64| if v < 0 { !v } else { v };
        65 - magnitude(self.lo).max(magnitude(self.hi)).leading_zeros()
    }
}

/// The class of the largest logit, the lowest index on ties.
pub fn argmax(logits: &[i64]) -> usize {
    logits
        .iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > logits[best] { i } else { best })
}

/// `Q = 2^(N-1) - 1`, the largest magnitude of a signed `N`-bit level.
pub fn signed_max(bits: u32) -> i64 {
    (1 << (bits - 1)) - 1
}

/// `U = 2^N - 1`, the largest unsigned `N`-bit level.
pub fn unsigned_max(bits: u32) -> i64 {
    (1 << bits) - 1
}

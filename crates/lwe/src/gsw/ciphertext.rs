//! GSW ciphertexts: the compact matrix and its noise record.

use serde::{Deserialize, Serialize};
use shroud_math::{Fingerprint, KeyTag, TagMismatch};

use super::params::{fresh_variance, GswParams, NOISE_SIGMAS};
use crate::LweError;

/// The compact form `C'` (`N` rows of `n + 1` words: `[b | a]`, `b = <a, s> + e`, plus
/// `mu G`), with the record of its noise and of how large its message may be, and the tag
/// of its parameters and key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GswCiphertext {
    pub(super) rows: Vec<u32>,
    pub(super) noise_variance: f64,
    pub(super) max_message: u64,
    pub(super) tag: KeyTag,
}

/// The key of noiseless encryptions of public values (`mu G`), which combine with the
/// ciphertexts of any key.
pub(super) const PUBLIC: Fingerprint = Fingerprint(0);

impl GswCiphertext {
    /// The noise bound this ciphertext guarantees (`NOISE_SIGMAS` standard deviations).
    pub fn noise_bound(&self) -> f64 {
        NOISE_SIGMAS * self.noise_variance.sqrt()
    }

    /// The parameters and key this ciphertext is under (key 0 for public constants).
    pub fn tag(&self) -> KeyTag {
        self.tag
    }

    /// Parameter, shape and noise-record checks against `params`. The noise record is the
    /// sender's claim: it is checked to be possible, but only the key holder could check
    /// that it is true.
    pub fn validate(&self, p: &GswParams) -> Result<(), LweError> {
        let params = p.fingerprint();
        if self.tag.params != params {
            return Err(LweError::Mismatch(TagMismatch {
                expected: KeyTag { params, ..self.tag },
                found: self.tag,
            }));
        }
        let expected = p.rows() * (p.lwe_dimension + 1);
        if self.rows.len() != expected {
            return Err(LweError::DimensionMismatch {
                expected,
                found: self.rows.len(),
            });
        }
        let possible = self.noise_variance.is_finite()
            && self.noise_variance >= fresh_variance()
            && self.noise_bound() < p.noise_limit();
        if !possible {
            return Err(LweError::Malformed("GSW noise record is invalid".into()));
        }
        if self.max_message == 0 || self.max_message >= p.plaintext_modulus() {
            return Err(LweError::Malformed("GSW message bound is invalid".into()));
        }
        Ok(())
    }

    /// The message scaled by the gadget: `mu G` with no noise (the identity of the original
    /// scheme when `mu = 1`).
    pub(super) fn trivial(p: &GswParams, mu: u32) -> Self {
        let (l, w) = (p.levels(), p.lwe_dimension + 1);
        let mut rows = vec![0u32; p.rows() * w];
        for (r, row) in rows.chunks_mut(w).enumerate() {
            row[r / l] = mu.wrapping_shl((r % l) as u32 * p.base_log);
        }
        Self {
            rows,
            noise_variance: 0.0,
            max_message: mu as u64,
            tag: KeyTag {
                params: p.fingerprint(),
                key: PUBLIC,
            },
        }
    }

    /// The key of a combination of `self` and `other`: their common key, or the one that is
    /// not public; an error if they are under different keys.
    pub(super) fn joined_tag(&self, other: &Self) -> Result<KeyTag, LweError> {
        match (self.tag.key, other.tag.key) {
            (PUBLIC, _) if self.tag.params == other.tag.params => Ok(other.tag),
            (_, PUBLIC) if self.tag.params == other.tag.params => Ok(self.tag),
            _ => {
                self.tag.check(other.tag)?;
                Ok(self.tag)
            }
        }
    }

    pub(super) fn checked(self, p: &GswParams) -> Result<Self, LweError> {
        let bound = self.noise_bound();
        if bound >= p.noise_limit() || self.max_message >= p.plaintext_modulus() {
            return Err(LweError::NoiseExhausted {
                bound_log2: bound.log2(),
                limit_log2: p.noise_limit().log2(),
            });
        }
        Ok(self)
    }

    /// `self + k other`; the caller has checked that their tags join.
    pub(super) fn combine(&self, other: &Self, k: u32) -> Self {
        let rows = self
            .rows
            .iter()
            .zip(&other.rows)
            .map(|(a, b)| a.wrapping_add(b.wrapping_mul(k)))
            .collect();
        let kf = k as i32 as f64;
        Self {
            rows,
            noise_variance: self.noise_variance + kf * kf * other.noise_variance,
            max_message: self.max_message + other.max_message,
            tag: self.joined_tag(other).unwrap_or(self.tag),
        }
    }
}

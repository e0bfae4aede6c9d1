//! GSW parameter sets, their security and the noise bookkeeping that decides how deep a
//! circuit may go.

use serde::{Deserialize, Serialize};
use shroud_math::{Fingerprint, ERROR_STD_DEV};

use crate::LweError;

/// Ciphertext modulus `q = 2^32`: entries are `u32` words, reduced for free by wrapping.
pub const LOG_Q: u32 = 32;

/// A noise bound is `NOISE_SIGMAS` standard deviations: a centred Gaussian exceeds it with
/// probability about 2^-41, the per-ciphertext failure rate the noise checks guarantee.
pub const NOISE_SIGMAS: f64 = 7.3;

/// Variance of a fresh error: the rounded Gaussian of `shroud_math::Sampler` (the rounding
/// adds 1/12).
pub fn fresh_variance() -> f64 {
    ERROR_STD_DEV * ERROR_STD_DEV + 1.0 / 12.0
}

/// A GSW parameter set: the lattice, the gadget base and the security estimate. Take one
/// from [`presets`] or check a custom one with [`GswParams::validate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GswParams {
    /// "insecure" in the name for test-only sets.
    pub name: String,
    /// LWE dimension `n` (the secret is uniform ternary).
    pub lwe_dimension: usize,
    /// Gadget base `B = 2^base_log`; `base_log = 1` is the original BitDecomp/Flatten.
    pub base_log: u32,
    /// Estimated classical security; 0 for test-only sets.
    pub security_bits: u32,
}

impl GswParams {
    /// A hash of every field: what ciphertexts of this set carry.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of("shroud-gsw-params", self)
    }

    /// Structural checks ([`LweError::InvalidParams`] if one fails): `base_log` in 1..=16,
    /// the dimension in 1..=4096, and "insecure" in the name of sets under 128 bits.
    pub fn validate(&self) -> Result<(), LweError> {
        let bad = |m: &str| Err(LweError::InvalidParams(m.to_string()));
        if !(1..=16).contains(&self.base_log) {
            return bad("GSW base_log must be in [1, 16]");
        }
        if !(1..=4096).contains(&self.lwe_dimension) {
            return bad("GSW LWE dimension must be in [1, 4096]");
        }
        if self.security_bits < 128 && !self.name.contains("insecure") {
            return bad("sets under 128 bits must say \"insecure\" in their name");
        }
        Ok(())
    }

    /// Digits per coefficient, `ceil(32 / base_log)`.
    pub fn levels(&self) -> usize {
        LOG_Q.div_ceil(self.base_log) as usize
    }

    /// Rows of a ciphertext, `N = (n + 1) levels`: the side of the original GSW matrix.
    pub fn rows(&self) -> usize {
        (self.lwe_dimension + 1) * self.levels()
    }

    /// The largest gadget power `B^(levels - 1)`, which scales the message in the row that
    /// decryption reads.
    pub fn top_gadget(&self) -> u64 {
        1u64 << (self.base_log * (self.levels() as u32 - 1))
    }

    /// Messages live modulo `q / top_gadget`; bits need it to be at least 2.
    pub fn plaintext_modulus(&self) -> u64 {
        (1u64 << LOG_Q) / self.top_gadget()
    }

    /// Decryption is correct while the noise stays under half the top gadget power.
    pub fn noise_limit(&self) -> f64 {
        self.top_gadget() as f64 / 2.0
    }

    /// Mean square of a balanced digit in `[-B/2, B/2)`, what multiplying by a decomposed
    /// ciphertext does to the other operand's noise variance, per row.
    pub fn digit_mean_square(&self) -> f64 {
        let b = 1i64 << self.base_log;
        let sum: i64 = (-b / 2..b / 2).map(|d| d * d).sum();
        sum as f64 / b as f64
    }

    /// Noise variance of `A * B` given those of `A` and `B` (the message of `B` at most
    /// `msg_b`): `msg_b^2 var_a + N E[d^2] var_b`.
    pub fn product_variance(&self, var_a: f64, var_b: f64, msg_b: u64) -> f64 {
        let m = msg_b as f64;
        m * m * var_a + self.rows() as f64 * self.digit_mean_square() * var_b
    }

    /// Levels of NAND gates (both inputs at the same level) a fresh ciphertext supports before
    /// the noise bound reaches the decryption limit.
    pub fn supported_depth(&self) -> u32 {
        let mut var = fresh_variance();
        let mut depth = 0;
        loop {
            let next = self.product_variance(var, var, 1);
            if NOISE_SIGMAS * next.sqrt() >= self.noise_limit() {
                return depth;
            }
            var = next;
            depth += 1;
        }
    }
}

/// Named GSW parameter sets.
pub mod presets {
    use super::*;

    /// Tiny, for tests: depth 3, no security.
    pub fn insecure_test() -> GswParams {
        GswParams {
            name: "gsw_insecure_test".into(),
            lwe_dimension: 16,
            base_log: 4,
            security_bits: 0,
        }
    }

    /// 128-bit: n = 1216 with q = 2^32 (n / log2 q = 38, the ratio the HE standard's table
    /// requires for 128 bits with a ternary secret and sigma = 3.2); base 2^8, depth 1.
    pub fn secure_128() -> GswParams {
        GswParams {
            name: "gsw_128".into(),
            lwe_dimension: 1216,
            base_log: 8,
            security_bits: 128,
        }
    }

    /// The same 128-bit lattice with base 2^4: four times the work per gate, one more level.
    pub fn secure_128_deep() -> GswParams {
        GswParams {
            name: "gsw_128_deep".into(),
            lwe_dimension: 1216,
            base_log: 4,
            security_bits: 128,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths_of_the_presets() {
        assert_eq!(presets::insecure_test().supported_depth(), 3);
        assert_eq!(presets::secure_128().supported_depth(), 1);
        assert_eq!(presets::secure_128_deep().supported_depth(), 2);
        for p in [
            presets::insecure_test(),
            presets::secure_128(),
            presets::secure_128_deep(),
        ] {
            p.validate().unwrap();
            assert!(p.plaintext_modulus() >= 2);
        }
    }

    #[test]
    fn digit_moments() {
        let p = |b| GswParams {
            name: "insecure".into(),
            lwe_dimension: 4,
            base_log: b,
            security_bits: 0,
        };
        assert_eq!(p(1).digit_mean_square(), 0.5);
        assert!((p(8).digit_mean_square() - (256.0 * 256.0 / 12.0 + 1.0 / 6.0)).abs() < 1e-9);
    }
}

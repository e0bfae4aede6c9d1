//! Randomness on the discretized torus `Z / 2^64`.
//!
//! `shroud_math::Sampler` draws residues modulo primes below 2^61 and Gaussians of the fixed
//! standard deviation 3.2; TFHE needs full-width uniform words and Gaussians whose standard
//! deviation is a fraction of the torus (2^-30, 2^-62, ...), so this sampler wraps its own
//! ChaCha20 stream, seeded the same way (the OS, or a fixed seed for tests).

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// 2^64 as a float: torus fractions times this are torus words.
pub(crate) const TORUS_SCALE: f64 = 18_446_744_073_709_551_616.0;

pub struct TorusSampler {
    rng: ChaCha20Rng,
}

impl TorusSampler {
    /// Seeded from the operating system's entropy source.
    pub fn from_os() -> Self {
        Self {
            rng: ChaCha20Rng::from_entropy(),
        }
    }

    /// Deterministic, for tests and reproducible benchmarks only.
    pub fn from_seed(seed: u64) -> Self {
        Self {
            rng: ChaCha20Rng::seed_from_u64(seed),
        }
    }

    pub fn uniform(&mut self, out: &mut [u64]) {
        for o in out {
            *o = self.rng.next_u64();
        }
    }

    /// Uniform binary secret coefficients.
    pub fn binary(&mut self, n: usize) -> Vec<u64> {
        (0..n).map(|_| self.rng.next_u32() as u64 & 1).collect()
    }

    /// A rounded Gaussian of standard deviation `std` (a fraction of the torus), as a torus word.
    pub fn gaussian(&mut self, std: f64) -> u64 {
        let u1: f64 = 1.0 - self.rng.gen::<f64>();
        let u2: f64 = self.rng.gen();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        (z * std * TORUS_SCALE).round() as i64 as u64
    }
}

//! Randomness on the discretized torus `Z / 2^64`, drawn from the project's one CSPRNG
//! (`shroud_math::Sampler`: ChaCha20 seeded by the OS, or a fixed seed for tests). TFHE needs
//! full-width uniform words and Gaussians whose standard deviation is a fraction of the torus
//! (2^-30, 2^-62, ...) rather than CKKS's fixed 3.2.

use shroud_math::Sampler;

/// 2^64 as a float: torus fractions times this are torus words.
pub(crate) const TORUS_SCALE: f64 = 18_446_744_073_709_551_616.0;

pub struct TorusSampler {
    inner: Sampler,
}

impl TorusSampler {
    /// Seeded from the operating system's entropy source.
    pub fn from_os() -> Self {
        Self {
            inner: Sampler::from_os(),
        }
    }

    /// Deterministic, for tests and reproducible benchmarks only.
    pub fn from_seed(seed: u64) -> Self {
        Self {
            inner: Sampler::from_seed(seed),
        }
    }

    /// Public stream `stream` of `seed` (the masks of a seeded key), never for secrets.
    pub fn expand_stream(seed: [u8; 32], stream: u64) -> Self {
        Self {
            inner: Sampler::expand_stream(seed, stream),
        }
    }

    /// A fresh seed for public streams.
    pub fn seed(&mut self) -> [u8; 32] {
        self.inner.seed()
    }

    pub fn uniform(&mut self, out: &mut [u64]) {
        self.inner.words(out);
    }

    /// Uniform binary secret coefficients.
    pub fn binary(&mut self, n: usize) -> Vec<u64> {
        self.inner.bits(n)
    }

    /// A rounded Gaussian of standard deviation `std` (a fraction of the torus), as a torus word.
    pub fn gaussian(&mut self, std: f64) -> u64 {
        (self.inner.normal() * std * TORUS_SCALE).round() as i64 as u64
    }
}

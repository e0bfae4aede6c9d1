//! Random sampling for key generation and encryption.
//!
//! All randomness comes from ChaCha seeded by the operating system (ChaCha20 for secrets and
//! errors, ChaCha12 for public values expanded from a seed). A seeded constructor exists
//! for reproducible tests and benchmarks; nothing in the library picks it on its own.

use std::sync::OnceLock;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::{ChaCha12Rng, ChaCha20Rng};

use crate::Modulus;

/// Standard deviation of the error distribution recommended by the HE security standard.
pub const ERROR_STD_DEV: f64 = 3.2;

/// Errors are cut at six standard deviations (as SEAL and Lattigo do), which bounds them by 19
/// while changing the distribution by less than 2^-26 in statistical distance.
pub const ERROR_BOUND: i64 = 19;

/// A cryptographically secure sampler.
pub struct Sampler {
    rng: Stream,
}

/// Secrets and errors come from ChaCha20. The expansion of a public seed (the uniform `a` of
/// a seeded ciphertext, drawn by the client and drawn again by the server) runs ChaCha12,
/// `rand`'s `StdRng`: a pseudorandom stream is all public values need, and eight fewer
/// rounds on the bulk of all sampled words are a few percent of an encrypted Iris step.
enum Stream {
    Secret(ChaCha20Rng),
    Public(ChaCha12Rng),
}

impl RngCore for Stream {
    fn next_u32(&mut self) -> u32 {
        match self {
            Stream::Secret(r) => r.next_u32(),
            Stream::Public(r) => r.next_u32(),
        }
    }

    fn next_u64(&mut self) -> u64 {
        match self {
            Stream::Secret(r) => r.next_u64(),
            Stream::Public(r) => r.next_u64(),
        }
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        match self {
            Stream::Secret(r) => r.fill_bytes(dest),
            Stream::Public(r) => r.fill_bytes(dest),
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        match self {
            Stream::Secret(r) => r.try_fill_bytes(dest),
            Stream::Public(r) => r.try_fill_bytes(dest),
        }
    }
}

impl Sampler {
    /// Seeded from the operating system's entropy source.
    pub fn from_os() -> Self {
        Self {
            rng: Stream::Secret(ChaCha20Rng::from_entropy()),
        }
    }

    /// Deterministic, for tests and reproducible benchmarks only.
    pub fn from_seed(seed: u64) -> Self {
        Self {
            rng: Stream::Secret(ChaCha20Rng::seed_from_u64(seed)),
        }
    }

    /// The deterministic stream of a 32-byte seed: public randomness that two parties derive
    /// alike, such as the uniform half of a seeded ciphertext. Never for secrets or errors.
    pub fn expand(seed: [u8; 32]) -> Self {
        Self {
            rng: Stream::Public(ChaCha12Rng::from_seed(seed)),
        }
    }

    /// Stream `stream` of a 32-byte seed: independent public streams from one seed, so that
    /// the parts of a seeded object expand apart (and in parallel) while one seed travels.
    pub fn expand_stream(seed: [u8; 32], stream: u64) -> Self {
        let mut rng = ChaCha12Rng::from_seed(seed);
        rng.set_stream(stream);
        Self {
            rng: Stream::Public(rng),
        }
    }

    /// A sampler of its own for another thread, seeded with 32 bytes of this one's output.
    pub fn fork(&mut self) -> Self {
        Self {
            rng: Stream::Secret(ChaCha20Rng::from_seed(self.seed())),
        }
    }

    /// A fresh 32-byte seed, for expanding public uniform polynomials elsewhere.
    pub fn seed(&mut self) -> [u8; 32] {
        let mut s = [0u8; 32];
        self.rng.fill_bytes(&mut s);
        s
    }

    /// Uniform residues in `[0, q)`, by rejection so there is no modulo bias. Moduli of at
    /// most 32 bits take 32-bit words: half the stream.
    pub fn uniform(&mut self, q: &Modulus, out: &mut [u64]) {
        let q = q.value();
        let mask = u64::MAX >> q.leading_zeros();
        let narrow = q >> 32 == 0;
        for o in out {
            *o = loop {
                let word = if narrow {
                    self.rng.next_u32() as u64
                } else {
                    self.rng.next_u64()
                };
                let v = word & mask;
                if v < q {
                    break v;
                }
            };
        }
    }

    /// Full-width uniform words (for moduli that are powers of two, such as TFHE's torus).
    pub fn words(&mut self, out: &mut [u64]) {
        for o in out {
            *o = self.rng.next_u64();
        }
    }

    /// Uniform bits as 0 or 1.
    pub fn bits(&mut self, n: usize) -> Vec<u64> {
        (0..n).map(|_| self.rng.next_u32() as u64 & 1).collect()
    }

    /// A standard normal sample (Box-Muller; one of the pair is enough at this rate).
    pub fn normal(&mut self) -> f64 {
        let u1: f64 = 1.0 - self.rng.gen::<f64>();
        let u2: f64 = self.rng.gen();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform ternary coefficients in {-1, 0, 1}.
    pub fn ternary(&mut self, n: usize) -> Vec<i64> {
        (0..n).map(|_| self.rng.gen_range(-1i64..=1)).collect()
    }

    /// Ternary coefficients with exactly `weight` nonzero entries (at most `n`), each -1 or 1:
    /// positions by a partial Fisher-Yates shuffle, signs uniform.
    pub fn sparse_ternary(&mut self, n: usize, weight: usize) -> Vec<i64> {
        let mut positions: Vec<usize> = (0..n).collect();
        let mut out = vec![0i64; n];
        for i in 0..weight.min(n) {
            let j = self.rng.gen_range(i..n);
            positions.swap(i, j);
            out[positions[i]] = if self.rng.next_u32() & 1 == 0 { -1 } else { 1 };
        }
        out
    }

    /// Rounded Gaussian with standard deviation [`ERROR_STD_DEV`], cut at [`ERROR_BOUND`]:
    /// one uniform word per sample, placed in the cumulative table of the distribution (a
    /// tenth of the cost of a Box-Muller draw, which encryption used to spend most of its
    /// sampling time on).
    pub fn gaussian(&mut self, n: usize) -> Vec<i64> {
        let table = error_cdf();
        (0..n)
            .map(|_| {
                let u = self.rng.next_u64();
                table.iter().filter(|&&t| u >= t).count() as i64 - ERROR_BOUND
            })
            .collect()
    }
}

/// Thresholds on a uniform 64-bit word for the rounded Gaussian cut at [`ERROR_BOUND`]:
/// `table[j]` is `2^64` times the probability of a value up to `j - ERROR_BOUND`, so the number
/// of thresholds a word reaches, minus the bound, is a sample. Each value `k` has the
/// probability of `round(x) = k` for `x` normal with standard deviation [`ERROR_STD_DEV`],
/// renormalized over the cut range (what rejecting the values beyond it gives); the
/// integrals are computed once, by Simpson's rule to about 1e-13.
fn error_cdf() -> &'static [u64; 2 * ERROR_BOUND as usize] {
    static TABLE: OnceLock<[u64; 2 * ERROR_BOUND as usize]> = OnceLock::new();
    TABLE.get_or_init(|| {
        const STEPS: usize = 1024;
        let density = |x: f64| (-x * x / (2.0 * ERROR_STD_DEV * ERROR_STD_DEV)).exp();
        let mass = |k: i64| {
            let (a, h) = (k as f64 - 0.5, 1.0 / STEPS as f64);
            let inner: f64 = (1..STEPS)
                .map(|i| density(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 })
                .sum();
            (density(a) + inner + density(a + 1.0)) * h / 3.0
        };
        let masses: Vec<f64> = (-ERROR_BOUND..=ERROR_BOUND).map(mass).collect();
        let total: f64 = masses.iter().sum();
        let mut table = [0u64; 2 * ERROR_BOUND as usize];
        let mut cumulative = 0.0;
        for (t, m) in table.iter_mut().zip(&masses) {
            cumulative += m / total;
            // 2^64 times a probability below one: the cast saturates only at the very top.
            *t = (cumulative * 2f64.powi(64)) as u64;
        }
        table
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_of_a_seed_repeat_and_differ() {
        let draw = |stream| {
            let mut out = [0u64; 8];
            Sampler::expand_stream([7; 32], stream).words(&mut out);
            out
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        let mut plain = [0u64; 8];
        Sampler::expand([7; 32]).words(&mut plain);
        assert_eq!(plain, draw(0));
    }

    #[test]
    fn gaussian_has_the_announced_spread() {
        let e = Sampler::from_seed(1).gaussian(200_000);
        let mean = e.iter().sum::<i64>() as f64 / e.len() as f64;
        let var = e.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / e.len() as f64;
        assert!(mean.abs() < 0.05, "mean {mean}");
        // Rounding adds 1/12 to the variance.
        assert!((var.sqrt() - (ERROR_STD_DEV.powi(2) + 1.0 / 12.0).sqrt()).abs() < 0.05);
        assert!(e.iter().all(|x| x.abs() <= ERROR_BOUND));
    }

    #[test]
    fn gaussian_frequencies_match_the_rounded_normal() {
        // Against Box-Muller draws rounded and cut the same way: the frequencies of every
        // value from -6 to 6 agree within sampling error.
        let n = 400_000;
        let mut s = Sampler::from_seed(3);
        let table = s.gaussian(n);
        let reference: Vec<i64> = (0..n)
            .map(|_| loop {
                let v = (s.normal() * ERROR_STD_DEV).round() as i64;
                if v.abs() <= ERROR_BOUND {
                    break v;
                }
            })
            .collect();
        for k in -6..=6 {
            let freq = |v: &[i64]| v.iter().filter(|&&x| x == k).count() as f64 / n as f64;
            let (a, b) = (freq(&table), freq(&reference));
            // Five standard deviations of the difference of two frequencies.
            let tol = 5.0 * (2.0 * b * (1.0 - b) / n as f64).sqrt();
            assert!((a - b).abs() < tol, "value {k}: {a} against {b}");
        }
    }

    #[test]
    fn ternary_and_uniform_stay_in_range() {
        let mut s = Sampler::from_seed(2);
        let t = s.ternary(10_000);
        assert!(t.iter().all(|x| (-1..=1).contains(x)));
        assert!((-1..=1).all(|v| t.iter().filter(|&&x| x == v).count() > 3000));
        let q = Modulus::new(1_000_003).unwrap();
        let mut u = vec![0u64; 10_000];
        s.uniform(&q, &mut u);
        assert!(u.iter().all(|&x| x < q.value()));
        assert!(u.iter().any(|&x| x > q.value() / 2));
    }

    #[test]
    fn forks_draw_streams_of_their_own() {
        let mut parent = Sampler::from_seed(7);
        let (mut a, mut b) = (parent.fork(), parent.fork());
        let q = Modulus::new(1_000_003).unwrap();
        let draw = |s: &mut Sampler| {
            let mut v = vec![0u64; 64];
            s.uniform(&q, &mut v);
            v
        };
        let (x, y, z) = (draw(&mut a), draw(&mut b), draw(&mut parent));
        assert!(x != y && x != z && y != z);
    }

    #[test]
    fn os_seeded_samplers_differ() {
        assert_ne!(Sampler::from_os().seed(), Sampler::from_os().seed());
    }
}

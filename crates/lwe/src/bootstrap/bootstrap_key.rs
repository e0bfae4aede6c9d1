//! The bootstrapping key (one GGSW ciphertext of each small-key bit, kept in the Fourier
//! domain), the external product, and the blind rotation built from it.

use std::sync::atomic::{AtomicUsize, Ordering};

use num_complex::Complex64;
use serde::{Deserialize, Serialize};

use super::fft::{from_blocks, mac_blocks, prefetch, to_blocks, NegacyclicFft, BLOCK};
use super::params::BootstrapParams;
use super::random::TorusSampler;

/// `n` GGSW ciphertexts; GGSW `i` has `(k+1) l` rows (row `c l + j` encrypts
/// `s_i * 2^(64 - (j+1) base_log)` added to GLWE component `c`), each row `k+1` polynomials
/// as spectra of `N/2` complex values. A GGSW is stored block-major (see
/// `fft::mac_blocks`): for each block of four spectrum values, every row's `k+1` blocks.
#[derive(Debug, Serialize, Deserialize)]
pub struct BootstrapKey {
    pub(crate) fourier: Vec<f64>,
    /// The GGSW the latest CMux used (see `blind_rotate_many`).
    #[serde(skip)]
    cursor: AtomicUsize,
}

/// Buffers of one blind rotation, reused across its `n` external products.
pub(crate) struct RotationScratch {
    gadget: Gadget,
    /// The CMux's difference, prepared for its digits (see [`Gadget`]).
    diff: Vec<u64>,
    spectrum: Vec<Complex64>,
    /// The digits' spectra, then the output's, in blocks.
    digit_blocks: Vec<f64>,
    out_blocks: Vec<f64>,
}

impl BootstrapKey {
    pub(crate) fn ggsw_len(p: &BootstrapParams) -> usize {
        let k1 = p.glwe_dimension + 1;
        k1 * p.pbs.levels as usize * k1 * p.polynomial_size
    }

    pub(crate) fn expected_len(p: &BootstrapParams) -> usize {
        p.lwe_dimension * Self::ggsw_len(p)
    }

    pub(crate) fn generate(
        p: &BootstrapParams,
        small_key: &[u64],
        glwe_key: &[u64],
        fft: &NegacyclicFft,
        rng: &mut TorusSampler,
    ) -> Self {
        let (k, n) = (p.glwe_dimension, p.polynomial_size);
        // Spectra of the key polynomials, for the exact products of key generation.
        let zero = Complex64::default();
        let key_spectra: Vec<Vec<f64>> = glwe_key
            .chunks(n)
            .map(|s| {
                let s: Vec<i32> = s.iter().map(|&x| x as i32).collect();
                let mut spec = vec![zero; n / 2];
                fft.forward_signed(&s, &mut spec);
                let mut blocks = vec![0.0; n];
                to_blocks(&spec, &mut blocks);
                blocks
            })
            .collect();
        let rows = (k + 1) * p.pbs.levels as usize;
        let mut fourier = Vec::with_capacity(Self::expected_len(p));
        let mut row = vec![0u64; (k + 1) * n];
        let mut spec = vec![zero; n / 2];
        // One GGSW in row order (row r, column c: `n` floats in blocks at (r (k+1) + c) n).
        let mut ggsw = vec![0.0; Self::ggsw_len(p)];
        for &s in small_key {
            for c in 0..=k {
                for j in 0..p.pbs.levels as usize {
                    glwe_encrypt_zero(p, &key_spectra, fft, rng, &mut row);
                    let g = 1u64 << (64 - (j as u32 + 1) * p.pbs.base_log);
                    row[c * n] = row[c * n].wrapping_add(s.wrapping_mul(g));
                    let r = c * p.pbs.levels as usize + j;
                    for (col, poly) in row.chunks(n).enumerate() {
                        fft.forward_torus(poly, &mut spec);
                        to_blocks(&spec, &mut ggsw[(r * (k + 1) + col) * n..][..n]);
                    }
                }
            }
            // Block-major: for each block, every (row, column) block in turn.
            for b in 0..n / (2 * BLOCK) {
                for rc in 0..rows * (k + 1) {
                    fourier.extend_from_slice(&ggsw[rc * n + 2 * BLOCK * b..][..2 * BLOCK]);
                }
            }
        }
        Self {
            fourier,
            cursor: AtomicUsize::new(0),
        }
    }

    /// Runs blind rotations: starting from `X^(-b) v_j` (job `j`'s test polynomial), multiplies each accumulator by
    /// `X^(a_i s_i)` for every mask coefficient, one CMux per key bit. `rotations[j]` holds job
    /// `j`'s mask and body already switched to `Z / 2N`. The jobs advance together, GGSW by
    /// GGSW: each GGSW is read from memory once and served from cache to the other jobs,
    /// which is what bounds a lone rotation (the key is far larger than the caches). Returns
    /// the GLWE accumulators.
    ///
    /// Rotations on other threads share the same way: a rotation starts at the GGSW the
    /// latest CMux of any thread used and wraps around, so concurrent rotations walk the key
    /// side by side and the second read of a GGSW comes from the shared L3 cache. The CMuxes
    /// commute (each multiplies by a monomial), so the order changes nothing but the timing.
    pub(crate) fn blind_rotate_many(
        &self,
        p: &BootstrapParams,
        fft: &NegacyclicFft,
        rotations: &[Vec<usize>],
        test_polys: &[&[u64]],
        s: &mut RotationScratch,
    ) -> Vec<Vec<u64>> {
        let (k, n) = (p.glwe_dimension, p.polynomial_size);
        let mut accs: Vec<Vec<u64>> = rotations
            .iter()
            .zip(test_polys)
            .map(|(r, test_poly)| {
                let mut acc = vec![0u64; (k + 1) * n];
                rotate(test_poly, 2 * n - r[p.lwe_dimension], &mut acc[k * n..]);
                acc
            })
            .collect();
        let (ggsw_len, n) = (Self::ggsw_len(p), p.lwe_dimension);
        let start = self.cursor.load(Ordering::Relaxed) % n;
        let ggsw = |i: usize| &self.fourier[(i % n) * ggsw_len..][..ggsw_len];
        for step in 0..n {
            let i = (start + step) % n;
            // The first CMux on this GGSW asks for the next one while it transforms.
            let mut next = if step + 1 < n { ggsw(i + 1) } else { &[] };
            for (acc, r) in accs.iter_mut().zip(rotations) {
                if r[i] != 0 {
                    self.cmux(p, fft, (ggsw(i), next), r[i], acc, s);
                    next = &[];
                }
            }
            self.cursor.store(i, Ordering::Relaxed);
        }
        accs
    }

    /// `acc <- CMux(s_i, acc, X^a acc) = acc + GGSW(s_i) x (X^a acc - acc)`, with `ggsw` the
    /// GGSW of `s_i` and the one to prefetch (see `external_product_add`).
    fn cmux(
        &self,
        p: &BootstrapParams,
        fft: &NegacyclicFft,
        ggsw: (&[f64], &[f64]),
        a: usize,
        acc: &mut [u64],
        s: &mut RotationScratch,
    ) {
        let (k, n) = (p.glwe_dimension, p.polynomial_size);
        for c in 0..=k {
            rotate_sub_prepare(&acc[c * n..][..n], a, s.gadget, &mut s.diff[c * n..][..n]);
        }
        self.external_product_add(p, fft, ggsw, acc, s);
    }

    /// `acc += ggsw x s.diff` (prepared words): transform every digit polynomial,
    /// multiply-accumulate against the GGSW rows, transform back. `next` (possibly empty) is
    /// requested from memory a slice per transform, so that the next CMux's key arrives while
    /// this one computes instead of in one burst at its multiply-accumulate.
    fn external_product_add(
        &self,
        p: &BootstrapParams,
        fft: &NegacyclicFft,
        (ggsw, next): (&[f64], &[f64]),
        acc: &mut [u64],
        s: &mut RotationScratch,
    ) {
        let (k, n) = (p.glwe_dimension, p.polynomial_size);
        let l = p.pbs.levels as usize;
        let slice = next.len().div_ceil((k + 1) * l).max(1);
        let mut ahead = next.chunks(slice);
        // Every digit polynomial transformed first, then one pass over the GGSW that sums
        // all rows into all outputs block by block, the sums in registers.
        for c in 0..=k {
            for j in 0..l {
                prefetch(ahead.next().unwrap_or_default());
                let y = &s.diff[c * n..][..n];
                let shift = s.gadget.shift(j as u32);
                fft.forward_digits(y, shift, p.pbs.base_log, &mut s.spectrum);
                to_blocks(&s.spectrum, &mut s.digit_blocks[(c * l + j) * n..][..n]);
            }
        }
        mac_blocks(&mut s.out_blocks, &s.digit_blocks, ggsw, (k + 1) * l, k + 1);
        for (c, out) in s.out_blocks.chunks_exact(n).enumerate() {
            from_blocks(out, &mut s.spectrum);
            fft.backward_add(&mut s.spectrum, &mut acc[c * n..][..n]);
        }
    }
}

impl RotationScratch {
    pub(crate) fn new(p: &BootstrapParams) -> Self {
        let (k, n, l) = (p.glwe_dimension, p.polynomial_size, p.pbs.levels as usize);
        Self {
            gadget: Gadget::new(p),
            diff: vec![0; (k + 1) * n],
            spectrum: vec![Complex64::default(); n / 2],
            digit_blocks: vec![0.0; (k + 1) * l * n],
            out_blocks: vec![0.0; (k + 1) * n],
        }
    }
}

/// `out = X^r * poly` modulo `X^N + 1`, for `r` in `[0, 2N)`.
pub(crate) fn rotate(poly: &[u64], r: usize, out: &mut [u64]) {
    let n = poly.len();
    let (r, negate) = if r >= n { (r - n, true) } else { (r, false) };
    // Coefficient j of X^r p is p[j - r] for j >= r and -p[j - r + N] below.
    for j in 0..r {
        let v = poly[j + n - r];
        out[j] = if negate { v } else { v.wrapping_neg() };
    }
    for j in r..n {
        let v = poly[j - r];
        out[j] = if negate { v.wrapping_neg() } else { v };
    }
}

/// The gadget decomposition of the external product: balanced base-`B = 2^base_log` digits
/// of the top `base_log * levels` bits of a torus word, rounded, digit `j` of weight
/// `2^(64 - (j+1) base_log)` in `[-B/2, B/2)`. A word is first *prepared*: its top bits,
/// rounded, plus `B/2` at every digit's place. Each digit is then its own field of the
/// prepared word less `B/2` (the added halves carry exactly as digit-by-digit balancing
/// would), so the digits need no pass of their own: the transform reads them straight out
/// (`NegacyclicFft::forward_digits`).
#[derive(Clone, Copy, Debug)]
struct Gadget {
    base_log: u32,
    levels: u32,
    halves: u64,
}

impl Gadget {
    fn new(p: &BootstrapParams) -> Self {
        let (base_log, levels) = (p.pbs.base_log, p.pbs.levels);
        let halves = (0..levels)
            .map(|j| 1u64 << (j * base_log + base_log - 1))
            .sum();
        Self {
            base_log,
            levels,
            halves,
        }
    }

    #[inline(always)]
    fn prepare(&self, x: u64) -> u64 {
        let shift = 64 - self.base_log * self.levels;
        (x >> shift) + ((x >> (shift - 1)) & 1) + self.halves
    }

    /// Where digit `j` starts in a prepared word.
    fn shift(&self, j: u32) -> u32 {
        (self.levels - 1 - j) * self.base_log
    }
}

/// `out = prepare(X^r * poly - poly)` modulo `X^N + 1`, for `r` in `[0, 2N)`: the CMux's
/// difference, ready for its digits, in one pass.
fn rotate_sub_prepare(poly: &[u64], r: usize, gadget: Gadget, out: &mut [u64]) {
    let n = poly.len();
    let (r, negate) = if r >= n { (r - n, true) } else { (r, false) };
    // Coefficient j of X^r p is p[j - r] for j >= r and -p[j - r + N] below.
    let (wrapped, straight) = out.split_at_mut(r);
    let (low, high) = poly.split_at(n - r);
    let sign = |v: u64, flip: bool| if flip { v.wrapping_neg() } else { v };
    for ((o, &v), &x) in wrapped.iter_mut().zip(high).zip(poly) {
        *o = gadget.prepare(sign(v, !negate).wrapping_sub(x));
    }
    for ((o, &v), &x) in straight.iter_mut().zip(low).zip(&poly[r..]) {
        *o = gadget.prepare(sign(v, negate).wrapping_sub(x));
    }
}

/// A GLWE encryption of zero into `row` (k mask polynomials, then the body).
fn glwe_encrypt_zero(
    p: &BootstrapParams,
    key_spectra: &[Vec<f64>],
    fft: &NegacyclicFft,
    rng: &mut TorusSampler,
    row: &mut [u64],
) {
    let (k, n) = (p.glwe_dimension, p.polynomial_size);
    let (mask, body) = row.split_at_mut(k * n);
    rng.uniform(mask);
    for b in body.iter_mut() {
        *b = rng.gaussian(p.glwe_noise_std);
    }
    for (a, s) in mask.chunks(n).zip(key_spectra) {
        fft.mul_binary_add(a, s, body);
    }
}

/// Sample extraction: the constant coefficient of a GLWE accumulator as an LWE ciphertext
/// under the GLWE key read as a vector (dimension `k N`).
pub(crate) fn sample_extract(p: &BootstrapParams, acc: &[u64], j: usize) -> Vec<u64> {
    // Coefficient j of a_c(X) s_c(X) is sum_t a_c[j - t] s_c[t], with a_c[j - t + N] negated
    // for t > j (X^N = -1).
    let (k, n) = (p.glwe_dimension, p.polynomial_size);
    let mut out = vec![0u64; k * n + 1];
    for c in 0..k {
        let a = &acc[c * n..][..n];
        let o = &mut out[c * n..][..n];
        for (t, o) in o.iter_mut().enumerate() {
            *o = if t <= j {
                a[j - t]
            } else {
                a[n + j - t].wrapping_neg()
            };
        }
    }
    out[k * n] = acc[k * n + j];
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_is_multiplication_by_a_monomial() {
        let poly: Vec<u64> = (1..=8).collect();
        let mut out = vec![0u64; 8];
        rotate(&poly, 3, &mut out);
        let neg = |x: u64| x.wrapping_neg();
        assert_eq!(out, vec![neg(6), neg(7), neg(8), 1, 2, 3, 4, 5]);
        rotate(&poly, 11, &mut out);
        assert_eq!(out, vec![6, 7, 8, neg(1), neg(2), neg(3), neg(4), neg(5)]);
        rotate(&poly, 0, &mut out);
        assert_eq!(out, poly);
    }

    #[test]
    fn digits_recompose_the_top_bits() {
        let mut rng = TorusSampler::from_seed(9);
        let mut poly = vec![0u64; 64];
        rng.uniform(&mut poly);
        poly[..4].copy_from_slice(&[0, u64::MAX, 1 << 63, (1 << 63) - 1]);
        for (b, l) in [(10u32, 2u32), (9, 4), (23, 1), (6, 8), (24, 2)] {
            let p = BootstrapParams {
                pbs: super::super::params::Decomposition {
                    base_log: b,
                    levels: l,
                },
                ..super::super::params::presets::insecure_wide_test()
            };
            let gadget = Gadget::new(&p);
            for &x in &poly {
                let y = gadget.prepare(x);
                let mut r = 0u64;
                for j in 0..l {
                    let d = ((y >> gadget.shift(j)) & ((1 << b) - 1)) as i64 - (1 << (b - 1));
                    assert!(d.unsigned_abs() <= 1 << (b - 1));
                    r = r.wrapping_add((d as u64).wrapping_shl(64 - (j + 1) * b));
                }
                let gap = (x.wrapping_sub(r) as i64).unsigned_abs();
                assert!(gap <= 1 << (64 - b * l - 1), "B = 2^{b}, l = {l}: {x:x}");
            }
        }
    }

    #[test]
    fn the_prepared_difference_is_the_rotated_one() {
        let poly: Vec<u64> = (1..=8)
            .map(|i: u64| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let p = super::super::params::presets::insecure_wide_test();
        let gadget = Gadget::new(&p);
        let mut rotated = vec![0u64; 8];
        let mut prepared = vec![0u64; 8];
        for r in 0..16 {
            rotate(&poly, r, &mut rotated);
            rotate_sub_prepare(&poly, r, gadget, &mut prepared);
            for t in 0..8 {
                assert_eq!(
                    prepared[t],
                    gadget.prepare(rotated[t].wrapping_sub(poly[t]))
                );
            }
        }
    }
}

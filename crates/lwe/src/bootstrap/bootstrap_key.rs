//! The bootstrapping key (GGSW ciphertexts of the small key's bits, or of patterns of groups
//! of them, kept in the Fourier domain), the external product, and the blind rotation built
//! from it.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use num_complex::Complex64;
use serde::{Deserialize, Serialize};

use super::fft::{
    from_blocks, mac_blocks, mac_monomials, prefetch, to_blocks, NegacyclicFft, BLOCK,
};
use super::params::BootstrapParams;
use super::random::TorusSampler;

/// The GGSW ciphertexts of the blind rotation's steps ([`BlindRotation`]'s `grouping` key bits
/// each, the last step taking what is left). A step over the bits `T` holds one GGSW per
/// nonzero pattern `u` of them (bit `t` of `u` for the `t`-th bit of `T`), encrypting
/// `prod_(t in u) s_t prod_(t not in u) (1 - s_t)`: exactly one of them encrypts 1 unless
/// every bit is zero. A step of one bit is a classic CMux and its GGSW encrypts `s_t`. GGSW
/// rows: `(k+1) l` (row `c l + j` encrypts the message times `2^(64 - (j+1) base_log)` added
/// to GLWE component `c`), each row `k+1` polynomials as spectra of `N/2` complex values. A
/// step is stored block-major (see `fft::mac_blocks`): for each block of four spectrum
/// values, pattern after pattern, every row's `k+1` blocks.
///
/// [`BlindRotation`]: super::params::BlindRotation
#[derive(Debug, Serialize, Deserialize)]
pub struct BootstrapKey {
    pub(crate) fourier: Vec<f64>,
    /// The step the latest blind rotation ran (see `blind_rotate_many`).
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

    /// The key bits of each step of the blind rotation.
    fn steps(p: &BootstrapParams) -> impl Iterator<Item = Range<usize>> {
        let (n, g) = (p.lwe_dimension, p.pbs.grouping as usize);
        (0..n).step_by(g).map(move |i| i..(i + g).min(n))
    }

    /// Floats of a step over `bits` key bits: a GGSW per nonzero pattern.
    fn step_len(p: &BootstrapParams, bits: usize) -> usize {
        ((1 << bits) - 1) * Self::ggsw_len(p)
    }

    pub(crate) fn expected_len(p: &BootstrapParams) -> usize {
        Self::steps(p).map(|t| Self::step_len(p, t.len())).sum()
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
        let (rows, ggsw_len) = ((k + 1) * p.pbs.levels as usize, Self::ggsw_len(p));
        let mut fourier = Vec::with_capacity(Self::expected_len(p));
        let mut row = vec![0u64; (k + 1) * n];
        let mut spec = vec![zero; n / 2];
        // One step's GGSWs in row order (pattern u, row r, column c: `n` floats in blocks
        // at ((u (k+1) l + r) (k+1) + c) n).
        let mut ggsws = vec![0.0; Self::step_len(p, p.pbs.grouping as usize)];
        for bits in Self::steps(p) {
            let patterns = (1usize << bits.len()) - 1;
            for u in 1..=patterns {
                let m = bits.clone().enumerate().fold(1, |m, (t, i)| {
                    m * if u >> t & 1 == 1 {
                        small_key[i]
                    } else {
                        1 - small_key[i]
                    }
                });
                let ggsw = &mut ggsws[(u - 1) * ggsw_len..][..ggsw_len];
                for c in 0..=k {
                    for j in 0..p.pbs.levels as usize {
                        glwe_encrypt_zero(p, &key_spectra, fft, rng, &mut row);
                        let g = 1u64 << (64 - (j as u32 + 1) * p.pbs.base_log);
                        row[c * n] = row[c * n].wrapping_add(m.wrapping_mul(g));
                        let r = c * p.pbs.levels as usize + j;
                        for (col, poly) in row.chunks(n).enumerate() {
                            fft.forward_torus(poly, &mut spec);
                            to_blocks(&spec, &mut ggsw[(r * (k + 1) + col) * n..][..n]);
                        }
                    }
                }
            }
            // Block-major: for each block, every (pattern, row, column) block in turn.
            for b in 0..n / (2 * BLOCK) {
                for urc in 0..patterns * rows * (k + 1) {
                    fourier.extend_from_slice(&ggsws[urc * n + 2 * BLOCK * b..][..2 * BLOCK]);
                }
            }
        }
        Self {
            fourier,
            cursor: AtomicUsize::new(0),
        }
    }

    /// Runs blind rotations: starting from `X^(-b) v_j` (job `j`'s test polynomial),
    /// multiplies each accumulator by `X^(a_i s_i)` for every mask coefficient, one step per
    /// group of key bits. `rotations[j]` holds job `j`'s mask and body already switched to
    /// `Z / 2N`. The jobs advance together, step by step: each step's key is read from memory
    /// once and served from cache to the other jobs, which is what bounds a lone rotation
    /// (the key is far larger than the caches). Returns the GLWE accumulators.
    ///
    /// Rotations on other threads share the same way: a rotation starts at the step the
    /// latest one of any thread ran and wraps around, so concurrent rotations walk the key
    /// side by side and the second read of a step comes from the shared L3 cache. The steps
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
        let steps: Vec<Range<usize>> = Self::steps(p).collect();
        let step_len = Self::step_len(p, p.pbs.grouping as usize);
        let key = |i: usize| {
            let bits = &steps[i % steps.len()];
            &self.fourier[(i % steps.len()) * step_len..][..Self::step_len(p, bits.len())]
        };
        let start = self.cursor.load(Ordering::Relaxed) % steps.len();
        let mask = 2 * n - 1;
        let mut exps = Vec::new();
        for step in 0..steps.len() {
            let i = (start + step) % steps.len();
            let bits = &steps[i];
            // The first job on this step asks for the next one's key while it transforms.
            let mut next = if step + 1 < steps.len() {
                key(i + 1)
            } else {
                &[]
            };
            for (acc, r) in accs.iter_mut().zip(rotations) {
                let a = &r[bits.clone()];
                if a.iter().all(|&a| a == 0) {
                    continue;
                }
                if let [a] = a {
                    self.cmux(p, fft, (key(i), next), *a, acc, s);
                } else {
                    // Pattern u's exponent: the sum of the rotations of its bits.
                    exps.clear();
                    exps.extend((1..1usize << a.len()).map(|u| {
                        a.iter()
                            .enumerate()
                            .filter(|&(t, _)| u >> t & 1 == 1)
                            .map(|(_, &a)| a)
                            .sum::<usize>()
                            & mask
                    }));
                    self.multi_cmux(p, fft, (key(i), next), &exps, acc, s);
                }
                next = &[];
            }
            self.cursor.store(i, Ordering::Relaxed);
        }
        accs
    }

    /// `acc <- CMux(s_i, acc, X^a acc) = acc + GGSW(s_i) x (X^a acc - acc)`, with `ggsw` the
    /// GGSW of `s_i` and the key to prefetch (see `transform_digits`).
    fn cmux(
        &self,
        p: &BootstrapParams,
        fft: &NegacyclicFft,
        (ggsw, next): (&[f64], &[f64]),
        a: usize,
        acc: &mut [u64],
        s: &mut RotationScratch,
    ) {
        let (k, n) = (p.glwe_dimension, p.polynomial_size);
        for c in 0..=k {
            rotate_sub_prepare(&acc[c * n..][..n], a, s.gadget, &mut s.diff[c * n..][..n]);
        }
        transform_digits(p, fft, next, s);
        let rows = (k + 1) * p.pbs.levels as usize;
        mac_blocks(&mut s.out_blocks, &s.digit_blocks, ggsw, rows, k + 1);
        add_back(fft, acc, s);
    }

    /// One multi-bit step: `acc <- acc + sum_u (X^(e_u) - 1) (GGSW_u x acc)`, which is
    /// `X^(sum_t a_t s_t) acc` since exactly the pattern of the step's key bits (if any)
    /// encrypts 1. `exps[u - 1]` is pattern `u`'s exponent; `key` holds the step's GGSWs.
    /// The accumulator is decomposed and transformed once for all patterns, and the
    /// monomials multiply in the Fourier domain.
    fn multi_cmux(
        &self,
        p: &BootstrapParams,
        fft: &NegacyclicFft,
        (key, next): (&[f64], &[f64]),
        exps: &[usize],
        acc: &mut [u64],
        s: &mut RotationScratch,
    ) {
        for (d, &x) in s.diff.iter_mut().zip(acc.iter()) {
            *d = s.gadget.prepare(x);
        }
        transform_digits(p, fft, next, s);
        let k1 = p.glwe_dimension + 1;
        let shape = (k1 * p.pbs.levels as usize, k1);
        let roots = fft.monomial_roots();
        mac_monomials(&mut s.out_blocks, &s.digit_blocks, key, shape, exps, roots);
        add_back(fft, acc, s);
    }
}

/// The spectra of every digit polynomial of `s.diff` (prepared words) into
/// `s.digit_blocks`. `next` (possibly empty) is requested from memory a slice per
/// transform, so that the next step's key arrives while this one computes instead of in one
/// burst at its multiply-accumulate.
fn transform_digits(
    p: &BootstrapParams,
    fft: &NegacyclicFft,
    next: &[f64],
    s: &mut RotationScratch,
) {
    let (k, n) = (p.glwe_dimension, p.polynomial_size);
    let l = p.pbs.levels as usize;
    let slice = next.len().div_ceil((k + 1) * l).max(1);
    let mut ahead = next.chunks(slice);
    for c in 0..=k {
        for j in 0..l {
            prefetch(ahead.next().unwrap_or_default());
            let y = &s.diff[c * n..][..n];
            let shift = s.gadget.shift(j as u32);
            fft.forward_digits(y, shift, p.pbs.base_log, &mut s.spectrum);
            to_blocks(&s.spectrum, &mut s.digit_blocks[(c * l + j) * n..][..n]);
        }
    }
}

/// `acc += ` the inverse transforms of `s.out_blocks`, column by column.
fn add_back(fft: &NegacyclicFft, acc: &mut [u64], s: &mut RotationScratch) {
    let n = s.spectrum.len() * 2;
    for (c, out) in s.out_blocks.chunks_exact(n).enumerate() {
        from_blocks(out, &mut s.spectrum);
        fft.backward_add(&mut s.spectrum, &mut acc[c * n..][..n]);
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
                pbs: super::super::params::BlindRotation::classic(b, l),
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

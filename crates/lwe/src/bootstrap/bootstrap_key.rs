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

/// Bits of a GGSW row's body a seeded key keeps, the lower ones rounded off: the rounding
/// adds `2^-96 / 12` to the key's noise variance (13% of `wide_128`'s GLWE noise, about 3% of
/// a bootstrap's output noise), which the noise model counts
/// ([`BootstrapParams::key_noise_variance`]); 16 bits fewer of every body to send.
pub const BODY_BITS: u32 = 48;

// Bodies travel as whole bytes (`serialize.rs`).
const _: () = assert!(BODY_BITS.is_multiple_of(8) && BODY_BITS <= 64);

/// A body word rounded to [`BODY_BITS`] (the low bits zero).
pub(crate) fn round_body(b: u64) -> u64 {
    b.wrapping_add(1 << (63 - BODY_BITS)) & (u64::MAX << (64 - BODY_BITS))
}

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

/// Buffers of the blind rotations of one group of jobs, reused across their steps.
struct RotationScratch {
    gadget: Gadget,
    /// One job's accumulator prepared for its digits (see [`Gadget`]).
    diff: Vec<u64>,
    spectrum: Vec<Complex64>,
    /// Each job's digit spectra, then its output spectra, in blocks.
    digit_blocks: Vec<Vec<f64>>,
    out_blocks: Vec<Vec<f64>>,
    /// Each job's pattern exponents in a multi-bit step.
    exps: Vec<Vec<usize>>,
    /// The jobs the current step rotates (the others have only zero rotations in it).
    active: Vec<usize>,
}

/// Floats of the key one pass of the multiply-accumulate serves to every job of a group
/// before moving on: 16 KB, so that it stays in the L1 cache meanwhile.
const KEY_CHUNK: usize = 2048;

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

    /// Every GGSW row of the key in the order it is stored, generated and expanded: for each
    /// step (its key bits), each nonzero pattern `u`, component `c` and level `j`.
    fn rows(p: &BootstrapParams) -> impl Iterator<Item = (Range<usize>, usize, usize, usize)> {
        let (k, l) = (p.glwe_dimension, p.pbs.levels as usize);
        Self::steps(p).flat_map(move |bits| {
            let patterns = (1usize << bits.len()) - 1;
            (1..=patterns).flat_map(move |u| {
                let bits = bits.clone();
                (0..=k).flat_map(move |c| {
                    let bits = bits.clone();
                    (0..l).map(move |j| (bits.clone(), u, c, j))
                })
            })
        })
    }

    /// Body polynomials of a seeded key: what the client sends with the seed. Row `(u, c,
    /// j)` is a GLWE encryption whose mask is the next `k N` words of the public stream and
    /// whose body is rounded to [`BODY_BITS`]; it encrypts `m g_j` in the body (`c = k`) or
    /// `-m g_j S_c` (`c < k`), which is what adding `m g_j` to mask component `c` of an
    /// encryption of zero amounts to, so the mask stays the stream's. `m` is the pattern's
    /// product of key bits and `g_j = 2^(64 - (j+1) base_log)`.
    pub(crate) fn seeded_bodies(
        p: &BootstrapParams,
        small_key: &[u64],
        glwe_key: &[u64],
        fft: &NegacyclicFft,
        masks: &mut TorusSampler,
        noise: &mut TorusSampler,
    ) -> Vec<u64> {
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
        let mut bodies = Vec::with_capacity(Self::expected_len(p) / (k + 1));
        let mut mask = vec![0u64; k * n];
        for (bits, u, c, j) in Self::rows(p) {
            let m = bits.clone().enumerate().fold(1, |m, (t, i)| {
                m * if u >> t & 1 == 1 {
                    small_key[i]
                } else {
                    1 - small_key[i]
                }
            });
            masks.uniform(&mut mask);
            let mut body: Vec<u64> = (0..n).map(|_| noise.gaussian(p.glwe_noise_std)).collect();
            for (a, s) in mask.chunks(n).zip(&key_spectra) {
                fft.mul_binary_add(a, s, &mut body);
            }
            let g = m.wrapping_mul(1u64 << (64 - (j as u32 + 1) * p.pbs.base_log));
            if c == k {
                body[0] = body[0].wrapping_add(g);
            } else {
                for (b, &s) in body.iter_mut().zip(&glwe_key[c * n..][..n]) {
                    *b = b.wrapping_sub(g.wrapping_mul(s));
                }
            }
            bodies.extend(body.into_iter().map(round_body));
        }
        bodies
    }

    /// The key from its bodies and the public stream of its masks (the server's side of a
    /// seeded key). `bodies` must hold [`Self::bodies_len`] words.
    pub(crate) fn from_seeded(
        p: &BootstrapParams,
        bodies: &[u64],
        fft: &NegacyclicFft,
        masks: &mut TorusSampler,
    ) -> Self {
        let (k, n) = (p.glwe_dimension, p.polynomial_size);
        let (rows, ggsw_len) = ((k + 1) * p.pbs.levels as usize, Self::ggsw_len(p));
        let mut fourier = Vec::with_capacity(Self::expected_len(p));
        let mut row = vec![0u64; (k + 1) * n];
        let mut spec = vec![Complex64::default(); n / 2];
        // One step's GGSWs in row order (pattern u, row r, column c: `n` floats in blocks
        // at ((u (k+1) l + r) (k+1) + c) n).
        let mut ggsws = vec![0.0; Self::step_len(p, p.pbs.grouping as usize)];
        let mut bodies = bodies.chunks(n);
        let mut last = None;
        let flush = |bits: &Range<usize>, ggsws: &[f64], fourier: &mut Vec<f64>| {
            // Block-major: for each block, every (pattern, row, column) block in turn.
            let patterns = (1usize << bits.len()) - 1;
            for b in 0..n / (2 * BLOCK) {
                for urc in 0..patterns * rows * (k + 1) {
                    fourier.extend_from_slice(&ggsws[urc * n + 2 * BLOCK * b..][..2 * BLOCK]);
                }
            }
        };
        for (bits, u, c, j) in Self::rows(p) {
            if let Some(prev) = last.as_ref().filter(|prev: &&Range<usize>| **prev != bits) {
                flush(prev, &ggsws, &mut fourier);
            }
            last = Some(bits);
            masks.uniform(&mut row[..k * n]);
            row[k * n..].copy_from_slice(bodies.next().unwrap_or(&[]));
            let ggsw = &mut ggsws[(u - 1) * ggsw_len..][..ggsw_len];
            let r = c * p.pbs.levels as usize + j;
            for (col, poly) in row.chunks(n).enumerate() {
                fft.forward_torus(poly, &mut spec);
                to_blocks(&spec, &mut ggsw[(r * (k + 1) + col) * n..][..n]);
            }
        }
        if let Some(prev) = &last {
            flush(prev, &ggsws, &mut fourier);
        }
        Self {
            fourier,
            cursor: AtomicUsize::new(0),
        }
    }

    /// Words of a seeded key's bodies: one polynomial per GGSW row.
    pub(crate) fn bodies_len(p: &BootstrapParams) -> usize {
        Self::expected_len(p) / (p.glwe_dimension + 1)
    }

    /// Runs blind rotations: starting from `X^(-b) v_j` (job `j`'s test polynomial),
    /// multiplies each accumulator by `X^(a_i s_i)` for every mask coefficient, one step per
    /// group of key bits. `rotations[j]` holds job `j`'s mask and body already switched to
    /// `Z / 2N`. Returns the GLWE accumulators.
    ///
    /// The jobs advance together, step by step: every job's digits are transformed, then one
    /// pass over the step's key serves them all, a chunk of [`KEY_CHUNK`] at a time held in
    /// the L1 cache while each job's sums read it, then every job transforms back. The key
    /// is far larger than the caches, and streaming it is what bounds a lone rotation.
    ///
    /// Rotations on other threads share the key too: a rotation starts at the step the
    /// latest one of any thread ran and wraps around, so concurrent rotations walk the key
    /// side by side and the second read of a step comes from the shared L3 cache. The steps
    /// commute (each multiplies by a monomial), so the order changes nothing but the timing.
    pub(crate) fn blind_rotate_many(
        &self,
        p: &BootstrapParams,
        fft: &NegacyclicFft,
        rotations: &[Vec<usize>],
        test_polys: &[&[u64]],
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
        let mut s = RotationScratch::new(p, rotations.len());
        let steps: Vec<Range<usize>> = Self::steps(p).collect();
        let step_len = Self::step_len(p, p.pbs.grouping as usize);
        let start = self.cursor.load(Ordering::Relaxed) % steps.len();
        for step in 0..steps.len() {
            let i = (start + step) % steps.len();
            let bits = steps[i].clone();
            let key = &self.fourier[i * step_len..][..Self::step_len(p, bits.len())];
            // The first chunk of the key is requested while the digits are transformed.
            prefetch(&key[..KEY_CHUNK.min(key.len())]);
            s.active.clear();
            for (j, (acc, r)) in accs.iter().zip(rotations).enumerate() {
                if s.prepare(p, acc, &r[bits.clone()], j) {
                    s.transform_digits(p, fft, j);
                    s.active.push(j);
                }
            }
            s.multiply_accumulate(p, fft, key, bits.len() > 1);
            for &j in &s.active {
                add_back(fft, &mut accs[j], &s.out_blocks[j], &mut s.spectrum);
            }
            self.cursor.store(i, Ordering::Relaxed);
        }
        accs
    }
}

impl RotationScratch {
    fn new(p: &BootstrapParams, jobs: usize) -> Self {
        let (k, n, l) = (p.glwe_dimension, p.polynomial_size, p.pbs.levels as usize);
        Self {
            gadget: Gadget::new(p),
            diff: vec![0; (k + 1) * n],
            spectrum: vec![Complex64::default(); n / 2],
            digit_blocks: vec![vec![0.0; (k + 1) * l * n]; jobs],
            out_blocks: vec![vec![0.0; (k + 1) * n]; jobs],
            exps: vec![Vec::new(); jobs],
            active: Vec::with_capacity(jobs),
        }
    }

    /// Prepares job `j`'s accumulator for a step whose key bits have rotations `a`; false
    /// when they are all zero (the step leaves the accumulator as it is). A one-bit step is
    /// a CMux, `acc + GGSW(s_i) x (X^a acc - acc)`: the difference is prepared. A multi-bit
    /// step is `acc + sum_u (X^(e_u) - 1) (GGSW_u x acc)`, which is `X^(sum_t a_t s_t) acc`
    /// since exactly the pattern of the step's key bits (if any) encrypts 1: the
    /// accumulator itself is prepared, once for all patterns, and pattern `u`'s exponent
    /// `e_u` (the sum of the rotations of its bits) kept for the Fourier domain.
    fn prepare(&mut self, p: &BootstrapParams, acc: &[u64], a: &[usize], j: usize) -> bool {
        if a.iter().all(|&a| a == 0) {
            return false;
        }
        let n = p.polynomial_size;
        if let [a] = a {
            for (acc, diff) in acc.chunks_exact(n).zip(self.diff.chunks_exact_mut(n)) {
                rotate_sub_prepare(acc, *a, self.gadget, diff);
            }
        } else {
            let exps = &mut self.exps[j];
            exps.clear();
            exps.extend((1..1usize << a.len()).map(|u| {
                let e: usize = (0..a.len()).filter(|t| u >> t & 1 == 1).map(|t| a[t]).sum();
                e & (2 * n - 1)
            }));
            for (d, &x) in self.diff.iter_mut().zip(acc) {
                *d = self.gadget.prepare(x);
            }
        }
        true
    }

    /// The spectra of every digit polynomial of the prepared words, as job `j`'s digits.
    fn transform_digits(&mut self, p: &BootstrapParams, fft: &NegacyclicFft, j: usize) {
        let (n, l) = (p.polynomial_size, p.pbs.levels as usize);
        let digits = &mut self.digit_blocks[j];
        for (c, y) in self.diff.chunks_exact(n).enumerate() {
            for level in 0..l {
                let shift = self.gadget.shift(level as u32);
                fft.forward_digits(y, shift, p.pbs.base_log, &mut self.spectrum);
                to_blocks(&self.spectrum, &mut digits[(c * l + level) * n..][..n]);
            }
        }
    }

    /// Every active job's output spectra from its digits and the step's `key`, chunk by
    /// chunk of the key (the next chunk requested while this one serves the jobs).
    fn multiply_accumulate(
        &mut self,
        p: &BootstrapParams,
        fft: &NegacyclicFft,
        key: &[f64],
        multi_bit: bool,
    ) {
        let k1 = p.glwe_dimension + 1;
        let shape = (k1 * p.pbs.levels as usize, k1);
        let blocks = p.polynomial_size / (2 * BLOCK);
        let per_block = key.len() / blocks;
        let chunk = (KEY_CHUNK / per_block).max(1);
        let roots = fft.monomial_roots();
        for first in (0..blocks).step_by(chunk) {
            let range = first..(first + chunk).min(blocks);
            let ahead = (range.end * per_block).min(key.len());
            prefetch(&key[ahead..(ahead + chunk * per_block).min(key.len())]);
            for &j in &self.active {
                let (out, digits) = (&mut self.out_blocks[j], &self.digit_blocks[j]);
                if multi_bit {
                    let exps = &self.exps[j];
                    mac_monomials(out, digits, key, shape, exps, roots, range.clone());
                } else {
                    mac_blocks(out, digits, key, shape.0, shape.1, range.clone());
                }
            }
        }
    }
}

/// `acc += ` the inverse transforms of the output spectra `out`, column by column.
fn add_back(fft: &NegacyclicFft, acc: &mut [u64], out: &[f64], spectrum: &mut [Complex64]) {
    let n = spectrum.len() * 2;
    for (c, out) in out.chunks_exact(n).enumerate() {
        from_blocks(out, spectrum);
        fft.backward_add(spectrum, &mut acc[c * n..][..n]);
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

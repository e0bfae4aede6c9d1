//! Negacyclic polynomial products through a complex FFT of half the size.
//!
//! A real polynomial `a` of degree `< N` modulo `X^N + 1` is determined by its values at the
//! `N/2` roots `zeta^(4j+1)` (`zeta = exp(i pi / N)`; the other roots are their conjugates).
//! Folding `a_j + i a_(j+N/2)` and twisting by `zeta^j` turns that evaluation into a plain
//! complex DFT of size `N/2` (the approach of TFHE-rs and concrete-fft). Products of torus
//! polynomials by small digit polynomials are exact up to f64 rounding, which stays more than
//! 20 bits under the TFHE noise (see `docs/lwe.md`).
//!
//! The DFT is `rustfft`'s (AVX2 kernels chosen at run time), three to four times faster than
//! the radix-2 transform Shroud wrote first, and it builds in under a minute where `tfhe-fft`
//! took over fifteen (docs/dependencies.md). Written here is what a general FFT does not do:
//! the fold and twist on the way in, the untwist, rounding and reduction modulo 2^64 on the
//! way out, and the pointwise products of the external product. Spectra are `N/2` interleaved
//! complex values in natural order.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::Arc;

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

use super::params::BlindRotation;
use super::random::TORUS_SCALE;

/// [`NegacyclicFft::backward_add`] rounds to multiples of `2^ROUNDED_BITS`: 52 bits of the
/// torus, all a double's mantissa holds of a fraction.
pub(crate) const ROUNDED_BITS: u32 = 12;

/// Products modulo `X^N + 1` through a complex transform of size `N/2`: the spectrum of a
/// polynomial is `N/2` complex values.
pub struct NegacyclicFft {
    /// Polynomial size `N`; the complex transform has size `m = N/2`.
    n: usize,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    /// `zeta^j`, split into real and imaginary parts for the vector loops.
    twist_re: Vec<f64>,
    twist_im: Vec<f64>,
    /// `zeta^-j / m`, which also normalizes the inverse transform.
    untwist_re: Vec<f64>,
    untwist_im: Vec<f64>,
    /// `zeta^t` for `t < 2N`: every value a monomial's spectrum takes (`monomial_roots`).
    roots_re: Vec<f64>,
    roots_im: Vec<f64>,
}

thread_local! {
    /// rustfft's work space, one per thread (rayon runs bootstraps on several), grown to the
    /// largest plan the thread has run.
    static SCRATCH: RefCell<Vec<Complex64>> = const { RefCell::new(Vec::new()) };
}

/// Runs a transform in place on `buf`.
fn transform(fft: &dyn Fft<f64>, buf: &mut [Complex64]) {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let len = fft.get_inplace_scratch_len();
        if scratch.len() < len {
            scratch.resize(len, Complex64::default());
        }
        fft.process_with_scratch(buf, &mut scratch[..len]);
    });
}

impl NegacyclicFft {
    /// `n` is the polynomial size, a power of two of at least 4.
    pub fn new(n: usize) -> Self {
        let m = n / 2;
        let mut planner = FftPlanner::new();
        let angle = |j: usize| std::f64::consts::PI * j as f64 / n as f64;
        Self {
            n,
            forward: planner.plan_fft_forward(m),
            inverse: planner.plan_fft_inverse(m),
            twist_re: (0..m).map(|j| angle(j).cos()).collect(),
            twist_im: (0..m).map(|j| angle(j).sin()).collect(),
            untwist_re: (0..m).map(|j| angle(j).cos() / m as f64).collect(),
            untwist_im: (0..m).map(|j| -angle(j).sin() / m as f64).collect(),
            roots_re: (0..2 * n).map(|t| angle(t).cos()).collect(),
            roots_im: (0..2 * n).map(|t| angle(t).sin()).collect(),
        }
    }

    /// The `2N` powers of `zeta`. Point `j` of a spectrum is the polynomial's value at
    /// `zeta^(1 - 4j)` (the fold puts `a_(j + N/2)` at `zeta^(N/2) = i`, the twist and the DFT
    /// supply `zeta^(j (1 - 4k))`), so the spectrum of `X^e` is `zeta^(e (1 - 4j) mod 2N)`:
    /// a multi-bit blind rotation multiplies spectra by monomials without transforming them.
    pub(crate) fn monomial_roots(&self) -> Roots<'_> {
        Roots {
            re: &self.roots_re,
            im: &self.roots_im,
        }
    }

    /// The folded, twisted coefficient `j` of a polynomial with coefficients `x` (at `j`) and
    /// `y` (at `j + N/2`).
    #[inline]
    fn twist(&self, j: usize, x: f64, y: f64) -> Complex64 {
        Complex64::new(x, y) * Complex64::new(self.twist_re[j], self.twist_im[j])
    }

    /// Spectrum of a polynomial with signed 32-bit coefficients (digits, key bits, halves of
    /// torus words); `i32` converts to f64 in vector registers, `i64` does not on AVX2.
    pub fn forward_signed(&self, a: &[i32], out: &mut [Complex64]) {
        let m = self.n / 2;
        let (lo, hi) = a[..2 * m].split_at(m);
        let out = &mut out[..m];
        let done = lanes::twist_i32(lo, hi, &self.twist_re, &self.twist_im, out);
        for j in done..m {
            out[j] = self.twist(j, lo[j] as f64, hi[j] as f64);
        }
        transform(&*self.forward, out);
    }

    /// Spectrum of one digit polynomial of a gadget decomposition: coefficient `t` is
    /// `((y[t] >> shift) & (B - 1)) - B/2` for `B = 2^base_log` (see
    /// `bootstrap_key::Gadget`), the digits read straight out of the prepared words.
    pub fn forward_digits(&self, y: &[u64], shift: u32, base_log: u32, out: &mut [Complex64]) {
        let m = self.n / 2;
        let (lo, hi) = y[..2 * m].split_at(m);
        let out = &mut out[..m];
        let done =
            lanes::twist_digits(lo, hi, shift, base_log, &self.twist_re, &self.twist_im, out);
        let digit = |x: u64| {
            ((x >> shift) & ((1 << base_log) - 1)) as f64 - (1u64 << (base_log - 1)) as f64
        };
        for j in done..m {
            out[j] = self.twist(j, digit(lo[j]), digit(hi[j]));
        }
        transform(&*self.forward, out);
    }

    /// Spectrum of a torus polynomial, its words read as signed (centered) integers.
    pub fn forward_torus(&self, a: &[u64], out: &mut [Complex64]) {
        let m = self.n / 2;
        let out = &mut out[..m];
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.twist(j, a[j] as i64 as f64, a[j + m] as i64 as f64);
        }
        transform(&*self.forward, out);
    }

    /// Inverse transform of `spec` (destroyed), added modulo 2^64 to `acc`, each value
    /// rounded to a multiple of 2^12 (`ROUNDED_BITS`): a product's own rounding error is
    /// far larger (its sums reach 2^85 against 53 bits of mantissa), and the coarser
    /// conversion takes half the instructions of an exact one.
    pub fn backward_add(&self, spec: &mut [Complex64], acc: &mut [u64]) {
        self.backward_add_with::<false>(spec, acc);
    }

    /// [`Self::backward_add`] without the rounding to 2^12, for products that are exact
    /// (key generation's).
    pub fn backward_add_exact(&self, spec: &mut [Complex64], acc: &mut [u64]) {
        self.backward_add_with::<true>(spec, acc);
    }

    fn backward_add_with<const EXACT: bool>(&self, spec: &mut [Complex64], acc: &mut [u64]) {
        let m = self.n / 2;
        let spec = &mut spec[..m];
        transform(&*self.inverse, spec);
        let (lo, hi) = acc.split_at_mut(m);
        let done = lanes::untwist_add::<EXACT>(spec, &self.untwist_re, &self.untwist_im, lo, hi);
        let convert = if EXACT {
            f64_to_torus
        } else {
            f64_to_torus_rounded
        };
        for j in done..m {
            let c = spec[j] * Complex64::new(self.untwist_re[j], self.untwist_im[j]);
            lo[j] = lo[j].wrapping_add(convert(c.re));
            hi[j] = hi[j].wrapping_add(convert(c.im));
        }
    }

    /// `out += a * s` exactly, for a torus polynomial `a` and a binary polynomial `s` given by
    /// its spectrum in blocks. Key generation uses it: a plain f64 product of 64-bit words
    /// would round away the low bits of the GLWE noise, so `a` is split in 32-bit halves
    /// whose products stay under 2^53.
    pub fn mul_binary_add(&self, a: &[u64], s_blocks: &[f64], out: &mut [u64]) {
        let n = a.len();
        let lo: Vec<i32> = a.iter().map(|&x| x as u32 as i32).collect();
        let hi: Vec<i32> = a
            .iter()
            .zip(&lo)
            .map(|(&x, &l)| (x.wrapping_sub(l as i64 as u64) >> 32) as u32 as i32)
            .collect();
        let mut spec = vec![Complex64::default(); n / 2];
        let (mut blocks, mut prod) = (vec![0.0; n], vec![0.0; n]);
        let mut high = vec![0u64; n];
        for (half, dst) in [(&hi, &mut high[..]), (&lo, &mut out[..])] {
            self.forward_signed(half, &mut spec);
            to_blocks(&spec, &mut blocks);
            mac_blocks(&mut prod, &blocks, s_blocks, 1, 1, 0..n / (2 * BLOCK));
            from_blocks(&prod, &mut spec);
            self.backward_add_exact(&mut spec, dst);
        }
        for (o, h) in out.iter_mut().zip(&high) {
            *o = o.wrapping_add(h << 32);
        }
    }
}

/// Spectra in blocks: four real parts, then their four imaginary parts, block after block
/// (`2 m` floats for `m` values). The external product keeps its digit spectra and the key
/// this way, so its multiply-accumulate needs no shuffles at all.
pub(crate) const BLOCK: usize = 4;

/// An interleaved spectrum in blocks.
pub(crate) fn to_blocks(spec: &[Complex64], out: &mut [f64]) {
    let done = lanes::to_blocks(spec, out);
    for (j, c) in spec.iter().enumerate().skip(done) {
        let (b, t) = (j / BLOCK, j % BLOCK);
        out[2 * BLOCK * b + t] = c.re;
        out[2 * BLOCK * b + BLOCK + t] = c.im;
    }
}

/// A spectrum in blocks, interleaved again.
pub(crate) fn from_blocks(blocks: &[f64], out: &mut [Complex64]) {
    let done = lanes::from_blocks(blocks, out);
    for (j, c) in out.iter_mut().enumerate().skip(done) {
        let (b, t) = (j / BLOCK, j % BLOCK);
        *c = Complex64::new(blocks[2 * BLOCK * b + t], blocks[2 * BLOCK * b + BLOCK + t]);
    }
}

/// The external product's sum `out[c] = sum_r digits[r] * key[r][c]` for `c < cols`, on
/// spectra in blocks of `m` values (a multiple of [`BLOCK`]), over the given range of
/// blocks: `digits` holds `rows` spectra one after the other, `out` `cols`; `key` is
/// block-major (for each block, every row's `cols` blocks), so it is read front to back.
pub(crate) fn mac_blocks(
    out: &mut [f64],
    digits: &[f64],
    key: &[f64],
    rows: usize,
    cols: usize,
    blocks: Range<usize>,
) {
    let m2 = digits.len() / rows;
    assert!(
        m2.is_multiple_of(2 * BLOCK)
            && out.len() == cols * m2
            && key.len() == rows * cols * m2
            && blocks.end <= m2 / (2 * BLOCK)
    );
    if !lanes::mac_blocks(out, digits, key, rows, cols, blocks.clone()) {
        mac_blocks_portable(out, digits, key, (rows, cols), blocks);
    }
}

/// [`mac_blocks`] in plain Rust, for CPUs without AVX2 (and tests on those with it).
fn mac_blocks_portable(
    out: &mut [f64],
    digits: &[f64],
    key: &[f64],
    (rows, cols): (usize, usize),
    blocks: Range<usize>,
) {
    let m2 = digits.len() / rows;
    let per_block = rows * cols * 2 * BLOCK;
    for b in blocks {
        let key = &key[b * per_block..][..per_block];
        let at = 2 * BLOCK * b;
        for c in 0..cols {
            let acc = block_sum(digits, key, (rows, cols), c, at, m2);
            out[c * m2 + at..][..2 * BLOCK].copy_from_slice(&acc);
        }
    }
}

/// The powers of `zeta` a monomial's spectrum is read from ([`NegacyclicFft::monomial_roots`]).
#[derive(Clone, Copy)]
pub(crate) struct Roots<'a> {
    re: &'a [f64],
    im: &'a [f64],
}

impl Roots<'_> {
    /// Index into the table of point `j` of the spectrum of `X^e`.
    #[inline]
    fn index(&self, e: usize, j: usize) -> usize {
        e.wrapping_mul(1usize.wrapping_sub(4 * j)) & (self.re.len() - 1)
    }
}

/// The multi-bit external product's sum: `out[c] = sum_u (X^(e_u) - 1) * sum_r digits[r] *
/// key[u][r][c]` for `c < cols` and the patterns `u` of `exps` (one per pattern), on spectra
/// in blocks as [`mac_blocks`]. `key` is block-major over every pattern: for each block,
/// pattern after pattern, every row's `cols` blocks. Each pattern's sum is multiplied by its
/// monomial less one in registers, so the patterns cost one output per column. Only the
/// given range of blocks is computed.
pub(crate) fn mac_monomials(
    out: &mut [f64],
    digits: &[f64],
    key: &[f64],
    (rows, cols): (usize, usize),
    exps: &[usize],
    roots: Roots,
    blocks: Range<usize>,
) {
    let (m2, patterns) = (digits.len() / rows, exps.len());
    assert!(
        m2.is_multiple_of(2 * BLOCK)
            && out.len() == cols * m2
            && key.len() == patterns * rows * cols * m2
            && blocks.end <= m2 / (2 * BLOCK)
            && patterns <= MAX_PATTERNS
            && roots.re.len() == roots.im.len()
            && roots.re.len().is_power_of_two()
            && roots.re.len() >= 4 * m2 / 2
    );
    if !lanes::mac_monomials(out, digits, key, (rows, cols), exps, roots, blocks.clone()) {
        mac_monomials_portable(out, digits, key, (rows, cols), (exps, roots), blocks);
    }
}

/// [`mac_monomials`] in plain Rust, for CPUs without AVX2 (and tests on those with it).
fn mac_monomials_portable(
    out: &mut [f64],
    digits: &[f64],
    key: &[f64],
    (rows, cols): (usize, usize),
    (exps, roots): (&[usize], Roots),
    blocks: Range<usize>,
) {
    let (m2, patterns) = (digits.len() / rows, exps.len());
    let per_pattern = rows * cols * 2 * BLOCK;
    for b in blocks {
        let key = &key[b * patterns * per_pattern..][..patterns * per_pattern];
        let at = 2 * BLOCK * b;
        for c in 0..cols {
            let mut total = [0.0; 2 * BLOCK];
            for (u, &e) in exps.iter().enumerate() {
                let key = &key[u * per_pattern..][..per_pattern];
                let acc = block_sum(digits, key, (rows, cols), c, at, m2);
                for t in 0..BLOCK {
                    let i = roots.index(e, BLOCK * b + t);
                    let (fr, fi) = (roots.re[i] - 1.0, roots.im[i]);
                    total[t] += fr * acc[t] - fi * acc[BLOCK + t];
                    total[BLOCK + t] += fr * acc[BLOCK + t] + fi * acc[t];
                }
            }
            out[c * m2 + at..][..2 * BLOCK].copy_from_slice(&total);
        }
    }
}

/// The most patterns a step of a blind rotation has: one per nonzero pattern of its bits.
pub(crate) const MAX_PATTERNS: usize = (1 << BlindRotation::MAX_GROUPING) - 1;

/// `sum_r digits[r] * key[r][c]` for one block (at float `at` of each digit spectrum) and one
/// column, `key` holding that block's rows, each with `cols` blocks.
fn block_sum(
    digits: &[f64],
    key: &[f64],
    (rows, cols): (usize, usize),
    c: usize,
    at: usize,
    m2: usize,
) -> [f64; 2 * BLOCK] {
    let mut acc = [0.0; 2 * BLOCK];
    for r in 0..rows {
        let d = &digits[r * m2 + at..][..2 * BLOCK];
        let k = &key[(r * cols + c) * 2 * BLOCK..][..2 * BLOCK];
        for t in 0..BLOCK {
            acc[t] += d[t] * k[t] - d[BLOCK + t] * k[BLOCK + t];
            acc[BLOCK + t] += d[t] * k[BLOCK + t] + d[BLOCK + t] * k[t];
        }
    }
    acc
}

/// Asks the caches for `data` ahead of its use, one request per 64-byte line, into L2: the
/// key a bootstrap streams is far larger than the caches, and requesting it while the
/// transforms compute overlaps the two.
pub(crate) fn prefetch(data: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    for line in data.chunks(8) {
        // SAFETY: a prefetch never faults, and SSE is part of every x86_64 target.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
            _mm_prefetch::<_MM_HINT_T1>(line.as_ptr() as *const i8);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// The hot loops written with AVX2/FMA intrinsics (LLVM does not vectorize complex
/// arithmetic on interleaved values well). Each returns how many leading elements it handled;
/// the callers finish the rest in plain Rust, which is also the whole path on CPUs without
/// AVX2.
mod lanes {
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    mod imp {
        use super::super::{Roots, MAX_PATTERNS, ROUNDED_BITS};
        use rustfft::num_complex::Complex64;
        use std::arch::x86_64::*;
        use std::ops::Range;

        /// Four interleaved complex values at `p` as (re0 re1 re2 re3), (im0 im1 im2 im3): by
        /// halves, then by lanes.
        #[inline(always)]
        unsafe fn deinterleave(p: *const f64) -> (__m256d, __m256d) {
            let (v0, v1) = (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4)));
            let a = _mm256_permute2f128_pd::<0x20>(v0, v1);
            let b = _mm256_permute2f128_pd::<0x31>(v0, v1);
            (_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b))
        }

        /// The inverse of `deinterleave`: stores four complex values at `p`.
        #[inline(always)]
        unsafe fn interleave(re: __m256d, im: __m256d, p: *mut f64) {
            let (a, b) = (_mm256_unpacklo_pd(re, im), _mm256_unpackhi_pd(re, im));
            _mm256_storeu_pd(p, _mm256_permute2f128_pd::<0x20>(a, b));
            _mm256_storeu_pd(p.add(4), _mm256_permute2f128_pd::<0x31>(a, b));
        }

        /// `(x + i y) * (tr[j..] + i ti[j..])`, four values stored interleaved at `o[2 j..]`:
        /// the fold and twist of a forward transform.
        #[inline(always)]
        unsafe fn twist_store(
            x: __m256d,
            y: __m256d,
            tr: &[f64],
            ti: &[f64],
            j: usize,
            o: *mut f64,
        ) {
            let (wr, wi) = (
                _mm256_loadu_pd(tr.as_ptr().add(j)),
                _mm256_loadu_pd(ti.as_ptr().add(j)),
            );
            let re = _mm256_fmsub_pd(x, wr, _mm256_mul_pd(y, wi));
            let im = _mm256_fmadd_pd(x, wi, _mm256_mul_pd(y, wr));
            interleave(re, im, o.add(2 * j));
        }

        /// Interleaved to blocks, four values at a time.
        pub fn to_blocks(spec: &[Complex64], out: &mut [f64]) -> usize {
            let m = spec.len() & !3;
            assert!(out.len() >= 2 * m);
            // SAFETY: reads below `m` complex values of `spec`, writes below `2 m` of `out`.
            unsafe {
                let s = spec.as_ptr() as *const f64;
                for j in (0..m).step_by(4) {
                    let (re, im) = deinterleave(s.add(2 * j));
                    _mm256_storeu_pd(out.as_mut_ptr().add(2 * j), re);
                    _mm256_storeu_pd(out.as_mut_ptr().add(2 * j + 4), im);
                }
            }
            m
        }

        /// Blocks to interleaved, four values at a time.
        pub fn from_blocks(blocks: &[f64], out: &mut [Complex64]) -> usize {
            let m = out.len() & !3;
            assert!(blocks.len() >= 2 * m);
            // SAFETY: reads below `2 m` floats of `blocks`, writes below `m` complex values.
            unsafe {
                let o = out.as_mut_ptr() as *mut f64;
                for j in (0..m).step_by(4) {
                    let re = _mm256_loadu_pd(blocks.as_ptr().add(2 * j));
                    let im = _mm256_loadu_pd(blocks.as_ptr().add(2 * j + 4));
                    interleave(re, im, o.add(2 * j));
                }
            }
            m
        }

        /// `mac_blocks` for up to four output columns at a time, accumulators in registers.
        pub fn mac_blocks(
            out: &mut [f64],
            digits: &[f64],
            key: &[f64],
            rows: usize,
            cols: usize,
            blocks: Range<usize>,
        ) -> bool {
            let m2 = digits.len() / rows;
            let mut c = 0;
            while c < cols {
                let b = blocks.clone();
                match cols - c {
                    1 => columns::<1>(out, digits, key, rows, cols, c, m2, b),
                    2 => columns::<2>(out, digits, key, rows, cols, c, m2, b),
                    3 => columns::<3>(out, digits, key, rows, cols, c, m2, b),
                    _ => columns::<4>(out, digits, key, rows, cols, c, m2, b),
                }
                c += (cols - c).min(4);
            }
            true
        }

        /// Columns `c0 .. c0 + C` of `mac_blocks` (lengths checked by the caller).
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        fn columns<const C: usize>(
            out: &mut [f64],
            digits: &[f64],
            key: &[f64],
            rows: usize,
            cols: usize,
            c0: usize,
            m2: usize,
            blocks: Range<usize>,
        ) {
            let per_block = rows * cols * 8;
            // SAFETY: `mac_blocks` asserted `out` = cols * m2, `digits` = rows * m2 and `key` =
            // rows * cols * m2 floats; every offset below stays inside them.
            unsafe {
                for b in blocks {
                    let kb = key.as_ptr().add(b * per_block);
                    let (re, im) = row_sums::<C>(digits, kb, (rows, cols), c0, b, m2);
                    for i in 0..C {
                        let o = out.as_mut_ptr().add((c0 + i) * m2 + 8 * b);
                        _mm256_storeu_pd(o, re[i]);
                        _mm256_storeu_pd(o.add(4), im[i]);
                    }
                }
            }
        }

        /// `mac_monomials` two output columns at a time (then one). Point `4b + t` of
        /// `X^e`'s spectrum is `zeta^(e (1 - 4t)) zeta^(-16 e b)`: four lane values fixed for
        /// the call times one root per block, a single rounded product, as precise as the
        /// table (a product advanced from block to block would lose a bit every few blocks,
        /// and the sums it multiplies reach 2^85).
        pub fn mac_monomials(
            out: &mut [f64],
            digits: &[f64],
            key: &[f64],
            (rows, cols): (usize, usize),
            exps: &[usize],
            roots: Roots,
            blocks: Range<usize>,
        ) -> bool {
            let m2 = digits.len() / rows;
            let patterns = exps.len();
            let per_block = patterns * rows * cols * 8;
            let root = |t: usize| {
                let t = t & (roots.re.len() - 1);
                (roots.re[t], roots.im[t])
            };
            // SAFETY: `mac_monomials` asserted `out` = cols * m2, `digits` = rows * m2 and
            // `key` = patterns * rows * cols * m2 floats; every offset below stays inside
            // them. The target features are enabled at compile time.
            unsafe {
                let mut lr = [_mm256_setzero_pd(); MAX_PATTERNS];
                let mut li = [_mm256_setzero_pd(); MAX_PATTERNS];
                for (u, &e) in exps.iter().enumerate() {
                    let [(r0, i0), (r1, i1), (r2, i2), (r3, i3)] =
                        [0, 1, 2, 3].map(|t| root(roots.index(e, t)));
                    lr[u] = _mm256_setr_pd(r0, r1, r2, r3);
                    li[u] = _mm256_setr_pd(i0, i1, i2, i3);
                }
                let one = _mm256_set1_pd(1.0);
                let mut factors = [(_mm256_setzero_pd(), _mm256_setzero_pd()); MAX_PATTERNS];
                for b in blocks {
                    for (u, &e) in exps.iter().enumerate() {
                        let (r, i) = root(e.wrapping_mul(16 * b).wrapping_neg());
                        let (br, bi) = (_mm256_set1_pd(r), _mm256_set1_pd(i));
                        let fr = _mm256_fmsub_pd(lr[u], br, _mm256_mul_pd(li[u], bi));
                        let fi = _mm256_fmadd_pd(lr[u], bi, _mm256_mul_pd(li[u], br));
                        factors[u] = (_mm256_sub_pd(fr, one), fi);
                    }
                    let kb = key.as_ptr().add(b * per_block);
                    let f = &factors[..patterns];
                    let mut c = 0;
                    while c + 2 <= cols {
                        monomial_columns::<2>(out, digits, kb, (rows, cols), c, b, m2, f);
                        c += 2;
                    }
                    if c < cols {
                        monomial_columns::<1>(out, digits, kb, (rows, cols), c, b, m2, f);
                    }
                }
            }
            true
        }

        /// `sum_r digits[r] * key[r][c]` for the columns `c0 .. c0 + C` of block `b`, whose
        /// rows' blocks start at `kb`: the sums of both products, in registers.
        #[inline(always)]
        unsafe fn row_sums<const C: usize>(
            digits: &[f64],
            kb: *const f64,
            (rows, cols): (usize, usize),
            c0: usize,
            b: usize,
            m2: usize,
        ) -> ([__m256d; C], [__m256d; C]) {
            let mut re = [_mm256_setzero_pd(); C];
            let mut im = [_mm256_setzero_pd(); C];
            for r in 0..rows {
                let d = digits.as_ptr().add(r * m2 + 8 * b);
                let (dr, di) = (_mm256_loadu_pd(d), _mm256_loadu_pd(d.add(4)));
                for i in 0..C {
                    let k = kb.add((r * cols + c0 + i) * 8);
                    let (kr, ki) = (_mm256_loadu_pd(k), _mm256_loadu_pd(k.add(4)));
                    re[i] = _mm256_fnmadd_pd(di, ki, _mm256_fmadd_pd(dr, kr, re[i]));
                    im[i] = _mm256_fmadd_pd(di, kr, _mm256_fmadd_pd(dr, ki, im[i]));
                }
            }
            (re, im)
        }

        /// Columns `c0 .. c0 + C` of block `b` of `mac_monomials`, the block's key at `kb`.
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn monomial_columns<const C: usize>(
            out: &mut [f64],
            digits: &[f64],
            kb: *const f64,
            (rows, cols): (usize, usize),
            c0: usize,
            b: usize,
            m2: usize,
            factors: &[(__m256d, __m256d)],
        ) {
            let mut tr = [_mm256_setzero_pd(); C];
            let mut ti = [_mm256_setzero_pd(); C];
            for (u, &(fr, fi)) in factors.iter().enumerate() {
                let ku = kb.add(u * rows * cols * 8);
                let (re, im) = row_sums::<C>(digits, ku, (rows, cols), c0, b, m2);
                for i in 0..C {
                    tr[i] = _mm256_fnmadd_pd(fi, im[i], _mm256_fmadd_pd(fr, re[i], tr[i]));
                    ti[i] = _mm256_fmadd_pd(fi, re[i], _mm256_fmadd_pd(fr, im[i], ti[i]));
                }
            }
            for i in 0..C {
                let o = out.as_mut_ptr().add((c0 + i) * m2 + 8 * b);
                _mm256_storeu_pd(o, tr[i]);
                _mm256_storeu_pd(o.add(4), ti[i]);
            }
        }

        /// `forward_digits`' fold and twist: the digits of `lo[j]` and `hi[j]` (below 2^30)
        /// become doubles by their bits under those of 2^52, less `2^52 + B/2`.
        pub fn twist_digits(
            lo: &[u64],
            hi: &[u64],
            shift: u32,
            base_log: u32,
            tr: &[f64],
            ti: &[f64],
            out: &mut [Complex64],
        ) -> usize {
            let m = lo.len() & !3;
            assert!(hi.len() >= m && tr.len() >= m && ti.len() >= m && out.len() >= m);
            assert!((1..=30).contains(&base_log));
            // SAFETY: every access is below `m`, which all five lengths reach (asserted); the
            // target features are enabled at compile time.
            unsafe {
                let count = _mm_cvtsi32_si128(shift as i32);
                let mask = _mm256_set1_epi64x((1i64 << base_log) - 1);
                let exponent = _mm256_set1_epi64x(4_503_599_627_370_496f64.to_bits() as i64);
                let offset =
                    _mm256_set1_pd(4_503_599_627_370_496.0 + (1u64 << (base_log - 1)) as f64);
                let digit = |p: *const u64| {
                    let d = _mm256_and_si256(
                        _mm256_srl_epi64(_mm256_loadu_si256(p as *const __m256i), count),
                        mask,
                    );
                    _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(d, exponent)), offset)
                };
                let o = out.as_mut_ptr() as *mut f64;
                for j in (0..m).step_by(4) {
                    let (x, y) = (digit(lo.as_ptr().add(j)), digit(hi.as_ptr().add(j)));
                    twist_store(x, y, tr, ti, j, o);
                }
            }
            m
        }

        /// Folds and twists digits: `out[j] = (lo[j] + i hi[j]) * (tr[j] + i ti[j])`.
        pub fn twist_i32(
            lo: &[i32],
            hi: &[i32],
            tr: &[f64],
            ti: &[f64],
            out: &mut [Complex64],
        ) -> usize {
            let m = lo.len() & !3;
            assert!(hi.len() >= m && tr.len() >= m && ti.len() >= m && out.len() >= m);
            // SAFETY: every access is below `m`, which all five lengths reach (asserted); the
            // target features are enabled at compile time.
            unsafe {
                let o = out.as_mut_ptr() as *mut f64;
                for j in (0..m).step_by(4) {
                    let x = _mm256_cvtepi32_pd(_mm_loadu_si128(lo.as_ptr().add(j) as *const _));
                    let y = _mm256_cvtepi32_pd(_mm_loadu_si128(hi.as_ptr().add(j) as *const _));
                    twist_store(x, y, tr, ti, j, o);
                }
            }
            m
        }

        /// The end of the inverse transform: multiply by the untwist, round, reduce modulo
        /// 2^64 (as `f64_to_torus`) and add to the two halves of a torus polynomial. AVX2 has
        /// no f64 -> i64 conversion, but an integer-valued double below 2^51 added to
        /// `1.5 * 2^52` lands in a binade whose words count units. Rounded (`!EXACT`): the
        /// centred residue as a fraction of the torus, times 2^52, converts that way (a
        /// multiple of 2^12 of the torus). Exact: the residue `v` (|v| <= 2^63) is split into
        /// `round(v / 2^32)` and the exact remainder (|r| <= 2^31, both ends included), each
        /// converted that way.
        pub fn untwist_add<const EXACT: bool>(
            spec: &[Complex64],
            ur: &[f64],
            ui: &[f64],
            lo: &mut [u64],
            hi: &mut [u64],
        ) -> usize {
            let m = spec.len() & !3;
            assert!(ur.len() >= m && ui.len() >= m && lo.len() >= m && hi.len() >= m);
            const NEAREST: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
            // 1.5 * 2^52.
            const MAGIC: f64 = 6_755_399_441_055_744.0;
            // SAFETY: every access is below `m` values, which all lengths reach (asserted).
            unsafe {
                let magic = _mm256_set1_pd(MAGIC);
                // `round(x)` for |x| <= 2^51: in the binade of `MAGIC` the words count units.
                let to_i64 = |x: __m256d, scale: f64| -> __m256i {
                    let y = _mm256_fmadd_pd(x, _mm256_set1_pd(scale), magic);
                    _mm256_sub_epi64(_mm256_castpd_si256(y), _mm256_castpd_si256(magic))
                };
                let to_torus = |x: __m256d| -> __m256i {
                    let t = _mm256_mul_pd(x, _mm256_set1_pd(1.0 / 18_446_744_073_709_551_616.0));
                    let frac = _mm256_sub_pd(t, _mm256_round_pd::<NEAREST>(t));
                    if !EXACT {
                        return _mm256_slli_epi64::<{ ROUNDED_BITS as i32 }>(to_i64(
                            frac,
                            4_503_599_627_370_496.0, // 2^52
                        ));
                    }
                    let v = _mm256_round_pd::<NEAREST>(_mm256_mul_pd(
                        frac,
                        _mm256_set1_pd(18_446_744_073_709_551_616.0),
                    ));
                    let high = _mm256_round_pd::<NEAREST>(_mm256_mul_pd(
                        v,
                        _mm256_set1_pd(1.0 / 4_294_967_296.0),
                    ));
                    let low = _mm256_fnmadd_pd(high, _mm256_set1_pd(4_294_967_296.0), v);
                    _mm256_add_epi64(_mm256_slli_epi64::<32>(to_i64(high, 1.0)), to_i64(low, 1.0))
                };
                let s = spec.as_ptr() as *const f64;
                for j in (0..m).step_by(4) {
                    let (xr, xi) = deinterleave(s.add(2 * j));
                    let (tr, ti) = (
                        _mm256_loadu_pd(ur.as_ptr().add(j)),
                        _mm256_loadu_pd(ui.as_ptr().add(j)),
                    );
                    let x = _mm256_fmsub_pd(xr, tr, _mm256_mul_pd(xi, ti));
                    let y = _mm256_fmadd_pd(xr, ti, _mm256_mul_pd(xi, tr));
                    let (pl, ph) = (
                        lo.as_mut_ptr().add(j) as *mut __m256i,
                        hi.as_mut_ptr().add(j) as *mut __m256i,
                    );
                    _mm256_storeu_si256(pl, _mm256_add_epi64(_mm256_loadu_si256(pl), to_torus(x)));
                    _mm256_storeu_si256(ph, _mm256_add_epi64(_mm256_loadu_si256(ph), to_torus(y)));
                }
            }
            m
        }
    }

    #[cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    )))]
    mod imp {
        use rustfft::num_complex::Complex64;

        pub fn twist_i32(_: &[i32], _: &[i32], _: &[f64], _: &[f64], _: &mut [Complex64]) -> usize {
            0
        }
        pub fn twist_digits(
            _: &[u64],
            _: &[u64],
            _: u32,
            _: u32,
            _: &[f64],
            _: &[f64],
            _: &mut [Complex64],
        ) -> usize {
            0
        }
        pub fn to_blocks(_: &[Complex64], _: &mut [f64]) -> usize {
            0
        }
        pub fn from_blocks(_: &[f64], _: &mut [Complex64]) -> usize {
            0
        }
        pub fn mac_blocks(
            _: &mut [f64],
            _: &[f64],
            _: &[f64],
            _: usize,
            _: usize,
            _: std::ops::Range<usize>,
        ) -> bool {
            false
        }
        pub fn mac_monomials(
            _: &mut [f64],
            _: &[f64],
            _: &[f64],
            _: (usize, usize),
            _: &[usize],
            _: super::super::Roots,
            _: std::ops::Range<usize>,
        ) -> bool {
            false
        }
        pub fn untwist_add<const EXACT: bool>(
            _: &[Complex64],
            _: &[f64],
            _: &[f64],
            _: &mut [u64],
            _: &mut [u64],
        ) -> usize {
            0
        }
    }

    pub use imp::*;
}

/// Rounds a float to the nearest integer and reduces it modulo 2^64, for any magnitude (the
/// products reach 2^85 before reduction; `as u64` would saturate). Branch-free: scaling by
/// 2^-64 and removing the integer part is exact in floating point, and what remains times
/// 2^64 is the centered residue.
#[inline]
pub(crate) fn f64_to_torus(x: f64) -> u64 {
    let t = x * (1.0 / TORUS_SCALE);
    let frac = t - t.round();
    (frac * TORUS_SCALE).round() as i64 as u64
}

/// [`f64_to_torus`] rounded to a multiple of `2^ROUNDED_BITS`, as the vector path of
/// [`NegacyclicFft::backward_add`] converts (ties to even, as its conversion rounds), so
/// that a bootstrap gives the same words with AVX2 and without.
fn f64_to_torus_rounded(x: f64) -> u64 {
    let t = x * (1.0 / TORUS_SCALE);
    let frac = t - t.round_ties_even();
    let units = (frac * 2f64.powi(64 - ROUNDED_BITS as i32)).round_ties_even();
    (units as i64 as u64) << ROUNDED_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[u64], b: &[i32]) -> Vec<u64> {
        let n = a.len();
        let mut out = vec![0u64; n];
        for i in 0..n {
            for j in 0..n {
                let p = a[i].wrapping_mul(b[j] as u64);
                if i + j < n {
                    out[i + j] = out[i + j].wrapping_add(p);
                } else {
                    out[i + j - n] = out[i + j - n].wrapping_sub(p);
                }
            }
        }
        out
    }

    #[test]
    fn product_matches_schoolbook_up_to_rounding() {
        let mut rng = super::super::random::TorusSampler::from_seed(3);
        for n in [8usize, 16, 64, 512] {
            let fft = NegacyclicFft::new(n);
            let mut a = vec![0u64; n];
            rng.uniform(&mut a);
            let b: Vec<i32> = (0..n as i32).map(|i| (i * 37 % 1024) - 512).collect();
            let zero = Complex64::default();
            let (mut fa, mut fb) = (vec![zero; n / 2], vec![zero; n / 2]);
            fft.forward_torus(&a, &mut fa);
            fft.forward_signed(&b, &mut fb);
            let (mut ba, mut bb, mut prod) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            to_blocks(&fa, &mut ba);
            to_blocks(&fb, &mut bb);
            mac_blocks(&mut prod, &ba, &bb, 1, 1, 0..n / (2 * BLOCK));
            from_blocks(&prod, &mut fa);
            let mut out = vec![0u64; n];
            fft.backward_add(&mut fa, &mut out);
            for (x, y) in out.iter().zip(&naive(&a, &b)) {
                let err = x.wrapping_sub(*y) as i64;
                // 2^40 out of 2^64: far below any noise the schemes tolerate.
                assert!(err.unsigned_abs() < 1 << 40, "n = {n}: error {err}");
            }
        }
    }

    #[test]
    fn block_sums_match_complex_arithmetic() {
        // Five columns: one group of four and a single one on the vector path.
        let (rows, cols, m) = (3, 5, 8);
        let value = |i: usize| Complex64::new((i * 7 % 11) as f64 - 5.0, (i * 5 % 13) as f64 - 6.0);
        let digits: Vec<Vec<Complex64>> = (0..rows)
            .map(|r| (0..m).map(|j| value(r * m + j)).collect())
            .collect();
        let key: Vec<Vec<Vec<Complex64>>> = (0..rows)
            .map(|r| {
                (0..cols)
                    .map(|c| {
                        (0..m)
                            .map(|j| value(100 + (r * cols + c) * m + j))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut digit_blocks = vec![0.0; rows * 2 * m];
        for (r, d) in digits.iter().enumerate() {
            to_blocks(d, &mut digit_blocks[r * 2 * m..][..2 * m]);
        }
        let mut key_blocks = vec![];
        for b in 0..m / BLOCK {
            for row in &key {
                for col in row {
                    let mut blocks = vec![0.0; 2 * m];
                    to_blocks(col, &mut blocks);
                    key_blocks.extend_from_slice(&blocks[2 * BLOCK * b..][..2 * BLOCK]);
                }
            }
        }
        // The vector path (where the CPU has one), then the portable one.
        for portable in [false, true] {
            let mut out = vec![0.0; cols * 2 * m];
            let (d, k, blocks) = (&digit_blocks, &key_blocks, 0..m / BLOCK);
            if portable {
                mac_blocks_portable(&mut out, d, k, (rows, cols), blocks);
            } else {
                mac_blocks(&mut out, d, k, rows, cols, blocks);
            }
            for c in 0..cols {
                let mut got = vec![Complex64::default(); m];
                from_blocks(&out[c * 2 * m..][..2 * m], &mut got);
                for (j, g) in got.iter().enumerate() {
                    let want: Complex64 = (0..rows).map(|r| digits[r][j] * key[r][c][j]).sum();
                    assert_eq!(*g, want, "column {c}, value {j}, portable {portable}");
                }
            }
        }
    }

    #[test]
    fn monomial_sums_match_schoolbook_products() {
        // Three columns (a pair and a single one on the vector path), three patterns, and 64
        // blocks: the factors advance from block to block and are read afresh twice.
        let (n, rows, cols) = (512usize, 2, 3);
        let fft = NegacyclicFft::new(n);
        let small = |seed: usize| -> Vec<i32> {
            (0..n)
                .map(|j| ((j * 31 + seed * 17) % 61) as i32 - 30)
                .collect()
        };
        let spectrum = |poly: &[i32]| {
            let mut spec = vec![Complex64::default(); n / 2];
            fft.forward_signed(poly, &mut spec);
            let mut blocks = vec![0.0; n];
            to_blocks(&spec, &mut blocks);
            blocks
        };
        let digits: Vec<Vec<i32>> = (0..rows).map(small).collect();
        let key: Vec<Vec<i32>> = (0..3 * rows * cols).map(|i| small(10 + i)).collect();
        let exps = [1usize, 777, 2 * n - 3];
        let digit_blocks: Vec<f64> = digits.iter().flat_map(|d| spectrum(d)).collect();
        let key_spectra: Vec<Vec<f64>> = key.iter().map(|g| spectrum(g)).collect();
        let mut key_blocks = vec![];
        for b in 0..n / (2 * BLOCK) {
            for g in &key_spectra {
                key_blocks.extend_from_slice(&g[2 * BLOCK * b..][..2 * BLOCK]);
            }
        }
        let roots = fft.monomial_roots();
        let mut rotated = vec![0u64; n];
        let want: Vec<Vec<u64>> = (0..cols)
            .map(|c| {
                let mut want = vec![0u64; n];
                for (u, &e) in exps.iter().enumerate() {
                    for (r, d) in digits.iter().enumerate() {
                        let g: Vec<u64> = key[(u * rows + r) * cols + c]
                            .iter()
                            .map(|&x| x as i64 as u64)
                            .collect();
                        let product = naive(&g, d);
                        super::super::bootstrap_key::rotate(&product, e, &mut rotated);
                        for ((w, x), y) in want.iter_mut().zip(&rotated).zip(&product) {
                            *w = w.wrapping_add(x.wrapping_sub(*y));
                        }
                    }
                }
                want
            })
            .collect();
        // The vector path (where the CPU has one), then the portable one.
        for portable in [false, true] {
            let mut out = vec![0.0; cols * n];
            let (d, k, blocks) = (&digit_blocks, &key_blocks, 0..n / (2 * BLOCK));
            if portable {
                mac_monomials_portable(&mut out, d, k, (rows, cols), (&exps, roots), blocks);
            } else {
                mac_monomials(&mut out, d, k, (rows, cols), &exps, roots, blocks);
            }
            for (c, want) in want.iter().enumerate() {
                let mut spec = vec![Complex64::default(); n / 2];
                from_blocks(&out[c * n..][..n], &mut spec);
                let mut got = vec![0u64; n];
                fft.backward_add_exact(&mut spec, &mut got);
                assert_eq!(&got, want, "column {c}, portable {portable}");
            }
        }
    }

    #[test]
    fn binary_products_are_exact() {
        let n = 256;
        let fft = NegacyclicFft::new(n);
        let mut rng = super::super::random::TorusSampler::from_seed(4);
        let mut a = vec![0u64; n];
        rng.uniform(&mut a);
        let s: Vec<i32> = rng.binary(n).into_iter().map(|x| x as i32).collect();
        let mut spec = vec![Complex64::default(); n / 2];
        fft.forward_signed(&s, &mut spec);
        let mut blocks = vec![0.0; n];
        to_blocks(&spec, &mut blocks);
        let mut out = vec![0u64; n];
        fft.mul_binary_add(&a, &blocks, &mut out);
        assert_eq!(out, naive(&a, &s));
    }

    #[test]
    fn inverse_conversions_are_exact_and_within_half_a_unit() {
        let n = 64;
        let fft = NegacyclicFft::new(n);
        let mut rng = super::super::random::TorusSampler::from_seed(5);
        // Spectra of every magnitude a product reaches, up to 2^85 per coefficient.
        for log in [0, 20, 40, 52, 63, 70, 85] {
            let mut words = vec![0u64; n];
            rng.uniform(&mut words);
            let spec: Vec<Complex64> = words
                .chunks(2)
                .map(|w| {
                    let f = |x: u64| (x as i64 as f64) * 2f64.powi(log - 63);
                    Complex64::new(f(w[0]), f(w[1]))
                })
                .collect();
            let (mut exact, mut rounded) = (vec![0u64; n], vec![0u64; n]);
            fft.backward_add_exact(&mut spec.clone(), &mut exact);
            fft.backward_add(&mut spec.clone(), &mut rounded);
            // The exact vector path agrees with the scalar conversion, up to the vector
            // path's fused products (ulps of the products in the untwist).
            let mut values = spec.clone();
            transform(&*fft.inverse, &mut values);
            for (j, v) in values.iter().enumerate() {
                let c = v * Complex64::new(fft.untwist_re[j], fft.untwist_im[j]);
                let ulps = (v.re.abs() + v.im.abs()) / (n / 2) as f64 * 2f64.powi(-50);
                for (x, word) in [(c.re, exact[j]), (c.im, exact[j + n / 2])] {
                    let gap = word.wrapping_sub(f64_to_torus(x)) as i64;
                    assert!(gap.unsigned_abs() as f64 <= 1.0 + ulps);
                }
                // The rounded conversions of both paths land on the same grid point, or a
                // neighbour when the fused products cross a rounding boundary, up to those
                // products' ulps.
                for (x, word) in [(c.re, rounded[j]), (c.im, rounded[j + n / 2])] {
                    let gap = word.wrapping_sub(f64_to_torus_rounded(x)) as i64;
                    let bound = (1u64 << ROUNDED_BITS) as f64 + ulps;
                    assert!(gap.unsigned_abs() as f64 <= bound, "2^{log}: {gap}");
                }
            }
            for (e, r) in exact.iter().zip(&rounded) {
                let gap = r.wrapping_sub(*e) as i64;
                assert!(
                    gap.unsigned_abs() <= 1 << (ROUNDED_BITS - 1),
                    "2^{log}: {gap}"
                );
                assert_eq!(r % (1 << ROUNDED_BITS), 0);
            }
        }
    }

    #[test]
    fn digit_spectra_are_those_of_the_digits() {
        let n = 64;
        let fft = NegacyclicFft::new(n);
        let mut rng = super::super::random::TorusSampler::from_seed(6);
        let mut y = vec![0u64; n];
        rng.uniform(&mut y);
        for (shift, base_log) in [(0, 9), (27, 9), (0, 23), (40, 24), (34, 30)] {
            let digits: Vec<i32> = y
                .iter()
                .map(|&x| ((x >> shift) & ((1 << base_log) - 1)) as i32 - (1 << (base_log - 1)))
                .collect();
            let zero = Complex64::default();
            let (mut want, mut got) = (vec![zero; n / 2], vec![zero; n / 2]);
            fft.forward_signed(&digits, &mut want);
            fft.forward_digits(&y, shift, base_log, &mut got);
            assert_eq!(got, want, "shift {shift}, B = 2^{base_log}");
        }
    }

    #[test]
    fn float_to_torus_wraps() {
        assert_eq!(f64_to_torus(3.4), 3);
        assert_eq!(f64_to_torus(-2.6), 3u64.wrapping_neg());
        assert_eq!(f64_to_torus(TORUS_SCALE + 8192.0), 8192);
        assert_eq!(
            f64_to_torus(-TORUS_SCALE * 4.0 - 16384.0),
            16384u64.wrapping_neg()
        );
        assert_eq!(f64_to_torus(TORUS_SCALE * TORUS_SCALE), 0);
        assert_eq!(f64_to_torus(-1e300), 0);
    }
}

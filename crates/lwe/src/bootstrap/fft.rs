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
use std::sync::Arc;

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

use super::random::TORUS_SCALE;

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

    /// Spectrum of a torus polynomial, its words read as signed (centered) integers.
    pub fn forward_torus(&self, a: &[u64], out: &mut [Complex64]) {
        let m = self.n / 2;
        let out = &mut out[..m];
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.twist(j, a[j] as i64 as f64, a[j + m] as i64 as f64);
        }
        transform(&*self.forward, out);
    }

    /// Inverse transform of `spec` (destroyed), added modulo 2^64 to `acc`.
    pub fn backward_add(&self, spec: &mut [Complex64], acc: &mut [u64]) {
        let m = self.n / 2;
        let spec = &mut spec[..m];
        transform(&*self.inverse, spec);
        let (lo, hi) = acc.split_at_mut(m);
        let done = lanes::untwist_add(spec, &self.untwist_re, &self.untwist_im, lo, hi);
        for j in done..m {
            let c = spec[j] * Complex64::new(self.untwist_re[j], self.untwist_im[j]);
            lo[j] = lo[j].wrapping_add(f64_to_torus(c.re));
            hi[j] = hi[j].wrapping_add(f64_to_torus(c.im));
        }
    }

    /// `out += a * s` exactly, for a torus polynomial `a` and a binary polynomial `s` given by
    /// its spectrum. Key generation uses it: a plain f64 product of 64-bit words would round
    /// away the low bits of the GLWE noise, so `a` is split in 32-bit halves whose products
    /// stay under 2^53.
    pub fn mul_binary_add(&self, a: &[u64], s_spec: &[Complex64], out: &mut [u64]) {
        let n = a.len();
        let lo: Vec<i32> = a.iter().map(|&x| x as u32 as i32).collect();
        let hi: Vec<i32> = a
            .iter()
            .zip(&lo)
            .map(|(&x, &l)| (x.wrapping_sub(l as i64 as u64) >> 32) as u32 as i32)
            .collect();
        let mut spec = vec![Complex64::default(); n / 2];
        let mut high = vec![0u64; n];
        for (half, dst) in [(&hi, &mut high[..]), (&lo, &mut out[..])] {
            self.forward_signed(half, &mut spec);
            let mut prod = vec![Complex64::default(); n / 2];
            mul_acc(&mut prod, &spec, s_spec);
            self.backward_add(&mut prod, dst);
        }
        for (o, h) in out.iter_mut().zip(&high) {
            *o = o.wrapping_add(h << 32);
        }
    }
}

/// `out += a * b` pointwise on spectra.
#[inline]
pub(crate) fn mul_acc(out: &mut [Complex64], a: &[Complex64], b: &[Complex64]) {
    let m = out.len();
    let (a, b) = (&a[..m], &b[..m]);
    let done = lanes::mul_acc(out, a, b);
    for j in done..m {
        out[j] += a[j] * b[j];
    }
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
        use rustfft::num_complex::Complex64;
        use std::arch::x86_64::*;

        /// In complex values: 64 KB.
        const PREFETCH_DISTANCE: usize = 4096;

        /// `out += a * b`, four complex values (two vectors) per step.
        pub fn mul_acc(out: &mut [Complex64], a: &[Complex64], b: &[Complex64]) -> usize {
            let m = out.len() & !3;
            assert!(a.len() >= m && b.len() >= m);
            // SAFETY: every access is below `m` complex values, which all three lengths reach
            // (asserted); the target features are enabled at compile time.
            unsafe {
                let (o, x, y) = (
                    out.as_mut_ptr() as *mut f64,
                    a.as_ptr() as *const f64,
                    b.as_ptr() as *const f64,
                );
                for j in (0..2 * m).step_by(8) {
                    // The key (`b`) streams from memory: ask for it 64 KB ahead (half a GGSW of
                    // the gate preset). Prefetches never fault, whatever the address.
                    _mm_prefetch::<_MM_HINT_T0>(
                        y.wrapping_add(j + 2 * PREFETCH_DISTANCE) as *const i8
                    );
                    for h in [j, j + 4] {
                        let (xv, yv) = (_mm256_loadu_pd(x.add(h)), _mm256_loadu_pd(y.add(h)));
                        // (xr + i xi)(yr + i yi): xr * (yr, yi), then -/+ xi * (yi, yr).
                        let re = _mm256_movedup_pd(xv);
                        let im = _mm256_permute_pd::<0b1111>(xv);
                        let swapped = _mm256_permute_pd::<0b0101>(yv);
                        let z = _mm256_fmadd_pd(re, yv, _mm256_loadu_pd(o.add(h)));
                        let z = _mm256_addsub_pd(z, _mm256_mul_pd(im, swapped));
                        _mm256_storeu_pd(o.add(h), z);
                    }
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
            // SAFETY: as in `mul_acc`.
            unsafe {
                let o = out.as_mut_ptr() as *mut f64;
                for j in (0..m).step_by(4) {
                    let x = _mm256_cvtepi32_pd(_mm_loadu_si128(lo.as_ptr().add(j) as *const _));
                    let y = _mm256_cvtepi32_pd(_mm_loadu_si128(hi.as_ptr().add(j) as *const _));
                    let (wr, wi) = (
                        _mm256_loadu_pd(tr.as_ptr().add(j)),
                        _mm256_loadu_pd(ti.as_ptr().add(j)),
                    );
                    let re = _mm256_fmsub_pd(x, wr, _mm256_mul_pd(y, wi));
                    let im = _mm256_fmadd_pd(x, wi, _mm256_mul_pd(y, wr));
                    // Interleave: (re0 im0 re2 im2), (re1 im1 re3 im3), then by halves.
                    let (a, b) = (_mm256_unpacklo_pd(re, im), _mm256_unpackhi_pd(re, im));
                    _mm256_storeu_pd(o.add(2 * j), _mm256_permute2f128_pd::<0x20>(a, b));
                    _mm256_storeu_pd(o.add(2 * j + 4), _mm256_permute2f128_pd::<0x31>(a, b));
                }
            }
            m
        }

        /// The end of the inverse transform: multiply by the untwist, round, reduce modulo
        /// 2^64 (as `f64_to_torus`) and add to the two halves of a torus polynomial. AVX2 has
        /// no f64 -> i64 conversion, so the centred residue `v` (|v| <= 2^63) is split into
        /// `round(v / 2^32)` and the exact remainder, each converted through i32.
        pub fn untwist_add(
            spec: &[Complex64],
            ur: &[f64],
            ui: &[f64],
            lo: &mut [u64],
            hi: &mut [u64],
        ) -> usize {
            let m = spec.len() & !3;
            assert!(ur.len() >= m && ui.len() >= m && lo.len() >= m && hi.len() >= m);
            const NEAREST: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
            // SAFETY: as in `mul_acc`.
            unsafe {
                let to_torus = |x: __m256d| -> __m256i {
                    let t = _mm256_mul_pd(x, _mm256_set1_pd(1.0 / 18_446_744_073_709_551_616.0));
                    let frac = _mm256_sub_pd(t, _mm256_round_pd::<NEAREST>(t));
                    let v = _mm256_round_pd::<NEAREST>(_mm256_mul_pd(
                        frac,
                        _mm256_set1_pd(18_446_744_073_709_551_616.0),
                    ));
                    let high = _mm256_round_pd::<NEAREST>(_mm256_mul_pd(
                        v,
                        _mm256_set1_pd(1.0 / 4_294_967_296.0),
                    ));
                    let low = _mm256_fnmadd_pd(high, _mm256_set1_pd(4_294_967_296.0), v);
                    let high = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(high));
                    let low = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(low));
                    _mm256_add_epi64(_mm256_slli_epi64::<32>(high), low)
                };
                let s = spec.as_ptr() as *const f64;
                for j in (0..m).step_by(4) {
                    // De-interleave four values: by halves, then (re0 re1 re2 re3), (im0 ..).
                    let (v0, v1) = (
                        _mm256_loadu_pd(s.add(2 * j)),
                        _mm256_loadu_pd(s.add(2 * j + 4)),
                    );
                    let a = _mm256_permute2f128_pd::<0x20>(v0, v1);
                    let b = _mm256_permute2f128_pd::<0x31>(v0, v1);
                    let (xr, xi) = (_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b));
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

        pub fn mul_acc(_: &mut [Complex64], _: &[Complex64], _: &[Complex64]) -> usize {
            0
        }
        pub fn twist_i32(_: &[i32], _: &[i32], _: &[f64], _: &[f64], _: &mut [Complex64]) -> usize {
            0
        }
        pub fn untwist_add(
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
        for n in [4usize, 16, 64, 512] {
            let fft = NegacyclicFft::new(n);
            let mut a = vec![0u64; n];
            rng.uniform(&mut a);
            let b: Vec<i32> = (0..n as i32).map(|i| (i * 37 % 1024) - 512).collect();
            let zero = Complex64::default();
            let (mut fa, mut fb) = (vec![zero; n / 2], vec![zero; n / 2]);
            fft.forward_torus(&a, &mut fa);
            fft.forward_signed(&b, &mut fb);
            let mut prod = vec![zero; n / 2];
            mul_acc(&mut prod, &fa, &fb);
            let mut out = vec![0u64; n];
            fft.backward_add(&mut prod, &mut out);
            for (x, y) in out.iter().zip(&naive(&a, &b)) {
                let err = x.wrapping_sub(*y) as i64;
                // 2^40 out of 2^64: far below any noise the schemes tolerate.
                assert!(err.unsigned_abs() < 1 << 40, "n = {n}: error {err}");
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
        let mut out = vec![0u64; n];
        fft.mul_binary_add(&a, &spec, &mut out);
        assert_eq!(out, naive(&a, &s));
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

//! Negacyclic polynomial products through a complex FFT of half the size.
//!
//! A real polynomial `a` of degree `< N` modulo `X^N + 1` is determined by its values at the
//! `N/2` roots `zeta^(4j+1)` (`zeta = exp(i pi / N)`; the other roots are their conjugates).
//! Folding `a_j + i a_(j+N/2)` and twisting by `zeta^j` turns that evaluation into a plain
//! complex FFT of size `N/2` (the approach of TFHE-rs and concrete-fft). Products of torus
//! polynomials by small digit polynomials are exact up to f64 rounding, which stays more than
//! 20 bits under the TFHE noise (see `docs/lwe.md`).
//!
//! The transform is written here rather than taken from `tfhe-fft`: that crate took over 15
//! minutes to compile at this workspace's optimized dev profile, on every clean build (CI
//! included). Spectra are stored split, real parts then imaginary parts, so that butterflies
//! and pointwise products vectorize; the forward transform (decimation in frequency) leaves
//! them in bit-reversed order and the inverse (decimation in time) takes them back from it, so
//! no permutation is ever done: pointwise products do not care about the order.

use super::random::TORUS_SCALE;

pub struct NegacyclicFft {
    /// Polynomial size `N`; the complex transform has size `m = N/2`.
    n: usize,
    /// Twiddles of the stage with half-width `h` at `[h, 2h)`: `exp(-i pi j / h)`.
    tw_re: Vec<f64>,
    tw_im: Vec<f64>,
    /// `zeta^j`, and `zeta^-j / m`, which also normalizes the inverse transform.
    twist_re: Vec<f64>,
    twist_im: Vec<f64>,
    untwist_re: Vec<f64>,
    untwist_im: Vec<f64>,
}

impl NegacyclicFft {
    /// `n` is the polynomial size, a power of two of at least 4.
    pub fn new(n: usize) -> Self {
        let m = n / 2;
        let mut tw_re = vec![0.0; m.max(1)];
        let mut tw_im = vec![0.0; m.max(1)];
        let mut h = 1;
        while h < m {
            for j in 0..h {
                let angle = -std::f64::consts::PI * j as f64 / h as f64;
                tw_re[h + j] = angle.cos();
                tw_im[h + j] = angle.sin();
            }
            h *= 2;
        }
        let angle = |j: usize| std::f64::consts::PI * j as f64 / n as f64;
        Self {
            n,
            tw_re,
            tw_im,
            twist_re: (0..m).map(|j| angle(j).cos()).collect(),
            twist_im: (0..m).map(|j| angle(j).sin()).collect(),
            untwist_re: (0..m).map(|j| angle(j).cos() / m as f64).collect(),
            untwist_im: (0..m).map(|j| -angle(j).sin() / m as f64).collect(),
        }
    }

    /// Spectrum of a polynomial whose coefficients `coef(j)` are exact in f64.
    #[inline]
    fn forward_with(&self, coef: impl Fn(usize) -> f64, out: &mut [f64]) {
        let m = self.n / 2;
        let (re, im) = out.split_at_mut(m);
        for j in 0..m {
            let (x, y) = (coef(j), coef(j + m));
            re[j] = x * self.twist_re[j] - y * self.twist_im[j];
            im[j] = x * self.twist_im[j] + y * self.twist_re[j];
        }
        self.dif(re, im);
    }

    /// Spectrum of a polynomial with signed 32-bit coefficients (digits, key bits, halves of
    /// torus words); `i32` converts to f64 in vector registers, `i64` does not on AVX2.
    pub fn forward_signed(&self, a: &[i32], out: &mut [f64]) {
        self.forward_with(|j| a[j] as f64, out);
    }

    /// Spectrum of a torus polynomial, its words read as signed (centered) integers.
    pub fn forward_torus(&self, a: &[u64], out: &mut [f64]) {
        self.forward_with(|j| a[j] as i64 as f64, out);
    }

    /// Inverse transform of `spec` (destroyed), added modulo 2^64 to `acc`.
    pub fn backward_add(&self, spec: &mut [f64], acc: &mut [u64]) {
        let m = self.n / 2;
        let (re, im) = spec.split_at_mut(m);
        self.dit(re, im);
        let (lo, hi) = acc.split_at_mut(m);
        let done = lanes::untwist_add(re, im, &self.untwist_re, &self.untwist_im, lo, hi);
        for j in done..m {
            let x = re[j] * self.untwist_re[j] - im[j] * self.untwist_im[j];
            let y = re[j] * self.untwist_im[j] + im[j] * self.untwist_re[j];
            lo[j] = lo[j].wrapping_add(f64_to_torus(x));
            hi[j] = hi[j].wrapping_add(f64_to_torus(y));
        }
    }

    /// Forward butterflies, natural order in, bit-reversed order out. Stages of half-width
    /// 4 and more run as long vectorizable loops; the last two are fused per group of four.
    fn dif(&self, re: &mut [f64], im: &mut [f64]) {
        let m = re.len();
        let mut h = m / 2;
        while h >= 4 {
            let (wr, wi) = (&self.tw_re[h..2 * h], &self.tw_im[h..2 * h]);
            for s in (0..m).step_by(2 * h) {
                let (ur, vr) = re[s..s + 2 * h].split_at_mut(h);
                let (ui, vi) = im[s..s + 2 * h].split_at_mut(h);
                let done = lanes::dif(ur, ui, vr, vi, wr, wi);
                for j in done..h {
                    let (ar, ai, br, bi) = (ur[j], ui[j], vr[j], vi[j]);
                    ur[j] = ar + br;
                    ui[j] = ai + bi;
                    let (dr, di) = (ar - br, ai - bi);
                    vr[j] = dr * wr[j] - di * wi[j];
                    vi[j] = dr * wi[j] + di * wr[j];
                }
            }
            h /= 2;
        }
        if m >= 4 {
            let done = lanes::radix4_dif(re, im);
            let rest = re[done..]
                .chunks_exact_mut(4)
                .zip(im[done..].chunks_exact_mut(4));
            for (r, i) in rest {
                // h = 2: (0, 2) with twiddle 1, (1, 3) with twiddle -i.
                let (a0r, a0i, a1r, a1i) = (r[0] + r[2], i[0] + i[2], r[1] + r[3], i[1] + i[3]);
                let (b0r, b0i) = (r[0] - r[2], i[0] - i[2]);
                let (b1r, b1i) = (i[1] - i[3], r[3] - r[1]);
                // h = 1: (0, 1) and (2, 3) with twiddle 1.
                r[0] = a0r + a1r;
                i[0] = a0i + a1i;
                r[1] = a0r - a1r;
                i[1] = a0i - a1i;
                r[2] = b0r + b1r;
                i[2] = b0i + b1i;
                r[3] = b0r - b1r;
                i[3] = b0i - b1i;
            }
        } else if m == 2 {
            let (ar, ai) = (re[0], im[0]);
            re[0] = ar + re[1];
            im[0] = ai + im[1];
            re[1] = ar - re[1];
            im[1] = ai - im[1];
        }
    }

    /// Inverse butterflies (conjugate twiddles), bit-reversed order in, natural order out,
    /// scaled by `m`.
    fn dit(&self, re: &mut [f64], im: &mut [f64]) {
        let m = re.len();
        let mut h = 1;
        if m >= 4 {
            let done = lanes::radix4_dit(re, im);
            let rest = re[done..]
                .chunks_exact_mut(4)
                .zip(im[done..].chunks_exact_mut(4));
            for (r, i) in rest {
                // h = 1: (0, 1) and (2, 3) with twiddle 1.
                let (a0r, a0i, a1r, a1i) = (r[0] + r[1], i[0] + i[1], r[0] - r[1], i[0] - i[1]);
                let (b0r, b0i, b1r, b1i) = (r[2] + r[3], i[2] + i[3], r[2] - r[3], i[2] - i[3]);
                // h = 2: (0, 2) with twiddle 1, (1, 3) with twiddle +i.
                let (c1r, c1i) = (-b1i, b1r);
                r[0] = a0r + b0r;
                i[0] = a0i + b0i;
                r[2] = a0r - b0r;
                i[2] = a0i - b0i;
                r[1] = a1r + c1r;
                i[1] = a1i + c1i;
                r[3] = a1r - c1r;
                i[3] = a1i - c1i;
            }
            h = 4;
        }
        while h < m {
            let (wr, wi) = (&self.tw_re[h..2 * h], &self.tw_im[h..2 * h]);
            for s in (0..m).step_by(2 * h) {
                let (ur, vr) = re[s..s + 2 * h].split_at_mut(h);
                let (ui, vi) = im[s..s + 2 * h].split_at_mut(h);
                let done = lanes::dit(ur, ui, vr, vi, wr, wi);
                for j in done..h {
                    let (br, bi) = (vr[j] * wr[j] + vi[j] * wi[j], vi[j] * wr[j] - vr[j] * wi[j]);
                    let (ar, ai) = (ur[j], ui[j]);
                    ur[j] = ar + br;
                    ui[j] = ai + bi;
                    vr[j] = ar - br;
                    vi[j] = ai - bi;
                }
            }
            h *= 2;
        }
    }

    /// `out += a * s` exactly, for a torus polynomial `a` and a binary polynomial `s` given by
    /// its spectrum. Key generation uses it: a plain f64 product of 64-bit words would round
    /// away the low bits of the GLWE noise, so `a` is split in 32-bit halves whose products
    /// stay under 2^53.
    pub fn mul_binary_add(&self, a: &[u64], s_spec: &[f64], out: &mut [u64]) {
        let n = a.len();
        let lo: Vec<i32> = a.iter().map(|&x| x as u32 as i32).collect();
        let hi: Vec<i32> = a
            .iter()
            .zip(&lo)
            .map(|(&x, &l)| (x.wrapping_sub(l as i64 as u64) >> 32) as u32 as i32)
            .collect();
        let mut spec = vec![0.0; n];
        let mut high = vec![0u64; n];
        for (half, dst) in [(&hi, &mut high[..]), (&lo, &mut out[..])] {
            self.forward_signed(half, &mut spec);
            let mut prod = vec![0.0; n];
            mul_acc(&mut prod, &spec, s_spec);
            self.backward_add(&mut prod, dst);
        }
        for (o, h) in out.iter_mut().zip(&high) {
            *o = o.wrapping_add(h << 32);
        }
    }
}

/// `out += a * b` pointwise on split spectra.
#[inline]
pub(crate) fn mul_acc(out: &mut [f64], a: &[f64], b: &[f64]) {
    let m = out.len() / 2;
    let (or, oi) = out.split_at_mut(m);
    let (ar, ai) = a[..2 * m].split_at(m);
    let (br, bi) = b[..2 * m].split_at(m);
    let done = lanes::mul_acc(or, oi, ar, ai, br, bi);
    for j in done..m {
        or[j] += ar[j] * br[j] - ai[j] * bi[j];
        oi[j] += ar[j] * bi[j] + ai[j] * br[j];
    }
}

/// The hot loops written with AVX2/FMA intrinsics: LLVM left them scalar (it cannot
/// prove the split real/imaginary slices disjoint once inlined). Each returns how many
/// leading elements it handled (a multiple of four); the callers finish the rest in plain
/// Rust, which is also the whole path on CPUs without AVX2.
mod lanes {
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    mod imp {
        use std::arch::x86_64::*;

        /// In f64s: 64 KB.
        const PREFETCH_DISTANCE: usize = 8192;

        pub fn mul_acc(
            or: &mut [f64],
            oi: &mut [f64],
            ar: &[f64],
            ai: &[f64],
            br: &[f64],
            bi: &[f64],
        ) -> usize {
            let m = or.len() & !3;
            assert!(
                oi.len() >= m && ar.len() >= m && ai.len() >= m && br.len() >= m && bi.len() >= m
            );
            // SAFETY: every access is below `m`, which all six lengths reach (asserted), and
            // the target features are enabled at compile time.
            unsafe {
                for j in (0..m).step_by(4) {
                    // The key (`b`) streams from memory: ask for it 64 KB ahead (half a GGSW of
                    // the gate preset). In A/B runs this took NAND from ~32 ms to ~29 ms; 16 KB
                    // gained half as much. Prefetches never fault, whatever the address.
                    if j % 8 == 0 {
                        let ahead = br.as_ptr().wrapping_add(j + PREFETCH_DISTANCE);
                        _mm_prefetch::<_MM_HINT_T0>(ahead as *const i8);
                        let ahead = bi.as_ptr().wrapping_add(j + PREFETCH_DISTANCE);
                        _mm_prefetch::<_MM_HINT_T0>(ahead as *const i8);
                    }
                    let (xr, xi) = (
                        _mm256_loadu_pd(ar.as_ptr().add(j)),
                        _mm256_loadu_pd(ai.as_ptr().add(j)),
                    );
                    let (yr, yi) = (
                        _mm256_loadu_pd(br.as_ptr().add(j)),
                        _mm256_loadu_pd(bi.as_ptr().add(j)),
                    );
                    let mut zr = _mm256_loadu_pd(or.as_ptr().add(j));
                    let mut zi = _mm256_loadu_pd(oi.as_ptr().add(j));
                    zr = _mm256_fnmadd_pd(xi, yi, _mm256_fmadd_pd(xr, yr, zr));
                    zi = _mm256_fmadd_pd(xi, yr, _mm256_fmadd_pd(xr, yi, zi));
                    _mm256_storeu_pd(or.as_mut_ptr().add(j), zr);
                    _mm256_storeu_pd(oi.as_mut_ptr().add(j), zi);
                }
            }
            m
        }

        /// The end of the inverse transform: multiply by the untwist, round, reduce modulo
        /// 2^64 (as `f64_to_torus`) and add to the two halves of a torus polynomial. AVX2 has
        /// no f64 -> i64 conversion, so the centred residue `v` (|v| <= 2^63) is split into
        /// `round(v / 2^32)` and the exact remainder, each converted through i32.
        pub fn untwist_add(
            re: &[f64],
            im: &[f64],
            ur: &[f64],
            ui: &[f64],
            lo: &mut [u64],
            hi: &mut [u64],
        ) -> usize {
            let m = re.len() & !3;
            assert!(
                im.len() >= m && ur.len() >= m && ui.len() >= m && lo.len() >= m && hi.len() >= m
            );
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
                for j in (0..m).step_by(4) {
                    let (xr, xi) = (
                        _mm256_loadu_pd(re.as_ptr().add(j)),
                        _mm256_loadu_pd(im.as_ptr().add(j)),
                    );
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

        /// Transposes four rows of four lanes (kept in registers).
        #[inline(always)]
        unsafe fn transpose(
            a: __m256d,
            b: __m256d,
            c: __m256d,
            d: __m256d,
        ) -> (__m256d, __m256d, __m256d, __m256d) {
            let (t0, t1) = (_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b));
            let (t2, t3) = (_mm256_unpacklo_pd(c, d), _mm256_unpackhi_pd(c, d));
            (
                _mm256_permute2f128_pd::<0x20>(t0, t2),
                _mm256_permute2f128_pd::<0x20>(t1, t3),
                _mm256_permute2f128_pd::<0x31>(t0, t2),
                _mm256_permute2f128_pd::<0x31>(t1, t3),
            )
        }

        /// Loads four groups of four (16 values from `x`) transposed: lane `g` of output `k`
        /// is element `k` of group `g`.
        #[inline(always)]
        unsafe fn load4(x: *const f64) -> (__m256d, __m256d, __m256d, __m256d) {
            transpose(
                _mm256_loadu_pd(x),
                _mm256_loadu_pd(x.add(4)),
                _mm256_loadu_pd(x.add(8)),
                _mm256_loadu_pd(x.add(12)),
            )
        }

        #[inline(always)]
        unsafe fn store4(x: *mut f64, v: (__m256d, __m256d, __m256d, __m256d)) {
            let (a, b, c, d) = transpose(v.0, v.1, v.2, v.3);
            _mm256_storeu_pd(x, a);
            _mm256_storeu_pd(x.add(4), b);
            _mm256_storeu_pd(x.add(8), c);
            _mm256_storeu_pd(x.add(12), d);
        }

        /// The fused last two forward stages (see `dif`), four groups at a time.
        pub fn radix4_dif(re: &mut [f64], im: &mut [f64]) -> usize {
            let m = re.len().min(im.len()) & !15;
            // SAFETY: every access is below `m`, within both slices.
            unsafe {
                for s in (0..m).step_by(16) {
                    let (x0, x1, x2, x3) = load4(re.as_ptr().add(s));
                    let (y0, y1, y2, y3) = load4(im.as_ptr().add(s));
                    let (a0r, a1r, b0r, b1r) = (
                        _mm256_add_pd(x0, x2),
                        _mm256_add_pd(x1, x3),
                        _mm256_sub_pd(x0, x2),
                        _mm256_sub_pd(y1, y3),
                    );
                    let (a0i, a1i, b0i, b1i) = (
                        _mm256_add_pd(y0, y2),
                        _mm256_add_pd(y1, y3),
                        _mm256_sub_pd(y0, y2),
                        _mm256_sub_pd(x3, x1),
                    );
                    let r = (
                        _mm256_add_pd(a0r, a1r),
                        _mm256_sub_pd(a0r, a1r),
                        _mm256_add_pd(b0r, b1r),
                        _mm256_sub_pd(b0r, b1r),
                    );
                    let i = (
                        _mm256_add_pd(a0i, a1i),
                        _mm256_sub_pd(a0i, a1i),
                        _mm256_add_pd(b0i, b1i),
                        _mm256_sub_pd(b0i, b1i),
                    );
                    store4(re.as_mut_ptr().add(s), r);
                    store4(im.as_mut_ptr().add(s), i);
                }
            }
            m
        }

        /// The fused first two inverse stages (see `dit`), four groups at a time.
        pub fn radix4_dit(re: &mut [f64], im: &mut [f64]) -> usize {
            let m = re.len().min(im.len()) & !15;
            // SAFETY: every access is below `m`, within both slices.
            unsafe {
                for s in (0..m).step_by(16) {
                    let (x0, x1, x2, x3) = load4(re.as_ptr().add(s));
                    let (y0, y1, y2, y3) = load4(im.as_ptr().add(s));
                    let (a0r, a0i, a1r, a1i) = (
                        _mm256_add_pd(x0, x1),
                        _mm256_add_pd(y0, y1),
                        _mm256_sub_pd(x0, x1),
                        _mm256_sub_pd(y0, y1),
                    );
                    let (b0r, b0i) = (_mm256_add_pd(x2, x3), _mm256_add_pd(y2, y3));
                    // (b1r, b1i) times +i is (-b1i, b1r).
                    let (c1r, c1i) = (_mm256_sub_pd(y3, y2), _mm256_sub_pd(x2, x3));
                    let r = (
                        _mm256_add_pd(a0r, b0r),
                        _mm256_add_pd(a1r, c1r),
                        _mm256_sub_pd(a0r, b0r),
                        _mm256_sub_pd(a1r, c1r),
                    );
                    let i = (
                        _mm256_add_pd(a0i, b0i),
                        _mm256_add_pd(a1i, c1i),
                        _mm256_sub_pd(a0i, b0i),
                        _mm256_sub_pd(a1i, c1i),
                    );
                    store4(re.as_mut_ptr().add(s), r);
                    store4(im.as_mut_ptr().add(s), i);
                }
            }
            m
        }

        /// Decimation-in-frequency butterflies `(u, v) <- (u + v, (u - v) w)`.
        pub fn dif(
            ur: &mut [f64],
            ui: &mut [f64],
            vr: &mut [f64],
            vi: &mut [f64],
            wr: &[f64],
            wi: &[f64],
        ) -> usize {
            let m = ur.len() & !3;
            assert!(
                ui.len() >= m && vr.len() >= m && vi.len() >= m && wr.len() >= m && wi.len() >= m
            );
            // SAFETY: as in `mul_acc`.
            unsafe {
                for j in (0..m).step_by(4) {
                    let (ar, ai) = (
                        _mm256_loadu_pd(ur.as_ptr().add(j)),
                        _mm256_loadu_pd(ui.as_ptr().add(j)),
                    );
                    let (br, bi) = (
                        _mm256_loadu_pd(vr.as_ptr().add(j)),
                        _mm256_loadu_pd(vi.as_ptr().add(j)),
                    );
                    let (tr, ti) = (
                        _mm256_loadu_pd(wr.as_ptr().add(j)),
                        _mm256_loadu_pd(wi.as_ptr().add(j)),
                    );
                    _mm256_storeu_pd(ur.as_mut_ptr().add(j), _mm256_add_pd(ar, br));
                    _mm256_storeu_pd(ui.as_mut_ptr().add(j), _mm256_add_pd(ai, bi));
                    let (dr, di) = (_mm256_sub_pd(ar, br), _mm256_sub_pd(ai, bi));
                    _mm256_storeu_pd(
                        vr.as_mut_ptr().add(j),
                        _mm256_fmsub_pd(dr, tr, _mm256_mul_pd(di, ti)),
                    );
                    _mm256_storeu_pd(
                        vi.as_mut_ptr().add(j),
                        _mm256_fmadd_pd(dr, ti, _mm256_mul_pd(di, tr)),
                    );
                }
            }
            m
        }

        /// Decimation-in-time butterflies with conjugate twiddles
        /// `(u, v) <- (u + v conj(w), u - v conj(w))`.
        pub fn dit(
            ur: &mut [f64],
            ui: &mut [f64],
            vr: &mut [f64],
            vi: &mut [f64],
            wr: &[f64],
            wi: &[f64],
        ) -> usize {
            let m = ur.len() & !3;
            assert!(
                ui.len() >= m && vr.len() >= m && vi.len() >= m && wr.len() >= m && wi.len() >= m
            );
            // SAFETY: as in `mul_acc`.
            unsafe {
                for j in (0..m).step_by(4) {
                    let (xr, xi) = (
                        _mm256_loadu_pd(vr.as_ptr().add(j)),
                        _mm256_loadu_pd(vi.as_ptr().add(j)),
                    );
                    let (tr, ti) = (
                        _mm256_loadu_pd(wr.as_ptr().add(j)),
                        _mm256_loadu_pd(wi.as_ptr().add(j)),
                    );
                    let br = _mm256_fmadd_pd(xr, tr, _mm256_mul_pd(xi, ti));
                    let bi = _mm256_fmsub_pd(xi, tr, _mm256_mul_pd(xr, ti));
                    let (ar, ai) = (
                        _mm256_loadu_pd(ur.as_ptr().add(j)),
                        _mm256_loadu_pd(ui.as_ptr().add(j)),
                    );
                    _mm256_storeu_pd(ur.as_mut_ptr().add(j), _mm256_add_pd(ar, br));
                    _mm256_storeu_pd(ui.as_mut_ptr().add(j), _mm256_add_pd(ai, bi));
                    _mm256_storeu_pd(vr.as_mut_ptr().add(j), _mm256_sub_pd(ar, br));
                    _mm256_storeu_pd(vi.as_mut_ptr().add(j), _mm256_sub_pd(ai, bi));
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
        pub fn radix4_dif(_: &mut [f64], _: &mut [f64]) -> usize {
            0
        }
        pub fn radix4_dit(_: &mut [f64], _: &mut [f64]) -> usize {
            0
        }
        pub fn untwist_add(
            _: &[f64],
            _: &[f64],
            _: &[f64],
            _: &[f64],
            _: &mut [u64],
            _: &mut [u64],
        ) -> usize {
            0
        }
        pub fn mul_acc(
            _: &mut [f64],
            _: &mut [f64],
            _: &[f64],
            _: &[f64],
            _: &[f64],
            _: &[f64],
        ) -> usize {
            0
        }
        pub fn dif(
            _: &mut [f64],
            _: &mut [f64],
            _: &mut [f64],
            _: &mut [f64],
            _: &[f64],
            _: &[f64],
        ) -> usize {
            0
        }
        pub fn dit(
            _: &mut [f64],
            _: &mut [f64],
            _: &mut [f64],
            _: &mut [f64],
            _: &[f64],
            _: &[f64],
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
            let (mut fa, mut fb) = (vec![0.0; n], vec![0.0; n]);
            fft.forward_torus(&a, &mut fa);
            fft.forward_signed(&b, &mut fb);
            let mut prod = vec![0.0; n];
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
        let mut spec = vec![0.0; n];
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

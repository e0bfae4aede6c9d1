//! Encoding vectors into plaintexts through the canonical embedding.
//!
//! Slot `j` holds the evaluation of the plaintext polynomial at `zeta^(5^j)`, `zeta` a primitive
//! `2N`-th complex root of unity, so the automorphism `X -> X^(5^k)` rotates the slots by `k`
//! and `X -> X^(-1)` conjugates them. The "special FFT" below evaluates at exactly those points
//! in `O(N log N)`.

use num_complex::Complex64;
use shroud_math::RnsPoly;

use crate::{CkksError, Params, Plaintext};

/// Encodes and decodes vectors of up to `N/2` complex (or real) values.
pub struct Encoder {
    params: Params,
    /// The special FFT's twiddle factors, stage after stage: the stage of butterfly span
    /// `len` (2, 4, ..., N/2) starts at `len/2 - 1` and holds, for `j < len/2`,
    /// `zeta^(5^j mod 4 len)` with `zeta = exp(2 pi i / (4 len))`. The inverse uses their
    /// conjugates.
    twiddles: Vec<Complex64>,
}

impl Encoder {
    /// The encoder of `params`, with the twiddle factors of its special FFT precomputed.
    pub fn new(params: &Params) -> Self {
        let slots = params.slots();
        let mut twiddles = Vec::with_capacity(slots);
        let mut len = 2;
        while len <= slots {
            let lenq = 4 * len as u64;
            let mut g = 1u64;
            for _ in 0..len / 2 {
                let angle = std::f64::consts::TAU * g as f64 / lenq as f64;
                twiddles.push(Complex64::from_polar(1.0, angle));
                g = g * 5 % lenq;
            }
            len *= 2;
        }
        Self {
            params: params.clone(),
            twiddles,
        }
    }

    /// The parameters it encodes for.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Encodes real values at the top level and the default scale.
    pub fn encode(&self, values: &[f64]) -> Result<Plaintext, CkksError> {
        self.encode_at(values, self.params.max_level(), self.params.default_scale())
    }

    /// Encodes real values at a chosen level and scale.
    pub fn encode_at(
        &self,
        values: &[f64],
        level: usize,
        scale: f64,
    ) -> Result<Plaintext, CkksError> {
        self.encode_complex_at(&complex(values), level, scale)
    }

    /// [`Self::encode_coefficients`] of real values.
    pub(crate) fn encode_real_coefficients(
        &self,
        values: &[f64],
        level: usize,
        scale: f64,
    ) -> Result<RnsPoly, CkksError> {
        self.encode_coefficients(&complex(values), level, scale)
    }

    /// Encodes complex values at a chosen level and scale; missing slots are zero.
    pub fn encode_complex_at(
        &self,
        values: &[Complex64],
        level: usize,
        scale: f64,
    ) -> Result<Plaintext, CkksError> {
        let mut poly = self.encode_coefficients(values, level, scale)?;
        poly.ntt_forward(&self.params.level_ctx(level)?.q);
        Ok(Plaintext {
            params_id: self.params.id(),
            level,
            scale,
            poly,
        })
    }

    /// The plaintext polynomial of `values` in coefficient form, before its transform: an
    /// encryption adds its error here and transforms both at once.
    pub(crate) fn encode_coefficients(
        &self,
        values: &[Complex64],
        level: usize,
        scale: f64,
    ) -> Result<RnsPoly, CkksError> {
        let slots = self.params.slots();
        if values.len() > slots {
            return Err(CkksError::TooManyValues {
                given: values.len(),
                slots,
            });
        }
        self.params.check_scale(level, scale)?;
        if let Some(bad) = values
            .iter()
            .find(|v| !v.re.is_finite() || !v.im.is_finite())
        {
            return Err(CkksError::ValueOutOfRange(bad.re));
        }
        let lc = self.params.level_ctx(level)?;
        let mut z = vec![Complex64::new(0.0, 0.0); slots];
        z[..values.len()].copy_from_slice(values);
        self.special_ifft(&mut z);
        let half = self.params.n() / 2;
        let mut coeffs = vec![0f64; self.params.n()];
        for (i, v) in z.iter().enumerate() {
            coeffs[i] = (v.re * scale).round();
            coeffs[i + half] = (v.im * scale).round();
        }
        // A coefficient must stay below Q/2 to be recoverable, with one bit of margin for noise.
        let log_q: f64 = lc.q.moduli().map(|m| (m.value() as f64).log2()).sum();
        let max = coeffs.iter().fold(0f64, |a, c| a.max(c.abs()));
        if max >= 2f64.powf(log_q - 2.0) {
            let worst = values.iter().fold(0f64, |a, v| a.max(v.norm()));
            return Err(CkksError::ValueOutOfRange(worst));
        }
        if max < I64_BOUND {
            // The usual case: every coefficient is a machine integer, converted once.
            let ints: Vec<i64> = coeffs.iter().map(|&c| c as i64).collect();
            return Ok(RnsPoly::from_signed(&lc.q, &ints));
        }
        let mut poly = RnsPoly::zero(self.params.n(), level + 1);
        for (i, m) in lc.q.moduli().enumerate() {
            for (o, &c) in poly.limb_mut(i).iter_mut().zip(&coeffs) {
                *o = reduce_f64(m, c);
            }
        }
        Ok(poly)
    }

    /// Decodes to the real parts of the slots.
    pub fn decode(&self, pt: &Plaintext) -> Result<Vec<f64>, CkksError> {
        Ok(self.decode_complex(pt)?.into_iter().map(|z| z.re).collect())
    }

    /// Decodes all `N/2` complex slots.
    pub fn decode_complex(&self, pt: &Plaintext) -> Result<Vec<Complex64>, CkksError> {
        self.params.check_same(pt.params_id)?;
        let lc = self.params.level_ctx(pt.level)?;
        let mut poly = pt.poly.clone();
        poly.ntt_backward(&lc.q);
        let coeffs = lc.composer.compose(poly.data());
        let half = self.params.n() / 2;
        let mut z: Vec<Complex64> = (0..half)
            .map(|i| Complex64::new(coeffs[i] / pt.scale, coeffs[i + half] / pt.scale))
            .collect();
        self.special_fft(&mut z);
        Ok(z)
    }

    /// The twiddle factor of butterfly `j` in the stage of span `len` (a power of two from 2
    /// to `N/2`, `j < len/2`): `zeta^(5^j mod 4 len)`, `zeta = exp(2 pi i / (4 len))`.
    pub(crate) fn twiddle(&self, len: usize, j: usize) -> Complex64 {
        self.twiddles
            .get(len / 2 - 1 + j)
            .copied()
            .unwrap_or(Complex64::new(0.0, 0.0))
    }

    /// Evaluates the polynomial whose coefficients are packed in `z` at the slot points. Any
    /// power-of-two length up to `N/2` is the encoding of that many slots (sparse packing).
    pub(crate) fn special_fft(&self, z: &mut [Complex64]) {
        let size = z.len();
        bit_reverse(z);
        let mut len = 2;
        while len <= size {
            let lenh = len / 2;
            let tw = &self.twiddles[lenh - 1..len - 1];
            for chunk in z.chunks_exact_mut(len) {
                let (lo, hi) = chunk.split_at_mut(lenh);
                for ((u, v), w) in lo.iter_mut().zip(hi.iter_mut()).zip(tw) {
                    let t = *v * w;
                    (*u, *v) = (*u + t, *u - t);
                }
            }
            len *= 2;
        }
    }

    /// Inverse of [`Self::special_fft`].
    pub(crate) fn special_ifft(&self, z: &mut [Complex64]) {
        let size = z.len();
        let mut len = size;
        while len >= 2 {
            let lenh = len / 2;
            let tw = &self.twiddles[lenh - 1..len - 1];
            for chunk in z.chunks_exact_mut(len) {
                let (lo, hi) = chunk.split_at_mut(lenh);
                for ((u, v), w) in lo.iter_mut().zip(hi.iter_mut()).zip(tw) {
                    (*u, *v) = (*u + *v, (*u - *v) * w.conj());
                }
            }
            len /= 2;
        }
        bit_reverse(z);
        let inv = 1.0 / size as f64;
        z.iter_mut().for_each(|v| *v *= inv);
    }
}

pub(crate) fn bit_reverse<T>(a: &mut [T]) {
    let bits = a.len().trailing_zeros();
    if bits == 0 {
        return;
    }
    for i in 0..a.len() {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if i < j {
            a.swap(i, j);
        }
    }
}

/// Exact residue of an integral `f64` of any magnitude: `c = mantissa * 2^exp`.
/// Integral `f64` values below this convert to `i64` exactly.
const I64_BOUND: f64 = 9.2e18;

fn reduce_f64(m: &shroud_math::Modulus, c: f64) -> u64 {
    if c.abs() < I64_BOUND {
        return m.reduce_i64(c as i64);
    }
    let bits = c.abs().to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1075;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    let r = m.mul(m.reduce(mantissa), m.pow(2, exp as u64));
    if c < 0.0 {
        m.neg(r)
    } else {
        r
    }
}

/// Real values as complex slots.
fn complex(values: &[f64]) -> Vec<Complex64> {
    values.iter().map(|&v| Complex64::new(v, 0.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    #[test]
    fn roundtrip_complex_and_large_scale() {
        let params = Params::new_insecure(presets::insecure_test_n12()).unwrap();
        let enc = Encoder::new(&params);
        let z: Vec<Complex64> = (0..params.slots())
            .map(|i| Complex64::new((i as f64).sin(), (i as f64 * 0.3).cos()))
            .collect();
        for scale in [2f64.powi(30), 2f64.powi(40), 2f64.powi(100)] {
            let pt = enc
                .encode_complex_at(&z, params.max_level(), scale)
                .unwrap();
            let back = enc.decode_complex(&pt).unwrap();
            let err = z
                .iter()
                .zip(&back)
                .map(|(a, b)| (a - b).norm())
                .fold(0.0, f64::max);
            // Rounding N coefficients to integers perturbs each slot by about sqrt(N) / scale.
            let bound = 4.0 * (params.n() as f64).sqrt() / scale + 1e-12;
            assert!(err < bound, "scale {scale}: error {err} above {bound}");
        }
    }

    #[test]
    fn encode_rejects_bad_input() {
        let params = Params::new_insecure(presets::insecure_test_n12()).unwrap();
        let enc = Encoder::new(&params);
        assert!(matches!(
            enc.encode(&vec![0.0; params.slots() + 1]),
            Err(CkksError::TooManyValues { .. })
        ));
        assert!(matches!(
            enc.encode(&[f64::NAN]),
            Err(CkksError::ValueOutOfRange(_))
        ));
        assert!(matches!(
            enc.encode_at(&[1e30], 0, 2f64.powi(40)),
            Err(CkksError::ValueOutOfRange(_))
        ));
        assert!(matches!(
            enc.encode_at(&[1.0], 9, 2f64.powi(40)),
            Err(CkksError::LevelOutOfRange { .. })
        ));
        assert!(enc.encode_at(&[1.0], 0, 0.0).is_err());
    }
}

//! Scaling layers: a running maximum learned during training, and the secure scale it turns
//! into at inference, an integer multiplication followed by dropping low bits.

use serde::{Deserialize, Serialize};

/// `M := rho M + (1 - rho) max|A|` over training batches; the first batch sets `M`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunningMax {
    /// `rho`: the weight kept of the previous value, between 0 and 1 (the closer to 1, the
    /// slower `M` moves).
    pub rho: f32,
    /// `M`, or `None` before the first batch.
    pub value: Option<f32>,
}

impl RunningMax {
    /// A running maximum with momentum `rho` and no value yet.
    pub fn new(rho: f32) -> Self {
        Self { rho, value: None }
    }

    /// Folds in the largest magnitude `max|A|` of one batch's activations.
    pub fn update(&mut self, batch_max: f32) {
        self.value = Some(match self.value {
            None => batch_max,
            Some(m) => self.rho * m + (1.0 - self.rho) * batch_max,
        });
    }
}

/// `x >> k` rounding to nearest, ties up (toward +infinity): `(x + 2^(k-1)) >> k` with an
/// arithmetic shift. On two's-complement bits this is adding a constant and dropping the `k`
/// low bits.
pub fn round_shift(x: i64, k: u32) -> i64 {
    if k == 0 {
        x
    } else {
        (x + (1 << (k - 1))) >> k
    }
}

/// Multiplication by `multiplier / 2^shift`: `round_shift(x * multiplier, shift)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rescale {
    /// The integer factor `m`.
    pub multiplier: i64,
    /// The number `k` of low bits dropped (with rounding) after the product.
    pub shift: u32,
}

impl Rescale {
    /// The closest `m / 2^k` to `factor > 0` with `m` of `bits` significant bits: `k` is
    /// the largest for which `factor * 2^k < 2^bits` (0 if `factor` is that large already),
    /// and `m = round(factor * 2^k)`, at least 1.
    pub fn approximate(factor: f64, bits: u32) -> Self {
        assert!(
            factor > 0.0 && factor.is_finite(),
            "scale factor {factor} must be positive and finite"
        );
        let limit = (1u64 << bits) as f64;
        let mut shift = 0;
        // Shifts stop at 40: products of accumulators below 2^22 stay below 2^63.
        while shift < 40 && factor * 2f64.powi(shift as i32 + 1) < limit {
            shift += 1;
        }
        Self {
            multiplier: ((factor * 2f64.powi(shift as i32)).round() as i64).max(1),
            shift,
        }
    }

    /// `x` times the factor, rounded to the nearest integer (ties up).
    pub fn apply(&self, x: i64) -> i64 {
        round_shift(x * self.multiplier, self.shift)
    }

    /// The real factor applied, `multiplier / 2^shift`.
    pub fn factor(&self) -> f64 {
        self.multiplier as f64 / 2f64.powi(self.shift as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_max_by_hand() {
        let mut m = RunningMax::new(0.9);
        assert_eq!(m.value, None);
        m.update(2.0);
        assert_eq!(m.value, Some(2.0));
        m.update(4.0); // 0.9 * 2 + 0.1 * 4
        assert!((m.value.unwrap() - 2.2).abs() < 1e-6);
        m.update(0.0); // 0.9 * 2.2
        assert!((m.value.unwrap() - 1.98).abs() < 1e-6);
    }

    #[test]
    fn round_shift_rounds_ties_up() {
        let cases = [
            (5, 1, 3),
            (4, 1, 2),
            (-5, 1, -2),
            (-6, 1, -3),
            (-7, 2, -2),
            (6, 2, 2),
        ];
        for (x, k, want) in cases {
            assert_eq!(round_shift(x, k), want, "{x} >> {k}");
        }
        assert_eq!(round_shift(-3, 0), -3);
        // Nearest for every non-tie.
        for x in -100i64..100 {
            let exact = x as f64 / 8.0;
            assert!((round_shift(x, 3) as f64 - exact).abs() <= 0.5);
        }
    }

    #[test]
    fn rescale_approximates_the_factor_with_bits_of_precision() {
        // 7 / 100 * 2^k < 16 up to k = 7: m = round(8.96) = 9, 9 / 128 = 0.0703.
        let r = Rescale::approximate(0.07, 4);
        assert_eq!((r.multiplier, r.shift), (9, 7));
        assert_eq!(r.apply(100), 7); // (900 + 64) >> 7
        assert_eq!(r.apply(-100), -7); // (-900 + 64) >> 7 = floor(-6.53)
        for bits in 2..=8 {
            for f in [0.001, 0.37, 1.0, 3.3, 1000.0] {
                let r = Rescale::approximate(f, bits);
                let rel = (r.factor() - f).abs() / f;
                assert!(rel <= 1.0 / (1 << (bits - 1)) as f64, "{f} {bits}: {r:?}");
            }
        }
        assert_eq!(Rescale::approximate(1000.0, 4).shift, 0);
    }
}

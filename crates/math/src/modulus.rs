//! Arithmetic modulo a word-sized prime.
//!
//! Every RNS limb of a Shroud polynomial lives modulo one [`Modulus`]. Moduli are below
//! 2^62 so that sums of two residues never overflow a `u64` and so that the NTT backend can use
//! its vectorized lazy-reduction path.

use serde::{Deserialize, Serialize};

use crate::MathError;

/// Largest modulus size accepted, in bits.
pub const MAX_MODULUS_BITS: u32 = 61;

/// A modulus `q < 2^61` with the constants of its three reductions: Barrett for products of
/// two residues (`floor(4^k / q)`, k the bit size), a one-word Barrett for any `u64`
/// (`floor(2^64 / q)`) and for any `u128` (`floor(2^128 / q)`), and Montgomery (`-q^{-1} mod
/// 2^64`) for long lazy sums of products.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Modulus {
    value: u64,
    bits: u32,
    barrett: u64,
    ratio64: u64,
    ratio_hi: u64,
    ratio_lo: u64,
    mont_neg_inv: u64,
}

impl TryFrom<u64> for Modulus {
    type Error = MathError;
    fn try_from(value: u64) -> Result<Self, MathError> {
        Modulus::new(value)
    }
}

impl From<Modulus> for u64 {
    fn from(m: Modulus) -> u64 {
        m.value
    }
}

impl Modulus {
    /// Builds a modulus; rejects 0, 1 and values of more than [`MAX_MODULUS_BITS`] bits.
    pub fn new(value: u64) -> Result<Self, MathError> {
        if value < 2 || value >> MAX_MODULUS_BITS != 0 {
            return Err(MathError::InvalidModulus(value));
        }
        // u128::MAX / q is floor(2^128 / q) or one less (when q is a power of two); the
        // correction steps of the reductions absorb the difference. Likewise for 2^64.
        let ratio = u128::MAX / value as u128;
        let bits = 64 - value.leading_zeros();
        let barrett = ((1u128 << (2 * bits)) / value as u128) as u64;
        // Newton iteration for q^{-1} mod 2^64 (q odd); even moduli get no Montgomery form.
        let mut inv = 1u64;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(value.wrapping_mul(inv)));
        }
        Ok(Self {
            value,
            bits,
            barrett,
            ratio64: u64::MAX / value,
            ratio_hi: (ratio >> 64) as u64,
            ratio_lo: ratio as u64,
            mont_neg_inv: inv.wrapping_neg(),
        })
    }

    /// The modulus `q` itself.
    #[inline(always)]
    pub fn value(&self) -> u64 {
        self.value
    }

    /// Number of significant bits of the modulus.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// `a + b mod q` for residues `a, b < q`.
    #[inline(always)]
    pub fn add(&self, a: u64, b: u64) -> u64 {
        let s = a + b;
        if s >= self.value {
            s - self.value
        } else {
            s
        }
    }

    /// `a - b mod q` for residues `a, b < q`.
    #[inline(always)]
    pub fn sub(&self, a: u64, b: u64) -> u64 {
        if a >= b {
            a - b
        } else {
            a + self.value - b
        }
    }

    /// `-a mod q` for a residue `a < q`; zero stays zero.
    #[inline(always)]
    pub fn neg(&self, a: u64) -> u64 {
        if a == 0 {
            0
        } else {
            self.value - a
        }
    }

    /// Reduces any 128-bit value by Barrett reduction with the 128-bit constant.
    #[inline(always)]
    pub fn reduce_u128(&self, x: u128) -> u64 {
        let x0 = x as u64;
        let x1 = (x >> 64) as u64;
        let carry = ((x0 as u128 * self.ratio_lo as u128) >> 64) as u64;
        let mid = x0 as u128 * self.ratio_hi as u128 + carry as u128;
        let mid2 = x1 as u128 * self.ratio_lo as u128 + (mid as u64) as u128;
        let quotient = x1
            .wrapping_mul(self.ratio_hi)
            .wrapping_add((mid >> 64) as u64)
            .wrapping_add((mid2 >> 64) as u64);
        let mut r = x0.wrapping_sub(quotient.wrapping_mul(self.value));
        // The estimated quotient is short by at most 2.
        while r >= self.value {
            r -= self.value;
        }
        r
    }

    /// `x mod q` for any word, with one high multiplication.
    #[inline(always)]
    pub fn reduce(&self, x: u64) -> u64 {
        let q_est = ((x as u128 * self.ratio64 as u128) >> 64) as u64;
        let r = x - q_est * self.value;
        if r >= self.value {
            r - self.value
        } else {
            r
        }
    }

    /// Reduces a signed integer into `[0, q)`.
    #[inline(always)]
    pub fn reduce_i64(&self, x: i64) -> u64 {
        let r = self.reduce(x.unsigned_abs());
        if x < 0 {
            self.neg(r)
        } else {
            r
        }
    }

    /// `a * b mod q` for `a, b < 2^k` (k the modulus' bit size), by Barrett reduction with a
    /// shifted one-word constant (Handbook of Applied Cryptography, 14.42): two wide and one
    /// low multiplication.
    #[inline(always)]
    pub fn mul(&self, a: u64, b: u64) -> u64 {
        debug_assert!(a >> self.bits == 0 && b >> self.bits == 0);
        let x = a as u128 * b as u128;
        let (lo, hi) = (x as u64, (x >> 64) as u64);
        // Shifts by 1..=62 spelled on words: u128 shifts by a variable amount are slower.
        let s1 = self.bits - 1;
        let q1 = (hi << (64 - s1)) | (lo >> s1);
        let t = q1 as u128 * self.barrett as u128;
        let s2 = self.bits + 1;
        let q3 = (((t >> 64) as u64) << (64 - s2)) | ((t as u64) >> s2);
        let mut r = (x as u64).wrapping_sub(q3.wrapping_mul(self.value));
        if r >= self.value {
            r -= self.value;
        }
        if r >= self.value {
            r -= self.value;
        }
        r
    }

    /// `x * 2^-64 mod q` for `x < q * 2^64` (Montgomery reduction; `q` odd).
    #[inline(always)]
    pub fn mont_reduce(&self, x: u128) -> u64 {
        debug_assert!(x < (self.value as u128) << 64);
        let m = (x as u64).wrapping_mul(self.mont_neg_inv);
        let t = ((x + m as u128 * self.value as u128) >> 64) as u64;
        if t >= self.value {
            t - self.value
        } else {
            t
        }
    }

    /// `a * 2^64 mod q`: multiplying by this and then Montgomery-reducing gives `a * b mod q`.
    pub fn to_mont(&self, a: u64) -> u64 {
        self.reduce_u128((a as u128) << 64)
    }

    /// `sum(a_i * b_i) mod q` for `a_i < 2^61` and `b_i` in Montgomery form: lazy 128-bit
    /// sums of at most 8 products stay below `q * 2^64`, so one Montgomery step reduces each
    /// group.
    #[inline(always)]
    pub fn dot_mont(&self, a: impl Iterator<Item = u64>, b_mont: impl Iterator<Item = u64>) -> u64 {
        let (mut acc, mut terms, mut total) = (0u128, 0, 0u64);
        for (x, y) in a.zip(b_mont) {
            acc += x as u128 * y as u128;
            terms += 1;
            if terms == 8 {
                total = self.add(total, self.mont_reduce(acc));
                (acc, terms) = (0, 0);
            }
        }
        self.add(total, self.mont_reduce(acc))
    }

    /// This modulus in 64-bit lanes, when it has at most 30 bits.
    #[inline(always)]
    pub fn narrow(&self) -> Option<NarrowModulus> {
        (self.bits <= NarrowModulus::MAX_BITS).then(|| NarrowModulus {
            value: self.value,
            low_shift: self.bits - 1,
            high_shift: self.bits + 1,
            barrett: self.barrett,
        })
    }

    /// `floor(w * 2^64 / q)`, the precomputed quotient that makes [`Self::mul_shoup`] a pair of
    /// word multiplications when one factor is a constant.
    #[inline(always)]
    pub fn shoup(&self, w: u64) -> u64 {
        (((w as u128) << 64) / self.value as u128) as u64
    }

    /// `a * w mod q` for a constant `w < q` with `w_shoup = self.shoup(w)`; `a` may be any u64.
    #[inline(always)]
    pub fn mul_shoup(&self, a: u64, w: u64, w_shoup: u64) -> u64 {
        let r = self.mul_shoup_lazy(a, w, w_shoup);
        if r >= self.value {
            r - self.value
        } else {
            r
        }
    }

    /// Like [`Self::mul_shoup`] but leaves the result in `[0, 2q)`.
    #[inline(always)]
    pub fn mul_shoup_lazy(&self, a: u64, w: u64, w_shoup: u64) -> u64 {
        let q_est = ((a as u128 * w_shoup as u128) >> 64) as u64;
        a.wrapping_mul(w)
            .wrapping_sub(q_est.wrapping_mul(self.value))
    }

    /// `base^exp mod q` by square-and-multiply; `base` may be any word, and `x^0` is 1.
    pub fn pow(&self, mut base: u64, mut exp: u64) -> u64 {
        let mut acc = 1 % self.value;
        base %= self.value;
        while exp > 0 {
            if exp & 1 == 1 {
                acc = self.mul(acc, base);
            }
            base = self.mul(base, base);
            exp >>= 1;
        }
        acc
    }

    /// Multiplicative inverse, or an error when `a` shares a factor with the modulus.
    pub fn inv(&self, a: u64) -> Result<u64, MathError> {
        let (mut r0, mut r1) = (self.value as i128, (a % self.value) as i128);
        let (mut t0, mut t1) = (0i128, 1i128);
        while r1 != 0 {
            let q = r0 / r1;
            (r0, r1) = (r1, r0 - q * r1);
            (t0, t1) = (t1, t0 - q * t1);
        }
        if r0 != 1 {
            return Err(MathError::NotInvertible {
                value: a,
                modulus: self.value,
            });
        }
        Ok(t0.rem_euclid(self.value as i128) as u64)
    }

    /// Centered representative in `(-q/2, q/2]`.
    #[inline(always)]
    pub fn center(&self, a: u64) -> i64 {
        if a > self.value / 2 {
            a as i64 - self.value as i64
        } else {
            a as i64
        }
    }
}

/// A modulus of at most 30 bits, for bulk loops over a limb: a product of two residues fits
/// in 64 bits and every multiplication below has 32-bit operands, so the loops vectorize (AVX2
/// multiplies 32 x 32 -> 64 bits in four lanes) where [`Modulus`]'s 128-bit products do not.
/// The reductions are the same algorithms in one word.
#[derive(Clone, Copy, Debug)]
pub struct NarrowModulus {
    value: u64,
    low_shift: u32,
    high_shift: u32,
    /// `floor(4^k / q)`, below `2^(k+1)`.
    barrett: u64,
}

impl NarrowModulus {
    /// Largest size of a narrow modulus, in bits: up to it, every multiplication in the
    /// reductions has operands of at most 32 bits.
    pub const MAX_BITS: u32 = 30;

    /// `x mod q` for `x < 2^(2k+1)` (a product of two residues, or the sum of two products),
    /// by Barrett reduction (HAC 14.42): the estimate is short by at most three.
    #[inline(always)]
    pub fn reduce_product(&self, x: u64) -> u64 {
        let q_est = wide(x >> self.low_shift, self.barrett) >> self.high_shift;
        let mut r = x.wrapping_sub(wide(q_est, self.value));
        for _ in 0..3 {
            r = r.min(r.wrapping_sub(self.value));
        }
        r
    }

    /// `a * b mod q` for residues `a, b`.
    #[inline(always)]
    pub fn mul(&self, a: u64, b: u64) -> u64 {
        self.reduce_product(wide(a, b))
    }

    /// `a - b mod q` for residues, without a branch.
    #[inline(always)]
    pub fn sub(&self, a: u64, b: u64) -> u64 {
        let d = a.wrapping_sub(b);
        d.min(d.wrapping_add(self.value))
    }

    /// `a * b + c * d mod q` for residues, with one reduction.
    #[inline(always)]
    pub fn mul_add_mul(&self, a: u64, b: u64, c: u64, d: u64) -> u64 {
        self.reduce_product(wide(a, b) + wide(c, d))
    }

    /// `floor(w * 2^32 / q)` for a constant `w < q`: [`Self::mul_shoup`]'s quotient.
    pub fn shoup(&self, w: u64) -> u64 {
        (w << 32) / self.value
    }

    /// `a * w mod q` for `a < 2^32` and a constant `w < q` with `w_shoup = self.shoup(w)`.
    #[inline(always)]
    pub fn mul_shoup(&self, a: u64, w: u64, w_shoup: u64) -> u64 {
        let q_est = wide(a, w_shoup) >> 32;
        let r = wide(a, w).wrapping_sub(wide(q_est, self.value));
        r.min(r.wrapping_sub(self.value))
    }
}

/// The product of the low 32 bits of two words: spelled so that the compiler sees 32-bit
/// operands and emits the vector 32 x 32 -> 64-bit multiplication.
#[inline(always)]
fn wide(a: u64, b: u64) -> u64 {
    (a as u32 as u64) * (b as u32 as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_reductions_agree_with_the_wide_ones() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        for q in [
            12289u64,
            268_369_921,
            536_813_569,
            (1 << 30) - 35,
            1_073_479_681,
        ] {
            let m = Modulus::new(q).unwrap();
            let nm = m.narrow().expect("at most 30 bits");
            let k = m.bits();
            for _ in 0..20_000 {
                let (a, b) = (rng.gen_range(0..q), rng.gen_range(0..q));
                assert_eq!(nm.mul(a, b), m.mul(a, b), "{a} * {b} mod {q}");
                assert_eq!(nm.sub(a, b), m.sub(a, b));
                assert_eq!(nm.mul_add_mul(a, b, b, a), m.add(m.mul(a, b), m.mul(b, a)));
                let x = rng.gen_range(0..1u64 << (2 * k + 1));
                assert_eq!(nm.reduce_product(x), x % q, "{x} mod {q}");
                let w = rng.gen_range(0..q);
                let big = rng.gen::<u32>() as u64;
                assert_eq!(nm.mul_shoup(big, w, nm.shoup(w)), big * w % q);
            }
            for x in [
                0,
                q - 1,
                q,
                (q - 1) * (q - 1),
                2 * (q - 1) * (q - 1),
                (1 << (2 * k + 1)) - 1,
            ] {
                assert_eq!(nm.reduce_product(x), x % q);
            }
        }
        assert!(Modulus::new((1 << 31) - 1).unwrap().narrow().is_none());
    }
    use proptest::prelude::*;

    const Q: u64 = (1 << 61) - 1;

    proptest! {
        #[test]
        fn mul_matches_u128(a in 0..Q, b in 0..Q) {
            let m = Modulus::new(Q).unwrap();
            prop_assert_eq!(m.mul(a, b), ((a as u128 * b as u128) % Q as u128) as u64);
        }

        #[test]
        fn reduce_any_u128(x: u128, q in 2u64..(1 << 61)) {
            let m = Modulus::new(q).unwrap();
            prop_assert_eq!(m.reduce_u128(x), (x % q as u128) as u64);
        }

        #[test]
        fn shoup_matches_mul(a: u64, w in 0..Q) {
            let m = Modulus::new(Q).unwrap();
            prop_assert_eq!(m.mul_shoup(a, w, m.shoup(w)), m.mul(m.reduce(a), w));
        }

        #[test]
        fn montgomery_dot_products(a in proptest::collection::vec(0..Q, 1..20), b in proptest::collection::vec(0..Q, 20)) {
            let m = Modulus::new(Q).unwrap();
            let want = a.iter().zip(&b).fold(0u64, |acc, (x, y)| m.add(acc, m.mul(*x, *y)));
            let got = m.dot_mont(a.iter().copied(), b.iter().map(|&y| m.to_mont(y)));
            prop_assert_eq!(got, want);
        }

        #[test]
        fn small_and_mid_moduli(a: u64, b: u64, q in 2u64..(1 << 61)) {
            let m = Modulus::new(q).unwrap();
            let (a, b) = (a % q, b % q);
            prop_assert_eq!(m.mul(a, b), ((a as u128 * b as u128) % q as u128) as u64);
            prop_assert_eq!(m.reduce(a.wrapping_mul(b)), a.wrapping_mul(b) % q);
        }

        #[test]
        fn inverse_inverts(a in 1..Q) {
            let m = Modulus::new(Q).unwrap();
            prop_assert_eq!(m.mul(a, m.inv(a).unwrap()), 1);
        }
    }

    #[test]
    fn rejects_bad_moduli() {
        assert!(Modulus::new(0).is_err());
        assert!(Modulus::new(1).is_err());
        assert!(Modulus::new(1 << 62).is_err());
        assert!(Modulus::new(6).unwrap().inv(4).is_err());
    }

    #[test]
    fn signed_reduction_and_centering() {
        let m = Modulus::new(97).unwrap();
        assert_eq!(m.reduce_i64(-1), 96);
        assert_eq!(m.reduce_i64(-200), 91);
        assert_eq!(m.center(96), -1);
        assert_eq!(m.center(48), 48);
    }
}

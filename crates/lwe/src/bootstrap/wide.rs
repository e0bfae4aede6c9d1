//! Exact arithmetic on integers wider than a bootstrap's message space.
//!
//! A lookup table reads only the top few bits of a phase, so a 16-bit integer cannot enter one
//! directly. [`WideCiphertext`] keeps a signed integer `v` at scale `2^(64 - width)` together
//! with the interval `v` is known to lie in and a bound on its noise; sums with plaintext
//! weights are exact as long as the interval fits `width` bits. Then:
//!
//! - [`ServerKey::floor_shift`] computes `floor(v / 2^r)` exactly by clearing low bits in
//!   rounds of up to `message_bits + 1` bits. A round multiplies the ciphertext by a power of
//!   two so that its lowest `d` bits become the top of the torus, bootstraps the top one of
//!   them with a sign table (the only function the negacyclic rotation computes on a full
//!   torus), subtracts it, then bootstraps the remaining `d - 1` bits, which now have a zero
//!   padding bit, with an ordinary table, and subtracts those. Two bootstraps per round.
//! - [`ServerKey::clamped_table`] computes `T[clamp(v, 0, 2^w - 1)]`: the window digit
//!   `l = v mod 2^w` comes out of one round; the rest `h = floor(v / 2^w)` is compared with 0
//!   and 1 by sign bootstraps (after further rounds if `h` is too wide for a sign's margin);
//!   a last table reads `l` and a saturation flag together (`w + 1` bits) and a correction
//!   adds the top value when `h >= 1`.
//!
//! Every bootstrap's failure probability is checked against [`MAX_LOG2_FAILURE`] from the
//! tracked noise before it runs; an operation that cannot meet it returns an error.

use super::keys::ServerKey;
use super::lwe::LweCiphertext;
use super::pbs::{Lut, MAX_LOG2_FAILURE};
use crate::LweError;

/// Bits of the smallest two's-complement register holding every integer of `[lo, hi]`.
pub(crate) fn signed_bits(lo: i64, hi: i64) -> u32 {
    let magnitude = |v: i64| if v < 0 { !v } else { v };
    65 - magnitude(lo).max(magnitude(hi)).leading_zeros()
}

/// A signed integer `v` in a known interval, encrypted at scale `2^(64 - width)`.
#[derive(Clone, Debug)]
pub struct WideCiphertext {
    ct: LweCiphertext,
    width: u32,
    lo: i64,
    hi: i64,
    /// Noise variance as a fraction of the torus, squared.
    variance: f64,
}

impl WideCiphertext {
    /// Wraps `ct`, an encryption of `v` in `[lo, hi]` at scale `2^(64 - width)` whose noise
    /// has variance at most `variance`; errors if the interval does not fit `width` bits.
    pub fn new(
        ct: LweCiphertext,
        width: u32,
        lo: i64,
        hi: i64,
        variance: f64,
    ) -> Result<Self, LweError> {
        if !(2..=62).contains(&width) || lo > hi || signed_bits(lo, hi) > width {
            return Err(LweError::InvalidParams(format!(
                "[{lo}, {hi}] does not fit a {width}-bit wide integer"
            )));
        }
        Ok(Self {
            ct,
            width,
            lo,
            hi,
            variance,
        })
    }

    /// `sum_i k_i * x_i + constant`, all terms at one width; the interval is tracked exactly.
    pub fn weighted_sum<'a>(
        terms: impl IntoIterator<Item = (&'a WideCiphertext, i64)> + Clone,
        constant: i64,
    ) -> Result<Self, LweError> {
        let width = terms
            .clone()
            .into_iter()
            .next()
            .ok_or(LweError::EmptySum)?
            .0
            .width;
        let (mut lo, mut hi, mut variance) = (constant, constant, 0.0);
        for (x, k) in terms.clone() {
            if x.width != width {
                return Err(LweError::ParamsMismatch);
            }
            let (a, b) = (x.lo * k, x.hi * k);
            lo += a.min(b);
            hi += a.max(b);
            variance += (k as f64).powi(2) * x.variance;
        }
        let ct = LweCiphertext::weighted_sum(terms.into_iter().map(|(x, k)| (&x.ct, k)))?;
        let ct = ct.with_body_added((constant as u64).wrapping_shl(64 - width));
        Self::new(ct, width, lo, hi, variance)
    }

    pub fn ciphertext(&self) -> &LweCiphertext {
        &self.ct
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    /// The interval `v` lies in.
    pub fn range(&self) -> (i64, i64) {
        (self.lo, self.hi)
    }

    pub fn variance(&self) -> f64 {
        self.variance
    }

    /// The scale `2^(64 - width)` of one unit of `v`.
    fn unit(&self) -> u64 {
        1 << (64 - self.width)
    }
}

impl ServerKey {
    /// Noise variance of a bootstrap's output.
    pub fn output_variance(&self) -> f64 {
        self.params.bootstrap_output_variance()
    }

    /// Noise variance of a fresh encryption under the large key.
    pub fn fresh_variance(&self) -> f64 {
        self.params.glwe_noise_std.powi(2)
    }

    /// Errors unless a table of `bits` bits fails with probability below the bound on an
    /// input of this noise variance.
    fn check_failure(&self, bits: u32, input_variance: f64) -> Result<(), LweError> {
        let log2 = self.params.log2_failure_with(bits, input_variance);
        if log2 > MAX_LOG2_FAILURE {
            return Err(LweError::FailureProbability {
                log2,
                limit_log2: MAX_LOG2_FAILURE,
            });
        }
        Ok(())
    }

    /// `+c` for phases in `[0, 1/2)`, `-c` for `[1/2, 1)`.
    fn sign_pbs(&self, ct: &LweCiphertext, c: u64) -> LweCiphertext {
        self.bootstrap(ct, &vec![c; self.params.polynomial_size], 0)
    }

    /// A padded `bits`-bit table with raw torus outputs, the box centred on its message.
    fn table_pbs(
        &self,
        ct: &LweCiphertext,
        bits: u32,
        outputs: &[u64],
    ) -> Result<LweCiphertext, LweError> {
        let lut = Lut::raw(self, bits, outputs)?;
        self.apply_lut(ct, &lut)
    }

    /// Clears the `d` low bits of `x` (`1 <= d <= message_bits + 1`), leaving
    /// `floor(v / 2^d)` at width `width - d`; returns `v mod 2^d` at `x`'s former scale.
    fn round(&self, x: &mut WideCiphertext, d: u32) -> Result<LweCiphertext, LweError> {
        if d == 0 || d > self.params.message_bits + 1 || d + 1 >= x.width {
            return Err(LweError::InvalidParams(format!(
                "a round of {d} bits on a {}-bit integer",
                x.width
            )));
        }
        let unit = x.unit();
        // Multiplying by 2^(width - d) puts bit d - 1 of v at the top of the torus.
        let up = 1i64 << (x.width - d);
        let lifted_variance = |v: f64| v * (up as f64).powi(2);
        let boot = self.output_variance();

        // The top bit of the digit, by its sign, half a digit step from both boundaries.
        self.check_failure(d - 1, lifted_variance(x.variance))?;
        let lifted = x.ct.scalar_mul(up).with_body_added(1 << (63 - d));
        let half = (unit << (d - 1)) >> 1;
        let top = self
            .sign_pbs(&lifted, half.wrapping_neg())
            .with_body_added(half);
        x.ct = x.ct.sub(&top)?;
        x.variance += boot;
        let mut digit = top;
        if d >= 2 {
            // The d - 1 bits left, now with a zero padding bit above them.
            self.check_failure(d - 1, lifted_variance(x.variance))?;
            let outputs: Vec<u64> = (0..1u64 << (d - 1)).map(|m| m * unit).collect();
            let rest = self.table_pbs(&x.ct.scalar_mul(up), d - 1, &outputs)?;
            x.ct = x.ct.sub(&rest)?;
            x.variance += boot;
            digit = digit.add(&rest)?;
        }
        x.width -= d;
        x.lo = x.lo.div_euclid(1 << d);
        x.hi = x.hi.div_euclid(1 << d);
        Ok(digit)
    }

    /// `floor(v / 2^r)`, exactly, at width `width - r`.
    pub fn floor_shift(&self, x: &WideCiphertext, r: u32) -> Result<WideCiphertext, LweError> {
        let mut x = x.clone();
        let mut left = r;
        while left > 0 {
            let d = left.min(self.params.message_bits + 1);
            self.round(&mut x, d)?;
            left -= d;
        }
        Ok(x)
    }

    /// `+c` if `v >= 0`, `-c` otherwise. While `v` needs more bits than a sign's margin
    /// allows, rounds halve it (a floor keeps the sign).
    fn sign_of(&self, mut x: WideCiphertext, c: u64) -> Result<LweCiphertext, LweError> {
        let cap = self.params.message_bits + 1;
        loop {
            let need = signed_bits(x.lo, x.hi);
            if need <= cap {
                break;
            }
            self.round(&mut x, (need - cap).min(cap))?;
        }
        // Drop the sign-extension bits above the interval, then offset by half a unit.
        let need = signed_bits(x.lo, x.hi).max(1);
        let up = 1i64 << (x.width - need);
        self.check_failure(need - 1, x.variance * (up as f64).powi(2))?;
        let lifted = x.ct.scalar_mul(up).with_body_added(1 << (63 - need));
        Ok(self.sign_pbs(&lifted, c))
    }

    /// `T[clamp(v, 0, 2^w - 1)]` for a table of `2^w` signed values, encrypted at scale
    /// `2^(64 - out_width)`: a wide integer in `[min T, max T]`.
    pub fn clamped_table(
        &self,
        x: &WideCiphertext,
        table: &[i64],
        out_width: u32,
    ) -> Result<WideCiphertext, LweError> {
        let w = table.len().trailing_zeros();
        if !table.len().is_power_of_two() || w == 0 || w + 1 > self.params.message_bits {
            return Err(LweError::LutSize {
                expected: 1 << (self.params.message_bits - 1),
                found: table.len(),
            });
        }
        if !(3..=62).contains(&out_width) || x.width < w + 3 {
            return Err(LweError::InvalidParams(format!(
                "a {w}-bit window of a {}-bit integer into {out_width} bits",
                x.width
            )));
        }
        let (t_lo, t_hi) = (table[0], table[table.len() - 1]);
        let (min_t, max_t) = (
            *table.iter().min().expect("non-empty"),
            *table.iter().max().expect("non-empty"),
        );
        let boot = self.output_variance();
        let out_unit = 1u64 << (64 - out_width);

        let mut h = x.clone();
        let window_width = h.width;
        let l = self.round(&mut h, w)?;
        let l_variance = boot * if w >= 2 { 2.0 } else { 1.0 };

        // The table reads u = l + 2^w z at the scale of a padded (w + 1)-bit message, with
        // z = 1 when v is outside the window: z = (1 - [h >= 0]) + [h >= 1].
        let below = self
            .sign_of(h.clone(), (1u64 << 61).wrapping_neg())?
            .with_body_added(1 << 61);
        let mut h1 = h.clone();
        h1.ct = h1.ct.with_body_added(h1.unit().wrapping_neg());
        h1.lo -= 1;
        h1.hi -= 1;
        let above = self
            .sign_of(h1, out_unit >> 1)?
            .with_body_added(out_unit >> 1);
        let l_up = 1i64 << (window_width - w - 2);
        let above_up = 1i64 << (out_width - 2);
        let u = l
            .scalar_mul(l_up)
            .add(&below)?
            .add(&above.scalar_mul(above_up))?;
        let u_variance = l_variance * (l_up as f64).powi(2)
            + boot
            + boot * (above_up as f64).powi(2);
        self.check_failure(w + 1, u_variance)?;
        let outputs: Vec<u64> = (0..2 << w)
            .map(|m| {
                let t = if m < table.len() { table[m] } else { t_lo };
                (t as u64).wrapping_mul(out_unit)
            })
            .collect();
        let y = self
            .table_pbs(&u, w + 1, &outputs)?
            .add(&above.scalar_mul(t_hi - t_lo))?;
        WideCiphertext::new(
            y,
            out_width,
            min_t,
            max_t,
            boot * (1.0 + ((t_hi - t_lo) as f64).powi(2)),
        )
    }
}

//! Polynomials in the Chebyshev basis, interpolated in the clear and evaluated on
//! ciphertexts.
//!
//! A function on `[a, b]` is approximated by `p(t) = sum_i c_i T_i(t)`, `t` the point mapped
//! to `[-1, 1]`, interpolated at the Chebyshev nodes: the error is close to the best
//! polynomial approximation's and the coefficients stay small, which a fixed-point scheme
//! needs. [`Evaluator::evaluate_chebyshev`] runs the baby-step giant-step algorithm:
//! `T_1 ... T_B` and `T_2B, T_4B, ...` are computed once, `p` is divided by the giant powers
//! recursively (`T_(G+j) = 2 T_G T_j - T_(G-j)`), and what is left are linear combinations of
//! the baby powers, which cost no ciphertext product. About `2 sqrt(d)` products for degree
//! `d`, in `ceil(log2(d + 1)) + 1` levels.
//!
//! Scales are managed exactly: every term is brought to the scale its sum needs by the
//! constant it is multiplied with anyway, so results of different depths add up without a
//! scale mismatch.

use std::collections::BTreeMap;

use crate::{Ciphertext, CkksError, Evaluator};

/// The highest degree accepted: interpolation costs the square of the degree, and useful
/// approximations on ciphertexts stay far below it (each doubling costs a level).
pub const MAX_DEGREE: usize = 4096;

/// `sum_i coeffs[i] T_i((2x - a - b) / (b - a))` for `x` in `[a, b]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Chebyshev {
    a: f64,
    b: f64,
    coeffs: Vec<f64>,
}

impl Chebyshev {
    /// The interpolant of `f` at the `degree + 1` Chebyshev nodes of `[a, b]`.
    pub fn interpolate(
        f: impl Fn(f64) -> f64,
        a: f64,
        b: f64,
        degree: usize,
    ) -> Result<Self, CkksError> {
        if !(a.is_finite() && b.is_finite() && a < b) {
            return Err(CkksError::InvalidParams(format!(
                "interpolation on [{a}, {b}]"
            )));
        }
        if degree > MAX_DEGREE {
            return Err(CkksError::InvalidParams(format!(
                "degree {degree} above {MAX_DEGREE}"
            )));
        }
        let n = degree + 1;
        let nodes: Vec<f64> = (0..n)
            .map(|k| (std::f64::consts::PI * (k as f64 + 0.5) / n as f64).cos())
            .collect();
        let values: Vec<f64> = nodes
            .iter()
            .map(|t| f((t * (b - a) + a + b) / 2.0))
            .collect();
        let coeffs = (0..n)
            .map(|j| {
                let s: f64 = (0..n)
                    .map(|k| {
                        values[k]
                            * (std::f64::consts::PI * j as f64 * (k as f64 + 0.5) / n as f64).cos()
                    })
                    .sum();
                s * if j == 0 { 1.0 } else { 2.0 } / n as f64
            })
            .collect();
        Self::new(a, b, coeffs)
    }

    /// A polynomial of given Chebyshev coefficients on `[a, b]`.
    pub fn new(a: f64, b: f64, coeffs: Vec<f64>) -> Result<Self, CkksError> {
        if !(a.is_finite() && b.is_finite() && a < b) {
            return Err(CkksError::InvalidParams(format!(
                "a polynomial on [{a}, {b}]"
            )));
        }
        if coeffs.len() > MAX_DEGREE + 1 {
            return Err(CkksError::InvalidParams(format!(
                "{} coefficients, above degree {MAX_DEGREE}",
                coeffs.len()
            )));
        }
        if coeffs.is_empty() || coeffs.iter().any(|c| !c.is_finite()) {
            return Err(CkksError::InvalidParams(
                "a polynomial needs finite coefficients".into(),
            ));
        }
        Ok(Self { a, b, coeffs })
    }

    /// The degree: the number of coefficients minus one.
    pub fn degree(&self) -> usize {
        self.coeffs.len() - 1
    }

    /// The interval `[a, b]` the polynomial is defined on, as `(a, b)`.
    pub fn interval(&self) -> (f64, f64) {
        (self.a, self.b)
    }

    /// The coefficients `c_i` of `T_i`, from `c_0` up.
    pub fn coefficients(&self) -> &[f64] {
        &self.coeffs
    }

    /// The value at `x` in the clear (Clenshaw's recurrence).
    pub fn eval(&self, x: f64) -> f64 {
        let t = (2.0 * x - self.a - self.b) / (self.b - self.a);
        let (mut b1, mut b2) = (0.0, 0.0);
        for &c in self.coeffs.iter().skip(1).rev() {
            (b1, b2) = (2.0 * t * b1 - b2 + c, b1);
        }
        t * b1 - b2 + self.coeffs[0]
    }

    /// Levels [`Evaluator::evaluate_chebyshev`] consumes, the change of interval included
    /// when `[a, b]` is not `[-1, 1]`.
    pub fn depth(&self) -> usize {
        let standard = self.a == -1.0 && self.b == 1.0;
        Self::depth_of(self.degree()) + usize::from(!standard)
    }

    /// Levels the evaluation of a polynomial of `degree` on `[-1, 1]` consumes.
    pub fn depth_of(degree: usize) -> usize {
        plan(degree).depth
    }
}

/// How a degree is evaluated: baby steps `T_1 .. T_baby`, giant steps `T_baby * 2^k` for
/// `k < giants`.
struct Plan {
    baby: usize,
    giants: usize,
    depth: usize,
}

fn ceil_log2(x: usize) -> usize {
    x.next_power_of_two().trailing_zeros() as usize
}

/// `T_i` is computed `ceil(log2 i)` levels below `T_1`.
fn power_depth(i: usize) -> usize {
    ceil_log2(i)
}

fn plan(degree: usize) -> Plan {
    // Baby steps about sqrt(d), a power of two, so that the baby powers and the giant
    // products take about the same number of products.
    let baby = 1usize << ceil_log2(degree + 1).div_ceil(2);
    let mut giants = 0;
    while baby << giants <= degree {
        giants += 1;
    }
    Plan {
        baby,
        giants,
        depth: levels_needed(degree + 1, baby),
    }
}

/// Levels below `T_1` that `sum_(i < len) c_i T_i` lands at, following
/// [`Evaluator::evaluate_chebyshev`]'s recursion.
fn levels_needed(len: usize, baby: usize) -> usize {
    if len <= baby {
        // The highest power, then one level for the constants.
        return power_depth(len.saturating_sub(1).max(1)) + 1;
    }
    let mut g = baby;
    while g * 2 < len {
        g *= 2;
    }
    // q T_G + r, q of len - g coefficients one level up, r of g coefficients.
    (levels_needed(len - g, baby) + 1)
        .max(power_depth(g) + 1)
        .max(levels_needed(g, baby))
}

/// The Chebyshev powers computed so far, by index.
struct Powers<'a> {
    eval: &'a Evaluator,
    t: BTreeMap<usize, Ciphertext>,
}

impl Powers<'_> {
    fn get(&self, i: usize) -> Result<&Ciphertext, CkksError> {
        self.t.get(&i).ok_or(CkksError::Internal(
            "a Chebyshev power used before it is computed",
        ))
    }

    /// `T_n` from `T_i`, `T_j` with `i + j = n`: `T_(2i) = 2 T_i^2 - 1`, otherwise
    /// `2 T_i T_j - T_(i - j)`.
    fn compute(&mut self, n: usize) -> Result<(), CkksError> {
        if self.t.contains_key(&n) {
            return Ok(());
        }
        let i = 1usize << (ceil_log2(n) - 1);
        let j = n - i;
        self.compute(i)?;
        self.compute(j)?;
        let e = self.eval;
        let product = e.mul_relin_rescale(self.get(i)?, self.get(j)?)?;
        let doubled = e.mul_integer(&product, 2)?;
        let out = if i == j {
            e.add_scalar(&doubled, -1.0)?
        } else {
            let d = i - j;
            self.compute(d)?;
            let aligned = align(e, self.get(d)?, doubled.level(), doubled.scale())?;
            e.sub(&doubled, &aligned)?
        };
        self.t.insert(n, out);
        Ok(())
    }
}

/// `a` at exactly `level` and `scale`, one level above consumed by a multiplication by one.
fn align(e: &Evaluator, a: &Ciphertext, level: usize, scale: f64) -> Result<Ciphertext, CkksError> {
    if a.level() == level && (a.scale() / scale - 1.0).abs() < 1e-15 {
        return Ok(a.clone());
    }
    let above = e.at_level(a, level + 1)?;
    e.rescale(&e.mul_scalar_to(&above, 1.0, scale)?)
}

impl Evaluator {
    /// `p(x)` slot by slot, for slots in `p`'s interval; the result is at exactly the scale of
    /// `x`, [`Chebyshev::depth`] levels lower. Values outside the interval give garbage, not
    /// an error: the evaluator cannot see them.
    pub fn evaluate_chebyshev(
        &self,
        x: &Ciphertext,
        p: &Chebyshev,
    ) -> Result<Ciphertext, CkksError> {
        self.check_ct(x)?;
        let depth = p.depth();
        if x.level() < depth {
            return Err(CkksError::LevelsExhausted(x.level()));
        }
        let target_level = x.level() - depth;
        let scale = x.scale();
        // t = (2x - a - b) / (b - a), at the scale of x.
        let t = if p.a == -1.0 && p.b == 1.0 {
            x.clone()
        } else {
            let w = self.rescale(&self.mul_scalar_to(x, 2.0 / (p.b - p.a), scale)?)?;
            self.add_scalar(&w, -(p.a + p.b) / (p.b - p.a))?
        };
        let plan = plan(p.degree());
        let mut powers = Powers {
            eval: self,
            t: BTreeMap::from([(1, t)]),
        };
        for i in 2..=plan.baby.min(p.degree()) {
            powers.compute(i)?;
        }
        for g in 1..plan.giants {
            powers.compute(plan.baby << g)?;
        }
        self.split(&powers, &plan, &p.coeffs, target_level, scale)
    }

    /// `sum_i c_i T_i` at exactly `level` and `scale`.
    fn split(
        &self,
        powers: &Powers,
        plan: &Plan,
        c: &[f64],
        level: usize,
        scale: f64,
    ) -> Result<Ciphertext, CkksError> {
        let degree = c.len().saturating_sub(1);
        if degree < plan.baby {
            return self.baby_combination(powers, c, level, scale);
        }
        // The largest giant power G <= degree: c = q T_G + r with deg q, deg r < G.
        let mut g = plan.baby;
        while g * 2 <= degree {
            g *= 2;
        }
        let mut q = vec![0.0; degree - g + 1];
        let mut r = c[..g].to_vec();
        q[0] = c[g];
        for (j, &ci) in c.iter().enumerate().skip(g + 1) {
            q[j - g] += 2.0 * ci;
            r[2 * g - j] -= ci;
        }
        let giant = powers.get(g)?;
        let giant_at = self.at_level(giant, level + 1)?;
        let q_prime = self.params.q_moduli()[level + 1].value() as f64;
        // q T_G, rescaled by q_(level + 1), lands on `scale`.
        let q_scale = scale * q_prime / giant_at.scale();
        let q_ct = self.split(powers, plan, &q, level + 1, q_scale)?;
        let product = self.mul_relin_rescale(&q_ct, &giant_at)?;
        if r.iter().all(|&v| v == 0.0) {
            return Ok(product);
        }
        let r_ct = self.split(powers, plan, &r, level, scale)?;
        let mut out = self.add(&product, &r_ct)?;
        // The two scales agree to rounding; the sum keeps the one asked for.
        out.scale = scale;
        Ok(out)
    }

    /// `sum_i c_i T_i` over baby powers: each multiplied by its coefficient at the scale that
    /// lands on `scale` after one rescale, summed, rescaled once.
    fn baby_combination(
        &self,
        powers: &Powers,
        c: &[f64],
        level: usize,
        scale: f64,
    ) -> Result<Ciphertext, CkksError> {
        let mut sum: Option<Ciphertext> = None;
        for (i, &ci) in c.iter().enumerate().skip(1) {
            if ci == 0.0 {
                continue;
            }
            let ti = self.at_level(powers.get(i)?, level + 1)?;
            let mut term = self.mul_scalar_to(&ti, ci, scale)?;
            if let Some(s) = sum.as_ref() {
                // Both were scaled to `scale * q_(level + 1)` through rounded integers.
                term.scale = s.scale;
                self.add_assign(&mut term, s)?;
            }
            sum = Some(term);
        }
        let out = match sum {
            Some(s) => self.rescale(&s)?,
            // A constant: zero at the right level and scale, plus the constant.
            None => {
                let one = self.at_level(powers.get(1)?, level + 1)?;
                self.rescale(&self.mul_scalar_to(&one, 0.0, scale)?)?
            }
        };
        let mut out = self.add_scalar(&out, c.first().copied().unwrap_or(0.0))?;
        out.scale = scale;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decryptor, Encoder, Encryptor, KeyGenerator, Params, ParamsLiteral};

    #[test]
    fn interpolation_approximates_smooth_functions() {
        let p = Chebyshev::interpolate(f64::cos, -3.0, 5.0, 30).unwrap();
        for k in 0..=100 {
            let x = -3.0 + 8.0 * k as f64 / 100.0;
            assert!((p.eval(x) - x.cos()).abs() < 1e-12, "{x}");
        }
        assert!(Chebyshev::interpolate(f64::cos, 1.0, 1.0, 3).is_err());
        assert!(Chebyshev::new(-1.0, 1.0, vec![]).is_err());
        assert!(Chebyshev::new(-1.0, 1.0, vec![f64::NAN]).is_err());
        assert!(Chebyshev::interpolate(f64::cos, -1.0, 1.0, MAX_DEGREE + 1).is_err());
        assert!(Chebyshev::new(-1.0, 1.0, vec![0.0; MAX_DEGREE + 2]).is_err());
    }

    #[test]
    fn depth_is_at_most_one_above_the_optimum() {
        for degree in 1..200 {
            let p = Chebyshev::new(-1.0, 1.0, vec![0.1; degree + 1]).unwrap();
            let optimum = ceil_log2(degree + 1);
            assert!(
                (optimum..=optimum + 1).contains(&p.depth()),
                "degree {degree}"
            );
        }
        let p = Chebyshev::new(0.0, 1.0, vec![0.1; 8]).unwrap();
        assert_eq!(
            p.depth(),
            1 + Chebyshev::new(-1.0, 1.0, vec![0.1; 8]).unwrap().depth()
        );
    }

    #[test]
    fn encrypted_evaluation_matches_the_clear_polynomial() {
        // Nine levels at scale 2^40.
        let params = Params::new_insecure(ParamsLiteral {
            log_n: 12,
            q_bits: [vec![60], vec![40; 9]].concat(),
            p_bits: vec![60, 60],
            log_scale: 40,
            digits: 5,
        })
        .unwrap();
        let mut kg = KeyGenerator::with_seed(&params, 9);
        let sk = kg.secret_key();
        let eval = Evaluator::new(&params)
            .with_relin_key(kg.relin_key(&sk).unwrap())
            .unwrap();
        let encoder = Encoder::new(&params);
        let mut enc = Encryptor::with_secret_key(&params, &sk).unwrap();
        let dec = Decryptor::new(&params, &sk).unwrap();
        let xs: Vec<f64> = (0..params.slots())
            .map(|i| -2.0 + 4.0 * i as f64 / params.slots() as f64)
            .collect();
        let ct = enc.encrypt(&encoder.encode(&xs).unwrap()).unwrap();
        for degree in [1, 2, 5, 16, 31, 40] {
            let p = Chebyshev::interpolate(|x| (3.0 * x).sin() / 2.0, -2.0, 2.0, degree).unwrap();
            let y = eval.evaluate_chebyshev(&ct, &p).unwrap();
            assert_eq!(y.level(), params.max_level() - p.depth(), "degree {degree}");
            assert!((y.scale() / params.default_scale() - 1.0).abs() < 1e-12);
            let got = encoder.decode(&dec.decrypt(&y).unwrap()).unwrap();
            let err = xs
                .iter()
                .zip(&got)
                .map(|(&x, g)| (p.eval(x) - g).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-6, "degree {degree}: error {err}");
        }
        let deep = Chebyshev::new(-1.0, 1.0, vec![0.1; 600]).unwrap();
        assert!(matches!(
            eval.evaluate_chebyshev(&ct, &deep),
            Err(CkksError::LevelsExhausted(_))
        ));
    }
}

//! Residue number system: a basis of NTT-friendly primes, exact CRT reconstruction and fast
//! (approximate) basis conversion.

use std::sync::Arc;

use num_bigint::BigUint;
use rayon::prelude::*;

use crate::{MathError, Modulus, NttTable};

/// An ordered set of coprime NTT-friendly moduli sharing one ring degree. Cloning is cheap: the
/// NTT tables are shared.
#[derive(Clone, Debug)]
pub struct RnsBasis {
    n: usize,
    tables: Vec<Arc<NttTable>>,
}

impl RnsBasis {
    pub fn new(n: usize, moduli: &[Modulus]) -> Result<Self, MathError> {
        let tables = moduli
            .iter()
            .map(|&m| NttTable::new(n, m).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_tables(n, tables)
    }

    /// Assembles a basis from existing tables (a sub-basis or a union of two bases).
    pub fn from_tables(n: usize, tables: Vec<Arc<NttTable>>) -> Result<Self, MathError> {
        if tables.is_empty() {
            return Err(MathError::EmptyBasis);
        }
        for (i, t) in tables.iter().enumerate() {
            if t.n() != n {
                return Err(MathError::DegreeMismatch {
                    expected: n,
                    found: t.n(),
                });
            }
            if tables[..i].iter().any(|u| u.modulus() == t.modulus()) {
                return Err(MathError::RepeatedModulus(t.modulus().value()));
            }
        }
        Ok(Self { n, tables })
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn len(&self) -> usize {
        self.tables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    pub fn modulus(&self, i: usize) -> &Modulus {
        self.tables[i].modulus()
    }

    pub fn moduli(&self) -> impl Iterator<Item = &Modulus> + '_ {
        self.tables.iter().map(|t| t.modulus())
    }

    pub fn table(&self, i: usize) -> &NttTable {
        &self.tables[i]
    }

    pub fn tables(&self) -> &[Arc<NttTable>] {
        &self.tables
    }

    /// The sub-basis of limbs `range`.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Self {
        Self {
            n: self.n,
            tables: self.tables[range].to_vec(),
        }
    }

    /// This basis followed by `other`.
    pub fn concat(&self, other: &Self) -> Result<Self, MathError> {
        let mut tables = self.tables.clone();
        tables.extend(other.tables.iter().cloned());
        Self::from_tables(self.n, tables)
    }

    /// The product of all moduli.
    pub fn product(&self) -> BigUint {
        self.moduli()
            .fold(BigUint::from(1u32), |acc, m| acc * m.value())
    }

    /// `prod(moduli) mod m`.
    pub fn product_mod(&self, m: &Modulus) -> u64 {
        self.moduli()
            .fold(1 % m.value(), |acc, q| m.mul(acc, m.reduce(q.value())))
    }
}

/// Fast basis conversion from basis `A` to basis `B`: maps the residues of `x` in `A` to the
/// residues of `x + u*A` in `B` for some `0 <= u < |A|`. Key switching tolerates the `u*A` term
/// (it vanishes modulo the key's modulus or is divided away), which is what makes it cheap:
/// no multi-precision arithmetic, `|A| * |B|` word products per coefficient.
#[derive(Clone, Debug)]
pub struct BasisConverter {
    from: RnsBasis,
    to: RnsBasis,
    /// `(A/a_i)^{-1} mod a_i` and its Shoup quotient.
    hat_inv: Vec<(u64, u64)>,
    /// `hat_mod[j][i] = (A/a_i) mod b_j`.
    hat_mod: Vec<Vec<u64>>,
}

impl BasisConverter {
    pub fn new(from: &RnsBasis, to: &RnsBasis) -> Result<Self, MathError> {
        if from.n() != to.n() {
            return Err(MathError::DegreeMismatch {
                expected: from.n(),
                found: to.n(),
            });
        }
        let hat_inv = (0..from.len())
            .map(|i| {
                let ai = from.modulus(i);
                let hat = from
                    .moduli()
                    .enumerate()
                    .filter(|(k, _)| *k != i)
                    .fold(1u64, |acc, (_, q)| ai.mul(acc, ai.reduce(q.value())));
                let inv = ai.inv(hat)?;
                Ok((inv, ai.shoup(inv)))
            })
            .collect::<Result<Vec<_>, MathError>>()?;
        let hat_mod = to
            .moduli()
            .map(|bj| {
                (0..from.len())
                    .map(|i| {
                        from.moduli()
                            .enumerate()
                            .filter(|(k, _)| *k != i)
                            .fold(1u64, |acc, (_, q)| bj.mul(acc, bj.reduce(q.value())))
                    })
                    .collect()
            })
            .collect();
        Ok(Self {
            from: from.clone(),
            to: to.clone(),
            hat_inv,
            hat_mod,
        })
    }

    pub fn from(&self) -> &RnsBasis {
        &self.from
    }

    pub fn to(&self) -> &RnsBasis {
        &self.to
    }

    /// Converts coefficient-form limbs `input` (|A| limbs of n words, flat) into `output`
    /// (|B| limbs of n words, flat).
    pub fn convert(&self, input: &[u64], output: &mut [u64]) {
        let n = self.from.n();
        assert_eq!(input.len(), n * self.from.len());
        assert_eq!(output.len(), n * self.to.len());
        // y_i = x_i * (A/a_i)^{-1} mod a_i, kept per limb so each target streams through them.
        let mut y = vec![0u64; input.len()];
        y.par_chunks_mut(n)
            .zip(input.par_chunks(n))
            .enumerate()
            .for_each(|(i, (yi, xi))| {
                let (w, ws) = self.hat_inv[i];
                let ai = self.from.modulus(i);
                for (o, &x) in yi.iter_mut().zip(xi) {
                    *o = ai.mul_shoup(x, w, ws);
                }
            });
        let from_len = self.from.len();
        output.par_chunks_mut(n).enumerate().for_each(|(j, out)| {
            let bj = self.to.modulus(j);
            let coeffs = &self.hat_mod[j];
            // y_i < 2^61 and coefficients < 2^61: products < 2^122, so up to 64 terms fit in
            // a u128 before one reduction.
            for (k, o) in out.iter_mut().enumerate() {
                let mut acc = 0u128;
                for i in 0..from_len {
                    acc += y[i * n + k] as u128 * coeffs[i] as u128;
                }
                *o = bj.reduce_u128(acc);
            }
        });
    }
}

/// Exact CRT reconstruction of centered values as `f64`, by Garner's mixed-radix form: each value
/// becomes digits `d_0 + d_1 q_0 + d_2 q_0 q_1 + ...`, compared against `Q/2` digit by digit and
/// evaluated in floating point from the top digit down. Costs `L^2/2` word products per value
/// and keeps the full relative precision of an `f64` whatever the size of `Q`.
#[derive(Clone, Debug)]
pub struct CrtComposer {
    basis: RnsBasis,
    /// `inv[i][j] = q_j^{-1} mod q_i` for `j < i`.
    inv: Vec<Vec<u64>>,
    /// Mixed-radix digits of `(Q - 1) / 2`: values above it are negative.
    half_digits: Vec<u64>,
}

impl CrtComposer {
    pub fn new(basis: &RnsBasis) -> Result<Self, MathError> {
        let inv = (0..basis.len())
            .map(|i| {
                (0..i)
                    .map(|j| {
                        basis
                            .modulus(i)
                            .inv(basis.modulus(i).reduce(basis.modulus(j).value()))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let half: BigUint = (basis.product() - 1u32) / 2u32;
        let mut half_digits = Vec::with_capacity(basis.len());
        let mut rest = half;
        for m in basis.moduli() {
            let d = &rest % m.value();
            half_digits.push(d.to_u64_digits().first().copied().unwrap_or(0));
            rest /= m.value();
        }
        Ok(Self {
            basis: basis.clone(),
            inv,
            half_digits,
        })
    }

    /// Mixed-radix digits of the value with residues `r`.
    fn digits(&self, r: &[u64], d: &mut [u64]) {
        for i in 0..r.len() {
            let qi = self.basis.modulus(i);
            let mut v = r[i];
            for j in 0..i {
                v = qi.mul(qi.sub(v, qi.reduce(d[j])), self.inv[i][j]);
            }
            d[i] = v;
        }
    }

    /// Centered values `x` with `|x| < Q/2` of the flat coefficient-form limbs `limbs`.
    pub fn compose(&self, limbs: &[u64]) -> Vec<f64> {
        let n = self.basis.n();
        let l = self.basis.len();
        assert_eq!(limbs.len(), n * l);
        (0..n)
            .into_par_iter()
            .map_init(
                || (vec![0u64; l], vec![0u64; l]),
                |(r, d), k| {
                    for i in 0..l {
                        r[i] = limbs[i * n + k];
                    }
                    self.digits(r, d);
                    let negative = d.iter().rev().cmp(self.half_digits.iter().rev())
                        == std::cmp::Ordering::Greater;
                    if negative {
                        // Q - x in mixed radix: digit-wise (q_i - 1 - d_i), plus one.
                        let mut carry = 1u64;
                        for i in 0..l {
                            let q = self.basis.modulus(i).value();
                            let v = q - 1 - d[i] + carry;
                            (d[i], carry) = if v == q { (0, 1) } else { (v, 0) };
                        }
                    }
                    let mut acc = 0f64;
                    for i in (0..l).rev() {
                        acc = acc * self.basis.modulus(i).value() as f64 + d[i] as f64;
                    }
                    if negative {
                        -acc
                    } else {
                        acc
                    }
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntt_primes;
    use num_bigint::BigInt;
    use proptest::prelude::*;

    fn basis(bits: u32, count: usize, exclude: &[u64]) -> RnsBasis {
        let n = 16;
        RnsBasis::new(n, &ntt_primes(bits, n, count, exclude).unwrap()).unwrap()
    }

    fn residues(x: &BigInt, b: &RnsBasis) -> Vec<u64> {
        b.moduli()
            .map(|m| {
                let r = x % BigInt::from(m.value());
                let r = if r < BigInt::from(0) {
                    r + BigInt::from(m.value())
                } else {
                    r
                };
                r.to_u64_digits().1.first().copied().unwrap_or(0)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn conversion_is_exact_up_to_multiples_of_source(x in 0u128..u128::MAX) {
            let a = basis(40, 3, &[]);
            let exclude: Vec<u64> = a.moduli().map(|m| m.value()).collect();
            let b = basis(50, 4, &exclude);
            let n = a.n();
            let xa = BigInt::from(x) % BigInt::from(a.product());
            let mut input = vec![0u64; n * a.len()];
            for (i, r) in residues(&xa, &a).into_iter().enumerate() {
                input[i * n] = r;
            }
            let mut out = vec![0u64; n * b.len()];
            BasisConverter::new(&a, &b).unwrap().convert(&input, &mut out);
            let got: Vec<u64> = (0..b.len()).map(|j| out[j * n]).collect();
            let ok = (0..a.len() as u32).any(|u| {
                residues(&(xa.clone() + BigInt::from(a.product()) * u), &b) == got
            });
            prop_assert!(ok);
        }

        #[test]
        fn composer_recovers_centered_values(x in -(1i128 << 100)..(1i128 << 100)) {
            let b = basis(45, 4, &[]);
            let n = b.n();
            let r = residues(&BigInt::from(x), &b);
            let mut limbs = vec![0u64; n * b.len()];
            for (i, v) in r.into_iter().enumerate() {
                limbs[i * n + 3] = v;
            }
            let out = CrtComposer::new(&b).unwrap().compose(&limbs);
            let rel = (out[3] - x as f64).abs() / (x as f64).abs().max(1.0);
            prop_assert!(rel < 1e-15, "{} vs {}", out[3], x);
            prop_assert_eq!(out[0], 0.0);
        }
    }

    #[test]
    fn basis_rejects_repeats_and_degree_mismatch() {
        let a = basis(40, 2, &[]);
        assert!(a.concat(&a).is_err());
        let other = RnsBasis::new(32, &ntt_primes(40, 32, 1, &[]).unwrap()).unwrap();
        assert!(BasisConverter::new(&a, &other).is_err());
    }
}

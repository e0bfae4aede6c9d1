//! Residue number system: a basis of NTT-friendly primes, exact CRT reconstruction and fast
//! (approximate) basis conversion.

use std::sync::Arc;

use num_bigint::BigUint;
use rayon::prelude::*;

use crate::{MathError, Modulus, NttTable, RnsPoly};

/// An ordered set of coprime NTT-friendly moduli sharing one ring degree. Cloning is cheap: the
/// NTT tables are shared.
#[derive(Clone, Debug)]
pub struct RnsBasis {
    n: usize,
    tables: Vec<Arc<NttTable>>,
}

impl RnsBasis {
    /// The basis of `moduli`, in that order, building an [`NttTable`] of size `n` for each.
    /// Fails if a modulus is not NTT-friendly for `n`, appears twice, or none is given.
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

    /// Ring degree shared by every modulus.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of moduli (limbs of a polynomial over this basis).
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// True when the basis has no moduli, which only [`Self::slice`] of an empty range gives.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The `i`-th modulus.
    pub fn modulus(&self, i: usize) -> &Modulus {
        self.tables[i].modulus()
    }

    /// The moduli, in order.
    pub fn moduli(&self) -> impl Iterator<Item = &Modulus> + '_ {
        self.tables.iter().map(|t| t.modulus())
    }

    /// The NTT table of the `i`-th modulus.
    pub fn table(&self, i: usize) -> &NttTable {
        &self.tables[i]
    }

    /// The shared NTT tables, in order: what [`Self::from_tables`] takes to build related bases.
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
    /// `hat_mod[j][i] = (A/a_i) mod b_j`, in Montgomery form.
    hat_mod: Vec<Vec<u64>>,
    /// `overflow[j][u] = u * A mod b_j` for `u < |A|`: what [`Self::convert_exact`] removes.
    overflow: Vec<Vec<u64>>,
}

impl BasisConverter {
    /// The converter from basis `from` to basis `to`; fails if their degrees differ or the
    /// moduli of `from` are not pairwise coprime.
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
                        bj.to_mont(
                            from.moduli()
                                .enumerate()
                                .filter(|(k, _)| *k != i)
                                .fold(1u64, |acc, (_, q)| bj.mul(acc, bj.reduce(q.value()))),
                        )
                    })
                    .collect()
            })
            .collect();
        let overflow = to
            .moduli()
            .map(|bj| {
                let a = from.product_mod(bj);
                (0..from.len() as u64)
                    .map(|u| bj.mul(bj.reduce(u), a))
                    .collect()
            })
            .collect();
        Ok(Self {
            from: from.clone(),
            to: to.clone(),
            hat_inv,
            hat_mod,
            overflow,
        })
    }

    /// The source basis `A`.
    pub fn from(&self) -> &RnsBasis {
        &self.from
    }

    /// The target basis `B`.
    pub fn to(&self) -> &RnsBasis {
        &self.to
    }

    /// Converts coefficient-form limbs `input` (|A| limbs of n words, flat) into `output`
    /// (|B| limbs of n words, flat).
    pub fn convert(&self, input: &[u64], output: &mut [u64]) {
        if self.from.len() == 1 {
            // A = a_0: the hat terms are 1 and the conversion is a reduction of x < a_0
            // (one-prime key-switching digits take this path, six times per key switch).
            assert_eq!(output.len(), input.len() * self.to.len());
            output
                .par_chunks_mut(input.len())
                .enumerate()
                .for_each(|(j, out)| {
                    let bj = self.to.modulus(j);
                    out.iter_mut()
                        .zip(input)
                        .for_each(|(o, &x)| *o = bj.reduce(x));
                });
            return;
        }
        let y = self.hat_terms(input);
        self.dot_terms(&y, output);
    }

    /// Like [`Self::convert`] but exact: the residues of `x` itself, `0 <= x < A`. The
    /// overflow `u = floor(sum_i y_i / a_i)` is found in floating point, which is exact
    /// unless `x / A` lies within about 2^-50 of an integer; for the uniformly distributed
    /// residues of a rescale that has probability about 2^-50 per coefficient. Division by
    /// several limbs at once needs this: the inexact conversion's `u` is multiplied by the
    /// secret key in the result and would cost CKKS about two bits of precision.
    pub fn convert_exact(&self, input: &[u64], output: &mut [u64]) {
        let from_len = self.from.len();
        if from_len == 1 {
            // One source limb: y_0 < a_0, so u = 0 and the fast conversion is already exact.
            return self.convert(input, output);
        }
        let y = self.hat_terms(input);
        let inv: Vec<f64> = self.from.moduli().map(|a| 1.0 / a.value() as f64).collect();
        let u: Vec<u8> = y
            .chunks_exact(from_len)
            .map(|row| {
                let sum: f64 = row.iter().zip(&inv).map(|(&y, &i)| y as f64 * i).sum();
                // sum = u + x / A with 0 <= x / A < 1 and u < |A|.
                (sum.floor() as usize).min(from_len - 1) as u8
            })
            .collect();
        self.dot_terms(&y, output);
        let n = self.from.n();
        output.par_chunks_mut(n).enumerate().for_each(|(j, out)| {
            let bj = self.to.modulus(j);
            let overflow = &self.overflow[j];
            for (o, &u) in out.iter_mut().zip(&u) {
                *o = bj.sub(*o, overflow[u as usize]);
            }
        });
    }

    /// `y_i = x_i * (A/a_i)^{-1} mod a_i`, stored coefficient-major so that each output
    /// coefficient reads its |A| terms from one contiguous run.
    fn hat_terms(&self, input: &[u64]) -> Vec<u64> {
        let n = self.from.n();
        assert_eq!(input.len(), n * self.from.len());
        let from_len = self.from.len();
        let mut y = vec![0u64; input.len()];
        for (i, xi) in input.chunks_exact(n).enumerate() {
            let (w, ws) = self.hat_inv[i];
            let ai = self.from.modulus(i);
            for (k, &x) in xi.iter().enumerate() {
                y[k * from_len + i] = ai.mul_shoup(x, w, ws);
            }
        }
        y
    }

    /// `sum_i y_i * (A/a_i) mod b_j` for every output limb `j`.
    fn dot_terms(&self, y: &[u64], output: &mut [u64]) {
        let n = self.from.n();
        let from_len = self.from.len();
        assert_eq!(output.len(), n * self.to.len());
        output.par_chunks_mut(n).enumerate().for_each(|(j, out)| {
            let bj = self.to.modulus(j);
            let coeffs = &self.hat_mod[j];
            // Fixed sizes let the compiler unroll the short dot products completely (one
            // source limb never gets here: `convert` reduces it directly).
            match from_len {
                2 => dot_rows::<2>(bj, coeffs, y, out),
                3 => dot_rows::<3>(bj, coeffs, y, out),
                4 => dot_rows::<4>(bj, coeffs, y, out),
                5 => dot_rows::<5>(bj, coeffs, y, out),
                6 => dot_rows::<6>(bj, coeffs, y, out),
                7 => dot_rows::<7>(bj, coeffs, y, out),
                8 => dot_rows::<8>(bj, coeffs, y, out),
                _ => {
                    for (o, yk) in out.iter_mut().zip(y.chunks_exact(from_len)) {
                        *o = bj.dot_mont(yk.iter().copied(), coeffs.iter().copied());
                    }
                }
            }
        });
    }
}

/// `out[k] = sum_i y[k][i] * coeffs[i] mod m` for rows of `A <= 8` terms, whose 128-bit sum
/// stays below `m * 2^64` and so needs a single Montgomery reduction.
fn dot_rows<const A: usize>(m: &Modulus, coeffs: &[u64], y: &[u64], out: &mut [u64]) {
    // Callers pass exactly `A` coefficients (one per source modulus); fewer would leave the
    // rest zero rather than read out of bounds.
    let mut c = [0u64; A];
    for (c, &x) in c.iter_mut().zip(coeffs) {
        *c = x;
    }
    for (o, row) in out.iter_mut().zip(y.chunks_exact(A)) {
        let mut acc = 0u128;
        for i in 0..A {
            acc += row[i] as u128 * c[i] as u128;
        }
        *o = m.mont_reduce(acc);
    }
}

/// Division by the product `D` of the last limbs of a basis: maps `x` (evaluation form over
/// `keep ++ dropped`) to `(x - [x]_D) / D` over `keep`. This one operation is CKKS rescaling
/// (`D = q_l`), the last step of key switching (`D = P`), and both at once (`D = q_l * P`),
/// which saves the NTTs of doing them one after the other. The residue `[x]_D` is centered, so
/// the division rounds: a floor would bias every coefficient by 1/2, which a product with the
/// secret turns into a large error. The residue is converted exactly
/// ([`BasisConverter::convert_exact`]), so the quotient is the rounded one.
#[derive(Clone, Debug)]
pub struct TailDivider {
    keep: RnsBasis,
    convert: BasisConverter,
    /// `D^{-1} mod keep_i` with Shoup quotients.
    inv: Vec<(u64, u64)>,
    /// `floor(D/2)` modulo each dropped and each kept modulus: centering shifts by it.
    half_dropped: Vec<u64>,
    half_keep: Vec<u64>,
}

impl TailDivider {
    /// The divider by `D`, the product of the moduli of `dropped`, onto the basis `keep`. Fails
    /// if the bases differ in degree or a modulus of `dropped` is not coprime to the others of
    /// either basis.
    pub fn new(keep: &RnsBasis, dropped: &RnsBasis) -> Result<Self, MathError> {
        let inv = keep
            .moduli()
            .map(|m| {
                let v = m.inv(dropped.product_mod(m))?;
                Ok((v, m.shoup(v)))
            })
            .collect::<Result<Vec<_>, MathError>>()?;
        let half = dropped.product() / 2u32;
        let residue = |m: &Modulus| {
            (&half % m.value())
                .to_u64_digits()
                .first()
                .copied()
                .unwrap_or(0)
        };
        Ok(Self {
            keep: keep.clone(),
            convert: BasisConverter::new(dropped, keep)?,
            inv,
            half_dropped: dropped.moduli().map(residue).collect(),
            half_keep: keep.moduli().map(residue).collect(),
        })
    }

    /// `x` holds `keep.len() + dropped.len()` limbs in evaluation form; taken by value so that
    /// its kept limbs become the quotient in place.
    pub fn divide(&self, mut x: RnsPoly) -> RnsPoly {
        let n = self.keep.n();
        let kept = self.keep.len();
        let dropped = self.convert.from();
        assert_eq!(x.limbs(), kept + dropped.len());
        let mut tail = x.data()[kept * n..].to_vec();
        tail.par_chunks_mut(n).enumerate().for_each(|(i, limb)| {
            dropped.table(i).backward(limb);
            let m = dropped.modulus(i);
            limb.iter_mut()
                .for_each(|c| *c = m.add(*c, self.half_dropped[i]));
        });
        x.truncate(kept);
        let mut out = x;
        let mut t = vec![0u64; kept * n];
        self.convert.convert_exact(&tail, &mut t);
        out.data_mut()
            .par_chunks_mut(n)
            .zip(t.par_chunks_mut(n))
            .enumerate()
            .for_each(|(i, (o, t))| {
                let m = self.keep.modulus(i);
                // [x + D/2]_D - D/2 is the centered residue of x.
                t.iter_mut().for_each(|c| *c = m.sub(*c, self.half_keep[i]));
                self.keep.table(i).forward(t);
                let (w, ws) = self.inv[i];
                if let Some(nm) = m.narrow() {
                    let ws = nm.shoup(w);
                    for (x, &y) in o.iter_mut().zip(t.iter()) {
                        *x = nm.mul_shoup(nm.sub(*x, y), w, ws);
                    }
                } else {
                    for (x, &y) in o.iter_mut().zip(t.iter()) {
                        *x = m.mul_shoup(m.sub(*x, y), w, ws);
                    }
                }
            });
        out
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
    /// The composer for values over `basis`; fails if its moduli are not pairwise coprime.
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
            for (&dj, &inv) in d[..i].iter().zip(&self.inv[i]) {
                v = qi.mul(qi.sub(v, qi.reduce(dj)), inv);
            }
            d[i] = v;
        }
    }

    /// Centered values `x` with `|x| < Q/2` of the flat coefficient-form limbs `limbs`.
    pub fn compose(&self, limbs: &[u64]) -> Vec<f64> {
        let n = self.basis.n();
        let l = self.basis.len();
        assert_eq!(limbs.len(), n * l);
        if l == 1 {
            // Decryption at the last level, where the client reads its weights back.
            let q = self.basis.modulus(0).value();
            return limbs
                .iter()
                .map(|&r| {
                    if r > q / 2 {
                        -((q - r) as f64)
                    } else {
                        r as f64
                    }
                })
                .collect();
        }
        let mut out = vec![0f64; n];
        out.par_chunks_mut(COMPOSE_CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                let (mut r, mut d) = (vec![0u64; l], vec![0u64; l]);
                for (j, o) in chunk.iter_mut().enumerate() {
                    let k = c * COMPOSE_CHUNK + j;
                    for i in 0..l {
                        r[i] = limbs[i * n + k];
                    }
                    *o = self.compose_one(&r, &mut d);
                }
            });
        out
    }

    /// The centered value with residues `r`, through its mixed-radix digits `d`.
    fn compose_one(&self, r: &[u64], d: &mut [u64]) -> f64 {
        self.digits(r, d);
        let negative =
            d.iter().rev().cmp(self.half_digits.iter().rev()) == std::cmp::Ordering::Greater;
        if negative {
            // Q - x in mixed radix: digit-wise (q_i - 1 - d_i), plus one.
            let mut carry = 1u64;
            for (di, m) in d.iter_mut().zip(self.basis.moduli()) {
                let q = m.value();
                let v = q - 1 - *di + carry;
                (*di, carry) = if v == q { (0, 1) } else { (v, 0) };
            }
        }
        let mut acc = 0f64;
        for i in (0..d.len()).rev() {
            acc = acc * self.basis.modulus(i).value() as f64 + d[i] as f64;
        }
        if negative {
            -acc
        } else {
            acc
        }
    }
}

/// Coefficients per parallel task of [`CrtComposer::compose`].
const COMPOSE_CHUNK: usize = 1024;

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
            let converter = BasisConverter::new(&a, &b).unwrap();
            let mut out = vec![0u64; n * b.len()];
            converter.convert(&input, &mut out);
            let got: Vec<u64> = (0..b.len()).map(|j| out[j * n]).collect();
            let ok = (0..a.len() as u32).any(|u| {
                residues(&(xa.clone() + BigInt::from(a.product()) * u), &b) == got
            });
            prop_assert!(ok);
            converter.convert_exact(&input, &mut out);
            let exact: Vec<u64> = (0..b.len()).map(|j| out[j * n]).collect();
            prop_assert_eq!(exact, residues(&xa, &b));
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

        #[test]
        fn composer_centers_single_prime_residues(x in -(1i64 << 43)..(1i64 << 43)) {
            let b = basis(45, 1, &[]);
            let n = b.n();
            let mut limbs = vec![0u64; n];
            limbs[5] = b.modulus(0).reduce_i64(x);
            let out = CrtComposer::new(&b).unwrap().compose(&limbs);
            prop_assert_eq!(out[5], x as f64);
            prop_assert_eq!(out[0], 0.0);
        }
    }

    #[test]
    fn tail_division_rounds() {
        let n = 16;
        let keep = RnsBasis::new(n, &ntt_primes(50, n, 3, &[]).unwrap()).unwrap();
        let exclude: Vec<u64> = keep.moduli().map(|m| m.value()).collect();
        let dropped = RnsBasis::new(n, &ntt_primes(45, n, 2, &exclude).unwrap()).unwrap();
        let all = keep.concat(&dropped).unwrap();
        let d = dropped.product();
        // x = 12345 * D + 678 as a constant polynomial, plus a negative coefficient.
        let mut coeffs = vec![BigInt::from(0); n];
        coeffs[0] = BigInt::from(12345) * BigInt::from(d.clone()) + 678;
        coeffs[5] = BigInt::from(-777) * BigInt::from(d);
        let mut x = RnsPoly::zero(n, all.len());
        for (i, c) in coeffs.iter().enumerate() {
            for (l, r) in residues(c, &all).into_iter().enumerate() {
                x.limb_mut(l)[i] = r;
            }
        }
        x.ntt_forward(&all);
        let mut q = TailDivider::new(&keep, &dropped).unwrap().divide(x);
        q.ntt_backward(&keep);
        let values = CrtComposer::new(&keep).unwrap().compose(q.data());
        assert_eq!(values[0], 12345.0);
        assert_eq!(values[5], -777.0);
        assert!(values
            .iter()
            .enumerate()
            .all(|(i, v)| i == 0 || i == 5 || *v == 0.0));
    }

    #[test]
    fn basis_rejects_repeats_and_degree_mismatch() {
        let a = basis(40, 2, &[]);
        assert!(a.concat(&a).is_err());
        let other = RnsBasis::new(32, &ntt_primes(40, 32, 1, &[]).unwrap()).unwrap();
        assert!(BasisConverter::new(&a, &other).is_err());
    }
}

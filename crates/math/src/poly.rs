//! Polynomials of `Z_Q[X]/(X^n + 1)` stored limb by limb in an RNS basis.
//!
//! A polynomial does not own its basis: operations take the [`RnsBasis`] the caller keeps for
//! its level, which keeps polynomials plain data (cheap to serialize, validate and zeroize).
//! Limb-wise work runs in parallel with rayon.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::{MathError, RnsBasis};

/// `limbs` residue vectors of length `n`, limb `i` modulo the `i`-th modulus of its basis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Zeroize)]
pub struct RnsPoly {
    n: usize,
    data: Vec<u64>,
}

impl RnsPoly {
    /// The zero polynomial of ring degree `n` over `limbs` limbs (zero in both coefficient and
    /// evaluation form).
    pub fn zero(n: usize, limbs: usize) -> Self {
        Self {
            n,
            data: vec![0; n * limbs],
        }
    }

    /// Wraps flat limb data; the length must be a multiple of `n`.
    pub fn from_data(n: usize, data: Vec<u64>) -> Result<Self, MathError> {
        if n == 0 || !data.len().is_multiple_of(n) {
            return Err(MathError::DegreeMismatch {
                expected: n,
                found: data.len(),
            });
        }
        Ok(Self { n, data })
    }

    /// Reduces small signed coefficients into every limb of `basis`.
    pub fn from_signed(basis: &RnsBasis, coeffs: &[i64]) -> Self {
        let n = basis.n();
        assert_eq!(coeffs.len(), n);
        let mut data = Vec::with_capacity(basis.len() * n);
        for m in basis.moduli() {
            data.extend(coeffs.iter().map(|&c| m.reduce_i64(c)));
        }
        Self { n, data }
    }

    /// Ring degree: coefficients per limb.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of limbs, one per modulus of the basis the polynomial is over.
    pub fn limbs(&self) -> usize {
        self.data.len() / self.n
    }

    /// All residues, flat: limb `i` is `data()[i * n..(i + 1) * n]`.
    pub fn data(&self) -> &[u64] {
        &self.data
    }

    /// All residues, flat and writable; see [`Self::data`].
    pub fn data_mut(&mut self) -> &mut [u64] {
        &mut self.data
    }

    /// The `n` residues of limb `i`, modulo the `i`-th modulus of the basis.
    pub fn limb(&self, i: usize) -> &[u64] {
        &self.data[i * self.n..(i + 1) * self.n]
    }

    /// The `n` residues of limb `i`, writable.
    pub fn limb_mut(&mut self, i: usize) -> &mut [u64] {
        &mut self.data[i * self.n..(i + 1) * self.n]
    }

    /// Drops limbs beyond the first `limbs`.
    pub fn truncate(&mut self, limbs: usize) {
        self.data.truncate(limbs * self.n);
    }

    /// A copy of the first `limbs` limbs.
    pub fn prefix(&self, limbs: usize) -> Self {
        Self {
            n: self.n,
            data: self.data[..limbs * self.n].to_vec(),
        }
    }

    /// Appends the limbs of `other`.
    pub fn extend(&mut self, other: &Self) {
        assert_eq!(self.n, other.n);
        self.data.extend_from_slice(&other.data);
    }

    /// True when every residue is below its limb's modulus.
    pub fn is_reduced(&self, basis: &RnsBasis) -> bool {
        self.n == basis.n()
            && self.limbs() == basis.len()
            && self
                .data
                .chunks(self.n)
                .enumerate()
                .all(|(i, limb)| limb.iter().all(|&c| c < basis.modulus(i).value()))
    }

    /// Runs `f` on each limb of `self` with the same limb of `other` and its modulus, limbs
    /// in parallel.
    fn zip_limbs<F>(&mut self, basis: &RnsBasis, other: &Self, f: F)
    where
        F: Fn(&crate::Modulus, &mut [u64], &[u64]) + Sync,
    {
        assert_eq!(self.data.len(), other.data.len());
        assert!(self.limbs() <= basis.len());
        let n = self.n;
        self.data
            .par_chunks_mut(n)
            .zip(other.data.par_chunks(n))
            .enumerate()
            .for_each(|(i, (a, b))| f(basis.modulus(i), a, b));
    }

    /// `self += other`, limb by limb (in either form, as long as both are in the same one).
    pub fn add_assign(&mut self, basis: &RnsBasis, other: &Self) {
        self.zip_limbs(basis, other, |m, a, b| {
            a.iter_mut().zip(b).for_each(|(x, &y)| *x = m.add(*x, y))
        });
    }

    /// `self -= other`, limb by limb (in either form, as long as both are in the same one).
    pub fn sub_assign(&mut self, basis: &RnsBasis, other: &Self) {
        self.zip_limbs(basis, other, |m, a, b| {
            a.iter_mut().zip(b).for_each(|(x, &y)| *x = m.sub(*x, y))
        });
    }

    /// Pointwise product; meaningful as a ring product when both are in evaluation form.
    pub fn mul_assign(&mut self, basis: &RnsBasis, other: &Self) {
        self.zip_limbs(basis, other, |m, a, b| match m.narrow() {
            Some(nm) => a.iter_mut().zip(b).for_each(|(x, &y)| *x = nm.mul(*x, y)),
            None => a.iter_mut().zip(b).for_each(|(x, &y)| *x = m.mul(*x, y)),
        });
    }

    /// `self += a * b` pointwise.
    pub fn mul_add_assign(&mut self, basis: &RnsBasis, a: &Self, b: &Self) {
        assert_eq!(a.data.len(), b.data.len());
        assert_eq!(self.data.len(), a.data.len());
        self.zip_products(basis, a, b, |m, o, x, y| {
            for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                *o = m.reduce_u128(x as u128 * y as u128 + *o as u128);
            }
        });
    }

    /// `f(modulus, self limb, a limb, b limb)` over the limbs of `self`, in parallel; `a` and
    /// `b` may carry more limbs (read as their prefix).
    fn zip_products<F>(&mut self, basis: &RnsBasis, a: &Self, b: &Self, f: F)
    where
        F: Fn(&crate::Modulus, &mut [u64], &[u64], &[u64]) + Sync,
    {
        assert!(a.data.len() >= self.data.len() && b.data.len() >= self.data.len());
        let n = self.n;
        self.data
            .par_chunks_mut(n)
            .zip(a.data.par_chunks(n).zip(b.data.par_chunks(n)))
            .enumerate()
            .for_each(|(i, (o, (x, y)))| f(basis.modulus(i), o, x, y));
    }

    /// `self -= a * b` pointwise, over the limbs of `self`: `a` and `b` may carry more (a
    /// key over a larger basis, read without copying its prefix).
    pub fn mul_sub_assign(&mut self, basis: &RnsBasis, a: &Self, b: &Self) {
        self.zip_products(basis, a, b, |m, o, x, y| {
            let terms = o.iter_mut().zip(x).zip(y);
            match m.narrow() {
                Some(nm) => terms.for_each(|((o, &x), &y)| *o = nm.sub(*o, nm.mul(x, y))),
                None => terms.for_each(|((o, &x), &y)| *o = m.sub(*o, m.mul(x, y))),
            }
        });
    }

    /// `self = -self`, limb by limb, in either form.
    pub fn neg_assign(&mut self, basis: &RnsBasis) {
        let n = self.n;
        self.data.par_chunks_mut(n).enumerate().for_each(|(i, a)| {
            let m = basis.modulus(i);
            a.iter_mut().for_each(|x| *x = m.neg(*x));
        });
    }

    /// Multiplies limb `i` by `scalars[i]` (a constant given by its residues).
    pub fn mul_scalar_assign(&mut self, basis: &RnsBasis, scalars: &[u64]) {
        let n = self.n;
        self.data.par_chunks_mut(n).enumerate().for_each(|(i, a)| {
            let m = basis.modulus(i);
            let w = scalars[i];
            match m.narrow() {
                Some(nm) => {
                    let ws = nm.shoup(w);
                    a.iter_mut().for_each(|x| *x = nm.mul_shoup(*x, w, ws));
                }
                None => {
                    let ws = m.shoup(w);
                    a.iter_mut().for_each(|x| *x = m.mul_shoup(*x, w, ws));
                }
            }
        });
    }

    /// Adds the constant with residues `scalars` to every coefficient (coefficient form) or to
    /// every evaluation (evaluation form, where a constant is the same everywhere).
    pub fn add_scalar_assign(&mut self, basis: &RnsBasis, scalars: &[u64]) {
        let n = self.n;
        self.data.par_chunks_mut(n).enumerate().for_each(|(i, a)| {
            let m = basis.modulus(i);
            a.iter_mut().for_each(|x| *x = m.add(*x, scalars[i]));
        });
    }

    /// Coefficient form to evaluation form, each limb by the [`NttTable`](crate::NttTable) of
    /// its prime.
    pub fn ntt_forward(&mut self, basis: &RnsBasis) {
        let n = self.n;
        self.data
            .par_chunks_mut(n)
            .enumerate()
            .for_each(|(i, a)| basis.table(i).forward(a));
    }

    /// Evaluation form back to coefficient form, each limb by the
    /// [`NttTable`](crate::NttTable) of its prime.
    pub fn ntt_backward(&mut self, basis: &RnsBasis) {
        let n = self.n;
        self.data
            .par_chunks_mut(n)
            .enumerate()
            .for_each(|(i, a)| basis.table(i).backward(a));
    }

    /// Applies a slot permutation (an automorphism in evaluation form) to every limb.
    pub fn permute(&self, perm: &[u32]) -> Self {
        let n = self.n;
        assert!(n.is_power_of_two() && perm.len() == n);
        // Collected straight into the new vector: no zero-fill before the writes.
        let low = n - 1;
        let data = (0..self.data.len())
            .into_par_iter()
            .with_min_len(n)
            .map(|k| self.data[(k & !low) | perm[k & low] as usize])
            .collect();
        Self { n, data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntt_primes;

    #[test]
    fn ring_product_through_evaluation_form() {
        let n = 32;
        let basis = RnsBasis::new(n, &ntt_primes(50, n, 3, &[]).unwrap()).unwrap();
        // (1 + X) * X^(n-1) = X^(n-1) + X^n = X^(n-1) - 1.
        let mut a_c = vec![0i64; n];
        a_c[0] = 1;
        a_c[1] = 1;
        let mut b_c = vec![0i64; n];
        b_c[n - 1] = 1;
        let mut a = RnsPoly::from_signed(&basis, &a_c);
        let mut b = RnsPoly::from_signed(&basis, &b_c);
        a.ntt_forward(&basis);
        b.ntt_forward(&basis);
        a.mul_assign(&basis, &b);
        a.ntt_backward(&basis);
        let mut expected = vec![0i64; n];
        expected[0] = -1;
        expected[n - 1] = 1;
        assert_eq!(a, RnsPoly::from_signed(&basis, &expected));
    }

    #[test]
    fn add_sub_neg_roundtrip() {
        let n = 16;
        let basis = RnsBasis::new(n, &ntt_primes(40, n, 2, &[]).unwrap()).unwrap();
        let c: Vec<i64> = (0..n as i64).map(|i| i * 1000 - 7000).collect();
        let a = RnsPoly::from_signed(&basis, &c);
        let mut b = a.clone();
        b.add_assign(&basis, &a);
        b.sub_assign(&basis, &a);
        assert_eq!(b, a);
        b.neg_assign(&basis);
        b.add_assign(&basis, &a);
        assert_eq!(b, RnsPoly::zero(n, 2));
        assert!(a.is_reduced(&basis));
        assert!(RnsPoly::from_data(n, vec![0; 17]).is_err());
    }
}

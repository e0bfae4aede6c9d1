//! Negacyclic number-theoretic transform over one prime.
//!
//! The butterflies come from `tfhe-ntt` (AVX2/AVX-512, Harvey lazy reduction), which measured
//! faster than a straightforward Rust NTT on this project's machines (see `benches/ntt.rs` and
//! docs/dependencies.md). Primes below 2^31 go through its 32-bit plan: eight lanes of native
//! 32-bit products instead of four lanes of emulated 64-bit ones, about four times faster at
//! degree 8192 on AVX2, which is what CKKS's 28-bit scaling primes get. This module adds what a scheme needs on top of it: a normalized inverse
//! and the evaluation point of every output slot, so that automorphisms `X -> X^g` become plain
//! permutations of the transformed vector.

use std::cell::RefCell;
use std::collections::HashMap;

use tfhe_ntt::{prime32, prime64};

use crate::{MathError, Modulus};

/// The `tfhe-ntt` plan for one prime: 32-bit lanes when the prime allows them.
enum Plan {
    Narrow(prime32::Plan),
    Wide(prime64::Plan),
}

impl Plan {
    /// Primes below this bound use the 32-bit plan (its lazy butterflies keep values below
    /// `4q`, so `q < 2^30` is the safe side of what tfhe-ntt accepts).
    const NARROW_BOUND: u64 = 1 << 30;

    fn new(n: usize, q: u64) -> Option<Self> {
        let narrow = (q < Self::NARROW_BOUND)
            .then(|| prime32::Plan::try_new(n, q as u32))
            .flatten();
        // The 32-bit plan needs n >= 32; smaller rings take the 64-bit one.
        narrow
            .map(Plan::Narrow)
            .or_else(|| prime64::Plan::try_new(n, q).map(Plan::Wide))
    }

    /// Runs `f` on `a` narrowed to 32 bits (values are below `q < 2^30`) and widens it back,
    /// through a per-thread buffer: transforms are the hot path and need not allocate.
    fn narrowed(a: &mut [u64], f: impl FnOnce(&mut [u32])) {
        thread_local! {
            static NARROW: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
        }
        NARROW.with(|buf| {
            let mut narrow = buf.borrow_mut();
            narrow.clear();
            narrow.extend(a.iter().map(|&x| x as u32));
            f(&mut narrow);
            for (x, &y) in a.iter_mut().zip(narrow.iter()) {
                *x = y as u64;
            }
        });
    }

    fn fwd(&self, a: &mut [u64]) {
        match self {
            Plan::Narrow(p) => Self::narrowed(a, |b| p.fwd(b)),
            Plan::Wide(p) => p.fwd(a),
        }
    }

    fn inv_normalized(&self, a: &mut [u64]) {
        match self {
            Plan::Narrow(p) => Self::narrowed(a, |b| {
                p.inv(b);
                p.normalize(b);
            }),
            Plan::Wide(p) => {
                p.inv(a);
                p.normalize(a);
            }
        }
    }
}

/// Precomputed transform of size `n` modulo one prime `q = 1 mod 2n`.
pub struct NttTable {
    plan: Plan,
    modulus: Modulus,
    /// `exponents[j] = e` when output slot `j` holds the evaluation at `psi^e` (e odd), for a
    /// primitive 2n-th root `psi`.
    exponents: Vec<u32>,
}

impl std::fmt::Debug for NttTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NttTable")
            .field("n", &self.exponents.len())
            .field("modulus", &self.modulus.value())
            .finish()
    }
}

impl NttTable {
    /// The transform of size `n` modulo `modulus`; [`MathError::NotNttFriendly`] unless `n` is
    /// a power of two of at least 16 and `modulus` a prime that is 1 mod `2n`.
    pub fn new(n: usize, modulus: Modulus) -> Result<Self, MathError> {
        let q = modulus.value();
        if n < 16 || !n.is_power_of_two() || q % (2 * n as u64) != 1 {
            return Err(MathError::NotNttFriendly { modulus: q, n });
        }
        let plan = Plan::new(n, q).ok_or(MathError::NotNttFriendly { modulus: q, n })?;
        // Transforming X yields the evaluation points themselves; take the first as psi and
        // read every other slot's point as a power of it.
        let mut x = vec![0u64; n];
        x[1] = 1;
        plan.fwd(&mut x);
        let psi = x[0];
        let mut log = HashMap::with_capacity(n);
        let mut power = psi;
        let psi_sq = modulus.mul(psi, psi);
        for e in (1..2 * n as u32).step_by(2) {
            log.insert(power, e);
            power = modulus.mul(power, psi_sq);
        }
        let exponents = x
            .iter()
            .map(|v| {
                log.get(v)
                    .copied()
                    .ok_or(MathError::NotNttFriendly { modulus: q, n })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            plan,
            modulus,
            exponents,
        })
    }

    /// Transform size: the ring degree.
    pub fn n(&self) -> usize {
        self.exponents.len()
    }

    /// The prime the transform works modulo.
    pub fn modulus(&self) -> &Modulus {
        &self.modulus
    }

    /// Coefficients in `[0, q)` to evaluations in `[0, q)`.
    pub fn forward(&self, a: &mut [u64]) {
        self.plan.fwd(a);
    }

    /// Evaluations back to coefficients, including the division by `n`.
    pub fn backward(&self, a: &mut [u64]) {
        self.plan.inv_normalized(a);
    }

    /// Evaluation-point exponents of the output slots.
    pub fn exponents(&self) -> &[u32] {
        &self.exponents
    }
}

/// Permutation that applies `X -> X^g` to a vector in evaluation form: `out[j] = in[perm[j]]`.
/// Depends only on the slot layout, which [`NttTable`] exposes through its exponents.
pub fn automorphism_permutation(exponents: &[u32], galois: u64) -> Vec<u32> {
    let two_n = 2 * exponents.len() as u64;
    let mut slot_of = vec![0u32; two_n as usize];
    for (j, &e) in exponents.iter().enumerate() {
        slot_of[e as usize] = j as u32;
    }
    exponents
        .iter()
        .map(|&e| slot_of[((e as u64 * galois) % two_n) as usize])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntt_primes;

    fn negacyclic_product(a: &[u64], b: &[u64], m: &Modulus) -> Vec<u64> {
        let n = a.len();
        let mut out = vec![0u64; n];
        for i in 0..n {
            for j in 0..n {
                let p = m.mul(a[i], b[j]);
                if i + j < n {
                    out[i + j] = m.add(out[i + j], p);
                } else {
                    out[i + j - n] = m.sub(out[i + j - n], p);
                }
            }
        }
        out
    }

    #[test]
    fn transform_multiplies_negacyclically() {
        let n = 64;
        // 20 and 28 bits take the 32-bit plan, the others the 64-bit one.
        for bits in [20, 28, 30, 50, 60] {
            let m = ntt_primes(bits, n, 1, &[]).unwrap()[0];
            let t = NttTable::new(n, m).unwrap();
            let a: Vec<u64> = (0..n as u64).map(|i| m.reduce(i * 7919 + 3)).collect();
            let b: Vec<u64> = (0..n as u64)
                .map(|i| m.reduce(i * i * 104729 + 11))
                .collect();
            let expected = negacyclic_product(&a, &b, &m);
            let (mut fa, mut fb) = (a.clone(), b.clone());
            t.forward(&mut fa);
            t.forward(&mut fb);
            let mut prod: Vec<u64> = fa.iter().zip(&fb).map(|(x, y)| m.mul(*x, *y)).collect();
            t.backward(&mut prod);
            assert_eq!(prod, expected);
            t.backward(&mut fa);
            assert_eq!(fa, a);
        }
    }

    #[test]
    fn automorphism_is_a_permutation_of_evaluations() {
        let n = 32;
        let m = ntt_primes(50, n, 1, &[]).unwrap()[0];
        let t = NttTable::new(n, m).unwrap();
        let a: Vec<u64> = (0..n as u64).map(|i| m.reduce(i * 31 + 5)).collect();
        for g in [5u64, 25, 2 * n as u64 - 1] {
            // a(X^g) computed on coefficients: X^i -> X^(i g mod 2n) with sign flips.
            let mut expected = vec![0u64; n];
            for (i, &c) in a.iter().enumerate() {
                let k = (i as u64 * g) % (2 * n as u64);
                if k < n as u64 {
                    expected[k as usize] = m.add(expected[k as usize], c);
                } else {
                    let k = (k - n as u64) as usize;
                    expected[k] = m.sub(expected[k], c);
                }
            }
            let mut fa = a.clone();
            t.forward(&mut fa);
            let perm = automorphism_permutation(t.exponents(), g);
            let mut permuted: Vec<u64> = perm.iter().map(|&p| fa[p as usize]).collect();
            t.backward(&mut permuted);
            assert_eq!(permuted, expected, "galois element {g}");
        }
    }

    #[test]
    fn slot_layout_is_shared_by_all_primes() {
        // Automorphism tables are computed once per ring, so every prime must agree on them.
        let n = 1 << 10;
        let mut primes = ntt_primes(45, n, 4, &[]).unwrap();
        // Narrow primes (the 32-bit plan) must agree with wide ones.
        primes.extend(ntt_primes(28, n, 3, &[]).unwrap());
        let first = NttTable::new(n, primes[0]).unwrap();
        for q in &primes[1..] {
            let t = NttTable::new(n, *q).unwrap();
            let p1 = automorphism_permutation(first.exponents(), 5);
            let p2 = automorphism_permutation(t.exponents(), 5);
            assert_eq!(p1, p2);
        }
    }

    #[test]
    fn rejects_unfriendly_modulus() {
        assert!(NttTable::new(64, Modulus::new(97).unwrap()).is_err());
        assert!(NttTable::new(48, Modulus::new(97).unwrap()).is_err());
    }
}

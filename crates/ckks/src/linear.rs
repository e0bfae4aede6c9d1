//! Linear maps with clear coefficients applied to encrypted slot vectors, by their diagonals.
//!
//! A [`LinearMap`] acts on vectors of `period` complex slots, repeated across the `N/2`
//! slots of a ciphertext (a period below `N/2` is a sparse packing). It is kept as its
//! generalized diagonals, `y = sum_k d_k * rot(x, k)` with `rot(x, k)[i] = x[(i + k) mod
//! period]`, so that maps compose in the clear ([`LinearMap::then`]) before anything is
//! encrypted: the homomorphic DFTs of bootstrapping are products of butterfly stages merged
//! into as many maps as levels are granted.
//!
//! [`Evaluator::apply_linear`] evaluates an [`EncodedMap`] baby-step giant-step: with the
//! offsets split as `k = g B + b`, `y = sum_g rot(sum_b rot(d_k, -g B) * rot(x, b), g B)`, the
//! baby rotations of `x` hoisted (one decomposition for all of them) and each diagonal
//! encoded already rotated by its giant step. A map with `D` diagonals then costs about
//! `2 sqrt(D)` rotations and one level.

use std::collections::BTreeMap;

use num_complex::Complex64;

use crate::{Ciphertext, CkksError, Encoder, Evaluator, Plaintext};

/// A linear map on vectors of `period` slots, by its nonzero diagonals.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearMap {
    period: usize,
    /// Offset `k` (below `period`) to `d_k`, of `period` entries.
    diagonals: BTreeMap<usize, Vec<Complex64>>,
}

fn zero() -> Complex64 {
    Complex64::new(0.0, 0.0)
}

/// `v` rotated left by `k`: entry `i` is `v[(i + k) mod len]`.
fn rotated(v: &[Complex64], k: usize) -> Vec<Complex64> {
    let len = v.len();
    (0..len).map(|i| v[(i + k) % len]).collect()
}

impl LinearMap {
    /// The map of the given diagonals; `period` must be a power of two, every offset below
    /// it and every diagonal `period` entries long.
    pub fn new(
        period: usize,
        diagonals: BTreeMap<usize, Vec<Complex64>>,
    ) -> Result<Self, CkksError> {
        if !period.is_power_of_two() {
            return Err(CkksError::InvalidParams(format!(
                "a linear map's period must be a power of two, not {period}"
            )));
        }
        if let Some((k, d)) = diagonals
            .iter()
            .find(|(&k, d)| k >= period || d.len() != period)
        {
            return Err(CkksError::InvalidParams(format!(
                "diagonal {k} of {} entries in a map of period {period}",
                d.len()
            )));
        }
        Ok(Self { period, diagonals })
    }

    /// The map of a dense square matrix (`rows[i][j]` maps `x[j]` into `y[i]`).
    pub fn from_matrix(rows: &[Vec<Complex64>]) -> Result<Self, CkksError> {
        let period = rows.len();
        if rows.iter().any(|r| r.len() != period) {
            return Err(CkksError::InvalidParams(
                "a linear map's matrix must be square".into(),
            ));
        }
        let mut diagonals = BTreeMap::new();
        for k in 0..period {
            let d: Vec<Complex64> = (0..period).map(|i| rows[i][(i + k) % period]).collect();
            if d.iter().any(|v| v.norm_sqr() != 0.0) {
                diagonals.insert(k, d);
            }
        }
        Self::new(period, diagonals)
    }

    /// Slot-wise multiplication by `v`.
    pub fn diagonal(v: Vec<Complex64>) -> Result<Self, CkksError> {
        Self::new(v.len(), BTreeMap::from([(0, v)]))
    }

    /// Length of the vectors the map acts on (a power of two); the slots repeat with it.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Offsets of the nonzero diagonals, ascending.
    pub fn offsets(&self) -> impl Iterator<Item = usize> + '_ {
        self.diagonals.keys().copied()
    }

    /// The map applied to a clear vector of `period` entries.
    pub fn apply(&self, x: &[Complex64]) -> Result<Vec<Complex64>, CkksError> {
        if x.len() != self.period {
            return Err(CkksError::InvalidParams(format!(
                "a vector of {} entries for a map of period {}",
                x.len(),
                self.period
            )));
        }
        let mut y = vec![zero(); self.period];
        for (&k, d) in &self.diagonals {
            for (i, out) in y.iter_mut().enumerate() {
                *out += d[i] * x[(i + k) % self.period];
            }
        }
        Ok(y)
    }

    /// Every coefficient times `c`.
    pub fn scaled(mut self, c: Complex64) -> Self {
        self.diagonals
            .values_mut()
            .for_each(|d| d.iter_mut().for_each(|v| *v *= c));
        self
    }

    /// `after(self(x))`: `d_{a + b} += A_a * rot(B_b, a)` for the diagonals `A_a` of `after`
    /// and `B_b` of `self`. A map of a smaller period is lifted first.
    pub fn then(&self, after: &LinearMap) -> Result<LinearMap, CkksError> {
        let period = self.period.max(after.period);
        let (b, a) = (self.lifted(period)?, after.lifted(period)?);
        let mut diagonals: BTreeMap<usize, Vec<Complex64>> = BTreeMap::new();
        for (&ka, da) in &a.diagonals {
            for (&kb, db) in &b.diagonals {
                let rb = rotated(db, ka);
                let d = diagonals
                    .entry((ka + kb) % period)
                    .or_insert_with(|| vec![zero(); period]);
                for ((o, x), y) in d.iter_mut().zip(da).zip(&rb) {
                    *o += x * y;
                }
            }
        }
        // Diagonals that cancel exactly cost rotations for nothing.
        diagonals.retain(|_, d| d.iter().any(|v| v.norm_sqr() != 0.0));
        LinearMap::new(period, diagonals)
    }

    /// The same map on vectors of a multiple `period` whose entries repeat with the map's own
    /// period: diagonals repeated, offsets kept. On any other vector of the longer period it
    /// is a different map, which is how masks and half-period moves are written.
    pub fn lifted(&self, period: usize) -> Result<LinearMap, CkksError> {
        if period == self.period {
            return Ok(self.clone());
        }
        if !period.is_power_of_two() || period < self.period {
            return Err(CkksError::InvalidParams(format!(
                "cannot lift a map of period {} to {period}",
                self.period
            )));
        }
        let diagonals = self
            .diagonals
            .iter()
            .map(|(&k, d)| (k, d.iter().cycle().take(period).copied().collect()))
            .collect();
        LinearMap::new(period, diagonals)
    }

    /// The baby step that balances rotations for these offsets: the power of two `B` that
    /// minimizes the distinct baby offsets plus the distinct giant steps.
    fn baby_step(&self) -> usize {
        let cost = |b: usize| {
            let mut babies: Vec<usize> = self.offsets().map(|k| k % b).collect();
            let mut giants: Vec<usize> = self.offsets().map(|k| k / b).collect();
            babies.sort_unstable();
            babies.dedup();
            giants.sort_unstable();
            giants.dedup();
            babies.len() + giants.len()
        };
        (0..=self.period.trailing_zeros())
            .map(|e| 1usize << e)
            .min_by_key(|&b| (cost(b), b))
            .unwrap_or(1)
    }

    /// Encodes the diagonals at `level` and `scale`, each rotated by its giant step, for
    /// [`Evaluator::apply_linear`]. With `scale` the last prime of `level`, the rescale
    /// after the map restores the input's scale exactly.
    pub fn encode(
        &self,
        encoder: &Encoder,
        level: usize,
        scale: f64,
    ) -> Result<EncodedMap, CkksError> {
        let slots = encoder.params().slots();
        if self.period > slots {
            return Err(CkksError::InvalidParams(format!(
                "a map of period {} on {slots} slots",
                self.period
            )));
        }
        let baby = self.baby_step();
        let mut giants: BTreeMap<usize, Vec<(usize, Plaintext)>> = BTreeMap::new();
        for (&k, d) in &self.diagonals {
            let (g, b) = (k / baby * baby, k % baby);
            // Rotated right by the giant step, so that the giant rotation brings it back.
            let shifted = rotated(d, (self.period - g) % self.period);
            let full: Vec<Complex64> = shifted.iter().cycle().take(slots).copied().collect();
            let pt = encoder.encode_complex_at(&full, level, scale)?;
            giants.entry(g).or_default().push((b, pt));
        }
        Ok(EncodedMap {
            period: self.period,
            level,
            giants: giants.into_iter().collect(),
        })
    }
}

/// A [`LinearMap`] encoded for one level, in its baby-step giant-step order.
pub struct EncodedMap {
    period: usize,
    level: usize,
    /// Per giant step: the baby offsets and their pre-rotated diagonals.
    giants: Vec<(usize, Vec<(usize, Plaintext)>)>,
}

impl EncodedMap {
    /// The level the diagonals are encoded at, which the input of
    /// [`Evaluator::apply_linear`] must be at.
    pub fn level(&self) -> usize {
        self.level
    }

    /// The baby offsets, ascending.
    fn babies(&self) -> Vec<usize> {
        let mut b: Vec<usize> = self
            .giants
            .iter()
            .flat_map(|(_, ds)| ds.iter().map(|(b, _)| *b))
            .collect();
        b.sort_unstable();
        b.dedup();
        b
    }

    /// Every rotation step the map needs a Galois key for.
    pub fn rotation_steps(&self) -> Vec<i64> {
        let mut steps: Vec<i64> = self
            .babies()
            .into_iter()
            .chain(self.giants.iter().map(|(g, _)| *g))
            .filter(|&s| s != 0)
            .map(|s| s as i64)
            .collect();
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// Rotations one application performs.
    pub fn rotations(&self) -> usize {
        self.rotation_steps().len()
    }
}

impl Evaluator {
    /// Applies `map` to the slots of `x` (which must be at the map's level and repeat with its
    /// period). The result is not rescaled: its scale is the product of `x`'s and the map's.
    pub fn apply_linear(&self, x: &Ciphertext, map: &EncodedMap) -> Result<Ciphertext, CkksError> {
        self.check_ct(x)?;
        if x.level != map.level {
            return Err(CkksError::LevelMismatch(x.level, map.level));
        }
        let babies = map.babies();
        let steps: Vec<i64> = babies.iter().map(|&b| b as i64).collect();
        let rotations = self.rotate_hoisted(x, &steps)?;
        let rotation_of = |b: usize| {
            babies
                .binary_search(&b)
                .ok()
                .and_then(|i| rotations.get(i))
                .ok_or(CkksError::Internal("a baby step without its rotation"))
        };
        let mut total: Option<Ciphertext> = None;
        for (g, diagonals) in &map.giants {
            let mut partial: Option<Ciphertext> = None;
            for (b, pt) in diagonals {
                let term = self.mul_plain(rotation_of(*b)?, pt)?;
                match partial.as_mut() {
                    Some(p) => self.add_assign(p, &term)?,
                    None => partial = Some(term),
                }
            }
            let Some(partial) = partial else { continue };
            let moved = self.rotate(&partial, (*g % map.period) as i64)?;
            match total.as_mut() {
                Some(t) => self.add_assign(t, &moved)?,
                None => total = Some(moved),
            }
        }
        total.ok_or(CkksError::InvalidParams(
            "a linear map without diagonals".into(),
        ))
    }
}

/// The largest distance between two vectors' entries (tests of the maps built on these).
#[cfg(test)]
pub(crate) fn max_err(a: &[Complex64], b: &[Complex64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).norm())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{presets, Decryptor, Encryptor, KeyGenerator, Params};

    fn c(re: f64, im: f64) -> Complex64 {
        Complex64::new(re, im)
    }

    fn random_matrix(n: usize, seed: u64) -> Vec<Vec<Complex64>> {
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        (0..n)
            .map(|_| (0..n).map(|_| c(next(), next())).collect())
            .collect()
    }

    fn matvec(m: &[Vec<Complex64>], x: &[Complex64]) -> Vec<Complex64> {
        m.iter()
            .map(|r| r.iter().zip(x).map(|(a, b)| a * b).sum())
            .collect()
    }

    #[test]
    fn clear_maps_compose_like_matrices() {
        let (a, b) = (random_matrix(8, 1), random_matrix(8, 2));
        let x: Vec<Complex64> = (0..8).map(|i| c(i as f64, -(i as f64) / 2.0)).collect();
        let ma = LinearMap::from_matrix(&a).unwrap();
        let mb = LinearMap::from_matrix(&b).unwrap();
        assert!(max_err(&ma.apply(&x).unwrap(), &matvec(&a, &x)) < 1e-12);
        let ab = mb.then(&ma).unwrap();
        let want = matvec(&a, &matvec(&b, &x));
        assert!(max_err(&ab.apply(&x).unwrap(), &want) < 1e-12);
        // A map of period 4 lifted to 8 acts on each half of a vector of period 4.
        let small = random_matrix(4, 3);
        let lifted = LinearMap::from_matrix(&small).unwrap().lifted(8).unwrap();
        let x4: Vec<Complex64> = x[..4].to_vec();
        let x8: Vec<Complex64> = x4.iter().cycle().take(8).copied().collect();
        let y = lifted.apply(&x8).unwrap();
        let want = matvec(&small, &x4);
        assert!(max_err(&y[..4], &want) < 1e-12 && max_err(&y[4..], &want) < 1e-12);
    }

    #[test]
    fn malformed_maps_are_refused() {
        assert!(LinearMap::new(6, BTreeMap::new()).is_err());
        assert!(LinearMap::new(4, BTreeMap::from([(4, vec![zero(); 4])])).is_err());
        assert!(LinearMap::new(4, BTreeMap::from([(1, vec![zero(); 3])])).is_err());
        assert!(LinearMap::from_matrix(&[vec![zero(); 2]]).is_err());
        let m = LinearMap::diagonal(vec![c(1.0, 0.0); 4]).unwrap();
        assert!(m.apply(&[zero(); 3]).is_err());
        assert!(m.lifted(2).is_err());
    }

    #[test]
    fn encrypted_map_equals_clear_map_at_full_and_sparse_periods() {
        let params = Params::new_insecure(presets::insecure_test_n12()).unwrap();
        let mut kg = KeyGenerator::with_seed(&params, 5);
        let sk = kg.secret_key();
        let encoder = Encoder::new(&params);
        let level = params.max_level();
        let prime = params.q_moduli()[level].value() as f64;
        for period in [16, params.slots()] {
            let m = random_matrix(period, period as u64);
            let map = LinearMap::from_matrix(&m).unwrap();
            let encoded = map.encode(&encoder, level, prime).unwrap();
            // 2 sqrt(D) rotations for an even power of two, 3 sqrt(D / 2) for an odd one.
            assert!(encoded.rotations() as f64 <= 2.2 * (period as f64).sqrt());
            let eval = Evaluator::new(&params)
                .with_relin_key(kg.relin_key(&sk).unwrap())
                .unwrap()
                .with_galois_keys(
                    kg.galois_keys(&sk, &encoded.rotation_steps(), false)
                        .unwrap(),
                )
                .unwrap();
            let x: Vec<Complex64> = (0..period)
                .map(|i| c((i as f64 * 0.7).sin(), (i as f64 * 0.3).cos()) * 0.5)
                .collect();
            let full: Vec<Complex64> = x.iter().cycle().take(params.slots()).copied().collect();
            let mut enc = Encryptor::with_secret_key(&params, &sk).unwrap();
            let ct = enc
                .encrypt(
                    &encoder
                        .encode_complex_at(&full, level, params.default_scale())
                        .unwrap(),
                )
                .unwrap();
            let y = eval
                .rescale(&eval.apply_linear(&ct, &encoded).unwrap())
                .unwrap();
            assert!((y.scale() / params.default_scale() - 1.0).abs() < 1e-9);
            let got = encoder
                .decode_complex(&Decryptor::new(&params, &sk).unwrap().decrypt(&y).unwrap())
                .unwrap();
            let want = matvec(&m, &x);
            for (block, chunk) in got.chunks(period).enumerate() {
                let err = max_err(chunk, &want);
                assert!(err < 1e-6, "period {period}, block {block}: error {err}");
            }
        }
    }
}

//! Homomorphic arithmetic: additions, products, rescaling and level management.
//! Key switching and everything built on it (relinearization, rotations) is in
//! `evaluator_keyswitch.rs`.

use rayon::prelude::*;
use shroud_math::{automorphism_permutation, Fingerprint, KeyTag, RnsPoly};
use std::borrow::Cow;
use std::collections::HashMap;

use crate::counters::{Counters, Op, OpCounts};
use crate::evaluator_keyswitch::PreparedKey;
use crate::{Ciphertext, CkksError, EncapsulationKey, GaloisKeys, Params, Plaintext, RelinKey};

/// Two scales closer than this (relative) are treated as equal: the mismatch then perturbs a
/// result by less than 2^-40 of its magnitude, far below CKKS precision.
const SCALE_TOLERANCE: f64 = 1.0 / (1u64 << 40) as f64;

/// The smallest factor [`Evaluator::mul_large_scalar_to`] applies as a rounded integer:
/// rounding then perturbs the product by a relative 2^-25 at most, below the precision of
/// CKKS at the scales the presets use (2^28 to 2^40 with noise of a few bits).
pub const LARGE_FACTOR: f64 = (1u64 << 24) as f64;

/// Evaluates on ciphertexts with the evaluation keys it was given. Holds no secret.
pub struct Evaluator {
    pub(crate) params: Params,
    pub(crate) relin: Option<PreparedKey>,
    /// Sparse-secret encapsulation for bootstrapping: the key to the sparse secret (modulo
    /// `q_0 p_0`), and the key back.
    pub(crate) encapsulation: Option<((RnsPoly, RnsPoly), PreparedKey)>,
    /// Per Galois element: its key and the slot permutation it applies.
    pub(crate) galois: HashMap<u64, (PreparedKey, Vec<u32>)>,
    /// The key every evaluation key given so far is for; ciphertexts under another are
    /// refused.
    pub(crate) key: Option<KeyTag>,
    pub(crate) counters: Counters,
}

impl Evaluator {
    /// An evaluator for `params` without evaluation keys: add them with
    /// [`Self::with_relin_key`], [`Self::with_galois_keys`] and
    /// [`Self::with_encapsulation_key`].
    pub fn new(params: &Params) -> Self {
        Self {
            params: params.clone(),
            relin: None,
            encapsulation: None,
            galois: HashMap::new(),
            key: None,
            counters: Counters::default(),
        }
    }

    /// Records the key of an evaluation key, which must be the one of any given before.
    fn adopt_key(&mut self, tag: KeyTag) -> Result<(), CkksError> {
        self.params.check_same(tag.params)?;
        match self.key {
            Some(key) => key.check(tag)?,
            None => self.key = Some(tag),
        }
        Ok(())
    }

    /// Adds the relinearization key, which products that relinearize need. Fails if it belongs
    /// to other parameters or to another secret key than the keys given before.
    pub fn with_relin_key(mut self, rk: RelinKey) -> Result<Self, CkksError> {
        self.adopt_key(rk.0.tag)?;
        self.relin = Some(PreparedKey::new(&self.params, &rk.0, None));
        Ok(self)
    }

    /// The keys bootstrapping needs to raise the modulus under a sparse secret.
    pub fn with_encapsulation_key(mut self, key: EncapsulationKey) -> Result<Self, CkksError> {
        self.adopt_key(key.tag)?;
        self.adopt_key(key.to_dense.tag)?;
        let to_dense = PreparedKey::new(&self.params, &key.to_dense, None);
        self.encapsulation = Some((key.to_sparse, to_dense));
        Ok(self)
    }

    /// Adds the keys of rotations and conjugation, replacing any held for the same Galois
    /// elements. Fails if one belongs to other parameters or to another secret key than the
    /// keys given before.
    pub fn with_galois_keys(mut self, gk: GaloisKeys) -> Result<Self, CkksError> {
        let exps = self.params.ctx().levels[0].q.table(0).exponents().to_vec();
        for (&g, key) in &gk.keys {
            self.adopt_key(key.tag)?;
            let perm = automorphism_permutation(&exps, g);
            let mut inverse = vec![0u32; perm.len()];
            for (j, &p) in perm.iter().enumerate() {
                inverse[p as usize] = j as u32;
            }
            let prepared = PreparedKey::new(&self.params, key, Some(&inverse));
            self.galois.insert(g, (prepared, perm));
        }
        Ok(self)
    }

    /// The parameters it evaluates under.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Operations performed so far.
    pub fn counts(&self) -> OpCounts {
        self.counters.snapshot()
    }

    /// Refuses a ciphertext of other parameters, or under another key than the evaluation
    /// keys'.
    pub(crate) fn check_ct(&self, ct: &Ciphertext) -> Result<(), CkksError> {
        self.params.check_same(ct.tag.params)?;
        if let Some(key) = self.key {
            key.check(ct.tag)?;
        }
        Ok(())
    }

    /// Two ciphertexts under one key.
    fn check_cts(&self, a: &Ciphertext, b: &Ciphertext) -> Result<(), CkksError> {
        self.check_ct(a)?;
        // Parameters first, so that another parameter set reads as such, not as another key.
        self.params.check_same(b.tag.params)?;
        a.tag.check(b.tag)?;
        Ok(())
    }

    fn check_pair(
        &self,
        a: &Ciphertext,
        b_params: Fingerprint,
        b_level: usize,
        b_scale: f64,
    ) -> Result<(), CkksError> {
        self.check_ct(a)?;
        self.params.check_same(b_params)?;
        if a.level != b_level {
            return Err(CkksError::LevelMismatch(a.level, b_level));
        }
        check_scales(a.scale, b_scale)
    }

    fn basis(&self, level: usize) -> &shroud_math::RnsBasis {
        &self.params.ctx().levels[level].q
    }

    /// `a + b`, slot by slot. Both must be under one key, at one level and at one scale (up
    /// to a relative 2^-40); either may be an unrelinearized product.
    pub fn add(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, CkksError> {
        let mut out = a.clone();
        self.add_assign(&mut out, b)?;
        Ok(out)
    }

    /// [`Self::add`] in place: `a += b`.
    pub fn add_assign(&self, a: &mut Ciphertext, b: &Ciphertext) -> Result<(), CkksError> {
        self.combine_assign(a, b, false)
    }

    /// `a - b`, slot by slot, on the terms of [`Self::add`].
    pub fn sub(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, CkksError> {
        let mut out = a.clone();
        self.sub_assign(&mut out, b)?;
        Ok(out)
    }

    /// [`Self::sub`] in place: `a -= b`.
    pub fn sub_assign(&self, a: &mut Ciphertext, b: &Ciphertext) -> Result<(), CkksError> {
        self.combine_assign(a, b, true)
    }

    fn combine_assign(
        &self,
        a: &mut Ciphertext,
        b: &Ciphertext,
        subtract: bool,
    ) -> Result<(), CkksError> {
        self.check_cts(a, b)?;
        self.check_pair(a, b.tag.params, b.level, b.scale)?;
        let basis = self.basis(a.level).clone();
        // Polynomials only `b` has are `b`'s (negated for a difference), not zeros plus them.
        let shared = a.polys.len().min(b.polys.len());
        for extra in &b.polys[shared..] {
            let mut p = extra.clone();
            if subtract {
                p.neg_assign(&basis);
            }
            a.polys.push(p);
        }
        for (x, y) in a.polys.iter_mut().zip(&b.polys[..shared]) {
            if subtract {
                x.sub_assign(&basis, y);
            } else {
                x.add_assign(&basis, y);
            }
        }
        Ok(())
    }

    /// `-a`, slot by slot; level and scale are unchanged.
    pub fn negate(&self, a: &Ciphertext) -> Result<Ciphertext, CkksError> {
        self.check_ct(a)?;
        let mut out = a.clone();
        let basis = self.basis(a.level);
        out.polys.iter_mut().for_each(|p| p.neg_assign(basis));
        Ok(out)
    }

    /// `a + pt`, slot by slot; the plaintext must be at the level and scale of `a`.
    pub fn add_plain(&self, a: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext, CkksError> {
        self.check_pair(a, pt.params_id, pt.level, pt.scale)?;
        let mut out = a.clone();
        out.polys[0].add_assign(self.basis(a.level), &pt.poly);
        Ok(out)
    }

    /// `a - pt`, slot by slot; the plaintext must be at the level and scale of `a`.
    pub fn sub_plain(&self, a: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext, CkksError> {
        self.check_pair(a, pt.params_id, pt.level, pt.scale)?;
        let mut out = a.clone();
        out.polys[0].sub_assign(self.basis(a.level), &pt.poly);
        Ok(out)
    }

    /// Residues of `round(x)` modulo each prime of `level`; fails when `x` does not fit.
    fn integer_residues(&self, x: f64, level: usize) -> Result<Vec<u64>, CkksError> {
        let r = x.round();
        if !r.is_finite() {
            return Err(CkksError::ValueOutOfRange(x));
        }
        // Beyond 2^62 (products of scales, 2^80 and more) the integer is m * 2^e with an
        // exact 53-bit mantissa m.
        let (m, e) = if r.abs() < 2f64.powi(62) {
            (r as i64, 0)
        } else {
            let e = r.abs().log2().floor() as i32 - 52;
            ((r / 2f64.powi(e)) as i64, e as u64)
        };
        Ok(self
            .basis(level)
            .moduli()
            .map(|q| q.mul(q.reduce_i64(m), q.pow(2, e)))
            .collect())
    }

    /// Adds the constant `c` to every slot.
    pub fn add_scalar(&self, a: &Ciphertext, c: f64) -> Result<Ciphertext, CkksError> {
        self.check_ct(a)?;
        self.params.check_constant(a.level, a.scale, c)?;
        // A constant polynomial evaluates to itself at every point, so in evaluation form it
        // is added to every entry.
        let r = self.integer_residues(c * a.scale, a.level)?;
        let mut out = a.clone();
        out.polys[0].add_scalar_assign(self.basis(a.level), &r);
        Ok(out)
    }

    /// Multiplies every slot by the integer `k`; scale and level are unchanged.
    pub fn mul_integer(&self, a: &Ciphertext, k: i64) -> Result<Ciphertext, CkksError> {
        self.check_ct(a)?;
        self.params.check_constant(a.level, a.scale, k as f64)?;
        self.times_integer(a, k as f64, a.scale)
    }

    /// `a` times the integer nearest `k`, declared at `scale`.
    fn times_integer(&self, a: &Ciphertext, k: f64, scale: f64) -> Result<Ciphertext, CkksError> {
        let r = self.integer_residues(k, a.level)?;
        let mut out = a.clone();
        let basis = self.basis(a.level);
        out.polys
            .iter_mut()
            .for_each(|p| p.mul_scalar_assign(basis, &r));
        out.scale = scale;
        Ok(out)
    }

    /// Multiplies every slot by `c`, encoded at the scale of the prime the next rescale removes,
    /// so that after [`Self::rescale`] the scale is exactly the one `a` had.
    pub fn mul_scalar(&self, a: &Ciphertext, c: f64) -> Result<Ciphertext, CkksError> {
        self.mul_scalar_to(a, c, a.scale)
    }

    /// Multiplies every slot by `c` so that after [`Self::rescale`] the scale is exactly
    /// `target`: the constant absorbs the ratio between the scales. This is how two
    /// ciphertexts whose scales drifted apart are brought together before an addition.
    pub fn mul_scalar_to(
        &self,
        a: &Ciphertext,
        c: f64,
        target: f64,
    ) -> Result<Ciphertext, CkksError> {
        self.check_ct(a)?;
        if a.level == 0 {
            return Err(CkksError::LevelsExhausted(0));
        }
        let q_last = self.basis(a.level).modulus(a.level).value() as f64;
        // The target must hold a message after the rescale, and `c` at the scale before it.
        self.params.check_scale(a.level - 1, target)?;
        self.params.check_constant(a.level, target * q_last, c)?;
        let factor = target * q_last / a.scale;
        let out = self.times_integer(a, c * factor, target * q_last)?;
        self.counters.bump(Op::PtMul);
        Ok(out)
    }

    /// `c a` at exactly `(level, scale)`, for a `level` below that of `a`: dropped to
    /// `level + 1`, multiplied by `c` with the ratio of the scales absorbed into the constant
    /// ([`Self::mul_scalar_to`]), and rescaled. How ciphertexts whose levels and scales
    /// drifted apart are brought together before an addition.
    pub fn scaled_to(
        &self,
        a: &Ciphertext,
        c: f64,
        level: usize,
        scale: f64,
    ) -> Result<Ciphertext, CkksError> {
        if level >= a.level {
            return Err(CkksError::LevelMismatch(a.level, level));
        }
        let mut out = self.mul_scalar_to(&*self.at_level(a, level + 1)?, c, scale)?;
        self.rescale_assign(&mut out)?;
        Ok(out)
    }

    /// Multiplies every slot by `c` and sets the scale to `target` without a rescale, when the
    /// integer that does it, `k = c * target / a.scale`, is at least [`LARGE_FACTOR`]: the
    /// ciphertext is multiplied by `k` rounded, which moves every slot by a relative
    /// `1 / (2k) <= 2^-25` at most, and keeps its level. `None` for a smaller factor, which
    /// needs [`Self::mul_scalar_to`] and a rescale. This is how a fresh weight at scale `D`
    /// joins a gradient at scale about `D^2`.
    pub fn mul_large_scalar_to(
        &self,
        a: &Ciphertext,
        c: f64,
        target: f64,
    ) -> Result<Option<Ciphertext>, CkksError> {
        self.check_ct(a)?;
        self.params.check_scale(a.level, target)?;
        self.params.check_constant(a.level, target, c)?;
        let k = c * target / a.scale;
        if k.is_nan() || k.abs() < LARGE_FACTOR {
            return Ok(None);
        }
        let out = self.times_integer(a, k, target)?;
        self.counters.bump(Op::PtMul);
        Ok(Some(out))
    }

    /// Slot-wise product with a plaintext; scales multiply. Follow with [`Self::rescale`].
    pub fn mul_plain(&self, a: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext, CkksError> {
        self.check_ct(a)?;
        self.params.check_same(pt.params_id)?;
        if a.level != pt.level {
            return Err(CkksError::LevelMismatch(a.level, pt.level));
        }
        self.params.check_scale(a.level, a.scale * pt.scale)?;
        let mut out = a.clone();
        let basis = self.basis(a.level);
        out.polys
            .iter_mut()
            .for_each(|p| p.mul_assign(basis, &pt.poly));
        out.scale *= pt.scale;
        self.counters.bump(Op::PtMul);
        Ok(out)
    }

    /// Slot-wise product of two ciphertexts, before relinearization (three polynomials), at
    /// the lower of their levels: the primes of the higher one that the other lacks are simply
    /// not read, which is what dropping them first would do, without the copy.
    pub fn multiply(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, CkksError> {
        self.check_cts(a, b)?;
        if a.degree() != 1 {
            return Err(CkksError::NotRelinearized(a.degree()));
        }
        if b.degree() != 1 {
            return Err(CkksError::NotRelinearized(b.degree()));
        }
        let level = a.level.min(b.level);
        self.params.check_scale(level, a.scale * b.scale)?;
        let basis = self.basis(level);
        let n = basis.n();
        let limbs = level + 1;
        let mut d0 = RnsPoly::zero(n, limbs);
        let mut d1 = RnsPoly::zero(n, limbs);
        let mut d2 = RnsPoly::zero(n, limbs);
        let (a0, a1, b0, b1) = (&a.polys[0], &a.polys[1], &b.polys[0], &b.polys[1]);
        d0.data_mut()
            .par_chunks_mut(n)
            .zip(d1.data_mut().par_chunks_mut(n))
            .zip(d2.data_mut().par_chunks_mut(n))
            .enumerate()
            .for_each(|(i, ((o0, o1), o2))| {
                let m = basis.modulus(i);
                let (x0, x1, y0, y1) = (a0.limb(i), a1.limb(i), b0.limb(i), b1.limb(i));
                if let Some(nm) = m.narrow() {
                    for k in 0..n {
                        o0[k] = nm.mul(x0[k], y0[k]);
                        o1[k] = nm.mul_add_mul(x0[k], y1[k], x1[k], y0[k]);
                        o2[k] = nm.mul(x1[k], y1[k]);
                    }
                } else {
                    for k in 0..n {
                        o0[k] = m.mul(x0[k], y0[k]);
                        o1[k] = m.reduce_u128(
                            x0[k] as u128 * y1[k] as u128 + x1[k] as u128 * y0[k] as u128,
                        );
                        o2[k] = m.mul(x1[k], y1[k]);
                    }
                }
            });
        self.counters.bump(Op::CtMul);
        Ok(Ciphertext {
            tag: a.tag,
            level,
            scale: a.scale * b.scale,
            polys: vec![d0, d1, d2],
        })
    }

    /// Product, relinearization and rescale: what a circuit usually wants.
    pub fn mul_relin_rescale(
        &self,
        a: &Ciphertext,
        b: &Ciphertext,
    ) -> Result<Ciphertext, CkksError> {
        if a.level == 0 {
            return Err(CkksError::LevelsExhausted(0));
        }
        self.relin_rescale(&self.multiply(a, b)?)
    }

    /// `sum_i a_i * b_i` with a single relinearization and rescale for the whole sum: the
    /// products are added while still three polynomials each.
    pub fn dot(&self, a: &[Ciphertext], b: &[Ciphertext]) -> Result<Ciphertext, CkksError> {
        if a.len() != b.len() || a.is_empty() {
            return Err(CkksError::InvalidParams(format!(
                "dot product of {} and {} ciphertexts",
                a.len(),
                b.len()
            )));
        }
        let acc = a
            .par_iter()
            .zip(b)
            .map(|(x, y)| self.multiply(x, y))
            .try_reduce_with(|mut acc, p| {
                self.add_assign(&mut acc, &p)?;
                Ok(acc)
            })
            .ok_or(CkksError::Internal("a dot product of at least one pair"))??;
        self.relin_rescale(&acc)
    }

    /// Relinearization followed by a rescale, done as one division: the division by the
    /// special primes that ends relinearization and the division by the last prime become one
    /// division by their product.
    pub fn relin_rescale(&self, prod: &Ciphertext) -> Result<Ciphertext, CkksError> {
        self.check_ct(prod)?;
        if prod.degree() != 2 {
            return self.rescale(&self.relinearize(prod)?);
        }
        if prod.level == 0 {
            return Err(CkksError::LevelsExhausted(0));
        }
        let rk = self.relin.as_ref().ok_or(CkksError::MissingRelinKey)?;
        let level = prod.level;
        let lc = self.params.level_ctx(level)?;
        let (mut u0, mut u1) = self.key_switch_extended(&prod.polys[2], rk, level);
        // (d_i * P + u_i) / (P q_l) = d_i / q_l + u_i / (P q_l).
        let n = self.params.n();
        for (u, d) in [(&mut u0, &prod.polys[0]), (&mut u1, &prod.polys[1])] {
            u.data_mut()[..(level + 1) * n]
                .par_chunks_mut(n)
                .zip(d.data().par_chunks(n))
                .enumerate()
                .for_each(|(i, (u, d))| {
                    let m = lc.q.modulus(i);
                    let w = lc.p_mod_q[i];
                    if let Some(nm) = m.narrow() {
                        let ws = nm.shoup(w);
                        for (x, &y) in u.iter_mut().zip(d) {
                            *x = m.add(*x, nm.mul_shoup(y, w, ws));
                        }
                    } else {
                        let ws = m.shoup(w);
                        for (x, &y) in u.iter_mut().zip(d) {
                            *x = m.add(*x, m.mul_shoup(y, w, ws));
                        }
                    }
                });
        }
        let divider = lc
            .rescale_mod_down
            .as_ref()
            .ok_or(CkksError::LevelsExhausted(level))?;
        let scale = prod.scale / lc.q.modulus(level).value() as f64;
        self.params.check_scale(level - 1, scale)?;
        self.counters.bump(Op::Rescale);
        Ok(Ciphertext {
            tag: prod.tag,
            level: level - 1,
            scale,
            polys: {
                let (u0, u1) = rayon::join(|| divider.divide(u0), || divider.divide(u1));
                vec![u0, u1]
            },
        })
    }

    /// Divides by the last prime of the level, rounding: the scale shrinks by that prime and
    /// one level is consumed.
    pub fn rescale(&self, a: &Ciphertext) -> Result<Ciphertext, CkksError> {
        let mut out = a.clone();
        self.rescale_assign(&mut out)?;
        Ok(out)
    }

    /// [`Self::rescale`] in place: the division reuses the ciphertext's own limbs.
    pub fn rescale_assign(&self, a: &mut Ciphertext) -> Result<(), CkksError> {
        self.check_ct(a)?;
        let lc = self.params.level_ctx(a.level)?;
        let divider = lc
            .rescale
            .as_ref()
            .ok_or(CkksError::LevelsExhausted(a.level))?;
        let scale = a.scale / lc.q.modulus(a.level).value() as f64;
        self.params.check_scale(a.level - 1, scale)?;
        self.counters.bump(Op::Rescale);
        a.scale = scale;
        a.level -= 1;
        a.polys = std::mem::take(&mut a.polys)
            .into_iter()
            .map(|p| divider.divide(p))
            .collect();
        Ok(())
    }

    /// `a` at `level`: borrowed when it is there already, a copy of the limbs that stay
    /// otherwise.
    pub fn at_level<'a>(
        &self,
        a: &'a Ciphertext,
        level: usize,
    ) -> Result<Cow<'a, Ciphertext>, CkksError> {
        if a.level == level {
            self.check_ct(a)?;
            Ok(Cow::Borrowed(a))
        } else {
            self.mod_drop_to(a, level).map(Cow::Owned)
        }
    }

    /// Drops primes down to `level` without changing the scale (aligns levels for additions).
    pub fn mod_drop_to(&self, a: &Ciphertext, level: usize) -> Result<Ciphertext, CkksError> {
        self.check_ct(a)?;
        if level > a.level {
            return Err(CkksError::LevelMismatch(a.level, level));
        }
        Ok(Ciphertext {
            tag: a.tag,
            level,
            scale: a.scale,
            // Copies only the limbs that stay.
            polys: a.polys.iter().map(|p| p.prefix(level + 1)).collect(),
        })
    }

    /// The same for plaintexts.
    pub fn mod_drop_plain_to(&self, pt: &Plaintext, level: usize) -> Result<Plaintext, CkksError> {
        self.params.check_same(pt.params_id)?;
        if level > pt.level {
            return Err(CkksError::LevelMismatch(pt.level, level));
        }
        let mut out = pt.clone();
        out.poly.truncate(level + 1);
        out.level = level;
        Ok(out)
    }
}

pub(crate) fn check_scales(a: f64, b: f64) -> Result<(), CkksError> {
    if (a / b - 1.0).abs() <= SCALE_TOLERANCE {
        Ok(())
    } else {
        Err(CkksError::ScaleMismatch(a.log2(), b.log2()))
    }
}

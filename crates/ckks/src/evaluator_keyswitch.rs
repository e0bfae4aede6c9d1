//! Hybrid key switching (digits of several primes, special primes `P`) and the operations that
//! need it: relinearization, rotations, conjugation and slot sums.

use rayon::prelude::*;
use shroud_math::{Modulus, RnsPoly};

use crate::counters::Op;
use crate::keys::galois_element;
use crate::{Ciphertext, CkksError, Evaluator, Params, SwitchingKey};

/// A switching key as the evaluator uses it: residues in Montgomery form, so the inner
/// product needs one reduction per group of digits instead of one per product. A Galois key
/// for `X -> X^g` is stored already permuted by the inverse automorphism: since
/// `sum_j sigma(d_j) k_j = sigma(sum_j d_j sigma^-1(k_j))`, a rotation key-switches the
/// unpermuted polynomial and permutes its two results: hoisted rotations share the unpermuted
/// extended digits instead of each permuting all of them.
pub(crate) struct PreparedKey {
    parts: Vec<(RnsPoly, RnsPoly)>,
}

impl PreparedKey {
    /// `inverse_permutation`, for a Galois key, is the evaluation-form permutation of
    /// `sigma^-1`.
    pub fn new(params: &Params, key: &SwitchingKey, inverse_permutation: Option<&[u32]>) -> Self {
        let basis = &params.ctx().levels[params.max_level()].qp;
        let n = params.n();
        let prepare = |p: &RnsPoly| {
            let mut out = match inverse_permutation {
                Some(perm) => p.permute(perm),
                None => p.clone(),
            };
            out.data_mut()
                .par_chunks_mut(n)
                .enumerate()
                .for_each(|(i, limb)| {
                    let m = basis.modulus(i);
                    limb.iter_mut().for_each(|x| *x = m.to_mont(*x));
                });
            out
        };
        Self {
            parts: key
                .parts
                .iter()
                .map(|(b, a)| (prepare(b), prepare(a)))
                .collect(),
        }
    }
}

/// Coefficients per block of the inner product's lazy accumulators: two arrays of 128-bit sums
/// that stay in L1 while every digit is added in.
const INNER_BLOCK: usize = 256;

impl Evaluator {
    /// Returns `(u_0, u_1)` over the level's primes with `u_0 + u_1 s ~ c s'`, where the key
    /// switches from `s'` to `s` and `c` is in evaluation form.
    pub(crate) fn key_switch(
        &self,
        c: &RnsPoly,
        key: &PreparedKey,
        level: usize,
    ) -> (RnsPoly, RnsPoly) {
        let (u0, u1) = self.key_switch_extended(c, key, level);
        let lc = &self.params.ctx().levels[level];
        rayon::join(|| lc.mod_down.divide(u0), || lc.mod_down.divide(u1))
    }

    /// The key switch before its division by `P`: `(u_0, u_1)` over `Q_level * P` with
    /// `u_0 + u_1 s ~ P c s'`.
    pub(crate) fn key_switch_extended(
        &self,
        c: &RnsPoly,
        key: &PreparedKey,
        level: usize,
    ) -> (RnsPoly, RnsPoly) {
        let extended = self.mod_up(c, level);
        self.key_inner_product(&extended, key, level)
    }

    /// Decomposes `c` (evaluation form) into its digits, each extended to every prime of
    /// `Q_level * P` in evaluation form: the part of a key switch that depends only on `c`,
    /// so rotations of one ciphertext by many steps share it (hoisting). The transforms of all
    /// digits run as one parallel loop over (digit, prime) pairs.
    fn mod_up(&self, c: &RnsPoly, level: usize) -> Vec<RnsPoly> {
        let lc = &self.params.ctx().levels[level];
        let n = self.params.n();
        let qp_len = lc.qp.len();
        let mut c_coef = c.clone();
        c_coef.ntt_backward(&lc.q);
        let mut extended: Vec<RnsPoly> = lc
            .digits
            .par_iter()
            .map(|digit| {
                let d = digit.limbs.clone();
                let mut conv = vec![0u64; n * (qp_len - d.len())];
                digit
                    .extend
                    .convert(&c_coef.data()[d.start * n..d.end * n], &mut conv);
                // The converter's outputs are the primes outside the digit, in order; the
                // digit's own limbs are already known in evaluation form.
                let mut converted = conv.chunks_exact(n);
                let mut data = Vec::with_capacity(n * qp_len);
                for i in 0..qp_len {
                    match d.contains(&i) {
                        true => data.extend_from_slice(c.limb(i)),
                        // The converter has one output limb per prime outside the digit.
                        false => data.extend_from_slice(converted.next().unwrap_or_default()),
                    }
                }
                // Every piece is a whole limb of `n` words, so the length is a multiple of `n`.
                #[allow(clippy::expect_used)]
                RnsPoly::from_data(n, data).expect("whole limbs")
            })
            .collect();
        let mut jobs: Vec<(usize, &mut [u64])> = Vec::with_capacity(extended.len() * qp_len);
        for (digit, ext) in lc.digits.iter().zip(extended.iter_mut()) {
            for (i, limb) in ext.data_mut().chunks_exact_mut(n).enumerate() {
                if !digit.limbs.contains(&i) {
                    jobs.push((i, limb));
                }
            }
        }
        jobs.into_par_iter()
            .for_each(|(i, limb)| lc.qp.table(i).forward(limb));
        extended
    }

    /// Inner product of extended digits with a key, over `Q_level * P`.
    fn key_inner_product(
        &self,
        extended: &[RnsPoly],
        key: &PreparedKey,
        level: usize,
    ) -> (RnsPoly, RnsPoly) {
        let ctx = self.params.ctx();
        let lc = &ctx.levels[level];
        let n = self.params.n();
        let ql = level + 1;
        let qp_len = lc.qp.len();
        let key_offset = ctx.q.len() - ql;
        // Inner product with the key (held in Montgomery form), block by block so that the
        // sums stay in L1.
        let mut acc0 = RnsPoly::zero(n, qp_len);
        let mut acc1 = RnsPoly::zero(n, qp_len);
        let block = INNER_BLOCK.min(n);
        acc0.data_mut()
            .par_chunks_mut(block)
            .zip(acc1.data_mut().par_chunks_mut(block))
            .enumerate()
            .for_each(|(blk, (o0, o1))| {
                let (i, start) = (blk * block / n, blk * block % n);
                let range = start..start + block;
                let m = lc.qp.modulus(i);
                let key_limb = if i < ql { i } else { i + key_offset };
                let digits = extended.iter().zip(&key.parts).map(|(e, (b, a))| {
                    (
                        &e.limb(i)[range.clone()],
                        &b.limb(key_limb)[range.clone()],
                        &a.limb(key_limb)[range.clone()],
                    )
                });
                if m.value() >> 32 == 0 {
                    // 64-bit sums hold as many products as stay below 2^64.
                    let q = m.value() - 1;
                    let group = (u64::MAX / (q * q)).max(1);
                    inner_product_block::<u64>(m, digits, group, o0, o1);
                } else {
                    // 8 q^2 < q 2^64 for q < 2^61.
                    inner_product_block::<u128>(m, digits, 8, o0, o1);
                }
            });
        self.counters.bump(Op::KeySwitch);
        (acc0, acc1)
    }

    /// Turns a three-polynomial product back into a normal ciphertext.
    pub fn relinearize(&self, a: &Ciphertext) -> Result<Ciphertext, CkksError> {
        self.check_ct(a)?;
        match a.degree() {
            1 => return Ok(a.clone()),
            2 => {}
            d => return Err(CkksError::NotRelinearized(d)),
        }
        let rk = self.relin.as_ref().ok_or(CkksError::MissingRelinKey)?;
        let (u0, u1) = self.key_switch(&a.polys[2], rk, a.level);
        let basis = &self.params.ctx().levels[a.level].q;
        let mut c0 = a.polys[0].clone();
        let mut c1 = a.polys[1].clone();
        c0.add_assign(basis, &u0);
        c1.add_assign(basis, &u1);
        Ok(Ciphertext {
            tag: a.tag,
            level: a.level,
            scale: a.scale,
            polys: vec![c0, c1],
        })
    }

    /// Applies `X -> X^g` to the plaintext inside `a`.
    pub fn apply_galois(&self, a: &Ciphertext, g: u64) -> Result<Ciphertext, CkksError> {
        self.check_ct(a)?;
        if a.degree() != 1 {
            return Err(CkksError::NotRelinearized(a.degree()));
        }
        if g == 1 {
            return Ok(a.clone());
        }
        let (key, perm) = self.galois.get(&g).ok_or(CkksError::MissingGaloisKey(g))?;
        let extended = self.mod_up(&a.polys[1], a.level);
        Ok(self.finish_galois(a, &extended, key, perm))
    }

    /// The rotation of `a` from its second polynomial's extended digits and a pre-permuted
    /// key: `sigma(c_0 + u_0), sigma(u_1)`.
    fn finish_galois(
        &self,
        a: &Ciphertext,
        extended: &[RnsPoly],
        key: &PreparedKey,
        perm: &[u32],
    ) -> Ciphertext {
        let lc = &self.params.ctx().levels[a.level];
        let (u0, u1) = self.key_inner_product(extended, key, a.level);
        let (mut u0, u1) = rayon::join(|| lc.mod_down.divide(u0), || lc.mod_down.divide(u1));
        u0.add_assign(&lc.q, &a.polys[0]);
        self.counters.bump(Op::Rotation);
        Ciphertext {
            tag: a.tag,
            level: a.level,
            scale: a.scale,
            polys: vec![u0.permute(perm), u1.permute(perm)],
        }
    }

    /// Rotates the slots left by `step` (right when negative): slot `i` receives slot `i + step`.
    /// Uses the key for that step, or, if there is none, a sum of power-of-two rotations.
    pub fn rotate(&self, a: &Ciphertext, step: i64) -> Result<Ciphertext, CkksError> {
        let slots = self.params.slots() as i64;
        let step = step.rem_euclid(slots);
        self.check_ct(a)?;
        if a.degree() != 1 {
            return Err(CkksError::NotRelinearized(a.degree()));
        }
        if step == 0 {
            return Ok(a.clone());
        }
        let n = self.params.n();
        let g = galois_element(step, n);
        if self.galois.contains_key(&g) {
            return self.apply_galois(a, g);
        }
        // Without a key for this step, compose power-of-two rotations: leftward over the bits
        // of `step`, or rightward over the bits of `slots - step`, whichever keys exist.
        let plan = |amount: i64, sign: i64| -> Option<Vec<u64>> {
            (0..63)
                .filter(|b| amount >> b & 1 == 1)
                .map(|b| galois_element(sign * (1i64 << b), n))
                .map(|g| self.galois.contains_key(&g).then_some(g))
                .collect()
        };
        let elements = plan(step, 1)
            .or_else(|| plan(slots - step, -1))
            .ok_or(CkksError::MissingGaloisKey(g))?;
        let mut out = a.clone();
        for g in elements {
            out = self.apply_galois(&out, g)?;
        }
        Ok(out)
    }

    /// Rotations of one ciphertext by several steps, sharing the digit decomposition and
    /// mod-up of its second polynomial (hoisting): each extra rotation costs a permutation, an
    /// inner product with its key and a division by `P`, about half a full rotation. Every
    /// step needs its own Galois key.
    pub fn rotate_hoisted(
        &self,
        a: &Ciphertext,
        steps: &[i64],
    ) -> Result<Vec<Ciphertext>, CkksError> {
        self.check_ct(a)?;
        if a.degree() != 1 {
            return Err(CkksError::NotRelinearized(a.degree()));
        }
        let n = self.params.n();
        let slots = self.params.slots() as i64;
        let keyed = |step: i64| {
            let g = galois_element(step, n);
            match step.rem_euclid(slots) {
                0 => Ok(None),
                _ => self
                    .galois
                    .get(&g)
                    .map(Some)
                    .ok_or(CkksError::MissingGaloisKey(g)),
            }
        };
        let keys = steps
            .iter()
            .map(|&s| keyed(s))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.iter().all(Option::is_none) {
            return Ok(vec![a.clone(); steps.len()]);
        }
        let extended = self.mod_up(&a.polys[1], a.level);
        Ok(keys
            .into_par_iter()
            .map(|key| match key {
                Some((key, perm)) => self.finish_galois(a, &extended, key, perm),
                None => a.clone(),
            })
            .collect())
    }

    /// Complex conjugation of every slot.
    pub fn conjugate(&self, a: &Ciphertext) -> Result<Ciphertext, CkksError> {
        self.apply_galois(a, crate::conjugation_element(self.params.n()))
    }

    /// Every slot receives the sum of the `count` slots starting at it (cyclically); `count`
    /// must be a power of two. With `count = N/2` every slot holds the total.
    pub fn sum_slots(&self, a: &Ciphertext, count: usize) -> Result<Ciphertext, CkksError> {
        self.rotate_and_add(a, count, 1)
    }

    /// Every slot receives the sum of the `count` slots ending at it (cyclically): a value
    /// alone among zeros is copied into the `count - 1` slots after it. `count` must be a power
    /// of two.
    pub fn spread_slots(&self, a: &Ciphertext, count: usize) -> Result<Ciphertext, CkksError> {
        self.rotate_and_add(a, count, -1)
    }

    /// The sum of `count` copies of `a` rotated by `0, stride, 2 stride, ...`: slot `j`
    /// receives the sum of slots `j, j + stride, ..., j + (count - 1) stride` (cyclically), in
    /// `log2(count)` rotations by `stride * 2^k`, each added to the running sum. `count` must be
    /// a power of two, and `count * |stride|` at most the slots.
    pub fn rotate_and_add(
        &self,
        a: &Ciphertext,
        count: usize,
        stride: i64,
    ) -> Result<Ciphertext, CkksError> {
        let span = (count as u64).saturating_mul(stride.unsigned_abs());
        if !count.is_power_of_two() || stride == 0 || span > self.params.slots() as u64 {
            return Err(CkksError::InvalidParams(format!(
                "cannot sum {count} slots {stride} apart"
            )));
        }
        let mut acc = a.clone();
        let mut step = 1;
        while step < count {
            let r = self.rotate(&acc, stride * step as i64)?;
            self.add_assign(&mut acc, &r)?;
            step *= 2;
        }
        Ok(acc)
    }
}

/// A lazy sum of residue products: 64-bit lanes for moduli of at most 32 bits (the products
/// fit, and they vectorize as 32 x 32 -> 64-bit multiplications), 128 bits otherwise.
trait LazySum: Copy + Default + std::ops::AddAssign {
    fn product(a: u64, b: u64) -> Self;
    fn wide(self) -> u128;
}

impl LazySum for u64 {
    #[inline(always)]
    fn product(a: u64, b: u64) -> Self {
        (a as u32 as u64) * (b as u32 as u64)
    }
    fn wide(self) -> u128 {
        self as u128
    }
}

impl LazySum for u128 {
    #[inline(always)]
    fn product(a: u64, b: u64) -> Self {
        a as u128 * b as u128
    }
    fn wide(self) -> u128 {
        self
    }
}

/// One block of the key inner product, `o += sum_j e_j * (b_j, a_j)`, summed lazily in `S`
/// with one Montgomery reduction per `group` digits (the most whose sum stays below
/// `q 2^64` and within `S`).
fn inner_product_block<'a, S: LazySum>(
    m: &Modulus,
    digits: impl Iterator<Item = (&'a [u64], &'a [u64], &'a [u64])>,
    group: u64,
    o0: &mut [u64],
    o1: &mut [u64],
) {
    let mut s0 = [S::default(); INNER_BLOCK];
    let mut s1 = [S::default(); INNER_BLOCK];
    let mut pending = 0;
    let mut flush = |s0: &mut [S; INNER_BLOCK], s1: &mut [S; INNER_BLOCK]| {
        let sums = s0.iter_mut().zip(s1.iter_mut());
        for ((o0, o1), (s0, s1)) in o0.iter_mut().zip(o1.iter_mut()).zip(sums) {
            *o0 = m.add(*o0, m.mont_reduce(s0.wide()));
            *o1 = m.add(*o1, m.mont_reduce(s1.wide()));
            (*s0, *s1) = (S::default(), S::default());
        }
    };
    for (e, b, a) in digits {
        for ((s0, s1), ((&e, &b), &a)) in
            s0.iter_mut().zip(s1.iter_mut()).zip(e.iter().zip(b).zip(a))
        {
            *s0 += S::product(e, b);
            *s1 += S::product(e, a);
        }
        pending += 1;
        if pending == group {
            flush(&mut s0, &mut s1);
            pending = 0;
        }
    }
    if pending > 0 {
        flush(&mut s0, &mut s1);
    }
}

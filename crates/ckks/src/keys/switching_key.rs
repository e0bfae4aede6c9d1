use std::collections::BTreeMap;

use shroud_math::{KeyTag, RnsBasis, RnsPoly};

use crate::{CkksError, Params};

/// Encryptions of `P * s'` (one per digit, each carrying `P` only in its digit's primes) under
/// `s`, over all ciphertext and special primes. Key switching with it turns a polynomial that
/// multiplies `s'` into a pair that decrypts under `s`.
#[derive(Clone, Debug, PartialEq)]
pub struct SwitchingKey {
    pub(crate) tag: KeyTag,
    /// `(b_j, a_j)` per digit, evaluation form.
    pub(crate) parts: Vec<(RnsPoly, RnsPoly)>,
}

/// Switches `s^2` back to `s` after a ciphertext product.
#[derive(Clone, Debug, PartialEq)]
pub struct RelinKey(pub(crate) SwitchingKey);

/// Sparse-secret encapsulation for bootstrapping (Bossuat, Troncoso-Pastoriza, Hubaux, ACNS
/// 2022): a switch from the secret `s` to an ephemeral sparse secret `s'` at the last prime
/// only, and back from `s'` to `s` over the whole chain. Modulus raising then happens under
/// `s'`, whose few nonzero coefficients keep the multiple of `q_0` it adds small, while every
/// other ciphertext and key stays under the uniform `s` the security estimate is for. The
/// key to `s'` exists only modulo `q_0 P`, where a sparse secret is as hard to find as the
/// estimate requires (docs/security.md); `s'` itself is discarded once the keys are made.
#[derive(Clone, Debug, PartialEq)]
pub struct EncapsulationKey {
    /// From `s` to `s'`: one digit, nonzero on `q_0` and the special primes only.
    pub(crate) to_sparse: SwitchingKey,
    /// From `s'` to `s`, over every prime.
    pub(crate) to_dense: SwitchingKey,
}

impl EncapsulationKey {
    /// The primes the key to the sparse secret covers, `q_0` and the special primes, as a
    /// basis and as indices into the top level's key-switching basis.
    pub(crate) fn sparse_basis(params: &Params) -> Result<(RnsBasis, Vec<usize>), CkksError> {
        let ctx = params.ctx();
        let top = &ctx.levels[params.max_level()];
        let kept: Vec<usize> = std::iter::once(0)
            .chain(ctx.q.len()..top.qp.len())
            .collect();
        let basis = RnsBasis::from_tables(
            params.n(),
            kept.iter().map(|&i| top.qp.tables()[i].clone()).collect(),
        )?;
        Ok((basis, kept))
    }

    /// A polynomial over [`Self::sparse_basis`] laid out over the whole top-level basis, zero
    /// on the primes it does not cover, as a switch at level 0 reads it.
    pub(crate) fn embed(params: &Params, kept: &[usize], p: &RnsPoly) -> RnsPoly {
        let top = &params.ctx().levels[params.max_level()];
        let mut full = RnsPoly::zero(params.n(), top.qp.len());
        for (k, &i) in kept.iter().enumerate() {
            full.limb_mut(i).copy_from_slice(p.limb(k));
        }
        full
    }
}

/// Switching keys for automorphisms `X -> X^g`, indexed by the Galois element `g`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GaloisKeys {
    pub(crate) keys: BTreeMap<u64, SwitchingKey>,
}

impl GaloisKeys {
    /// Galois elements this set can apply.
    pub fn elements(&self) -> impl Iterator<Item = u64> + '_ {
        self.keys.keys().copied()
    }

    pub fn contains(&self, galois: u64) -> bool {
        self.keys.contains_key(&galois)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Galois element of a rotation of the slots to the left by `step` (negative: to the right),
/// for ring degree `n`: `5^step mod 2n`.
pub fn galois_element(step: i64, n: usize) -> u64 {
    let m = 2 * n as u64;
    let slots = (n / 2) as i64;
    let mut e = step.rem_euclid(slots) as u64;
    let (mut acc, mut base) = (1u64, 5u64);
    while e > 0 {
        if e & 1 == 1 {
            acc = acc * base % m;
        }
        base = base * base % m;
        e >>= 1;
    }
    acc
}

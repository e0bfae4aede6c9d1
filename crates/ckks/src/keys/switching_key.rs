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
/// key to `s'` exists only modulo `q_0 p_0` (the last ciphertext prime and the first special
/// prime, about 115 bits), where a sparse secret is far beyond reach of known attacks
/// (docs/security.md); `s'` itself is discarded once the keys are made.
#[derive(Clone, Debug, PartialEq)]
pub struct EncapsulationKey {
    pub(crate) tag: KeyTag,
    /// From `s` to `s'`: `(b, a)` with `b + a s' = e + p_0 s` over [`Self::sparse_basis`],
    /// evaluation form.
    pub(crate) to_sparse: (RnsPoly, RnsPoly),
    /// From `s'` to `s`, over every prime.
    pub(crate) to_dense: SwitchingKey,
}

impl EncapsulationKey {
    /// `q_0` and the first special prime: the modulus of the key to the sparse secret.
    pub(crate) fn sparse_basis(params: &Params) -> Result<RnsBasis, CkksError> {
        let ctx = params.ctx();
        let top = &ctx.levels[params.max_level()];
        let tables = vec![
            top.qp.tables()[0].clone(),
            top.qp.tables()[ctx.q.len()].clone(),
        ];
        Ok(RnsBasis::from_tables(params.n(), tables)?)
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

    /// Whether the set holds the key of Galois element `galois`.
    pub fn contains(&self, galois: u64) -> bool {
        self.keys.contains_key(&galois)
    }

    /// Number of keys, one per Galois element.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Galois element of complex conjugation of the slots, for ring degree `n`: `2n - 1`, which
/// maps `X` to `X^-1`.
pub fn conjugation_element(n: usize) -> u64 {
    2 * n as u64 - 1
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

use shroud_math::{automorphism_permutation, RnsBasis, RnsPoly, Sampler};

use super::{
    conjugation_element, galois_element, EncapsulationKey, GaloisKeys, PublicKey, RelinKey,
    SecretKey, SwitchingKey,
};
use crate::{CkksError, Params};

/// Makes every key from one secret. Randomness comes from ChaCha20 seeded by the OS unless a
/// test asks for a fixed seed.
pub struct KeyGenerator {
    params: Params,
    sampler: Sampler,
}

impl KeyGenerator {
    /// A key generator for `params`, seeded by the operating system.
    pub fn new(params: &Params) -> Self {
        Self {
            params: params.clone(),
            sampler: Sampler::from_os(),
        }
    }

    /// Deterministic keys, for reproducible tests only.
    pub fn with_seed(params: &Params, seed: u64) -> Self {
        Self {
            params: params.clone(),
            sampler: Sampler::from_seed(seed),
        }
    }

    fn full_basis(&self) -> &RnsBasis {
        &self.params.ctx().levels[self.params.max_level()].qp
    }

    /// A uniform ternary secret: the distribution the security estimates assume.
    pub fn secret_key(&mut self) -> SecretKey {
        let coeffs = self.sampler.ternary(self.params.n());
        self.secret_from(coeffs)
    }

    /// A ternary secret of exactly `weight` nonzero coefficients. Sparse secrets keep the
    /// integer overflow of bootstrapping's modulus raising small; they are weaker against
    /// lattice attacks than uniform ones at the same modulus, which the security estimates
    /// of the presets do not cover: use them as bootstrapping's ephemeral key (at the small
    /// modulus `q_0`, docs/security.md) or in tests.
    pub fn sparse_secret_key(&mut self, weight: usize) -> SecretKey {
        let coeffs = self.sampler.sparse_ternary(self.params.n(), weight);
        self.secret_from(coeffs)
    }

    fn secret_from(&self, coeffs: Vec<i64>) -> SecretKey {
        let mut poly = RnsPoly::from_signed(self.full_basis(), &coeffs);
        poly.ntt_forward(self.full_basis());
        SecretKey {
            tag: SecretKey::identity(self.params.id(), &coeffs),
            coeffs,
            poly,
        }
    }

    /// The uniform polynomial a seed stands for, in evaluation form (uniform in either form).
    /// Both ends of a seeded ciphertext call this, so the expansion is part of the format.
    pub(crate) fn expand_seed(seed: [u8; 32], basis: &RnsBasis) -> RnsPoly {
        Self::sample_uniform(&mut Sampler::expand(seed), basis)
    }

    pub(crate) fn sample_uniform(sampler: &mut Sampler, basis: &RnsBasis) -> RnsPoly {
        let mut p = RnsPoly::zero(basis.n(), basis.len());
        for i in 0..basis.len() {
            sampler.uniform(basis.modulus(i), p.limb_mut(i));
        }
        p
    }

    /// A fresh error polynomial in evaluation form, with `message` (in coefficient form)
    /// added before the transform they then share.
    pub(crate) fn sample_error(
        sampler: &mut Sampler,
        basis: &RnsBasis,
        message: Option<&RnsPoly>,
    ) -> RnsPoly {
        let mut e = RnsPoly::from_signed(basis, &sampler.gaussian(basis.n()));
        if let Some(m) = message {
            e.add_assign(basis, m);
        }
        e.ntt_forward(basis);
        e
    }

    /// `(-a s + e + m, a)` over `basis` (a prefix of the key's basis), `m` in coefficient
    /// form or zero.
    pub(crate) fn encrypt_zero(
        sampler: &mut Sampler,
        basis: &RnsBasis,
        s: &RnsPoly,
        message: Option<&RnsPoly>,
    ) -> (RnsPoly, RnsPoly) {
        let a = Self::sample_uniform(sampler, basis);
        let b = Self::encrypt_with(sampler, basis, s, message, &a);
        (b, a)
    }

    /// `-a s + e + m` for a given `a`.
    pub(crate) fn encrypt_with(
        sampler: &mut Sampler,
        basis: &RnsBasis,
        s: &RnsPoly,
        message: Option<&RnsPoly>,
        a: &RnsPoly,
    ) -> RnsPoly {
        let mut b = Self::sample_error(sampler, basis, message);
        b.mul_sub_assign(basis, a, s);
        b
    }

    fn check(&self, sk: &SecretKey) -> Result<(), CkksError> {
        self.params.check_same(sk.tag.params)
    }

    /// A public key of `sk`, for [`crate::Encryptor::with_public_key`]. Fails if `sk` belongs
    /// to other parameters.
    pub fn public_key(&mut self, sk: &SecretKey) -> Result<PublicKey, CkksError> {
        self.check(sk)?;
        let q = &self.params.ctx().levels[self.params.max_level()].q;
        let (b, a) = Self::encrypt_zero(&mut self.sampler, q, &sk.poly, None);
        Ok(PublicKey { tag: sk.tag, b, a })
    }

    /// A key switching from `s_from` (evaluation form over all primes) to `sk`.
    fn switching_key(&mut self, sk: &SecretKey, s_from: &RnsPoly) -> SwitchingKey {
        let top = &self.params.ctx().levels[self.params.max_level()];
        let basis = &top.qp;
        let n = self.params.n();
        let parts = top
            .digits
            .iter()
            .map(|digit| {
                let (mut b, a) = Self::encrypt_zero(&mut self.sampler, basis, &sk.poly, None);
                // Add P * s_from on this digit's primes only: the gadget of hybrid key switching.
                for i in digit.limbs.clone() {
                    let s = &s_from.data()[i * n..(i + 1) * n];
                    add_gadget(b.limb_mut(i), s, basis.modulus(i), top.p_mod_q[i]);
                }
                (b, a)
            })
            .collect();
        SwitchingKey { tag: sk.tag, parts }
    }

    /// The keys of sparse-secret encapsulation for bootstrapping ([`EncapsulationKey`]),
    /// with an ephemeral secret of `weight` nonzero coefficients (32 in the presets).
    pub fn encapsulation_key(
        &mut self,
        sk: &SecretKey,
        weight: usize,
    ) -> Result<EncapsulationKey, CkksError> {
        self.check(sk)?;
        if weight == 0 || weight > self.params.n() {
            return Err(CkksError::InvalidParams(format!(
                "an ephemeral secret of weight {weight}"
            )));
        }
        let sparse = self.sparse_secret_key(weight);
        let to_dense = self.switching_key(sk, &sparse.poly);
        // To s', over q_0 p_0 only.
        let small = EncapsulationKey::sparse_basis(&self.params)?;
        let mut s_small = RnsPoly::from_signed(&small, &sparse.coeffs);
        s_small.ntt_forward(&small);
        let (mut b, a) = Self::encrypt_zero(&mut self.sampler, &small, &s_small, None);
        // The gadget: p_0 s on q_0.
        let m = small.modulus(0);
        let p0 = m.reduce(small.modulus(1).value());
        add_gadget(b.limb_mut(0), &sk.poly.data()[..self.params.n()], m, p0);
        Ok(EncapsulationKey {
            tag: sk.tag,
            to_sparse: (b, a),
            to_dense,
        })
    }

    /// The relinearization key of `sk` (a switching key from `s^2` to `s`), for
    /// [`crate::Evaluator::with_relin_key`]. Fails if `sk` belongs to other parameters.
    pub fn relin_key(&mut self, sk: &SecretKey) -> Result<RelinKey, CkksError> {
        self.check(sk)?;
        let mut s2 = sk.poly.clone();
        s2.mul_assign(self.full_basis(), &sk.poly);
        Ok(RelinKey(self.switching_key(sk, &s2)))
    }

    /// Keys for the given Galois elements (see [`galois_element`] and [`conjugation_element`]).
    pub fn galois_keys_for_elements(
        &mut self,
        sk: &SecretKey,
        elements: &[u64],
    ) -> Result<GaloisKeys, CkksError> {
        self.check(sk)?;
        let two_n = 2 * self.params.n() as u64;
        let exps = self.full_basis().table(0).exponents().to_vec();
        let mut keys = GaloisKeys::default();
        for &g in elements {
            if g % 2 == 0 || g >= two_n {
                return Err(CkksError::InvalidParams(format!(
                    "{g} is not a Galois element mod {two_n}"
                )));
            }
            let perm = automorphism_permutation(&exps, g);
            let s_g = sk.poly.permute(&perm);
            keys.keys.insert(g, self.switching_key(sk, &s_g));
        }
        Ok(keys)
    }

    /// Keys for rotations by each of `steps` (left for positive), plus conjugation if asked.
    pub fn galois_keys(
        &mut self,
        sk: &SecretKey,
        steps: &[i64],
        conjugation: bool,
    ) -> Result<GaloisKeys, CkksError> {
        let n = self.params.n();
        let mut elements: Vec<u64> = steps.iter().map(|&s| galois_element(s, n)).collect();
        if conjugation {
            elements.push(conjugation_element(n));
        }
        elements.sort_unstable();
        elements.dedup();
        elements.retain(|&g| g != 1);
        self.galois_keys_for_elements(sk, &elements)
    }

    /// Keys for every rotation by a power of two in both directions (any rotation is then at
    /// most `log N` of them), plus conjugation.
    pub fn galois_keys_power_of_two(&mut self, sk: &SecretKey) -> Result<GaloisKeys, CkksError> {
        let slots = self.params.slots() as i64;
        let steps: Vec<i64> = (0..)
            .map(|k| 1i64 << k)
            .take_while(|&s| s < slots)
            .flat_map(|s| [s, -s])
            .collect();
        self.galois_keys(sk, &steps, true)
    }
}

/// `b += w s` on one limb: the gadget term a switching key carries for its digit.
fn add_gadget(b: &mut [u64], s: &[u64], m: &shroud_math::Modulus, w: u64) {
    let ws = m.shoup(w);
    for (bk, &sk) in b.iter_mut().zip(s) {
        *bk = m.add(*bk, m.mul_shoup(sk, w, ws));
    }
}

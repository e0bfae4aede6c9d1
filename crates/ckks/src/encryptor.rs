use std::sync::Arc;

use rayon::prelude::*;
use shroud_math::{RnsPoly, Sampler};

use crate::keys::KeyGenerator;
use crate::{
    Ciphertext, CkksError, Encoder, Params, Plaintext, PublicKey, SecretKey, SeededCiphertext,
};

enum Key {
    Public(PublicKey),
    Secret(SecretKey),
}

impl Key {
    fn tag(&self) -> shroud_math::KeyTag {
        match self {
            Key::Public(pk) => pk.tag,
            Key::Secret(sk) => sk.tag,
        }
    }
}

/// Encrypts plaintexts under a public key (anyone) or the secret key (its owner, with less
/// noise and one fewer product).
pub struct Encryptor {
    params: Params,
    /// Shared by forks: one copy of the key (half a megabyte at N = 2^13) however many
    /// threads encrypt, wiped once when the last fork drops it.
    key: Arc<Key>,
    sampler: Sampler,
}

impl Encryptor {
    /// An encryptor under the public key `pk`, with a sampler seeded by the operating system.
    /// Fails if `pk` belongs to other parameters.
    pub fn with_public_key(params: &Params, pk: &PublicKey) -> Result<Self, CkksError> {
        params.check_same(pk.tag.params)?;
        Ok(Self {
            params: params.clone(),
            key: Arc::new(Key::Public(pk.clone())),
            sampler: Sampler::from_os(),
        })
    }

    /// An encryptor under the same key with its own sampler (seeded from this one's), so
    /// that several threads can encrypt at once.
    pub fn fork(&mut self) -> Self {
        Self {
            params: self.params.clone(),
            key: self.key.clone(),
            sampler: self.sampler.fork(),
        }
    }

    /// An encryptor under the secret key `sk`, with a sampler seeded by the operating system:
    /// its encryptions carry less noise, and only it makes seeded ones
    /// ([`Self::encrypt_values_seeded`]). Fails if `sk` belongs to other parameters.
    pub fn with_secret_key(params: &Params, sk: &SecretKey) -> Result<Self, CkksError> {
        params.check_same(sk.tag.params)?;
        Ok(Self {
            params: params.clone(),
            key: Arc::new(Key::Secret(sk.clone())),
            sampler: Sampler::from_os(),
        })
    }

    /// Encrypts `pt` at its level and scale. Fails if it was encoded for other parameters.
    pub fn encrypt(&mut self, pt: &Plaintext) -> Result<Ciphertext, CkksError> {
        self.params.check_same(pt.params_id)?;
        self.params.level_ctx(pt.level)?;
        let (mut c0, c1) = self.encrypt_zero_at(pt.level, None);
        c0.add_assign(&self.params.ctx().levels[pt.level].q, &pt.poly);
        Ok(self.ciphertext(pt.level, pt.scale, c0, c1))
    }

    /// Encodes `values` at `(level, scale)` and encrypts them: [`Encoder::encode_at`] and
    /// [`Self::encrypt`] in one, the message added to the error before the transform they
    /// share (one transform of every limb fewer).
    pub fn encrypt_values(
        &mut self,
        encoder: &Encoder,
        values: &[f64],
        level: usize,
        scale: f64,
    ) -> Result<Ciphertext, CkksError> {
        self.params.check_same(encoder.params().id())?;
        let m = encoder.encode_real_coefficients(values, level, scale)?;
        let (c0, c1) = self.encrypt_zero_at(level, Some(&m));
        Ok(self.ciphertext(level, scale, c0, c1))
    }

    /// [`Self::encrypt_values`] in the form to send: `c_1` is the expansion of a fresh seed,
    /// which travels in its place. Needs the secret key (a public-key encryption has no
    /// uniform half to replace).
    pub fn encrypt_values_seeded(
        &mut self,
        encoder: &Encoder,
        values: &[f64],
        level: usize,
        scale: f64,
    ) -> Result<SeededCiphertext, CkksError> {
        self.params.check_same(encoder.params().id())?;
        let Key::Secret(sk) = &*self.key else {
            return Err(CkksError::InvalidParams(
                "seeded encryption needs the secret key".into(),
            ));
        };
        let m = encoder.encode_real_coefficients(values, level, scale)?;
        let basis = &self.params.ctx().levels[level].q;
        let seed = self.sampler.seed();
        let a = KeyGenerator::expand_seed(seed, basis);
        let c0 = KeyGenerator::encrypt_with(&mut self.sampler, basis, &sk.poly, Some(&m), &a);
        Ok(SeededCiphertext {
            tag: self.key.tag(),
            level,
            scale,
            c0,
            seed,
        })
    }

    /// [`Self::encrypt_values`] for each of `vectors`, in parallel (one forked encryptor
    /// each).
    pub fn encrypt_many(
        &mut self,
        encoder: &Encoder,
        vectors: &[Vec<f64>],
        level: usize,
        scale: f64,
    ) -> Result<Vec<Ciphertext>, CkksError> {
        self.each_forked(vectors, |enc, v| {
            enc.encrypt_values(encoder, v, level, scale)
        })
    }

    /// [`Self::encrypt_values_seeded`] for each of `vectors`, in parallel.
    pub fn encrypt_many_seeded(
        &mut self,
        encoder: &Encoder,
        vectors: &[Vec<f64>],
        level: usize,
        scale: f64,
    ) -> Result<Vec<SeededCiphertext>, CkksError> {
        self.each_forked(vectors, |enc, v| {
            enc.encrypt_values_seeded(encoder, v, level, scale)
        })
    }

    fn each_forked<T: Send>(
        &mut self,
        vectors: &[Vec<f64>],
        encrypt: impl Fn(&mut Encryptor, &[f64]) -> Result<T, CkksError> + Sync,
    ) -> Result<Vec<T>, CkksError> {
        let forks: Vec<Encryptor> = vectors.iter().map(|_| self.fork()).collect();
        vectors
            .par_iter()
            .zip(forks)
            .map(|(v, mut enc)| encrypt(&mut enc, v))
            .collect()
    }

    /// An encryption of zero, or of `message` (coefficient form) if given, at `level` (a
    /// level the caller has checked).
    fn encrypt_zero_at(&mut self, level: usize, message: Option<&RnsPoly>) -> (RnsPoly, RnsPoly) {
        let basis = &self.params.ctx().levels[level].q;
        match &*self.key {
            Key::Secret(sk) => {
                KeyGenerator::encrypt_zero(&mut self.sampler, basis, &sk.poly, message)
            }
            Key::Public(pk) => {
                // (b u + e0 + m, a u + e1) with a ternary u.
                let limbs = level + 1;
                let mut u = RnsPoly::from_signed(basis, &self.sampler.ternary(basis.n()));
                u.ntt_forward(basis);
                let mut c0 = KeyGenerator::sample_error(&mut self.sampler, basis, message);
                let mut c1 = KeyGenerator::sample_error(&mut self.sampler, basis, None);
                c0.mul_add_assign(basis, &pk.b.prefix(limbs), &u);
                c1.mul_add_assign(basis, &pk.a.prefix(limbs), &u);
                (c0, c1)
            }
        }
    }

    fn ciphertext(&self, level: usize, scale: f64, c0: RnsPoly, c1: RnsPoly) -> Ciphertext {
        Ciphertext {
            tag: self.key.tag(),
            level,
            scale,
            polys: vec![c0, c1],
        }
    }
}

use shroud_math::{RnsPoly, Sampler};

use crate::keys::KeyGenerator;
use crate::{Ciphertext, CkksError, Params, Plaintext, PublicKey, SecretKey};

#[derive(Clone)]
enum Key {
    Public(PublicKey),
    Secret(SecretKey),
}

/// Encrypts plaintexts under a public key (anyone) or the secret key (its owner, with less
/// noise and one fewer product).
pub struct Encryptor {
    params: Params,
    key: Key,
    sampler: Sampler,
}

impl Encryptor {
    pub fn with_public_key(params: &Params, pk: &PublicKey) -> Result<Self, CkksError> {
        params.check_same(pk.params_id)?;
        Ok(Self {
            params: params.clone(),
            key: Key::Public(pk.clone()),
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

    pub fn with_secret_key(params: &Params, sk: &SecretKey) -> Result<Self, CkksError> {
        params.check_same(sk.params_id)?;
        Ok(Self {
            params: params.clone(),
            key: Key::Secret(sk.clone()),
            sampler: Sampler::from_os(),
        })
    }

    pub fn encrypt(&mut self, pt: &Plaintext) -> Result<Ciphertext, CkksError> {
        self.params.check_same(pt.params_id)?;
        let basis = &self.params.level_ctx(pt.level)?.q;
        let limbs = pt.level + 1;
        let (mut c0, c1) = match &self.key {
            Key::Secret(sk) => KeyGenerator::encrypt_zero(&mut self.sampler, basis, &sk.poly),
            Key::Public(pk) => {
                // (b u + e0, a u + e1) with a ternary u.
                let mut u = RnsPoly::from_signed(basis, &self.sampler.ternary(basis.n()));
                u.ntt_forward(basis);
                let mut c0 = KeyGenerator::sample_error(&mut self.sampler, basis);
                let mut c1 = KeyGenerator::sample_error(&mut self.sampler, basis);
                c0.mul_add_assign(basis, &pk.b.prefix(limbs), &u);
                c1.mul_add_assign(basis, &pk.a.prefix(limbs), &u);
                (c0, c1)
            }
        };
        c0.add_assign(basis, &pt.poly);
        Ok(Ciphertext {
            params_id: self.params.id(),
            level: pt.level,
            scale: pt.scale,
            polys: vec![c0, c1],
        })
    }
}

//! The GSW secret key: key generation, encryption and decryption.

use shroud_math::{Fingerprint, KeyTag, Modulus, Sampler};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::ciphertext::GswCiphertext;
use super::params::{fresh_variance, GswParams, LOG_Q};
use crate::LweError;

/// The secret `s` (uniform ternary, stored modulo 2^32), with its sampler.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct GswSecretKey {
    #[zeroize(skip)]
    params: GswParams,
    s: Vec<u32>,
    /// The parameters' fingerprint and a hash of `s`.
    #[zeroize(skip)]
    tag: KeyTag,
    #[zeroize(skip)]
    sampler: Sampler,
}

impl GswSecretKey {
    /// A fresh key from the OS-seeded CSPRNG, which also draws its encryptions' randomness;
    /// errors if `params` fail [`GswParams::validate`].
    pub fn new(params: &GswParams) -> Result<Self, LweError> {
        Self::with_sampler(params, Sampler::from_os())
    }

    /// Deterministic, for tests and reproducible benchmarks only.
    pub fn from_seed(params: &GswParams, seed: u64) -> Result<Self, LweError> {
        Self::with_sampler(params, Sampler::from_seed(seed))
    }

    fn with_sampler(params: &GswParams, mut sampler: Sampler) -> Result<Self, LweError> {
        params.validate()?;
        let s = sampler
            .ternary(params.lwe_dimension)
            .into_iter()
            .map(|x| x as u32)
            .collect::<Vec<_>>();
        let fingerprint = params.fingerprint();
        let words = Zeroizing::new(s.iter().map(|&x| x as u64).collect::<Vec<_>>());
        let tag = KeyTag {
            params: fingerprint,
            key: Fingerprint::of_words("shroud-gsw-key", fingerprint, &[&words]),
        };
        Ok(Self {
            params: params.clone(),
            s,
            tag,
            sampler,
        })
    }

    /// What this key's ciphertexts carry.
    pub fn tag(&self) -> KeyTag {
        self.tag
    }

    /// The parameter set the key was generated for.
    pub fn params(&self) -> &GswParams {
        &self.params
    }

    /// Encrypts `mu` (below the plaintext modulus; 0 or 1 for the gates).
    pub fn encrypt(&mut self, mu: u64) -> Result<GswCiphertext, LweError> {
        let p = &self.params;
        if mu >= p.plaintext_modulus() {
            return Err(LweError::MessageOutOfRange {
                message: mu,
                bits: p.plaintext_modulus().ilog2(),
            });
        }
        let (n, l, w) = (p.lwe_dimension, p.levels(), p.lwe_dimension + 1);
        let q = Modulus::new(1 << LOG_Q).map_err(|_| LweError::Internal("2^32 as a modulus"))?;
        let mut rows = vec![0u32; p.rows() * w];
        let mut mask = vec![0u64; n];
        for (r, row) in rows.chunks_mut(w).enumerate() {
            self.sampler.uniform(&q, &mut mask);
            let e = self.sampler.gaussian(1)[0];
            let mut b = e as u32;
            for ((dst, &a), &s) in row[1..].iter_mut().zip(&mask).zip(&self.s) {
                *dst = a as u32;
                b = b.wrapping_add((a as u32).wrapping_mul(s));
            }
            row[0] = b;
            // Row (i, j) of G has B^j in column i.
            let (i, j) = (r / l, r % l);
            row[i] = row[i].wrapping_add((mu as u32).wrapping_shl(j as u32 * p.base_log));
        }
        Ok(GswCiphertext {
            rows,
            noise_variance: fresh_variance(),
            max_message: mu.max(1),
            tag: self.tag,
        })
    }

    /// Reads the row whose gadget entry is `B^(l-1)`: its phase is `mu B^(l-1) + e`.
    pub fn decrypt(&self, ct: &GswCiphertext) -> Result<u64, LweError> {
        let p = &self.params;
        ct.validate(p)?;
        if ct.tag.key != super::ciphertext::PUBLIC {
            self.tag.check(ct.tag)?;
        }
        let w = p.lwe_dimension + 1;
        let row = &ct.rows[(p.levels() - 1) * w..][..w];
        let dot = row[1..]
            .iter()
            .zip(&self.s)
            .fold(0u32, |acc, (a, s)| acc.wrapping_add(a.wrapping_mul(*s)));
        let phase = row[0].wrapping_sub(dot) as u64;
        let top = p.top_gadget();
        Ok(((phase + top / 2) / top) % p.plaintext_modulus())
    }

    /// Decrypts and keeps the low bit of the message: a gate's output as a `bool`.
    pub fn decrypt_bit(&self, ct: &GswCiphertext) -> Result<bool, LweError> {
        Ok(self.decrypt(ct)? & 1 == 1)
    }
}

//! A keyed test environment on the insecure test parameters, with helpers to compare decrypted
//! results against the same computation on plain vectors.

#![allow(dead_code)]

use shroud_ckks::*;
use shroud_math::Sampler;

pub struct Env {
    pub params: Params,
    pub sk: SecretKey,
    pub pk: PublicKey,
    pub encoder: Encoder,
    pub encryptor: Encryptor,
    pub decryptor: Decryptor,
    pub eval: Evaluator,
}

impl Env {
    pub fn new(seed: u64) -> Self {
        let params = Params::new_insecure(presets::insecure_test_n12()).unwrap();
        let mut kg = KeyGenerator::with_seed(&params, seed);
        let sk = kg.secret_key();
        let pk = kg.public_key(&sk).unwrap();
        let eval = Evaluator::new(&params)
            .with_relin_key(kg.relin_key(&sk).unwrap())
            .unwrap()
            .with_galois_keys(kg.galois_keys_power_of_two(&sk).unwrap())
            .unwrap();
        Self {
            encoder: Encoder::new(&params),
            encryptor: Encryptor::with_public_key(&params, &pk).unwrap(),
            decryptor: Decryptor::new(&params, &sk).unwrap(),
            params,
            sk,
            pk,
            eval,
        }
    }

    pub fn random_vector(&self, seed: u64, bound: f64) -> Vec<f64> {
        let mut s = Sampler::from_seed(seed);
        let q = shroud_math::Modulus::new(1 << 40).unwrap();
        let mut raw = vec![0u64; self.params.slots()];
        s.uniform(&q, &mut raw);
        raw.iter()
            .map(|&r| (r as f64 / (1u64 << 40) as f64 * 2.0 - 1.0) * bound)
            .collect()
    }

    pub fn encrypt(&mut self, v: &[f64]) -> Ciphertext {
        let pt = self.encoder.encode(v).unwrap();
        self.encryptor.encrypt(&pt).unwrap()
    }

    pub fn decrypt(&self, ct: &Ciphertext) -> Vec<f64> {
        self.encoder
            .decode(&self.decryptor.decrypt(ct).unwrap())
            .unwrap()
    }
}

/// Bits of precision: `-log2(max |a - b|)`.
pub fn precision_bits(a: &[f64], b: &[f64]) -> f64 {
    let err = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f64, f64::max);
    -err.max(f64::MIN_POSITIVE).log2()
}

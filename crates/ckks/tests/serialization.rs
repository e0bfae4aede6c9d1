//! Round trips of every serializable object, and rejection of malformed input.

mod common;

use common::{precision_bits, Env};
use shroud_ckks::*;
use shroud_math::Sampler;

/// Parameters that differ from the test environment's in one prime.
fn foreign_params() -> Params {
    let mut lit = presets::insecure_test_n12();
    lit.q_bits[2] = 39;
    Params::new_insecure(lit).unwrap()
}

#[test]
fn roundtrips_preserve_everything() {
    let mut env = Env::new(11);
    let params = env.params.clone();
    let p = &params;
    let loaded = Params::from_bytes_insecure(&p.to_bytes()).unwrap();
    assert_eq!(&loaded, p);
    assert!(
        matches!(Params::from_bytes(&p.to_bytes()), Err(CkksError::Insecure)),
        "insecure parameters only load through the insecure constructor"
    );

    let x = env.random_vector(1, 1.0);
    let ct = env.encrypt(&x);
    let back = Ciphertext::from_bytes(p, &ct.to_bytes(p).unwrap()).unwrap();
    assert_eq!(back, ct);
    let raw = env.eval.multiply(&ct, &ct).unwrap();
    assert_eq!(
        Ciphertext::from_bytes(p, &raw.to_bytes(p).unwrap()).unwrap(),
        raw
    );

    let pt = env.encoder.encode(&x).unwrap();
    assert_eq!(
        Plaintext::from_bytes(p, &pt.to_bytes(p).unwrap()).unwrap(),
        pt
    );
    assert_eq!(
        PublicKey::from_bytes(p, &env.pk.to_bytes(p).unwrap()).unwrap(),
        env.pk
    );

    let mut kg = KeyGenerator::with_seed(p, 3);
    let sk = kg.secret_key();
    let rk = kg.relin_key(&sk).unwrap();
    assert_eq!(
        RelinKey::from_bytes(p, &rk.to_bytes(p).unwrap()).unwrap(),
        rk
    );
    let gk = kg.galois_keys(&sk, &[1, -3], true).unwrap();
    assert_eq!(
        GaloisKeys::from_bytes(p, &gk.to_bytes(p).unwrap()).unwrap(),
        gk
    );

    // A reloaded secret key still decrypts.
    let sk_bytes = env.sk.to_bytes(p).unwrap();
    let sk2 = SecretKey::from_bytes(p, &sk_bytes).unwrap();
    let dec = Decryptor::new(p, &sk2).unwrap();
    let out = env.encoder.decode(&dec.decrypt(&ct).unwrap()).unwrap();
    assert!(precision_bits(&out, &x) > 20.0);
}

#[test]
fn residues_are_bit_packed() {
    let mut env = Env::new(12);
    let ct = env.encrypt(&[1.0]);
    let bits: usize = env
        .params
        .q_moduli()
        .iter()
        .map(|m| m.bits() as usize)
        .sum();
    let payload = 2 * env.params.n() * bits / 8;
    let len = ct.to_bytes(&env.params).unwrap().len();
    assert!(
        len >= payload && len < payload + 100,
        "{len} bytes for a {payload}-byte payload"
    );
}

#[test]
fn wrong_kind_params_or_version_is_rejected() {
    let mut env = Env::new(13);
    let p = env.params.clone();
    let ct = env.encrypt(&[1.0]);
    let bytes = ct.to_bytes(&p).unwrap();
    assert!(matches!(
        Plaintext::from_bytes(&p, &bytes),
        Err(CkksError::Malformed(_))
    ));
    let other = foreign_params();
    assert!(matches!(
        Ciphertext::from_bytes(&other, &bytes),
        Err(CkksError::ParamsMismatch { .. })
    ));
    let mut v2 = bytes.clone();
    v2[4] = 9; // the version follows the 4-byte magic
    assert!(matches!(
        Ciphertext::from_bytes(&p, &v2),
        Err(CkksError::UnsupportedVersion { found: 9, .. })
    ));
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert!(matches!(
        Ciphertext::from_bytes(&p, &magic),
        Err(CkksError::Malformed(_))
    ));
    assert!(Ciphertext::from_bytes(&p, &bytes[..bytes.len() - 1]).is_err());
    assert!(Ciphertext::from_bytes(&p, &[bytes.clone(), vec![0]].concat()).is_err());
    assert!(Ciphertext::from_bytes(&p, &[]).is_err());
    // A secret key from other parameters is refused by them.
    assert!(SecretKey::from_bytes(&other, &env.sk.to_bytes(&p).unwrap()).is_err());
}

#[test]
fn corrupted_ciphertexts_never_panic() {
    // Fuzz-style: flip random bytes, truncate, overwrite lengths; every result is either an
    // error or a ciphertext that passed every check (then it must decrypt without panicking).
    let mut env = Env::new(14);
    let p = env.params.clone();
    let bytes = env
        .encrypt(&env.random_vector(2, 1.0))
        .to_bytes(&p)
        .unwrap();
    let mut s = Sampler::from_seed(99);
    let q = shroud_math::Modulus::new(1 << 40).unwrap();
    let mut rand = |bound: usize| {
        let mut v = [0u64];
        s.uniform(&q, &mut v);
        v[0] as usize % bound
    };
    let (mut rejected, mut accepted) = (0, 0);
    for trial in 0..600 {
        let mut b = bytes.clone();
        match trial % 4 {
            0 => {
                for _ in 0..1 + rand(4) {
                    let i = rand(b.len());
                    b[i] ^= 1 << rand(8);
                }
            }
            1 => b.truncate(rand(b.len())),
            2 => {
                // Headers and length prefixes live in the first 64 bytes.
                let i = rand(64);
                b[i] = rand(256) as u8;
            }
            _ => {
                let i = rand(b.len() - 8);
                b[i..i + 8].copy_from_slice(&u64::MAX.to_le_bytes());
            }
        }
        match Ciphertext::from_bytes(&p, &b) {
            Err(_) => rejected += 1,
            Ok(ct) => {
                accepted += 1;
                let _ = env.encoder.decode(&env.decryptor.decrypt(&ct).unwrap());
            }
        }
    }
    assert!(
        rejected > 300,
        "only {rejected} of 600 corruptions rejected"
    );
    assert!(accepted + rejected == 600);
}

#[test]
fn seeded_ciphertexts_travel_at_half_the_size() {
    let env = Env::new(15);
    let p = env.params.clone();
    let x = env.random_vector(3, 1.0);
    let mut sym = Encryptor::with_secret_key(&p, &env.sk).unwrap();
    let level = 2;
    let seeded = sym
        .encrypt_values_seeded(&env.encoder, &x, level, p.default_scale())
        .unwrap();
    let bytes = seeded.to_bytes(&p).unwrap();
    let full = sym
        .encrypt_values(&env.encoder, &x, level, p.default_scale())
        .unwrap()
        .to_bytes(&p)
        .unwrap();
    assert!(
        bytes.len() < full.len() / 2 + 100,
        "{} bytes seeded, {} in full",
        bytes.len(),
        full.len()
    );
    // The receiver expands the seed into a whole ciphertext, which decrypts and computes.
    let ct = Ciphertext::from_bytes(&p, &bytes).unwrap();
    assert_eq!((ct.level(), ct.degree()), (level, 1));
    let out = env
        .encoder
        .decode(&env.decryptor.decrypt(&ct).unwrap())
        .unwrap();
    assert!(precision_bits(&out, &x) > 25.0);
    let sq = env.eval.mul_relin_rescale(&ct, &ct).unwrap();
    let out = env
        .encoder
        .decode(&env.decryptor.decrypt(&sq).unwrap())
        .unwrap();
    let want: Vec<f64> = x.iter().map(|v| v * v).collect();
    assert!(precision_bits(&out, &want) > 20.0);
    // Two encryptions of the same values draw different seeds.
    let again = sym
        .encrypt_values_seeded(&env.encoder, &x, level, p.default_scale())
        .unwrap();
    assert_ne!(again.to_bytes(&p).unwrap(), bytes);

    // Refusals: a public-key encryptor has no seed to give; seeded bytes are checked like
    // any ciphertext's (parameters, truncation, a plaintext reader).
    let mut public = Encryptor::with_public_key(&p, &env.pk).unwrap();
    assert!(matches!(
        public.encrypt_values_seeded(&env.encoder, &x, level, p.default_scale()),
        Err(CkksError::InvalidParams(_))
    ));
    let other = foreign_params();
    assert!(matches!(
        Ciphertext::from_bytes(&other, &bytes),
        Err(CkksError::ParamsMismatch { .. })
    ));
    assert!(Ciphertext::from_bytes(&p, &bytes[..bytes.len() - 1]).is_err());
    assert!(matches!(
        Plaintext::from_bytes(&p, &bytes),
        Err(CkksError::Malformed(_))
    ));
}

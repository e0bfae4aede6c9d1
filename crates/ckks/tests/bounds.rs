//! What cannot decrypt correctly is refused: scales beyond the modulus left, constants that
//! wrap, ciphertexts of another key, edited metadata.

mod common;

use common::Env;
use shroud_ckks::{
    Ciphertext, CkksError, Decryptor, Encryptor, Evaluator, KeyGenerator, SecretKey,
};
use shroud_math::reseal;

fn out_of_bounds<T: std::fmt::Debug>(r: Result<T, CkksError>) {
    assert!(
        matches!(r, Err(CkksError::ScaleOutOfBounds { .. })),
        "expected a scale out of bounds, got {r:?}"
    );
}

/// A fresh encryption of `x` at level 0 (the 60-bit prime alone) and scale 2^40.
fn at_last_level(env: &mut Env, x: &[f64]) -> Ciphertext {
    env.encryptor
        .encrypt_values(&env.encoder, x, 0, 2f64.powi(40))
        .unwrap()
}

#[test]
fn products_whose_scale_exceeds_the_modulus_are_refused() {
    let mut env = Env::new(11);
    let x = vec![0.5, -0.25, 0.125];
    let (a, b) = (at_last_level(&mut env, &x), at_last_level(&mut env, &x));
    // 2^80 at level 0 (2^60 left): SEAL's "scale out of bounds".
    out_of_bounds(env.eval.multiply(&a, &b));
    let pt = env.encoder.encode_at(&x, 0, 2f64.powi(40)).unwrap();
    out_of_bounds(env.eval.mul_plain(&a, &pt));
    // One level up the same product fits (2^80 under 2^100) and decrypts.
    let up = |env: &mut Env| {
        env.encryptor
            .encrypt_values(&env.encoder, &x, 1, 2f64.powi(40))
            .unwrap()
    };
    let (c, d) = (up(&mut env), up(&mut env));
    let prod = env.eval.mul_relin_rescale(&c, &d).unwrap();
    let got = env.decrypt(&prod);
    for (g, v) in got.iter().zip(&x) {
        assert!((g - v * v).abs() < 1e-6, "{g} vs {}", v * v);
    }
    // A rescale that would leave a scale below 1.
    let tiny = env
        .encryptor
        .encrypt_values(&env.encoder, &x, 1, 2f64.powi(20))
        .unwrap();
    out_of_bounds(env.eval.rescale(&tiny));
    // Encoding at a scale the level cannot hold.
    out_of_bounds(env.encoder.encode_at(&x, 0, 2f64.powi(59)));
    out_of_bounds(env.encoder.encode_at(&x, 0, f64::INFINITY));
}

#[test]
fn constants_that_would_wrap_are_refused() {
    let mut env = Env::new(12);
    let a = at_last_level(&mut env, &[1.0, 2.0]);
    // 2^40 * 2^20 reaches 2^60: adding it would wrap the modulus.
    let big = 2f64.powi(20);
    assert!(matches!(
        env.eval.add_scalar(&a, big),
        Err(CkksError::ValueOutOfRange(_))
    ));
    assert!(matches!(
        env.eval.mul_integer(&a, 1 << 20),
        Err(CkksError::ValueOutOfRange(_))
    ));
    assert!(matches!(
        env.eval.add_scalar(&a, f64::NAN),
        Err(CkksError::ValueOutOfRange(_))
    ));
    let got = env.decrypt(&env.eval.add_scalar(&a, 1000.0).unwrap());
    assert!((got[0] - 1001.0).abs() < 1e-3 && (got[1] - 1002.0).abs() < 1e-3);
    let top = env.encrypt(&[1.0]);
    assert!(matches!(
        env.eval.mul_scalar(&top, 1e30),
        Err(CkksError::ValueOutOfRange(_))
    ));
}

#[test]
fn ciphertexts_and_keys_of_another_secret_are_refused() {
    let mut alice = Env::new(13);
    let bob = Env::new(14);
    assert_eq!(alice.sk.tag().params, bob.sk.tag().params);
    assert_ne!(alice.sk.tag().key, bob.sk.tag().key);
    let a = alice.encrypt(&[1.0]);
    let mut bob_enc = Encryptor::with_public_key(&bob.params, &bob.pk).unwrap();
    let b = bob_enc
        .encrypt(&bob.encoder.encode(&[1.0]).unwrap())
        .unwrap();
    let key_mismatch = |r: Result<Ciphertext, CkksError>| {
        assert!(
            matches!(&r, Err(CkksError::KeyMismatch(m)) if m.to_string().contains("different keys")),
            "{r:?}"
        )
    };
    // Bob's evaluation keys refuse Alice's ciphertexts, even for additions.
    key_mismatch(bob.eval.add(&a, &a));
    key_mismatch(bob.eval.rotate(&a, 1));
    // A keyless evaluator refuses to mix them.
    let plain = Evaluator::new(&alice.params);
    key_mismatch(plain.add(&a, &b));
    key_mismatch(plain.multiply(&a, &b));
    assert!(plain.add(&a, &a).is_ok());
    assert!(matches!(
        bob.decryptor.decrypt(&a),
        Err(CkksError::KeyMismatch(_))
    ));
    // Evaluation keys of two secrets do not go into one evaluator.
    let mut kg = KeyGenerator::with_seed(&alice.params, 15);
    let other = kg.secret_key();
    assert!(matches!(
        Evaluator::new(&alice.params)
            .with_relin_key(kg.relin_key(&alice.sk).unwrap())
            .unwrap()
            .with_galois_keys(kg.galois_keys_power_of_two(&other).unwrap()),
        Err(CkksError::KeyMismatch(_))
    ));
    // Identities survive files; a decryptor made from a reloaded key reads Alice's data.
    let sk2 =
        SecretKey::from_bytes(&alice.params, &alice.sk.to_bytes(&alice.params).unwrap()).unwrap();
    assert_eq!(sk2.tag(), alice.sk.tag());
    let a2 = Ciphertext::from_bytes(&alice.params, &a.to_bytes(&alice.params).unwrap()).unwrap();
    assert_eq!(a2.tag(), a.tag());
    let dec = Decryptor::new(&alice.params, &sk2).unwrap();
    assert!(dec.decrypt(&a2).is_ok());
}

#[test]
fn edited_metadata_is_refused_even_behind_a_valid_digest() {
    let mut env = Env::new(16);
    let ct = at_last_level(&mut env, &[0.5]);
    let bytes = ct.to_bytes(&env.params).unwrap();
    // Header (10) and digest (32), then the tag (16): level (4), scale (8).
    let scale_at = 42 + 16 + 4;
    assert_eq!(
        f64::from_le_bytes(bytes[scale_at..scale_at + 8].try_into().unwrap()),
        2f64.powi(40)
    );
    for bad in [2f64.powi(70), 0.5, f64::NAN] {
        let mut edited = bytes.clone();
        edited[scale_at..scale_at + 8].copy_from_slice(&bad.to_le_bytes());
        assert!(matches!(
            Ciphertext::from_bytes(&env.params, &edited),
            Err(CkksError::Malformed(m)) if m.contains("digest")
        ));
        assert!(reseal(&mut edited));
        out_of_bounds(Ciphertext::from_bytes(&env.params, &edited));
    }
    // A level beyond the parameters.
    let mut edited = bytes.clone();
    edited[58..62].copy_from_slice(&9u32.to_le_bytes());
    assert!(reseal(&mut edited));
    assert!(matches!(
        Ciphertext::from_bytes(&env.params, &edited),
        Err(CkksError::LevelOutOfRange { .. })
    ));
    // A secret key whose recorded identity was edited.
    let mut sk = env.sk.to_bytes(&env.params).unwrap().to_vec();
    sk[42 + 8] ^= 1;
    assert!(reseal(&mut sk));
    assert!(matches!(
        SecretKey::from_bytes(&env.params, &sk),
        Err(CkksError::Malformed(m)) if m.contains("identity")
    ));
}

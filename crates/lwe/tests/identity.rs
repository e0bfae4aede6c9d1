//! Objects of another parameter set or key are refused, never computed through.

use shroud_lwe::bootstrap::{presets, ClientKey, Lut, LweCiphertext, ServerKey};
use shroud_lwe::gsw::{self, GswEvaluator, GswSecretKey};
use shroud_lwe::LweError;
use shroud_math::reseal;

fn mismatch<T: std::fmt::Debug>(r: Result<T, LweError>, what: &str) {
    match r {
        Err(LweError::Mismatch(m)) => {
            let text = m.to_string();
            assert!(text.contains(what), "{text}");
            // The error names both sides.
            assert!(text.contains(&m.expected.to_string()) && text.contains(&m.found.to_string()));
        }
        other => panic!("expected a mismatch of {what}, got {other:?}"),
    }
}

#[test]
fn ciphertexts_of_another_parameter_set_of_the_same_size_are_refused() {
    // Both test sets encrypt under a 2048-dimensional key: sizes match, parameters do not.
    let (p, q) = (presets::insecure_test(), presets::insecure_wide_test());
    assert_eq!(p.big_lwe_dimension(), q.big_lwe_dimension());
    let mut client_p = ClientKey::from_seed(&p, 1).unwrap();
    let mut client_q = ClientKey::from_seed(&q, 1).unwrap();
    let server_q = client_q.server_key();
    let (a, b) = (client_p.encrypt_bit(true), client_p.encrypt_bit(false));
    mismatch(server_q.nand(&a, &b), "parameter sets");
    mismatch(server_q.not(&a), "parameter sets");
    let lut = Lut::from_fn(&server_q, 2, |m| m).unwrap();
    mismatch(server_q.apply_lut(&a, &lut), "parameter sets");
    mismatch(client_q.decrypt_bit(&a), "parameter sets");
    // Loading the bytes with the other set's parameters.
    mismatch(
        LweCiphertext::from_bytes(&q, &a.to_bytes()),
        "parameter sets",
    );
    assert!(LweCiphertext::from_bytes(&p, &a.to_bytes()).is_ok());
}

#[test]
fn ciphertexts_tables_and_gates_of_another_key_are_refused() {
    let p = presets::insecure_test();
    let mut alice = ClientKey::from_seed(&p, 2).unwrap();
    let mut bob = ClientKey::from_seed(&p, 3).unwrap();
    assert_eq!(alice.tag().params, bob.tag().params);
    assert_ne!(alice.tag().key, bob.tag().key);
    let (server_a, server_b) = (alice.server_key(), bob.server_key());
    assert_eq!(server_a.tag(), alice.tag());
    let (a, b) = (alice.encrypt_bit(true), bob.encrypt_bit(true));
    mismatch(server_b.nand(&a, &a), "different keys");
    mismatch(server_a.nand(&a, &b), "different keys");
    mismatch(a.add(&b), "different keys");
    mismatch(
        LweCiphertext::weighted_sum([(&a, 1), (&b, 1)]),
        "different keys",
    );
    mismatch(bob.decrypt_bit(&a), "different keys");
    // A table built by one server is refused by another.
    let lut = Lut::from_fn(&server_a, 3, |m| m ^ 1).unwrap();
    let x = alice.encrypt_int(5, 3).unwrap();
    let y = bob.encrypt_int(5, 3).unwrap();
    assert_eq!(
        alice
            .decrypt_int(&server_a.apply_lut(&x, &lut).unwrap(), 3)
            .unwrap(),
        4
    );
    mismatch(server_b.apply_lut(&y, &lut), "different keys");
    // Widths no table of the key can have are refused before anything is allocated (a
    // 36-bit table used to abort on a 2^36-entry allocation).
    for bits in [0, 7, 36, 64, 200] {
        assert!(matches!(
            Lut::from_fn(&server_a, bits, |m| m),
            Err(LweError::MessageOutOfRange { .. })
        ));
        assert!(Lut::signed(&server_a, bits, &[]).is_err());
    }
    // Gates deferred by one server cannot be finished by another.
    let pending = server_a
        .pending_gate(shroud_lwe::bootstrap::Gate::And, &a, &a)
        .unwrap();
    mismatch(server_b.finish(vec![pending]), "different keys");
}

#[test]
fn keys_keep_their_identity_through_files() {
    let p = presets::insecure_test();
    let mut client = ClientKey::from_seed(&p, 4).unwrap();
    let ct = client.encrypt_bit(true);
    let reloaded = ClientKey::from_bytes(&client.to_bytes()).unwrap();
    assert_eq!(reloaded.tag(), client.tag());
    assert!(reloaded.decrypt_bit(&ct).unwrap());
    let compressed = client.compressed_server_key();
    assert_eq!(compressed.tag(), client.tag());
    let server = ServerKey::from_bytes(&compressed.to_bytes()).unwrap();
    assert_eq!(server.tag(), client.tag());
    let again = ServerKey::from_bytes(&server.to_bytes()).unwrap();
    assert_eq!(again.tag(), client.tag());
    assert!(!client.decrypt_bit(&again.nand(&ct, &ct).unwrap()).unwrap());
}

/// Offset of `pbs.base_log` in a serialized server key: the header (10 bytes) and digest
/// (32), then the parameters: the name (8-byte length and bytes), three dimensions and two
/// noise deviations (8 bytes each).
fn base_log_offset(name: &str) -> usize {
    42 + 8 + name.len() + 5 * 8
}

#[test]
fn edited_key_parameters_are_detected() {
    let p = presets::insecure_test();
    let mut client = ClientKey::from_seed(&p, 5).unwrap();
    let at = base_log_offset(&p.name);
    for bytes in [
        client.server_key().to_bytes(),
        client.compressed_server_key().to_bytes(),
    ] {
        assert_eq!(
            u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()),
            p.pbs.base_log
        );
        let mut edited = bytes.clone();
        edited[at..at + 4].copy_from_slice(&(p.pbs.base_log - 1).to_le_bytes());
        // Caught by the digest.
        assert!(matches!(
            ServerKey::from_bytes(&edited),
            Err(LweError::Malformed(m)) if m.contains("digest")
        ));
        // With the digest recomputed the key may load, but its tag is that of other
        // parameters, and the client's ciphertexts are refused.
        assert!(reseal(&mut edited));
        if let Ok(server) = ServerKey::from_bytes(&edited) {
            assert_ne!(server.tag().params, client.tag().params);
            let ct = client.encrypt_bit(true);
            mismatch(server.nand(&ct, &ct), "parameter sets");
        }
    }
}

#[test]
fn gsw_ciphertexts_of_another_key_or_set_are_refused() {
    let p = gsw::presets::insecure_test();
    let eval = GswEvaluator::new(&p).unwrap();
    let mut alice = GswSecretKey::from_seed(&p, 6).unwrap();
    let mut bob = GswSecretKey::from_seed(&p, 7).unwrap();
    let (a, b) = (alice.encrypt(1).unwrap(), bob.encrypt(1).unwrap());
    mismatch(eval.nand(&a, &b), "different keys");
    mismatch(eval.add(&a, &b), "different keys");
    mismatch(bob.decrypt(&a), "different keys");
    // Public constants combine with any key's ciphertexts.
    let one = eval.trivial(true);
    assert!(!alice.decrypt_bit(&eval.nand(&a, &one).unwrap()).unwrap());
    assert!(bob
        .decrypt_bit(&eval.xor(&one, &eval.not(&b).unwrap()).unwrap())
        .unwrap());
    // Another parameter set's evaluator refuses them, even loaded from bytes.
    let q = gsw::GswParams {
        name: "insecure_other".into(),
        ..p.clone()
    };
    assert_eq!(p.rows(), q.rows());
    mismatch(GswEvaluator::new(&q).unwrap().not(&a), "parameter sets");
    mismatch(
        gsw::GswCiphertext::from_bytes(&q, &a.to_bytes()),
        "parameter sets",
    );
}

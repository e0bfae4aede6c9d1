//! The LWE engines against the integer evaluators: bit-exact logits on small random networks
//! (the two-phase form, and the window form as a quantized graph), and refusals for models,
//! keys and messages they cannot take.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{random_two_phase, random_window};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shroud_lwe::bootstrap::presets;
use shroud_nn::engines::{GraphServer, LweClient, TwoPhaseServer};
use shroud_nn::NnError;

/// The two-phase form's inputs as the client's integers.
fn widen(x: &[i32]) -> Vec<i64> {
    x.iter().map(|&v| v.into()).collect()
}

/// Encrypts `x`, runs the server, decrypts: the logits and the bootstraps it reported.
fn encrypted_logits(
    client: &mut LweClient,
    server: &TwoPhaseServer,
    x: &[i32],
) -> (Vec<i64>, usize) {
    let enc = server.encoding();
    let count = AtomicUsize::new(0);
    let logits = server
        .infer(&client.encrypt_input(&enc, &widen(x)).unwrap(), &|n| {
            count.fetch_add(n, Ordering::Relaxed);
        })
        .unwrap();
    (
        client.decrypt_output(&enc, &logits).unwrap(),
        count.into_inner(),
    )
}

#[test]
fn encrypted_logits_equal_the_integer_evaluator() {
    let params = presets::insecure_test();
    let (mut client, key) = LweClient::new(&params).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for seed in 0..3 {
        let model = random_two_phase(2, &[12, 6, 3], 4, seed);
        let server = TwoPhaseServer::new(model.clone(), &key).unwrap();
        assert_eq!(server.bootstraps(), 6 * 4 + 3 * 3);
        for _ in 0..3 {
            let x: Vec<i32> = (0..12).map(|_| rng.gen_range(0..=3)).collect();
            let (logits, count) = encrypted_logits(&mut client, &server, &x);
            assert_eq!(logits, model.logits(&x), "model {seed}, input {x:?}");
            assert_eq!(count, server.bootstraps());
        }
    }
}

#[test]
fn three_bit_networks_with_short_blocks_run_too() {
    let params = presets::insecure_test();
    let (mut client, key) = LweClient::new(&params).unwrap();
    let model = random_two_phase(3, &[6, 4, 2], 1, 9);
    let server = TwoPhaseServer::new(model.clone(), &key).unwrap();
    for x in [[0, 7, 3, 5, 1, 6], [7; 6], [0; 6]] {
        assert_eq!(
            encrypted_logits(&mut client, &server, &x).0,
            model.logits(&x)
        );
    }
}

#[test]
fn what_does_not_fit_is_refused() {
    let params = presets::insecure_test();
    let (mut client, key) = LweClient::new(&params).unwrap();
    // 8-bit phase-one sums of 28 terms span far more than 64 values.
    let wide = random_two_phase(8, &[56, 4, 2], 28, 1);
    assert!(matches!(
        TwoPhaseServer::new(wide, &key),
        Err(NnError::EngineUnsupported { engine: "lwe", .. })
    ));
    let model = random_two_phase(2, &[12, 6, 3], 4, 0);
    assert!(TwoPhaseServer::new(model.clone(), b"junk").is_err());
    let server = TwoPhaseServer::new(model, &key).unwrap();
    let enc = server.encoding();
    // An image of the wrong size, bytes that are not an image, logits read as an image.
    let short = client.encrypt_input(&enc, &[1, 2, 3]).unwrap();
    assert!(matches!(
        server.infer(&short, &|_| {}),
        Err(NnError::Malformed(_))
    ));
    assert!(server.infer(b"junk", &|_| {}).is_err());
    let logits = server
        .infer(&client.encrypt_input(&enc, &[1; 12]).unwrap(), &|_| {})
        .unwrap();
    assert!(server.infer(&logits, &|_| {}).is_err());
    let wrong_count = shroud_nn::engines::Encoding { outputs: 4, ..enc };
    assert!(client.decrypt_output(&wrong_count, &logits).is_err());
    assert!(client.encrypt_input(&enc, &[-1]).is_err());
}

#[test]
fn window_networks_are_bit_exact() {
    let params = presets::insecure_wide_test();
    let (mut client, key) = LweClient::new(&params).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for seed in 0..2 {
        let model = random_window(4, &[20, 6, 5, 3], seed);
        let server = GraphServer::new(model.clone(), &key).unwrap();
        let enc = server.encoding();
        for _ in 0..3 {
            let x: Vec<i64> = (0..20).map(|_| rng.gen_range(0..=15)).collect();
            let count = AtomicUsize::new(0);
            let out = server
                .infer(&client.encrypt_input(&enc, &x).unwrap(), &|n| {
                    count.fetch_add(n, Ordering::Relaxed);
                })
                .unwrap();
            let logits = client.decrypt_output(&enc, &out).unwrap();
            assert_eq!(logits, model.eval(&x).unwrap(), "model {seed}, input {x:?}");
            assert!(count.into_inner() <= server.plan().bootstraps);
        }
    }
}

#[test]
fn window_networks_too_noisy_for_the_key_are_refused() {
    // insecure_test's bootstraps are far noisier than insecure_wide_test's: a 64-input layer
    // of 8-bit weights cannot be kept exact with them.
    let (_, key) = LweClient::new(&presets::insecure_test()).unwrap();
    let model = random_window(8, &[64, 4, 2], 0);
    match GraphServer::new(model, &key) {
        Err(NnError::EngineUnsupported { reason, .. }) => {
            assert!(reason.contains("too noisy"), "{reason}")
        }
        other => panic!("expected a refusal for noise, got {:?}", other.err()),
    }
}

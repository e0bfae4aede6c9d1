//! The LWE engine against the integer evaluator: bit-exact logits on small random networks,
//! and refusals for models, keys and messages it cannot take.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shroud_lwe::bootstrap::presets;
use shroud_nn::mnist::integer::{LayerScales, NeuronParams, QuantizedLayer, QuantizedMlp};
use shroud_nn::mnist::lwe_engine::{LweClient, LweModel, LweServer};
use shroud_nn::mnist::scaling::Rescale;
use shroud_nn::mnist::window::{WindowLayer, WindowMlp, WindowNeuron, WINDOW_BITS};
use shroud_nn::NnError;

/// A random `bits`-bit network with the given layer sizes and block length, its constants
/// drawn over the ranges the quantizer produces (so ReLU, rounding and saturation all occur).
fn random_model(bits: u32, sizes: &[usize], block: usize, seed: u64) -> QuantizedMlp {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let q = (1i64 << (bits - 1)) - 1;
    let layers = sizes
        .windows(2)
        .enumerate()
        .map(|(l, w)| {
            let (inputs, outputs) = (w[0], w[1]);
            let neurons = (0..outputs)
                .map(|_| NeuronParams {
                    block_rescale: Rescale {
                        multiplier: rng.gen_range(1..=7),
                        shift: rng.gen_range(1..=3),
                    },
                    align_shift: rng.gen_range(0..=1),
                    bias: rng.gen_range(-2..=2),
                    output_rescale: Rescale {
                        multiplier: rng.gen_range(1..=7),
                        shift: rng.gen_range(0..=2),
                    },
                })
                .collect();
            QuantizedLayer {
                bits,
                inputs,
                outputs,
                weights: (0..inputs * outputs)
                    .map(|_| rng.gen_range(-q..=q) as i8)
                    .collect(),
                block: block.min(inputs),
                relu: l + 2 < sizes.len(),
                neurons,
                scales: LayerScales {
                    input: 1.0,
                    weight: 1.0,
                    output: 1.0,
                },
            }
        })
        .collect();
    let model = QuantizedMlp { bits, layers };
    model.validate().unwrap();
    model
}

#[test]
fn encrypted_logits_equal_the_integer_evaluator() {
    let params = presets::insecure_test();
    let (mut client, key) = LweClient::new(&params).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for seed in 0..3 {
        let model = random_model(2, &[12, 6, 3], 4, seed);
        let server = LweServer::new(LweModel::TwoPhase(model.clone()), &key).unwrap();
        assert_eq!(server.bootstraps(), 6 * 4 + 3 * 3);
        for _ in 0..3 {
            let x: Vec<i32> = (0..12).map(|_| rng.gen_range(0..=3)).collect();
            let count = std::sync::atomic::AtomicUsize::new(0);
            let enc = server.encoding();
            let logits = server
                .infer(&client.encrypt_image(&enc, &x).unwrap(), &|n| {
                    count.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                })
                .unwrap();
            assert_eq!(
                client.decrypt_logits(&enc, &logits).unwrap(),
                model.logits(&x),
                "model {seed}, input {x:?}"
            );
            assert_eq!(count.into_inner(), server.bootstraps());
        }
    }
}

#[test]
fn three_bit_networks_with_short_blocks_run_too() {
    let params = presets::insecure_test();
    let (mut client, key) = LweClient::new(&params).unwrap();
    let model = random_model(3, &[6, 4, 2], 1, 9);
    let server = LweServer::new(LweModel::TwoPhase(model.clone()), &key).unwrap();
    let enc = server.encoding();
    for x in [[0, 7, 3, 5, 1, 6], [7; 6], [0; 6]] {
        let logits = server
            .infer(&client.encrypt_image(&enc, &x).unwrap(), &|_| {})
            .unwrap();
        assert_eq!(
            client.decrypt_logits(&enc, &logits).unwrap(),
            model.logits(&x)
        );
    }
}

#[test]
fn what_does_not_fit_is_refused() {
    let params = presets::insecure_test();
    let (mut client, key) = LweClient::new(&params).unwrap();
    // 8-bit phase-one sums of 28 terms span far more than 64 values.
    let wide = random_model(8, &[56, 4, 2], 28, 1);
    assert!(matches!(
        LweServer::new(LweModel::TwoPhase(wide), &key),
        Err(NnError::EngineUnsupported { engine: "lwe", .. })
    ));
    let model = random_model(2, &[12, 6, 3], 4, 0);
    assert!(LweServer::new(LweModel::TwoPhase(model.clone()), b"junk").is_err());
    let server = LweServer::new(LweModel::TwoPhase(model), &key).unwrap();
    let enc = server.encoding();
    // An image of the wrong size, bytes that are not an image, logits read as an image.
    let short = client.encrypt_image(&enc, &[1, 2, 3]).unwrap();
    assert!(matches!(
        server.infer(&short, &|_| {}),
        Err(NnError::Malformed(_))
    ));
    assert!(server.infer(b"junk", &|_| {}).is_err());
    let logits = server
        .infer(&client.encrypt_image(&enc, &[1; 12]).unwrap(), &|_| {})
        .unwrap();
    assert!(server.infer(&logits, &|_| {}).is_err());
    let wrong_count = shroud_nn::mnist::lwe_engine::Encoding { outputs: 4, ..enc };
    assert!(client.decrypt_logits(&wrong_count, &logits).is_err());
    assert!(client.encrypt_image(&enc, &[-1]).is_err());
}

/// A random window-form network: weights in `[-Q, Q]`, per-neuron offsets, bucket shifts and
/// non-decreasing tables in `[0, U]`.
fn random_window(bits: u32, sizes: &[usize], seed: u64) -> WindowMlp {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let q = (1i64 << (bits - 1)) - 1;
    let u = (1i64 << bits) - 1;
    let last = sizes.len() - 2;
    let layers = sizes
        .windows(2)
        .enumerate()
        .map(|(l, w)| {
            let (inputs, outputs) = (w[0], w[1]);
            let neurons = (0..outputs)
                .map(|_| {
                    let mut table: Vec<i64> = (0..1 << WINDOW_BITS)
                        .map(|_| rng.gen_range(0..=u))
                        .collect();
                    table.sort();
                    WindowNeuron {
                        offset: rng.gen_range(-40..=40),
                        shift: rng.gen_range(0..=5),
                        table: if l == last { Vec::new() } else { table },
                    }
                })
                .collect();
            WindowLayer {
                inputs,
                outputs,
                weights: (0..inputs * outputs)
                    .map(|_| rng.gen_range(-q..=q) as i8)
                    .collect(),
                neurons,
            }
        })
        .collect();
    let model = WindowMlp {
        bits,
        window_bits: WINDOW_BITS,
        layers,
    };
    model.validate().unwrap();
    model
}

#[test]
fn window_networks_are_bit_exact() {
    let params = presets::insecure_wide_test();
    let (mut client, key) = LweClient::new(&params).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for seed in 0..2 {
        let model = random_window(4, &[20, 6, 5, 3], seed);
        let server = LweServer::new(LweModel::Window(model.clone()), &key).unwrap();
        let enc = server.encoding();
        for _ in 0..3 {
            let x: Vec<i32> = (0..20).map(|_| rng.gen_range(0..=15)).collect();
            let count = std::sync::atomic::AtomicUsize::new(0);
            let logits = server
                .infer(&client.encrypt_image(&enc, &x).unwrap(), &|n| {
                    count.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                })
                .unwrap();
            assert_eq!(
                client.decrypt_logits(&enc, &logits).unwrap(),
                model.logits(&x),
                "model {seed}, input {x:?}"
            );
            assert_eq!(count.into_inner(), server.bootstraps());
        }
    }
}

#[test]
fn window_networks_too_noisy_for_the_key_are_refused() {
    // insecure_test's bootstraps are far noisier than insecure_wide_test's: a 64-input layer
    // of 8-bit weights cannot be kept exact with them.
    let (_, key) = LweClient::new(&presets::insecure_test()).unwrap();
    let model = random_window(8, &[64, 4, 2], 0);
    assert!(matches!(
        LweServer::new(LweModel::Window(model), &key),
        Err(NnError::EngineUnsupported { engine: "lwe", .. })
    ));
}

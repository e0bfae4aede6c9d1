//! The bit-list engine against the integer evaluator: the two-phase network as one circuit of
//! encrypted bits, on clear bits (every path, many inputs) and on bootstrapped gates.

mod common;

use common::random_two_phase;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shroud_bits::backends::Clear;
use shroud_bits::{BitKey, EncInt, Evaluator, Gates};
use shroud_lwe::bootstrap::presets;
use shroud_nn::engines::bits::{gate_count, input_format, logits, BitsClient, BitsServer};
use shroud_nn::quant::two_phase::QuantizedMlp;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Encrypts `x` bit by bit with `key`, runs the network's circuit on `ev`, decrypts.
fn circuit_logits<B, K>(ev: &Evaluator<B>, key: &mut K, model: &QuantizedMlp, x: &[i32]) -> Vec<i64>
where
    B: Gates,
    K: BitKey<Bit = B::Bit>,
{
    let f = input_format(model).unwrap();
    let enc: Vec<_> = x
        .iter()
        .map(|&v| EncInt::encrypt(key, v as i64, f).unwrap())
        .collect();
    logits(ev, model, &enc)
        .unwrap()
        .iter()
        .map(|y| y.decrypt(key).unwrap())
        .collect()
}

#[test]
fn circuits_on_clear_bits_equal_the_integer_evaluator() {
    // Tiny 2-bit networks mostly saturate; these seeds give ones that do not.
    for (seed, bits) in [(3, 2), (6, 2), (0, 3), (2, 3), (2, 4), (3, 8)] {
        let mut rng = ChaCha8Rng::seed_from_u64(100 + seed);
        let model = random_two_phase(bits, &[12, 6, 4], 3, seed);
        let u = (1i32 << bits) - 1;
        let mut key = Clear::new();
        let ev = Evaluator::new(Clear::new());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..12 {
            let x: Vec<i32> = (0..12).map(|_| rng.gen_range(0..=u)).collect();
            let got = circuit_logits(&ev, &mut key, &model, &x);
            assert_eq!(got, model.logits(&x), "{bits} bits, input {x:?}");
            seen.insert(got);
        }
        assert!(
            seen.len() >= 3,
            "{bits} bits: the random network hardly depends on its input"
        );
    }
}

#[test]
fn bootstrapped_gates_classify_like_the_integer_evaluator() {
    // Client and server apart, through bytes, on bootstrapped gates.
    let model = random_two_phase(3, &[4, 3, 2], 2, 4);
    let gates = gate_count(&model).unwrap();
    assert!(gates > 100);
    let (mut client, evaluation_key) = BitsClient::new(&presets::insecure_test()).unwrap();
    let server = BitsServer::new(model.clone(), &evaluation_key).unwrap();
    assert_eq!(server.bootstraps(), gates);
    let encoding = server.encoding();
    let x = [7, 0, 5, 2];
    let upload = client.encrypt_image(&encoding, &x).unwrap();
    let reported = AtomicUsize::new(0);
    let download = server
        .infer(&upload, &|n| {
            reported.fetch_add(n, Ordering::Relaxed);
        })
        .unwrap();
    assert_eq!(reported.into_inner() as u64, gates);
    assert_eq!(
        client.decrypt_logits(&encoding, &download).unwrap(),
        model.logits(&x)
    );
    // An image is not logits, and a truncated message is refused.
    assert!(client.decrypt_logits(&encoding, &upload).is_err());
    assert!(server.infer(&upload[..upload.len() / 2], &|_| {}).is_err());
    assert!(client.encrypt_image(&encoding, &x[..3]).is_err());
}

#[test]
fn inputs_of_the_wrong_shape_are_refused() {
    let model = random_two_phase(3, &[4, 2], 2, 0);
    let mut key = Clear::new();
    let ev = Evaluator::new(Clear::new());
    let f = input_format(&model).unwrap();
    let short: Vec<_> = (0..3)
        .map(|_| EncInt::encrypt(&mut key, 1, f).unwrap())
        .collect();
    assert!(logits(&ev, &model, &short).is_err());
}

//! The bit-list engine against the integer evaluator: the two-phase network as one circuit of
//! encrypted bits, on clear bits (every path, many inputs) and on bootstrapped gates.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shroud_bits::backends::{Bootstrapped, Clear};
use shroud_bits::{EncInt, Evaluator};
use shroud_lwe::bootstrap::{presets, ClientKey};
use shroud_nn::mnist::bits_engine::{gate_count, input_format, logits};
use shroud_nn::mnist::integer::{LayerScales, NeuronParams, QuantizedLayer, QuantizedMlp};
use shroud_nn::mnist::scaling::Rescale;

/// A random `bits`-bit two-phase network with constants as the quantizer would choose them
/// (typical block sums and outputs scaled to fill their ranges, the widest saturating), times
/// a random factor in [0.6, 1.6) so that rounding, saturation, ReLU and biases of both signs
/// all occur.
fn random_model(bits: u32, sizes: &[usize], block: usize, seed: u64) -> QuantizedMlp {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let q = (1i64 << (bits - 1)) - 1;
    let u = (1i64 << bits) - 1;
    let identity = Rescale {
        multiplier: 1,
        shift: 0,
    };
    let layers = sizes
        .windows(2)
        .enumerate()
        .map(|(l, w)| {
            let (inputs, outputs) = (w[0], w[1]);
            let mut layer = QuantizedLayer {
                bits,
                inputs,
                outputs,
                weights: (0..inputs * outputs)
                    .map(|_| rng.gen_range(-q..=q) as i8)
                    .collect(),
                block: block.min(inputs),
                relu: l + 2 < sizes.len(),
                neurons: vec![
                    NeuronParams {
                        block_rescale: identity,
                        align_shift: 0,
                        bias: 0,
                        output_rescale: identity,
                    };
                    outputs
                ],
                scales: LayerScales {
                    input: 1.0,
                    weight: 1.0,
                    output: 1.0,
                },
            };
            for k in 0..outputs {
                let widest = (0..layer.blocks())
                    .map(|j| {
                        let r = layer.partial_range(k, j);
                        r.lo.abs().max(r.hi.abs())
                    })
                    .max()
                    .unwrap_or(1)
                    .max(1);
                // Typical sums are a fraction of the widest possible one.
                let factor = 4.0 * q as f64 / widest as f64 * rng.gen_range(0.6..1.6);
                layer.neurons[k].block_rescale = Rescale::approximate(factor, 8);
                layer.neurons[k].align_shift = rng.gen_range(0..=1);
                layer.neurons[k].bias = rng.gen_range(-2..=2);
                let z = layer.aligned_range(k);
                let top = z.lo.abs().max(z.hi.abs()).max(1);
                let factor = 3.0 * u as f64 / top as f64 * rng.gen_range(0.6..1.6);
                layer.neurons[k].output_rescale = Rescale::approximate(factor, 8);
            }
            layer
        })
        .collect();
    let model = QuantizedMlp { bits, layers };
    model.validate().unwrap();
    model
}

#[test]
fn circuits_on_clear_bits_equal_the_integer_evaluator() {
    // Tiny 2-bit networks mostly saturate; these seeds give ones that do not.
    for (seed, bits) in [(3, 2), (6, 2), (0, 3), (2, 3), (2, 4), (3, 8)] {
        let mut rng = ChaCha8Rng::seed_from_u64(100 + seed);
        let model = random_model(bits, &[12, 6, 4], 3, seed);
        let u = (1i32 << bits) - 1;
        let f = input_format(&model).unwrap();
        let mut key = Clear::new();
        let ev = Evaluator::new(Clear::new());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..12 {
            let x: Vec<i32> = (0..12).map(|_| rng.gen_range(0..=u)).collect();
            let enc: Vec<_> = x
                .iter()
                .map(|&v| EncInt::encrypt(&mut key, v as i64, f).unwrap())
                .collect();
            let got: Vec<i64> = logits(&ev, &model, &enc)
                .unwrap()
                .iter()
                .map(|y| y.decrypt(&key).unwrap())
                .collect();
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
    let model = random_model(3, &[4, 3, 2], 2, 4);
    let gates = gate_count(&model).unwrap();
    assert!(gates > 100);
    let mut client = ClientKey::from_seed(&presets::insecure_test(), 2).unwrap();
    let ev = Evaluator::new(Bootstrapped::new(client.server_key()));
    let f = input_format(&model).unwrap();
    let x = [7, 0, 5, 2];
    let enc: Vec<_> = x
        .iter()
        .map(|&v| EncInt::encrypt(&mut client, v as i64, f).unwrap())
        .collect();
    let got: Vec<i64> = logits(&ev, &model, &enc)
        .unwrap()
        .iter()
        .map(|y| y.decrypt(&client).unwrap())
        .collect();
    assert_eq!(got, model.logits(&x));
    assert_eq!(ev.backend().server_key().counts().bootstraps, gates);
}

#[test]
fn inputs_of_the_wrong_shape_are_refused() {
    let model = random_model(3, &[4, 2], 2, 0);
    let mut key = Clear::new();
    let ev = Evaluator::new(Clear::new());
    let f = input_format(&model).unwrap();
    let short: Vec<_> = (0..3)
        .map(|_| EncInt::encrypt(&mut key, 1, f).unwrap())
        .collect();
    assert!(logits(&ev, &model, &short).is_err());
}

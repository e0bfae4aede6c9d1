//! Random networks for the engine tests: the two-phase form and the window form (a quantized
//! graph) with constants that make every step of their evaluators matter.

// Each test binary uses part of this module.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shroud_nn::graph::Shape;
use shroud_nn::quant::scaling::Rescale;
use shroud_nn::quant::two_phase::{LayerScales, NeuronParams, QuantizedLayer, QuantizedMlp};
use shroud_nn::quant::{InputQuantization, QNode, QOp, QuantizedGraph, WindowChannel, WINDOW_BITS};

/// A random `bits`-bit two-phase network with constants as the quantizer would choose them
/// (typical block sums and outputs scaled to fill their ranges, the widest saturating), times
/// a random factor in [0.6, 1.6) so that rounding, saturation, ReLU and biases of both signs
/// all occur.
pub fn random_two_phase(bits: u32, sizes: &[usize], block: usize, seed: u64) -> QuantizedMlp {
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

/// A random dense ReLU network in the window form, as a quantized graph: weights in
/// `[-Q, Q]`, biases of both signs, per-neuron bucket shifts and non-decreasing tables in
/// `[0, U]`.
pub fn random_window(bits: u32, sizes: &[usize], seed: u64) -> QuantizedGraph {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let q = (1i64 << (bits - 1)) - 1;
    let u = (1i64 << bits) - 1;
    let last = sizes.len() - 2;
    let mut nodes = Vec::new();
    for (l, w) in sizes.windows(2).enumerate() {
        let (inputs, outputs) = (w[0], w[1]);
        nodes.push(QNode {
            name: format!("dense{l}"),
            op: QOp::Dense {
                inputs,
                outputs,
                weights: (0..inputs * outputs)
                    .map(|_| rng.gen_range(-q..=q) as i8)
                    .collect(),
                bias: (0..outputs).map(|_| rng.gen_range(-40..=40)).collect(),
            },
            inputs: vec![nodes.len()],
        });
        if l == last {
            break;
        }
        let channels = (0..outputs)
            .map(|_| {
                let mut table: Vec<i64> = (0..1 << WINDOW_BITS)
                    .map(|_| rng.gen_range(0..=u))
                    .collect();
                table.sort();
                let shift = rng.gen_range(0..=5);
                WindowChannel {
                    offset: if shift > 0 { 1 << (shift - 1) } else { 0 },
                    shift,
                    table,
                }
            })
            .collect();
        nodes.push(QNode {
            name: format!("relu{l}"),
            op: QOp::Window { channels },
            inputs: vec![nodes.len()],
        });
    }
    let model = QuantizedGraph {
        bits,
        input: InputQuantization {
            shape: Shape::Vector(sizes[0]),
            preprocess: None,
            unit: vec![1.0 / u as f64; sizes[0]],
            zero: vec![0; sizes[0]],
        },
        nodes,
        output_unit: 1.0,
        softmax: false,
    };
    model.validate().unwrap();
    model
}

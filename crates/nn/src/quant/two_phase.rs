//! The integer evaluator: the quantized network as the encrypted engines compute it.
//!
//! Every value is an integer; real scalars exist only on paper (in [`LayerScales`]) and never
//! enter the computation. The operations are additions, products by plaintext integers,
//! [`round_shift`] (add a constant, drop low bits), ReLU and saturation to a clear interval.
//! With `N` bits, `Q = 2^(N-1) - 1` and `U = 2^N - 1`. Layer inputs (the image, and every
//! hidden activation, which follows a ReLU) are unsigned `N`-bit integers in `[0, U]`;
//! weights are signed, in `[-Q, Q]`. Neuron `k` of a layer with `n` inputs `x`, blocks of `B`
//! consecutive inputs (`nb = ceil(n / B)` blocks, the last one possibly shorter) computes:
//!
//! 1. phase one, for each block `j`: `p[k][j] = sum over i in block j of W[k][i] * x[i]`;
//! 2. block secure scale: `u[k][j] = clamp(round_shift(p[k][j] * m1[k], s1[k]), -Q, Q)`;
//! 3. phase two: `a[k] = sum over j of u[k][j]`;
//! 4. aligned bias addition: `z[k] = round_shift(round_shift(a[k], e[k]) + beta[k], 1)` (the
//!    accumulator is brought to the bias's scalar, `2^e[k]` times its own, then both operands
//!    are halved so that the sum stays in the accumulator's range);
//! 5. output secure scale: hidden layers
//!    `y[k] = clamp(round_shift(max(z[k], 0) * m2[k], s2[k]), 0, U)` (ReLU, then the output
//!    scaling layer); the last layer `y[k] = round_shift(z[k] * m2[k], s2[k])`, and the class
//!    is the index of the largest `y[k]`, the lowest index on ties.
//!
//! The secure scales `(m, s)` are per neuron: each neuron's block sums get the whole `N`-bit
//! range whatever its magnitude, and step 5 brings every neuron of a layer to one common unit,
//! the one the next layer's weights expect (or, for the logits, one the classes compare in).
//!
//! The intervals each accumulator can take, for any input in range, are exposed
//! ([`QuantizedLayer::partial_range`], [`QuantizedLayer::sum_range`],
//! [`QuantizedLayer::aligned_range`]): an engine sizes its registers or its bootstrap's
//! message space from them. Steps 2 and 4-5 are functions of one accumulator
//! ([`QuantizedLayer::block_output`], [`QuantizedLayer::neuron_output`]), so an LWE engine can
//! tabulate them as lookup tables over those intervals, one pair of tables per neuron.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::levels::{argmax, signed_max, unsigned_max, Interval};
use super::scaling::{round_shift, Rescale};
use crate::datasets::mnist::MnistSet;
use crate::NnError;

/// Aligned addition of a fine accumulator and a coarse operand whose unit is `2^shift` of the
/// accumulator's: the accumulator is rounded to the coarse unit, then the sum is halved (its
/// unit doubles) so that it stays within the larger operand's range.
pub fn aligned_add(fine: i64, shift: u32, coarse: i64) -> i64 {
    round_shift(round_shift(fine, shift) + coarse, 1)
}

/// The real value of one integer unit where it is the same for the whole layer
/// (documentation and dequantization only; the evaluator never reads them).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerScales {
    /// Of the layer's inputs `x`.
    pub input: f64,
    /// Of the weights `W`.
    pub weight: f64,
    /// Of `y`, the common unit step 5 brings every neuron to.
    pub output: f64,
}

/// The per-neuron constants of steps 2, 4 and 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeuronParams {
    /// `(m1, s1)`.
    pub block_rescale: Rescale,
    /// `e`.
    pub align_shift: u32,
    /// `beta`.
    pub bias: i64,
    /// `(m2, s2)`.
    pub output_rescale: Rescale,
}

/// One fully connected layer in integers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantizedLayer {
    /// `N`, the network's bit width (the same in every layer).
    pub bits: u32,
    /// Number of inputs `n`.
    pub inputs: usize,
    /// Number of neurons (outputs).
    pub outputs: usize,
    /// `outputs x inputs`, row-major, in `[-Q, Q]`.
    pub weights: Vec<i8>,
    /// Inputs per phase-one block.
    pub block: usize,
    /// Whether step 5 applies ReLU and saturation (hidden layers) or not (the logits).
    pub relu: bool,
    /// The constants of each neuron, one per output.
    pub neurons: Vec<NeuronParams>,
    /// The real units of the layer's integers (not used by the evaluator).
    pub scales: LayerScales,
}

/// Grey levels `0..=255` to `N`-bit inputs: `round(g * U / 255)`, ties up.
pub fn quantize_pixels(bits: u32, pixels: &[u8]) -> Vec<i32> {
    let u = unsigned_max(bits) as i32;
    pixels
        .iter()
        .map(|&g| (2 * g as i32 * u + 255) / 510)
        .collect()
}

impl QuantizedLayer {
    /// Number of phase-one blocks, `nb = ceil(n / B)`.
    pub fn blocks(&self) -> usize {
        self.inputs.div_ceil(self.block)
    }

    /// The inputs of block `j`.
    pub fn block_span(&self, j: usize) -> std::ops::Range<usize> {
        j * self.block..((j + 1) * self.block).min(self.inputs)
    }

    /// The weights of neuron `k`.
    pub fn row(&self, k: usize) -> &[i8] {
        &self.weights[k * self.inputs..(k + 1) * self.inputs]
    }

    /// Step 1.
    pub fn partial(&self, k: usize, j: usize, x: &[i32]) -> i64 {
        let span = self.block_span(j);
        // In i32, which vectorizes best: validation bounds |p| below 2^31.
        let p: i32 = self.row(k)[span.clone()]
            .iter()
            .zip(&x[span])
            .map(|(&w, x)| w as i32 * x)
            .sum();
        p as i64
    }

    /// Step 2.
    pub fn block_output(&self, k: usize, p: i64) -> i64 {
        let q = signed_max(self.bits);
        self.neurons[k].block_rescale.apply(p).clamp(-q, q)
    }

    /// Steps 1-3: the two-phase dot product of row `k` and `x`.
    pub fn accumulate(&self, k: usize, x: &[i32]) -> i64 {
        (0..self.blocks())
            .map(|j| self.block_output(k, self.partial(k, j, x)))
            .sum()
    }

    /// Step 4.
    pub fn aligned(&self, k: usize, a: i64) -> i64 {
        let n = &self.neurons[k];
        aligned_add(a, n.align_shift, n.bias)
    }

    /// Step 5.
    pub fn activate(&self, k: usize, z: i64) -> i64 {
        let r = self.neurons[k].output_rescale;
        if self.relu {
            r.apply(z.max(0)).clamp(0, unsigned_max(self.bits))
        } else {
            r.apply(z)
        }
    }

    /// Steps 4-5: the layer's output for neuron `k` from its accumulator `a[k]`.
    pub fn neuron_output(&self, k: usize, a: i64) -> i64 {
        self.activate(k, self.aligned(k, a))
    }

    /// The real value of one unit of `z[k]`.
    pub fn aligned_unit(&self, k: usize) -> f64 {
        let n = &self.neurons[k];
        self.scales.input * self.scales.weight / n.block_rescale.factor()
            * 2f64.powi(n.align_shift as i32 + 1)
    }

    /// Steps 1-5 for every neuron: the layer's outputs `y` for the inputs `x`.
    pub fn eval(&self, x: &[i32]) -> Vec<i64> {
        (0..self.outputs)
            .map(|k| self.neuron_output(k, self.accumulate(k, x)))
            .collect()
    }

    /// Every value `p[k][j]` can take for inputs in `[0, U]`.
    pub fn partial_range(&self, k: usize, j: usize) -> Interval {
        let u = unsigned_max(self.bits);
        let w = &self.row(k)[self.block_span(j)];
        Interval {
            lo: u * w.iter().filter(|&&v| v < 0).map(|&v| v as i64).sum::<i64>(),
            hi: u * w.iter().filter(|&&v| v > 0).map(|&v| v as i64).sum::<i64>(),
        }
    }

    /// Every value `a[k]` can take (at most `nb * Q` in magnitude).
    pub fn sum_range(&self, k: usize) -> Interval {
        (0..self.blocks())
            .map(|j| self.partial_range(k, j).map(|p| self.block_output(k, p)))
            .fold(Interval { lo: 0, hi: 0 }, |s, r| Interval {
                lo: s.lo + r.lo,
                hi: s.hi + r.hi,
            })
    }

    /// Every value `z[k]` can take.
    pub fn aligned_range(&self, k: usize) -> Interval {
        self.sum_range(k).map(|a| self.aligned(k, a))
    }

    /// Every value `y[k]` can take.
    pub fn output_range(&self, k: usize) -> Interval {
        self.aligned_range(k).map(|z| self.activate(k, z))
    }

    /// The hull over the layer's neurons (and blocks) of each value's range.
    pub fn ranges(&self) -> LayerRanges {
        let mut r = LayerRanges {
            partial: self.partial_range(0, 0),
            sum: self.sum_range(0),
            aligned: self.aligned_range(0),
            output: self.output_range(0),
        };
        for k in 0..self.outputs {
            for j in 0..self.blocks() {
                r.partial = r.partial.hull(self.partial_range(k, j));
            }
            r.sum = r.sum.hull(self.sum_range(k));
            r.aligned = r.aligned.hull(self.aligned_range(k));
            r.output = r.output.hull(self.output_range(k));
        }
        r
    }

    fn validate(&self, bits: u32) -> Result<(), String> {
        let q = signed_max(bits) as i32;
        if self.bits != bits {
            return Err(format!(
                "layer of {} bits in a {bits}-bit network",
                self.bits
            ));
        }
        if self.inputs == 0 || self.outputs == 0 || self.block == 0 || self.block > self.inputs {
            return Err("empty layer or block size out of range".into());
        }
        if Some(self.weights.len()) != self.inputs.checked_mul(self.outputs)
            || self.neurons.len() != self.outputs
        {
            return Err("weight or neuron count does not match the shape".into());
        }
        if self.weights.iter().any(|&w| (w as i32).abs() > q) {
            return Err(format!("weights outside [-{q}, {q}]"));
        }
        let rescale_ok = |r: Rescale| r.multiplier >= 1 && r.multiplier <= 1 << 24 && r.shift <= 40;
        if self.neurons.iter().any(|n| {
            !rescale_ok(n.block_rescale)
                || !rescale_ok(n.output_rescale)
                || n.align_shift > 40
                // With |a| < 2^35 (a 256 MB file holds fewer than 2^28 weights, each block
                // output is at most 127), |z| < 2^37 and z m2 < 2^61: nothing can wrap.
                || n.bias.unsigned_abs() > 1 << 36
        }) {
            return Err("rescale, alignment or bias out of range".into());
        }
        // Phase-one sums are computed in i32; everything after stays far inside i64.
        if unsigned_max(bits) as i128 * q as i128 * self.block as i128 >= 1 << 31 {
            return Err("blocks too long for 32-bit phase-one sums".into());
        }
        Ok(())
    }
}

/// Ranges of a layer's accumulators, over all its neurons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerRanges {
    /// `p`, phase one.
    pub partial: Interval,
    /// `a`, phase two.
    pub sum: Interval,
    /// `z`, after the bias.
    pub aligned: Interval,
    /// `y`, the layer's output.
    pub output: Interval,
}

/// The quantized network: its layers, from the image to the ten logits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantizedMlp {
    /// `N`, from 2 to 8: inputs and activations in `[0, U]`, weights in `[-Q, Q]`.
    pub bits: u32,
    /// The layers in order: hidden layers with ReLU, then the logits without.
    pub layers: Vec<QuantizedLayer>,
}

impl QuantizedMlp {
    /// Checks what deserialization cannot: shapes chain, values are in range, sums fit.
    pub fn validate(&self) -> Result<(), NnError> {
        let bad = |reason: String| NnError::InvalidConfig(format!("quantized model: {reason}"));
        if !(2..=8).contains(&self.bits) || self.layers.is_empty() {
            return Err(bad(format!(
                "{} bits, {} layers",
                self.bits,
                self.layers.len()
            )));
        }
        for (l, layer) in self.layers.iter().enumerate() {
            layer
                .validate(self.bits)
                .map_err(|e| bad(format!("layer {l}: {e}")))?;
            let last = l + 1 == self.layers.len();
            if last == layer.relu {
                return Err(bad(format!(
                    "layer {l}: hidden layers have a ReLU, the last has none"
                )));
            }
            if let Some(next) = self.layers.get(l + 1) {
                if next.inputs != layer.outputs {
                    return Err(bad(format!("layer {l} does not feed layer {}", l + 1)));
                }
            }
        }
        Ok(())
    }

    /// An image's grey levels (`0..=255`) as the network's `N`-bit inputs
    /// ([`quantize_pixels`]).
    pub fn quantize_image(&self, pixels: &[u8]) -> Vec<i32> {
        quantize_pixels(self.bits, pixels)
    }

    /// The last layer's outputs `y` for an already quantized input.
    pub fn logits(&self, x: &[i32]) -> Vec<i64> {
        let mut a: Vec<i32> = x.to_vec();
        // A validated model has layers; an empty one has no logits.
        let Some((last, hidden)) = self.layers.split_last() else {
            return Vec::new();
        };
        for layer in hidden {
            // Hidden outputs are in [0, U], U < 2^8.
            a = layer.eval(&a).into_iter().map(|v| v as i32).collect();
        }
        last.eval(&a)
    }

    /// The digit predicted for an image's grey levels: the class of the largest logit, the
    /// lowest on ties.
    pub fn predict(&self, pixels: &[u8]) -> u8 {
        argmax(&self.logits(&self.quantize_image(pixels))) as u8
    }

    /// Predictions for every image of the set, in parallel.
    pub fn predict_set(&self, set: &MnistSet) -> Vec<u8> {
        (0..set.len())
            .into_par_iter()
            .map(|i| self.predict(set.image(i)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two inputs per block, 4 bits (Q = 7, U = 15); the second neuron differs from the first
    /// in its alignment and bias.
    fn layer(relu: bool, output_rescale: Rescale) -> QuantizedLayer {
        let neuron = |align_shift, bias| NeuronParams {
            block_rescale: Rescale {
                multiplier: 3,
                shift: 4,
            },
            align_shift,
            bias,
            output_rescale,
        };
        QuantizedLayer {
            bits: 4,
            inputs: 5,
            outputs: 2,
            weights: vec![3, -2, 7, 1, -7, /**/ 0, 1, -1, 0, 2],
            block: 2,
            relu,
            neurons: vec![neuron(1, -3), neuron(0, 2)],
            scales: LayerScales {
                input: 1.0,
                weight: 1.0,
                output: 1.0,
            },
        }
    }

    const IDENTITY: Rescale = Rescale {
        multiplier: 1,
        shift: 0,
    };

    #[test]
    fn two_phase_product_by_hand() {
        let l = layer(false, IDENTITY);
        let x = [15, 4, 10, 9, 2];
        // Neuron 0, blocks (45 - 8) = 37, (70 + 9) = 79, -14.
        assert_eq!(
            (0..3).map(|j| l.partial(0, j, &x)).collect::<Vec<_>>(),
            vec![37, 79, -14]
        );
        // * 3 / 16 rounded: 111 -> 7 (6.94), 237 -> 15 (14.8) clamped to 7, -42 -> -3 (-2.6).
        assert_eq!(l.block_output(0, 37), 7);
        assert_eq!(l.block_output(0, 79), 7);
        assert_eq!(l.block_output(0, -14), -3);
        assert_eq!(l.accumulate(0, &x), 11);
        // Aligned with beta = -3 two units up: (round(11 / 2) = 6) - 3 = 3, halved: 2 (1.5 up).
        assert_eq!(l.aligned(0, 11), 2);
        assert_eq!(l.eval(&x)[0], 2);
        // Neuron 1: blocks 4, -10, 4 -> 1 (0.75), -2 (-1.875), 1 -> a = 0; (0 + 2) / 2 = 1.
        assert_eq!(l.eval(&x), vec![2, 1]);
    }

    #[test]
    fn aligned_addition_by_hand() {
        assert_eq!(aligned_add(10, 0, 4), 7); // (10 + 4) / 2
        assert_eq!(aligned_add(10, 2, 4), 4); // round(10 / 4) = 3 (2.5 up); (3 + 4) / 2 = 3.5 up
        assert_eq!(aligned_add(-10, 2, -4), -3); // round(-2.5) = -2; (-6) / 2
        assert_eq!(aligned_add(7, 1, -5), 0); // round(3.5) = 4; 4 - 5 = -1, halved -0.5 rounds up to 0
    }

    #[test]
    fn relu_and_output_scale_saturate_to_n_bits() {
        let l = layer(
            true,
            Rescale {
                multiplier: 5,
                shift: 1,
            },
        );
        // z = aligned(a): a = 11 -> 2 -> 2 * 5 / 2 = 5; a = 100 -> (50 - 3 + 1) >> 1 = 24 -> 60,
        // clamped to U = 15; a = -20 -> (-10 - 3 + 1) >> 1 = -6 -> ReLU 0.
        assert_eq!(l.neuron_output(0, 11), 5);
        assert_eq!(l.neuron_output(0, 100), 15);
        assert_eq!(l.neuron_output(0, -20), 0);
        // The logits are rescaled too, but neither rectified nor saturated: -5 * 3 / 2 = -7.5
        // rounds up to -7, 20 * 3 / 2 = 30.
        let logits = layer(
            false,
            Rescale {
                multiplier: 3,
                shift: 1,
            },
        );
        assert_eq!((logits.activate(0, -5), logits.activate(0, 20)), (-7, 30));
    }

    #[test]
    fn ranges_hold_every_reachable_accumulator() {
        let l = layer(false, IDENTITY);
        // Neuron 0, block 0: weights (3, -2) on [0, 15]: p in [-30, 45].
        assert_eq!(l.partial_range(0, 0), Interval { lo: -30, hi: 45 });
        // Blocks: [-30, 45] -> [-6, 7]; (7, 1) -> [0, 120] -> [0, 7]; (-7) -> [-105, 0] -> [-7, 0].
        assert_eq!(l.sum_range(0), Interval { lo: -13, hi: 14 });
        // -13 -> round(-6.5) = -6, (-6 - 3) / 2 = -4.5 -> -4; 14 -> 7, (7 - 3) / 2 = 2.
        assert_eq!(l.aligned_range(0), Interval { lo: -4, hi: 2 });
        // Exhaustively on a grid of inputs.
        let r = l.ranges();
        for a in (0..=15).step_by(3) {
            for b in (0..=15).step_by(5) {
                let x = [a, b, 15 - a, b, a / 2];
                for k in 0..2 {
                    for j in 0..3 {
                        assert!(l.partial_range(k, j).contains(l.partial(k, j, &x)));
                    }
                    let acc = l.accumulate(k, &x);
                    assert!(l.sum_range(k).contains(acc) && r.sum.contains(acc));
                    assert!(r.aligned.contains(l.aligned(k, acc)));
                }
            }
        }
        assert_eq!(Interval { lo: -13, hi: 14 }.bits(), 5);
        assert_eq!(Interval { lo: -16, hi: 15 }.bits(), 5);
        assert_eq!(Interval { lo: 0, hi: 16 }.bits(), 6);
    }

    #[test]
    fn validation_refuses_inconsistent_models() {
        let good = QuantizedMlp {
            bits: 4,
            layers: vec![layer(false, IDENTITY)],
        };
        good.validate().unwrap();
        let mut bad = good.clone();
        bad.layers[0].weights[0] = 8;
        assert!(bad.validate().is_err());
        let mut bad = good.clone();
        bad.layers[0].relu = true;
        assert!(bad.validate().is_err());
        let mut bad = good.clone();
        bad.layers[0].neurons.pop();
        assert!(bad.validate().is_err());
        let mut bad = good;
        bad.bits = 9;
        assert!(bad.validate().is_err());
    }
}

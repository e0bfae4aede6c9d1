//! The window form of a quantized network: one nonlinearity per neuron, shaped for
//! bootstrapped LWE.
//!
//! The two-phase form ([`super::integer`]) bounds every accumulator by rescaling each block of
//! a dot product, which suits bit-level circuits but costs an LWE engine one wide lookup per
//! block (tens of thousands per image). Here the whole dot product is accumulated exactly (an
//! LWE sum holds 15-20 bits as easily as 6) and each hidden neuron applies a single function:
//!
//! 1. `v[k] = sum_i W[k][i] * x[i] + c[k]` (weights in `[-Q, Q]`, inputs in `[0, U]`);
//! 2. hidden layers: `t[k] = v[k] >> r[k]` (floor), `y[k] = T[k][clamp(t[k], 0, 2^w - 1)]`;
//!    the last layer: `y[k] = v[k]`, and the class is the largest `y[k]`, lowest index on ties.
//!
//! `c[k]` is the bias in accumulator units plus the rounding half of `2^r[k]`, so `t[k]` is
//! the pre-activation rounded to one of `2^w` buckets of width `2^r[k]`; the table `T[k]`
//! (ReLU at bucket 0, per-neuron scale, saturation at `U`) maps buckets to the layer's common
//! output unit. An engine removes the `r[k]` low bits exactly and looks the window up: see
//! `shroud_lwe::bootstrap::ServerKey::clamped_table`.
//!
//! Built by post-training quantization from a float model: alternating-projection weights per
//! matrix, and per neuron the bucket width from the largest pre-activation met on
//! calibration images (the running maximum of the scaling layers, with `rho = 0`).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::idx::MnistSet;
use super::integer::{quantize_pixels, signed_max, unsigned_max, Interval};
use super::model::FloatMlp;
use super::projection::alternating_projection;
use crate::NnError;

/// Window bits `w` of the hidden layers: 8 buckets. One more bit (a saturation flag) and the
/// padding bit make the 5-bit message of `shroud_lwe` presets' 4-bit tables.
pub const WINDOW_BITS: u32 = 3;

/// One neuron's constants: its offset, and for a hidden neuron its bucket width and table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowNeuron {
    /// `c`: bias and rounding, in accumulator units.
    pub offset: i64,
    /// `r`: the bucket width is `2^r` accumulator units.
    pub shift: u32,
    /// `T`, `2^w` entries in `[0, U]`; empty in the last layer.
    pub table: Vec<i64>,
}

/// One fully connected layer in the window form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowLayer {
    /// Number of inputs.
    pub inputs: usize,
    /// Number of neurons (outputs).
    pub outputs: usize,
    /// `outputs x inputs`, row-major, in `[-Q, Q]`.
    pub weights: Vec<i8>,
    /// The constants of each neuron, one per output.
    pub neurons: Vec<WindowNeuron>,
}

/// A quantized network in the window form: its layers, from the image to the logits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowMlp {
    /// `N`, from 2 to 8: inputs and table entries in `[0, U]`, weights in `[-Q, Q]`.
    pub bits: u32,
    /// `w`: each hidden neuron's table has `2^w` entries ([`WINDOW_BITS`] when built by
    /// [`quantize_window`]; at most 8).
    pub window_bits: u32,
    /// The layers in order: hidden layers with tables, then the logits without.
    pub layers: Vec<WindowLayer>,
}

impl WindowLayer {
    /// The weights of neuron `k`.
    pub fn row(&self, k: usize) -> &[i8] {
        &self.weights[k * self.inputs..(k + 1) * self.inputs]
    }

    /// Step 1.
    pub fn accumulate(&self, k: usize, x: &[i32]) -> i64 {
        let p: i64 = self
            .row(k)
            .iter()
            .zip(x)
            .map(|(&w, &x)| w as i64 * x as i64)
            .sum();
        p + self.neurons[k].offset
    }

    /// Step 2 of a hidden neuron.
    pub fn activate(&self, k: usize, v: i64) -> i64 {
        let n = &self.neurons[k];
        let top = n.table.len() as i64 - 1;
        n.table[(v >> n.shift).clamp(0, top) as usize]
    }

    /// Every value `v[k]` can take for inputs in `[0, U]`.
    pub fn range(&self, k: usize, bits: u32) -> Interval {
        let u = unsigned_max(bits);
        let (neg, pos) = self.row(k).iter().fold((0i64, 0i64), |(n, p), &w| {
            let w = w as i64;
            (n + w.min(0), p + w.max(0))
        });
        let c = self.neurons[k].offset;
        Interval {
            lo: u * neg + c,
            hi: u * pos + c,
        }
    }
}

impl WindowMlp {
    /// Checks what deserialization cannot: bit widths in range, weights and tables within
    /// their levels, table sizes, and shapes that chain.
    pub fn validate(&self) -> Result<(), NnError> {
        let bad = |reason: String| NnError::InvalidConfig(format!("window model: {reason}"));
        if !(2..=8).contains(&self.bits) || self.layers.is_empty() || self.window_bits > 8 {
            return Err(bad(format!(
                "{} bits, {} layers",
                self.bits,
                self.layers.len()
            )));
        }
        let q = signed_max(self.bits) as i32;
        let u = unsigned_max(self.bits);
        for (l, layer) in self.layers.iter().enumerate() {
            let last = l + 1 == self.layers.len();
            let table_len = if last { 0 } else { 1 << self.window_bits };
            if layer.inputs == 0
                || Some(layer.weights.len()) != layer.inputs.checked_mul(layer.outputs)
                || layer.neurons.len() != layer.outputs
                || layer.weights.iter().any(|&w| (w as i32).abs() > q)
                || layer.neurons.iter().any(|n| {
                    n.table.len() != table_len
                        || n.table.iter().any(|&y| !(0..=u).contains(&y))
                        || n.shift > 40
                        || n.offset.unsigned_abs() > 1 << 40
                })
            {
                return Err(bad(format!("layer {l} is malformed")));
            }
            if let Some(next) = self.layers.get(l + 1) {
                if next.inputs != layer.outputs {
                    return Err(bad(format!("layer {l} does not feed layer {}", l + 1)));
                }
            }
        }
        Ok(())
    }

    /// Number of inputs of the first layer (grey levels per image). Panics on a model
    /// without layers, which [`Self::validate`] refuses.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    /// An image's grey levels (`0..=255`) as the network's `N`-bit inputs
    /// ([`quantize_pixels`]).
    pub fn quantize_image(&self, pixels: &[u8]) -> Vec<i32> {
        quantize_pixels(self.bits, pixels)
    }

    /// The last layer's `y` for a quantized input.
    pub fn logits(&self, x: &[i32]) -> Vec<i64> {
        let mut a = x.to_vec();
        // A validated model has layers; an empty one has no logits.
        let Some((last, hidden)) = self.layers.split_last() else {
            return Vec::new();
        };
        for layer in hidden {
            a = (0..layer.outputs)
                .map(|k| layer.activate(k, layer.accumulate(k, &a)) as i32)
                .collect();
        }
        (0..last.outputs).map(|k| last.accumulate(k, &a)).collect()
    }

    /// The digit predicted for an image's grey levels: the class of the largest logit, the
    /// lowest on ties.
    pub fn predict(&self, pixels: &[u8]) -> u8 {
        super::integer::argmax(&self.logits(&self.quantize_image(pixels))) as u8
    }

    /// Predictions for every image of the set, in parallel.
    pub fn predict_set(&self, set: &MnistSet) -> Vec<u8> {
        (0..set.len())
            .into_par_iter()
            .map(|i| self.predict(set.image(i)))
            .collect()
    }
}

/// A small network trained and quantized in seconds, for demonstrations and examples: the
/// images under `data` (the IDX files) average-pooled to 14x14, a 196-64-10 ReLU network
/// trained by `epochs` epochs of SGD and quantized to the 4-bit window form on 5,000
/// training images. Returns it with the pooled test set it reads. The design's full network
/// is `shroud mnist train` and `shroud mnist quantize`.
pub fn small_model(
    data: impl AsRef<std::path::Path>,
    epochs: usize,
) -> Result<(WindowMlp, MnistSet), NnError> {
    let data = data.as_ref();
    let train_set = super::idx::load_set(data, "train")?.pooled(2)?;
    let test = super::idx::load_set(data, "t10k")?.pooled(2)?;
    let config = super::train::SgdConfig {
        epochs,
        ..super::train::SgdConfig::float_default()
    };
    let mut float = FloatMlp::init(&[196, 64, 10], config.seed);
    super::train::train(
        &mut float,
        &train_set.features(),
        &train_set.labels,
        &config,
        |_| {},
    )?;
    let model = quantize_window(&float, 4, &train_set.take(5000))?;
    Ok((model, test))
}

/// Post-training quantization of `float` to `bits`-bit weights and inputs, calibrated on the
/// images of `calibration`.
pub fn quantize_window(
    float: &FloatMlp,
    bits: u32,
    calibration: &MnistSet,
) -> Result<WindowMlp, NnError> {
    float.validate()?;
    if !(2..=8).contains(&bits) {
        return Err(NnError::InvalidConfig(format!("{bits} bits (2..=8)")));
    }
    let u = unsigned_max(bits);
    let buckets = 1i64 << WINDOW_BITS;
    let mut x: Vec<Vec<i32>> = (0..calibration.len())
        .map(|i| quantize_pixels(bits, calibration.image(i)))
        .collect();
    // The real value of one input unit.
    let mut unit_in = 1.0 / u as f64;
    let mut layers = Vec::new();
    let last = float.layers.len() - 1;
    for (l, dense) in float.layers.iter().enumerate() {
        let w: Vec<f32> = dense.w.iter().copied().collect();
        let projection = alternating_projection(&w, bits, 10_000);
        let weights: Vec<i8> = projection.levels.iter().map(|&v| v as i8).collect();
        let unit = projection.scale * unit_in;
        let (outputs, inputs) = dense.w.dim();
        let row = |k: usize| &weights[k * inputs..(k + 1) * inputs];
        let bias = |k: usize| (dense.b[k] as f64 / unit).round() as i64;
        let dot = |k: usize, x: &[i32]| -> i64 {
            row(k)
                .iter()
                .zip(x)
                .map(|(&w, &x)| w as i64 * x as i64)
                .sum::<i64>()
                + bias(k)
        };
        if l == last {
            let neurons = (0..outputs)
                .map(|k| WindowNeuron {
                    offset: bias(k),
                    shift: 0,
                    table: Vec::new(),
                })
                .collect();
            layers.push(WindowLayer {
                inputs,
                outputs,
                weights,
                neurons,
            });
            break;
        }
        // Largest pre-activation of each neuron on the calibration images, in units.
        let maxima: Vec<i64> = (0..outputs)
            .into_par_iter()
            .map(|k| x.iter().map(|x| dot(k, x)).max().unwrap_or(0).max(1))
            .collect();
        // Buckets of 2^r units, rounded, so that `buckets - 1/2` of them cover the maximum.
        let shifts: Vec<u32> = maxima
            .iter()
            .map(|&m| {
                let need = m as f64 / (buckets as f64 - 0.5);
                need.log2().ceil().max(0.0) as u32
            })
            .collect();
        let top = maxima.iter().copied().max().unwrap_or(1) as f64 * unit;
        let unit_out = top / u as f64;
        let neurons: Vec<WindowNeuron> = (0..outputs)
            .map(|k| {
                let r = shifts[k];
                let half = if r > 0 { 1i64 << (r - 1) } else { 0 };
                let table = (0..buckets)
                    .map(|i| {
                        let real = (i << r) as f64 * unit;
                        ((real / unit_out).round() as i64).clamp(0, u)
                    })
                    .collect();
                WindowNeuron {
                    offset: bias(k) + half,
                    shift: r,
                    table,
                }
            })
            .collect();
        let layer = WindowLayer {
            inputs,
            outputs,
            weights,
            neurons,
        };
        x = x
            .par_iter()
            .map(|x| {
                (0..outputs)
                    .map(|k| layer.activate(k, layer.accumulate(k, x)) as i32)
                    .collect()
            })
            .collect();
        layers.push(layer);
        unit_in = unit_out;
    }
    let model = WindowMlp {
        bits,
        window_bits: WINDOW_BITS,
        layers,
    };
    model.validate()?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three inputs, 4 bits (Q = 7, U = 15), one hidden neuron with buckets of 4 units.
    fn hidden() -> WindowLayer {
        WindowLayer {
            inputs: 3,
            outputs: 1,
            weights: vec![2, -7, 5],
            neurons: vec![WindowNeuron {
                offset: 2 - 3,
                shift: 2,
                table: vec![0, 1, 3, 5, 7, 9, 12, 15],
            }],
        }
    }

    #[test]
    fn one_neuron_by_hand() {
        let l = hidden();
        // 2*15 - 7*1 + 5*4 - 1 = 42; bucket 42 >> 2 = 10, clamped to 7.
        assert_eq!(l.accumulate(0, &[15, 1, 4]), 42);
        assert_eq!(l.activate(0, 42), 15);
        // 2*3 - 7*2 + 5*3 - 1 = 6; bucket 1.
        assert_eq!(l.activate(0, l.accumulate(0, &[3, 2, 3])), 1);
        // Negative sums floor to negative buckets: ReLU.
        assert_eq!(l.activate(0, -1), 0);
        assert_eq!(l.activate(0, -100), 0);
        // Every input in [0, 15]: 2*[0,15] - 7*[0,15] + 5*[0,15] - 1.
        assert_eq!(l.range(0, 4), Interval { lo: -106, hi: 104 });
    }

    #[test]
    fn post_training_quantization_tracks_the_float_network() {
        // A float network on 4x4 images and images that exercise it.
        let float = FloatMlp::init(&[16, 6, 3], 5);
        let images: Vec<u8> = (0..40 * 16).map(|i| ((i * 37) % 256) as u8).collect();
        let set = MnistSet {
            rows: 4,
            cols: 4,
            pixels: images,
            labels: vec![0; 40],
        };
        let model = quantize_window(&float, 6, &set).unwrap();
        model.validate().unwrap();
        assert_eq!(model.layers.len(), 2);
        assert!(model.layers[0].neurons.iter().all(|n| n.table[0] == 0));
        // The integer logits follow the float ones: most predictions agree.
        let float_pred =
            super::super::model::predict_rows(set.features().view(), |x| float.logits(x));
        let agree = (0..set.len())
            .filter(|&i| model.predict(set.image(i)) == float_pred[i])
            .count();
        assert!(agree >= 30, "{agree} of 40");
        assert!(quantize_window(&float, 9, &set).is_err());
    }
}

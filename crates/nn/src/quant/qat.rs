//! Quantization and quantization-aware fine-tuning.
//!
//! [`QatNet`] keeps full-precision shadow weights, the scalar of each weight matrix and the
//! running maxima of the scaling layers. [`QatNet::to_quantized`] turns them into a
//! [`QuantizedMlp`]: weights projected onto their levels, and the secure scales that map each
//! running maximum onto the top of its integer range. The scalars come from alternating
//! projection, run to convergence on the float weights and continued from where it stood
//! before every fine-tuning batch. Fine-tuning runs every batch forward through that
//! quantized network ([`QatPass`], batched and bit-exact with the integer evaluator),
//! observes the maxima it meets, and back-propagates straight through the roundings into the
//! shadow weights.

use ndarray::{s, Array2, ArrayView2, Axis};

use super::levels::{signed_max, unsigned_max};
use super::projection::{alternating_projection, project, refine};
use super::scaling::{Rescale, RunningMax};
use super::two_phase::{LayerScales, NeuronParams, QuantizedLayer, QuantizedMlp};
use crate::training::relu::{Dense, FloatMlp};
use crate::training::sgd::{Learner, Pass, Trace};

/// Projections per alternating projection: trained 784x500 weights take about 1,200 at 8 bits
/// from `w_0`, and a handful from the previous batch's scale.
const MAX_PROJECTIONS: usize = 5000;

/// How a float network is quantized.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TwoPhaseConfig {
    /// `N`, the bit width of the levels: weights in `[-Q, Q]`, activations in `[0, U]`.
    pub bits: u32,
    /// Decay of the running maxima.
    pub rho: f32,
    /// Inputs per phase-one block; `None` for `ceil(sqrt(n))` in a layer of `n` inputs, so
    /// that blocks and block sums have about the same number of terms. Smaller blocks narrow
    /// the phase-one sums (for an engine with a small message space) and cost more secure
    /// scales.
    pub block: Option<usize>,
}

impl TwoPhaseConfig {
    /// `bits`-bit quantization with the default decay of the running maxima (0.99) and
    /// blocks of about `sqrt(n)` inputs.
    pub fn new(bits: u32) -> Self {
        Self {
            bits,
            rho: 0.99,
            block: None,
        }
    }

    /// The block size of a layer with `inputs` inputs.
    pub fn block_size(&self, inputs: usize) -> usize {
        self.block
            .unwrap_or((inputs as f64).sqrt().ceil() as usize)
            .clamp(1, inputs)
    }
}

/// Hands `f` the product of `x` with each block of columns of `w`: the phase-one sums.
fn for_each_block(
    x: ArrayView2<f32>,
    w: &Array2<f32>,
    block: usize,
    mut f: impl FnMut(Array2<f32>),
) {
    for start in (0..w.ncols()).step_by(block) {
        let end = (start + block).min(w.ncols());
        f(x.slice(s![.., start..end])
            .dot(&w.slice(s![.., start..end]).t()));
    }
}

/// Raises `max[k]` to the largest `|a[r][k]|`.
fn column_max_abs(a: &Array2<f32>, max: &mut [f32]) {
    for row in a.rows() {
        for (m, v) in max.iter_mut().zip(row) {
            *m = m.max(v.abs());
        }
    }
}

/// A float network with the state of its quantization.
#[derive(Clone, Debug)]
pub struct QatNet {
    /// The full-precision shadow weights, which fine-tuning updates.
    pub shadow: FloatMlp,
    /// `N`, the bit width of the quantized network.
    pub bits: u32,
    /// Phase-one block size of each layer.
    pub blocks: Vec<usize>,
    /// Running maximum of `|p[k][j]|` (real value) over the blocks of each neuron of each
    /// layer.
    pub block_max: Vec<Vec<RunningMax>>,
    /// Running maximum of `ReLU(z)` (real value) of each hidden layer.
    pub output_max: Vec<RunningMax>,
    /// Scalar of each weight matrix, where its alternating projection stands.
    pub weight_scales: Vec<f64>,
}

impl QatNet {
    /// Starts from a float network: running maxima from its own (unquantized) values on the
    /// calibration images, taken in batches of `batch` rows.
    pub fn new(
        float: FloatMlp,
        config: &TwoPhaseConfig,
        calibration: ArrayView2<f32>,
        batch: usize,
    ) -> Self {
        let (bits, rho) = (config.bits, config.rho);
        let layers = float.layers.len();
        let weight_scales = float
            .layers
            .iter()
            .map(|d| alternating_projection(weights(d), bits, MAX_PROJECTIONS).scale)
            .collect();
        let block_max = float
            .layers
            .iter()
            .map(|d| vec![RunningMax::new(rho); d.outputs()])
            .collect();
        let mut net = Self {
            blocks: float
                .layers
                .iter()
                .map(|d| config.block_size(d.inputs()))
                .collect(),
            shadow: float,
            bits,
            block_max,
            output_max: vec![RunningMax::new(rho); layers - 1],
            weight_scales,
        };
        for x in calibration.axis_chunks_iter(Axis(0), batch.max(1)) {
            let maxima = net.float_maxima(x);
            net.observe(&maxima);
        }
        net
    }

    /// The maxima of the scaling layers' inputs in the float network, in the order
    /// [`Trace::maxima`] uses: per-neuron block maxima of layer 0, its output maximum, those
    /// of layer 1, ...
    fn float_maxima(&self, x: ArrayView2<f32>) -> Vec<Vec<f32>> {
        let mut maxima = Vec::new();
        let mut a = x.to_owned();
        for (d, &block) in self.shadow.layers.iter().zip(&self.blocks) {
            let mut block_max = vec![0f32; d.outputs()];
            for_each_block(a.view(), &d.w, block, |p| {
                column_max_abs(&p, &mut block_max)
            });
            maxima.push(block_max);
            let z = a.dot(&d.w.t()) + &d.b;
            a = z.mapv(|v| v.max(0.0));
            maxima.push(vec![a.fold(0f32, |m, &v| m.max(v))]);
        }
        maxima.pop(); // the logits have no output scaling layer
        maxima
    }

    /// The integer network the shadow weights and running maxima define now.
    pub fn to_quantized(&self) -> QuantizedMlp {
        let mut input_scale = 1.0 / unsigned_max(self.bits) as f64;
        let last = self.shadow.layers.len() - 1;
        let layers = self
            .shadow
            .layers
            .iter()
            .enumerate()
            .map(|(l, d)| {
                let layer = quantize_layer(
                    d,
                    self.weight_scales[l],
                    self.bits,
                    self.blocks[l],
                    input_scale,
                    &self.block_max[l].iter().map(running).collect::<Vec<_>>(),
                    (l < last).then(|| running(&self.output_max[l])),
                );
                input_scale = layer.scales.output;
                layer
            })
            .collect();
        QuantizedMlp {
            bits: self.bits,
            layers,
        }
    }
}

fn weights(d: &Dense) -> &[f32] {
    // Weights are built in standard layout (and `validate` refuses others on load).
    d.w.as_slice().unwrap_or_default()
}

fn running(m: &RunningMax) -> f64 {
    // A scaling layer that only ever saw zeros maps anything tiny to its top level.
    // Calibrated at construction; an uncalibrated one reads as all zeros.
    m.value.unwrap_or(0.0).max(1e-12) as f64
}

/// Precision of the secure scales' multipliers: the output units of a layer's neurons agree
/// to `2^-8`, so the next layer sees them as one unit.
const MULTIPLIER_BITS: u32 = 8;

/// One layer in integers, given the weight scalar, the real value of one input unit, the real
/// maxima of each neuron's block sums and, for hidden layers, of their ReLU outputs.
fn quantize_layer(
    d: &Dense,
    weight_scale: f64,
    bits: u32,
    block: usize,
    input_scale: f64,
    block_max: &[f64],
    output_max: Option<f64>,
) -> QuantizedLayer {
    let q = signed_max(bits) as f64;
    // p (integer) * input_scale * weight_scale is the real block sum.
    let product_unit = input_scale * weight_scale;
    // The bias unit is the accumulator's times the smallest power of two that keeps the bias
    // within the accumulator's range, nb * Q.
    let range = d.inputs().div_ceil(block) as f64 * q;
    let aligned: Vec<(Rescale, u32, i64, f64)> = block_max
        .iter()
        .zip(&d.b)
        .map(|(&max, &b)| {
            // Each neuron's largest block sum goes to Q.
            let block_rescale = Rescale::approximate(q * product_unit / max, MULTIPLIER_BITS);
            let block_unit = product_unit / block_rescale.factor();
            let mut shift = 0;
            while shift < 40 && (b as f64).abs() / (block_unit * 2f64.powi(shift as i32)) > range {
                shift += 1;
            }
            let bias_unit = block_unit * 2f64.powi(shift as i32);
            let bias = (b as f64 / bias_unit).round() as i64;
            (block_rescale, shift, bias, 2.0 * bias_unit)
        })
        .collect();
    // Hidden outputs: the running maximum goes to U. Logits: the finest unit among the
    // neurons, so that no logit loses precision.
    let output = match output_max {
        Some(m) => m / unsigned_max(bits) as f64,
        None => aligned.iter().map(|a| a.3).fold(f64::INFINITY, f64::min),
    };
    QuantizedLayer {
        bits,
        inputs: d.inputs(),
        outputs: d.outputs(),
        // Levels are within [-127, 127] for N <= 8.
        weights: project(weights(d), weight_scale, signed_max(bits) as i32)
            .into_iter()
            .map(|w| w as i8)
            .collect(),
        block,
        relu: output_max.is_some(),
        neurons: aligned
            .into_iter()
            .map(|(block_rescale, align_shift, bias, unit)| NeuronParams {
                block_rescale,
                align_shift,
                bias,
                output_rescale: Rescale::approximate(unit / output, MULTIPLIER_BITS),
            })
            .collect(),
        scales: LayerScales {
            input: input_scale,
            weight: weight_scale,
            output,
        },
    }
}

/// The quantized network run batch by batch for training, bit-exact with the integer
/// evaluator: values are integers held in `f32` (phase-one sums stay below `2^24`, where
/// `f32` sums of integer products are exact), every rounding is the evaluator's own, and the
/// trace is converted to real units for back-propagation.
pub struct QatPass {
    model: QuantizedMlp,
    /// Weight levels, for the forward pass.
    levels: Vec<Array2<f32>>,
    /// Levels times their scale, for the backward pass.
    weights: Vec<Array2<f32>>,
}

impl QatPass {
    /// The pass of a quantized network, with its weight levels laid out for batched
    /// products.
    pub fn new(model: QuantizedMlp) -> Self {
        let levels: Vec<Array2<f32>> = model
            .layers
            .iter()
            .map(|l| {
                Array2::from_shape_fn((l.outputs, l.inputs), |(k, i)| {
                    l.weights[k * l.inputs + i] as f32
                })
            })
            .collect();
        let weights = levels
            .iter()
            .zip(&model.layers)
            .map(|(w, l)| w * l.scales.weight as f32)
            .collect();
        Self {
            model,
            levels,
            weights,
        }
    }
}

impl Pass for QatPass {
    /// `x` holds grey levels scaled to `[0, 1]`.
    fn forward(&self, x: ArrayView2<f32>) -> Trace {
        let u = unsigned_max(self.model.bits) as f32;
        let mut trace = Trace::default();
        // round(g * U / 255), ties up, as `QuantizedMlp::quantize_image`.
        let mut a = x.mapv(|v| ((v * 255.0).round() * u / 255.0 + 0.5).floor());
        let last = self.model.layers.len() - 1;
        for (l, layer) in self.model.layers.iter().enumerate() {
            let mut sum = Array2::<f32>::zeros((a.nrows(), layer.outputs));
            let mut block_max = vec![0f32; layer.outputs];
            for_each_block(a.view(), &self.levels[l], layer.block, |p| {
                column_max_abs(&p, &mut block_max);
                for ((r, k), &v) in p.indexed_iter() {
                    sum[[r, k]] += layer.block_output(k, v as i64) as f32;
                }
            });
            let product_unit = (layer.scales.input * layer.scales.weight) as f32;
            trace
                .maxima
                .push(block_max.iter().map(|m| m * product_unit).collect());
            let z = Array2::from_shape_fn(sum.dim(), |(r, k)| layer.aligned(k, sum[[r, k]] as i64));
            let y = Array2::from_shape_fn(z.dim(), |(r, k)| layer.activate(k, z[[r, k]]));
            trace.inputs.push(a * layer.scales.input as f32);
            if l == last {
                trace.logits = y.mapv(|v| (v as f64 * layer.scales.output) as f32);
                break;
            }
            let relu_max = z
                .indexed_iter()
                .map(|((_, k), &v)| v.max(0) as f64 * layer.aligned_unit(k))
                .fold(0f64, f64::max);
            trace.maxima.push(vec![relu_max as f32]);
            // The straight-through gradient passes where neither ReLU nor saturation cuts.
            trace.gates.push(Array2::from_shape_fn(z.dim(), |i| {
                f32::from(z[i] > 0 && (y[i] as f32) < u)
            }));
            a = y.mapv(|v| v as f32);
        }
        trace
    }

    fn weights(&self) -> Vec<&Array2<f32>> {
        self.weights.iter().collect()
    }
}

impl Learner for QatNet {
    type Pass = QatPass;

    fn pass(&mut self) -> QatPass {
        for (d, scale) in self.shadow.layers.iter().zip(&mut self.weight_scales) {
            *scale = refine(weights(d), self.bits, *scale, MAX_PROJECTIONS).scale;
        }
        QatPass::new(self.to_quantized())
    }

    fn shadow_mut(&mut self) -> &mut FloatMlp {
        &mut self.shadow
    }

    /// Maxima come in [`Trace::maxima`] order: per-neuron block maxima and output maximum
    /// of each hidden layer, then the block maxima of the last.
    fn observe(&mut self, maxima: &[Vec<f32>]) {
        for (l, pair) in maxima.chunks(2).enumerate() {
            for (m, &v) in self.block_max[l].iter_mut().zip(&pair[0]) {
                m.update(v);
            }
            if let Some(out) = pair.get(1) {
                self.output_max[l].update(out[0]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::sgd::{train, SgdConfig};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn config(bits: u32) -> TwoPhaseConfig {
        TwoPhaseConfig {
            rho: 0.9,
            ..TwoPhaseConfig::new(bits)
        }
    }

    fn random_inputs(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Multiples of 1/255, like grey levels, so that 8-bit inputs are exact.
        Array2::from_shape_simple_fn((rows, cols), || rng.gen_range(0..=255u8) as f32 / 255.0)
    }

    fn rms(a: &Array2<f32>) -> f32 {
        a.mapv(|v| v * v).mean().unwrap().sqrt()
    }

    fn integer_logits(q: &QuantizedMlp, x: &Array2<f32>) -> Array2<f32> {
        let unit = q.layers.last().unwrap().scales.output;
        let rows: Vec<f32> = x
            .axis_iter(Axis(0))
            .flat_map(|r| {
                let grey: Vec<u8> = r.iter().map(|&v| (v * 255.0).round() as u8).collect();
                q.logits(&q.quantize_image(&grey))
                    .into_iter()
                    .map(move |z| (z as f64 * unit) as f32)
            })
            .collect();
        Array2::from_shape_vec((x.nrows(), rows.len() / x.nrows()), rows).unwrap()
    }

    #[test]
    fn integer_evaluator_tracks_the_float_network() {
        let mut float = FloatMlp::init(&[49, 30, 20, 5], 4);
        float.layers[0].b.fill(0.1);
        float.layers[1].b.fill(-0.05);
        let x = random_inputs(200, 49, 5);
        let exact = float.logits(x.view());
        // Without fine-tuning, 4 bits and fewer are far from the float network; they are only
        // checked for agreement with the training-time pass.
        for (bits, tolerance) in [(8, 0.05), (6, 0.2), (4, f32::INFINITY), (2, f32::INFINITY)] {
            let net = QatNet::new(float.clone(), &config(bits), x.view(), 50);
            let q = net.to_quantized();
            q.validate().unwrap();
            let err = rms(&(&integer_logits(&q, &x) - &exact)) / rms(&exact);
            assert!(err < tolerance, "{bits} bits: relative RMS error {err}");
            // The training-time simulation follows the integer evaluator closely.
            // The training-time pass computes exactly what the integer evaluator computes.
            let unit = q.layers.last().unwrap().scales.output as f32;
            let sim = QatPass::new(q.clone()).forward(x.view()).logits;
            let int = integer_logits(&q, &x);
            assert!(
                sim.iter()
                    .zip(&int)
                    .all(|(s, i)| (s / unit).round() == (i / unit).round()),
                "{bits} bits"
            );
        }
    }

    #[test]
    fn accumulators_stay_in_their_ranges() {
        let float = FloatMlp::init(&[36, 12, 4], 2);
        let x = random_inputs(100, 36, 3);
        let q = QatNet::new(float, &config(4), x.view(), 100).to_quantized();
        let ranges: Vec<_> = q.layers.iter().map(|l| l.ranges()).collect();
        let first = &q.layers[0];
        // Blocks of 6 inputs, 4-bit: |p| <= 15 * 7 * 6, |a| <= 6 blocks * 7.
        assert_eq!(first.block, 6);
        let short = TwoPhaseConfig {
            block: Some(4),
            ..config(4)
        };
        assert_eq!((short.block_size(36), short.block_size(3)), (4, 3));
        assert!(ranges[0].partial.hi <= 630 && ranges[0].partial.lo >= -630);
        assert!(ranges[0].sum.hi <= 42 && ranges[0].sum.lo >= -42);
        for row in x.axis_iter(Axis(0)) {
            let grey: Vec<u8> = row.iter().map(|&v| (v * 255.0).round() as u8).collect();
            let input = q.quantize_image(&grey);
            for k in 0..first.outputs {
                let a = first.accumulate(k, &input);
                assert!(first.sum_range(k).contains(a));
                assert!(ranges[0].aligned.contains(first.aligned(k, a)));
            }
        }
    }

    #[test]
    fn fine_tuning_moves_shadow_weights_and_running_maxima() {
        let x = random_inputs(120, 16, 8);
        let labels: Vec<u8> = crate::training::relu::argmax_rows(x.slice(s![.., ..4]));
        let float = FloatMlp::init(&[16, 10, 4], 6);
        let mut net = QatNet::new(
            float.clone(),
            &TwoPhaseConfig {
                rho: 0.5,
                ..config(3)
            },
            x.view(),
            40,
        );
        let before = net.block_max[0][0].value;
        let config = SgdConfig {
            epochs: 30,
            batch: 20,
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 0.0,
            seed: 2,
        };
        let history = train(&mut net, &x, &labels, &config, |_| ()).unwrap();
        assert_ne!(net.shadow, float);
        assert_ne!(net.block_max[0][0].value, before);
        assert!(history.last().unwrap().loss < history[0].loss);
        // Fine-tuned weights are never used raw: the quantized model is what predicts.
        let q = net.to_quantized();
        assert!(q.layers[0].weights.iter().all(|w| w.abs() <= 3));
    }
}

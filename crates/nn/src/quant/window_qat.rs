//! Quantization-aware fine-tuning of a dense ReLU network for the window form.
//!
//! Post-training quantization ([`QuantConfig::window_form`]) rounds a float network trained
//! without knowing it would be rounded. [`WindowQat`] fine-tunes the float ("shadow")
//! weights through the window form's arithmetic instead, and hands them back for that same
//! quantizer to convert, so that what is trained is what runs encrypted:
//!
//! - each batch runs forward through the network as the window form computes it, in real
//!   units: inputs on the `[0, U]` grid, each layer's weights on its alternating-projection
//!   levels (the scale continued from the previous batch), biases rounded to the
//!   accumulator's unit, and per hidden neuron the pre-activation rounded to one of `2^w`
//!   buckets and read from a table of output levels;
//! - the bucket widths and the layers' output units follow the quantizer's rule (buckets of a
//!   power of two of which `2^w - 1/2` cover the neuron's largest pre-activation on the
//!   calibration examples, the layer's largest maximum spread over `[0, U]`), refreshed from
//!   the calibration examples every [`WindowQat::REFRESH`] batches as the weights move;
//! - the backward pass is the straight-through estimator: the gradient flows through each
//!   rounding as through the identity, and is cut where the ReLU or the table's saturation
//!   cuts.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::projection::{alternating_projection, refine, Projection};
use super::{unsigned_max, QuantConfig, WindowFit};
use crate::training::relu::FloatMlp;
use crate::training::sgd::{Learner, Pass, Trace};
use crate::NnError;

/// Projections per alternating projection (as the quantizer runs it).
const MAX_PROJECTIONS: usize = 10_000;

/// A dense ReLU network under fine-tuning for the window form.
pub struct WindowQat {
    shadow: FloatMlp,
    bits: u32,
    window_bits: u32,
    /// Calibration examples, one per row, in `[0, 1]`.
    calibration: Array2<f32>,
    /// Each layer's weight scale, continued from batch to batch.
    scales: Vec<f64>,
    /// Each hidden layer's bucket shifts and output unit, from the last refresh.
    windows: Vec<Windows>,
    batches: usize,
}

/// The windows of one hidden layer.
#[derive(Clone, Debug)]
struct Windows {
    /// `r` of each neuron: buckets of `2^r` accumulator units.
    shifts: Vec<u32>,
    /// The real value of one output level.
    unit_out: f64,
}

impl WindowQat {
    /// Batches between two refreshes of the bucket widths from the calibration examples.
    pub const REFRESH: usize = 50;

    /// Starts fine-tuning `shadow` for `config`'s window form, calibrated on `calibration`
    /// (one example per row, in `[0, 1]`, as the final quantization will be).
    pub fn new(
        shadow: FloatMlp,
        config: &QuantConfig,
        calibration: Array2<f32>,
    ) -> Result<Self, NnError> {
        shadow.validate()?;
        let window_form = QuantConfig::window_form(config.bits);
        if !(2..=8).contains(&config.bits)
            || config.window_fit != WindowFit::Max
            || config.per_channel_weights
            || config.input_range != window_form.input_range
        {
            return Err(NnError::InvalidConfig(
                "fine-tuning runs the window form (QuantConfig::window_form) of 2 to 8 bits".into(),
            ));
        }
        if calibration.nrows() == 0 || calibration.ncols() != shadow.layers[0].inputs() {
            return Err(NnError::InvalidConfig(format!(
                "{} calibration examples of {} values for a network of {} inputs",
                calibration.nrows(),
                calibration.ncols(),
                shadow.layers[0].inputs()
            )));
        }
        let scales = shadow
            .layers
            .iter()
            .map(|d| {
                let w: Vec<f32> = d.w.iter().copied().collect();
                alternating_projection(&w, config.bits, MAX_PROJECTIONS).scale
            })
            .collect();
        let mut qat = Self {
            shadow,
            bits: config.bits,
            window_bits: config.window_bits,
            calibration,
            scales,
            windows: Vec::new(),
            batches: 0,
        };
        qat.refresh();
        Ok(qat)
    }

    /// The fine-tuned float network, for the quantizer to convert.
    pub fn into_float(self) -> FloatMlp {
        self.shadow
    }

    /// Layer `l`'s weights on their levels (the scale refined from the last batch's) and its
    /// bias rounded to the accumulator's unit, in real units; `unit_in` is the real value of
    /// one input level.
    fn quantized_layer(&mut self, l: usize, unit_in: f64) -> (Array2<f32>, Array1<f32>) {
        let d = &self.shadow.layers[l];
        let w: Vec<f32> = d.w.iter().copied().collect();
        let p: Projection = refine(&w, self.bits, self.scales[l], MAX_PROJECTIONS);
        self.scales[l] = p.scale;
        let levels = Array2::from_shape_fn(d.w.dim(), |(k, i)| {
            (f64::from(p.levels[k * d.w.ncols() + i]) * p.scale) as f32
        });
        let unit = p.scale * unit_in;
        let bias = d.b.mapv(|b| ((f64::from(b) / unit).round() * unit) as f32);
        (levels, bias)
    }

    /// The real value of one input level of each layer.
    fn units_in(&self) -> Vec<f64> {
        std::iter::once(1.0 / unsigned_max(self.bits) as f64)
            .chain(self.windows.iter().map(|w| w.unit_out))
            .collect()
    }

    /// Recomputes every hidden layer's windows from the calibration examples, layer by layer
    /// on the quantized outputs of the layers before it, as the quantizer does.
    fn refresh(&mut self) {
        let u = unsigned_max(self.bits);
        let buckets = f64::from(1u32 << self.window_bits);
        let mut a = quantize_inputs(self.calibration.view(), u);
        let mut unit_in = 1.0 / u as f64;
        let last = self.shadow.layers.len() - 1;
        self.windows.clear();
        for l in 0..last {
            let (w, b) = self.quantized_layer(l, unit_in);
            let unit = self.scales[l] * unit_in;
            let z = a.dot(&w.t()) + &b;
            // Each neuron's largest pre-activation in accumulator units, at least 1.
            let maxima: Vec<f64> = z
                .axis_iter(Axis(1))
                .map(|c| {
                    (f64::from(c.fold(f32::MIN, |m, &v| m.max(v))) / unit)
                        .round()
                        .max(1.0)
                })
                .collect();
            let shifts: Vec<u32> = maxima
                .iter()
                .map(|&m| (m / (buckets - 0.5)).log2().ceil().max(0.0) as u32)
                .collect();
            let top = maxima.iter().copied().fold(1.0, f64::max) * unit;
            let windows = Windows {
                shifts,
                unit_out: top / u as f64,
            };
            a = apply_windows(&z, &windows, unit, u, self.window_bits).0;
            unit_in = windows.unit_out;
            self.windows.push(windows);
        }
    }
}

/// Inputs in `[0, 1]` on the `[0, U]` grid, in real units.
fn quantize_inputs(x: ArrayView2<f32>, u: i64) -> Array2<f32> {
    let u = u as f64;
    x.mapv(|v| ((f64::from(v) * u).round().clamp(0.0, u) / u) as f32)
}

/// A hidden layer's windows applied to its pre-activations `z` (real units; `unit` the
/// accumulator's): the outputs in real units, and the straight-through gates (1 where neither
/// the ReLU nor the saturation cuts).
fn apply_windows(
    z: &Array2<f32>,
    windows: &Windows,
    unit: f64,
    u: i64,
    window_bits: u32,
) -> (Array2<f32>, Array2<f32>) {
    let top = (1i64 << window_bits) - 1;
    let mut y = Array2::zeros(z.dim());
    let mut gates = Array2::zeros(z.dim());
    for ((r, k), &v) in z.indexed_iter() {
        // The accumulator is an integer number of units: recover it exactly from the float
        // sum (its rounding error is far below half a unit), so that ties round as the
        // integer evaluator's shift does.
        let n = (f64::from(v) / unit).round() as i64;
        let shift = windows.shifts[k];
        let half = if shift > 0 { 1i64 << (shift - 1) } else { 0 };
        let t = (n + half) >> shift;
        let bucket = t.clamp(0, top);
        let width = f64::from(1u32 << shift) * unit;
        let level = ((bucket as f64 * width / windows.unit_out).round() as i64).clamp(0, u);
        y[[r, k]] = (level as f64 * windows.unit_out) as f32;
        gates[[r, k]] = f32::from(n > 0 && t <= top && level < u);
    }
    (y, gates)
}

/// One batch's network: the window form in real units.
pub struct WindowPass {
    layers: Vec<(Array2<f32>, Array1<f32>)>,
    windows: Vec<Windows>,
    /// The real value of one accumulator unit of each layer.
    units: Vec<f64>,
    bits: u32,
    window_bits: u32,
}

impl Pass for WindowPass {
    /// `x` holds inputs in `[0, 1]`.
    fn forward(&self, x: ArrayView2<f32>) -> Trace {
        let u = unsigned_max(self.bits);
        let mut trace = Trace::default();
        let mut a = quantize_inputs(x, u);
        let last = self.layers.len() - 1;
        for (l, (w, b)) in self.layers.iter().enumerate() {
            let z = a.dot(&w.t()) + b;
            trace.inputs.push(a);
            if l == last {
                trace.logits = z;
                break;
            }
            let (y, gates) =
                apply_windows(&z, &self.windows[l], self.units[l], u, self.window_bits);
            trace.gates.push(gates);
            a = y;
        }
        trace
    }

    fn weights(&self) -> Vec<&Array2<f32>> {
        self.layers.iter().map(|(w, _)| w).collect()
    }
}

impl Learner for WindowQat {
    type Pass = WindowPass;

    fn pass(&mut self) -> WindowPass {
        if self.batches > 0 && self.batches.is_multiple_of(Self::REFRESH) {
            self.refresh();
        }
        self.batches += 1;
        let units_in = self.units_in();
        let layers = (0..units_in.len())
            .map(|l| self.quantized_layer(l, units_in[l]))
            .collect();
        // After the projections: each layer's accumulator unit is its new scale's.
        let units = units_in
            .iter()
            .zip(&self.scales)
            .map(|(u, s)| u * s)
            .collect();
        WindowPass {
            layers,
            windows: self.windows.clone(),
            units,
            bits: self.bits,
            window_bits: self.window_bits,
        }
    }

    fn shadow_mut(&mut self) -> &mut FloatMlp {
        &mut self.shadow
    }

    fn observe(&mut self, _: &[Vec<f32>]) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Shape;
    use crate::quant::quantize;

    /// Images of 5x5 levels and their labels: the class is which third of the image is
    /// brightest.
    fn data(n: usize, seed: u64) -> (Array2<f32>, Vec<u8>) {
        let x = Array2::from_shape_fn((n, 25), |(i, j)| {
            (((i as u64 * 31 + j as u64 * 7 + seed * 13) % 17) as f32 / 16.0).powi(2)
        });
        let labels = x
            .axis_iter(Axis(0))
            .map(|row| {
                let third = |t: usize| row.iter().skip(t * 8).take(8).sum::<f32>();
                (0..3).fold(0, |b, t| if third(t) > third(b) { t } else { b }) as u8
            })
            .collect();
        (x, labels)
    }

    /// The fine-tuning pass computes what the quantizer's integer evaluator computes, in real
    /// units: same classes, logits equal up to float rounding.
    #[test]
    fn the_pass_is_the_window_form() {
        for bits in [3, 4, 6] {
            let float = FloatMlp::init(&[25, 12, 7, 3], u64::from(bits));
            let (x, _) = data(60, 1);
            let config = QuantConfig::window_form(bits);
            let mut qat = WindowQat::new(float.clone(), &config, x.clone()).unwrap();
            let pass = qat.pass();
            let inputs: Vec<Vec<f32>> = x.axis_iter(Axis(0)).map(|r| r.to_vec()).collect();
            let q = quantize(&float.to_graph().unwrap(), &inputs, &config).unwrap();
            assert_eq!(q.input.shape, Shape::Vector(25));
            let trace = pass.forward(x.view());
            for (i, input) in inputs.iter().enumerate() {
                let ints = q.eval(&q.quantize_input(input).unwrap()).unwrap();
                for (k, &v) in ints.iter().enumerate() {
                    let real = v as f64 * q.output_unit;
                    let ours = f64::from(trace.logits[[i, k]]);
                    assert!(
                        (real - ours).abs() <= 1e-3 * real.abs().max(1.0),
                        "{bits} bits, example {i}, logit {k}: {real} against {ours}"
                    );
                }
            }
        }
    }

    /// Fine-tuning lowers the loss of the quantized network on its training data.
    #[test]
    fn fine_tuning_helps_the_quantized_network() {
        use crate::training::sgd::{train, SgdConfig};
        let (x, labels) = data(600, 2);
        let mut float = FloatMlp::init(&[25, 16, 3], 3);
        let config = SgdConfig {
            epochs: 15,
            batch: 32,
            lr: 0.05,
            ..SgdConfig::float_default()
        };
        train(&mut float, &x, &labels, &config, |_| {}).unwrap();
        let qconfig = QuantConfig::window_form(2);
        let inputs: Vec<Vec<f32>> = x.axis_iter(Axis(0)).map(|r| r.to_vec()).collect();
        let accuracy = |net: &FloatMlp| {
            let q = quantize(&net.to_graph().unwrap(), &inputs, &qconfig).unwrap();
            let right = inputs
                .iter()
                .zip(&labels)
                .filter(|(x, &l)| q.predict(x).unwrap() == l as usize)
                .count();
            right as f64 / inputs.len() as f64
        };
        let before = accuracy(&float);
        let mut qat = WindowQat::new(float, &qconfig, x.clone()).unwrap();
        let fine = SgdConfig {
            epochs: 5,
            lr: 0.01,
            ..config
        };
        train(&mut qat, &x, &labels, &fine, |_| {}).unwrap();
        let after = accuracy(&qat.into_float());
        assert!(after > before, "2 bits: {before} before, {after} after");
    }

    #[test]
    fn other_forms_and_shapes_are_refused() {
        let float = FloatMlp::init(&[25, 4, 3], 1);
        let x = Array2::zeros((4, 25));
        assert!(WindowQat::new(float.clone(), &QuantConfig::new(4), x.clone()).is_err());
        assert!(WindowQat::new(float.clone(), &QuantConfig::window_form(9), x).is_err());
        let short = Array2::zeros((4, 24));
        assert!(WindowQat::new(float.clone(), &QuantConfig::window_form(4), short).is_err());
        let none = Array2::zeros((0, 25));
        assert!(WindowQat::new(float, &QuantConfig::window_form(4), none).is_err());
    }
}

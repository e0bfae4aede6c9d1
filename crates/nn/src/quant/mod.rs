//! The integer form of a [`Graph`](crate::graph::Graph): what the encrypted engines compute, bit for bit.
//!
//! A [`QuantizedGraph`] is the graph with every real number replaced by an integer. The client
//! applies the float preprocessing ([`InputQuantization`]: a leading normalization, then the
//! quantization of each channel to `[0, U]`, `U = 2^N - 1`); every node then computes on
//! integers only:
//!
//! - linear nodes ([`QOp::Dense`], [`QOp::Conv2d`], [`QOp::SumPool`], [`QOp::GlobalSumPool`],
//!   [`QOp::Add`], [`QOp::Offset`]) are exact sums of products by integer weights in
//!   `[-Q, Q]` (`Q = 2^(N-1) - 1`) plus integer constants: accumulators of any width, never
//!   rounded (an LWE sum holds them exactly);
//! - [`QOp::Window`] is the one rounding, applied per channel: `t = (v + c) >> r` (floor),
//!   `y = T[clamp(t, 0, 2^w - 1)]` with a table `T` of `2^w` entries in `[0, U]` that holds the
//!   activation (ReLU, clipped ReLU), the channel's scale and the saturation: the window form
//!   of docs/mnist.md, per channel;
//! - [`QOp::MaxPool`] takes the largest integer of each window.
//!
//! Each value has one real unit (what an integer step is worth); the output's is
//! [`QuantizedGraph::output_unit`], and a final softmax of the float graph is applied by the
//! client to `unit * output`. [`QuantizedGraph::validate`] checks every node and computes the
//! exact interval of every channel of every value for any input ([`QuantizedGraph::ranges`]):
//! nothing overflows, and an engine sizes its registers from them. Built by
//! [`quantize`] (post-training calibration, in `calibrate`).
//!
//! The design's own form of the dense ReLU network lives here too: [`two_phase`] (each dot
//! product rescaled block by block, the form of the bit-list engine) with its integer
//! evaluator, built by [`qat`] from alternating [`projection`] weights and [`scaling`]
//! layers, fine-tuned with shadow weights.

mod calibrate;
mod conv;
mod levels;
pub mod projection;
pub mod qat;
pub mod scaling;
pub mod two_phase;
pub mod window_qat;

use serde::{Deserialize, Serialize};

pub use calibrate::{quantize, QuantConfig, WindowFit};
pub use conv::{QConv, Tap};
pub use levels::{argmax, signed_max, unsigned_max, Interval};

use crate::graph::{Affine, Pool2d, Shape};
use crate::NnError;

/// Window bits `w` of an activation's table: 8 buckets. One more bit (a saturation flag) and
/// the padding bit make the 5-bit message of `shroud_lwe` presets' 4-bit tables.
pub const WINDOW_BITS: u32 = 3;

/// Largest magnitude any integer of a quantized graph may reach: sums stay in `i64` with room.
pub const MAX_MAGNITUDE: i64 = 1 << 50;

/// How the client turns a float input into integers: `preprocess` (a normalization the
/// model began with), then per channel `q = clamp(round(x / unit[c]) + zero[c], 0, U)`, so
/// that the real value of `q` is `unit[c] * (q - zero[c])`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputQuantization {
    /// The shape of the float input (and of its quantized form).
    pub shape: Shape,
    /// The per-channel normalization the model began with, applied to the float input
    /// before quantization; `None` when it had none.
    pub preprocess: Option<Affine>,
    /// The real value of one integer step in each channel (positive).
    pub unit: Vec<f64>,
    /// The integer standing for a real zero in each channel, in `[0, U]`.
    pub zero: Vec<i64>,
}

impl InputQuantization {
    /// `x` preprocessed and quantized to `bits`-bit levels.
    pub fn quantize(&self, bits: u32, x: &[f32]) -> Result<Vec<i64>, NnError> {
        let shape = self.shape;
        if x.len() != shape.len() {
            return Err(NnError::InvalidConfig(format!(
                "an input of {} values for a model whose input is {shape}",
                x.len()
            )));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(NnError::InvalidConfig(format!(
                "input value {i} is {}",
                x[i]
            )));
        }
        let plane = shape.plane();
        let u = (1i64 << bits) - 1;
        Ok(x.iter()
            .enumerate()
            .map(|(i, &v)| {
                let c = i / plane;
                let v = match &self.preprocess {
                    Some(a) => (v as f64 * a.scale[c] as f64 + a.shift[c] as f64) as f32,
                    None => v,
                };
                // Saturating conversions: an input far outside the calibrated range clamps.
                ((v as f64 / self.unit[c]).round() as i64)
                    .saturating_add(self.zero[c])
                    .clamp(0, u)
            })
            .collect())
    }
}

/// A node of the integer graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum QOp {
    /// `v[k] = sum_i W[k][i] x[i] + bias[k]`, `W` row-major `outputs x inputs`.
    Dense {
        /// Length of the input vector.
        inputs: usize,
        /// Length of the output vector.
        outputs: usize,
        /// `W`: `outputs * inputs` weights in `[-Q, Q]`.
        weights: Vec<i8>,
        /// One integer per output.
        bias: Vec<i64>,
    },
    /// A convolution.
    Conv2d(QConv),
    /// The sum of each window (padding reads `pad[c]`), plus `offset[c]`.
    SumPool {
        /// Where each window reads.
        window: Pool2d,
        /// The integer a padded position reads in each channel (the channel's zero).
        pad: Vec<i64>,
        /// The constant added to each channel's sums.
        offset: Vec<i64>,
    },
    /// The sum of each channel plus `offset[c]`: an image becomes a vector.
    GlobalSumPool {
        /// The constant added to each channel's sum.
        offset: Vec<i64>,
    },
    /// The largest value of each window (padding never wins).
    MaxPool {
        /// Where each window reads.
        window: Pool2d,
    },
    /// Per channel `c`: `T_c[clamp((v + offset) >> shift, 0, len - 1)]`.
    Window {
        /// The rounding and table of each channel of the input.
        channels: Vec<WindowChannel>,
    },
    /// `a * scale[0] + b * scale[1] + offset[c]`.
    Add {
        /// The integer factors of the first and the second input (at most `2^16` in
        /// magnitude), which bring both to one unit.
        scale: [i64; 2],
        /// The constant added to each channel.
        offset: Vec<i64>,
    },
    /// `x + offset[c]`.
    Offset {
        /// The constant added to each channel.
        offset: Vec<i64>,
    },
    /// An image read row by row as a vector (channel after channel).
    Flatten,
    /// The same elements in another shape of the same length.
    Reshape(Shape),
}

/// One channel's rounding and table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowChannel {
    /// `c`: added to the accumulator before the shift.
    pub offset: i64,
    /// `r`: the accumulator plus `offset` is divided by `2^shift`, rounding down.
    pub shift: u32,
    /// `2^w` entries in `[0, U]`.
    pub table: Vec<i64>,
}

impl WindowChannel {
    /// The channel's output for the accumulator `v`: the table entry at
    /// `clamp((v + offset) >> shift, 0, len - 1)`.
    pub fn apply(&self, v: i64) -> i64 {
        let top = self.table.len() as i64 - 1;
        self.table[((v + self.offset) >> self.shift).clamp(0, top) as usize]
    }
}

impl QOp {
    /// The operator's name in messages and plans.
    pub fn name(&self) -> &'static str {
        match self {
            QOp::Dense { .. } => "Dense",
            QOp::Conv2d(_) => "Conv2d",
            QOp::SumPool { .. } => "SumPool",
            QOp::GlobalSumPool { .. } => "GlobalSumPool",
            QOp::MaxPool { .. } => "MaxPool",
            QOp::Window { .. } => "Window",
            QOp::Add { .. } => "Add",
            QOp::Offset { .. } => "Offset",
            QOp::Flatten => "Flatten",
            QOp::Reshape(_) => "Reshape",
        }
    }
}

/// One integer operator and the values it reads (0 the graph's input, `i + 1` node `i`'s
/// output), as in [`Node`](crate::graph::Node).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QNode {
    /// The name of the float node it was quantized from, for messages.
    pub name: String,
    /// What the node computes.
    pub op: QOp,
    /// The values it reads: two for [`QOp::Add`], one otherwise, each computed before it.
    pub inputs: Vec<usize>,
}

/// A quantized network: the integer evaluator's contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantizedGraph {
    /// `N`: inputs and activations in `[0, 2^N - 1]`, weights in `[-(2^(N-1) - 1), 2^(N-1) - 1]`.
    pub bits: u32,
    /// How the client quantizes a float input.
    pub input: InputQuantization,
    /// The integer nodes in evaluation order; node `i`'s output is value `i + 1`.
    pub nodes: Vec<QNode>,
    /// The real value of one unit of the output.
    pub output_unit: f64,
    /// Whether the client applies a softmax to the dequantized output.
    pub softmax: bool,
}

/// What a client needs of a quantized model to use it without seeing its weights: how inputs
/// are quantized and how outputs read. A service publishes it with each model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInterface {
    /// `N`, the model's bit width ([`QuantizedGraph::bits`]), from 2 to 8.
    pub bits: u32,
    /// How the client quantizes a float input.
    pub input: InputQuantization,
    /// The real value of one unit of the output.
    pub output_unit: f64,
    /// Whether the client applies a softmax to the dequantized output.
    pub softmax: bool,
}

impl ModelInterface {
    /// Whether the interface can be used: it may come from a server the client does not trust.
    pub fn check(&self) -> Result<(), String> {
        if !(2..=8).contains(&self.bits) {
            return Err(format!("{} bits (2 to 8)", self.bits));
        }
        let u = (1i64 << self.bits) - 1;
        let input = &self.input;
        input.shape.check()?;
        let channels = input.shape.channels();
        if input.unit.len() != channels
            || input.zero.len() != channels
            || input.unit.iter().any(|&x| !(x.is_finite() && x > 0.0))
            || input.zero.iter().any(|z| !(0..=u).contains(z))
            || input.preprocess.as_ref().is_some_and(|a| {
                a.scale.len() != channels
                    || a.shift.len() != channels
                    || a.scale.iter().chain(&a.shift).any(|v| !v.is_finite())
            })
        {
            return Err("the input's quantization is malformed".into());
        }
        if !(self.output_unit.is_finite() && self.output_unit > 0.0) {
            return Err(format!("output unit {}", self.output_unit));
        }
        Ok(())
    }

    /// A float input, preprocessed and quantized.
    pub fn quantize(&self, x: &[f32]) -> Result<Vec<i64>, NnError> {
        self.input.quantize(self.bits, x)
    }

    /// The real values of an output (probabilities if the model ends with a softmax).
    pub fn dequantize(&self, output: &[i64]) -> Vec<f64> {
        let real: Vec<f64> = output
            .iter()
            .map(|&v| v as f64 * self.output_unit)
            .collect();
        if !self.softmax {
            return real;
        }
        let top = real.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = real.iter().map(|v| (v - top).exp()).collect();
        let total: f64 = e.iter().sum();
        e.iter().map(|v| v / total).collect()
    }
}

impl QuantizedGraph {
    /// The client's view of the model.
    pub fn interface(&self) -> ModelInterface {
        ModelInterface {
            bits: self.bits,
            input: self.input.clone(),
            output_unit: self.output_unit,
            softmax: self.softmax,
        }
    }

    /// Largest unsigned level `U`.
    pub fn unsigned_max(&self) -> i64 {
        (1 << self.bits) - 1
    }

    /// Checks every node against the shapes it reads and returns each value's shape and the
    /// exact interval of each of its channels for any input in `[0, U]`; errors if any
    /// reaches [`MAX_MAGNITUDE`].
    pub fn ranges(&self) -> Result<(Vec<Shape>, Vec<Vec<Interval>>), NnError> {
        let bad = |reason: String| NnError::InvalidGraph(format!("quantized graph: {reason}"));
        self.interface().check().map_err(bad)?;
        let u = self.unsigned_max();
        let q = (1i64 << (self.bits - 1)) - 1;
        let input = &self.input;
        let channels = input.shape.channels();
        if self.nodes.is_empty() || self.nodes.len() > crate::graph::MAX_NODES {
            return Err(bad(format!("{} nodes", self.nodes.len())));
        }
        let mut shapes = vec![input.shape];
        let mut ranges = vec![vec![Interval { lo: 0, hi: u }; channels]];
        for (i, node) in self.nodes.iter().enumerate() {
            let at = |reason: String| {
                bad(format!(
                    "node {i} ({}, {}): {reason}",
                    node.name,
                    node.op.name()
                ))
            };
            let arity = if matches!(node.op, QOp::Add { .. }) {
                2
            } else {
                1
            };
            if node.inputs.len() != arity || node.inputs.iter().any(|&v| v > i) {
                return Err(at(format!("inputs {:?}", node.inputs)));
            }
            let x = node.inputs[0];
            let (shape, range) = node_ranges(
                &node.op,
                node.inputs.iter().map(|&v| (shapes[v], &ranges[v])),
                q,
                u,
            )
            .map_err(at)?;
            shape.check().map_err(at)?;
            if range
                .iter()
                .any(|r| r.lo.unsigned_abs().max(r.hi.unsigned_abs()) >= MAX_MAGNITUDE as u64)
            {
                return Err(at(format!("values beyond 2^50 (input value {x})")));
            }
            shapes.push(shape);
            ranges.push(range);
        }
        Ok((shapes, ranges))
    }

    /// Checks the graph as [`Self::ranges`] does, without returning the ranges.
    pub fn validate(&self) -> Result<(), NnError> {
        self.ranges().map(drop)
    }

    /// The client's side: a float input, preprocessed and quantized.
    pub fn quantize_input(&self, x: &[f32]) -> Result<Vec<i64>, NnError> {
        self.input.quantize(self.bits, x)
    }

    /// The integer evaluator: every value for a quantized input (values in `[0, U]`), the
    /// input first. The graph must have validated.
    pub fn eval_values(&self, shapes: &[Shape], q: &[i64]) -> Result<Vec<Vec<i64>>, NnError> {
        let u = self.unsigned_max();
        if q.len() != self.input.shape.len() || q.iter().any(|v| !(0..=u).contains(v)) {
            return Err(NnError::InvalidConfig(format!(
                "a quantized input of {} values in [0, {u}] is needed ({} given)",
                self.input.shape.len(),
                q.len()
            )));
        }
        let mut values = vec![q.to_vec()];
        for (i, node) in self.nodes.iter().enumerate() {
            let x = &values[node.inputs[0]];
            let y = eval_node(&node.op, shapes[node.inputs[0]], shapes[i + 1], x, || {
                &values[node.inputs[1]]
            });
            values.push(y);
        }
        Ok(values)
    }

    /// The output for a quantized input.
    pub fn eval(&self, q: &[i64]) -> Result<Vec<i64>, NnError> {
        let (shapes, _) = self.ranges()?;
        Ok(self.eval_values(&shapes, q)?.pop().unwrap_or_default())
    }

    /// The class of a float input: the largest output, the lowest index on ties.
    pub fn predict(&self, x: &[f32]) -> Result<usize, NnError> {
        Ok(crate::quant::argmax(&self.eval(&self.quantize_input(x)?)?))
    }

    /// What the client makes of the decrypted output: `unit * v`, then the softmax if the
    /// model ended with one.
    pub fn dequantize(&self, output: &[i64]) -> Vec<f64> {
        self.interface().dequantize(output)
    }
}

fn per_channel(v: &[i64], n: usize, what: &str) -> Result<(), String> {
    if v.len() != n {
        return Err(format!("{} {what} for {n} channels", v.len()));
    }
    if v.iter().any(|x| x.unsigned_abs() >= MAX_MAGNITUDE as u64) {
        return Err(format!("{what} beyond 2^50"));
    }
    Ok(())
}

/// `[lo, hi]` scaled by an integer (either sign), in `i128` so that nothing wraps.
fn times(r: Interval, w: i64) -> (i128, i128) {
    let (a, b) = (r.lo as i128 * w as i128, r.hi as i128 * w as i128);
    (a.min(b), a.max(b))
}

fn interval(lo: i128, hi: i128) -> Result<Interval, String> {
    let bound = MAX_MAGNITUDE as i128;
    if lo <= -bound || hi >= bound {
        return Err("values beyond 2^50".into());
    }
    Ok(Interval {
        lo: lo as i64,
        hi: hi as i64,
    })
}

fn hull(r: Interval, v: i64) -> Interval {
    Interval {
        lo: r.lo.min(v),
        hi: r.hi.max(v),
    }
}

/// Per-element intervals of a value, from its per-channel ones.
fn per_element(shape: Shape, r: &[Interval]) -> Vec<Interval> {
    let plane = shape.plane();
    r.iter()
        .flat_map(|&c| std::iter::repeat_n(c, plane))
        .collect()
}

/// The output shape and per-channel intervals of a node.
fn node_ranges<'a>(
    op: &QOp,
    mut inputs: impl Iterator<Item = (Shape, &'a Vec<Interval>)>,
    q: i64,
    u: i64,
) -> Result<(Shape, Vec<Interval>), String> {
    let (shape, r) = inputs.next().ok_or("no input")?;
    let weights_ok = |w: &[i8]| w.iter().all(|&w| (w as i64).abs() <= q);
    match op {
        QOp::Dense {
            inputs,
            outputs,
            weights,
            bias,
        } => {
            if shape != Shape::Vector(*inputs)
                || Some(weights.len()) != inputs.checked_mul(*outputs)
                || !weights_ok(weights)
            {
                return Err(format!("{}x{} weights on {shape}", outputs, inputs));
            }
            per_channel(bias, *outputs, "biases")?;
            let out = (0..*outputs)
                .map(|k| {
                    let row = &weights[k * inputs..(k + 1) * inputs];
                    let (lo, hi) = row
                        .iter()
                        .zip(r)
                        .fold((0i128, 0i128), |(lo, hi), (&w, &x)| {
                            let (a, b) = times(x, w as i64);
                            (lo + a, hi + b)
                        });
                    interval(lo + bias[k] as i128, hi + bias[k] as i128)
                })
                .collect::<Result<_, _>>()?;
            Ok((Shape::Vector(*outputs), out))
        }
        QOp::Conv2d(conv) => {
            let (h, w) = conv.check(shape, q)?;
            let padded = conv.window.padding != [0; 4];
            let out = (0..conv.out_channels)
                .map(|o| {
                    let (lo, hi) = conv.kernel(o).fold((0i128, 0i128), |(lo, hi), (wt, c)| {
                        let range = if padded {
                            hull(r[c], conv.pad[c])
                        } else {
                            r[c]
                        };
                        let (a, b) = times(range, wt);
                        (lo + a, hi + b)
                    });
                    interval(lo + conv.bias[o] as i128, hi + conv.bias[o] as i128)
                })
                .collect::<Result<_, _>>()?;
            Ok((
                Shape::Image {
                    channels: conv.out_channels,
                    height: h,
                    width: w,
                },
                out,
            ))
        }
        QOp::SumPool {
            window,
            pad,
            offset,
        } => {
            let (channels, height, width) = shape.image(op.name())?;
            per_channel(pad, channels, "padding values")?;
            per_channel(offset, channels, "offsets")?;
            let (h, w) = window.output_size(height, width)?;
            let k = window.size() as i64;
            let padded = window.padding != [0; 4];
            let out = (0..channels)
                .map(|c| {
                    let range = if padded { hull(r[c], pad[c]) } else { r[c] };
                    let (lo, hi) = times(range, k);
                    interval(lo + offset[c] as i128, hi + offset[c] as i128)
                })
                .collect::<Result<_, _>>()?;
            Ok((
                Shape::Image {
                    channels,
                    height: h,
                    width: w,
                },
                out,
            ))
        }
        QOp::GlobalSumPool { offset } => {
            let (channels, height, width) = shape.image(op.name())?;
            per_channel(offset, channels, "offsets")?;
            let n = (height * width) as i64;
            let out = (0..channels)
                .map(|c| {
                    let (lo, hi) = times(r[c], n);
                    interval(lo + offset[c] as i128, hi + offset[c] as i128)
                })
                .collect::<Result<_, _>>()?;
            Ok((Shape::Vector(channels), out))
        }
        QOp::MaxPool { window } => {
            let (channels, height, width) = shape.image(op.name())?;
            let (h, w) = window.output_size(height, width)?;
            Ok((
                Shape::Image {
                    channels,
                    height: h,
                    width: w,
                },
                r.clone(),
            ))
        }
        QOp::Window { channels } => {
            if channels.len() != shape.channels() {
                return Err(format!("{} windows on {shape}", channels.len()));
            }
            let out = channels
                .iter()
                .map(|w| {
                    let len = w.table.len();
                    if !len.is_power_of_two()
                        || len > 1 << 8
                        || w.shift > 48
                        || w.offset.unsigned_abs() >= MAX_MAGNITUDE as u64
                        || w.table.iter().any(|t| !(0..=u).contains(t))
                    {
                        return Err("a malformed window".to_string());
                    }
                    let (lo, hi) = (w.table.iter().min(), w.table.iter().max());
                    Ok(Interval {
                        lo: *lo.ok_or("an empty table")?,
                        hi: *hi.ok_or("an empty table")?,
                    })
                })
                .collect::<Result<_, _>>()?;
            Ok((shape, out))
        }
        QOp::Add { scale, offset } => {
            let (other, r2) = inputs.next().ok_or("one input of two")?;
            if other != shape {
                return Err(format!("an addition of {shape} and {other}"));
            }
            per_channel(offset, shape.channels(), "offsets")?;
            if scale.iter().any(|s| s.unsigned_abs() > 1 << 16) {
                return Err(format!("scales {scale:?}"));
            }
            let out = (0..shape.channels())
                .map(|c| {
                    let (a, b) = times(r[c], scale[0]);
                    let (d, e) = times(r2[c], scale[1]);
                    interval(a + d + offset[c] as i128, b + e + offset[c] as i128)
                })
                .collect::<Result<_, _>>()?;
            Ok((shape, out))
        }
        QOp::Offset { offset } => {
            per_channel(offset, shape.channels(), "offsets")?;
            let out = r
                .iter()
                .zip(offset)
                .map(|(r, &c)| interval(r.lo as i128 + c as i128, r.hi as i128 + c as i128))
                .collect::<Result<_, _>>()?;
            Ok((shape, out))
        }
        QOp::Flatten => Ok((Shape::Vector(shape.len()), per_element(shape, r))),
        QOp::Reshape(to) => {
            to.check()?;
            if to.len() != shape.len() {
                return Err(format!("a reshape of {shape} to {to}"));
            }
            let elements = per_element(shape, r);
            let plane = to.plane();
            let out = elements
                .chunks(plane)
                .map(|c| {
                    c.iter().fold(c[0], |a, b| Interval {
                        lo: a.lo.min(b.lo),
                        hi: a.hi.max(b.hi),
                    })
                })
                .collect();
            Ok((*to, out))
        }
    }
}

fn eval_node<'a>(
    op: &QOp,
    input: Shape,
    output: Shape,
    x: &[i64],
    second: impl FnOnce() -> &'a Vec<i64>,
) -> Vec<i64> {
    let (channels, height, width) = input.chw();
    let (_, oh, ow) = output.chw();
    let plane = height * width;
    match op {
        QOp::Dense {
            inputs,
            outputs,
            weights,
            bias,
        } => (0..*outputs)
            .map(|k| {
                let row = &weights[k * inputs..(k + 1) * inputs];
                row.iter().zip(x).map(|(&w, &v)| w as i64 * v).sum::<i64>() + bias[k]
            })
            .collect(),
        QOp::Conv2d(conv) => {
            let mut y = Vec::with_capacity(conv.out_channels * oh * ow);
            for o in 0..conv.out_channels {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let s: i64 = conv
                            .terms(o, oy, ox, height, width)
                            .map(|(w, tap)| {
                                w * match tap {
                                    Tap::Element(e) => x[e],
                                    Tap::Pad(c) => conv.pad[c],
                                }
                            })
                            .sum();
                        y.push(s + conv.bias[o]);
                    }
                }
            }
            y
        }
        QOp::SumPool {
            window,
            pad,
            offset,
        } => {
            let mut y = Vec::with_capacity(channels * oh * ow);
            for c in 0..channels {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let s: i64 = window
                            .taps(oy, ox, height, width)
                            .map(|at| match at {
                                Some((iy, ix)) => x[c * plane + iy * width + ix],
                                None => pad[c],
                            })
                            .sum();
                        y.push(s + offset[c]);
                    }
                }
            }
            y
        }
        QOp::GlobalSumPool { offset } => x
            .chunks(plane)
            .zip(offset)
            .map(|(c, &o)| c.iter().sum::<i64>() + o)
            .collect(),
        QOp::MaxPool { window } => {
            let mut y = Vec::with_capacity(channels * oh * ow);
            for c in 0..channels {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let m = window
                            .taps(oy, ox, height, width)
                            .flatten()
                            .map(|(iy, ix)| x[c * plane + iy * width + ix])
                            .max();
                        y.push(m.unwrap_or(0));
                    }
                }
            }
            y
        }
        QOp::Window { channels: w } => x
            .iter()
            .enumerate()
            .map(|(i, &v)| w[i / plane].apply(v))
            .collect(),
        QOp::Add { scale, offset } => x
            .iter()
            .zip(second())
            .enumerate()
            .map(|(i, (&a, &b))| a * scale[0] + b * scale[1] + offset[i / plane])
            .collect(),
        QOp::Offset { offset } => x
            .iter()
            .enumerate()
            .map(|(i, &v)| v + offset[i / plane])
            .collect(),
        QOp::Flatten | QOp::Reshape(_) => x.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::mnist::MnistSet;
    use crate::graph::{Conv2d, Graph, Op};
    use crate::training::relu::FloatMlp;

    fn images(n: usize, side: usize, seed: u64) -> MnistSet {
        let pixels = (0..n * side * side)
            .map(|i| ((i as u64 * 2_654_435_761 + seed * 97) % 251) as u8)
            .collect();
        MnistSet {
            rows: side,
            cols: side,
            pixels,
            labels: vec![0; n],
        }
    }

    fn floats(set: &MnistSet) -> Vec<Vec<f32>> {
        (0..set.len())
            .map(|i| set.image(i).iter().map(|&g| g as f32 / 255.0).collect())
            .collect()
    }

    /// The window form of docs/mnist.md, checked against its definition: pixels at
    /// `round(x U)`, each layer's weights the alternating projection's levels, each neuron's
    /// buckets the narrowest power of two of which `2^w - 1/2` cover its largest calibration
    /// pre-activation, tables from 0 up to `U` at the neuron with the largest maximum; and
    /// the integer network follows the float one.
    #[test]
    fn a_dense_relu_network_quantizes_to_the_window_form() {
        for (bits, sizes) in [(4, [25, 12, 7, 3]), (6, [25, 9, 9, 4]), (3, [25, 16, 5, 2])] {
            let float = FloatMlp::init(&sizes, bits as u64);
            let calibration = floats(&images(60, 5, 1));
            let graph = float.to_graph().unwrap();
            assert_eq!(FloatMlp::from_graph(&graph).unwrap(), float);
            let q = quantize(&graph, &calibration, &QuantConfig::window_form(bits)).unwrap();
            let u = unsigned_max(bits);
            assert!(q.input.zero.iter().all(|&z| z == 0));
            let half = q.quantize_input(&[0.5; 25]).unwrap();
            assert!(half.iter().all(|&v| v == (0.5 * u as f64).round() as i64));
            let shapes = q.ranges().unwrap().0;
            let values: Vec<Vec<Vec<i64>>> = calibration
                .iter()
                .map(|x| {
                    q.eval_values(&shapes, &q.quantize_input(x).unwrap())
                        .unwrap()
                })
                .collect();
            for (i, node) in q.nodes.iter().enumerate() {
                match &node.op {
                    QOp::Dense { weights, .. } => {
                        let l = i / 2;
                        let w: Vec<f32> = float.layers[l].w.iter().copied().collect();
                        let levels = projection::alternating_projection(&w, bits, 10_000).levels;
                        let ours: Vec<i32> = weights.iter().map(|&w| w as i32).collect();
                        assert_eq!(ours, levels, "layer {l}");
                    }
                    QOp::Window { channels } => {
                        let top = channels.iter().filter_map(|c| c.table.last()).max();
                        assert_eq!(top, Some(&u), "node {i}");
                        let buckets = f64::from(1u32 << WINDOW_BITS);
                        for (k, c) in channels.iter().enumerate() {
                            assert_eq!(c.table.len(), 1 << WINDOW_BITS);
                            assert_eq!(c.table[0], 0);
                            assert!(c.table.windows(2).all(|t| t[0] <= t[1]));
                            // Value i is node i - 1's output: the pre-activations read here.
                            let most = values.iter().map(|v| v[i][k]).max().unwrap().max(1);
                            let cover =
                                |r: u32| (buckets - 0.5) * f64::from(1u32 << r) >= most as f64;
                            assert!(cover(c.shift), "node {i}, neuron {k}");
                            assert!(c.shift == 0 || !cover(c.shift - 1), "node {i}, neuron {k}");
                        }
                    }
                    _ => {}
                }
            }
            let test = images(40, 5, 2);
            let float_classes =
                crate::training::relu::predict_rows(test.features().view(), |x| float.logits(x));
            let agree = floats(&test)
                .iter()
                .zip(&float_classes)
                .filter(|(x, &c)| q.predict(x).unwrap() == usize::from(c))
                .count();
            // Three bits are too coarse for a random network's close logits.
            assert!(bits < 4 || agree >= 30, "{bits} bits: {agree} of 40");
        }
    }

    #[test]
    fn a_convolution_reads_zero_points_in_its_padding() {
        // Inputs in [-1, 1]: per-tensor zero point in the middle of [0, U].
        let conv = Conv2d {
            in_channels: 1,
            out_channels: 2,
            groups: 1,
            kernel: [3, 3],
            stride: [2, 2],
            padding: [1; 4],
            dilation: [1, 1],
            weights: (0..18).map(|i| (i as f32 - 8.5) / 9.0).collect(),
            bias: vec![0.1, -0.2],
        };
        let graph = Graph::sequential(
            Shape::Image {
                channels: 1,
                height: 5,
                width: 5,
            },
            vec![
                ("conv".into(), Op::Conv2d(conv)),
                ("relu".into(), Op::Relu),
                ("pool".into(), Op::AvgPool(Pool2d::square(3, 1))),
                ("flat".into(), Op::Flatten),
            ],
        )
        .unwrap();
        let calibration: Vec<Vec<f32>> = (0..30)
            .map(|e| {
                (0..25)
                    .map(|i| (((i * 7 + e * 13) % 21) as f32 - 10.0) / 10.0)
                    .collect()
            })
            .collect();
        let config = QuantConfig {
            per_channel_input: true,
            ..QuantConfig::new(6)
        };
        let q = quantize(&graph, &calibration, &config).unwrap();
        let (_, ranges) = q.ranges().unwrap();
        // A real 0 at the input is the integer 32 (or 31): what the padding reads.
        let z = q.input.zero[0];
        assert!((31..=32).contains(&z), "{z}");
        let QOp::Conv2d(QConv { pad, .. }) = &q.nodes[0].op else {
            panic!()
        };
        assert_eq!(pad, &vec![z]);
        // The integer network follows the float one, and stays in its ranges.
        let (shapes, _) = q.ranges().unwrap();
        for x in &calibration {
            let qx = q.quantize_input(x).unwrap();
            let values = q.eval_values(&shapes, &qx).unwrap();
            for (v, (shape, r)) in values.iter().zip(shapes.iter().zip(&ranges)) {
                for (i, &y) in v.iter().enumerate() {
                    assert!(r[i / shape.plane()].contains(y));
                }
            }
            let real = q.dequantize(values.last().unwrap());
            let want = graph.eval(x).unwrap();
            for (a, b) in real.iter().zip(&want) {
                assert!((a - *b as f64).abs() < 0.15, "{real:?} against {want:?}");
            }
        }
    }

    #[test]
    fn malformed_quantized_graphs_are_refused() {
        let float = FloatMlp::init(&[4, 3, 2], 1);
        let calibration: Vec<Vec<f32>> = (0..8).map(|e| vec![e as f32 / 8.0; 4]).collect();
        let q = quantize(
            &float.to_graph().unwrap(),
            &calibration,
            &QuantConfig::new(4),
        )
        .unwrap();
        q.validate().unwrap();
        let mut bad = q.clone();
        if let QOp::Dense { weights, .. } = &mut bad.nodes[0].op {
            weights[0] = 100; // beyond Q = 7
        }
        assert!(bad.validate().is_err());
        let mut bad = q.clone();
        if let QOp::Dense { bias, .. } = &mut bad.nodes[0].op {
            bias[0] = i64::MAX;
        }
        assert!(bad.validate().is_err());
        let mut bad = q.clone();
        bad.nodes[1].inputs = vec![5];
        assert!(bad.validate().is_err());
        let mut bad = q.clone();
        bad.input.unit[0] = f64::NAN;
        assert!(bad.validate().is_err());
        assert!(q.eval(&[16, 0, 0, 0]).is_err());
        assert!(q.quantize_input(&[f32::NAN, 0.0, 0.0, 0.0]).is_err());
        assert!(quantize(&float.to_graph().unwrap(), &[], &QuantConfig::new(4)).is_err());
    }
}

//! Post-training quantization of a [`Graph`] into its integer form, calibrated on examples
//! the user supplies.
//!
//! The graph is quantized node by node, and every node is calibrated on the *integer*
//! outputs of the nodes already quantized (so each rounding sees the errors made before it):
//!
//! - a leading chain of affine nodes becomes the client's float preprocessing; the input's
//!   range on the calibration examples (widened to hold 0) fixes its unit and zero point (per
//!   channel if asked and only dense and convolution layers read the input, which fold the
//!   units into their weights);
//! - dense and convolution weights get one scale per layer by alternating projection
//!   (docs/mnist.md) onto `[-Q, Q]`; the bias is rounded to the accumulator's unit and the
//!   input's zero points are folded into it (padding reads the zero point: a real zero);
//! - an activation (ReLU, a clip at or above zero) becomes a window per channel: buckets of
//!   `2^r` accumulator units such that `2^w - 1/2` of them cover the channel's largest
//!   pre-activation on the calibration data, and a table mapping buckets to the layer's
//!   common output unit (its largest maximum spread over `[0, U]`);
//! - pooling becomes sums (an average's divisor moves into the unit), a residual addition
//!   integer multiples of its operands in a common unit `2^residual_bits` times finer than
//!   the finer of the two, an affine map inside the network a change of unit and an offset.
//!
//! With [`QuantConfig::window_form`], a dense ReLU network over inputs in `[0, 1]` becomes the
//! window form of docs/mnist.md: one weight scale per layer, each neuron's buckets covering its
//! largest calibration pre-activation, and tables at the buckets' values.

use rayon::prelude::*;

use super::{InputQuantization, QConv, QNode, QOp, QuantizedGraph, WindowChannel};
use crate::graph::{Affine, Graph, Op, Shape};
use crate::quant::projection::alternating_projection;
use crate::NnError;

/// How to quantize.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantConfig {
    /// `N`: weights in `[-(2^(N-1) - 1), 2^(N-1) - 1]`, inputs and activations in
    /// `[0, 2^N - 1]`.
    pub bits: u32,
    /// `w`: each activation's table has `2^w` buckets.
    pub window_bits: u32,
    /// A residual addition's unit is `2^residual_bits` times finer than its finer operand's.
    pub residual_bits: u32,
    /// Quantize each input channel (each feature of a vector) over its own range, when only
    /// dense and convolution layers read the input; otherwise one range for the whole input.
    /// Per channel suits tabular features of different scales that the model does not
    /// normalize; images and normalized features do as well with one range.
    pub per_channel_input: bool,
    /// The input's range (after the preprocessing) when it is known, such as `[0, 1]` for
    /// images; otherwise the calibration examples' range. Either way it is widened to hold 0.
    pub input_range: Option<(f32, f32)>,
    /// One weight scale per output channel (neuron) of a layer whose outputs only an
    /// activation reads (its window absorbs the channel's unit), instead of one per layer.
    pub per_channel_weights: bool,
    /// How each activation's buckets are placed.
    pub window_fit: WindowFit,
}

/// How an activation's window is fitted to a channel's pre-activations on the calibration
/// data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowFit {
    /// Buckets covering the largest value, tables at the buckets' values: the MNIST window
    /// form of docs/mnist.md.
    Max,
    /// The bucket width (a power of two, up to 8 times narrower than `Max`'s) and the table
    /// values (each bucket's mean activation) that minimize the squared error of the
    /// activation over the calibration data: outliers saturate instead of coarsening every
    /// bucket.
    MeanSquare,
}

impl QuantConfig {
    /// The MNIST window form's quantization (docs/mnist.md): per-layer weight scales and
    /// windows covering the largest calibration value, inputs in `[0, 1]`.
    pub fn window_form(bits: u32) -> Self {
        Self {
            input_range: Some((0.0, 1.0)),
            per_channel_weights: false,
            window_fit: WindowFit::Max,
            ..Self::new(bits)
        }
    }

    /// `bits`-bit weights and activations, 8-bucket windows (what `wide_128`'s 4-bit tables
    /// select with their saturation flag) fitted by mean square error, per-channel weight
    /// scales where an activation follows.
    pub fn new(bits: u32) -> Self {
        Self {
            bits,
            window_bits: super::WINDOW_BITS,
            residual_bits: 3,
            per_channel_input: false,
            input_range: None,
            per_channel_weights: true,
            window_fit: WindowFit::MeanSquare,
        }
    }
}

/// What the quantizer knows of a value: the real worth of one integer step per channel and
/// the integer standing for a real zero per channel.
#[derive(Clone, Debug)]
struct Meta {
    unit: Vec<f64>,
    zero: Vec<i64>,
}

impl Meta {
    fn uniform_unit(&self) -> Option<f64> {
        let u = *self.unit.first()?;
        self.unit.iter().all(|&v| v == u).then_some(u)
    }
}

/// Quantizes `graph` with `config`, calibrated on `calibration` (float inputs laid out as the
/// graph's input).
pub fn quantize(
    graph: &Graph,
    calibration: &[Vec<f32>],
    config: &QuantConfig,
) -> Result<QuantizedGraph, NnError> {
    let bad = |reason: String| NnError::InvalidConfig(format!("quantization: {reason}"));
    if !(2..=8).contains(&config.bits)
        || !(1..=8).contains(&config.window_bits)
        || config.residual_bits > 8
    {
        return Err(bad(format!("{config:?}")));
    }
    if calibration.is_empty() {
        return Err(bad("no calibration examples".into()));
    }
    let shapes = graph.validate()?;
    if let Some(x) = calibration.iter().find(|x| x.len() != graph.input.len()) {
        return Err(bad(format!(
            "a calibration example of {} values for an input of {}",
            x.len(),
            graph.input
        )));
    }
    let readers = |v: usize| graph.nodes.iter().filter(|n| n.inputs.contains(&v)).count();

    // The leading affine chain: the client's preprocessing.
    let mut start = 0;
    let mut preprocess: Option<Affine> = None;
    while let Some(node) = graph.nodes.get(start) {
        let Op::Affine(a) = &node.op else { break };
        if node.inputs != [start] || readers(start) != 1 {
            break;
        }
        preprocess = Some(match preprocess {
            None => a.clone(),
            Some(p) => Affine {
                scale: p.scale.iter().zip(&a.scale).map(|(x, y)| x * y).collect(),
                shift: p
                    .shift
                    .iter()
                    .zip(&a.scale)
                    .zip(&a.shift)
                    .map(|((t, s), u)| t * s + u)
                    .collect(),
            },
        });
        start += 1;
    }
    let shape = shapes[start];
    let channels = shape.channels();
    let plane = shape.plane();
    let u = (1i64 << config.bits) - 1;
    let pre = |x: &[f32]| -> Vec<f32> {
        match &preprocess {
            Some(a) => x
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    (v as f64 * a.scale[i / plane] as f64 + a.shift[i / plane] as f64) as f32
                })
                .collect(),
            None => x.to_vec(),
        }
    };
    let inputs: Vec<Vec<f32>> = calibration.par_iter().map(|x| pre(x)).collect();
    if inputs.iter().flatten().any(|v| !v.is_finite()) {
        return Err(bad("a calibration example is not finite".into()));
    }
    // Each channel's range, widened to hold 0; per tensor unless only layers that fold
    // per-channel units into their weights read the input.
    let mut lo = vec![0f64; channels];
    let mut hi = vec![0f64; channels];
    match config.input_range {
        Some((l, h)) if l.is_finite() && h.is_finite() && l < h => {
            lo.fill((l as f64).min(0.0));
            hi.fill((h as f64).max(0.0));
        }
        Some(r) => return Err(bad(format!("input range {r:?}"))),
        None => {
            for x in &inputs {
                for (i, &v) in x.iter().enumerate() {
                    let c = i / plane;
                    lo[c] = lo[c].min(v as f64);
                    hi[c] = hi[c].max(v as f64);
                }
            }
        }
    }
    let per_channel = config.per_channel_input
        && graph
            .nodes
            .iter()
            .filter(|n| n.inputs.contains(&start))
            .all(|n| matches!(n.op, Op::Dense(_) | Op::Conv2d(_)));
    if !per_channel {
        let (l, h) = (
            lo.iter().copied().fold(0.0, f64::min),
            hi.iter().copied().fold(0.0, f64::max),
        );
        lo.fill(l);
        hi.fill(h);
    }
    let unit: Vec<f64> = lo
        .iter()
        .zip(&hi)
        // A channel that was always zero gets the range [0, 1].
        .map(|(&l, &h)| {
            if h > l {
                (h - l) / u as f64
            } else {
                1.0 / u as f64
            }
        })
        .collect();
    let zero: Vec<i64> = lo
        .iter()
        .zip(&unit)
        .map(|(&l, &s)| ((-l / s).round() as i64).clamp(0, u))
        .collect();
    let input = InputQuantization {
        shape,
        preprocess,
        unit: unit.clone(),
        zero: zero.clone(),
    };

    let mut q = Quantizer {
        config: *config,
        u,
        nodes: Vec::new(),
        shapes: vec![shape],
        metas: vec![Meta { unit, zero }],
        values: vec![Vec::new()],
    };
    q.values[0] = calibration
        .par_iter()
        .map(|x| input.quantize(config.bits, x))
        .collect::<Result<_, _>>()?;

    // Float value -> quantized value.
    let mut map = vec![usize::MAX; graph.nodes.len() + 1];
    map[start] = 0;
    let mut softmax = false;
    for (i, node) in graph.nodes.iter().enumerate().skip(start) {
        let at = |reason: String| {
            NnError::InvalidConfig(format!(
                "quantization of node {i} ({}, {}): {reason}",
                node.name,
                node.op.name()
            ))
        };
        let ins: Vec<usize> = node.inputs.iter().map(|&v| map[v]).collect();
        if ins.contains(&usize::MAX) {
            return Err(at("reads a value of the preprocessing".into()));
        }
        map[i + 1] = match &node.op {
            Op::Softmax => {
                softmax = true;
                ins[0]
            }
            op => {
                let readers: Vec<&Op> = graph
                    .nodes
                    .iter()
                    .filter(|n| n.inputs.contains(&(i + 1)))
                    .map(|n| &n.op)
                    .collect();
                let activation_follows = !readers.is_empty()
                    && readers
                        .iter()
                        .all(|op| matches!(op, Op::Relu | Op::Clip { .. }));
                q.node(&node.name, op, &ins, activation_follows)
                    .map_err(at)?
            }
        };
    }
    let out = map[graph.nodes.len()];
    if out == 0 {
        return Err(bad(
            "the network computes nothing past its preprocessing".into()
        ));
    }
    let meta = &q.metas[out];
    let output_unit = meta
        .uniform_unit()
        .filter(|_| meta.zero.iter().all(|&z| z == 0))
        .ok_or_else(|| bad("the output's channels have different units".into()))?;
    let graph = QuantizedGraph {
        bits: config.bits,
        input,
        nodes: q.nodes,
        output_unit,
        softmax,
    };
    graph.validate()?;
    Ok(graph)
}

struct Quantizer {
    config: QuantConfig,
    u: i64,
    nodes: Vec<QNode>,
    shapes: Vec<Shape>,
    metas: Vec<Meta>,
    /// Every quantized value on every calibration example.
    values: Vec<Vec<Vec<i64>>>,
}

impl Quantizer {
    /// Appends a node, computes it on the calibration examples, returns its value.
    fn push(
        &mut self,
        name: &str,
        op: QOp,
        inputs: Vec<usize>,
        meta: Meta,
    ) -> Result<usize, String> {
        let node = QNode {
            name: name.to_string(),
            op,
            inputs,
        };
        let shape = output_shape(
            &node.op,
            &node
                .inputs
                .iter()
                .map(|&v| self.shapes[v])
                .collect::<Vec<_>>(),
        )?;
        let (a, b) = (node.inputs[0], node.inputs.get(1).copied());
        let (sa, values) = (self.shapes[a], &self.values);
        let out: Vec<Vec<i64>> = (0..values[a].len())
            .into_par_iter()
            .map(|e| {
                super::eval_node(&node.op, sa, shape, &values[a][e], || {
                    &values[b.unwrap_or(a)][e]
                })
            })
            .collect();
        self.nodes.push(node);
        self.shapes.push(shape);
        self.metas.push(meta);
        self.values.push(out);
        Ok(self.nodes.len())
    }

    /// Quantizes one float node reading quantized values `ins`; `activation_follows` when
    /// only a ReLU or a clip reads its output.
    fn node(
        &mut self,
        name: &str,
        op: &Op,
        ins: &[usize],
        activation_follows: bool,
    ) -> Result<usize, String> {
        let x = ins[0];
        let meta = self.metas[x].clone();
        let shape = self.shapes[x];
        let uniform = |m: &Meta, what: &str| {
            m.uniform_unit()
                .ok_or_else(|| format!("{what} of channels in different units"))
        };
        match op {
            Op::Dense(d) => {
                let per_row = activation_follows && self.config.per_channel_weights;
                let (levels, units) =
                    self.project(&d.weights, d.inputs, per_row, &meta, |i| i % d.inputs)?;
                let bias = (0..d.outputs)
                    .map(|k| {
                        let row = &levels[k * d.inputs..(k + 1) * d.inputs];
                        let z: i64 = row
                            .iter()
                            .zip(&meta.zero)
                            .map(|(&w, &z)| w as i64 * z)
                            .sum();
                        (d.bias[k] as f64 / units[k]).round() as i64 - z
                    })
                    .collect();
                let op = QOp::Dense {
                    inputs: d.inputs,
                    outputs: d.outputs,
                    weights: levels,
                    bias,
                };
                self.push(name, op, vec![x], Meta::units(units))
            }
            Op::Conv2d(c) => {
                let per_out = c.group_inputs() * c.kernel[0] * c.kernel[1];
                let taps = c.kernel[0] * c.kernel[1];
                let channel_of = |i: usize| {
                    let (o, t) = (i / per_out, i % per_out);
                    c.first_input(o) + t / taps
                };
                let per_row = activation_follows && self.config.per_channel_weights;
                let (levels, units) =
                    self.project(&c.weights, per_out, per_row, &meta, channel_of)?;
                let mut conv = QConv {
                    in_channels: c.in_channels,
                    out_channels: c.out_channels,
                    groups: c.groups,
                    window: c.window(),
                    weights: levels,
                    bias: Vec::new(),
                    pad: meta.zero.clone(),
                };
                // The padding reads the zero point: what it adds is folded out of the bias.
                conv.bias = (0..c.out_channels)
                    .map(|o| {
                        let z: i64 = conv.kernel(o).map(|(w, ch)| w * meta.zero[ch]).sum();
                        (c.bias[o] as f64 / units[o]).round() as i64 - z
                    })
                    .collect();
                let op = QOp::Conv2d(conv);
                self.push(name, op, vec![x], Meta::units(units))
            }
            Op::AvgPool(p) | Op::SumPool(p) => {
                let unit = uniform(&meta, "pooling")?;
                let k = p.size() as i64;
                let unit = if matches!(op, Op::AvgPool(_)) {
                    unit / k as f64
                } else {
                    unit
                };
                let offset = meta.zero.iter().map(|z| -k * z).collect();
                let op = QOp::SumPool {
                    window: *p,
                    pad: meta.zero.clone(),
                    offset,
                };
                self.push(name, op, vec![x], Meta::plain(unit, shape.channels()))
            }
            Op::GlobalAvgPool => {
                let unit = uniform(&meta, "pooling")?;
                let n = shape.plane() as i64;
                let offset = meta.zero.iter().map(|z| -n * z).collect();
                let op = QOp::GlobalSumPool { offset };
                self.push(
                    name,
                    op,
                    vec![x],
                    Meta::plain(unit / n as f64, shape.channels()),
                )
            }
            Op::MaxPool(p) => self.push(name, QOp::MaxPool { window: *p }, vec![x], meta),
            Op::Relu => self.window(name, x, 0.0, f64::INFINITY),
            Op::Clip { min, max } => {
                if *min < 0.0 {
                    return Err(format!("a clip below zero ({min})"));
                }
                self.window(name, x, *min as f64, *max as f64)
            }
            Op::Add => {
                let y = ins[1];
                let other = self.metas[y].clone();
                let (ua, ub) = (
                    uniform(&meta, "an addition")?,
                    uniform(&other, "an addition")?,
                );
                let unit = ua.min(ub) / (1u64 << self.config.residual_bits) as f64;
                let scale = [(ua / unit).round() as i64, (ub / unit).round() as i64];
                let offset = meta
                    .zero
                    .iter()
                    .zip(&other.zero)
                    .map(|(a, b)| -(scale[0] * a + scale[1] * b))
                    .collect();
                let op = QOp::Add { scale, offset };
                self.push(name, op, vec![x, y], Meta::plain(unit, shape.channels()))
            }
            Op::Affine(a) => {
                let unit = uniform(&meta, "an affine map")?;
                let s = a.scale[0] as f64;
                if s <= 0.0 || s.is_nan() || a.scale.iter().any(|&v| v != a.scale[0]) {
                    return Err(
                        "a per-channel or non-positive factor inside the network (such a factor \
                         folds into the linear layer before it, or belongs in front of the network)"
                            .into(),
                    );
                }
                let unit = unit * s;
                let offset = a
                    .shift
                    .iter()
                    .zip(&meta.zero)
                    .map(|(&t, &z)| (t as f64 / unit).round() as i64 - z)
                    .collect();
                self.push(
                    name,
                    QOp::Offset { offset },
                    vec![x],
                    Meta::plain(unit, shape.channels()),
                )
            }
            Op::Flatten => {
                let plane = shape.plane();
                let expand = |v: &[f64]| {
                    v.iter()
                        .flat_map(|&u| std::iter::repeat_n(u, plane))
                        .collect()
                };
                let meta = Meta {
                    unit: expand(&meta.unit),
                    zero: meta
                        .zero
                        .iter()
                        .flat_map(|&z| std::iter::repeat_n(z, plane))
                        .collect(),
                };
                self.push(name, QOp::Flatten, vec![x], meta)
            }
            Op::Reshape(to) => {
                let unit = uniform(&meta, "a reshape")?;
                let z = meta.zero[0];
                if meta.zero.iter().any(|&v| v != z) {
                    return Err("a reshape of channels with different zero points".into());
                }
                let meta = Meta {
                    unit: vec![unit; to.channels()],
                    zero: vec![z; to.channels()],
                };
                self.push(name, QOp::Reshape(*to), vec![x], meta)
            }
            Op::Softmax => Err("a softmax before the end".into()),
        }
    }

    /// Alternating projection of a layer's weights, each multiplied by the unit of the
    /// input channel it reads (`channel_of(i)` for weight `i`), over the whole layer or row by
    /// row (`per_row`, rows of `row` weights); returns the levels and each output's unit.
    /// With one input unit the weights are projected as they are and the unit multiplies the
    /// scale (the MNIST window form's arithmetic, bit for bit).
    fn project(
        &self,
        weights: &[f32],
        row: usize,
        per_row: bool,
        meta: &Meta,
        channel_of: impl Fn(usize) -> usize,
    ) -> Result<(Vec<i8>, Vec<f64>), String> {
        let bits = self.config.bits;
        let input_unit = meta.uniform_unit();
        let scaled: Vec<f32> = match input_unit {
            Some(_) => weights.to_vec(),
            None => weights
                .iter()
                .enumerate()
                .map(|(i, &w)| (w as f64 * meta.unit[channel_of(i)]) as f32)
                .collect(),
        };
        let chunk = if per_row { row } else { scaled.len() };
        let (mut levels, mut units) = (Vec::with_capacity(scaled.len()), Vec::new());
        for part in scaled.chunks(chunk) {
            let p = alternating_projection(part, bits, 10_000);
            let unit = match input_unit {
                Some(unit) => p.scale * unit,
                None => p.scale,
            };
            if !(unit.is_finite() && unit > 0.0) {
                return Err(format!("a weight scale of {unit}"));
            }
            levels.extend(p.levels.iter().map(|&v| v as i8));
            units.extend(std::iter::repeat_n(unit, part.len() / row));
        }
        Ok((levels, units))
    }

    /// A ReLU or a clip to `[min, max]` (`min >= 0`) on `x`, as a window per channel; the
    /// outputs of all channels in one unit.
    fn window(&mut self, name: &str, x: usize, min: f64, max: f64) -> Result<usize, String> {
        let meta = self.metas[x].clone();
        let shape = self.shapes[x];
        let (channels, plane) = (shape.channels(), shape.plane());
        let buckets = 1i64 << self.config.window_bits;
        let values = &self.values[x];
        // Each channel's pre-activations in units above its zero point.
        let samples = |c: usize| {
            let z = meta.zero[c];
            values
                .iter()
                .flat_map(move |v| v[c * plane..(c + 1) * plane].iter().map(move |&v| v - z))
        };
        let fit = |c: usize| -> (u32, i64, Vec<f64>) {
            let unit = meta.unit[c];
            // The largest pre-activation, capped where the clip saturates.
            let cap = if max.is_finite() {
                (max / unit).floor().max(1.0) as i64
            } else {
                i64::MAX
            };
            let m = samples(c).max().unwrap_or(0).max(1).min(cap);
            let need = m as f64 / (buckets as f64 - 0.5);
            let widest = need.log2().ceil().max(0.0) as u32;
            let activation = |v: i64| (v as f64 * unit).clamp(min, max);
            let nominal =
                |r: u32| -> Vec<f64> { (0..buckets).map(|i| activation(i << r)).collect() };
            if self.config.window_fit == WindowFit::Max {
                return (widest, m, nominal(widest));
            }
            (widest.saturating_sub(3)..=widest)
                .map(|r| {
                    let half = if r > 0 { 1i64 << (r - 1) } else { 0 };
                    let bucket = |v: i64| ((v + half) >> r).clamp(0, buckets - 1) as usize;
                    // Each bucket's mean activation (its nominal value when empty).
                    let mut sums = vec![(0f64, 0usize); buckets as usize];
                    for v in samples(c) {
                        let s = &mut sums[bucket(v)];
                        s.0 += activation(v);
                        s.1 += 1;
                    }
                    let table: Vec<f64> = sums
                        .iter()
                        .zip(nominal(r))
                        .map(|(&(sum, n), t)| if n > 0 { sum / n as f64 } else { t })
                        .collect();
                    let error: f64 = samples(c)
                        .map(|v| (activation(v) - table[bucket(v)]).powi(2))
                        .sum();
                    (error, r, table)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, r, table)| (r, m, table))
                .unwrap_or_else(|| (widest, m, nominal(widest)))
        };
        let fits: Vec<(u32, i64, Vec<f64>)> = (0..channels).into_par_iter().map(fit).collect();
        // One output unit for the layer, spread over [0, U]: the window form's is its largest
        // calibration maximum; otherwise the largest table value.
        let top = match self.config.window_fit {
            WindowFit::Max => {
                let c = (0..channels).max_by_key(|&c| fits[c].1).unwrap_or(0);
                fits[c].1 as f64 * meta.unit[c]
            }
            WindowFit::MeanSquare => fits
                .iter()
                .flat_map(|f| f.2.iter().copied())
                .fold(f64::MIN_POSITIVE, f64::max),
        };
        let unit_out = top / self.u as f64;
        let windows = fits
            .iter()
            .zip(&meta.zero)
            .map(|((r, _, table), &z)| {
                let half = if *r > 0 { 1i64 << (r - 1) } else { 0 };
                WindowChannel {
                    offset: half - z,
                    shift: *r,
                    table: table
                        .iter()
                        .map(|&t| ((t / unit_out).round() as i64).clamp(0, self.u))
                        .collect(),
                }
            })
            .collect();
        self.push(
            name,
            QOp::Window { channels: windows },
            vec![x],
            Meta::plain(unit_out, channels),
        )
    }
}

impl Meta {
    fn units(unit: Vec<f64>) -> Self {
        let n = unit.len();
        Self {
            unit,
            zero: vec![0; n],
        }
    }

    fn plain(unit: f64, channels: usize) -> Self {
        Self {
            unit: vec![unit; channels],
            zero: vec![0; channels],
        }
    }
}

/// The shape a node produces: [`super::node_ranges`] on all-zero intervals (the quantized
/// graph validates the rest, ranges included, once complete).
fn output_shape(op: &QOp, inputs: &[Shape]) -> Result<Shape, String> {
    let ranges: Vec<Vec<super::Interval>> = inputs
        .iter()
        .map(|s| vec![super::Interval { lo: 0, hi: 0 }; s.channels()])
        .collect();
    super::node_ranges(
        op,
        inputs.iter().copied().zip(ranges.iter()),
        i64::MAX,
        i64::MAX,
    )
    .map(|(s, _)| s)
}

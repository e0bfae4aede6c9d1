//! ONNX import: a model exported by PyTorch (`torch.onnx.export`) or skl2onnx becomes a
//! [`Graph`].
//!
//! The file is parsed by `onnx-ir` (docs/dependencies.md says why that reader), which
//! resolves every opset's attributes into typed configurations, lifts constants, infers static
//! shapes and drops no-ops (Identity, inference-mode Dropout). This module maps its nodes onto
//! the graph's operators:
//!
//! - Gemm, MatMul (+ Add) to [`Dense`]; Conv to [`Conv2d`]; MaxPool, AveragePool,
//!   GlobalAveragePool; Relu; Clip (ReLU6, Hardtanh); Flatten and Reshape; Add of two values
//!   (a residual connection); Softmax as the last node;
//! - the elementwise affine operators (BatchNormalization, Add, Sub, Mul, Div by a per-channel
//!   constant, skl2onnx's Scaler) are folded into the linear layer before them when nothing
//!   else reads that layer's output, and otherwise kept as one [`Affine`] node (a normalization
//!   of the input stays in front of the network, where the client applies it);
//! - skl2onnx's binary classifier head (`Sigmoid(z)`, `1 - Sigmoid(z)`, concatenated) becomes
//!   two logits `[0, z]` and a Softmax, which gives the same probabilities;
//! - only what the chosen output depends on is imported (a classifier's label output and its
//!   ArgMax are dropped; the float output is the one kept).
//!
//! Everything else is refused with [`NnError::Import`], naming the node (as `onnx-ir` names
//! it: the operator in lower case and its rank among nodes of that operator, such as
//! `tanh1`), the operator and what is missing. A batch dimension is allowed (dynamic or 1);
//! every other dimension must be static.

use std::collections::HashMap;
use std::path::Path;

use onnx_ir::ir::{ArgType, Argument, DType, TensorDataExt};
use onnx_ir::node::padding::{AutoPad, PaddingConfig2d};
use onnx_ir::Node as OnnxNode;

use crate::graph::{Affine, Conv2d, Dense, Graph, Node, Op, Pool2d, Shape};
use crate::NnError;

/// [`window`] of a pooling node: max and average pools' configurations have the same fields
/// but no common type.
macro_rules! pool_window {
    ($node:expr, $c:expr) => {
        window(
            $node,
            $c.kernel_size,
            $c.strides,
            &$c.padding,
            $c.dilation,
            $c.ceil_mode,
            &$c.auto_pad,
        )
    };
}

/// Largest ONNX file read: 256 MB, well above any network the encrypted engines run.
pub const MAX_ONNX_BYTES: u64 = 1 << 28;

/// Imports the ONNX model in `path`.
pub fn import_onnx_file(path: impl AsRef<Path>) -> Result<Graph, NnError> {
    let path = path.as_ref();
    let size = std::fs::metadata(path).map_err(NnError::io(path))?.len();
    if size > MAX_ONNX_BYTES {
        return Err(NnError::NotAModel {
            path: path.display().to_string(),
            reason: format!("{size} bytes, more than the {MAX_ONNX_BYTES} an ONNX model may take"),
        });
    }
    let bytes = crate::datasets::read_at_most(path, MAX_ONNX_BYTES)?;
    import_onnx(&bytes).map_err(|e| match e {
        NnError::NotAModel { reason, .. } => NnError::NotAModel {
            path: path.display().to_string(),
            reason,
        },
        e => e,
    })
}

/// Imports an ONNX model from its bytes.
pub fn import_onnx(bytes: &[u8]) -> Result<Graph, NnError> {
    let not_onnx = |reason: String| NnError::NotAModel {
        path: "ONNX model".into(),
        reason,
    };
    if bytes.len() as u64 > MAX_ONNX_BYTES {
        return Err(not_onnx(format!("{} bytes", bytes.len())));
    }
    // The reader is third-party code facing a hostile file: a panic inside it is one more
    // way for the file to be malformed, reported as such rather than ending the process.
    let parsed = std::panic::catch_unwind(|| onnx_ir::OnnxGraphBuilder::new().parse_bytes(bytes))
        .map_err(|_| not_onnx("the ONNX reader failed on it".into()))?
        .map_err(|e| not_onnx(e.to_string()))?;
    Importer::new(&parsed)?.run(&parsed)
}

/// What an ONNX value is in the graph being built.
#[derive(Clone, Copy, Debug)]
enum Value {
    /// A value of the graph (0 the input, `i + 1` node `i`'s output).
    Graph(usize),
    /// `Sigmoid(z)` of a one-wide `z`: only skl2onnx's binary head may read it.
    Logistic(usize),
    /// `1 - Sigmoid(z)`.
    LogisticComplement(usize),
}

struct Importer {
    input: Shape,
    nodes: Vec<Node>,
    shapes: Vec<Shape>,
    values: HashMap<String, Value>,
    /// How many nodes read each ONNX value, plus one for the chosen output.
    readers: HashMap<String, usize>,
    output: String,
}

fn error(node: &OnnxNode, reason: impl Into<String>) -> NnError {
    NnError::Import {
        node: node.name().to_string(),
        op: format!("{:?}", node.node_type()),
        reason: reason.into(),
    }
}

impl Importer {
    fn new(g: &onnx_ir::OnnxGraph) -> Result<Self, NnError> {
        let graph_error = |reason: String| NnError::Import {
            node: "graph".into(),
            op: "-".into(),
            reason,
        };
        let inputs: Vec<&Argument> = g.inputs.iter().filter(|a| a.value().is_none()).collect();
        let [input] = inputs[..] else {
            return Err(graph_error(format!(
                "{} inputs; a network here reads one tensor",
                inputs.len()
            )));
        };
        let shape =
            input_shape(input).map_err(|r| graph_error(format!("input {}: {r}", input.name)))?;
        let float_outputs: Vec<&Argument> = g
            .outputs
            .iter()
            .filter(|a| matches!(a.ty.elem_type(), DType::F32 | DType::F64))
            .collect();
        let [output] = float_outputs[..] else {
            return Err(graph_error(format!(
                "{} floating-point outputs; one is needed (the scores the class is read from)",
                float_outputs.len()
            )));
        };
        let mut readers: HashMap<String, usize> = HashMap::new();
        for node in &g.nodes {
            for a in node.inputs() {
                *readers.entry(a.name.clone()).or_default() += 1;
            }
        }
        *readers.entry(output.name.clone()).or_default() += 1;
        let mut values = HashMap::new();
        values.insert(input.name.clone(), Value::Graph(0));
        Ok(Self {
            input: shape,
            nodes: Vec::new(),
            shapes: vec![shape],
            values,
            readers,
            output: output.name.clone(),
        })
    }

    fn run(mut self, g: &onnx_ir::OnnxGraph) -> Result<Graph, NnError> {
        // Only what the output depends on, walking back from it.
        let mut needed: std::collections::HashSet<&str> = [self.output.as_str()].into();
        let mut live = vec![false; g.nodes.len()];
        for (i, node) in g.nodes.iter().enumerate().rev() {
            if node
                .outputs()
                .iter()
                .any(|o| needed.contains(o.name.as_str()))
            {
                live[i] = true;
                needed.extend(node.inputs().iter().map(|a| a.name.as_str()));
            }
        }
        for (node, _) in g.nodes.iter().zip(&live).filter(|(_, &l)| l) {
            self.node(node)?;
        }
        let graph_error = |reason: String| NnError::Import {
            node: "graph".into(),
            op: "-".into(),
            reason,
        };
        match self.values.get(&self.output) {
            Some(&Value::Graph(v)) if v > 0 && v == self.nodes.len() => {}
            Some(&Value::Graph(_)) => {
                return Err(graph_error(
                    "the output is not the last value computed (or is the input)".into(),
                ))
            }
            _ => return Err(graph_error("the output is never computed".into())),
        }
        let graph = Graph {
            input: self.input,
            nodes: self.nodes,
        };
        graph.validate()?;
        Ok(graph)
    }

    /// The graph value an ONNX argument names.
    fn value(&self, node: &OnnxNode, a: &Argument) -> Result<usize, NnError> {
        match self.values.get(&a.name) {
            Some(&Value::Graph(v)) => Ok(v),
            Some(_) => Err(error(
                node,
                format!(
                    "reads the Sigmoid output {}: a Sigmoid is supported only as skl2onnx's \
                     binary classifier head",
                    a.name
                ),
            )),
            None if a.value().is_some() => Err(error(
                node,
                format!(
                    "a constant input ({}) where a computed value is expected",
                    a.name
                ),
            )),
            None => Err(error(
                node,
                format!("reads {}, which is not computed", a.name),
            )),
        }
    }

    fn push(&mut self, node: &OnnxNode, op: Op, inputs: Vec<usize>) -> Result<usize, NnError> {
        let shapes: Vec<Shape> = inputs.iter().map(|&v| self.shapes[v]).collect();
        let shape = op.output_shape(&shapes).map_err(|r| error(node, r))?;
        self.nodes.push(Node {
            name: node.name().to_string(),
            op,
            inputs,
        });
        self.shapes.push(shape);
        let v = self.nodes.len();
        self.bind(node, Value::Graph(v));
        Ok(v)
    }

    fn bind(&mut self, node: &OnnxNode, v: Value) {
        if let Some(o) = node.outputs().first() {
            self.values.insert(o.name.clone(), v);
        }
    }

    fn node(&mut self, node: &OnnxNode) -> Result<(), NnError> {
        let ins = node.inputs();
        let first = || ins.first().ok_or_else(|| error(node, "no input"));
        match node {
            OnnxNode::Constant(_) => Ok(()),
            OnnxNode::Identity(_) | OnnxNode::Dropout(_) => {
                let v = self.value(node, first()?)?;
                self.bind(node, Value::Graph(v));
                Ok(())
            }
            OnnxNode::Cast(c) => {
                if !matches!(c.config.to, DType::F32 | DType::F64) {
                    return Err(error(node, format!("a cast to {:?}", c.config.to)));
                }
                let v = self.value(node, first()?)?;
                self.bind(node, Value::Graph(v));
                Ok(())
            }
            OnnxNode::Linear(l) => {
                let x = self.value(node, first()?)?;
                let w = constant(node, ins.get(1), "weights")?;
                let (rows, cols) = matrix(node, &w)?;
                // Gemm-sourced weights are [out, in]; MatMul-sourced ones [in, out].
                let weights = if l.config.transpose_weight {
                    w.values
                } else {
                    transpose(&w.values, rows, cols)
                };
                let (outputs, inputs) = if l.config.transpose_weight {
                    (rows, cols)
                } else {
                    (cols, rows)
                };
                let bias = match ins.get(2) {
                    Some(b) if !b.is_optional() => {
                        broadcast(node, &constant(node, Some(b), "bias")?, outputs)?
                    }
                    _ => vec![0.0; outputs],
                };
                let dense = Dense {
                    inputs,
                    outputs,
                    weights,
                    bias,
                };
                self.push(node, Op::Dense(dense), vec![x]).map(drop)
            }
            OnnxNode::Gemm(gemm) => {
                let c = &gemm.config;
                if c.trans_a != 0 {
                    return Err(error(node, "transA = 1 (the input transposed)"));
                }
                let x = self.value(node, first()?)?;
                let w = constant(node, ins.get(1), "B")?;
                let (rows, cols) = matrix(node, &w)?;
                let (weights, outputs, inputs) = if c.trans_b != 0 {
                    (w.values, rows, cols)
                } else {
                    (transpose(&w.values, rows, cols), cols, rows)
                };
                let bias = match ins.get(2) {
                    Some(b) if !b.is_optional() => {
                        broadcast(node, &constant(node, Some(b), "C")?, outputs)?
                    }
                    _ => vec![0.0; outputs],
                };
                let dense = Dense {
                    inputs,
                    outputs,
                    weights: weights.iter().map(|w| w * c.alpha).collect(),
                    bias: bias.iter().map(|b| b * c.beta).collect(),
                };
                self.push(node, Op::Dense(dense), vec![x]).map(drop)
            }
            OnnxNode::MatMul(_) => {
                let x = self.value(node, first()?)?;
                let w = constant(node, ins.get(1), "the right operand")?;
                let (rows, cols) = matrix(node, &w)?;
                let dense = Dense {
                    inputs: rows,
                    outputs: cols,
                    weights: transpose(&w.values, rows, cols),
                    bias: vec![0.0; cols],
                };
                self.push(node, Op::Dense(dense), vec![x]).map(drop)
            }
            OnnxNode::Conv2d(conv) => {
                let c = &conv.config;
                if !matches!(c.auto_pad, AutoPad::NotSet | AutoPad::Valid) {
                    return Err(error(
                        node,
                        format!("auto_pad {:?} (explicit pads only)", c.auto_pad),
                    ));
                }
                let x = self.value(node, first()?)?;
                let w = constant(node, ins.get(1), "weights")?;
                let [out_channels, per_group, kh, kw] = w.dims[..] else {
                    return Err(error(node, format!("weights of shape {:?}", w.dims)));
                };
                if [kh, kw] != c.kernel_size {
                    return Err(error(node, "kernel_shape differs from the weights' shape"));
                }
                let bias = match ins.get(2) {
                    Some(b) if !b.is_optional() => {
                        broadcast(node, &constant(node, Some(b), "bias")?, out_channels)?
                    }
                    _ => vec![0.0; out_channels],
                };
                let conv = Conv2d {
                    in_channels: per_group * c.groups,
                    out_channels,
                    groups: c.groups,
                    kernel: c.kernel_size,
                    stride: c.stride,
                    padding: padding(&c.padding),
                    dilation: c.dilation,
                    weights: w.values,
                    bias,
                };
                self.push(node, Op::Conv2d(conv), vec![x]).map(drop)
            }
            OnnxNode::MaxPool2d(p) => {
                let c = &p.config;
                let pool = pool_window!(node, c)?;
                let x = self.value(node, first()?)?;
                self.push(node, Op::MaxPool(pool), vec![x]).map(drop)
            }
            OnnxNode::AveragePool2d(p) => {
                let c = &p.config;
                let pool = pool_window!(node, c)?;
                if !c.count_include_pad && pool.padding != [0; 4] {
                    return Err(error(
                        node,
                        "count_include_pad = 0 with padding (a divisor that changes with position)",
                    ));
                }
                let x = self.value(node, first()?)?;
                self.push(node, Op::AvgPool(pool), vec![x]).map(drop)
            }
            OnnxNode::GlobalAveragePool(_) => {
                let x = self.value(node, first()?)?;
                self.push(node, Op::GlobalAvgPool, vec![x]).map(drop)
            }
            OnnxNode::Relu(_) => {
                let x = self.value(node, first()?)?;
                self.push(node, Op::Relu, vec![x]).map(drop)
            }
            OnnxNode::Clip(clip) => {
                use onnx_ir::node::clip::ClipInput;
                let bound = |b: &Option<ClipInput>, default: f32| match b {
                    None => Ok(default),
                    Some(ClipInput::Static(v)) => Ok(*v as f32),
                    Some(ClipInput::Runtime(_)) => Err(error(node, "a bound computed at run time")),
                };
                let min = bound(&clip.config.min, f32::MIN)?;
                let max = bound(&clip.config.max, f32::MAX)?;
                let x = self.value(node, first()?)?;
                self.push(node, Op::Clip { min, max }, vec![x]).map(drop)
            }
            OnnxNode::Flatten(f) => {
                if f.config.axis != 1 {
                    return Err(error(
                        node,
                        format!("axis {} (1 only: the batch stays)", f.config.axis),
                    ));
                }
                let x = self.value(node, first()?)?;
                self.push(node, Op::Flatten, vec![x]).map(drop)
            }
            OnnxNode::Reshape(r) => {
                use onnx_ir::node::reshape::ReshapeInput;
                let ReshapeInput::Static(dims) = &r.config.shape else {
                    return Err(error(node, "a target shape computed at run time"));
                };
                let x = self.value(node, first()?)?;
                let shape = reshape_target(&self.shapes[x], dims).map_err(|r| error(node, r))?;
                self.push(node, Op::Reshape(shape), vec![x]).map(drop)
            }
            OnnxNode::Softmax(s) => {
                let x = self.value(node, first()?)?;
                if !matches!(self.shapes[x], Shape::Vector(_)) || s.config.axis != 1 {
                    return Err(error(
                        node,
                        "a softmax over anything but the features of a vector",
                    ));
                }
                self.push(node, Op::Softmax, vec![x]).map(drop)
            }
            OnnxNode::Sigmoid(_) => {
                let x = self.value(node, first()?)?;
                if self.shapes[x] != Shape::Vector(1) {
                    return Err(error(
                        node,
                        "a Sigmoid inside the network (supported only as a binary classifier's \
                         head on one logit)",
                    ));
                }
                self.bind(node, Value::Logistic(x));
                Ok(())
            }
            OnnxNode::Concat(_) => self.binary_head(node),
            OnnxNode::BatchNormalization(bn) => {
                use onnx_ir::node::batch_norm::BatchNormConfig;
                let BatchNormConfig::Static(config) = &bn.config else {
                    return Err(error(node, "statistics computed at run time"));
                };
                let eps = config.epsilon;
                let x = self.value(node, first()?)?;
                let channels = self.shapes[x].channels();
                let get = |i: usize, what: &str| {
                    broadcast(node, &constant(node, ins.get(i), what)?, channels)
                };
                let (gamma, beta) = (get(1, "scale")?, get(2, "bias")?);
                let (mean, var) = (get(3, "mean")?, get(4, "variance")?);
                let scale: Vec<f32> = gamma
                    .iter()
                    .zip(&var)
                    .map(|(&g, &v)| (g as f64 / (v as f64 + eps).sqrt()) as f32)
                    .collect();
                let shift = beta
                    .iter()
                    .zip(&mean)
                    .zip(&scale)
                    .map(|((&b, &m), &s)| b - m * s)
                    .collect();
                self.affine(node, x, Affine { scale, shift })
            }
            OnnxNode::Scaler(s) => {
                let x = self.value(node, first()?)?;
                let n = self.shapes[x].channels();
                let expand = |v: &Option<Vec<f32>>, default: f32| -> Result<Vec<f32>, NnError> {
                    match v.as_deref() {
                        None => Ok(vec![default; n]),
                        Some([one]) => Ok(vec![*one; n]),
                        Some(v) if v.len() == n => Ok(v.to_vec()),
                        Some(v) => Err(error(node, format!("{} values for {n} features", v.len()))),
                    }
                };
                let (scale, offset) = (
                    expand(&s.config.scale, 1.0)?,
                    expand(&s.config.offset, 0.0)?,
                );
                let shift = offset.iter().zip(&scale).map(|(o, s)| -o * s).collect();
                self.affine(node, x, Affine { scale, shift })
            }
            OnnxNode::Add(_) | OnnxNode::Sub(_) | OnnxNode::Mul(_) | OnnxNode::Div(_) => {
                self.arithmetic(node)
            }
            _ => Err(error(node, "an operator no Shroud engine runs")),
        }
    }

    /// Add, Sub, Mul, Div: of two computed values (Add only: a residual connection), or of a
    /// value and a per-channel constant (an affine map).
    fn arithmetic(&mut self, node: &OnnxNode) -> Result<(), NnError> {
        let [a, b] = node.inputs() else {
            return Err(error(node, format!("{} inputs", node.inputs().len())));
        };
        let (ca, cb) = (a.value().is_some(), b.value().is_some());
        if !ca && !cb {
            if !matches!(node, OnnxNode::Add(_)) {
                return Err(error(node, "a product or quotient of two computed values"));
            }
            let (x, y) = (self.value(node, a)?, self.value(node, b)?);
            return self.push(node, Op::Add, vec![x, y]).map(drop);
        }
        if ca && cb {
            return Err(error(
                node,
                "two constant operands (not folded by the reader)",
            ));
        }
        let (x_arg, c_arg, constant_first) = if ca { (b, a, true) } else { (a, b, false) };
        // 1 - Sigmoid(z), of skl2onnx's binary head.
        if let (OnnxNode::Sub(_), true, Some(Value::Logistic(z))) =
            (node, constant_first, self.values.get(&x_arg.name).copied())
        {
            let c = constant(node, Some(c_arg), "constant")?;
            if c.values.iter().all(|&v| v == 1.0) {
                self.bind(node, Value::LogisticComplement(z));
                return Ok(());
            }
        }
        let x = self.value(node, x_arg)?;
        let c = per_channel(
            node,
            &constant(node, Some(c_arg), "constant")?,
            self.shapes[x],
        )?;
        let (scale, shift) = match (node, constant_first) {
            (OnnxNode::Add(_), _) => (vec![1.0; c.len()], c),
            (OnnxNode::Sub(_), false) => (vec![1.0; c.len()], c.iter().map(|v| -v).collect()),
            (OnnxNode::Sub(_), true) => (vec![-1.0; c.len()], c),
            (OnnxNode::Mul(_), _) => (c.clone(), vec![0.0; c.len()]),
            (OnnxNode::Div(_), false) => {
                if c.contains(&0.0) {
                    return Err(error(node, "a division by zero"));
                }
                (c.iter().map(|v| 1.0 / v).collect(), vec![0.0; c.len()])
            }
            _ => return Err(error(node, "a constant divided by a computed value")),
        };
        self.affine(node, x, Affine { scale, shift })
    }

    /// `x * scale + shift` per channel: folded into the linear node that computes `x` when
    /// nothing else reads it, merged into an affine node likewise, or a node of its own.
    fn affine(&mut self, node: &OnnxNode, x: usize, a: Affine) -> Result<(), NnError> {
        if self.last_read_once(x) {
            let last = &mut self.nodes[x - 1];
            let folded = match &mut last.op {
                Op::Dense(d) => {
                    for k in 0..d.outputs {
                        for w in &mut d.weights[k * d.inputs..(k + 1) * d.inputs] {
                            *w *= a.scale[k];
                        }
                        d.bias[k] = d.bias[k] * a.scale[k] + a.shift[k];
                    }
                    true
                }
                Op::Conv2d(c) => {
                    let len = c.weights.len() / c.out_channels;
                    for o in 0..c.out_channels {
                        for w in &mut c.weights[o * len..(o + 1) * len] {
                            *w *= a.scale[o];
                        }
                        c.bias[o] = c.bias[o] * a.scale[o] + a.shift[o];
                    }
                    true
                }
                Op::Affine(prev) => {
                    for c in 0..prev.scale.len() {
                        prev.scale[c] *= a.scale[c];
                        prev.shift[c] = prev.shift[c] * a.scale[c] + a.shift[c];
                    }
                    true
                }
                _ => false,
            };
            if folded {
                self.bind(node, Value::Graph(x));
                return Ok(());
            }
        }
        self.push(node, Op::Affine(a), vec![x]).map(drop)
    }

    /// Whether `x` is the last node's output and one node at most reads it (under any of
    /// its names), so that the node computing it may be changed in place.
    fn last_read_once(&self, x: usize) -> bool {
        x > 0
            && x == self.nodes.len()
            && self
                .values
                .iter()
                .filter(|(_, v)| matches!(v, Value::Graph(g) if *g == x))
                .all(|(name, _)| self.readers.get(name).copied().unwrap_or(0) <= 1)
    }

    /// skl2onnx's binary head: `Concat(1 - Sigmoid(z), Sigmoid(z))` is `Softmax([0, z])`.
    fn binary_head(&mut self, node: &OnnxNode) -> Result<(), NnError> {
        let looked: Vec<Option<Value>> = node
            .inputs()
            .iter()
            .map(|a| self.values.get(&a.name).copied())
            .collect();
        let z = match looked[..] {
            [Some(Value::LogisticComplement(a)), Some(Value::Logistic(b))] if a == b => a,
            _ => {
                return Err(error(
                    node,
                    "a concatenation (supported only as skl2onnx's binary classifier head)",
                ))
            }
        };
        // Two logits [0, z]: fold into the dense layer computing z when it is the last node.
        let last = self.nodes.len();
        let read_once = self.last_read_once(z);
        let head = match self.nodes.last_mut() {
            Some(Node {
                op: Op::Dense(d), ..
            }) if z == last && d.outputs == 1 && read_once => {
                d.weights.splice(0..0, vec![0.0; d.inputs]);
                d.bias.insert(0, 0.0);
                d.outputs = 2;
                self.shapes[z] = Shape::Vector(2);
                z
            }
            _ => {
                let dense = Dense {
                    inputs: 1,
                    outputs: 2,
                    weights: vec![0.0, 1.0],
                    bias: vec![0.0, 0.0],
                };
                self.push(node, Op::Dense(dense), vec![z])?
            }
        };
        self.push(node, Op::Softmax, vec![head]).map(drop)
    }
}

/// A constant's values and dimensions.
struct Constant {
    values: Vec<f32>,
    dims: Vec<usize>,
}

fn constant(node: &OnnxNode, a: Option<&Argument>, what: &str) -> Result<Constant, NnError> {
    let a = a.ok_or_else(|| error(node, format!("no {what}")))?;
    let data = a.value().ok_or_else(|| {
        error(
            node,
            format!("{what} computed at run time (a constant is needed)"),
        )
    })?;
    let values = data
        .to_f32_vec()
        .map_err(|e| error(node, format!("{what}: {e:?}")))?;
    let dims: Vec<usize> = data.shape().iter().copied().collect();
    if values.iter().any(|v| !v.is_finite()) {
        return Err(error(
            node,
            format!("{what} holds a value that is not finite"),
        ));
    }
    Ok(Constant { values, dims })
}

fn matrix(node: &OnnxNode, c: &Constant) -> Result<(usize, usize), NnError> {
    match c.dims[..] {
        [rows, cols] => Ok((rows, cols)),
        _ => Err(error(
            node,
            format!("a weight tensor of shape {:?} (a matrix is needed)", c.dims),
        )),
    }
}

fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols)
        .flat_map(|c| (0..rows).map(move |r| values[r * cols + c]))
        .collect()
}

/// A constant of one value or of `n` values (any shape of that size) as `n` values.
fn broadcast(node: &OnnxNode, c: &Constant, n: usize) -> Result<Vec<f32>, NnError> {
    match c.values.len() {
        1 => Ok(vec![c.values[0]; n]),
        len if len == n => Ok(c.values.clone()),
        len => Err(error(
            node,
            format!("{len} values where {n} (or 1) are expected"),
        )),
    }
}

/// A constant applied elementwise to a value of `shape` as one value per channel: a scalar,
/// or a tensor whose only dimension above 1 is the channels' (`[C]` for a vector, `[C, 1, 1]`
/// or `[1, C, 1, 1]` for an image).
fn per_channel(node: &OnnxNode, c: &Constant, shape: Shape) -> Result<Vec<f32>, NnError> {
    let channels = shape.channels();
    if c.values.len() == 1 {
        return Ok(vec![c.values[0]; channels]);
    }
    // Align the constant's dimensions on the right, as ONNX broadcasting does.
    let full: Vec<usize> = match shape {
        Shape::Vector(n) => vec![1, n],
        Shape::Image {
            channels,
            height,
            width,
        } => vec![1, channels, height, width],
    };
    let channel_axis = 1;
    let offset = full.len().checked_sub(c.dims.len());
    let ok = offset.is_some_and(|o| {
        c.dims
            .iter()
            .enumerate()
            .all(|(i, &d)| d == 1 || (i + o == channel_axis && d == channels))
    });
    if !ok || c.values.len() != channels {
        return Err(error(
            node,
            format!(
                "a constant of shape {:?} on a value of shape {shape} (one value, or one per \
                 channel, is supported)",
                c.dims
            ),
        ));
    }
    Ok(c.values.clone())
}

/// A pooling window from its ONNX attributes: floor mode and explicit pads only.
fn window(
    node: &OnnxNode,
    kernel: [usize; 2],
    stride: [usize; 2],
    pads: &PaddingConfig2d,
    dilation: [usize; 2],
    ceil_mode: bool,
    auto_pad: &AutoPad,
) -> Result<Pool2d, NnError> {
    if ceil_mode {
        return Err(error(node, "ceil_mode = 1 (floor only)"));
    }
    if !matches!(auto_pad, AutoPad::NotSet | AutoPad::Valid) {
        return Err(error(
            node,
            format!("auto_pad {auto_pad:?} (explicit pads only)"),
        ));
    }
    Ok(Pool2d {
        kernel,
        stride,
        padding: padding(pads),
        dilation,
    })
}

fn padding(p: &PaddingConfig2d) -> [usize; 4] {
    match *p {
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
    }
}

/// The shape of the model's input without its batch dimension.
fn input_shape(a: &Argument) -> Result<Shape, String> {
    let ArgType::Tensor(t) = &a.ty else {
        return Err(format!("{:?} (a tensor is needed)", a.ty));
    };
    if !matches!(t.dtype, DType::F32 | DType::F64) {
        return Err(format!(
            "elements of type {:?} (floating point is needed)",
            t.dtype
        ));
    }
    let dims = t
        .static_shape
        .as_ref()
        .ok_or("a dynamic shape (static dimensions are needed but for the batch)")?;
    let fixed = |d: &Option<usize>| d.ok_or("a dynamic dimension besides the batch".to_string());
    let batch_ok = matches!(dims.first(), Some(None) | Some(Some(1)));
    match &dims[..] {
        [_, f] if batch_ok => Ok(Shape::Vector(fixed(f)?)),
        [_, c, h, w] if batch_ok => Ok(Shape::Image {
            channels: fixed(c)?,
            height: fixed(h)?,
            width: fixed(w)?,
        }),
        _ => Err(format!(
            "shape {dims:?} (a batch of vectors [N, F] or of images [N, C, H, W] is needed)"
        )),
    }
}

/// The shape a static Reshape target names, with its batch dimension, for a value of `from`.
fn reshape_target(from: &Shape, dims: &[i64]) -> Result<Shape, String> {
    let input_dims: Vec<usize> = match *from {
        Shape::Vector(n) => vec![1, n],
        Shape::Image {
            channels,
            height,
            width,
        } => vec![1, channels, height, width],
    };
    let total = from.len();
    let mut known = Vec::with_capacity(dims.len());
    let mut infer = None;
    for (i, &d) in dims.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                known.push(1);
            }
            0 => known.push(*input_dims.get(i).ok_or("a 0 past the input's rank")?),
            d if d > 0 => known.push(usize::try_from(d).map_err(|_| "a huge dimension")?),
            _ => return Err(format!("target {dims:?}")),
        }
    }
    let product = known
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("overflow")?;
    if let Some(i) = infer {
        // The batch is 1 here: -1 takes whatever is left.
        if product == 0 || !total.is_multiple_of(product) {
            return Err(format!("target {dims:?} for {total} values"));
        }
        known[i] = total / product;
    }
    let batch_first = |rest: &[usize]| -> Result<Shape, String> {
        match *rest {
            [n] => Ok(Shape::Vector(n)),
            [channels, height, width] => Ok(Shape::Image {
                channels,
                height,
                width,
            }),
            _ => Err(format!(
                "target {dims:?} (a vector or an image per example)"
            )),
        }
    };
    match known.split_first() {
        Some((1, rest)) => batch_first(rest),
        _ => Err(format!("target {dims:?} (the batch first)")),
    }
}

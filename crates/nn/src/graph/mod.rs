//! A network as a graph of layers: what a user brings (imported from ONNX, or built in
//! Shroud), independent of any dataset and of the engine that will run it.
//!
//! A [`Graph`] has one input of a known [`Shape`] and a list of [`Node`]s in evaluation order;
//! value 0 is the input and value `i + 1` the output of node `i`; the last node's output is
//! the graph's. Tensors are vectors (`[features]`) or images (`[channels, height, width]`), one
//! example at a time (the batch dimension of an exported model is dropped on import).
//!
//! The operators are those a quantized encrypted network is built of: linear layers
//! ([`Dense`], [`Conv2d`], average and sum pooling, a per-channel [`Affine`], residual
//! [`Op::Add`]), the nonlinearities (ReLU, clipped ReLU, max pooling), reshapes, and a final
//! [`Op::Softmax`] that the client applies after decryption. [`Graph::validate`] checks every
//! node's parameters against the shapes it infers before anything is evaluated, so a graph
//! that validates evaluates without error; [`Graph::eval`] is the float evaluator.

mod eval;
mod ops;

use serde::{Deserialize, Serialize};

pub use ops::{Affine, Conv2d, Dense, Pool2d};

use crate::NnError;

/// Largest number of elements of one tensor (a value or a weight): 2^26 (256 MB of `f32`),
/// far above any network an encrypted engine can run, and a bound on what a model file can
/// make the evaluators allocate.
pub const MAX_ELEMENTS: usize = 1 << 26;

/// Largest number of nodes of a graph.
pub const MAX_NODES: usize = 1 << 12;

/// The shape of one example's tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Shape {
    /// `[features]`.
    Vector(usize),
    /// `[channels, height, width]`, row-major.
    Image {
        /// Number of channels (planes).
        channels: usize,
        /// Rows of each channel.
        height: usize,
        /// Columns of each channel.
        width: usize,
    },
}

impl Shape {
    /// Elements of the tensor.
    pub fn len(&self) -> usize {
        match *self {
            Shape::Vector(n) => n,
            Shape::Image {
                channels,
                height,
                width,
            } => channels.saturating_mul(height).saturating_mul(width),
        }
    }

    /// Whether the tensor has no elements (a shape that [`Shape::check`] refuses).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channels: an image's; each feature of a vector counts as a channel of its own, which
    /// is how per-channel parameters (an [`Affine`]) apply to vectors.
    pub fn channels(&self) -> usize {
        match *self {
            Shape::Vector(n) => n,
            Shape::Image { channels, .. } => channels,
        }
    }

    /// `(channels, height, width)`; a vector is `n` channels of one element.
    pub fn chw(&self) -> (usize, usize, usize) {
        match *self {
            Shape::Vector(n) => (n, 1, 1),
            Shape::Image {
                channels,
                height,
                width,
            } => (channels, height, width),
        }
    }

    /// `(channels, height, width)` of an image; a vector is an error saying what needed an
    /// image.
    pub fn image(&self, what: &str) -> Result<(usize, usize, usize), String> {
        match *self {
            Shape::Image { .. } => Ok(self.chw()),
            Shape::Vector(_) => Err(format!("{what} needs an image, got a vector {self}")),
        }
    }

    /// Elements per channel.
    pub fn plane(&self) -> usize {
        match *self {
            Shape::Vector(_) => 1,
            Shape::Image { height, width, .. } => height.saturating_mul(width),
        }
    }

    /// Errors if the tensor is empty or larger than [`MAX_ELEMENTS`].
    pub fn check(&self) -> Result<(), String> {
        let dims = match *self {
            Shape::Vector(n) => vec![n],
            Shape::Image {
                channels,
                height,
                width,
            } => vec![channels, height, width],
        };
        let len = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(usize::MAX);
        if dims.contains(&0) || len > MAX_ELEMENTS {
            return Err(format!(
                "a tensor of shape {self} (at most {MAX_ELEMENTS} elements, none empty)"
            ));
        }
        Ok(())
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Vector(n) => write!(f, "[{n}]"),
            Shape::Image {
                channels,
                height,
                width,
            } => write!(f, "[{channels}, {height}, {width}]"),
        }
    }
}

/// What a node computes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// `W x + b` on a vector.
    Dense(Dense),
    /// A two-dimensional convolution on an image.
    Conv2d(Conv2d),
    /// `x * scale[c] + shift[c]` per channel (a folded normalization).
    Affine(Affine),
    /// The mean of each window (the divisor is the window's size, padding included).
    AvgPool(Pool2d),
    /// The sum of each window.
    SumPool(Pool2d),
    /// The largest value of each window (padding never wins).
    MaxPool(Pool2d),
    /// The mean of each channel: an image becomes a vector of its channels.
    GlobalAvgPool,
    /// `max(x, 0)`.
    Relu,
    /// `clamp(x, min, max)`: with `min = 0`, the clipped ReLU (ReLU6 and its kind).
    Clip {
        /// The lower bound, finite and below `max`.
        min: f32,
        /// The upper bound, finite and above `min`.
        max: f32,
    },
    /// An image read row by row as a vector.
    Flatten,
    /// The same elements in another shape of the same length.
    Reshape(Shape),
    /// The sum of two values of one shape (a residual connection).
    Add,
    /// `exp(x_i) / sum_j exp(x_j)` over a vector: only as the last node, where the client
    /// applies it after decryption (it does not change the class).
    Softmax,
}

impl Op {
    /// The operator's name in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Dense(_) => "Dense",
            Op::Conv2d(_) => "Conv2d",
            Op::Affine(_) => "Affine",
            Op::AvgPool(_) => "AvgPool",
            Op::SumPool(_) => "SumPool",
            Op::MaxPool(_) => "MaxPool",
            Op::GlobalAvgPool => "GlobalAvgPool",
            Op::Relu => "Relu",
            Op::Clip { .. } => "Clip",
            Op::Flatten => "Flatten",
            Op::Reshape(_) => "Reshape",
            Op::Add => "Add",
            Op::Softmax => "Softmax",
        }
    }

    /// How many values the operator reads.
    pub fn arity(&self) -> usize {
        match self {
            Op::Add => 2,
            _ => 1,
        }
    }

    /// The shape of the output for inputs of shapes `inputs`, or why they do not fit.
    pub(crate) fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
        let x = inputs[0];
        let image = |what: &str| x.image(what);
        let out = match self {
            Op::Dense(d) => {
                d.check()?;
                match x {
                    Shape::Vector(n) if n == d.inputs => Shape::Vector(d.outputs),
                    _ => {
                        return Err(format!(
                            "a dense layer of {} inputs on a tensor of shape {x}",
                            d.inputs
                        ))
                    }
                }
            }
            Op::Conv2d(c) => {
                c.check()?;
                let (channels, height, width) = image("a convolution")?;
                if channels != c.in_channels {
                    return Err(format!(
                        "a convolution of {} input channels on {channels}",
                        c.in_channels
                    ));
                }
                let (h, w) = c.window().output_size(height, width)?;
                Shape::Image {
                    channels: c.out_channels,
                    height: h,
                    width: w,
                }
            }
            Op::Affine(a) => {
                a.check()?;
                if a.scale.len() != x.channels() {
                    return Err(format!(
                        "{} per-channel factors on a tensor of shape {x}",
                        a.scale.len()
                    ));
                }
                x
            }
            Op::AvgPool(p) | Op::SumPool(p) | Op::MaxPool(p) => {
                let (channels, height, width) = image("pooling")?;
                let (h, w) = p.output_size(height, width)?;
                Shape::Image {
                    channels,
                    height: h,
                    width: w,
                }
            }
            Op::GlobalAvgPool => Shape::Vector(image("global pooling")?.0),
            Op::Relu | Op::Softmax => x,
            Op::Clip { min, max } => {
                if !(min.is_finite() && max.is_finite() && min < max) {
                    return Err(format!("clip to [{min}, {max}]"));
                }
                x
            }
            Op::Flatten => Shape::Vector(x.len()),
            Op::Reshape(s) => {
                s.check()?;
                if s.len() != x.len() {
                    return Err(format!("reshape of {x} to {s}"));
                }
                *s
            }
            Op::Add => {
                if inputs[1] != x {
                    return Err(format!("addition of {x} and {}", inputs[1]));
                }
                x
            }
        };
        out.check()?;
        Ok(out)
    }
}

/// One operator and the values it reads (0 the graph's input, `i + 1` node `i`'s output).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The name it had in the model it came from, for messages.
    pub name: String,
    /// What the node computes.
    pub op: Op,
    /// The values it reads, as many as [`Op::arity`] says, each computed before the node.
    pub inputs: Vec<usize>,
}

/// A network: one input, nodes in evaluation order, the last node's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// The shape of the input (one example, without a batch dimension).
    pub input: Shape,
    /// The nodes in evaluation order; node `i`'s output is value `i + 1`.
    pub nodes: Vec<Node>,
}

impl Graph {
    /// A graph that only chains: each node reads the previous one's output.
    pub fn sequential(input: Shape, ops: Vec<(String, Op)>) -> Result<Self, NnError> {
        let nodes = ops
            .into_iter()
            .enumerate()
            .map(|(i, (name, op))| Node {
                name,
                op,
                inputs: vec![i],
            })
            .collect();
        let graph = Graph { input, nodes };
        graph.validate()?;
        Ok(graph)
    }

    /// Checks every node (its inputs come before it, its parameters fit the shapes it reads,
    /// [`Op::Softmax`] only last) and returns the shape of every value: the input's, then
    /// each node's output.
    pub fn validate(&self) -> Result<Vec<Shape>, NnError> {
        let bad = |reason: String| NnError::InvalidGraph(reason);
        self.input.check().map_err(|e| bad(format!("input: {e}")))?;
        if self.nodes.is_empty() || self.nodes.len() > MAX_NODES {
            return Err(bad(format!(
                "{} nodes (1 to {MAX_NODES})",
                self.nodes.len()
            )));
        }
        let mut shapes = vec![self.input];
        for (i, node) in self.nodes.iter().enumerate() {
            let at = |reason: String| {
                bad(format!(
                    "node {i} ({}, {}): {reason}",
                    node.name,
                    node.op.name()
                ))
            };
            if node.inputs.len() != node.op.arity() {
                return Err(at(format!(
                    "{} inputs, expected {}",
                    node.inputs.len(),
                    node.op.arity()
                )));
            }
            if let Some(&v) = node.inputs.iter().find(|&&v| v > i) {
                return Err(at(format!(
                    "reads value {v}, which is not computed before it"
                )));
            }
            if matches!(node.op, Op::Softmax) && i + 1 != self.nodes.len() {
                return Err(at("softmax before the last node".into()));
            }
            let inputs: Vec<Shape> = node.inputs.iter().map(|&v| shapes[v]).collect();
            shapes.push(node.op.output_shape(&inputs).map_err(at)?);
        }
        Ok(shapes)
    }

    /// The shape of the output.
    pub fn output_shape(&self) -> Result<Shape, NnError> {
        let shapes = self.validate()?;
        Ok(shapes[shapes.len() - 1])
    }

    /// Parameters (weights, biases and per-channel factors).
    pub fn parameters(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| match &n.op {
                Op::Dense(d) => d.weights.len() + d.bias.len(),
                Op::Conv2d(c) => c.weights.len() + c.bias.len(),
                Op::Affine(a) => a.scale.len() + a.shift.len(),
                _ => 0,
            })
            .sum()
    }

    /// A line per node: name, operator, output shape.
    pub fn summary(&self) -> Result<String, NnError> {
        let shapes = self.validate()?;
        let mut s = format!("input {}\n", self.input);
        for (i, node) in self.nodes.iter().enumerate() {
            s += &format!(
                "{i:>3} {:<10} {:<24} -> {}\n",
                node.op.name(),
                node.name,
                shapes[i + 1]
            );
        }
        Ok(s)
    }
}

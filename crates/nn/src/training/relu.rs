//! The float network: fully connected layers with ReLU between them and softmax
//! cross-entropy on the logits, in `f32` (half the memory traffic of `f64` in the matrix
//! products, and far more precision than any quantized version keeps).

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::sgd::{Pass, Trace};
use crate::graph::{self, Graph, Op, Shape};
use crate::NnError;

/// The network of the design: 784 grey levels, two hidden ReLU layers, ten digits.
pub const MNIST_SIZES: [usize; 4] = [784, 500, 256, 10];

/// `z = x W^T + b`: `w` is `outputs x inputs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    /// The weights, `outputs x inputs`.
    pub w: Array2<f32>,
    /// The biases, one per output.
    pub b: Array1<f32>,
}

impl Dense {
    /// A layer of `inputs` inputs and `outputs` outputs with all weights and biases zero.
    pub fn zeros(inputs: usize, outputs: usize) -> Self {
        Self {
            w: Array2::zeros((outputs, inputs)),
            b: Array1::zeros(outputs),
        }
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.w.ncols()
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.w.nrows()
    }
}

/// Dense layers; every layer but the last is followed by a ReLU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatMlp {
    /// The layers in order, from the input to the logits.
    pub layers: Vec<Dense>,
}

impl FloatMlp {
    /// He-normal weights (standard deviation `sqrt(2 / inputs)`, right for ReLU) and zero
    /// biases, from a seeded generator.
    pub fn init(sizes: &[usize], seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let layers = sizes
            .windows(2)
            .map(|io| {
                let std = (2.0 / io[0] as f64).sqrt();
                let w = Array2::from_shape_simple_fn((io[1], io[0]), || {
                    let (u1, u2): (f64, f64) = (1.0 - rng.gen::<f64>(), rng.gen());
                    (std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
                });
                Dense {
                    w,
                    b: Array1::zeros(io[1]),
                }
            })
            .collect();
        Self { layers }
    }

    /// Checks what deserialization cannot: at least one layer, and shapes that chain.
    pub fn validate(&self) -> Result<(), NnError> {
        let chained = self
            .layers
            .windows(2)
            .all(|p| p[0].outputs() == p[1].inputs());
        let biases = self.layers.iter().all(|d| d.b.len() == d.outputs());
        if self.layers.is_empty() || !chained || !biases {
            return Err(NnError::InvalidConfig(
                "float model: layer shapes do not chain".into(),
            ));
        }
        let finite = self
            .layers
            .iter()
            .all(|d| d.w.iter().chain(&d.b).all(|v| v.is_finite()));
        if !finite {
            return Err(NnError::InvalidConfig(
                "float model: weights or biases that are not finite".into(),
            ));
        }
        Ok(())
    }

    /// Layer widths, inputs first.
    pub fn sizes(&self) -> Vec<usize> {
        std::iter::once(self.layers[0].inputs())
            .chain(self.layers.iter().map(Dense::outputs))
            .collect()
    }

    /// The logits (before softmax) of each row of `x`, one input per row.
    pub fn logits(&self, x: ArrayView2<f32>) -> Array2<f32> {
        self.forward(x).logits
    }

    /// A graph of this form (dense layers with a ReLU after each but the last, and maybe a
    /// final softmax) as the native network; anything else is refused.
    pub fn from_graph(graph: &Graph) -> Result<Self, NnError> {
        graph.validate()?;
        let mut ops: Vec<&Op> = graph.nodes.iter().map(|n| &n.op).collect();
        if matches!(ops.last(), Some(Op::Softmax)) {
            ops.pop();
        }
        let chained = graph.nodes.iter().enumerate().all(|(i, n)| n.inputs == [i]);
        let mut layers = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match (i % 2, op) {
                (0, Op::Dense(d)) => layers.push(Dense {
                    w: Array2::from_shape_vec((d.outputs, d.inputs), d.weights.clone())
                        .map_err(|e| NnError::InvalidGraph(e.to_string()))?,
                    b: Array1::from_vec(d.bias.clone()),
                }),
                (1, Op::Relu) if i + 1 < ops.len() => {}
                _ => {
                    return Err(NnError::InvalidGraph(format!(
                        "node {i} ({}) does not fit a dense ReLU network",
                        op.name()
                    )))
                }
            }
        }
        if !chained || ops.len().is_multiple_of(2) {
            return Err(NnError::InvalidGraph(
                "not a chain of dense layers with ReLUs between them".into(),
            ));
        }
        let mlp = Self { layers };
        mlp.validate()?;
        Ok(mlp)
    }

    /// The same network as a [`Graph`]: dense layers with a ReLU after each but the last.
    pub fn to_graph(&self) -> Result<Graph, NnError> {
        self.validate()?;
        let last = self.layers.len() - 1;
        let mut ops = Vec::new();
        for (l, d) in self.layers.iter().enumerate() {
            let dense = graph::Dense {
                inputs: d.inputs(),
                outputs: d.outputs(),
                weights: d.w.iter().copied().collect(),
                bias: d.b.to_vec(),
            };
            ops.push((format!("dense{l}"), Op::Dense(dense)));
            if l < last {
                ops.push((format!("relu{l}"), Op::Relu));
            }
        }
        Graph::sequential(Shape::Vector(self.layers[0].inputs()), ops)
    }
}

impl Pass for FloatMlp {
    fn forward(&self, x: ArrayView2<f32>) -> Trace {
        let last = self.layers.len() - 1;
        let mut trace = Trace::default();
        let mut a = x.to_owned();
        for (l, d) in self.layers.iter().enumerate() {
            let z = a.dot(&d.w.t()) + &d.b;
            trace.inputs.push(a);
            if l == last {
                trace.logits = z;
                break;
            }
            trace.gates.push(z.mapv(|v| f32::from(v > 0.0)));
            a = z.mapv(|v| v.max(0.0));
        }
        trace
    }

    fn weights(&self) -> Vec<&Array2<f32>> {
        self.layers.iter().map(|d| &d.w).collect()
    }
}

/// Index of the largest entry of each row; ties go to the lowest index.
pub fn argmax_rows(scores: ArrayView2<f32>) -> Vec<u8> {
    scores
        .axis_iter(Axis(0))
        .map(|row| {
            row.iter()
                .enumerate()
                .fold(0, |best, (i, &v)| if v > row[best] { i } else { best }) as u8
        })
        .collect()
}

/// Predictions for every row of `x`, in parallel chunks of rows.
pub fn predict_rows(
    x: ArrayView2<f32>,
    logits: impl Fn(ArrayView2<f32>) -> Array2<f32> + Sync,
) -> Vec<u8> {
    let chunks: Vec<_> = x.axis_chunks_iter(Axis(0), 500).collect();
    chunks
        .into_par_iter()
        .flat_map_iter(|c| argmax_rows(logits(c).view()))
        .collect()
}

/// The fraction of predictions equal to their labels.
pub fn accuracy(predictions: &[u8], labels: &[u8]) -> f64 {
    let hits = predictions
        .iter()
        .zip(labels)
        .filter(|(p, l)| p == l)
        .count();
    hits as f64 / labels.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn forward_is_relu_between_affine_layers() {
        let net = FloatMlp {
            layers: vec![
                Dense {
                    w: array![[1.0, -1.0], [0.5, 0.5]],
                    b: array![0.0, -1.0],
                },
                Dense {
                    w: array![[2.0, 1.0]],
                    b: array![0.25],
                },
            ],
        };
        // (1, 2): hidden (-1, 0.5) -> ReLU (0, 0.5) -> 0.5 + 0.25; (3, 1): (2, 1) -> 4 + 1 + 0.25.
        let x = array![[1.0f32, 2.0], [3.0, 1.0]];
        let logits = net.logits(x.view());
        assert_eq!(logits, array![[0.75f32], [5.25]]);
        assert_eq!(net.sizes(), vec![2, 2, 1]);
        assert_eq!(
            argmax_rows(array![[0.0f32, 2.0, 2.0], [5.0, 1.0, 0.0]].view()),
            vec![1, 0]
        );
        assert_eq!(accuracy(&[1, 0, 3], &[1, 2, 3]), 2.0 / 3.0);
    }

    #[test]
    fn init_is_seeded_he_normal() {
        let a = FloatMlp::init(&[400, 300, 10], 3);
        assert_eq!(a, FloatMlp::init(&[400, 300, 10], 3));
        assert_ne!(a, FloatMlp::init(&[400, 300, 10], 4));
        let w = &a.layers[0].w;
        let std = (w.mapv(|v| v * v).mean().unwrap()).sqrt();
        assert!((std - (2.0f32 / 400.0).sqrt()).abs() < 0.003, "{std}");
    }
}

//! Mini-batch SGD with momentum, shared by float training and quantization-aware fine-tuning.
//!
//! Both train float ("shadow") weights; they differ only in the forward pass. A [`Learner`]
//! hands out, for each batch, the network its forward pass runs on (the float weights
//! themselves, or their quantized version); the backward pass treats that network as if it
//! were the float one (the straight-through estimator), and the resulting gradient updates the
//! float weights. Each batch is cut into one chunk per thread, whose gradients are summed.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::relu::{Dense, FloatMlp};
use crate::training::square::epoch_batches;
use crate::NnError;

/// What a forward pass leaves for the backward pass.
#[derive(Default)]
pub struct Trace {
    /// The input of each layer.
    pub inputs: Vec<Array2<f32>>,
    /// For each hidden layer, the derivative of its output with respect to its pre-activation
    /// (1 where the ReLU passes, 0 where it or a saturation cuts).
    pub gates: Vec<Array2<f32>>,
    /// The logits, one row per input.
    pub logits: Array2<f32>,
    /// The largest magnitudes each scaling layer saw, one per maximum it tracks (quantized
    /// passes only).
    pub maxima: Vec<Vec<f32>>,
}

/// A network a batch runs through.
pub trait Pass: Sync {
    /// Runs the inputs `x` (one per row) through the network, keeping what the backward
    /// pass needs.
    fn forward(&self, x: ArrayView2<f32>) -> Trace;
    /// The weight matrices the forward pass used, for back-propagation.
    fn weights(&self) -> Vec<&Array2<f32>>;
}

/// A model under training: its float weights, and the network each batch runs through.
pub trait Learner {
    /// The network a batch runs through.
    type Pass: Pass;
    /// The network of the next batch (a learner may advance its own state to make it).
    fn pass(&mut self) -> Self::Pass;
    /// The float weights the gradients update.
    fn shadow_mut(&mut self) -> &mut FloatMlp;
    /// The maxima of one batch, for running statistics.
    fn observe(&mut self, maxima: &[Vec<f32>]);
}

impl Learner for FloatMlp {
    type Pass = FloatMlp;

    fn pass(&mut self) -> FloatMlp {
        self.clone()
    }

    fn shadow_mut(&mut self) -> &mut FloatMlp {
        self
    }

    fn observe(&mut self, _: &[Vec<f32>]) {}
}

/// Softmax cross-entropy gradients of one chunk, scaled by `scale` (one over the batch size),
/// with the chunk's summed loss and its number of correct predictions.
pub fn backward(
    weights: &[&Array2<f32>],
    trace: &Trace,
    labels: &[u8],
    scale: f32,
) -> (Vec<Dense>, f64, usize) {
    let mut g = trace.logits.clone();
    let (mut loss, mut correct) = (0.0, 0);
    for (mut row, &label) in g.axis_iter_mut(Axis(0)).zip(labels) {
        let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let best = row.iter().position(|&v| v == max).unwrap_or(0);
        correct += usize::from(best == label as usize);
        // -log softmax through log-sum-exp: finite even where the label's probability
        // underflows.
        loss -= f64::from(row[label as usize] - max);
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        loss += f64::from(sum.ln());
        row.mapv_inplace(|v| v / sum * scale);
        row[label as usize] -= scale;
    }
    let mut grads = Vec::with_capacity(weights.len());
    for l in (0..weights.len()).rev() {
        grads.push(Dense {
            w: g.t().dot(&trace.inputs[l]),
            b: g.sum_axis(Axis(0)),
        });
        if l > 0 {
            g = g.dot(weights[l]) * &trace.gates[l - 1];
        }
    }
    grads.reverse();
    (grads, loss, correct)
}

/// Hyperparameters of SGD with momentum and a cosine learning-rate decay to zero.
#[derive(Clone, Debug, PartialEq)]
pub struct SgdConfig {
    /// Number of passes over the training set.
    pub epochs: usize,
    /// Samples per step (the last batch of an epoch may be smaller).
    pub batch: usize,
    /// Initial learning rate, decayed along a cosine to zero over all the steps.
    pub lr: f32,
    /// Momentum: the fraction of the previous step's velocity carried into the next.
    pub momentum: f32,
    /// L2 penalty on the weights (not the biases).
    pub weight_decay: f32,
    /// Seed of every epoch's shuffle (see [`epoch_batches`]).
    pub seed: u64,
}

impl SgdConfig {
    /// Float training of the 784-500-256-10 network: 98.35% on the test set in 20 epochs.
    pub fn float_default() -> Self {
        Self {
            epochs: 20,
            batch: 128,
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 5e-4,
            seed: 1,
        }
    }

    /// Quantization-aware fine-tuning of a trained float network: one short epoch at a
    /// tenth of the float learning rate.
    pub fn fine_tune_default() -> Self {
        Self {
            epochs: 1,
            lr: 0.005,
            ..Self::float_default()
        }
    }
}

/// Loss and accuracy over one epoch's batches, as trained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStats {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// Mean softmax cross-entropy over the epoch's samples, each as the network stood when
    /// its batch ran (before that batch's update).
    pub loss: f64,
    /// Fraction of the epoch's samples predicted right, in `[0, 1]`, as trained.
    pub train_acc: f64,
}

/// Runs `config.epochs` epochs; `on_batch` sees every batch's mean loss.
pub fn train<L: Learner>(
    learner: &mut L,
    x: &Array2<f32>,
    labels: &[u8],
    config: &SgdConfig,
    mut on_batch: impl FnMut(f64),
) -> Result<Vec<EpochStats>, NnError> {
    if config.batch == 0 || config.epochs == 0 || labels.is_empty() || x.nrows() != labels.len() {
        return Err(NnError::InvalidConfig(
            "batch, epochs and a labelled training set must be non-empty".into(),
        ));
    }
    let mut velocity: Vec<Dense> = learner
        .shadow_mut()
        .layers
        .iter()
        .map(|d| Dense::zeros(d.inputs(), d.outputs()))
        .collect();
    let steps = config.epochs * labels.len().div_ceil(config.batch);
    let mut step = 0;
    let mut history = Vec::with_capacity(config.epochs);
    for epoch in 1..=config.epochs {
        let (mut loss, mut correct) = (0.0, 0);
        for idx in epoch_batches(labels.len(), config.batch, config.seed, epoch) {
            let pass = learner.pass();
            let parts = idx.len().div_ceil(rayon::current_num_threads()).max(1);
            let scale = 1.0 / idx.len() as f32;
            let results: Vec<_> = idx
                .par_chunks(parts)
                .map(|chunk| {
                    let trace = pass.forward(x.select(Axis(0), chunk).view());
                    let chunk_labels: Vec<u8> = chunk.iter().map(|&i| labels[i]).collect();
                    let (grads, loss, correct) =
                        backward(&pass.weights(), &trace, &chunk_labels, scale);
                    (grads, loss, correct, trace.maxima)
                })
                .collect();
            let mut grads = None;
            let mut maxima: Vec<Vec<f32>> = Vec::new();
            let mut batch_loss = 0.0;
            for (g, l, c, m) in results {
                batch_loss += l;
                correct += c;
                if maxima.is_empty() {
                    maxima = m;
                } else {
                    for (a, b) in maxima.iter_mut().flatten().zip(m.iter().flatten()) {
                        *a = a.max(*b);
                    }
                }
                grads = Some(match grads {
                    None => g,
                    Some(acc) => add_grads(acc, &g),
                });
            }
            let batch_loss = batch_loss / idx.len() as f64;
            if !batch_loss.is_finite() {
                return Err(NnError::Diverged {
                    epoch,
                    loss: batch_loss,
                });
            }
            loss += batch_loss * idx.len() as f64;
            on_batch(batch_loss);
            learner.observe(&maxima);
            let lr =
                config.lr * 0.5 * (1.0 + (std::f32::consts::PI * step as f32 / steps as f32).cos());
            step += 1;
            let grads = grads.ok_or(NnError::Internal("a batch has at least one chunk"))?;
            let model = learner.shadow_mut();
            for ((d, g), v) in model.layers.iter_mut().zip(&grads).zip(&mut velocity) {
                let decayed = &g.w + &(&d.w * config.weight_decay);
                v.w = &v.w * config.momentum + &decayed;
                v.b = &v.b * config.momentum + &g.b;
                d.w.scaled_add(-lr, &v.w);
                d.b.scaled_add(-lr, &v.b);
            }
        }
        history.push(EpochStats {
            epoch,
            loss: loss / labels.len() as f64,
            train_acc: correct as f64 / labels.len() as f64,
        });
    }
    Ok(history)
}

fn add_grads(mut acc: Vec<Dense>, g: &[Dense]) -> Vec<Dense> {
    for (a, b) in acc.iter_mut().zip(g) {
        a.w += &b.w;
        a.b += &b.b;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn loss(net: &FloatMlp, x: &Array2<f32>, labels: &[u8]) -> f64 {
        let trace = net.forward(x.view());
        backward(&net.weights(), &trace, labels, 1.0).1
    }

    #[test]
    fn gradients_match_finite_differences() {
        let net = FloatMlp::init(&[4, 6, 3], 2);
        let x = array![[0.1f32, 0.5, 0.9, 0.3], [0.7, 0.2, 0.4, 0.8]];
        let labels = [2u8, 0];
        let trace = net.forward(x.view());
        let (grads, _, _) = backward(&net.weights(), &trace, &labels, 1.0);
        let eps = 1e-2;
        for (l, r, c) in [(0, 0, 0), (0, 5, 3), (1, 2, 4), (1, 0, 1)] {
            let (mut p, mut q) = (net.clone(), net.clone());
            p.layers[l].w[[r, c]] += eps;
            q.layers[l].w[[r, c]] -= eps;
            let fd = (loss(&p, &x, &labels) - loss(&q, &x, &labels)) / (2.0 * eps as f64);
            let g = grads[l].w[[r, c]] as f64;
            assert!((fd - g).abs() < 1e-3, "layer {l} [{r},{c}]: {fd} vs {g}");
        }
        let mut p = net.clone();
        p.layers[1].b[1] += eps;
        let fd = (loss(&p, &x, &labels) - loss(&net, &x, &labels)) / eps as f64;
        assert!((fd - grads[1].b[1] as f64).abs() < 1e-2);
    }

    #[test]
    fn sgd_learns_a_separable_toy_problem() {
        // Class = which of the four inputs is largest.
        let x = Array2::from_shape_fn((200, 4), |(i, j)| ((i * 7 + j * 13) % 17) as f32 / 17.0);
        let labels: Vec<u8> = crate::training::relu::argmax_rows(x.view());
        let mut net = FloatMlp::init(&[4, 16, 4], 1);
        let config = SgdConfig {
            epochs: 60,
            batch: 20,
            lr: 0.2,
            momentum: 0.9,
            weight_decay: 0.0,
            seed: 1,
        };
        let mut batches = 0;
        let history = train(&mut net, &x, &labels, &config, |_| batches += 1).unwrap();
        assert_eq!(batches, 600);
        let last = history.last().unwrap();
        assert!(last.train_acc > 0.9, "{last:?}");
        assert!(last.loss < history[0].loss);
        let bad = SgdConfig { batch: 0, ..config };
        assert!(train(&mut net, &x, &labels, &bad, |_| ()).is_err());
    }
}

//! The two-layer perceptron of the encrypted-training design: `o = W2 (W1 x)^2`, square
//! activation, no biases, MSE loss, plain SGD. Everything the encrypted trainer computes is
//! defined here in the clear, so the two can be compared step by step.

use ndarray::{Array2, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::datasets::iris::Dataset;
use crate::NnError;

/// Weights of an `inputs -> hidden -> outputs` network: `w1` is `hidden x inputs`, `w2` is
/// `outputs x hidden`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// First-layer weights, `hidden x inputs`.
    pub w1: Array2<f64>,
    /// Second-layer weights, `outputs x hidden`.
    pub w2: Array2<f64>,
}

/// Activations of a forward pass over a batch (one sample per row).
pub struct Forward {
    /// Hidden pre-activations `x W1^T`, `batch x hidden`.
    pub h: Array2<f64>,
    /// Hidden activations `h^2`, `batch x hidden`.
    pub a: Array2<f64>,
    /// Outputs `a W2^T`, `batch x outputs`.
    pub o: Array2<f64>,
}

impl Mlp {
    /// Gaussian weights of standard deviation `std`, from a seeded generator.
    pub fn init(inputs: usize, hidden: usize, outputs: usize, std: f64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut normal = |shape: (usize, usize)| {
            Array2::from_shape_simple_fn(shape, || {
                let (u1, u2): (f64, f64) = (1.0 - rng.gen::<f64>(), rng.gen());
                std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            })
        };
        Self {
            w1: normal((hidden, inputs)),
            w2: normal((outputs, hidden)),
        }
    }

    /// The largest absolute difference between corresponding weights of two models.
    pub fn max_abs_diff(&self, other: &Mlp) -> f64 {
        (&self.w1 - &other.w1)
            .iter()
            .chain((&self.w2 - &other.w2).iter())
            .fold(0f64, |m, v| m.max(v.abs()))
    }

    /// The forward pass over the batch `x` (one sample per row), keeping the activations the
    /// gradients need.
    pub fn forward(&self, x: &Array2<f64>) -> Forward {
        let h = x.dot(&self.w1.t());
        let a = h.mapv(|v| v * v);
        let o = a.dot(&self.w2.t());
        Forward { h, a, o }
    }

    /// Mean over samples and outputs of the squared error.
    pub fn loss(&self, x: &Array2<f64>, y: &Array2<f64>) -> f64 {
        let d = self.forward(x).o - y;
        d.mapv(|v| v * v).mean().unwrap_or(f64::NAN)
    }

    /// The predicted class of each row of `x`: the index of its largest output (the first on
    /// a tie).
    pub fn predict(&self, x: &Array2<f64>) -> Vec<usize> {
        self.forward(x)
            .o
            .axis_iter(Axis(0))
            .map(|row| {
                row.iter()
                    .enumerate()
                    .fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
            })
            .collect()
    }

    /// The fraction of the rows of `x` whose predicted class is the label, in `[0, 1]`.
    pub fn accuracy(&self, x: &Array2<f64>, labels: &[usize]) -> f64 {
        let hits = self
            .predict(x)
            .iter()
            .zip(labels)
            .filter(|(p, l)| p == l)
            .count();
        hits as f64 / labels.len().max(1) as f64
    }

    /// Gradients of the loss averaged over the batch: `(dW1, dW2)`.
    pub fn gradients(&self, x: &Array2<f64>, y: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
        let f = self.forward(x);
        let (batch, outputs) = y.dim();
        // d loss / d o for the mean over batch * outputs.
        let g_o = (&f.o - y) * (2.0 / (batch * outputs) as f64);
        let d_w2 = g_o.t().dot(&f.a);
        let g_h = g_o.dot(&self.w2) * &f.h * 2.0;
        let d_w1 = g_h.t().dot(x);
        (d_w1, d_w2)
    }

    /// One SGD step on a batch.
    pub fn step(&mut self, x: &Array2<f64>, y: &Array2<f64>, lr: f64) {
        let (d_w1, d_w2) = self.gradients(x, y);
        self.w1.scaled_add(-lr, &d_w1);
        self.w2.scaled_add(-lr, &d_w2);
    }
}

/// Training hyperparameters, shared by the plaintext and encrypted trainers.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Width of the hidden layer.
    pub hidden: usize,
    /// Number of passes over the training set.
    pub epochs: usize,
    /// Samples per SGD step (the last batch of an epoch may be smaller).
    pub batch: usize,
    /// Learning rate of SGD.
    pub lr: f64,
    /// Standard deviation of the initial weights.
    pub init_std: f64,
    /// Seed of the initial weights and of every epoch's shuffle (see [`epoch_batches`]).
    pub seed: u64,
    /// Fraction of the samples held out for testing, in `[0, 1)` (for callers of
    /// [`prepare_iris`](crate::datasets::iris::prepare_iris); the trainers take the split as given).
    pub test_fraction: f64,
}

impl Default for TrainConfig {
    /// The design's settings (4-10-3, lr 0.1, 400 epochs, 80/20 split) with batch 20 and small
    /// initial weights, the combination under which square activations train stably.
    fn default() -> Self {
        Self {
            hidden: 10,
            epochs: 400,
            batch: 20,
            lr: 0.1,
            init_std: 0.2,
            seed: 1,
            test_fraction: 0.2,
        }
    }
}

/// Metrics after one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStats {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// Mean squared error on the training set (see [`Mlp::loss`]).
    pub train_loss: f64,
    /// Accuracy on the training set, in `[0, 1]`.
    pub train_acc: f64,
    /// Mean squared error on the test set.
    pub test_loss: f64,
    /// Accuracy on the test set, in `[0, 1]`.
    pub test_acc: f64,
}

/// The batches of one epoch: a shuffle seeded by `(seed, epoch)`, cut into `batch`-sized
/// pieces (the last may be shorter). Both trainers visit samples in this order.
pub fn epoch_batches(samples: usize, batch: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..samples).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(
        seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    ));
    idx.chunks(batch.max(1)).map(<[usize]>::to_vec).collect()
}

/// Loss and accuracy of `model` on both sets; a non-finite or exploding loss is divergence.
pub fn evaluate(
    model: &Mlp,
    train: &Dataset,
    test: &Dataset,
    epoch: usize,
) -> Result<EpochStats, NnError> {
    let stats = EpochStats {
        epoch,
        train_loss: model.loss(&train.features, &train.one_hot()),
        train_acc: model.accuracy(&train.features, &train.labels),
        test_loss: model.loss(&test.features, &test.one_hot()),
        test_acc: model.accuracy(&test.features, &test.labels),
    };
    if !stats.train_loss.is_finite() || stats.train_loss > 1e3 {
        return Err(NnError::Diverged {
            epoch,
            loss: stats.train_loss,
        });
    }
    Ok(stats)
}

/// Plaintext SGD; `on_epoch` sees every epoch's metrics as they come.
pub fn train_plain(
    train: &Dataset,
    test: &Dataset,
    config: &TrainConfig,
    mut on_epoch: impl FnMut(&EpochStats),
) -> Result<(Mlp, Vec<EpochStats>), NnError> {
    if config.batch == 0 || config.epochs == 0 || train.is_empty() {
        return Err(NnError::InvalidConfig(
            "batch, epochs and training set must be non-empty".into(),
        ));
    }
    let mut model = Mlp::init(
        train.features.ncols(),
        config.hidden,
        train.classes(),
        config.init_std,
        config.seed,
    );
    let y = train.one_hot();
    let mut history = Vec::with_capacity(config.epochs);
    for epoch in 1..=config.epochs {
        for idx in epoch_batches(train.len(), config.batch, config.seed, epoch) {
            model.step(
                &train.features.select(Axis(0), &idx),
                &y.select(Axis(0), &idx),
                config.lr,
            );
        }
        let stats = evaluate(&model, train, test, epoch)?;
        on_epoch(&stats);
        history.push(stats);
    }
    Ok((model, history))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn gradients_match_finite_differences() {
        let m = Mlp::init(4, 5, 3, 0.5, 3);
        let x = array![[0.1, 0.5, 0.9, 0.3], [0.7, 0.2, 0.4, 0.8]];
        let y = array![[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
        let (g1, g2) = m.gradients(&x, &y);
        let eps = 1e-6;
        for (r, c) in [(0, 0), (2, 3), (4, 1)] {
            let (mut p, mut q) = (m.clone(), m.clone());
            p.w1[[r, c]] += eps;
            q.w1[[r, c]] -= eps;
            let fd = (p.loss(&x, &y) - q.loss(&x, &y)) / (2.0 * eps);
            assert!(
                (fd - g1[[r, c]]).abs() < 1e-6,
                "w1[{r},{c}]: {fd} vs {}",
                g1[[r, c]]
            );
        }
        for (r, c) in [(0, 0), (2, 4)] {
            let (mut p, mut q) = (m.clone(), m.clone());
            p.w2[[r, c]] += eps;
            q.w2[[r, c]] -= eps;
            let fd = (p.loss(&x, &y) - q.loss(&x, &y)) / (2.0 * eps);
            assert!((fd - g2[[r, c]]).abs() < 1e-6);
        }
    }

    #[test]
    fn batches_cover_every_sample_once() {
        let b = epoch_batches(120, 20, 5, 3);
        assert_eq!(b.len(), 6);
        let mut all: Vec<usize> = b.concat();
        all.sort_unstable();
        assert_eq!(all, (0..120).collect::<Vec<_>>());
        assert_ne!(b, epoch_batches(120, 20, 5, 4));
    }
}

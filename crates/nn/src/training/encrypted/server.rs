use std::time::{Duration, Instant};

use shroud_ckks::packing::{DiagonalMatrix, RowMatrix};
use shroud_ckks::{Encoder, Evaluator, GaloisKeys, Params, RelinKey};
use shroud_math::serde_bytes::ByteBuf;

use super::messages::{from_bytes, to_bytes, BatchMessage, WeightsMessage};
use super::packed::{Kit, Packed};
use super::{Packing, Shape};
use crate::NnError;

/// Time spent in each phase of the server's step, as in the design's Table 4.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PhaseTimes {
    /// The forward pass and the output error `o - y`.
    pub feed_forward: Duration,
    /// The transposition of `W2` (scaled by the learning-rate factor) for back-propagation.
    pub transition: Duration,
    /// The gradients of both layers, back-propagated error included.
    pub backprop: Duration,
    /// The SGD update of both weight matrices.
    pub update: Duration,
}

impl std::ops::AddAssign for PhaseTimes {
    fn add_assign(&mut self, o: PhaseTimes) {
        self.feed_forward += o.feed_forward;
        self.transition += o.transition;
        self.backprop += o.backprop;
        self.update += o.update;
    }
}

/// The model trainer: evaluation keys only, never a secret.
pub struct Server {
    params: Params,
    shape: Shape,
    eval: Evaluator,
    /// Encodes the masks of row packing; holds no secret.
    encoder: Encoder,
    lr: f64,
}

impl Server {
    /// A server from the client's serialized evaluation keys.
    pub fn new(
        params: &Params,
        shape: Shape,
        lr: f64,
        evaluation_keys: &[u8],
    ) -> Result<Self, NnError> {
        let (relin, galois): (ByteBuf, ByteBuf) = from_bytes(evaluation_keys)?;
        let eval = Evaluator::new(params)
            .with_relin_key(RelinKey::from_bytes(params, &relin)?)?
            .with_galois_keys(GaloisKeys::from_bytes(params, &galois)?)?;
        Ok(Self {
            params: params.clone(),
            shape,
            eval,
            encoder: Encoder::new(params),
            lr,
        })
    }

    /// The CKKS evaluator holding the client's relinearization and rotation keys.
    pub fn evaluator(&self) -> &Evaluator {
        &self.eval
    }

    /// One SGD step on an encrypted batch; returns the updated encrypted weights (one share
    /// per sample block, which the client's repacking adds up) and the time of each phase.
    pub fn step(&self, weights: &[u8], batch: &[u8]) -> Result<(Vec<u8>, PhaseTimes), NnError> {
        match self.shape.packing {
            Packing::Row => self.step_packed::<RowMatrix>(weights, batch),
            Packing::Diagonal(_) => self.step_packed::<DiagonalMatrix>(weights, batch),
        }
    }

    fn step_packed<M: Packed>(
        &self,
        weights: &[u8],
        batch: &[u8],
    ) -> Result<(Vec<u8>, PhaseTimes), NnError> {
        let Shape {
            inputs,
            hidden,
            outputs,
            ..
        } = self.shape;
        let shape = &self.shape;
        let k = Kit {
            eval: &self.eval,
            encoder: &self.encoder,
        };
        let e = &self.eval;
        let wm: WeightsMessage = from_bytes(weights)?;
        let (w1, w2): (M, M) = wm.open(&self.params, shape)?;
        let bm: BatchMessage = from_bytes(batch)?;
        let (x, y) = bm.open(&self.params)?;
        let count = bm.count;
        if count == 0 || count * shape.block() > self.params.slots() {
            return Err(NnError::InvalidConfig(format!("batch of {count} samples")));
        }
        let mut times = PhaseTimes::default();

        // c = lr * d loss / d o per unit error, for the mean squared error over the batch and
        // the outputs. It is folded into `W2^T` rather than applied to `o - y` on the way to
        // grad W1, where it would cost the deepest chain one more level; the shorter chain to
        // grad W2 applies it to `o - y` (and reuses the rotations of `a`).
        let c = self.lr * 2.0 / (outputs * count) as f64;
        let t = Instant::now();
        // The rotations of x and a serve the products here and the outer products below.
        let xr = M::prepare(&k, shape, &x)?;
        let h = w1.matvec(&k, &xr)?;
        let a = e.mul_relin_rescale(&h, &h)?;
        let ar = M::prepare(&k, shape, &a)?;
        let o = w2.matvec(&k, &ar)?;
        // Targets brought to exactly the output's level and scale.
        let mut y = e.mul_scalar_to(&*e.at_level(&y, o.level() + 1)?, 1.0, o.scale())?;
        e.rescale_assign(&mut y)?;
        let err = e.sub(&o, &y)?;
        times.feed_forward = t.elapsed();

        // W2^T is transposed as low as its product with e allows: key switching costs about
        // the square of the number of primes.
        let t = Instant::now();
        let w2t = w2
            .scaled_to(
                e,
                c,
                err.level() + shape.packing.transpose_levels(),
                w2.scale(),
            )?
            .transpose(&k)?;
        times.transition = t.elapsed();

        let t = Instant::now();
        // Three independent products, run side by side: the gradient of W2, the back-propagated
        // error t = (c W2)^T e, and the outer product of h and x. grad W1 = (2 t * h) x^T =
        // diag(t) (2 h x^T), so the outer product runs while `t` is computed and the gradient
        // costs one level after `t` instead of two. The outer product of h and x runs at the
        // level of e, as low as the gradient allows, where its relinearizations are cheapest.
        let ((grad_w2, hx), back) = rayon::join(
            || {
                rayon::join(
                    || {
                        let mut ce = e.mul_scalar(&err, c)?;
                        e.rescale_assign(&mut ce)?;
                        M::outer(&k, shape, &ce, &ar, (outputs, hidden), false)
                    },
                    || {
                        let h2 = e.mul_integer(&e.mod_drop_to(&h, err.level())?, 2)?;
                        M::outer(&k, shape, &h2, &xr, (hidden, inputs), true)
                    },
                )
            },
            || w2t.matvec(&k, &M::prepare(&k, shape, &err)?),
        );
        let (grad_w2, hx, back) = (grad_w2?, hx?, back?);
        let grad_w1 = hx.scale_rows(&k, &back, false)?;
        times.backprop = t.elapsed();

        // Each block holds W / count - grad_b; the client's repacking adds the blocks.
        let t = Instant::now();
        let share = 1.0 / count as f64;
        let update = |w: &M, grad: &M| {
            w.scaled_to(e, share, grad.level(), grad.scale())?
                .sub(e, grad)
        };
        let (w1n, w2n) = rayon::join(|| update(&w1, &grad_w1), || update(&w2, &grad_w2));
        let (w1n, w2n) = (w1n?, w2n?);
        times.update = t.elapsed();

        Ok((
            to_bytes(&WeightsMessage::new(&w1n, &w2n, &self.params)?),
            times,
        ))
    }
}

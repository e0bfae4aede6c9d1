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
    pub feed_forward: Duration,
    pub transition: Duration,
    pub backprop: Duration,
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
        // the outputs. It is folded into `a` and into `W2^T` rather than applied to `o - y`,
        // where it would cost the deepest chain one more level.
        let c = self.lr * 2.0 / (outputs * count) as f64;
        let t = Instant::now();
        let h = w1.matvec(&k, &x)?;
        let a = e.mul_relin_rescale(&h, &h)?;
        let o = w2.matvec(&k, &a)?;
        // Targets brought to exactly the output's level and scale.
        let y =
            e.rescale(&e.mul_scalar_to(&e.mod_drop_to(&y, o.level() + 1)?, 1.0, o.scale())?)?;
        let err = e.sub(&o, &y)?;
        times.feed_forward = t.elapsed();

        let t = Instant::now();
        let w2t = w2
            .scaled_to(e, c, w2.level() - 1, w2.scale())?
            .transpose(&k)?;
        times.transition = t.elapsed();

        let t = Instant::now();
        // Three independent products, run side by side: the gradient of W2, the back-propagated
        // error t = (c W2)^T e, and the outer product of h and x. grad W1 = (2 t * h) x^T =
        // diag(t) (2 h x^T), so the outer product runs while `t` is computed and the gradient
        // costs one level after `t` instead of two.
        let ((grad_w2, hx), back) = rayon::join(
            || {
                rayon::join(
                    || {
                        let ca = e.rescale(&e.mul_scalar_to(&a, c, err.scale())?)?;
                        M::outer(&k, shape, &err, &ca, (outputs, hidden), false)
                    },
                    || {
                        let h2 = e.mul_integer(&h, 2)?;
                        M::outer(&k, shape, &h2, &x, (hidden, inputs), true)
                    },
                )
            },
            || w2t.matvec(&k, &err),
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

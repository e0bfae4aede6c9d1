//! The design's two-phase network ([`QuantizedMlp`], docs/mnist.md section 3) on LWE
//! ciphertexts, bit-exact with its integer evaluator: steps 1 and 3 are plaintext-weighted
//! sums; step 2 is one bootstrap per block and neuron with the table
//! [`QuantizedLayer::block_output`], steps 4-5 one per neuron with
//! [`QuantizedLayer::neuron_output`]. A value in `[lo, hi]` enters its table as `v - lo`, so
//! every interval must hold at most `2^message_bits` values: only small networks fit. The
//! full 784-500-256-10 network runs in the window form, as a quantized graph
//! ([`GraphServer`](super::GraphServer)).
//!
//! [`TwoPhaseServer::new`] checks every interval and bootstrap failure probability before any
//! work: a model either runs exactly or is refused with the reason. The client is
//! [`LweClient`](super::client::LweClient); bytes travel between them.

use rayon::prelude::*;
use shroud_lwe::bootstrap::{
    BootstrapParams, Lut, LweCiphertext, OpCounts, ServerKey, MAX_LOG2_FAILURE,
};

use super::client::{Encoding, Form};
use super::wire::{from_bytes, to_bytes, Kind};
use crate::quant::two_phase::{QuantizedLayer, QuantizedMlp};
use crate::quant::{unsigned_max, Interval};
use crate::NnError;

/// The model owner's side: the two-phase model and the evaluation key, no secret.
pub struct TwoPhaseServer {
    key: ServerKey,
    model: QuantizedMlp,
}

impl TwoPhaseServer {
    /// Loads the evaluation key and checks every table of the network against the key's
    /// parameters before anything is encrypted.
    pub fn new(model: QuantizedMlp, evaluation_key: &[u8]) -> Result<Self, NnError> {
        let key = ServerKey::from_bytes(evaluation_key)?;
        model.validate()?;
        check_fits(&model, key.params())?;
        Ok(Self { key, model })
    }

    /// How the client encrypts images and reads logits for this model and key.
    pub fn encoding(&self) -> Encoding {
        Encoding {
            inputs: self.model.layers[0].inputs,
            outputs: self.model.layers.last().map_or(0, |l| l.outputs),
            form: Form::Padded {
                bits: self.key.params().message_bits,
            },
        }
    }

    /// What the evaluation key has run so far (bootstraps by key included).
    pub fn counts(&self) -> OpCounts {
        self.key.counts()
    }

    /// Bootstraps per image: one per block and neuron, and one per neuron.
    pub fn bootstraps(&self) -> usize {
        self.model
            .layers
            .iter()
            .map(|l| l.outputs * (l.blocks() + 1))
            .sum()
    }

    /// Runs the network on an encrypted image and returns the encrypted logits; `progress`
    /// is told of bootstraps done as they complete (from the worker threads).
    pub fn infer(
        &self,
        image: &[u8],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<u8>, NnError> {
        let params = self.key.params();
        let mut x = from_bytes(Kind::Image, params, image, self.encoding().inputs)?;
        for layer in &self.model.layers {
            x = self.layer(layer, &x, progress)?;
        }
        Ok(to_bytes(Kind::Logits, &x))
    }

    fn layer(
        &self,
        layer: &QuantizedLayer,
        x: &[LweCiphertext],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<LweCiphertext>, NnError> {
        let nb = layer.blocks();
        let u = (0..layer.outputs * nb)
            .into_par_iter()
            .map(|i| {
                let (k, j) = (i / nb, i % nb);
                let row = layer.row(k);
                let span = layer.block_span(j);
                let p = LweCiphertext::weighted_sum(span.map(|i| (&x[i], row[i] as i64)))?;
                let out = self.table(&p, layer.partial_range(k, j), |v| layer.block_output(k, v));
                progress(1);
                out
            })
            .collect::<Result<Vec<_>, NnError>>()?;
        (0..layer.outputs)
            .into_par_iter()
            .map(|k| {
                let a = LweCiphertext::weighted_sum(u[k * nb..][..nb].iter().map(|c| (c, 1)))?;
                let out = self.table(&a, layer.sum_range(k), |v| layer.neuron_output(k, v));
                progress(1);
                out
            })
            .collect()
    }

    /// Bootstraps `f` on a value known to lie in `range`.
    fn table(
        &self,
        ct: &LweCiphertext,
        range: Interval,
        f: impl Fn(i64) -> i64,
    ) -> Result<LweCiphertext, NnError> {
        let bits = self.key.params().message_bits;
        // Indices past the range's top never occur; they repeat its last value.
        let table: Vec<i64> = (0..1i64 << bits)
            .map(|m| f((range.lo + m).min(range.hi)))
            .collect();
        let lut = Lut::signed(&self.key, bits, &table)?;
        Ok(self.key.apply_lut(&ct.add_clear(-range.lo, bits), &lut)?)
    }
}

/// Checks every table's input interval and output values, and every bootstrap's failure
/// probability, against `params`.
fn check_fits(model: &QuantizedMlp, params: &BootstrapParams) -> Result<(), NnError> {
    let bits = params.message_bits;
    let capacity = 1i64 << bits;
    let refuse = |reason: String| {
        Err(NnError::EngineUnsupported {
            engine: "lwe",
            reason: format!(
                "{reason}; the bootstrap of {} holds {bits}-bit messages",
                params.name
            ),
        })
    };
    if unsigned_max(model.bits) >= capacity {
        return refuse(format!("{}-bit inputs", model.bits));
    }
    let fits = |r: Interval| r.hi - r.lo < capacity;
    let failure = |norm2: f64| params.log2_failure_probability(bits, norm2);
    for (l, layer) in model.layers.iter().enumerate() {
        let nb = layer.blocks();
        for k in 0..layer.outputs {
            let row = layer.row(k);
            for j in 0..nb {
                let r = layer.partial_range(k, j);
                if !fits(r) {
                    return refuse(format!(
                        "layer {l}, neuron {k}, block {j}: phase-one sums span [{}, {}]",
                        r.lo, r.hi
                    ));
                }
                let norm2: f64 = row[layer.block_span(j)]
                    .iter()
                    .map(|&w| (w as f64).powi(2))
                    .sum();
                if failure(norm2) > MAX_LOG2_FAILURE {
                    return refuse(format!(
                        "layer {l}, neuron {k}, block {j}: weights of squared norm {norm2} make a \
                         bootstrap fail with probability 2^{:.1}",
                        failure(norm2)
                    ));
                }
            }
            let r = layer.sum_range(k);
            if !fits(r) {
                return refuse(format!(
                    "layer {l}, neuron {k}: block sums span [{}, {}]",
                    r.lo, r.hi
                ));
            }
            if failure(nb as f64) > MAX_LOG2_FAILURE {
                return refuse(format!(
                    "layer {l}: sums of {nb} blocks make a bootstrap fail with probability 2^{:.1}",
                    failure(nb as f64)
                ));
            }
            let y = layer.output_range(k);
            if y.lo <= -capacity || y.hi >= capacity {
                return refuse(format!(
                    "layer {l}, neuron {k}: outputs span [{}, {}]",
                    y.lo, y.hi
                ));
            }
        }
    }
    Ok(())
}

//! The LWE engine: encrypted inference of a [`QuantizedMlp`] on LWE ciphertexts of small
//! integers, bit-exact with the integer evaluator (the contract of docs/mnist.md, section 3).
//!
//! Steps 1 and 3 of the contract are plaintext-weighted sums of ciphertexts (additively
//! homomorphic, no bootstrap). Step 2 is one programmable bootstrap per block and neuron, whose
//! table is [`QuantizedLayer::block_output`]; steps 4-5 are one bootstrap per neuron, whose
//! table is [`QuantizedLayer::neuron_output`] (bias, halving, ReLU, secure scale and saturation
//! all inside). The tables are the evaluator's own functions, so the engine agrees with it by
//! construction wherever every bootstrap decrypts correctly.
//!
//! A value known to lie in `[lo, hi]` enters its table as `v - lo`, so every such interval must
//! hold at most `2^message_bits` values, and the noise of every weighted sum must keep the
//! bootstrap's failure probability below [`MAX_LOG2_FAILURE`]. [`LweServer::new`] checks both
//! for every block and neuron before any work is done and names the first that does not fit:
//! a model either runs exactly or is refused.
//!
//! Roles: [`LweClient`] holds the secret key, encrypts an image and decrypts the logits;
//! [`LweServer`] holds the model and the evaluation key. Between them travel bytes.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use shroud_lwe::bootstrap::{
    BootstrapParams, ClientKey, Lut, LweCiphertext, ServerKey, MAX_LOG2_FAILURE,
};
use shroud_math::serde_bytes::ByteBuf;
use shroud_math::WireFormat;

use super::integer::{unsigned_max, Interval, QuantizedLayer, QuantizedMlp};
use crate::NnError;

const FORMAT: WireFormat = WireFormat {
    magic: *b"SHRM",
    version: 1,
    // 784 ciphertexts at the largest big LWE dimension (2^15 + 1 words) stay below this.
    max_bytes: 1 << 29,
};

/// What a message carries; checked on decoding so an image is never read as logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Kind {
    Image,
    Logits,
}

fn to_bytes(kind: Kind, cts: &[LweCiphertext]) -> Vec<u8> {
    let wire: Vec<ByteBuf> = cts.iter().map(|c| ByteBuf::from(c.to_bytes())).collect();
    FORMAT.write(kind, &wire)
}

fn from_bytes(
    kind: Kind,
    params: &BootstrapParams,
    bytes: &[u8],
    count: usize,
) -> Result<Vec<LweCiphertext>, NnError> {
    let wire: Vec<ByteBuf> = FORMAT
        .read(kind, bytes)
        .map_err(|e| NnError::Malformed(e.to_string()))?;
    if wire.len() != count {
        return Err(NnError::Malformed(format!(
            "{kind:?} of {} ciphertexts, expected {count}",
            wire.len()
        )));
    }
    wire.iter()
        .map(|b| LweCiphertext::from_bytes(params, b).map_err(NnError::from))
        .collect()
}

/// The data owner's side: secret key, encryption of images, decryption of logits.
pub struct LweClient {
    key: ClientKey,
}

impl LweClient {
    /// A fresh secret key (seeded from the OS) and the evaluation key for the server, as bytes.
    pub fn new(params: &BootstrapParams) -> Result<(Self, Vec<u8>), NnError> {
        let mut key = ClientKey::new(params)?;
        let evaluation_key = key.server_key().to_bytes();
        Ok((Self { key }, evaluation_key))
    }

    pub fn params(&self) -> &BootstrapParams {
        self.key.params()
    }

    /// Encrypts a quantized image (values in `[0, 2^message_bits)`, one ciphertext each).
    pub fn encrypt_image(&mut self, x: &[i32]) -> Result<Vec<u8>, NnError> {
        let bits = self.params().message_bits;
        let cts = x
            .iter()
            .map(|&v| {
                let v = u64::try_from(v).map_err(|_| {
                    NnError::InvalidConfig(format!("input {v} is negative: not a quantized image"))
                })?;
                Ok(self.key.encrypt_int(v, bits)?)
            })
            .collect::<Result<Vec<_>, NnError>>()?;
        Ok(to_bytes(Kind::Image, &cts))
    }

    /// The logits `y` of the last layer, `outputs` of them.
    pub fn decrypt_logits(&self, bytes: &[u8], outputs: usize) -> Result<Vec<i64>, NnError> {
        let bits = self.params().message_bits;
        from_bytes(Kind::Logits, self.params(), bytes, outputs)?
            .iter()
            .map(|c| Ok(self.key.decrypt_signed(c, bits)?))
            .collect()
    }
}

/// The model owner's side: the quantized model and the evaluation key, no secret.
pub struct LweServer {
    key: ServerKey,
    model: QuantizedMlp,
}

impl LweServer {
    /// Loads the evaluation key and checks that every table of `model` fits the bootstrap's
    /// message space and every bootstrap its failure bound.
    pub fn new(model: QuantizedMlp, evaluation_key: &[u8]) -> Result<Self, NnError> {
        model.validate()?;
        let key = ServerKey::from_bytes(evaluation_key)?;
        check_fits(&model, key.params())?;
        Ok(Self { key, model })
    }

    /// Bootstraps per image: one per block and neuron, and one per neuron.
    pub fn bootstraps(&self) -> usize {
        self.model
            .layers
            .iter()
            .map(|l| l.outputs * (l.blocks() + 1))
            .sum()
    }

    /// Runs the network on an encrypted image and returns the encrypted logits; `progress` is
    /// called once per bootstrap (from the worker threads).
    pub fn infer(
        &self,
        image: &[u8],
        progress: &(dyn Fn() + Sync),
    ) -> Result<Vec<u8>, NnError> {
        let params = self.key.params();
        let mut x = from_bytes(Kind::Image, params, image, self.model.layers[0].inputs)?;
        for layer in &self.model.layers {
            x = self.layer(layer, &x, progress)?;
        }
        Ok(to_bytes(Kind::Logits, &x))
    }

    fn layer(
        &self,
        layer: &QuantizedLayer,
        x: &[LweCiphertext],
        progress: &(dyn Fn() + Sync),
    ) -> Result<Vec<LweCiphertext>, NnError> {
        let nb = layer.blocks();
        let u = (0..layer.outputs * nb)
            .into_par_iter()
            .map(|i| {
                let (k, j) = (i / nb, i % nb);
                let row = &layer.weights[k * layer.inputs..][..layer.inputs];
                let span = layer.block_span(j);
                let p = LweCiphertext::weighted_sum(
                    span.clone().map(|i| (&x[i], row[i] as i64)),
                )?;
                let out = self.table(&p, layer.partial_range(k, j), |v| {
                    layer.block_output(k, v)
                });
                progress();
                out
            })
            .collect::<Result<Vec<_>, NnError>>()?;
        (0..layer.outputs)
            .into_par_iter()
            .map(|k| {
                let a = LweCiphertext::weighted_sum(u[k * nb..][..nb].iter().map(|c| (c, 1)))?;
                let out = self.table(&a, layer.sum_range(k), |v| layer.neuron_output(k, v));
                progress();
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
            reason: format!("{reason}; the bootstrap of {} holds {bits}-bit messages", params.name),
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
            let row = &layer.weights[k * layer.inputs..][..layer.inputs];
            for j in 0..nb {
                let r = layer.partial_range(k, j);
                if !fits(r) {
                    return refuse(format!(
                        "layer {l}, neuron {k}, block {j}: phase-one sums span [{}, {}]",
                        r.lo, r.hi
                    ));
                }
                let norm2: f64 = row[layer.block_span(j)].iter().map(|&w| (w as f64).powi(2)).sum();
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

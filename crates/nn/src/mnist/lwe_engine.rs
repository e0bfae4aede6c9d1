//! The LWE engine: encrypted inference of a quantized network on LWE ciphertexts, bit-exact
//! with its integer evaluator. Two forms of network:
//!
//! - **Window form** ([`WindowMlp`], docs/mnist.md): every dot product is one exact
//!   plaintext-weighted sum of wide integers (15-17 bits at scale `2^(64 - width)`, no
//!   bootstrap), then per hidden neuron one exact floor (`shroud_lwe`'s
//!   `ServerKey::floor_shift_many`) and one clamped 8-entry table (`clamped_table_many`):
//!   about nine bootstraps per neuron whatever the layer's width, the neurons of a layer in
//!   lock step so that their bootstraps share passes over the key. The logits are the last sums
//!   themselves. This is the form that runs the full 784-500-256-10 network.
//! - **Two-phase form** ([`QuantizedMlp`], docs/mnist.md section 3): steps 1 and 3 are
//!   plaintext-weighted sums; step 2 is one bootstrap per block and neuron with the table
//!   [`QuantizedLayer::block_output`], steps 4-5 one per neuron with
//!   [`QuantizedLayer::neuron_output`]. A value in `[lo, hi]` enters its table as `v - lo`,
//!   so every interval must hold at most `2^message_bits` values: only small networks fit.
//!
//! [`LweServer::new`] plans the whole network before any work: every interval, width and
//! bootstrap failure probability is checked, and the number of bootstraps is known. A model
//! either runs exactly or is refused with the reason.
//!
//! Roles: [`LweClient`] holds the secret key, encrypts an image as the server's public
//! [`Encoding`] says and decrypts the logits; [`LweServer`] holds the model and the evaluation
//! key. Between them travel bytes.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use shroud_lwe::bootstrap::{
    BootstrapParams, ClientKey, KeyLevel, Lut, LweCiphertext, OpCounts, ServerKey, WideCiphertext,
    WideShape, MAX_LOG2_FAILURE,
};

use super::integer::{unsigned_max, Interval, QuantizedLayer, QuantizedMlp};
use super::window::{WindowLayer, WindowMlp};
use super::wire::{fresh_keys, from_bytes, to_bytes, Kind};
use crate::NnError;

/// Hidden neurons evaluated in lock step: enough that every stage of bootstraps keeps both
/// threads busy with full groups of rotations sharing the key.
const LOCK_STEP_NEURONS: usize = 64;

/// The data owner's side: secret key, encryption of images, decryption of logits.
pub struct LweClient {
    key: ClientKey,
}

impl LweClient {
    /// A fresh secret key (seeded from the OS) and the evaluation key for the server, as bytes.
    pub fn new(params: &BootstrapParams) -> Result<(Self, Vec<u8>), NnError> {
        let (key, evaluation_key) = fresh_keys(params)?;
        Ok((Self { key }, evaluation_key))
    }

    /// A client around a secret key kept from an earlier run (`ClientKey::from_bytes`).
    pub fn from_key(key: ClientKey) -> Self {
        Self { key }
    }

    /// The secret key, to keep (`ClientKey::to_bytes` zeroizes its copy).
    pub fn key(&self) -> &ClientKey {
        &self.key
    }

    /// The LWE parameters of the client's key.
    pub fn params(&self) -> &BootstrapParams {
        self.key.params()
    }

    /// Encrypts a quantized image (values in `[0, U]`), one ciphertext per pixel.
    pub fn encrypt_image(&mut self, encoding: &Encoding, x: &[i32]) -> Result<Vec<u8>, NnError> {
        let cts = x
            .iter()
            .map(|&v| {
                Ok(match encoding.form {
                    Form::Padded { bits } => {
                        let v = u64::try_from(v).map_err(|_| {
                            NnError::InvalidConfig(format!(
                                "input {v} is negative: not a quantized image"
                            ))
                        })?;
                        self.key.encrypt_int(v, bits)?
                    }
                    Form::Scaled { input_width, .. } => {
                        self.key.encrypt_scaled(v as i64, input_width)?
                    }
                })
            })
            .collect::<Result<Vec<_>, NnError>>()?;
        Ok(to_bytes(Kind::Image, &cts))
    }

    /// The logits `y` of the last layer.
    pub fn decrypt_logits(&self, encoding: &Encoding, bytes: &[u8]) -> Result<Vec<i64>, NnError> {
        from_bytes(Kind::Logits, self.params(), bytes, encoding.outputs)?
            .iter()
            .map(|c| {
                Ok(match encoding.form {
                    Form::Padded { bits } => self.key.decrypt_signed(c, bits)?,
                    Form::Scaled { output_width, .. } => {
                        self.key.decrypt_scaled(c, output_width)?
                    }
                })
            })
            .collect()
    }
}

/// How the server wants inputs encrypted and how its logits read: public, sent to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encoding {
    /// Number of input values (an image's pixels, a quantized graph's input elements),
    /// encrypted one ciphertext each.
    pub inputs: usize,
    /// Number of output values (logits, a quantized graph's outputs), returned one
    /// ciphertext each.
    pub outputs: usize,
    /// How each value is encoded in its ciphertext.
    pub form: Form,
}

/// How an integer is encoded in an LWE ciphertext.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Form {
    /// Integers in `[0, 2^bits)` under a padding bit (the two-phase form's tables).
    Padded {
        /// Bits of the message space: the parameters' message bits.
        bits: u32,
    },
    /// Signed integers at scale `2^(64 - width)` (the window form's and quantized graphs'
    /// wide integers).
    Scaled {
        /// The width of the inputs the client encrypts, in bits.
        input_width: u32,
        /// The width of the outputs the client decrypts, in bits.
        output_width: u32,
    },
}

/// A network in either form the engine runs.
#[derive(Clone, Debug)]
pub enum LweModel {
    /// The two-phase form ([`QuantizedMlp`]): a bootstrap per block and neuron, for small
    /// networks only.
    TwoPhase(QuantizedMlp),
    /// The window form ([`WindowMlp`]): about nine bootstraps per hidden neuron, which runs
    /// the full MNIST network.
    Window(WindowMlp),
}

impl LweModel {
    /// `N`, the network's bit width.
    pub fn bits(&self) -> u32 {
        match self {
            LweModel::TwoPhase(m) => m.bits,
            LweModel::Window(m) => m.bits,
        }
    }

    /// Inputs, then each layer's outputs.
    pub fn sizes(&self) -> Vec<usize> {
        let (inputs, outputs): (usize, Vec<usize>) = match self {
            LweModel::TwoPhase(m) => (
                m.layers[0].inputs,
                m.layers.iter().map(|l| l.outputs).collect(),
            ),
            LweModel::Window(m) => (m.inputs(), m.layers.iter().map(|l| l.outputs).collect()),
        };
        std::iter::once(inputs).chain(outputs).collect()
    }

    /// What the integer evaluator says for a quantized input.
    pub fn logits(&self, x: &[i32]) -> Vec<i64> {
        match self {
            LweModel::TwoPhase(m) => m.logits(x),
            LweModel::Window(m) => m.logits(x),
        }
    }
}

/// The window form's plan: each layer's input width and every neuron's bootstraps.
#[derive(Clone, Debug)]
struct WindowPlan {
    /// Input width of each layer, then the logits' width.
    widths: Vec<u32>,
    bootstraps: Vec<Vec<usize>>,
    /// The key of each hidden layer's tables.
    levels: Vec<KeyLevel>,
}

/// The model owner's side: the quantized model and the evaluation key, no secret.
pub struct LweServer {
    key: ServerKey,
    engine: Engine,
}

/// A model with what planning it produced.
enum Engine {
    TwoPhase(QuantizedMlp),
    Window(WindowMlp, WindowPlan),
}

impl LweServer {
    /// Loads the evaluation key and plans the network: every interval, width and bootstrap
    /// is checked against the key's parameters before anything is encrypted.
    pub fn new(model: LweModel, evaluation_key: &[u8]) -> Result<Self, NnError> {
        let key = ServerKey::from_bytes(evaluation_key)?;
        let engine = match model {
            LweModel::TwoPhase(m) => {
                m.validate()?;
                check_fits(&m, key.params())?;
                Engine::TwoPhase(m)
            }
            LweModel::Window(m) => {
                m.validate()?;
                let plan = plan_window(&m, &key)?;
                Engine::Window(m, plan)
            }
        };
        Ok(Self { key, engine })
    }

    /// How the client encrypts images and reads logits for this model and key.
    pub fn encoding(&self) -> Encoding {
        match &self.engine {
            Engine::Window(m, plan) => Encoding {
                inputs: m.inputs(),
                outputs: m.layers.last().map_or(0, |l| l.outputs),
                form: Form::Scaled {
                    input_width: plan.widths[0],
                    output_width: plan.widths.last().copied().unwrap_or(0),
                },
            },
            Engine::TwoPhase(m) => Encoding {
                inputs: m.layers[0].inputs,
                outputs: m.layers.last().map_or(0, |l| l.outputs),
                form: Form::Padded {
                    bits: self.key.params().message_bits,
                },
            },
        }
    }

    /// What the evaluation key has run so far (bootstraps by key included).
    pub fn counts(&self) -> OpCounts {
        self.key.counts()
    }

    /// Bootstraps per image.
    pub fn bootstraps(&self) -> usize {
        match &self.engine {
            Engine::Window(_, plan) => plan.bootstraps.iter().flatten().sum(),
            Engine::TwoPhase(m) => m.layers.iter().map(|l| l.outputs * (l.blocks() + 1)).sum(),
        }
    }

    /// Runs the network on an encrypted image and returns the encrypted logits; `progress`
    /// is told of bootstraps done as they complete (from the worker threads).
    pub fn infer(
        &self,
        image: &[u8],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<u8>, NnError> {
        let params = self.key.params();
        let x = from_bytes(Kind::Image, params, image, self.encoding().inputs)?;
        let logits = match &self.engine {
            Engine::Window(m, plan) => self.run_window(m, plan, x, progress)?,
            Engine::TwoPhase(m) => {
                let mut x = x;
                for layer in &m.layers {
                    x = self.layer(layer, &x, progress)?;
                }
                x
            }
        };
        Ok(to_bytes(Kind::Logits, &logits))
    }

    fn run_window(
        &self,
        model: &WindowMlp,
        plan: &WindowPlan,
        image: Vec<LweCiphertext>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<LweCiphertext>, NnError> {
        let u = unsigned_max(model.bits);
        let fresh = self.key.planner().fresh_variance();
        let mut x: Vec<WideCiphertext> = image
            .into_iter()
            .map(|ct| WideCiphertext::new(ct, plan.widths[0], 0, u, fresh))
            .collect::<Result<_, _>>()?;
        let last = model.layers.len() - 1;
        for (l, layer) in model.layers.iter().enumerate() {
            let sums = (0..layer.outputs)
                .into_par_iter()
                .map(|k| {
                    let terms = x.iter().zip(layer.row(k)).map(|(c, &w)| (c, w as i64));
                    WideCiphertext::weighted_sum(terms, layer.neurons[k].offset)
                })
                .collect::<Result<Vec<_>, _>>()?;
            if l == last {
                x = sums;
                break;
            }
            // Neurons in lock step, a chunk at a time: each stage of bootstraps is shared by
            // the chunk's neurons (passes over the key shared, threads evenly loaded), and
            // the progress bar moves once per chunk.
            x = Vec::with_capacity(layer.outputs);
            for (c, chunk) in sums.chunks(LOCK_STEP_NEURONS).enumerate() {
                let neurons = &layer.neurons[c * LOCK_STEP_NEURONS..][..chunk.len()];
                let shifts: Vec<u32> = neurons.iter().map(|n| n.shift).collect();
                let tables: Vec<&[i64]> = neurons.iter().map(|n| n.table.as_slice()).collect();
                let t = self.key.floor_shift_many(chunk, &shifts)?;
                x.extend(self.key.clamped_table_many(
                    &t,
                    &tables,
                    plan.widths[l + 1],
                    plan.levels[l],
                )?);
                progress(
                    plan.bootstraps[l][c * LOCK_STEP_NEURONS..][..chunk.len()]
                        .iter()
                        .sum(),
                );
            }
        }
        Ok(x.into_iter().map(|v| v.ciphertext().clone()).collect())
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

/// Widths and bootstraps of a window-form network, every step checked against the key.
fn plan_window(model: &WindowMlp, key: &ServerKey) -> Result<WindowPlan, NnError> {
    let refuse = |l: usize, k: usize, e: shroud_lwe::LweError| NnError::EngineUnsupported {
        engine: "lwe",
        reason: format!(
            "layer {l}, neuron {k}: {e} (parameters {})",
            key.params().name
        ),
    };
    let w = model.window_bits;
    let width_of = |layer: &WindowLayer, hidden: bool| {
        (0..layer.outputs)
            .map(|k| {
                let r = layer.range(k, model.bits);
                let bits = r.bits();
                if hidden {
                    bits.max(layer.neurons[k].shift + w + 3)
                } else {
                    bits
                }
            })
            .max()
            .unwrap_or(2)
            .max(3)
    };
    let last = model.layers.len() - 1;
    let mut widths: Vec<u32> = model
        .layers
        .iter()
        .enumerate()
        .map(|(l, layer)| width_of(layer, l < last))
        .collect();
    // The logits are the last layer's sums, at its input scale.
    widths.push(widths[last]);
    // The interval of each input: the pixels' range, then the range of each hidden neuron's
    // table, which is what the engine tracks (narrower intervals can need fewer rounds).
    let mut inputs = vec![(0, unsigned_max(model.bits)); model.layers[0].inputs];
    let plan = |l: usize, inputs: &[(i64, i64)], variance: f64| {
        let layer = &model.layers[l];
        plan_window_layer(key, layer, w, widths[l], l == last, inputs, variance)
            .map_err(|(k, e)| refuse(l, k, e))
    };
    let mut bootstraps = vec![plan(0, &inputs, key.planner().fresh_variance())?];
    let mut levels = Vec::new();
    for (l, layer) in model.layers[..last].iter().enumerate() {
        inputs = layer
            .neurons
            .iter()
            .map(|n| {
                // Hidden layers' tables are not empty (validated).
                let lo = n.table.iter().min().copied().unwrap_or(0);
                let hi = n.table.iter().max().copied().unwrap_or(0);
                (lo, hi)
            })
            .collect();
        // The layer's tables through the cheapest key whose noise leaves the next layer's
        // plan as it is after the full key's: every neuron (or logit) still within the
        // bound, and no more bootstraps.
        let full = plan(
            l + 1,
            &inputs,
            key.planner().output_variance_at(KeyLevel::Full),
        )?;
        let total: usize = full.iter().sum();
        let (level, counts) = [KeyLevel::Coarse, KeyLevel::Light]
            .into_iter()
            .filter(|&level| key.params().resolve(level) == level)
            .find_map(|level| {
                plan(l + 1, &inputs, key.planner().output_variance_at(level))
                    .ok()
                    .filter(|counts| counts.iter().sum::<usize>() == total)
                    .map(|counts| (level, counts))
            })
            .unwrap_or((KeyLevel::Full, full));
        levels.push(level);
        bootstraps.push(counts);
    }
    if let Some(&wide) = widths.iter().find(|&&w| w > 62) {
        return Err(NnError::EngineUnsupported {
            engine: "lwe",
            reason: format!("accumulators of {wide} bits"),
        });
    }
    Ok(WindowPlan {
        widths,
        bootstraps,
        levels,
    })
}

/// Every neuron's bootstraps in one layer of a window-form network whose inputs lie in
/// `inputs` with noise `variance` each (no bootstraps in the last layer, whose sums the
/// client decrypts); on failure, the neuron and the reason.
fn plan_window_layer(
    key: &ServerKey,
    layer: &WindowLayer,
    window_bits: u32,
    width: u32,
    last: bool,
    inputs: &[(i64, i64)],
    variance: f64,
) -> Result<Vec<usize>, (usize, shroud_lwe::LweError)> {
    let mut counts = Vec::with_capacity(layer.outputs);
    for k in 0..layer.outputs {
        let r = layer.neurons[k].offset;
        let r =
            layer
                .row(k)
                .iter()
                .zip(inputs)
                .fold(Interval { lo: r, hi: r }, |r, (&w, &(a, b))| {
                    let (a, b) = (w as i64 * a, w as i64 * b);
                    Interval {
                        lo: r.lo + a.min(b),
                        hi: r.hi + a.max(b),
                    }
                });
        let norm2: f64 = layer.row(k).iter().map(|&w| (w as f64).powi(2)).sum();
        let shape = WideShape::new(width, r.lo, r.hi, norm2 * variance).map_err(|e| (k, e))?;
        if last {
            key.planner().plan_decryption(&shape).map_err(|e| (k, e))?;
            continue;
        }
        let (t, floor) = key
            .planner()
            .plan_floor_shift(&shape, layer.neurons[k].shift)
            .map_err(|e| (k, e))?;
        let table = key
            .planner()
            .plan_clamped_table(&t, window_bits)
            .map_err(|e| (k, e))?;
        counts.push(floor + table);
    }
    Ok(counts)
}

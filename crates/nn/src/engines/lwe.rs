//! The server of encrypted inference for any quantized graph on the LWE engine: the model, its
//! [`LwePlan`] and the evaluation key, no secret. The client is the shared
//! [`LweClient`](crate::engines::LweClient): it encrypts the quantized input as the
//! server's public [`Encoding`] says and decrypts the output; bytes travel between them.
//!
//! Linear nodes are plaintext-weighted sums of wide integers (padding and offsets are clear
//! constants); activations and fused max pools run their bootstraps in lock step, a chunk of
//! elements at a time, so that each stage of bootstraps shares passes over the key.

use std::sync::Arc;

use rayon::prelude::*;
use shroud_lwe::bootstrap::{
    BootstrapParams, KeyLevel, LweCiphertext, OpCounts, ServerKey, WideCiphertext,
};

use super::client::{Encoding, Form};
use super::plan::{plan, LwePlan};
use super::wire::{from_bytes, to_bytes, Kind};
use crate::graph::Shape;
use crate::quant::{QOp, QuantizedGraph, Tap, WindowChannel};
use crate::NnError;

/// Elements whose bootstraps run in lock step.
const LOCK_STEP: usize = 64;

/// A quantized graph compiled for one parameter set: the model, its plan and its values'
/// shapes. A service keeps one per hosted model and runs it with each client's key.
#[derive(Debug)]
pub struct CompiledGraph {
    params: BootstrapParams,
    model: QuantizedGraph,
    plan: LwePlan,
    shapes: Vec<Shape>,
}

impl CompiledGraph {
    /// Plans `model` for `params`: a model that cannot run is refused here, before any key
    /// or ciphertext exists.
    pub fn new(model: QuantizedGraph, params: &BootstrapParams) -> Result<Self, NnError> {
        let plan = plan(&model, params)?;
        let (shapes, _) = model.ranges()?;
        Ok(Self {
            params: params.clone(),
            model,
            plan,
            shapes,
        })
    }

    /// The LWE parameters the graph was planned for; only keys of these run it.
    pub fn params(&self) -> &BootstrapParams {
        &self.params
    }

    /// The plan: the width of every value and how each node's bootstraps run.
    pub fn plan(&self) -> &LwePlan {
        &self.plan
    }

    /// The quantized graph that was compiled.
    pub fn model(&self) -> &QuantizedGraph {
        &self.model
    }

    /// How the client encrypts inputs and reads outputs.
    pub fn encoding(&self) -> Encoding {
        Encoding {
            inputs: self.shapes[0].len(),
            outputs: self.shapes[self.shapes.len() - 1].len(),
            form: Form::Scaled {
                input_width: self.plan.widths[0],
                output_width: self.plan.widths[self.plan.widths.len() - 1],
            },
        }
    }
}

/// The model owner's side: a compiled graph and a client's evaluation key, no secret.
pub struct GraphServer {
    key: ServerKey,
    graph: Arc<CompiledGraph>,
}

impl GraphServer {
    /// Loads the evaluation key and compiles the model for its parameters.
    pub fn new(model: QuantizedGraph, evaluation_key: &[u8]) -> Result<Self, NnError> {
        let key = ServerKey::from_bytes(evaluation_key)?;
        let graph = Arc::new(CompiledGraph::new(model, key.params())?);
        Ok(Self { key, graph })
    }

    /// A compiled graph with a loaded key; refused unless the key is of the parameters the
    /// graph was planned for (the plan's widths and failure bounds hold for those only).
    pub fn with_key(graph: Arc<CompiledGraph>, key: ServerKey) -> Result<Self, NnError> {
        if key.params() != graph.params() {
            return Err(NnError::InvalidConfig(format!(
                "the evaluation key is of parameters {}, the model was compiled for {}",
                key.params().name,
                graph.params().name
            )));
        }
        Ok(Self { key, graph })
    }

    /// The compiled graph this server runs.
    pub fn graph(&self) -> &CompiledGraph {
        &self.graph
    }

    /// The compiled graph's plan ([`CompiledGraph::plan`]).
    pub fn plan(&self) -> &LwePlan {
        &self.graph.plan
    }

    /// The quantized graph this server runs.
    pub fn model(&self) -> &QuantizedGraph {
        &self.graph.model
    }

    /// How the client encrypts inputs and reads outputs.
    pub fn encoding(&self) -> Encoding {
        self.graph.encoding()
    }

    /// What the evaluation key has run so far.
    pub fn counts(&self) -> OpCounts {
        self.key.counts()
    }

    /// Runs the model on an encrypted input and returns the encrypted output; `progress` is
    /// told of bootstraps done as stages complete.
    pub fn infer(
        &self,
        input: &[u8],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<u8>, NnError> {
        let params = self.key.params();
        let cts = from_bytes(Kind::Image, params, input, self.graph.shapes[0].len())?;
        let u = self.graph.model.unsigned_max();
        let fresh = self.key.planner().fresh_variance();
        let input: Vec<WideCiphertext> = cts
            .into_iter()
            .map(|ct| WideCiphertext::new(ct, self.graph.plan.widths[0], 0, u, fresh))
            .collect::<Result<_, _>>()?;
        let mut values: Vec<Option<Vec<WideCiphertext>>> = vec![Some(input)];
        let last_reader: Vec<usize> = (0..self.graph.shapes.len())
            .map(|v| {
                (0..self.graph.model.nodes.len())
                    .filter(|&i| self.graph.model.nodes[i].inputs.contains(&v))
                    .max()
                    .unwrap_or(usize::MAX)
            })
            .collect();
        for (i, node) in self.graph.model.nodes.iter().enumerate() {
            let x = node.inputs[0];
            let input = values[x].as_ref().ok_or_else(|| lost(i))?;
            let out = match &node.op {
                QOp::Window { channels } if self.graph.plan.nodes[i].fused => {
                    // Buckets for the max pool: identity tables.
                    let identity: Vec<i64> = (0..channels[0].table.len() as i64).collect();
                    let tables = vec![identity; channels.len()];
                    self.windows(
                        input,
                        self.graph.shapes[x],
                        channels,
                        &tables,
                        self.graph.plan.bucket_width,
                        self.graph.plan.nodes[i].level.unwrap_or(KeyLevel::Full),
                        progress,
                    )?
                }
                QOp::Window { channels } => {
                    let tables: Vec<Vec<i64>> = channels.iter().map(|c| c.table.clone()).collect();
                    let level = self.graph.plan.nodes[i].level.unwrap_or(KeyLevel::Full);
                    self.windows(
                        input,
                        self.graph.shapes[x],
                        channels,
                        &tables,
                        self.graph.plan.widths[i + 1],
                        level,
                        progress,
                    )?
                }
                QOp::MaxPool { window } => {
                    let Some(source) = self.graph.plan.fused[i] else {
                        return Err(lost(i));
                    };
                    let QOp::Window { channels } = &self.graph.model.nodes[source].op else {
                        return Err(lost(i));
                    };
                    self.max_pool(
                        input,
                        self.graph.shapes[x],
                        self.graph.shapes[i + 1],
                        window,
                        channels,
                        self.graph.plan.widths[i + 1],
                        self.graph.plan.nodes[i].level.unwrap_or(KeyLevel::Full),
                        progress,
                    )?
                }
                op => {
                    let second = node.inputs.get(1).and_then(|&v| values[v].as_ref());
                    linear(
                        op,
                        input,
                        second,
                        self.graph.shapes[x],
                        self.graph.shapes[i + 1],
                    )?
                }
            };
            values.push(Some(out));
            // Free what no later node reads.
            for &v in &node.inputs {
                if last_reader[v] == i && v + 1 != self.graph.shapes.len() {
                    values[v] = None;
                }
            }
        }
        let output = values
            .pop()
            .flatten()
            .ok_or_else(|| lost(self.graph.model.nodes.len()))?;
        let cts: Vec<LweCiphertext> = output.into_iter().map(|v| v.ciphertext().clone()).collect();
        Ok(to_bytes(Kind::Logits, &cts))
    }

    /// `T_c[clamp((v + offset_c) >> r_c, 0, 2^w - 1)]` for every element, with the tables
    /// `tables[c]` (the activation's, or identity tables for buckets), written at `width`
    /// through the key at `level`.
    #[allow(clippy::too_many_arguments)]
    fn windows(
        &self,
        x: &[WideCiphertext],
        shape: Shape,
        channels: &[WindowChannel],
        tables: &[Vec<i64>],
        width: u32,
        level: KeyLevel,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<WideCiphertext>, NnError> {
        let plane = shape.plane();
        let shifted: Vec<WideCiphertext> = x
            .par_iter()
            .enumerate()
            .map(|(e, v)| WideCiphertext::weighted_sum([(v, 1)], channels[e / plane].offset))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(x.len());
        for (c, chunk) in shifted.chunks(LOCK_STEP).enumerate() {
            let first = c * LOCK_STEP;
            let shifts: Vec<u32> = (first..first + chunk.len())
                .map(|e| channels[e / plane].shift)
                .collect();
            let chunk_tables: Vec<&[i64]> = (first..first + chunk.len())
                .map(|e| tables[e / plane].as_slice())
                .collect();
            let before = self.key.counts().bootstraps;
            let t = self.key.floor_shift_many(chunk, &shifts)?;
            out.extend(
                self.key
                    .clamped_table_many(&t, &chunk_tables, width, level)?,
            );
            progress((self.key.counts().bootstraps - before) as usize);
        }
        Ok(out)
    }

    /// A max pool on buckets, then the activation's tables: `T_c[max_i t_i]` through the key
    /// at `level`.
    #[allow(clippy::too_many_arguments)]
    fn max_pool(
        &self,
        buckets: &[WideCiphertext],
        input: Shape,
        output: Shape,
        window: &crate::graph::Pool2d,
        channels: &[WindowChannel],
        width: u32,
        level: KeyLevel,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<WideCiphertext>, NnError> {
        let (
            Shape::Image {
                height, width: iw, ..
            },
            Shape::Image {
                channels: nc,
                height: oh,
                width: ow,
            },
        ) = (input, output)
        else {
            return Err(NnError::EngineUnsupported {
                engine: "lwe",
                reason: "a max pool on a vector".into(),
            });
        };
        let plane = height * iw;
        // The taps of every output, in output order.
        let taps: Vec<Vec<usize>> = (0..nc * oh * ow)
            .map(|o| {
                let (c, oy, ox) = (o / (oh * ow), o / ow % oh, o % ow);
                window
                    .taps(oy, ox, height, iw)
                    .flatten()
                    .map(|(y, x)| c * plane + y * iw + x)
                    .collect()
            })
            .collect();
        let top = channels[0].table.len() as i64;
        let identity: Vec<i64> = (0..top).collect();
        let mut maxima: Vec<WideCiphertext> = taps.iter().map(|t| buckets[t[0]].clone()).collect();
        let steps = taps.iter().map(Vec::len).max().unwrap_or(0);
        for j in 1..steps {
            let owners: Vec<usize> = (0..taps.len()).filter(|&o| taps[o].len() > j).collect();
            let before = self.key.counts().bootstraps;
            for chunk in owners.chunks(LOCK_STEP) {
                // m + relu(t - m) = max(t, m); relu of t - m in [-(2^w - 1), 2^w - 1] is the
                // identity table clamped to [0, 2^w - 1].
                let diffs: Vec<WideCiphertext> = chunk
                    .iter()
                    .map(|&o| {
                        WideCiphertext::weighted_sum(
                            [(&buckets[taps[o][j]], 1), (&maxima[o], -1)],
                            0,
                        )
                    })
                    .collect::<Result<_, _>>()?;
                let tables = vec![identity.as_slice(); chunk.len()];
                let relus = self.key.clamped_table_many(
                    &diffs,
                    &tables,
                    self.graph.plan.bucket_width,
                    KeyLevel::Full,
                )?;
                for (&o, r) in chunk.iter().zip(&relus) {
                    maxima[o] = WideCiphertext::weighted_sum([(&maxima[o], 1), (r, 1)], 0)?;
                }
            }
            progress((self.key.counts().bootstraps - before) as usize);
        }
        let per_channel = oh * ow;
        let mut out = Vec::with_capacity(maxima.len());
        for (c, chunk) in maxima.chunks(LOCK_STEP).enumerate() {
            let first = c * LOCK_STEP;
            let tables: Vec<&[i64]> = (first..first + chunk.len())
                .map(|o| channels[o / per_channel].table.as_slice())
                .collect();
            let before = self.key.counts().bootstraps;
            out.extend(self.key.clamped_table_many(chunk, &tables, width, level)?);
            progress((self.key.counts().bootstraps - before) as usize);
        }
        Ok(out)
    }
}

fn lost(node: usize) -> NnError {
    NnError::EngineUnsupported {
        engine: "lwe",
        reason: format!("node {node} reads a value the plan did not keep"),
    }
}

/// A linear node on wide integers: plaintext-weighted sums, clear constants.
fn linear(
    op: &QOp,
    x: &[WideCiphertext],
    second: Option<&Vec<WideCiphertext>>,
    input: Shape,
    output: Shape,
) -> Result<Vec<WideCiphertext>, NnError> {
    let (channels, height, width) = input.chw();
    let (_, oh, ow) = output.chw();
    let plane = height * width;
    let sums: Result<Vec<WideCiphertext>, _> = match op {
        QOp::Dense {
            inputs,
            outputs,
            weights,
            bias,
        } => (0..*outputs)
            .into_par_iter()
            .map(|k| {
                let row = &weights[k * inputs..(k + 1) * inputs];
                WideCiphertext::weighted_sum(
                    x.iter().zip(row).map(|(c, &w)| (c, w as i64)),
                    bias[k],
                )
            })
            .collect(),
        QOp::Conv2d(conv) => (0..conv.out_channels * oh * ow)
            .into_par_iter()
            .map(|e| {
                let (o, oy, ox) = (e / (oh * ow), e / ow % oh, e % ow);
                let mut constant = conv.bias[o];
                let mut terms = Vec::new();
                for (w, tap) in conv.terms(o, oy, ox, height, width) {
                    match tap {
                        Tap::Element(i) => terms.push((&x[i], w)),
                        Tap::Pad(c) => constant += w * conv.pad[c],
                    }
                }
                WideCiphertext::weighted_sum(terms, constant)
            })
            .collect(),
        QOp::SumPool {
            window,
            pad,
            offset,
        } => (0..channels * oh * ow)
            .into_par_iter()
            .map(|e| {
                let (c, oy, ox) = (e / (oh * ow), e / ow % oh, e % ow);
                let mut constant = offset[c];
                let mut terms = Vec::new();
                for at in window.taps(oy, ox, height, width) {
                    match at {
                        Some((iy, ix)) => terms.push((&x[c * plane + iy * width + ix], 1)),
                        None => constant += pad[c],
                    }
                }
                WideCiphertext::weighted_sum(terms, constant)
            })
            .collect(),
        QOp::GlobalSumPool { offset } => (0..channels)
            .into_par_iter()
            .map(|c| {
                WideCiphertext::weighted_sum(
                    x[c * plane..(c + 1) * plane].iter().map(|v| (v, 1)),
                    offset[c],
                )
            })
            .collect(),
        QOp::Add { scale, offset } => {
            let y = second.ok_or_else(|| lost(0))?;
            x.par_iter()
                .zip(y)
                .enumerate()
                .map(|(e, (a, b))| {
                    WideCiphertext::weighted_sum([(a, scale[0]), (b, scale[1])], offset[e / plane])
                })
                .collect()
        }
        QOp::Offset { offset } => x
            .par_iter()
            .enumerate()
            .map(|(e, v)| WideCiphertext::weighted_sum([(v, 1)], offset[e / plane]))
            .collect(),
        QOp::Flatten | QOp::Reshape(_) => Ok(x.to_vec()),
        QOp::Window { .. } | QOp::MaxPool { .. } => return Err(lost(0)),
    };
    Ok(sums?)
}

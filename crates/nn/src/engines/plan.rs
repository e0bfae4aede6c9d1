//! Compilation of a quantized graph for the LWE engine: before anything is encrypted, every
//! value gets a width, every bootstrap is planned and checked against the failure bound,
//! and the evaluation key's size and the latency are known.
//!
//! - **Widths.** Linear nodes (dense, convolution, sums, additions, offsets, reshapes) are
//!   plaintext-weighted sums of wide integers, which only add at one scale: the values they
//!   connect form a *region* sharing one width, the bits of the widest interval in it (and,
//!   where an activation reads a value, the width its window needs: `r + w + 3`, and room for
//!   one window below its interval, which the clamp's test reaches). The input
//!   and every activation's output start a region; a bootstrap writes its output at the
//!   width of the region that reads it.
//! - **Activations** ([`QOp::Window`]): per element `shroud_lwe`'s exact floor by `2^r` and a
//!   clamped table of `2^w` entries, planned channel by channel on the channel's interval
//!   and noise (the worst element's).
//! - **Max pooling** runs on an activation's buckets: when a max pool is the only reader of
//!   an activation whose tables are non-decreasing, `max_i T[t_i] = T[max_i t_i]`; each
//!   element's bucket `t_i` comes out of an identity table, the maximum out of
//!   `m + relu(t - m)` steps (one table of `t - m` each), and `T` is read once per output.
//!   Any other max pool is refused.
//! - The output is decrypted by the client at its region's width, which must meet the bound
//!   too.

use shroud_lwe::bootstrap::{
    BootstrapParams, CompressedServerKey, KeyLevel, ServerKey, WidePlanner, WideShape,
    MAX_LOG2_FAILURE,
};

use crate::quant::Interval;
use crate::quant::{QOp, QuantizedGraph};
use crate::NnError;

/// Seconds per bootstrap of `wide_128` on this project's 2-core reference machine with both
/// threads busy: 56.3 s for the 5,981 bootstraps of the MNIST network (docs/results.md).
/// Other parameter sets scale it by `n * N` (the blind rotation's external products).
const WIDE_128_SECONDS: f64 = 56.3 / 5981.0;

/// What the LWE engine does with one node.
#[derive(Clone, Debug, PartialEq)]
pub struct NodePlan {
    /// The node's name in the graph.
    pub name: String,
    /// The node's operator ([`QOp::name`]).
    pub op: &'static str,
    /// Elements of the node's output.
    pub outputs: usize,
    /// Width in bits of the integers the node reads.
    pub width_in: u32,
    /// Width in bits of the integers the node writes.
    pub width_out: u32,
    /// Bootstraps per inference (0 for linear nodes).
    pub bootstraps: usize,
    /// The key the node's tables run through, if it bootstraps.
    pub level: Option<KeyLevel>,
    /// Whether a max pool after it is computed together with it (the max pool's line then
    /// counts nothing).
    pub fused: bool,
}

/// The compiled form of a quantized graph for one parameter set.
#[derive(Clone, Debug)]
pub struct LwePlan {
    /// The name of the parameter set it was planned for.
    pub params: String,
    /// Estimated classical security of that parameter set in bits (0 for test-only sets).
    pub security_bits: u32,
    /// Width in bits of every value (the input first).
    pub widths: Vec<u32>,
    /// The plan of each node, in the graph's order.
    pub nodes: Vec<NodePlan>,
    /// Bootstraps per inference, over all nodes.
    pub bootstraps: usize,
    /// Every bootstrap fails with probability at most `2^max_log2_failure`.
    pub max_log2_failure: f64,
    /// The evaluation key the client sends (compressed: seed and bodies).
    pub evaluation_key_bytes: usize,
    /// The same key expanded, as the server holds it in memory.
    pub loaded_key_bytes: usize,
    /// Estimated time of one inference in seconds on this project's 2-core reference
    /// machine: the bootstraps at the measured cost of `wide_128`'s, scaled by the
    /// parameters' `n * N`.
    pub estimated_seconds: f64,
    /// For each max pool fused into the activation before it, that activation's node.
    pub(crate) fused: Vec<Option<usize>>,
    /// Width of the bucket integers of fused max pools.
    pub(crate) bucket_width: u32,
}

impl LwePlan {
    /// A table per node and the totals.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<4} {:<18} {:<13} {:>8} {:>7} {:>11}  key\n",
            "node", "name", "op", "outputs", "width", "bootstraps"
        );
        for (i, n) in self.nodes.iter().enumerate() {
            let level = match (n.level, n.fused) {
                (Some(l), true) => format!("{l:?} (with the max pool)"),
                (Some(l), false) => format!("{l:?}"),
                (None, _) => "-".into(),
            };
            s += &format!(
                "{:<4} {:<18} {:<13} {:>8} {:>3}->{:<3} {:>11}  {}\n",
                i,
                n.name.chars().take(18).collect::<String>(),
                n.op,
                n.outputs,
                n.width_in,
                n.width_out,
                n.bootstraps,
                level
            );
        }
        s += &format!(
            "total: {} bootstraps per inference at {} ({}-bit security), each failing with \
             probability below 2^{:.0}; evaluation key {:.1} MB to send, {:.1} MB loaded; \
             estimated {:.2} s per inference on 2 cores\n",
            self.bootstraps,
            self.params,
            self.security_bits,
            self.max_log2_failure,
            self.evaluation_key_bytes as f64 / 1e6,
            self.loaded_key_bytes as f64 / 1e6,
            self.estimated_seconds
        );
        s
    }
}

fn refuse(node: usize, name: &str, op: &str, reason: impl std::fmt::Display) -> NnError {
    NnError::EngineUnsupported {
        engine: "lwe",
        reason: format!("node {node} ({name}, {op}): {reason}"),
    }
}

/// Plans `model` for `params`, or says which node cannot run and why. Each activation's
/// tables (and a fused max pool's final ones) go through the cheapest key whose noise leaves
/// the rest of the plan valid and no longer: tried node by node, coarse, then light, then
/// the full key.
pub fn plan(model: &QuantizedGraph, params: &BootstrapParams) -> Result<LwePlan, NnError> {
    params.validate()?;
    let mut levels = vec![KeyLevel::Full; model.nodes.len()];
    let mut best = plan_with(model, params, &levels)?;
    let cheaper: Vec<KeyLevel> = [KeyLevel::Coarse, KeyLevel::Light]
        .into_iter()
        .filter(|&l| params.resolve(l) == l)
        .collect();
    for i in 0..model.nodes.len() {
        if !matches!(model.nodes[i].op, QOp::Window { .. } | QOp::MaxPool { .. }) {
            continue;
        }
        for &level in &cheaper {
            let mut trial = levels.clone();
            trial[i] = level;
            if let Ok(p) = plan_with(model, params, &trial) {
                if p.bootstraps <= best.bootstraps {
                    (levels, best) = (trial, p);
                    break;
                }
            }
        }
    }
    Ok(best)
}

/// The plan with the tables of node `i` through the key at `levels[i]`.
fn plan_with(
    model: &QuantizedGraph,
    params: &BootstrapParams,
    levels: &[KeyLevel],
) -> Result<LwePlan, NnError> {
    let (shapes, ranges) = model.ranges()?;
    let planner = WidePlanner::new(params);
    let n_values = shapes.len();
    let w = window_bits(model)?;
    if w + 1 > params.message_bits {
        return Err(NnError::EngineUnsupported {
            engine: "lwe",
            reason: format!(
                "windows of {w} bits need {}-bit messages; {} has {}",
                w + 1,
                params.name,
                params.message_bits
            ),
        });
    }
    let readers = |v: usize| -> Vec<usize> {
        (0..model.nodes.len())
            .filter(|&i| model.nodes[i].inputs.contains(&v))
            .collect()
    };

    // Max pools fused with the activation they read.
    let mut fused = vec![None; model.nodes.len()];
    for (j, node) in model.nodes.iter().enumerate() {
        if !matches!(node.op, QOp::MaxPool { .. }) {
            continue;
        }
        let x = node.inputs[0];
        let source = x.checked_sub(1).filter(|&i| {
            matches!(&model.nodes[i].op, QOp::Window { channels }
                if channels.iter().all(|c| c.table.windows(2).all(|p| p[0] <= p[1])))
        });
        match source {
            Some(i) if readers(x) == [j] && x + 1 != n_values => fused[j] = Some(i),
            _ => {
                return Err(refuse(
                    j,
                    &node.name,
                    "MaxPool",
                    "the LWE engine takes a max pool only as the sole reader of an activation \
                     with non-decreasing tables (ReLU, clipped ReLU)",
                ))
            }
        }
    }
    let fused_window = |i: usize| fused.contains(&Some(i));

    // Regions of values linked by linear nodes.
    let mut parent: Vec<usize> = (0..n_values).collect();
    fn find(parent: &mut [usize], v: usize) -> usize {
        let mut r = v;
        while parent[r] != r {
            r = parent[r];
        }
        let mut v = v;
        while parent[v] != r {
            let next = parent[v];
            parent[v] = r;
            v = next;
        }
        r
    }
    for (i, node) in model.nodes.iter().enumerate() {
        if !matches!(node.op, QOp::Window { .. } | QOp::MaxPool { .. }) {
            for &x in &node.inputs {
                let (a, b) = (find(&mut parent, x), find(&mut parent, i + 1));
                parent[a] = b;
            }
        }
    }
    // Each region's width: its widest interval, and what windows reading it need.
    let mut need: Vec<u32> = ranges.iter().map(|r| hull(r).bits().max(3)).collect();
    for node in &model.nodes {
        if let QOp::Window { channels } = &node.op {
            let x = node.inputs[0];
            for (c, ch) in channels.iter().enumerate() {
                let r = ranges[x][c];
                // One window below the interval must fit too: the clamp tests the sign of
                // the part above the window minus one.
                let shifted = Interval {
                    lo: r.lo + ch.offset - (1i64 << (ch.shift + w)),
                    hi: r.hi + ch.offset,
                };
                need[x] = need[x].max(shifted.bits()).max(ch.shift + w + 3);
            }
        }
    }
    let mut region_width = vec![3u32; n_values];
    for (v, &n) in need.iter().enumerate() {
        let r = find(&mut parent, v);
        region_width[r] = region_width[r].max(n);
    }
    let widths: Vec<u32> = (0..n_values)
        .map(|v| region_width[find(&mut parent, v)])
        .collect();
    if let Some(v) = (0..n_values).find(|&v| widths[v] > 62) {
        return Err(NnError::EngineUnsupported {
            engine: "lwe",
            reason: format!(
                "value {v} needs integers of {} bits (62 at most)",
                widths[v]
            ),
        });
    }

    // Noise, per channel of every value, and the bootstraps.
    let full = planner.output_variance_at(KeyLevel::Full);
    let bucket_width = w + 3;
    let mut variance: Vec<Vec<f64>> = vec![vec![planner.fresh_variance(); shapes[0].channels()]];
    let mut nodes = Vec::with_capacity(model.nodes.len());
    for (i, node) in model.nodes.iter().enumerate() {
        let x = node.inputs[0];
        let at = |e: shroud_lwe::LweError| refuse(i, &node.name, node.op.name(), e);
        let (vin, shape_in) = (&variance[x], shapes[x]);
        let mut bootstraps = 0;
        let mut level = None;
        let out_var: Vec<f64> = match &node.op {
            QOp::Dense {
                inputs,
                outputs,
                weights,
                ..
            } => (0..*outputs)
                .map(|k| {
                    weights[k * inputs..(k + 1) * inputs]
                        .iter()
                        .zip(vin)
                        .map(|(&w, v)| (w as f64).powi(2) * v)
                        .sum()
                })
                .collect(),
            QOp::Conv2d(conv) => (0..conv.out_channels)
                .map(|o| {
                    conv.kernel(o)
                        .map(|(w, c)| (w as f64).powi(2) * vin[c])
                        .sum()
                })
                .collect(),
            QOp::SumPool { window, .. } => vin.iter().map(|v| v * window.size() as f64).collect(),
            QOp::GlobalSumPool { .. } => vin.iter().map(|v| v * shape_in.plane() as f64).collect(),
            QOp::Add { scale, .. } => vin
                .iter()
                .zip(&variance[node.inputs[1]])
                .map(|(a, b)| (scale[0] as f64).powi(2) * a + (scale[1] as f64).powi(2) * b)
                .collect(),
            QOp::Offset { .. } => vin.clone(),
            QOp::Flatten | QOp::Reshape(_) => {
                let out = shapes[i + 1];
                let elements: Vec<f64> = vin
                    .iter()
                    .flat_map(|&v| std::iter::repeat_n(v, shape_in.plane()))
                    .collect();
                elements
                    .chunks(out.plane())
                    .map(|c| c.iter().copied().fold(0.0, f64::max))
                    .collect()
            }
            QOp::Window { channels } => {
                level = Some(levels[i]);
                let plane = shape_in.plane();
                for (c, ch) in channels.iter().enumerate() {
                    let r = ranges[x][c];
                    let v = WideShape::new(widths[x], r.lo + ch.offset, r.hi + ch.offset, vin[c])
                        .map_err(at)?;
                    let (t, floor) = planner.plan_floor_shift(&v, ch.shift).map_err(at)?;
                    let table = planner.plan_clamped_table(&t, w).map_err(at)?;
                    bootstraps += (floor + table) * plane;
                }
                vec![planner.output_variance_at(levels[i]); channels.len()]
            }
            QOp::MaxPool { window } => {
                if fused[i].is_none() {
                    return Err(refuse(i, &node.name, "MaxPool", "not fused"));
                }
                // The pool's own bootstraps: per output, one table of t - m per further
                // tap and the final table; the buckets were counted with the activation.
                let shape_out = shapes[i + 1];
                let k = window.size();
                let bucket = vin.iter().copied().fold(0.0, f64::max);
                let mut m_var = bucket;
                let mut per_output = 0;
                for _ in 1..k {
                    let d =
                        WideShape::new(bucket_width, -(1 << w) + 1, (1 << w) - 1, bucket + m_var)
                            .map_err(at)?;
                    per_output += planner.plan_clamped_table(&d, w).map_err(at)?;
                    m_var += full;
                }
                let m = WideShape::new(bucket_width, 0, (1 << w) - 1, m_var).map_err(at)?;
                per_output += planner.plan_clamped_table(&m, w).map_err(at)?;
                bootstraps = per_output * shape_out.len();
                level = Some(levels[i]);
                vec![planner.output_variance_at(levels[i]); shape_out.channels()]
            }
        };
        // A window whose max pool follows computes buckets (identity tables, the same
        // bootstraps) at the buckets' width.
        let fused_here = fused_window(i);
        let width_out = if fused_here {
            bucket_width
        } else {
            widths[i + 1]
        };
        nodes.push(NodePlan {
            name: node.name.clone(),
            op: node.op.name(),
            outputs: shapes[i + 1].len(),
            width_in: widths[x],
            width_out,
            bootstraps,
            level,
            fused: fused_here,
        });
        variance.push(out_var);
    }
    // The client decrypts the output.
    let out = n_values - 1;
    for (c, r) in ranges[out].iter().enumerate() {
        WideShape::new(widths[out], r.lo, r.hi, variance[out][c])
            .and_then(|s| planner.plan_decryption(&s))
            .map_err(|e| NnError::EngineUnsupported {
                engine: "lwe",
                reason: format!("the output's channel {c} does not decrypt reliably: {e}"),
            })?;
    }
    let bootstraps = nodes.iter().map(|n| n.bootstraps).sum();
    let scale = (params.lwe_dimension * params.polynomial_size) as f64 / (833.0 * 2048.0);
    Ok(LwePlan {
        params: params.name.clone(),
        security_bits: params.security_bits,
        widths,
        nodes,
        bootstraps,
        max_log2_failure: MAX_LOG2_FAILURE,
        evaluation_key_bytes: CompressedServerKey::payload_bytes(params),
        loaded_key_bytes: ServerKey::payload_bytes(params),
        estimated_seconds: bootstraps as f64 * WIDE_128_SECONDS * scale,
        fused,
        bucket_width,
    })
}

/// The window bits of the model's activations (one size for all of them).
fn window_bits(model: &QuantizedGraph) -> Result<u32, NnError> {
    let mut bits = None;
    for node in &model.nodes {
        if let QOp::Window { channels } = &node.op {
            for c in channels {
                let b = c.table.len().trailing_zeros();
                if *bits.get_or_insert(b) != b {
                    return Err(NnError::EngineUnsupported {
                        engine: "lwe",
                        reason: "activations with tables of different sizes".into(),
                    });
                }
            }
        }
    }
    Ok(bits.unwrap_or(1))
}

fn hull(r: &[Interval]) -> Interval {
    r.iter().fold(Interval { lo: 0, hi: 0 }, |a, b| Interval {
        lo: a.lo.min(b.lo),
        hi: a.hi.max(b.hi),
    })
}

//! `shroud mnist train|quantize|eval|infer`: the float 784-500-256-10 network (or a smaller
//! one on pooled images), its N-bit quantized versions, their accuracy on the 10,000 test
//! images (quantized models by the integer evaluator), and encrypted inference.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use shroud_lwe::bootstrap::{presets, BootstrapParams};
use shroud_nn::datasets::mnist::{load_set, MnistSet};
use shroud_nn::datasets::{read_bounded, Examples};
use shroud_nn::engines::bits::{BitsClient, BitsEncoding, BitsServer};
use shroud_nn::engines::{Encoding, GraphServer, LweClient, TwoPhaseServer};
use shroud_nn::model_file::{CompiledModel, ModelFile, SavedModel};
use shroud_nn::quant::qat::{QatNet, TwoPhaseConfig};
use shroud_nn::quant::two_phase::{quantize_pixels, QuantizedMlp};
use shroud_nn::quant::window_qat::WindowQat;
use shroud_nn::quant::{
    argmax, quantize as quantize_graph, Interval, QOp, QuantConfig, QuantizedGraph,
};
use shroud_nn::training::relu::{accuracy, predict_rows, FloatMlp};
use shroud_nn::training::sgd::{train, Learner, SgdConfig};

/// A bar over `len` steps called `unit` (batches, bootstraps).
pub fn progress_bar(len: usize, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "[{{bar:30}}] {{pos}}/{{len}} {unit} {{elapsed_precise}} eta {{eta}} {{msg}}"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

fn load(data: &Path, prefix: &str) -> anyhow::Result<MnistSet> {
    load_set(data, prefix).with_context(|| format!("loading MNIST from {}", data.display()))
}

fn write_model(model: &impl ModelFile, out: &Path) -> anyhow::Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    model.save(out)?;
    println!("wrote {}", out.display());
    Ok(())
}

/// SGD epochs with a progress bar over all batches, then per-epoch figures and the time.
fn run_sgd<L: Learner>(
    learner: &mut L,
    train_set: &MnistSet,
    config: &SgdConfig,
) -> anyhow::Result<()> {
    let x = train_set.features();
    let batches = train_set.len().div_ceil(config.batch);
    let progress = progress_bar(config.epochs * batches, "batches");
    let t = Instant::now();
    let mut recent = 0.0;
    let history = train(learner, &x, &train_set.labels, config, |loss| {
        recent = if progress.position() == 0 {
            loss
        } else {
            0.98 * recent + 0.02 * loss
        };
        progress.set_message(format!("loss {recent:.4}"));
        progress.inc(1);
    })?;
    progress.finish();
    let secs = t.elapsed().as_secs_f64();
    for s in &history {
        println!(
            "epoch {:>2}: loss {:.4}, train accuracy {:.4}",
            s.epoch, s.loss, s.train_acc
        );
    }
    println!(
        "{} epochs in {secs:.1} s ({:.1} s per epoch)",
        config.epochs,
        secs / config.epochs as f64
    );
    Ok(())
}

pub fn train_float(
    data: &Path,
    config: &SgdConfig,
    hidden: &[usize],
    pool: usize,
    out: &Path,
) -> anyhow::Result<()> {
    let train_set = load(data, "train")?.pooled(pool)?;
    let test = load(data, "t10k")?.pooled(pool)?;
    let sizes: Vec<usize> = std::iter::once(train_set.pixels_per_image())
        .chain(hidden.iter().copied())
        .chain([10])
        .collect();
    if sizes.contains(&0) {
        anyhow::bail!("layer sizes must be positive: {sizes:?}");
    }
    println!(
        "MNIST: {} training and {} test images of {}x{}; network {sizes:?}, ReLU, softmax cross-entropy, SGD lr {} momentum {} weight decay {}, batch {}, {} epochs, seed {}",
        train_set.len(),
        test.len(),
        train_set.rows,
        train_set.cols,
        config.lr,
        config.momentum,
        config.weight_decay,
        config.batch,
        config.epochs,
        config.seed
    );
    let mut model = FloatMlp::init(&sizes, config.seed);
    run_sgd(&mut model, &train_set, config)?;
    let acc = float_accuracy(&model, &test);
    println!("float test accuracy {acc:.4}");
    write_model(&SavedModel::Float(model), out)
}

fn float_accuracy(model: &FloatMlp, test: &MnistSet) -> f64 {
    let predictions = predict_rows(test.features().view(), |x| model.logits(x));
    accuracy(&predictions, &test.labels)
}

/// What `shroud mnist` reads: its own files (a float network, the two-phase form) or a
/// quantized graph (the window form, as `shroud mnist quantize --window` and `shroud compile`
/// write it), told apart by their envelopes' magic.
enum MnistModel {
    Saved(SavedModel),
    Graph(Box<CompiledModel>),
}

fn load_model(path: &Path) -> anyhow::Result<MnistModel> {
    let bytes = read_bounded(path)?;
    let name = path.display().to_string();
    Ok(if bytes.starts_with(&CompiledModel::FORMAT.magic) {
        MnistModel::Graph(Box::new(CompiledModel::from_bytes(&bytes, &name)?))
    } else {
        MnistModel::Saved(SavedModel::from_bytes(&bytes, &name)?)
    })
}

/// The integer evaluator's accuracy of a quantized graph on labelled examples.
fn graph_accuracy(model: &QuantizedGraph, test: &Examples) -> f64 {
    test.accuracy_of(|x| model.predict(x))
}

/// The number of inputs a quantized graph reads.
fn graph_inputs(model: &QuantizedGraph) -> usize {
    model.input.shape.len()
}

pub fn eval(data: &Path, model: &Path) -> anyhow::Result<()> {
    let test = load(data, "t10k")?;
    let images = test.len();
    let t = Instant::now();
    let (what, acc) = match load_model(model)? {
        MnistModel::Saved(SavedModel::Float(m)) => {
            ("float", float_accuracy(&m, &test.for_inputs(m.sizes()[0])?))
        }
        MnistModel::Saved(SavedModel::Quantized(m)) => (
            "quantized",
            integer_accuracy(&m, &test.for_inputs(m.layers[0].inputs)?),
        ),
        MnistModel::Graph(m) => {
            let q = &m.quantized;
            let test = test.for_inputs(graph_inputs(q))?.examples();
            ("window", graph_accuracy(q, &test))
        }
    };
    println!(
        "{what} model {}: test accuracy {acc:.4} on {} images ({:.1} s)",
        model.display(),
        images,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn integer_accuracy(model: &QuantizedMlp, test: &MnistSet) -> f64 {
    accuracy(&model.predict_set(test), &test.labels)
}

pub struct QuantizeArgs {
    pub quant: TwoPhaseConfig,
    pub window: bool,
    pub calibration: usize,
    pub config: SgdConfig,
    pub data: PathBuf,
    pub model: PathBuf,
    pub out: PathBuf,
}

/// Quantizes a float model, fine-tunes it (unless `epochs` is 0) and saves the integer model;
/// prints the integer evaluator's test accuracy before and after, and the accumulator ranges
/// an encrypted engine must hold.
pub fn quantize(args: &QuantizeArgs) -> anyhow::Result<()> {
    let float = match load_model(&args.model)? {
        MnistModel::Saved(SavedModel::Float(m)) => m,
        MnistModel::Saved(SavedModel::Quantized(_)) | MnistModel::Graph(_) => anyhow::bail!(
            "{} is already quantized; quantize a float model",
            args.model.display()
        ),
    };
    if !(2..=8).contains(&args.quant.bits) {
        anyhow::bail!("--bits must be in 2..=8");
    }
    let inputs = float.sizes()[0];
    let train_set = load(&args.data, "train")?.for_inputs(inputs)?;
    let test = load(&args.data, "t10k")?.for_inputs(inputs)?;
    let t = Instant::now();
    if args.window {
        return quantize_window(args, float, &train_set, &test);
    }
    let calibration = train_set.take(args.calibration).features();
    let mut net = QatNet::new(float, &args.quant, calibration.view(), args.config.batch);
    let before = integer_accuracy(&net.to_quantized(), &test);
    println!(
        "{} bits: calibrated on {} training images, before fine-tuning: test accuracy {before:.4} ({:.1} s)",
        args.quant.bits,
        calibration.nrows(),
        t.elapsed().as_secs_f64()
    );
    if args.config.epochs > 0 {
        println!(
            "fine-tuning with shadow weights: SGD lr {} momentum {}, batch {}, {} epochs, running maxima rho {}",
            args.config.lr, args.config.momentum, args.config.batch, args.config.epochs, args.quant.rho
        );
        run_sgd(&mut net, &train_set, &args.config)?;
    }
    let model = net.to_quantized();
    let t = Instant::now();
    let acc = integer_accuracy(&model, &test);
    println!(
        "{} bits: integer evaluator test accuracy {acc:.4} ({:.1} s for {} images)",
        args.quant.bits,
        t.elapsed().as_secs_f64(),
        test.len()
    );
    let show = |r: Interval| format!("[{}, {}] ({} bits)", r.lo, r.hi, r.bits());
    println!("accumulator ranges (p phase one, a block sums, z after the bias, y output):");
    for (l, layer) in model.layers.iter().enumerate() {
        let r = layer.ranges();
        println!(
            "layer {l}: {}x{}, blocks of {}; p {}, a {}, z {}, y {}",
            layer.outputs,
            layer.inputs,
            layer.block,
            show(r.partial),
            show(r.sum),
            show(r.aligned),
            show(r.output)
        );
    }
    write_model(&SavedModel::Quantized(model), &args.out)
}

/// `shroud mnist quantize --window`: the float network quantized to the window form as a
/// graph, fine-tuned for that form first when `epochs` > 0, saved as a compiled model.
fn quantize_window(
    args: &QuantizeArgs,
    float: FloatMlp,
    train_set: &MnistSet,
    test: &MnistSet,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let calibration = train_set.take(args.calibration);
    let calibration_inputs = calibration.examples().inputs;
    let test = test.examples();
    let config = QuantConfig::window_form(args.quant.bits);
    let quantize_float = |float: &FloatMlp| -> anyhow::Result<_> {
        let graph = float.to_graph()?;
        let quantized = quantize_graph(&graph, &calibration_inputs, &config)?;
        Ok((graph, quantized))
    };
    let (mut graph, mut quantized) = quantize_float(&float)?;
    println!(
        "{} bits, window form: calibrated on {} training images, test accuracy {:.4} ({:.1} s)",
        args.quant.bits,
        calibration.len(),
        graph_accuracy(&quantized, &test),
        t.elapsed().as_secs_f64()
    );
    if args.config.epochs > 0 {
        println!(
            "fine-tuning for the window form with shadow weights: SGD lr {} momentum {}, batch {}, {} epochs, windows refreshed every {} batches",
            args.config.lr,
            args.config.momentum,
            args.config.batch,
            args.config.epochs,
            WindowQat::REFRESH
        );
        let mut net = WindowQat::new(float, &config, calibration.features())?;
        run_sgd(&mut net, train_set, &args.config)?;
        (graph, quantized) = quantize_float(&net.into_float())?;
        println!(
            "{} bits, window form after fine-tuning: test accuracy {:.4}",
            args.quant.bits,
            graph_accuracy(&quantized, &test)
        );
    }
    describe_window(&quantized)?;
    let model = CompiledModel {
        source: args.model.display().to_string(),
        float: graph,
        quantized,
    };
    write_model(&model, &args.out)
}

/// Per dense layer of a window-form graph: its shape, its widest accumulator and the range of
/// its neurons' bucket shifts.
fn describe_window(model: &QuantizedGraph) -> anyhow::Result<()> {
    let (_, ranges) = model.ranges()?;
    let mut layer = 0;
    for (i, node) in model.nodes.iter().enumerate() {
        let QOp::Dense {
            inputs, outputs, ..
        } = &node.op
        else {
            continue;
        };
        // Value i + 1 is this node's output; a window, if any, is the next node.
        let widest = ranges[i + 1].iter().map(Interval::bits).max().unwrap_or(0);
        let shifts = match model.nodes.get(i + 1).map(|n| &n.op) {
            Some(QOp::Window { channels }) => {
                let shifts = channels.iter().map(|c| c.shift);
                format!(
                    "{}..={}",
                    shifts.clone().min().unwrap_or(0),
                    shifts.max().unwrap_or(0)
                )
            }
            _ => "0..=0".into(),
        };
        println!(
            "layer {layer}: {outputs}x{inputs}; accumulators up to {widest} bits, bucket shifts {shifts}"
        );
        layer += 1;
    }
    Ok(())
}

pub struct InferArgs {
    pub model: PathBuf,
    pub images: std::ops::Range<usize>,
    pub plan_only: bool,
    pub engine: String,
    pub params: Option<String>,
    pub data: PathBuf,
}

/// `shroud mnist import`: an ONNX dense ReLU network as a native float model.
pub fn import(onnx: &Path, out: &Path) -> anyhow::Result<()> {
    let graph = shroud_nn::import::import_onnx_file(onnx)?;
    let model = FloatMlp::from_graph(&graph)?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    SavedModel::Float(model.clone()).save(out)?;
    println!(
        "{}: layers {:?}, wrote {}",
        onnx.display(),
        model.sizes(),
        out.display()
    );
    Ok(())
}

/// The bootstrapping parameter sets by name.
pub fn params_by_name(name: &str) -> anyhow::Result<BootstrapParams> {
    presets::by_name(name).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown parameters {name:?} ({})",
            presets::NAMES.join(", ")
        )
    })
}

/// A quantized network `shroud mnist infer` runs: the window form (a quantized graph) or the
/// two-phase form.
enum Quantized {
    Window(QuantizedGraph),
    TwoPhase(QuantizedMlp),
}

impl Quantized {
    fn inputs(&self) -> usize {
        match self {
            Quantized::Window(m) => graph_inputs(m),
            Quantized::TwoPhase(m) => m.layers[0].inputs,
        }
    }

    fn bits(&self) -> u32 {
        match self {
            Quantized::Window(m) => m.bits,
            Quantized::TwoPhase(m) => m.bits,
        }
    }

    fn describe(&self) -> String {
        match self {
            Quantized::Window(m) => {
                let sizes: Vec<usize> = std::iter::once(graph_inputs(m))
                    .chain(m.nodes.iter().filter_map(|n| match &n.op {
                        QOp::Dense { outputs, .. } => Some(*outputs),
                        _ => None,
                    }))
                    .collect();
                format!("{sizes:?}, window form")
            }
            Quantized::TwoPhase(m) => {
                let sizes: Vec<usize> = std::iter::once(m.layers[0].inputs)
                    .chain(m.layers.iter().map(|l| l.outputs))
                    .collect();
                format!("{sizes:?}, two-phase form")
            }
        }
    }

    /// The integers the client encrypts for an image.
    fn quantize_image(&self, pixels: &[u8]) -> anyhow::Result<Vec<i64>> {
        Ok(match self {
            Quantized::Window(m) => {
                let x: Vec<f32> = pixels.iter().map(|&g| f32::from(g) / 255.0).collect();
                m.quantize_input(&x)?
            }
            Quantized::TwoPhase(m) => quantize_pixels(m.bits, pixels)
                .into_iter()
                .map(i64::from)
                .collect(),
        })
    }

    /// What the integer evaluator says for a quantized image.
    fn logits(&self, x: &[i64]) -> anyhow::Result<Vec<i64>> {
        Ok(match self {
            Quantized::Window(m) => m.eval(x)?,
            Quantized::TwoPhase(m) => m.logits(&narrow(x)?),
        })
    }
}

/// Quantized pixels (in `[0, U]`) as the two-phase evaluators' integers.
fn narrow(x: &[i64]) -> anyhow::Result<Vec<i32>> {
    Ok(x.iter()
        .map(|&v| i32::try_from(v))
        .collect::<Result<_, _>>()?)
}

/// One engine's client and server, and the public encoding between them.
enum Session {
    Graph(LweClient, GraphServer, Encoding),
    TwoPhase(LweClient, TwoPhaseServer, Encoding),
    Bits(BitsClient, BitsServer, BitsEncoding),
}

impl Session {
    /// Generates keys for `engine` and hands the evaluation key to the server as bytes;
    /// returns the session and the evaluation key's size.
    fn new(
        engine: &str,
        model: &Quantized,
        params: &BootstrapParams,
    ) -> anyhow::Result<(Self, usize)> {
        Ok(match (engine, model) {
            ("lwe", Quantized::Window(m)) => {
                let (client, key) = LweClient::new(params)?;
                let server = GraphServer::new(m.clone(), &key)?;
                let encoding = server.encoding();
                (Session::Graph(client, server, encoding), key.len())
            }
            ("lwe", Quantized::TwoPhase(m)) => {
                let (client, key) = LweClient::new(params)?;
                let server = TwoPhaseServer::new(m.clone(), &key)?;
                let encoding = server.encoding();
                (Session::TwoPhase(client, server, encoding), key.len())
            }
            ("bits", Quantized::TwoPhase(m)) => {
                let (client, key) = BitsClient::new(params)?;
                let server = BitsServer::new(m.clone(), &key)?;
                let encoding = server.encoding();
                (Session::Bits(client, server, encoding), key.len())
            }
            ("bits", Quantized::Window(_)) => anyhow::bail!(
                "the bit-list engine runs two-phase models (shroud mnist quantize without --window)"
            ),
            (other, _) => anyhow::bail!("unknown engine {other:?} (available: lwe, bits)"),
        })
    }

    /// Bootstraps per image (for a graph, the plan's bound: some may be skipped).
    fn bootstraps(&self) -> u64 {
        match self {
            Session::Graph(_, server, _) => server.plan().bootstraps as u64,
            Session::TwoPhase(_, server, _) => server.bootstraps() as u64,
            Session::Bits(_, server, _) => server.bootstraps(),
        }
    }

    /// Bootstraps run so far through the full, light and coarse keys (LWE engines only).
    fn by_key(&self) -> Option<[u64; 3]> {
        match self {
            Session::Graph(_, server, _) => Some(server.counts().by_key),
            Session::TwoPhase(_, server, _) => Some(server.counts().by_key),
            Session::Bits(..) => None,
        }
    }

    fn encrypt(&mut self, x: &[i64]) -> anyhow::Result<Vec<u8>> {
        Ok(match self {
            Session::Graph(client, _, encoding) | Session::TwoPhase(client, _, encoding) => {
                client.encrypt_input(encoding, x)?
            }
            Session::Bits(client, _, encoding) => client.encrypt_image(encoding, &narrow(x)?)?,
        })
    }

    fn infer(&self, upload: &[u8], progress: &(dyn Fn(usize) + Sync)) -> anyhow::Result<Vec<u8>> {
        Ok(match self {
            Session::Graph(_, server, _) => server.infer(upload, progress)?,
            Session::TwoPhase(_, server, _) => server.infer(upload, progress)?,
            Session::Bits(_, server, _) => server.infer(upload, progress)?,
        })
    }

    fn decrypt(&self, download: &[u8]) -> anyhow::Result<Vec<i64>> {
        Ok(match self {
            Session::Graph(client, _, encoding) | Session::TwoPhase(client, _, encoding) => {
                client.decrypt_output(encoding, download)?
            }
            Session::Bits(client, _, encoding) => client.decrypt_logits(encoding, download)?,
        })
    }
}

/// Encrypted classification of test images, client and server in one process but talking
/// only through bytes; ends with `infer: images=N agreement=A exact=E mean_latency_s=S`
/// (agreement: classes equal to the integer evaluator's; exact: all ten logits equal).
pub fn infer(args: &InferArgs) -> anyhow::Result<()> {
    let model = match load_model(&args.model)? {
        MnistModel::Graph(m) => Quantized::Window(m.quantized),
        MnistModel::Saved(SavedModel::Quantized(m)) => Quantized::TwoPhase(m),
        MnistModel::Saved(SavedModel::Float(_)) => anyhow::bail!(
            "{} is a float model; quantize it first (shroud mnist quantize [--window])",
            args.model.display()
        ),
    };
    let default_params = match (args.engine.as_str(), &model) {
        ("bits", _) => "gates_128",
        (_, Quantized::Window(_)) => "wide_128",
        (_, Quantized::TwoPhase(_)) => "pbs6_128",
    };
    let params = params_by_name(args.params.as_deref().unwrap_or(default_params))?;
    let test = load(&args.data, "t10k")?.for_inputs(model.inputs())?;
    if args.images.is_empty() || args.images.end > test.len() {
        anyhow::bail!(
            "images {:?} outside the {} test images",
            args.images,
            test.len()
        );
    }
    println!(
        "model {}: {} bits, {}; engine {}, parameters {} ({} bits of security)",
        args.model.display(),
        model.bits(),
        model.describe(),
        args.engine,
        params.name,
        params.security_bits
    );
    let t = Instant::now();
    let (mut session, key_bytes) = Session::new(&args.engine, &model, &params)?;
    println!(
        "keys and plan: {:.1} s; evaluation key {:.1} MB; {} bootstraps per image",
        t.elapsed().as_secs_f64(),
        key_bytes as f64 / 1e6,
        session.bootstraps()
    );
    if args.plan_only {
        println!("plan: bootstraps={}", session.bootstraps());
        return Ok(());
    }
    let (mut agree, mut exact, mut total_secs) = (0, 0, 0.0);
    for i in args.images.clone() {
        let x = model.quantize_image(test.image(i))?;
        let upload = session.encrypt(&x)?;
        let bar = progress_bar(session.bootstraps() as usize, "bootstraps");
        let t = Instant::now();
        let download = session.infer(&upload, &|n| bar.inc(n as u64))?;
        let secs = t.elapsed().as_secs_f64();
        bar.finish_and_clear();
        total_secs += secs;
        let logits = session.decrypt(&download)?;
        let want = model.logits(&x)?;
        let class = argmax(&logits);
        agree += usize::from(class == argmax(&want));
        exact += usize::from(logits == want);
        println!(
            "image {i} (digit {}): class {class}, {secs:.1} s; sent {:.1} MB, received {:.2} MB; logits {} the integer evaluator's",
            test.labels[i],
            upload.len() as f64 / 1e6,
            download.len() as f64 / 1e6,
            if logits == want { "equal" } else { "DIFFER from" }
        );
    }
    let n = args.images.len();
    if let Some([full, light, coarse]) = session.by_key() {
        let per = |c: u64| c / n as u64;
        println!(
            "bootstraps per image by key: full {}, light {}, coarse {}",
            per(full),
            per(light),
            per(coarse)
        );
    }
    println!(
        "infer: images={n} agreement={:.4} exact={:.4} mean_latency_s={:.2}",
        agree as f64 / n as f64,
        exact as f64 / n as f64,
        total_secs / n as f64
    );
    Ok(())
}

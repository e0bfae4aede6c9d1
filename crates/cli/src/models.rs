//! `shroud compile`, `plan`, `eval` and `infer`: networks users bring, as ONNX files, on the
//! LWE engine.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use shroud_nn::datasets::{load_labelled, load_rows, Examples};
use shroud_nn::engines::LweClient;
use shroud_nn::engines::{plan, GraphServer};
use shroud_nn::graph::Shape;
use shroud_nn::import::import_onnx_file;
use shroud_nn::model_file::{CompiledModel, ModelFile};
use shroud_nn::quant::argmax;
use shroud_nn::quant::{quantize, QuantConfig};

use crate::mnist::{params_by_name, progress_bar};

#[derive(clap::Args)]
pub struct CompileArgs {
    /// The ONNX file.
    onnx: PathBuf,
    /// Labelled data: an MNIST folder, a .csv table (header `rows,features,classes...`) or
    /// the 8x8 digits .csv.gz; the first `--calibration` training examples calibrate.
    #[arg(long)]
    calibrate: PathBuf,
    #[arg(long, default_value_t = 1000, value_parser = crate::args::count)]
    calibration: usize,
    /// Bits of weights (signed) and of inputs and activations (unsigned), 2 to 8.
    #[arg(long, default_value_t = 6, value_parser = crate::args::bits)]
    bits: u32,
    /// Each activation's table has 2^window-bits buckets (the LWE parameters' messages must
    /// hold one bit more).
    #[arg(long, default_value_t = 3)]
    window_bits: u32,
    /// The input's range after the model's own normalization, when known (`0,1` for
    /// images); otherwise the calibration data's.
    #[arg(long, value_parser = parse_range)]
    input_range: Option<(f32, f32)>,
    /// Quantize each input feature over its own range.
    #[arg(long)]
    per_channel_input: bool,
    /// The MNIST window form's quantization (per-layer weight scales, windows covering the
    /// largest calibration value, inputs in [0, 1]) instead of the mean-square fit.
    #[arg(long)]
    window_form: bool,
    /// Parameters to plan for.
    #[arg(long, default_value = "wide_128")]
    params: String,
    #[arg(short, long)]
    out: PathBuf,
}

/// Imports, quantizes (calibrated on the dataset's training part), reports the accuracy of
/// both forms on its test part and the plan, and writes the compiled model.
pub fn compile(args: &CompileArgs) -> anyhow::Result<()> {
    if args.calibration == 0 {
        anyhow::bail!("--calibration must be at least 1 example");
    }
    let params = params_by_name(&args.params)?;
    let t = Instant::now();
    let float = import_onnx_file(&args.onnx)?;
    println!(
        "imported {}: {} nodes, {} parameters",
        args.onnx.display(),
        float.nodes.len(),
        float.parameters()
    );
    print!("{}", float.summary()?);
    let (train, test) = load_labelled(&args.calibrate)?;
    check_shape(&train, float.input)?;
    let calibration = train.take(args.calibration);
    let base = if args.window_form {
        QuantConfig::window_form(args.bits)
    } else {
        QuantConfig::new(args.bits)
    };
    let config = QuantConfig {
        window_bits: args.window_bits,
        input_range: args.input_range.or(base.input_range),
        per_channel_input: args.per_channel_input,
        ..base
    };
    let quantized = quantize(&float, &calibration.inputs, &config)?;
    println!(
        "quantized to {} bits on {} calibration examples in {:.1} s",
        args.bits,
        calibration.len(),
        t.elapsed().as_secs_f64()
    );
    let model = CompiledModel {
        source: args.onnx.display().to_string(),
        float,
        quantized,
    };
    report_accuracy(&model, &test);
    let p = plan(&model.quantized, &params)?;
    print!("{}", p.table());
    model.save(&args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// The plan of a compiled model at `params`.
pub fn show_plan(model: &Path, params: &str) -> anyhow::Result<()> {
    let model = CompiledModel::load(model)?;
    let p = plan(&model.quantized, &params_by_name(params)?)?;
    print!("{}", p.table());
    println!(
        "plan: bootstraps={} key_mb={:.1} estimated_s={:.2}",
        p.bootstraps,
        p.evaluation_key_bytes as f64 / 1e6,
        p.estimated_seconds
    );
    Ok(())
}

/// Accuracy of the float graph and of the integer evaluator on a dataset's test part; with
/// `against`, whether the integer outputs equal a native window-form model's on the first
/// `count` test examples (`native_exact=1` when all do).
pub fn eval(model: &Path, data: &Path, against: Option<&Path>, count: usize) -> anyhow::Result<()> {
    let model = CompiledModel::load(model)?;
    let (_, test) = load_labelled(data)?;
    check_shape(&test, model.float.input)?;
    report_accuracy(&model, &test);
    if let Some(path) = against {
        let native = CompiledModel::load(path)?.quantized;
        let n = count.min(test.len());
        let mut equal = 0;
        for x in &test.inputs[..n] {
            let ours = model.quantized.eval(&model.quantized.quantize_input(x)?)?;
            equal += usize::from(ours == native.eval(&native.quantize_input(x)?)?);
        }
        println!(
            "native: examples={n} equal={equal} native_exact={}",
            u8::from(equal == n)
        );
    }
    Ok(())
}

fn report_accuracy(model: &CompiledModel, test: &Examples) {
    use rayon::prelude::*;
    let float: Vec<usize> = test
        .inputs
        .par_iter()
        .map(|x| model.float.predict(x).unwrap_or(usize::MAX))
        .collect();
    let int: Vec<usize> = test
        .inputs
        .par_iter()
        .map(|x| model.quantized.predict(x).unwrap_or(usize::MAX))
        .collect();
    let agree = float.iter().zip(&int).filter(|(a, b)| a == b).count();
    println!(
        "eval: examples={} float_acc={:.4} int_acc={:.4} agreement={:.4}",
        test.len(),
        test.accuracy(&float),
        test.accuracy(&int),
        agree as f64 / test.len().max(1) as f64
    );
}

fn check_shape(data: &Examples, shape: Shape) -> anyhow::Result<()> {
    if data.shape.len() != shape.len() {
        anyhow::bail!(
            "the data's examples are {} but the model reads {shape}",
            data.shape
        );
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct InferArgs {
    model: PathBuf,
    /// A PNG image, a CSV of input rows (no header), or a dataset (its test part).
    #[arg(long)]
    input: PathBuf,
    /// The first example of the input file.
    #[arg(long, default_value_t = 0)]
    index: usize,
    #[arg(long, default_value_t = 1, value_parser = crate::args::count)]
    count: usize,
    /// Bootstrapping parameters (wide_128 is 128-bit; insecure_wide_test is for trying
    /// things quickly and has no security).
    #[arg(long, default_value = "wide_128")]
    params: String,
}

/// Encrypted inference, client and server in one process talking only through bytes; ends
/// with `infer: examples=N agreement=A exact=E mean_latency_s=S` (agreement: classes equal
/// to the integer evaluator's; exact: every output equal).
pub fn infer(args: &InferArgs) -> anyhow::Result<()> {
    let model = CompiledModel::load(&args.model)?;
    let params = params_by_name(&args.params)?;
    let (inputs, labels) = read_inputs(&args.input, model.float.input)?;
    let end = args
        .index
        .checked_add(args.count)
        .filter(|&e| e <= inputs.len());
    let Some(end) = end.filter(|_| args.count > 0) else {
        anyhow::bail!(
            "examples {}..{}+{} outside the {} of {}",
            args.index,
            args.index,
            args.count,
            inputs.len(),
            args.input.display()
        );
    };
    println!(
        "model {} ({}), parameters {} ({} bits of security)",
        args.model.display(),
        model.source,
        params.name,
        params.security_bits
    );
    let t = Instant::now();
    let (mut client, key) = LweClient::new(&params)?;
    let server = GraphServer::new(model.quantized.clone(), &key)?;
    let encoding = server.encoding();
    let planned = server.plan().bootstraps;
    println!(
        "keys and plan: {:.1} s; evaluation key {:.1} MB; {planned} bootstraps per inference",
        t.elapsed().as_secs_f64(),
        key.len() as f64 / 1e6
    );
    let (mut agree, mut exact, mut total) = (0, 0, 0.0);
    for (i, input) in inputs.iter().enumerate().take(end).skip(args.index) {
        let q = model.quantized.quantize_input(input)?;
        let upload = client.encrypt_input(&encoding, &q)?;
        let bar = progress_bar(planned, "bootstraps");
        let t = Instant::now();
        let download = server.infer(&upload, &|n| bar.inc(n as u64))?;
        let secs = t.elapsed().as_secs_f64();
        bar.finish_and_clear();
        total += secs;
        let out = client.decrypt_output(&encoding, &download)?;
        let want = model.quantized.eval(&q)?;
        let class = argmax(&out);
        agree += usize::from(class == argmax(&want));
        exact += usize::from(out == want);
        let scores = model.quantized.dequantize(&out);
        let label = labels
            .get(i)
            .map(|l| format!(" (label {l})"))
            .unwrap_or_default();
        println!(
            "example {i}{label}: class {class}, {secs:.2} s; sent {:.2} MB, received {:.3} MB; \
             outputs {} the integer evaluator's; scores {:?}",
            upload.len() as f64 / 1e6,
            download.len() as f64 / 1e6,
            if out == want { "equal" } else { "DIFFER from" },
            scores
                .iter()
                .map(|s| (s * 1e4).round() / 1e4)
                .collect::<Vec<_>>()
        );
    }
    let n = end - args.index;
    println!(
        "infer: examples={n} agreement={:.4} exact={:.4} mean_latency_s={:.3}",
        agree as f64 / n as f64,
        exact as f64 / n as f64,
        total / n as f64
    );
    Ok(())
}

/// Inputs to classify: a PNG image, rows of numbers (`.csv` without a header), or a dataset
/// (an MNIST folder, a table, the digits), whose test part is used, with its labels.
pub fn read_inputs(path: &Path, shape: Shape) -> anyhow::Result<(Vec<Vec<f32>>, Vec<usize>)> {
    let name = path.to_string_lossy();
    if name.ends_with(".png") {
        return Ok((vec![read_png(path, shape)?], Vec::new()));
    }
    if let Ok((_, test)) = load_labelled(path) {
        check_shape(&test, shape)?;
        return Ok((test.inputs, test.labels));
    }
    Ok((load_rows(path, shape)?, Vec::new()))
}

/// A grey (or colour, averaged) 8-bit PNG of the model's input size, scaled to `[0, 1]`.
fn read_png(path: &Path, shape: Shape) -> anyhow::Result<Vec<f32>> {
    let Shape::Image {
        channels: 1,
        height,
        width,
    } = shape
    else {
        anyhow::bail!("the model reads {shape}, not a grey image");
    };
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info()?;
    let info = reader.info();
    if (info.width as usize, info.height as usize) != (width, height) {
        anyhow::bail!(
            "{} is {}x{}; the model reads {width}x{height}",
            path.display(),
            info.width,
            info.height
        );
    }
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf)?;
    let per_pixel = frame.color_type.samples();
    let grey = |px: &[u8]| -> f32 {
        let colours = if per_pixel >= 3 { 3 } else { 1 };
        px[..colours].iter().map(|&v| v as f32).sum::<f32>() / colours as f32 / 255.0
    };
    Ok(buf[..frame.buffer_size()]
        .chunks(per_pixel)
        .map(grey)
        .collect())
}

/// Parses `lo,hi`.
pub fn parse_range(s: &str) -> Result<(f32, f32), String> {
    let (lo, hi) = s.split_once(',').ok_or("expected lo,hi")?;
    let (lo, hi): (f32, f32) = (
        lo.trim()
            .parse()
            .map_err(|_| format!("{lo:?} is not a number"))?,
        hi.trim()
            .parse()
            .map_err(|_| format!("{hi:?} is not a number"))?,
    );
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(format!("[{lo}, {hi}] is not a range"));
    }
    Ok((lo, hi))
}

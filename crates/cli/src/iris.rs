//! `shroud iris train`: plaintext and encrypted training of the 4-10-3 network on Iris, with
//! per-epoch metrics, CSV curves and PNG plots comparing the two.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use shroud_nn::datasets::iris::prepare_iris;
use shroud_nn::training::encrypted::{default_params, train_encrypted, PackingName};
use shroud_nn::training::square::{train_plain, EpochStats, TrainConfig};

use crate::plot::plot_curves;

/// The options of an Iris training run, shared by `iris train` and `client train iris`.
#[derive(clap::Args)]
pub struct TrainOptions {
    /// Matrix packing of the encrypted trainer: row (one ciphertext per matrix row, the
    /// design's Algorithms 1 and 3), diagonal (one per generalized diagonal, Algorithms 2 and
    /// 4) or stepped (diagonals pre-rotated for baby-step giant-step products, Algorithm 5).
    #[arg(long, default_value = "diagonal")]
    pub packing: PackingName,
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub batch: u64,
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub epochs: u64,
    #[arg(long, default_value_t = 0.1, value_parser = crate::args::rate)]
    pub lr: f64,
    /// Seed of the split, the initial weights and the batch order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The Iris CSV.
    #[arg(long, default_value = "datasets/iris/iris.csv")]
    pub data: PathBuf,
}

impl TrainOptions {
    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            batch: self.batch as usize,
            epochs: self.epochs as usize,
            lr: self.lr,
            seed: self.seed,
            ..TrainConfig::default()
        }
    }
}

pub struct TrainArgs {
    pub encrypted: bool,
    /// Server-only: bootstrapping instead of the client's repacking.
    pub bootstrap: bool,
    /// Server-only: the folder where the run saves its state and resumes from.
    pub checkpoint: Option<PathBuf>,
    pub packing: PackingName,
    pub config: TrainConfig,
    pub data: PathBuf,
    pub out: PathBuf,
}

pub fn progress(epochs: usize, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(epochs as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>9} [{bar:30}] {pos}/{len} epochs {elapsed_precise} eta {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar
}

pub fn report(bar: &ProgressBar, s: &EpochStats) {
    bar.set_message(format!(
        "loss {:.4} train {:.3} test {:.3}",
        s.train_loss, s.train_acc, s.test_acc
    ));
    bar.inc(1);
}

fn write_csv(path: &Path, history: &[EpochStats]) -> anyhow::Result<()> {
    let mut text = String::from("epoch,train_loss,train_acc,test_loss,test_acc\n");
    for s in history {
        text += &format!(
            "{},{},{},{},{}\n",
            s.epoch, s.train_loss, s.train_acc, s.test_loss, s.test_acc
        );
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    let c = &args.config;
    let (train, test) = prepare_iris(&args.data, c.test_fraction, c.seed)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    println!(
        "Iris: {} training and {} test samples; network {}-{}-{} (input bias), square activation, MSE, lr {}, batch {}, {} epochs, seed {}",
        train.len(),
        test.len(),
        train.features.ncols() - 1,
        c.hidden,
        train.classes(),
        c.lr,
        c.batch,
        c.epochs,
        c.seed
    );

    let bar = progress(c.epochs, "plaintext");
    let t = Instant::now();
    let (plain_model, plain) = train_plain(&train, &test, c, |s| report(&bar, s))?;
    bar.finish();
    let plain_secs = t.elapsed().as_secs_f64();
    write_csv(&args.out.join("plain.csv"), &plain)?;
    let last = plain.last().expect("at least one epoch");
    println!(
        "plaintext: test accuracy {:.4}, train loss {:.5} ({plain_secs:.2} s)",
        last.test_acc, last.train_loss
    );

    let mut curves = vec![("plaintext", plain)];
    if args.bootstrap {
        let checkpoint = args.checkpoint.as_deref();
        train_server_only_run(&train, &test, c, &plain_model, &args.out, checkpoint)?;
    } else if args.encrypted {
        let packing = args.packing.packing();
        let params = default_params(packing)?;
        println!(
            "encrypted: CKKS N = {}, {} levels, {}-bit security ({}), {:?} packing",
            params.n(),
            params.max_level(),
            params.security_bits().unwrap_or(0),
            params.security_source(),
            args.packing
        );
        let bar = progress(c.epochs, "encrypted");
        let t = Instant::now();
        let run = train_encrypted(&train, &test, c, &params, packing, |s| report(&bar, s))?;
        bar.finish();
        let secs = t.elapsed().as_secs_f64();
        write_csv(&args.out.join("encrypted.csv"), &run.history)?;
        let last = run.history.last().expect("at least one epoch");
        let it = run.iterations as f64;
        println!(
            "encrypted: test accuracy {:.4}, train loss {:.5}; {secs:.1} s wall, {} iterations, {:.3} s each",
            last.test_acc,
            last.train_loss,
            run.iterations,
            secs / it
        );
        println!(
            "  per iteration: feed-forward {:.3} s, transition {:.3} s, backprop {:.3} s, update {:.3} s, client (encrypt + repack) {:.3} s",
            run.server.feed_forward.as_secs_f64() / it,
            run.server.transition.as_secs_f64() / it,
            run.server.backprop.as_secs_f64() / it,
            run.server.update.as_secs_f64() / it,
            run.client.as_secs_f64() / it
        );
        println!(
            "  per iteration: {:.1} MiB client -> server, {:.1} MiB server -> client",
            run.bytes_up as f64 / it / (1 << 20) as f64,
            run.bytes_down as f64 / it / (1 << 20) as f64
        );
        curves.push(("encrypted", run.history));
    }
    match plot_curves(&args.out, &curves) {
        Ok(files) => println!(
            "wrote {} and the CSV curves to {}",
            files.join(", "),
            args.out.display()
        ),
        Err(e) => eprintln!(
            "warning: plots not written ({e}); the CSV curves are in {}",
            args.out.display()
        ),
    }
    Ok(())
}

/// The server-only run: one progress bar over the steps, then the decrypted model's metrics
/// (also in `bootstrapped.csv`, one row) and the time split between steps and bootstraps.
fn train_server_only_run(
    train: &shroud_nn::datasets::iris::Dataset,
    test: &shroud_nn::datasets::iris::Dataset,
    c: &TrainConfig,
    plain: &shroud_nn::training::square::Mlp,
    out: &Path,
    checkpoint: Option<&Path>,
) -> anyhow::Result<()> {
    use shroud_nn::training::encrypted::server_only::{secure_circuit, train_server_only};
    println!(
        "server-only: CKKS N = 2^16, 128-bit, the model refreshed by bootstrapping; setting up keys and circuit"
    );
    let steps = c.epochs * train.len().div_ceil(c.batch);
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>9} [{bar:30}] {pos}/{len} steps {elapsed_precise} eta {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix("bootstrap");
    bar.set_message("setting up");
    let t = Instant::now();
    let run = train_server_only(train, test, c, secure_circuit, checkpoint, |s| {
        bar.set_message(format!("{} bootstraps", s.bootstraps));
        bar.set_position(s.steps as u64);
    })?;
    bar.finish();
    let secs = run.wall.as_secs_f64();
    write_csv(&out.join("bootstrapped.csv"), &[run.stats])?;
    if run.resumed_at > 0 {
        println!(
            "  resumed at step {} (this part {:.1} s; the wall time counts every part of the run)",
            run.resumed_at,
            t.elapsed().as_secs_f64()
        );
    }
    let s = &run.trainer;
    println!(
        "server-only: test accuracy {:.4}, train loss {:.5}, weights within {:.2e} of the plaintext run's; {secs:.1} s wall",
        run.stats.test_acc,
        run.stats.train_loss,
        run.model.max_abs_diff(plain)
    );
    println!(
        "  N = {}, {}-bit, {} levels per refresh; setup (circuit, keys, encryption) {:.1} s; {} steps at {:.3} s, {} bootstraps at {:.2} s",
        run.ring_n,
        run.security_bits.unwrap_or(0),
        run.levels,
        run.setup.as_secs_f64(),
        s.steps,
        s.step_time.as_secs_f64() / s.steps.max(1) as f64,
        s.bootstraps,
        s.bootstrap_time.as_secs_f64() / s.bootstraps.max(1) as f64
    );
    Ok(())
}

/// The design's Table 4 (seconds per phase of one batch-1 iteration) for each packing, and
/// its Table 2 (operations of one iteration of a 6-3-1 network), measured here.
pub fn table4(data: &Path, iterations: usize) -> anyhow::Result<()> {
    use shroud_nn::training::encrypted::{Client, Server, Shape};

    let (train, _) = prepare_iris(data, 0.2, 1)?;
    let y = train.one_hot();
    let packings = [
        PackingName::Diagonal,
        PackingName::Stepped,
        PackingName::Row,
    ];
    println!(
        "{iterations} batch-1 iterations per packing after one warm-up, mean seconds; CKKS parameters:"
    );
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); 6];
    for packing in packings {
        let params = default_params(packing.packing())?;
        println!(
            "  {:<9} N = {}, {} levels, {}-bit security",
            packing.name(),
            params.n(),
            params.max_level(),
            params.security_bits().unwrap_or(0)
        );
        let shape = Shape {
            inputs: train.features.ncols(),
            hidden: 10,
            outputs: train.classes(),
            packing: packing.packing(),
        };
        let (mut client, keys) = Client::new(&params, shape)?;
        let server = Server::new(&params, shape, 0.1, &keys)?;
        let mut model = shroud_nn::training::square::Mlp::init(
            shape.inputs,
            shape.hidden,
            shape.outputs,
            0.2,
            1,
        );
        let mut weights = client.encrypt_weights(&model)?;
        let (mut times, mut repack, mut total) = (
            shroud_nn::training::encrypted::PhaseTimes::default(),
            0.0,
            0.0,
        );
        // One untimed iteration first: it touches the memory and the lazily built tables
        // every later one reuses (criterion warms up the same way).
        for i in 0..=iterations {
            let t = Instant::now();
            let idx = [i % train.len()];
            let batch = client.encrypt_batch(
                &train.features.select(ndarray::Axis(0), &idx),
                &y.select(ndarray::Axis(0), &idx),
            )?;
            let (updated, phase) = server.step(&weights, &batch)?;
            let r = Instant::now();
            (model, weights) = client.repack(&updated, 1)?;
            if i > 0 {
                times += phase;
                repack += r.elapsed().as_secs_f64();
                total += t.elapsed().as_secs_f64();
            }
        }
        let n = iterations as f64;
        let column = [
            times.feed_forward.as_secs_f64() / n,
            times.transition.as_secs_f64() / n,
            times.backprop.as_secs_f64() / n,
            times.update.as_secs_f64() / n,
            repack / n,
            total / n,
        ];
        rows.iter_mut().zip(column).for_each(|(r, v)| r.push(v));
    }
    // The paper's figures (diagonal, row), seconds.
    let paper = [
        (3.10, 12.42),
        (2.15, 7.28),
        (3.12, 5.46),
        (0.23, 0.23),
        (0.50, 0.62),
        (9.25, 28.47),
    ];
    let names = [
        "feed-forward",
        "transition",
        "backprop",
        "SGD update",
        "repacking",
        "iteration",
    ];
    println!(
        "{:<13} {:>9} {:>9} {:>9} {:>11} {:>10}",
        "phase", "diagonal", "stepped", "row", "paper diag", "paper row"
    );
    for (k, v) in rows.iter().enumerate() {
        println!(
            "{:<13} {:>9.3} {:>9.3} {:>9.3} {:>11.2} {:>10.2}",
            names[k], v[0], v[1], v[2], paper[k].0, paper[k].1
        );
    }

    // Table 2: operations of one iteration of a 6-3-1 network.
    println!("\nOperations of one iteration, 6-3-1 network (ciphertext products / rotations):");
    let mut counts = Vec::new();
    for packing in packings {
        let params = default_params(packing.packing())?;
        let shape = Shape {
            inputs: 6,
            hidden: 3,
            outputs: 1,
            packing: packing.packing(),
        };
        let (mut client, keys) = Client::new(&params, shape)?;
        let server = Server::new(&params, shape, 0.1, &keys)?;
        let model = shroud_nn::training::square::Mlp::init(6, 3, 1, 0.2, 1);
        let weights = client.encrypt_weights(&model)?;
        let x = ndarray::Array2::from_elem((1, 6), 0.5);
        let t = ndarray::Array2::from_elem((1, 1), 1.0);
        let batch = client.encrypt_batch(&x, &t)?;
        let before = server.evaluator().counts();
        server.step(&weights, &batch)?;
        let c = server.evaluator().counts() - before;
        println!(
            "{:<9} {} / {}   (plaintext products {}, rescales {})",
            packing.name(),
            c.ct_mul,
            c.rotations,
            c.pt_mul,
            c.rescales
        );
        counts.push(format!("{}/{}", c.ct_mul, c.rotations));
    }
    println!("paper     diagonal 17 / 17, row 38 / 63");
    println!(
        "summary: diag_iter_s={:.3} row_iter_s={:.3} table2_diag={} table2_row={}",
        rows[5][0], rows[5][2], counts[0], counts[2]
    );
    Ok(())
}

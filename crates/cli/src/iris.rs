//! `shroud iris train`: plaintext and encrypted training of the 4-10-3 network on Iris, with
//! per-epoch metrics, CSV curves and PNG plots comparing the two.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use shroud_ckks::packing::DiagonalLayout;
use shroud_nn::encrypted::{default_params, train_encrypted};
use shroud_nn::iris::prepare_iris;
use shroud_nn::mlp::{train_plain, EpochStats, TrainConfig};

use crate::plot::plot_curves;

/// How the encrypted trainer packs its matrices.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Packing {
    /// One ciphertext per generalized diagonal (Gazelle's method).
    Diagonal,
    /// Diagonals pre-rotated for baby-step giant-step products.
    Stepped,
}

pub struct TrainArgs {
    pub encrypted: bool,
    pub packing: Packing,
    pub config: TrainConfig,
    pub data: PathBuf,
    pub out: PathBuf,
}

fn progress(epochs: usize, label: &str) -> ProgressBar {
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

fn report(bar: &ProgressBar, s: &EpochStats) {
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
    let (_, plain) = train_plain(&train, &test, c, |s| report(&bar, s))?;
    bar.finish();
    let plain_secs = t.elapsed().as_secs_f64();
    write_csv(&args.out.join("plain.csv"), &plain)?;
    let last = plain.last().expect("at least one epoch");
    println!(
        "plaintext: test accuracy {:.4}, train loss {:.5} ({plain_secs:.2} s)",
        last.test_acc, last.train_loss
    );

    let mut curves = vec![("plaintext", plain)];
    if args.encrypted {
        let params = default_params()?;
        let layout = match args.packing {
            Packing::Diagonal => DiagonalLayout::Plain,
            Packing::Stepped => DiagonalLayout::Stepped { baby: 4 },
        };
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
        let run = train_encrypted(&train, &test, c, &params, layout, |s| report(&bar, s))?;
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

//! `shroud`: run the demo, the benchmarks, and (as they land) encrypted training and inference.

// SEAL keeps a memory pool for the same reason: every operation allocates megabytes of
// polynomials, and the system allocator returns them to the OS and page-faults them back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mimalloc.h` (`enum mi_option_e`); the Rust
/// bindings name the options around it but not this one.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// By default mimalloc hands memory that stayed free for 10 ms back to the OS. A training
/// iteration frees megabytes of polynomials between phases (the client's turn, serialization)
/// and allocates them again a few milliseconds later, and each time the kernel zeroes fresh
/// (huge) pages: 5% of the encrypted Iris iteration in a `perf` profile, 40,000 page faults
/// per epoch. The process keeps its pages instead (its peak memory is unchanged: a few
/// hundred MB for Iris; 626 page faults per run however many epochs).
fn keep_freed_pages() {
    // SAFETY: sets a process-wide integer option; mimalloc reads it on its next purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

mod args;
mod bench;
mod demo;
mod iris;
mod mnist;
mod models;
mod plot;
mod service;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use shroud_nn::quant::qat::TwoPhaseConfig;
use shroud_nn::training::sgd::SgdConfig;

#[derive(Parser)]
#[command(name = "shroud", version, about = "Neural networks on encrypted data")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// An encrypted computation end to end: keys, encryption, evaluation, decryption.
    Demo,
    /// Training on the Iris data set.
    Iris {
        #[command(subcommand)]
        what: IrisCommand,
    },
    /// The quantized MNIST network: float training, quantization, accuracy.
    Mnist {
        #[command(subcommand)]
        what: MnistCommand,
    },
    /// Import an ONNX model (PyTorch, skl2onnx), quantize it calibrated on a dataset's
    /// training part, report both forms' accuracy on its test part and the LWE engine's plan,
    /// and write the compiled model.
    Compile(models::CompileArgs),
    /// The LWE engine's plan of a compiled model: per node its widths, bootstraps and key;
    /// the evaluation key's size and the estimated latency.
    Plan {
        model: PathBuf,
        #[arg(long, default_value = "wide_128")]
        params: String,
    },
    /// Accuracy of a compiled model's float and integer forms on a dataset's test part.
    Eval {
        model: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// A native MNIST window-form model (`shroud mnist import`, then `mnist quantize
        /// --window`) to compare the integer outputs with, example by example.
        #[arg(long)]
        against: Option<PathBuf>,
        /// Examples compared with --against.
        #[arg(long, default_value_t = 100, value_parser = args::count)]
        count: usize,
    },
    /// Encrypted inference with a compiled model: the client encrypts, the server computes on
    /// ciphertexts only, the client decrypts; checked against the integer evaluator.
    Infer(models::InferArgs),
    /// Serve encrypted inference with compiled models, and encrypted training, over HTTP(S).
    Serve(service::ServeArgs),
    /// The client of `shroud serve`: keys (the secret one stays here), registration,
    /// encrypted inference, encrypted training.
    Client {
        #[command(subcommand)]
        what: service::ClientCommand,
    },
    /// Timing tables, one `op logN value` line each (milliseconds, or bytes for sizes).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand)]
enum IrisCommand {
    /// Train the 4-10-3 square-activation network, in the clear and (with --encrypted) on
    /// encrypted data and weights with the same seed; writes CSV curves and PNG plots.
    Train {
        /// Also train on encrypted data (CKKS, 128-bit) and compare.
        #[arg(long)]
        encrypted: bool,
        /// With --encrypted: train on the server alone, the model refreshed by bootstrapping
        /// (N = 2^16, 128-bit): the data and the initial model are encrypted once and the
        /// trained model decrypted at the end, with nothing in between.
        #[arg(long, requires = "encrypted")]
        bootstrap: bool,
        /// With --bootstrap: save the run's state in this folder as it goes (the secret key
        /// among it), and resume from it when it holds a run with the same settings.
        #[arg(long, requires = "bootstrap")]
        checkpoint: Option<PathBuf>,
        #[command(flatten)]
        options: iris::TrainOptions,
        /// Folder for the CSV curves and plots.
        #[arg(long, default_value = "out/iris")]
        out: PathBuf,
    },
    /// Per-phase time of batch-1 iterations for each packing, beside the design's Table 4,
    /// and the operation counts of one 6-3-1 iteration (its Table 2).
    Table4 {
        #[arg(long, default_value_t = 5, value_parser = args::count)]
        iterations: usize,
        #[arg(long, default_value = "datasets/iris/iris.csv")]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum MnistCommand {
    /// Train the float 784-500-256-10 ReLU network and save it.
    Train {
        #[arg(long, default_value_t = SgdConfig::float_default().epochs, value_parser = args::count)]
        epochs: usize,
        #[arg(long, default_value_t = SgdConfig::float_default().batch, value_parser = args::count)]
        batch: usize,
        #[arg(long, default_value_t = SgdConfig::float_default().lr, value_parser = args::rate32)]
        lr: f32,
        /// Seed of the initial weights and the batch order.
        #[arg(long, default_value_t = SgdConfig::float_default().seed)]
        seed: u64,
        /// Hidden layer sizes.
        #[arg(long, value_delimiter = ',', default_values_t = [500usize, 256], value_parser = args::count)]
        hidden: Vec<usize>,
        /// Average-pool the 28x28 images by this factor first (2: 14x14, 4: 7x7); models
        /// remember it through their input count.
        #[arg(long, default_value_t = 1, value_parser = args::count)]
        pool: usize,
        /// Folder with the gzip IDX files.
        #[arg(long, default_value = "datasets/mnist")]
        data: PathBuf,
        #[arg(long, default_value = "target/mnist/float.bin")]
        out: PathBuf,
    },
    /// Quantize a float model to N bits (alternating projection, scaling layers), fine-tune
    /// it with shadow weights, and save the integer model.
    Quantize {
        #[arg(long, value_parser = args::bits)]
        bits: u32,
        /// Fine-tuning epochs (0: calibration only); default 1 for the two-phase form, 0 for
        /// the window form (post-training quantization).
        #[arg(long, value_parser = args::count_or_zero)]
        epochs: Option<usize>,
        #[arg(long, default_value_t = SgdConfig::fine_tune_default().lr, value_parser = args::rate32)]
        lr: f32,
        /// Decay of the running maxima of the scaling layers.
        #[arg(long, default_value_t = 0.99, value_parser = args::decay)]
        rho: f32,
        /// Inputs per phase-one block (default: the square root of each layer's inputs).
        #[arg(long, value_parser = args::count)]
        block: Option<usize>,
        /// Build the window form for the LWE engine (one lookup per neuron; the post-training
        /// quantization of `shroud compile --window-form`, no fine-tuning) instead of the
        /// two-phase form: a compiled model, which `shroud plan`, `eval` and `infer` read too.
        #[arg(long)]
        window: bool,
        /// Training images the running maxima start from.
        #[arg(long, default_value_t = 5000, value_parser = args::count)]
        calibration: usize,
        #[arg(long, default_value_t = SgdConfig::fine_tune_default().seed)]
        seed: u64,
        #[arg(long, default_value = "datasets/mnist")]
        data: PathBuf,
        /// The float model.
        #[arg(long, default_value = "target/mnist/float.bin")]
        model: PathBuf,
        /// Default: `target/mnist/q<bits>.bin`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Classify encrypted test images: the client encrypts each image, the server runs the
    /// quantized model on ciphertexts, the client decrypts the logits; prints the class, the
    /// time and the bytes exchanged, and checks the result against the integer evaluator.
    Infer {
        /// A quantized model (`shroud mnist quantize [--window]`).
        #[arg(long, default_value = "target/mnist/w4.bin")]
        model: PathBuf,
        /// Index of the first test image.
        #[arg(long, default_value_t = 0)]
        image: usize,
        /// Number of consecutive test images.
        #[arg(long, default_value_t = 1, value_parser = args::count)]
        count: usize,
        /// Only plan: check that the engine can run the model exactly and print the
        /// bootstraps per image, without encrypting anything.
        #[arg(long)]
        plan: bool,
        /// Engine: lwe (plaintext-weighted sums and programmable bootstrapping; window or
        /// two-phase models) or bits (the two-phase network as a circuit of bootstrapped
        /// gates on encrypted bits, the design as published).
        #[arg(long, default_value = "lwe")]
        engine: String,
        /// Bootstrapping parameters (default: gates_128 for the bits engine; for lwe,
        /// wide_128 for window models and pbs6_128 for two-phase ones; all 128-bit);
        /// insecure_wide_test and insecure_test have no security and are for trying things
        /// quickly.
        #[arg(long)]
        params: Option<String>,
        #[arg(long, default_value = "datasets/mnist")]
        data: PathBuf,
    },
    /// A dense ReLU network exported to ONNX (such as the design's 784-500-256-10 from
    /// PyTorch) as a native float model, for `quantize` and `infer` above.
    Import {
        onnx: PathBuf,
        #[arg(long, default_value = "target/mnist/float.bin")]
        out: PathBuf,
    },
    /// Accuracy of a saved model (float, or quantized by the integer evaluator) on the
    /// 10,000 test images.
    Eval {
        #[arg(long, default_value = "target/mnist/float.bin")]
        model: PathBuf,
        #[arg(long, default_value = "datasets/mnist")]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// CKKS bootstrapping on the 128-bit preset (N = 2^16): key generation, key bytes, time,
    /// precision, levels left, peak memory.
    Bootstrap {
        /// Slots to refresh: a power of two up to 32768, or `full`.
        #[arg(long, default_value = "256", value_parser = args::slots)]
        slots: usize,
        /// Bootstraps to time; the median is reported.
        #[arg(long, default_value_t = 3, value_parser = args::count)]
        runs: usize,
        /// Worker threads (1 for the single-threaded comparison with OpenFHE).
        #[arg(long, default_value_t = 1, value_parser = args::count)]
        threads: usize,
    },
    /// CKKS operations on the 128-bit presets, single-threaded.
    Ckks {
        /// Ring degrees to measure, as log2 N (13, 14, 15).
        #[arg(long, num_args = 1.., default_values_t = [13u32, 14, 15])]
        log_n: Vec<u32>,
        /// Worker threads (1 matches the single-threaded comparison with SEAL).
        #[arg(long, default_value_t = 1, value_parser = args::count)]
        threads: usize,
        /// Repetitions per operation; the median is reported.
        #[arg(long, default_value_t = 10, value_parser = args::count)]
        reps: usize,
    },
}

fn main() -> anyhow::Result<()> {
    keep_freed_pages();
    let cli = Cli::parse();
    // The command runs on a worker of the pool: rayon calls from any other thread hand each
    // job over through a futex wake-up and wait for it (thousands per training iteration,
    // 4% of a profile), while a worker starts its parallel parts itself.
    rayon::ThreadPoolBuilder::new()
        .build()?
        .install(|| run(cli))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo => demo::run(),
        Command::Iris {
            what:
                IrisCommand::Train {
                    encrypted,
                    bootstrap,
                    checkpoint,
                    options,
                    out,
                },
        } => iris::train(iris::TrainArgs {
            encrypted,
            bootstrap,
            checkpoint,
            packing: options.packing,
            config: options.config(),
            data: options.data,
            out,
        }),
        Command::Iris {
            what: IrisCommand::Table4 { iterations, data },
        } => iris::table4(&data, iterations),
        Command::Mnist { what } => match what {
            MnistCommand::Train {
                epochs,
                batch,
                lr,
                seed,
                hidden,
                pool,
                data,
                out,
            } => {
                let config = SgdConfig {
                    epochs,
                    batch,
                    lr,
                    seed,
                    ..SgdConfig::float_default()
                };
                mnist::train_float(&data, &config, &hidden, pool, &out)
            }
            MnistCommand::Quantize {
                bits,
                epochs,
                lr,
                rho,
                block,
                window,
                calibration,
                seed,
                data,
                model,
                out,
            } => mnist::quantize(&mnist::QuantizeArgs {
                quant: TwoPhaseConfig { bits, rho, block },
                window,
                calibration,
                config: SgdConfig {
                    epochs: epochs.unwrap_or(if window {
                        0
                    } else {
                        SgdConfig::fine_tune_default().epochs
                    }),
                    lr,
                    seed,
                    ..SgdConfig::fine_tune_default()
                },
                data,
                model,
                out: out.unwrap_or_else(|| format!("target/mnist/q{bits}.bin").into()),
            }),
            MnistCommand::Eval { model, data } => mnist::eval(&data, &model),
            MnistCommand::Import { onnx, out } => mnist::import(&onnx, &out),
            MnistCommand::Infer {
                model,
                image,
                count,
                plan,
                engine,
                params,
                data,
            } => mnist::infer(&mnist::InferArgs {
                model,
                images: image..image + count,
                plan_only: plan,
                engine,
                params,
                data,
            }),
        },
        Command::Compile(args) => models::compile(&args),
        Command::Plan { model, params } => models::show_plan(&model, &params),
        Command::Eval {
            model,
            data,
            against,
            count,
        } => models::eval(&model, &data, against.as_deref(), count),
        Command::Infer(args) => models::infer(&args),
        Command::Serve(args) => service::serve(args),
        Command::Client { what } => service::client(what),
        Command::Bench {
            what:
                BenchWhat::Ckks {
                    log_n,
                    threads,
                    reps,
                },
        } => bench::ckks(&log_n, threads, reps),
        Command::Bench {
            what:
                BenchWhat::Bootstrap {
                    slots,
                    runs,
                    threads,
                },
        } => bench::bootstrap(slots, runs, threads),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use proptest::prelude::*;

    /// Every subcommand name and long option of the command line: the parser's vocabulary.
    fn vocabulary() -> Vec<String> {
        fn walk(cmd: &clap::Command, out: &mut Vec<String>) {
            out.push(cmd.get_name().to_string());
            out.extend(
                cmd.get_arguments()
                    .filter_map(|a| a.get_long())
                    .map(|l| format!("--{l}")),
            );
            for sub in cmd.get_subcommands() {
                walk(sub, out);
            }
        }
        let mut out = Vec::new();
        walk(&Cli::command(), &mut out);
        out.sort();
        out.dedup();
        out
    }

    /// Options that make no sense are refused by name before anything runs.
    #[test]
    fn nonsense_options_are_refused() {
        for (argv, option) in [
            (&["mnist", "train", "--batch", "0"][..], "--batch"),
            (&["iris", "train", "--batch", "0"], "--batch"),
            (
                &["mnist", "quantize", "--bits", "4", "--calibration", "0"],
                "--calibration",
            ),
            (&["mnist", "quantize", "--bits", "36"], "--bits"),
            (&["iris", "train", "--lr", "nan"], "--lr"),
            (&["mnist", "infer", "--count", "0"], "--count"),
            (&["bench", "ckks", "--threads", "0"], "--threads"),
            (&["bench", "bootstrap", "--slots", "3"], "--slots"),
            (&["bench", "bootstrap", "--slots", "65536"], "--slots"),
        ] {
            let Err(e) = Cli::try_parse_from(std::iter::once(&"shroud").chain(argv)) else {
                panic!("{argv:?} was accepted");
            };
            assert!(e.to_string().contains(option), "{e}");
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
        assert!(vocabulary().contains(&"--batch".to_string()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Any list of words made of the command line's own names and arbitrary values is
        /// parsed or refused with a message (a fuzz of clap's use and of every value
        /// parser); nothing is run.
        #[test]
        fn any_arguments_are_parsed_or_refused(words in prop::collection::vec(prop_oneof![
            4 => prop::sample::select(vocabulary()),
            2 => "[-0-9a-z.,=@:+_/]{0,12}",
            1 => any::<String>(),
        ], 0..8)) {
            let argv = std::iter::once("shroud".to_string()).chain(words);
            let _ = Cli::try_parse_from(argv);
        }
    }
}

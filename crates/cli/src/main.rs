//! `shroud`: run the demo, the benchmarks, and (as they land) encrypted training and inference.

// SEAL keeps a memory pool for the same reason: every operation allocates megabytes of
// polynomials, and the system allocator returns them to the OS and page-faults them back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod demo;

use clap::{Parser, Subcommand};

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
    /// Timing tables, one `op logN value` line each (milliseconds, or bytes for sizes).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// CKKS operations on the 128-bit presets, single-threaded.
    Ckks {
        /// Ring degrees to measure, as log2 N (13, 14, 15).
        #[arg(long, num_args = 1.., default_values_t = [13u32, 14, 15])]
        log_n: Vec<u32>,
        /// Worker threads (1 matches the single-threaded comparison with SEAL).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Repetitions per operation; the median is reported.
        #[arg(long, default_value_t = 10)]
        reps: usize,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Demo => demo::run(),
        Command::Bench {
            what:
                BenchWhat::Ckks {
                    log_n,
                    threads,
                    reps,
                },
        } => bench::ckks(&log_n, threads, reps),
    }
}

//! The design's timing table for 8-bit values: gate count, depth, the published seconds and
//! ours on the bootstrapped engine (gates_128, both cores) and on GSW where its depth allows.
//! scripts/bits-table.sh runs it.
//!
//! `cargo run --release -p shroud-bits --example bits_table [counts]` (`counts`: gate counts
//! and depths only, no keys).

use std::time::Instant;

use shroud_bits::backends::{Bootstrapped, Clear, Gsw};
use shroud_bits::{BitKey, BitsError, Builder, EncInt, Encoding, Evaluator, Format, Gates, Word};
use shroud_lwe::bootstrap::{presets, ClientKey};
use shroud_lwe::gsw::{self, GswEvaluator, GswSecretKey};

type Op = fn(&mut Builder, &Word, &Word) -> Result<Word, BitsError>;

struct Row {
    name: &'static str,
    encoding: Encoding,
    published: Option<f64>,
    op: Op,
}

/// Evaluations per row on the bootstrapped engine (GSW rows run once: a minute each).
const BOOTSTRAPPED_REPS: usize = 3;

/// NANDs timed to give the cost of one bootstrap in this run.
const NAND_REPS: u32 = 20;

/// The public constant of the ciphertext x plaintext row (0b01011101).
const WEIGHT: i64 = 93;

fn rows() -> Vec<Row> {
    use Encoding::*;
    let row = |name, encoding, published, op: Op| Row {
        name,
        encoding,
        published,
        op,
    };
    vec![
        row("fast_relu", OnesComplement, Some(0.206), |b, x, _| {
            Ok(b.relu_fast(x))
        }),
        row("slow_relu", OnesComplement, Some(53.389), |b, x, _| {
            b.relu_slow(x)
        }),
        row("abs", OnesComplement, Some(0.495), |b, x, _| Ok(b.abs(x))),
        row("add", TwosComplement, Some(1.509), Builder::add),
        row("mult", TwosComplement, Some(51.384), Builder::mul),
        row("mult_pt", TwosComplement, None, |b, x, _| {
            Ok(b.mul_const(x, WEIGHT))
        }),
    ]
}

/// The fastest of `reps` evaluations of `row` on (-57, 38), in seconds, each checked against
/// the clear result (the fastest is the one least disturbed by other work on the machine).
fn time<B: Gates, K: BitKey<Bit = B::Bit>>(
    ev: &Evaluator<B>,
    key: &mut K,
    row: &Row,
    expected: i64,
    reps: usize,
) -> Result<f64, BitsError> {
    let f = Format::new(8, row.encoding, 0)?;
    let (x, y) = (EncInt::encrypt(key, -57, f)?, EncInt::encrypt(key, 38, f)?);
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let start = Instant::now();
        let out = ev.binary(&x, &y, row.op)?;
        best = best.min(start.elapsed().as_secs_f64());
        assert_eq!(out.decrypt(key)?, expected, "{}", row.name);
    }
    Ok(best)
}

fn main() -> Result<(), BitsError> {
    // On a worker of the pool, so that each layer's parallel gates start without a futex
    // hand-over from the main thread (as the `shroud` binary runs its commands).
    rayon::ThreadPoolBuilder::new()
        .build()
        .expect("a thread pool")
        .install(table)
}

fn table() -> Result<(), BitsError> {
    let counts_only = std::env::args().nth(1).as_deref() == Some("counts");
    let rows = rows();
    // Gate counts, depth and the expected result from the clear backend.
    let mut clear_key = Clear::new();
    let stats: Vec<(u64, u32, i64)> = rows
        .iter()
        .map(|row| {
            let ev = Evaluator::new(Clear::new());
            let f = Format::new(8, row.encoding, 0)?;
            let (x, y) = (
                EncInt::encrypt(&mut clear_key, -57, f)?,
                EncInt::encrypt(&mut clear_key, 38, f)?,
            );
            let out = ev.binary(&x, &y, row.op)?;
            let depth = out.bits().iter().map(|b| b.depth).max().unwrap_or(0);
            Ok((
                ev.backend().counts().bootstraps,
                depth,
                out.decrypt(&clear_key)?,
            ))
        })
        .collect::<Result<_, BitsError>>()?;
    if counts_only {
        for (row, (bootstraps, depth, _)) in rows.iter().zip(&stats) {
            println!("{} {bootstraps} {depth}", row.name);
        }
        return Ok(());
    }

    let mut client = ClientKey::new(&presets::gates_128())?;
    let server = client.server_key();
    // One NAND at a time, the unit every row is made of (the machine may be shared).
    let (a, b) = (client.encrypt_bit(true), client.encrypt_bit(false));
    let start = Instant::now();
    for _ in 0..NAND_REPS {
        server.nand(&a, &b)?;
    }
    let nand = start.elapsed().as_secs_f64() / NAND_REPS as f64;
    println!("# one NAND, one thread: {:.1} ms", nand * 1e3);
    let boot = Evaluator::new(Bootstrapped::new(server));
    let gsw_presets = [gsw::presets::secure_128(), gsw::presets::secure_128_deep()];
    println!("row encoding bootstraps depth published_s bootstrapped_s gsw_s speedup");
    let (mut min_speedup, mut mult_speedup) = (f64::INFINITY, f64::NAN);
    for (row, &(bootstraps, depth, expected)) in rows.iter().zip(&stats) {
        let ours = time(&boot, &mut client, row, expected, BOOTSTRAPPED_REPS)?;
        // The shallowest GSW preset deep enough for the circuit's gate layers (a lower
        // bound on the depth GSW needs: its parity and carry gates take several levels).
        let gsw = match gsw_presets.iter().find(|p| p.supported_depth() >= depth) {
            Some(p) => {
                let mut key = GswSecretKey::new(p)?;
                let ev = Evaluator::new(Gsw::new(GswEvaluator::new(p)?));
                match time(&ev, &mut key, row, expected, 1) {
                    Ok(s) => format!("{s:.1}({})", p.name),
                    Err(BitsError::Engine(e)) => {
                        format!("noise_exhausted({}:{e})", p.name).replace(' ', "_")
                    }
                    Err(e) => return Err(e),
                }
            }
            None => format!("depth_{depth}>2_of_gsw_128_deep"),
        };
        let speedup = row.published.map(|p| p / ours);
        if let Some(s) = speedup {
            min_speedup = min_speedup.min(s);
            if row.name == "mult" {
                mult_speedup = s;
            }
        }
        println!(
            "{} {:?} {bootstraps} {depth} {} {ours:.3} {gsw} {}",
            row.name,
            row.encoding,
            row.published.map_or("-".into(), |p| format!("{p:.3}")),
            speedup.map_or("-".into(), |s| format!("{s:.1}")),
        );
    }
    println!("summary: min_speedup={min_speedup:.1} mult_speedup={mult_speedup:.1}");
    Ok(())
}

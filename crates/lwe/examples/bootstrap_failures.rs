//! Counts decryption failures over many bootstrapped gates at the 128-bit gate preset, on
//! the noisiest inputs a circuit produces: every gate reads two outputs of earlier gates
//! (never fresh encryptions), and a third of the gates are XOR/XNOR, whose inputs are doubled.
//! The analysis in `BootstrapParams::log2_failure_probability` predicts none in 2^40.
//!
//! `cargo run --release -p shroud-lwe --example bootstrap_failures [count]` (default 100000;
//! about 15 ms per bootstrap per core).

use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use shroud_lwe::bootstrap::{presets, ClientKey, Gate, LweCiphertext};

fn main() -> Result<(), shroud_lwe::LweError> {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let params = presets::gates_128();
    println!(
        "predicted log2 failure probability per gate: {:.1} (XOR of bootstrapped inputs)",
        params.log2_failure_probability(1, 8.0)
    );
    let mut client = ClientKey::new(&params)?;
    let server = client.server_key();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    // A pool of wires, first fresh, then replaced by gate outputs.
    let width = 512;
    let mut clear: Vec<bool> = (0..width).map(|_| rng.gen()).collect();
    let mut wires: Vec<LweCiphertext> = clear.iter().map(|&b| client.encrypt_bit(b)).collect();
    let (mut done, mut failures) = (0usize, 0usize);
    let start = std::time::Instant::now();
    while done < total {
        let batch = width.min(total - done);
        let jobs: Vec<(Gate, usize, usize)> = (0..batch)
            .map(|_| {
                let gate = Gate::ALL[rng.gen_range(0..Gate::ALL.len())];
                (gate, rng.gen_range(0..width), rng.gen_range(0..width))
            })
            .collect();
        let outs: Vec<LweCiphertext> = jobs
            .par_iter()
            .map(|&(g, i, j)| server.apply_gate(g, &wires[i], &wires[j]))
            .collect::<Result<_, _>>()?;
        let expected: Vec<bool> = jobs
            .iter()
            .map(|&(g, i, j)| g.eval(clear[i], clear[j]))
            .collect();
        for (k, (out, want)) in outs.into_iter().zip(expected).enumerate() {
            if client.decrypt_bit(&out)? != want {
                failures += 1;
            }
            // The decrypted value, not the expected one, feeds the next gates: one failure
            // must not cascade into more.
            clear[k] = client.decrypt_bit(&out)?;
            wires[k] = out;
        }
        done += batch;
        if done % 10_240 < width {
            println!(
                "{done} bootstraps, {failures} failures, {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
    }
    println!("total: {done} bootstraps, {failures} failures");
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}

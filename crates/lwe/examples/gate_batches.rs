//! Prints how long a batch of `j` independent gates takes on the bootstrapped engine
//! (`gates_128`), for `j` from 1 to 8 on the current rayon pool, and the least-squares line
//! `ms = fixed + per_gate * j` through them: what a circuit layer of `j` gates costs.
//! scripts/gate-batches.sh runs it on one thread and on all.
//!
//! `cargo run --release -p shroud-lwe --example gate_batches [reps]`

use std::time::Instant;

use shroud_lwe::bootstrap::{presets, ClientKey, Gate};

fn main() -> Result<(), shroud_lwe::LweError> {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let mut client = ClientKey::new(&presets::gates_128())?;
    let server = client.server_key();
    println!("threads gates ms");
    let mut points = Vec::new();
    for j in 1..=8usize {
        let inputs: Vec<_> = (0..j)
            .map(|i| {
                (
                    client.encrypt_bit(i % 2 == 0),
                    client.encrypt_bit(i % 3 == 0),
                )
            })
            .collect();
        let outs = server.gate_batch(Gate::Or, &inputs)?;
        for (i, out) in outs.iter().enumerate() {
            assert_eq!(client.decrypt_bit(out)?, i % 2 == 0 || i % 3 == 0);
        }
        let mut times: Vec<f64> = (0..reps)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(server.gate_batch(Gate::Or, &inputs).unwrap());
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[reps / 2];
        println!("{} {j} {median:.2}", rayon::current_num_threads());
        points.push((j as f64, median));
    }
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let sxy: f64 = points.iter().map(|&(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = points.iter().map(|&(x, _)| (x - mx) * (x - mx)).sum();
    let per_gate = sxy / sxx;
    println!(
        "fit: threads={} fixed_ms={:.1} per_gate_ms={per_gate:.1}",
        rayon::current_num_threads(),
        my - per_gate * mx
    );
    Ok(())
}

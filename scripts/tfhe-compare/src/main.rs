//! Prints `op ms` lines for TFHE-rs's boolean API at its default parameters, one thread.

use std::time::Instant;
use tfhe::boolean::prelude::*;

fn time_ms<T>(reps: u32, mut f: impl FnMut() -> T) -> f64 {
    f();
    let start = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(f());
    }
    start.elapsed().as_secs_f64() * 1e3 / reps as f64
}

fn main() {
    let reps: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let start = Instant::now();
    let (client, server) = gen_keys();
    println!("keygen {:.3}", start.elapsed().as_secs_f64() * 1e3);
    let (a, b, c) = (client.encrypt(true), client.encrypt(false), client.encrypt(true));
    println!("nand {:.3}", time_ms(reps, || server.nand(&a, &b)));
    println!("xor {:.3}", time_ms(reps, || server.xor(&a, &b)));
    println!("mux {:.3}", time_ms(reps, || server.mux(&c, &a, &b)));
    assert!(client.decrypt(&server.nand(&a, &b)));
}

//! Prints `op ms` lines for Shroud's bootstrapped gates, 6-bit lookup table and GSW NAND on
//! every GSW preset (with its depth); scripts/gates-vs-tfhe.sh runs it with one thread.
//!
//! `cargo run --release -p shroud-lwe --example gate_timings [reps]`

use std::time::Instant;

use shroud_lwe::bootstrap::{presets, ClientKey, Lut};
use shroud_lwe::gsw::{self, GswEvaluator, GswSecretKey};

fn time_ms<T>(reps: u32, mut f: impl FnMut() -> T) -> f64 {
    f();
    let start = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(f());
    }
    start.elapsed().as_secs_f64() * 1e3 / reps as f64
}

fn main() -> Result<(), shroud_lwe::LweError> {
    let reps: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let start = Instant::now();
    let mut client = ClientKey::new(&presets::gates_128())?;
    let server = client.server_key();
    println!("keygen {:.3}", start.elapsed().as_secs_f64() * 1e3);
    let (a, b, c) = (
        client.encrypt_bit(true),
        client.encrypt_bit(false),
        client.encrypt_bit(true),
    );
    println!("nand {:.3}", time_ms(reps, || server.nand(&a, &b).unwrap()));
    println!("xor {:.3}", time_ms(reps, || server.xor(&a, &b).unwrap()));
    println!(
        "mux {:.3}",
        time_ms(reps, || server.mux(&c, &a, &b).unwrap())
    );
    assert!(client.decrypt_bit(&server.nand(&a, &b)?)?);
    drop(server);

    let mut client = ClientKey::new(&presets::pbs6_128())?;
    let server = client.server_key();
    let lut = Lut::from_fn(&server, 6, |m| m.saturating_sub(32))?;
    let x = client.encrypt_int(41, 6)?;
    println!(
        "pbs6 {:.3}",
        time_ms(reps.div_ceil(5), || server.apply_lut(&x, &lut).unwrap())
    );
    assert_eq!(client.decrypt_int(&server.apply_lut(&x, &lut)?, 6)?, 9);

    for p in [
        gsw::presets::insecure_test(),
        gsw::presets::secure_128(),
        gsw::presets::secure_128_deep(),
    ] {
        let mut sk = GswSecretKey::new(&p)?;
        let ev = GswEvaluator::new(&p)?;
        let (x, y) = (sk.encrypt(1)?, sk.encrypt(1)?);
        // The 128-bit GSW gates take seconds: time one.
        let start = Instant::now();
        let out = ev.nand(&x, &y)?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        assert!(!sk.decrypt_bit(&out)?);
        println!(
            "gsw_nand:{} {ms:.3} depth={} security={}",
            p.name,
            p.supported_depth(),
            p.security_bits
        );
    }
    Ok(())
}

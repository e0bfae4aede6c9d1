//! Unlimited depth by bootstrapping: a computation deeper than the parameter chain (x^16 by
//! four squarings with only two levels in hand), refreshed by bootstrapping each time the
//! levels run out. Bootstrapping is a homomorphic decryption: modulus raising, CoeffsToSlots,
//! an approximate modular reduction and SlotsToCoeffs, all on ciphertexts with public keys.
//!
//! By default it runs the insecure N = 2^11 test preset (a second); `--secure` runs the
//! 128-bit N = 2^16 preset (`presets::n16`, ten levels left to the user after a bootstrap;
//! about a minute of key generation and several GiB of keys).
//!
//! ```text
//! cargo run --release -p shroud-ckks --example bootstrapping [-- --secure]
//! ```

use std::time::Instant;

use shroud_ckks::bootstrap::presets::{self, BootstrapPreset};
use shroud_ckks::bootstrap::Bootstrapper;
use shroud_ckks::packing::periodic;
use shroud_ckks::{Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Params};

/// Distinct values, repeated across the slots (sparse packing: bootstrapping this many
/// slots is cheaper than bootstrapping them all).
const SLOTS: usize = 16;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secure = std::env::args().any(|a| a == "--secure");
    let preset = if secure {
        presets::n16(SLOTS)
    } else {
        presets::insecure_test(SLOTS)
    };
    run(preset, secure)
}

fn run(preset: BootstrapPreset, secure: bool) -> Result<(), Box<dyn std::error::Error>> {
    let params = if secure {
        Params::new(preset.params.clone())?
    } else {
        Params::new_insecure(preset.params.clone())?
    };
    let t = Instant::now();
    let boot = Bootstrapper::new(&params, preset.spec.clone())?;
    let levels = boot.output_level();

    // Client: the secret key and the evaluation keys bootstrapping needs: relinearization,
    // the rotations of its linear maps, conjugation, and the encapsulation key that lets
    // modulus raising run under a sparse ephemeral secret.
    let mut keygen = KeyGenerator::new(&params);
    let sk = keygen.secret_key();
    let n = params.n();
    let eval = Evaluator::new(&params)
        .with_relin_key(keygen.relin_key(&sk)?)?
        .with_galois_keys(keygen.galois_keys_for_elements(&sk, &boot.galois_elements())?)?
        .with_encapsulation_key(keygen.encapsulation_key(&sk, preset.ephemeral_weight)?)?;
    println!(
        "N = {n}, {}; {levels} levels after each bootstrap; circuit and keys in {:.1?}",
        match params.security_bits() {
            Some(bits) => format!("{bits}-bit security"),
            None => "INSECURE test parameters".into(),
        },
        t.elapsed()
    );

    let values: Vec<f64> = (0..SLOTS)
        .map(|i| 0.5 + 0.5 * (i as f64 * 0.7).cos())
        .collect();
    let repeated = periodic(&values, SLOTS, params.slots())?;
    let encoder = Encoder::new(&params);
    let pt = encoder.encode_at(&repeated, levels, params.default_scale())?;
    let mut x = Encryptor::with_secret_key(&params, &sk)?.encrypt(&pt)?;

    // Server: square four times; bootstrap whenever no level is left.
    let mut power = 1;
    let mut bootstraps = 0;
    for _ in 0..4 {
        if x.level() == 0 {
            let t = Instant::now();
            x = boot.bootstrap(&eval, &x)?;
            bootstraps += 1;
            println!(
                "  bootstrapped back to level {} in {:.2?}",
                x.level(),
                t.elapsed()
            );
        }
        x = eval.mul_relin_rescale(&x, &x)?;
        power *= 2;
        println!("  x^{power} computed, level {} left", x.level());
    }

    // Client: decrypt and compare with the clear computation.
    let got = encoder.decode(&Decryptor::new(&params, &sk)?.decrypt(&x)?)?;
    let worst = values
        .iter()
        .zip(&got)
        .map(|(v, g)| (v.powi(power) - g).abs())
        .fold(0f64, f64::max);
    println!(
        "x^{power} (bootstraps: {bootstraps}): largest error 2^{:.1} (x[1] = {:.6}, {:.6} in the clear)",
        worst.log2(),
        got[1],
        values[1].powi(power)
    );
    if worst > 1e-2 {
        return Err(format!("error {worst:e} after bootstrapping").into());
    }
    Ok(())
}

#[test]
fn example_runs() {
    main().unwrap();
}

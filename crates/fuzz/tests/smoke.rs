//! The fuzz targets' short runs in CI: each target on its seeds, on its committed corpus and
//! regressions (`fuzz/corpus/NAME`, `fuzz/regressions/NAME`) and on random mutations of
//! them for `SHROUD_FUZZ_SECONDS` seconds (default 2). `scripts/fuzz.sh` runs libFuzzer on
//! the same targets for as long as asked.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shroud_fuzz::{target, Target};

/// Files of `fuzz/<folder>/<name>`, if any.
fn committed(folder: &str, name: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(folder)
        .join(name);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .collect()
}

/// One to four random edits: flipped bits, replaced bytes, a cut, inserted bytes, a
/// repeated span.
fn mutate(rng: &mut ChaCha8Rng, input: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let at = if b.is_empty() {
            0
        } else {
            rng.gen_range(0..b.len())
        };
        match rng.gen_range(0..5) {
            0 if !b.is_empty() => b[at] ^= 1 << rng.gen_range(0..8),
            1 if !b.is_empty() => b[at] = rng.gen(),
            2 => b.truncate(at),
            3 => {
                let n = rng.gen_range(1..16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                b.splice(at..at, bytes);
            }
            _ if !b.is_empty() => {
                let end = (at + rng.gen_range(1..64)).min(b.len());
                let span = b[at..end].to_vec();
                b.splice(at..at, span);
            }
            _ => b.push(rng.gen()),
        }
    }
    b
}

fn smoke(name: &str) {
    let Target { run, seeds, .. } = target(name).unwrap_or_else(|| panic!("no target {name}"));
    let mut inputs = seeds();
    inputs.extend(committed("corpus", name));
    inputs.extend(committed("regressions", name));
    for input in &inputs {
        run(input);
    }
    let seconds: f64 = std::env::var("SHROUD_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);
    let mut rng = ChaCha8Rng::seed_from_u64(name.len() as u64);
    let start = Instant::now();
    let mut runs = 0;
    while start.elapsed() < budget || runs < inputs.len() {
        let base = &inputs[runs % inputs.len()];
        run(&mutate(&mut rng, base));
        runs += 1;
    }
    eprintln!("{name}: {} inputs, {runs} mutations", inputs.len());
}

macro_rules! smoke_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test]
        fn $name() {
            smoke(stringify!($name));
        })*

        /// Every target has its test here.
        #[test]
        fn every_target_is_smoked() {
            let tested = [$(stringify!($name)),*];
            let harnesses = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
            for t in shroud_fuzz::TARGETS {
                assert!(tested.contains(&t.name), "{} has no smoke test", t.name);
                assert!(
                    harnesses.join(format!("{}.rs", t.name)).exists(),
                    "{} has no libFuzzer harness",
                    t.name
                );
            }
        }
    };
}

smoke_tests!(
    lwe_ciphertext,
    lwe_client_key,
    lwe_server_key,
    gsw_ciphertext,
    ckks_params,
    ckks_ciphertext,
    ckks_keys,
    model_files,
    onnx,
    idx,
    datasets,
    service_requests,
    training_messages,
    lwe_inference,
    option_values,
);

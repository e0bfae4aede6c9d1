//! Per-operation CKKS timings in the format `scripts/ckks-vs-seal.sh` joins with SEAL's.

use std::time::Instant;

use anyhow::{bail, Context};
use shroud_ckks::{presets, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Params};
use shroud_math::{Modulus, Sampler};

/// Median wall time of `reps` runs of `f`, in milliseconds, after one warm-up run.
fn median_ms<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    std::hint::black_box(f());
    let mut times: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn random_reals(seed: u64, count: usize) -> Vec<f64> {
    let mut s = Sampler::from_seed(seed);
    let q = Modulus::new(1 << 40).expect("2^40 is a valid modulus");
    let mut raw = vec![0u64; count];
    s.uniform(&q, &mut raw);
    raw.iter()
        .map(|&r| r as f64 / (1u64 << 39) as f64 - 1.0)
        .collect()
}

pub fn ckks(log_ns: &[u32], threads: usize, reps: usize) -> anyhow::Result<()> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    pool.install(|| log_ns.iter().try_for_each(|&log_n| ckks_one(log_n, reps)))
}

fn ckks_one(log_n: u32, reps: usize) -> anyhow::Result<()> {
    let literal = match log_n {
        13 => presets::n13(),
        14 => presets::n14(),
        15 => presets::n15(),
        _ => bail!("no 128-bit preset for log N = {log_n} (have 13, 14, 15)"),
    };
    let params = Params::new(literal)?;
    let mut kg = KeyGenerator::new(&params);
    let sk = kg.secret_key();
    let pk = kg.public_key(&sk)?;
    let eval = Evaluator::new(&params)
        .with_relin_key(kg.relin_key(&sk)?)?
        .with_galois_keys(kg.galois_keys(&sk, &[1], false)?)?;
    let encoder = Encoder::new(&params);
    let mut encryptor = Encryptor::with_public_key(&params, &pk)?;
    let decryptor = Decryptor::new(&params, &sk)?;

    let x = random_reals(1, params.slots());
    let y = random_reals(2, params.slots());
    let cx = encryptor.encrypt(&encoder.encode(&x)?)?;
    let cy = encryptor.encrypt(&encoder.encode(&y)?)?;
    // Check the pipeline before timing it.
    let prod = encoder.decode(&decryptor.decrypt(&eval.mul_relin_rescale(&cx, &cy)?)?)?;
    let err = prod
        .iter()
        .zip(x.iter().zip(&y))
        .map(|(p, (a, b))| (p - a * b).abs())
        .fold(0.0, f64::max);
    if err > 1e-4 {
        bail!("log N = {log_n}: product off by {err}");
    }

    let top = params.max_level();
    let scale = params.default_scale();
    let line = |op: &str, v: f64| println!("{op} {log_n} {v:.3}");
    line(
        "encode_encrypt",
        median_ms(reps, || {
            encryptor
                .encrypt(&encoder.encode(&x).expect("encodes"))
                .expect("encrypts")
        }),
    );
    line(
        "decrypt_decode",
        median_ms(reps, || {
            encoder
                .decode(&decryptor.decrypt(&cx).expect("decrypts"))
                .expect("decodes")
        }),
    );
    line("add", median_ms(reps, || eval.add(&cx, &cy).expect("adds")));
    line(
        "mul_relin_rescale",
        median_ms(reps, || {
            eval.mul_relin_rescale(&cx, &cy).expect("multiplies")
        }),
    );
    line(
        "mul_plain",
        median_ms(reps, || {
            let py = encoder.encode_at(&y, top, scale).expect("encodes");
            eval.rescale(&eval.mul_plain(&cx, &py).expect("multiplies"))
                .expect("rescales")
        }),
    );
    line(
        "rotate_1",
        median_ms(reps, || eval.rotate(&cx, 1).expect("rotates")),
    );
    let bytes = cx.to_bytes(&params).context("serializing")?;
    println!("ct_bytes {log_n} {}", bytes.len());
    Ok(())
}

/// Peak resident memory of this process so far, in GiB (Linux's `VmHWM`; 0 elsewhere).
fn peak_gib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / (1024.0 * 1024.0))
}

/// `f()`, its wall time added to `total`.
fn timed<T, E>(total: &mut f64, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let t = Instant::now();
    let out = f();
    *total += t.elapsed().as_secs_f64();
    out
}

/// One bootstrapping preset measured: key generation, evaluation-key bytes, the median
/// bootstrap time over `runs`, precision on uniform inputs in [-1, 1], levels left and peak
/// memory, as `<metric> <value>` lines for `scripts/ckks-bootstrap.sh`.
pub fn bootstrap(slots: usize, runs: usize, threads: usize) -> anyhow::Result<()> {
    use shroud_ckks::bootstrap::{presets, Bootstrapper};
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    pool.install(|| {
        let preset = presets::n16(slots);
        let params = Params::new(preset.params.clone())?;
        let t = Instant::now();
        let boot = Bootstrapper::new(&params, preset.spec.clone())?;
        let setup_s = t.elapsed().as_secs_f64();

        // Key generation timed alone; the keys serialized one by one, as a client sends them.
        let mut keygen_s = 0.0;
        let mut kg = KeyGenerator::new(&params);
        let sk = kg.secret_key();
        let relin = timed(&mut keygen_s, || kg.relin_key(&sk))?;
        let encapsulation = timed(&mut keygen_s, || {
            kg.encapsulation_key(&sk, preset.ephemeral_weight)
        })?;
        let mut key_bytes = relin.to_bytes(&params)?.len() + encapsulation.to_bytes(&params)?.len();
        let mut eval = Evaluator::new(&params)
            .with_relin_key(relin)?
            .with_encapsulation_key(encapsulation)?;
        let n = params.n();
        for g in boot.galois_elements() {
            let key = timed(&mut keygen_s, || kg.galois_keys_for_elements(&sk, &[g]))?;
            key_bytes += key.to_bytes(&params)?.len();
            eval = eval.with_galois_keys(key)?;
        }

        let encoder = Encoder::new(&params);
        let values = random_reals(3, slots);
        let repeated = shroud_ckks::packing::periodic(&values, slots, params.slots())?;
        let mut encryptor = Encryptor::with_secret_key(&params, &sk)?;
        let ct = encryptor.encrypt(&encoder.encode_at(&repeated, 0, params.default_scale())?)?;
        let decryptor = Decryptor::new(&params, &sk)?;
        let mut times = Vec::new();
        let mut worst = 0f64;
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let out = boot.bootstrap(&eval, &ct)?;
            times.push(t.elapsed().as_secs_f64());
            let got = encoder.decode_complex(&decryptor.decrypt(&out)?)?;
            worst = got
                .iter()
                .zip(&repeated)
                .map(|(z, v)| (z.re - v).hypot(z.im))
                .fold(worst, f64::max);
        }
        times.sort_by(f64::total_cmp);
        println!("ring_n {n}");
        println!("slots {slots}");
        println!("setup_s {setup_s:.2}");
        println!("keygen_s {keygen_s:.2}");
        println!("key_bytes {key_bytes}");
        println!("boot_s {:.3}", times[times.len() / 2]);
        println!("bits {:.1}", -worst.log2());
        println!("levels_left {}", boot.output_level());
        println!("peak_gib {:.2}", peak_gib());
        Ok(())
    })
}

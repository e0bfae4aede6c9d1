//! `shroud demo`: a doctor's encrypted measurements, a statistic computed on them by a party
//! that never sees them, and the answer only the doctor can read.

use std::time::Instant;

use shroud_ckks::{
    presets, Ciphertext, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Params,
};

pub fn run() -> anyhow::Result<()> {
    let t0 = Instant::now();
    let params = Params::new(presets::n14())?;
    println!(
        "CKKS, N = {}, log2(QP) = {}, {} levels, estimated security {} bits ({})",
        params.n(),
        params.log_qp(),
        params.max_level(),
        params.security_bits().unwrap_or(0),
        params.security_source()
    );

    // Client: keys and encryption.
    let mut kg = KeyGenerator::new(&params);
    let sk = kg.secret_key();
    let pk = kg.public_key(&sk)?;
    let rk = kg.relin_key(&sk)?;
    let gk = kg.galois_keys_power_of_two(&sk)?;
    println!("client: keys generated in {:.2?}", t0.elapsed());

    // Blood glucose readings (mmol/L) of 8 patients, and a risk score w.x + c x^2 per patient.
    let readings = [5.1, 6.3, 7.8, 4.9, 11.2, 5.6, 9.4, 6.0];
    let encoder = Encoder::new(&params);
    let mut encryptor = Encryptor::with_public_key(&params, &pk)?;
    let ct = encryptor.encrypt(&encoder.encode(&readings)?)?;
    let wire = ct.to_bytes(&params)?;
    println!(
        "client: {} readings encrypted, {} KiB sent",
        readings.len(),
        wire.len() / 1024
    );

    // Server: only evaluation keys; computes the scores and the mean without seeing anything.
    let t1 = Instant::now();
    let eval = Evaluator::new(&params)
        .with_relin_key(rk)?
        .with_galois_keys(gk)?;
    let x = Ciphertext::from_bytes(&params, &wire)?;
    let (w, c) = (0.4, 0.05);
    let sq = eval.mul_relin_rescale(&x, &x)?;
    let quad = eval.rescale(&eval.mul_scalar(&sq, c)?)?;
    // The linear term is scaled to land exactly on the quadratic term's scale.
    let lin = eval.rescale(&eval.mul_scalar_to(&x, w, quad.scale())?)?;
    let lin = eval.mod_drop_to(&lin, quad.level())?;
    let score = eval.add(&quad, &lin)?;
    let mean = eval.rescale(&eval.mul_scalar(&eval.sum_slots(&x, 8)?, 1.0 / 8.0)?)?;
    println!(
        "server: risk scores and mean computed on ciphertexts in {:.2?}",
        t1.elapsed()
    );

    // Client: decrypt.
    let dec = Decryptor::new(&params, &sk)?;
    let scores = encoder.decode(&dec.decrypt(&score)?)?;
    let mean_out = encoder.decode(&dec.decrypt(&mean)?)?[0];
    println!("\npatient  reading  score(encrypted)  score(plain)");
    let mut worst = 0f64;
    for (i, r) in readings.iter().enumerate() {
        let plain = w * r + c * r * r;
        worst = worst.max((scores[i] - plain).abs());
        println!(
            "{:>7}  {:>7.1}  {:>16.6}  {:>12.6}",
            i + 1,
            r,
            scores[i],
            plain
        );
    }
    let plain_mean = readings.iter().sum::<f64>() / readings.len() as f64;
    println!("mean reading: encrypted {mean_out:.6}, plain {plain_mean:.6}");
    worst = worst.max((mean_out - plain_mean).abs());
    println!("largest difference {worst:.2e}; total {:.2?}", t0.elapsed());
    anyhow::ensure!(worst < 1e-3, "encrypted result diverged from the plain one");
    Ok(())
}

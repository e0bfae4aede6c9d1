//! A small network evaluated entirely on ciphertexts: a 4-8-3 perceptron with square
//! activations, `y = (W2 (W1 x)^2)^2`, where both the weights and the input are encrypted.
//! Matrices are packed by their diagonals (one ciphertext per generalized diagonal), so a
//! matrix-vector product is rotations of the input and slot-wise products, one level each.
//!
//! The key owner (client) encrypts and sends bytes; the server holds only evaluation keys
//! (relinearization and rotations) and computes; the client decrypts the three outputs.
//!
//! ```text
//! cargo run --release -p shroud-ckks --example encrypted_network
//! ```

use std::time::Instant;

use ndarray::Array2;
use shroud_ckks::packing::{encrypt_periodic, DiagonalLayout, DiagonalMatrix};
use shroud_ckks::{
    presets, Ciphertext, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Params,
};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    // 128-bit secure (the HE standard's table): N = 2^14, seven levels at scale 2^40.
    let params = Params::new(presets::n14())?;
    println!(
        "CKKS N = {}, {} levels, {}-bit security",
        params.n(),
        params.max_level(),
        params.security_bits().unwrap_or(0)
    );
    let w1 = matrix(8, 4, 0.8);
    let w2 = matrix(3, 8, 0.6);
    let x = [0.2, -0.5, 0.9, 0.4];
    // One padded dimension for both layers, so the first output is the second's input.
    let dim = DiagonalMatrix::dim_for(8, 4).max(DiagonalMatrix::dim_for(3, 8));
    let layout = DiagonalLayout::Plain;

    // Client: keys, then the weights and the input encrypted and serialized.
    let t = Instant::now();
    let mut keygen = KeyGenerator::new(&params);
    let sk = keygen.secret_key();
    let relin = keygen.relin_key(&sk)?;
    let rotations = keygen.galois_keys(&sk, &DiagonalMatrix::rotation_steps(dim, layout), false)?;
    let encoder = Encoder::new(&params);
    let mut encryptor = Encryptor::with_secret_key(&params, &sk)?;
    let (level, scale) = (params.max_level(), params.default_scale());
    // Each matrix goes as its diagonals' ciphertexts, serialized one by one.
    let mut upload = |w: &Array2<f64>| -> Result<Vec<Vec<u8>>, Error> {
        let m = DiagonalMatrix::encrypt(w, dim, layout, &encoder, &mut encryptor, level, scale)?;
        Ok(m.diagonals()
            .iter()
            .map(|c| c.to_bytes(&params))
            .collect::<Result<_, _>>()?)
    };
    let (w1_bytes, w2_bytes) = (upload(&w1)?, upload(&w2)?);
    let x_bytes =
        encrypt_periodic(&encoder, &mut encryptor, &x, dim, level, scale)?.to_bytes(&params)?;
    let sent: usize = w1_bytes
        .iter()
        .chain(&w2_bytes)
        .map(Vec::len)
        .sum::<usize>()
        + x_bytes.len();
    println!(
        "client: keys and {:.1} MB of ciphertexts in {:.2?}",
        sent as f64 / 1e6,
        t.elapsed()
    );

    // Server: evaluation keys only; every input is checked against the parameters on load.
    let t = Instant::now();
    let eval = Evaluator::new(&params)
        .with_relin_key(relin)?
        .with_galois_keys(rotations)?;
    let load = |rows, cols, bytes: &[Vec<u8>]| -> Result<DiagonalMatrix, Error> {
        let diagonals = bytes
            .iter()
            .map(|b| Ciphertext::from_bytes(&params, b))
            .collect::<Result<_, _>>()?;
        Ok(DiagonalMatrix::from_diagonals(
            rows, cols, layout, diagonals,
        )?)
    };
    let (w1_enc, w2_enc) = (load(8, 4, &w1_bytes)?, load(3, 8, &w2_bytes)?);
    let x_enc = Ciphertext::from_bytes(&params, &x_bytes)?;
    let (h, _) = w1_enc.matvec(&eval, &x_enc)?;
    let h = eval.mul_relin_rescale(&h, &h)?;
    let (y, _) = w2_enc.matvec(&eval, &h)?;
    let y = eval.mul_relin_rescale(&y, &y)?;
    let ops = eval.counts();
    println!(
        "server: two layers in {:.2?}: {} products, {} rotations; {} levels left",
        t.elapsed(),
        ops.ct_mul,
        ops.rotations,
        y.level()
    );

    // Client: decrypt, and compare with the same network in the clear.
    let got = encoder.decode(&Decryptor::new(&params, &sk)?.decrypt(&y)?)?;
    let want = plain_network(&w1, &w2, &x);
    let mut worst = 0f64;
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        println!("  output {k}: encrypted {g:+.8}, in the clear {w:+.8}");
        // CKKS is approximate: about 20 bits of precision relative to the values.
        worst = worst.max((g - w).abs() / w.abs().max(1.0));
    }
    println!("largest relative difference {worst:.1e}");
    if worst > 1e-5 {
        return Err(
            format!("the encrypted outputs differ from the clear ones by {worst:e}").into(),
        );
    }
    Ok(())
}

/// A fixed `rows x cols` matrix with entries in `[-amplitude, amplitude]`.
fn matrix(rows: usize, cols: usize, amplitude: f64) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        amplitude * ((3 * r + 7 * c) as f64).sin()
    })
}

fn plain_network(w1: &Array2<f64>, w2: &Array2<f64>, x: &[f64]) -> Vec<f64> {
    let h = w1.dot(&ndarray::arr1(x)).mapv(|v| v * v);
    w2.dot(&h).mapv(|v| v * v).to_vec()
}

#[test]
fn example_runs() {
    main().unwrap();
}

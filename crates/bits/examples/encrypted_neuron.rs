//! Integers as lists of encrypted bits, and a neuron computed on them gate by gate.
//!
//! The client encrypts four 8-bit two's-complement inputs bit by bit under TFHE-style keys
//! (128-bit security). The server builds one circuit, `max(relu(w . x + b), relu(v . x + c))`
//! (two neurons with public weights, then a max pool of the pair), and evaluates it on the
//! bootstrapped backend: every gate ends in a bootstrap, independent gates run a layer at a
//! time in parallel. The client decrypts the 8-bit result.
//!
//! The same circuit runs on the clear backend first, which counts its gates and depth.
//!
//! ```text
//! cargo run --release -p shroud-bits --example encrypted_neuron
//! ```

use std::time::Instant;

use shroud_bits::backends::{Bootstrapped, Clear};
use shroud_bits::{BitKey, BitsError, Builder, EncInt, Encoding, Evaluator, Format, Gates, Word};
use shroud_lwe::bootstrap::{presets, ClientKey};

const X: [i64; 4] = [3, -2, 5, 1];
const W: [i64; 4] = [2, 1, -1, 3];
const B: i64 = 4;
const V: [i64; 4] = [-1, 2, 2, 0];
const C: i64 = -1;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let format = Format::new(8, Encoding::TwosComplement, 0)?;
    let expected = relu(dot(&W, B)).max(relu(dot(&V, C)));

    // The clear backend: the circuit's size, and its answer in plain bits.
    let mut clear_key = Clear::new();
    let inputs = encrypt_all(&mut clear_key, format)?;
    let clear = Evaluator::new(Clear::new());
    let out = run(&clear, &inputs)?;
    let plain = out.decrypt(&clear_key)?;
    let depth = out.bits().iter().map(|b| b.depth).max().unwrap_or(0);
    println!(
        "circuit: {} bootstrapped gates, depth {depth}; in the clear: {plain}",
        clear.backend().counts().bootstraps
    );

    // The bootstrapped backend at 128-bit security.
    let params = presets::gates_128();
    let t = Instant::now();
    let mut client = ClientKey::new(&params)?;
    let server = Evaluator::new(Bootstrapped::new(client.server_key()));
    println!(
        "keys ({}, {}-bit security) in {:.2?}",
        params.name,
        params.security_bits,
        t.elapsed()
    );
    let inputs = encrypt_all(&mut client, format)?;
    let t = Instant::now();
    let out = run(&server, &inputs)?;
    let elapsed = t.elapsed();
    let got = out.decrypt(&client)?;
    println!(
        "encrypted: {got} in {elapsed:.2?} ({} bootstraps); expected {expected}",
        server.backend().server_key().counts().bootstraps
    );
    if got != expected || plain != expected {
        return Err(
            format!("got {got} encrypted, {plain} in the clear, expected {expected}").into(),
        );
    }
    Ok(())
}

/// Both neurons and their max, as one circuit on any backend.
fn run<G: Gates>(ev: &Evaluator<G>, x: &[EncInt<G::Bit>]) -> Result<EncInt<G::Bit>, BitsError> {
    let args: Vec<&EncInt<G::Bit>> = x.iter().collect();
    let (mut out, _) = ev.apply(&args, |b, x| {
        let first = neuron(b, x, &W, B)?;
        let second = neuron(b, x, &V, C)?;
        Ok((vec![b.max(&first, &second)?], vec![]))
    })?;
    out.pop()
        .ok_or_else(|| BitsError::InvalidArgument("no output".into()))
}

/// `relu(w . x + bias)` with public weights: products by constants fold into shifts and adds.
fn neuron(b: &mut Builder, x: &[Word], w: &[i64], bias: i64) -> Result<Word, BitsError> {
    let format = x[0].format();
    let mut sum = Word::constant(bias, format)?;
    for (xi, &wi) in x.iter().zip(w) {
        let term = b.mul_const(xi, wi);
        sum = b.add(&sum, &term)?;
    }
    Ok(b.relu_fast(&sum))
}

fn encrypt_all<K: BitKey>(key: &mut K, format: Format) -> Result<Vec<EncInt<K::Bit>>, BitsError> {
    X.iter().map(|&v| EncInt::encrypt(key, v, format)).collect()
}

fn dot(w: &[i64], bias: i64) -> i64 {
    X.iter().zip(w).map(|(x, w)| x * w).sum::<i64>() + bias
}

fn relu(v: i64) -> i64 {
    v.max(0)
}

#[test]
fn example_runs() {
    main().unwrap();
}

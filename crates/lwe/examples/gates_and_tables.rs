//! TFHE-style bootstrapping at 128-bit security, client and server apart:
//!
//! 1. Boolean gates (`presets::gates_128`): the client sends a compressed evaluation key and
//!    two encrypted 4-bit numbers; the server adds them with a ripple-carry adder of XOR, AND
//!    and OR gates, each of which ends in a bootstrap that resets its noise.
//! 2. A programmable bootstrap (`presets::pbs6_128`): any function of a 6-bit integer,
//!    here a rounded sigmoid, evaluated by one bootstrap whose test polynomial is the table.
//!
//! Only bytes cross between the two roles; the server reads the key and the ciphertexts back
//! with every length and parameter checked.
//!
//! ```text
//! cargo run --release -p shroud-lwe --example gates_and_tables
//! ```

use std::time::Instant;

use shroud_lwe::bootstrap::{presets, ClientKey, Lut, LweCiphertext, ServerKey};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    gates()?;
    table()
}

fn gates() -> Result<(), Error> {
    let params = presets::gates_128();
    let t = Instant::now();
    let mut client = ClientKey::new(&params)?;
    let key_bytes = client.compressed_server_key().to_bytes();
    let (a, b) = (11u64, 6u64);
    let upload: Vec<Vec<u8>> = bits(a)
        .chain(bits(b))
        .map(|bit| client.encrypt_bit(bit).to_bytes())
        .collect();
    println!(
        "gates ({}, {}-bit security): keys in {:.2?}, evaluation key {:.1} MB compressed",
        params.name,
        params.security_bits,
        t.elapsed(),
        key_bytes.len() as f64 / 1e6
    );

    // Server: expands the key, adds the two numbers gate by gate.
    let t = Instant::now();
    let server = ServerKey::from_bytes(&key_bytes)?;
    let load = |bytes: &Vec<u8>| LweCiphertext::from_bytes(server.params(), bytes);
    let inputs = upload.iter().map(load).collect::<Result<Vec<_>, _>>()?;
    let (x, y) = inputs.split_at(4);
    let mut carry = server.trivial_bit(false);
    let mut sum = Vec::new();
    for (xi, yi) in x.iter().zip(y) {
        let half = server.xor(xi, yi)?;
        sum.push(server.xor(&half, &carry)?);
        carry = server.or(&server.and(xi, yi)?, &server.and(&half, &carry)?)?;
    }
    sum.push(carry);
    let gates = server.counts().bootstraps;
    println!(
        "server: {a} + {b} in {gates} bootstrapped gates, {:.2?}",
        t.elapsed()
    );

    // Client: reads the five sum bits.
    let total = sum
        .iter()
        .enumerate()
        .map(|(i, bit)| Ok(u64::from(client.decrypt_bit(bit)?) << i))
        .sum::<Result<u64, Error>>()?;
    println!("client: decrypts {total}");
    check(total == a + b, "the encrypted sum is wrong")
}

fn table() -> Result<(), Error> {
    let params = presets::pbs6_128();
    let t = Instant::now();
    let mut client = ClientKey::new(&params)?;
    let server = client.server_key();
    println!(
        "\ntables ({}, {}-bit security, {}-bit messages): keys in {:.2?}",
        params.name,
        params.security_bits,
        params.message_bits,
        t.elapsed()
    );
    // A sigmoid on [-8, 8) read from 6 bits and written back to 6 bits.
    let sigmoid = |m: u64| {
        let x = (m as f64 - 32.0) / 4.0;
        (63.0 / (1.0 + (-x).exp())).round() as u64
    };
    let lut = Lut::from_fn(&server, 6, sigmoid)?;
    for m in [5, 30, 40] {
        let x = client.encrypt_int(m, 6)?;
        let t = Instant::now();
        let y = server.apply_lut(&x, &lut)?;
        let elapsed = t.elapsed();
        let got = client.decrypt_int(&y, 6)?;
        println!(
            "  sigmoid table at {m}: {got} (in the clear {}), one bootstrap in {elapsed:.2?}",
            sigmoid(m)
        );
        check(got == sigmoid(m), "the table's output is wrong")?;
    }
    Ok(())
}

/// The four bits of `v`, least significant first.
fn bits(v: u64) -> impl Iterator<Item = bool> {
    (0..4).map(move |i| (v >> i) & 1 == 1)
}

fn check(ok: bool, what: &str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(what.into())
    }
}

#[test]
fn example_runs() {
    main().unwrap();
}

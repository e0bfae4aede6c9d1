//! Multiplies two polynomials of Z_Q[X]/(X^N + 1), the product every RLWE scheme is made of,
//! with Q a product of three 50-bit NTT primes held in residues (RNS): each residue is
//! transformed, multiplied point by point and transformed back, then the residues are
//! recomposed (CRT) into the signed coefficients. A schoolbook negacyclic product checks it.
//!
//! ```text
//! cargo run --release -p shroud-math --example ntt_multiply
//! ```

use std::time::Instant;

use shroud_math::{ntt_primes, CrtComposer, RnsBasis, RnsPoly, Sampler};

const N: usize = 4096;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let basis = RnsBasis::new(N, &ntt_primes(50, N, 3, &[])?)?;
    println!(
        "ring Z_Q[X]/(X^{N} + 1), Q a product of {} primes of 50 bits ({} bits)",
        basis.len(),
        basis.product().bits()
    );

    // A ternary secret times a Gaussian error: the shapes an RLWE encryption multiplies.
    let mut sampler = Sampler::from_os();
    let a = sampler.ternary(N);
    let b = sampler.gaussian(N);

    let t = Instant::now();
    let (mut x, mut y) = (
        RnsPoly::from_signed(&basis, &a),
        RnsPoly::from_signed(&basis, &b),
    );
    x.ntt_forward(&basis);
    y.ntt_forward(&basis);
    x.mul_assign(&basis, &y);
    x.ntt_backward(&basis);
    let product = CrtComposer::new(&basis)?.compose(x.data());
    let ntt_time = t.elapsed();

    let t = Instant::now();
    let expected = schoolbook(&a, &b);
    let schoolbook_time = t.elapsed();

    let exact = product
        .iter()
        .zip(&expected)
        .all(|(&got, &want)| got == want as f64);
    println!("NTT product in {ntt_time:.2?}, schoolbook in {schoolbook_time:.2?}; equal: {exact}");
    println!("first coefficients: {:?}", &expected[..6]);
    if !exact {
        return Err("the NTT product differs from the schoolbook one".into());
    }
    Ok(())
}

/// The product modulo X^N + 1 by definition: X^N wraps around to -1.
fn schoolbook(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut out = vec![0i64; N];
    for (i, &ai) in a.iter().enumerate().filter(|(_, &ai)| ai != 0) {
        for (j, &bj) in b.iter().enumerate() {
            let k = i + j;
            if k < N {
                out[k] += ai * bj;
            } else {
                out[k - N] -= ai * bj;
            }
        }
    }
    out
}

#[test]
fn example_runs() {
    main().unwrap();
}

//! Per-operation benchmarks: bootstrapped gates and 6-bit lookup tables at the 128-bit
//! presets, GSW NAND at the test preset (the 128-bit GSW gates take seconds each; the
//! comparison script times them once), and the negacyclic FFT inside every bootstrap.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use num_complex::Complex64;
use shroud_lwe::bootstrap::{presets, ClientKey, Lut, NegacyclicFft};
use shroud_lwe::gsw::{self, GswEvaluator, GswSecretKey};

fn gates(c: &mut Criterion) {
    let mut client = ClientKey::from_seed(&presets::gates_128(), 1).unwrap();
    let server = client.server_key();
    let (a, b, s) = (
        client.encrypt_bit(true),
        client.encrypt_bit(false),
        client.encrypt_bit(true),
    );
    let mut g = c.benchmark_group("gates_128");
    g.sample_size(20);
    g.bench_function("nand", |x| x.iter(|| server.nand(&a, &b).unwrap()));
    g.bench_function("xor", |x| x.iter(|| server.xor(&a, &b).unwrap()));
    g.bench_function("mux", |x| x.iter(|| server.mux(&s, &a, &b).unwrap()));
    g.finish();
}

fn pbs6(c: &mut Criterion) {
    let mut client = ClientKey::from_seed(&presets::pbs6_128(), 2).unwrap();
    let server = client.server_key();
    let lut = Lut::from_fn(&server, 6, |m| m.saturating_sub(32)).unwrap();
    let x = client.encrypt_int(41, 6).unwrap();
    let mut g = c.benchmark_group("pbs6_128");
    g.sample_size(10);
    g.bench_function("lut6", |b| b.iter(|| server.apply_lut(&x, &lut).unwrap()));
    g.finish();
}

fn gsw_nand(c: &mut Criterion) {
    let p = gsw::presets::insecure_test();
    let mut sk = GswSecretKey::from_seed(&p, 3).unwrap();
    let ev = GswEvaluator::new(&p).unwrap();
    let (a, b) = (sk.encrypt(1).unwrap(), sk.encrypt(0).unwrap());
    c.bench_function("gsw_insecure_test/nand", |x| {
        x.iter(|| ev.nand(&a, &b).unwrap())
    });
}

/// One forward transform of a torus polynomial and one inverse with its reduction back to the
/// torus, at the ring degrees of the presets (docs/dependencies.md quotes these).
fn negacyclic_fft(c: &mut Criterion) {
    let mut g = c.benchmark_group("negacyclic_fft");
    for n in [512usize, 1024, 2048] {
        let fft = NegacyclicFft::new(n);
        let a: Vec<u64> = (0..n as u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let mut spec = vec![Complex64::new(0.0, 0.0); n / 2];
        let mut acc = vec![0u64; n];
        g.bench_function(format!("forward_torus/{n}"), |b| {
            b.iter(|| fft.forward_torus(&a, &mut spec))
        });
        fft.forward_torus(&a, &mut spec);
        // The inverse destroys its input: each run gets a fresh copy, made outside the timing.
        g.bench_function(format!("backward_add/{n}"), |b| {
            b.iter_batched_ref(
                || spec.clone(),
                |s| fft.backward_add(s, &mut acc),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, gates, pbs6, gsw_nand, negacyclic_fft);
criterion_main!(benches);

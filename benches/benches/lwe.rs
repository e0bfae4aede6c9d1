//! Per-operation benchmarks: bootstrapped gates and 6-bit lookup tables at the 128-bit
//! presets, GSW NAND at the test preset (the 128-bit GSW gates take seconds each; the
//! comparison script times them once), and the negacyclic FFT inside every bootstrap.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use num_complex::Complex64;
use shroud_lwe::bootstrap::{presets, ClientKey, KeyLevel, Lut, NegacyclicFft, WideCiphertext};
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

/// A layer's worth of hidden neurons of the MNIST window network at `wide_128`: floor a 16-bit
/// sum by 2^8 and read an 8-entry clamped table, for 32 neurons in lock step on all threads.
fn wide_neurons(c: &mut Criterion) {
    let mut client = ClientKey::from_seed(&presets::wide_128(), 4).unwrap();
    let server = client.server_key();
    let (width, range) = (16, 1 << 14);
    let xs: Vec<WideCiphertext> = (0..32)
        .map(|i| {
            let ct = client.encrypt_scaled(i * 97 - 1500, width).unwrap();
            WideCiphertext::new(ct, width, -range, range, server.planner().fresh_variance())
                .unwrap()
        })
        .collect();
    let table: Vec<i64> = (0..8).map(|i| 2 * i).collect();
    let mut g = c.benchmark_group("wide_128");
    g.sample_size(10);
    g.bench_function("neurons_32", |b| {
        b.iter(|| {
            let ts = server.floor_shift_many(&xs, &[8; 32]).unwrap();
            server
                .clamped_table_many(&ts, &[table.as_slice(); 32], 16, KeyLevel::Full)
                .unwrap()
        })
    });
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

criterion_group!(benches, gates, pbs6, wide_neurons, gsw_nand, negacyclic_fft);
criterion_main!(benches);

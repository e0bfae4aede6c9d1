//! Per-operation CKKS benchmarks on the 128-bit presets (all cores; `shroud bench ckks`
//! gives the single-threaded table compared with SEAL).

use criterion::{criterion_group, criterion_main, Criterion};
use shroud_ckks::{
    presets, Ciphertext, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Params,
    ParamsLiteral,
};

// The allocator of the `shroud` binary, so that these timings are the ones it sees.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_preset(c: &mut Criterion, name: &str, literal: ParamsLiteral) {
    let params = Params::new(literal).unwrap();
    let mut kg = KeyGenerator::new(&params);
    let sk = kg.secret_key();
    let pk = kg.public_key(&sk).unwrap();
    let eval = Evaluator::new(&params)
        .with_relin_key(kg.relin_key(&sk).unwrap())
        .unwrap()
        .with_galois_keys(
            kg.galois_keys(&sk, &(1..10).collect::<Vec<_>>(), true)
                .unwrap(),
        )
        .unwrap();
    let encoder = Encoder::new(&params);
    let mut encryptor = Encryptor::with_public_key(&params, &pk).unwrap();
    let decryptor = Decryptor::new(&params, &sk).unwrap();
    let x: Vec<f64> = (0..params.slots()).map(|i| (i as f64).sin()).collect();
    let pt = encoder.encode(&x).unwrap();
    let ct = encryptor.encrypt(&pt).unwrap();
    let prod = eval.multiply(&ct, &ct).unwrap();
    let relin = eval.relinearize(&prod).unwrap();

    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    g.bench_function("encode", |b| b.iter(|| encoder.encode(&x).unwrap()));
    g.bench_function("encrypt", |b| b.iter(|| encryptor.encrypt(&pt).unwrap()));
    g.bench_function("decrypt", |b| b.iter(|| decryptor.decrypt(&ct).unwrap()));
    let dec = decryptor.decrypt(&ct).unwrap();
    g.bench_function("decode", |b| b.iter(|| encoder.decode(&dec).unwrap()));
    g.bench_function("add", |b| b.iter(|| eval.add(&ct, &ct).unwrap()));
    g.bench_function("mul_plain", |b| {
        b.iter(|| eval.mul_plain(&ct, &pt).unwrap())
    });
    g.bench_function("multiply", |b| b.iter(|| eval.multiply(&ct, &ct).unwrap()));
    g.bench_function("relinearize", |b| {
        b.iter(|| eval.relinearize(&prod).unwrap())
    });
    g.bench_function("rescale", |b| b.iter(|| eval.rescale(&relin).unwrap()));
    g.bench_function("mul_relin_rescale", |b| {
        b.iter(|| eval.mul_relin_rescale(&ct, &ct).unwrap())
    });
    g.bench_function("rotate_1", |b| b.iter(|| eval.rotate(&ct, 1).unwrap()));
    let steps: Vec<i64> = (0..10).collect();
    g.bench_function("rotate_hoisted_10", |b| {
        b.iter(|| eval.rotate_hoisted(&ct, &steps).unwrap())
    });
    g.bench_function("conjugate", |b| b.iter(|| eval.conjugate(&ct).unwrap()));
    let bytes = ct.to_bytes(&params).unwrap();
    g.bench_function("to_bytes", |b| b.iter(|| ct.to_bytes(&params).unwrap()));
    g.bench_function("from_bytes", |b| {
        b.iter(|| Ciphertext::from_bytes(&params, &bytes).unwrap())
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_preset(c, "ckks_n13", presets::n13());
    // The encrypted Iris trainer's diagonal-packing parameters.
    bench_preset(c, "ckks_n13_l5", presets::n13_l5());
    bench_preset(c, "ckks_n14", presets::n14());
    bench_preset(c, "ckks_n15", presets::n15());
}

criterion_group!(ckks, benches);
criterion_main!(ckks);

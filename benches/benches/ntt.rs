//! NTT speed: the `tfhe-ntt` backend behind [`NttTable`] against a plain Rust Harvey NTT
//! (Shoup twiddles, lazy reduction, bit-reversed twiddle order as in SEAL), the code we would
//! otherwise have written. docs/dependencies.md records the outcome.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use shroud_math::{ntt_primes, Modulus, NttTable};

/// The baseline: a textbook negacyclic Cooley-Tukey NTT with Harvey butterflies.
struct PlainNtt {
    m: Modulus,
    /// psi^bitrev(i) and Shoup quotients.
    twiddles: Vec<(u64, u64)>,
}

impl PlainNtt {
    fn new(n: usize, m: Modulus) -> Self {
        let q = m.value();
        // A primitive 2n-th root: x^((q-1)/2n) with psi^n = -1.
        let psi = (2..)
            .map(|x| m.pow(x, (q - 1) / (2 * n as u64)))
            .find(|&p| m.pow(p, n as u64) == q - 1)
            .expect("q = 1 mod 2n has a primitive root");
        let bits = n.trailing_zeros();
        let twiddles = (0..n)
            .map(|i| {
                let r = if bits == 0 {
                    0
                } else {
                    i.reverse_bits() >> (usize::BITS - bits)
                };
                let w = m.pow(psi, r as u64);
                (w, m.shoup(w))
            })
            .collect();
        Self { m, twiddles }
    }

    fn forward(&self, a: &mut [u64]) {
        let n = a.len();
        let q = self.m.value();
        let two_q = 2 * q;
        let mut t = n;
        let mut m = 1;
        while m < n {
            t /= 2;
            for i in 0..m {
                let (w, ws) = self.twiddles[m + i];
                let j1 = 2 * i * t;
                for j in j1..j1 + t {
                    let mut x = a[j];
                    if x >= two_q {
                        x -= two_q;
                    }
                    let y = self.m.mul_shoup_lazy(a[j + t], w, ws);
                    a[j] = x + y;
                    a[j + t] = x + two_q - y;
                }
            }
            m *= 2;
        }
        // Outputs are in [0, 4q).
        for x in a.iter_mut() {
            if *x >= two_q {
                *x -= two_q;
            }
            if *x >= q {
                *x -= q;
            }
        }
    }
}

fn bench_ntt(c: &mut Criterion) {
    let mut group = c.benchmark_group("ntt_forward");
    for log_n in [12u32, 13, 14, 15] {
        let n = 1usize << log_n;
        // 28 bits: the 32-bit plan NttTable picks for CKKS scaling primes.
        for bits in [28u32, 40, 60] {
            let m = ntt_primes(bits, n, 1, &[]).unwrap()[0];
            let table = NttTable::new(n, m).unwrap();
            let plain = PlainNtt::new(n, m);
            let mut a: Vec<u64> = (0..n as u64)
                .map(|i| m.reduce(i.wrapping_mul(0x9e37_79b9)))
                .collect();
            let id = format!("2^{log_n}/{bits}-bit");
            group.bench_with_input(BenchmarkId::new("tfhe-ntt", &id), &(), |b, _| {
                b.iter(|| table.forward(&mut a))
            });
            group.bench_with_input(BenchmarkId::new("plain-rust", &id), &(), |b, _| {
                b.iter(|| plain.forward(&mut a))
            });
        }
    }
    group.finish();
    let mut group = c.benchmark_group("ntt_backward");
    for log_n in [13u32, 15] {
        let n = 1usize << log_n;
        let m = ntt_primes(60, n, 1, &[]).unwrap()[0];
        let table = NttTable::new(n, m).unwrap();
        let mut a: Vec<u64> = (0..n as u64).map(|i| m.reduce(i * 31)).collect();
        group.bench_function(format!("tfhe-ntt/2^{log_n}/60-bit"), |b| {
            b.iter(|| table.backward(&mut a))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_ntt
}
criterion_main!(benches);

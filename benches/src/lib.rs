//! # shroud-benches
//!
//! The project's benchmarks in one place: `cargo bench -p shroud-benches` runs them all,
//! `cargo bench -p shroud-benches --bench NAME` one file. The library itself is empty; the
//! benchmarks are in `benches/`:
//!
//! - `ntt`: the negacyclic NTT of `shroud-math` against a plain Harvey NTT, at the ring
//!   degrees and prime sizes of the presets (docs/dependencies.md, docs/performance.md);
//! - `ckks`: every CKKS operation at the 128-bit presets N = 2^13 to 2^15, among them one
//!   multiplication (tensor, relinearization, rescale) and one rotation;
//! - `lwe`: one bootstrapped NAND (and XOR, MUX) at `gates_128`, one 6-bit lookup table at
//!   `pbs6_128`, the nonlinearity of 32 neurons of the MNIST window network at `wide_128`, a
//!   GSW NAND, and the FFT inside every bootstrap;
//! - `iris`: one encrypted Iris training iteration at batch 1, client and server included.
//!
//! Timings on a shared machine drift by 10-30%: compare against a reference by alternating
//! runs (`scripts/ab.sh`), not by one run of each.

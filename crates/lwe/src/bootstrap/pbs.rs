//! Programmable bootstrapping: key switch, modulus switch, blind rotation of a test
//! polynomial, sample extraction. A lookup table is a test polynomial; a gate is the sign
//! table applied to a linear combination of its inputs.

use std::sync::atomic::Ordering;

use rayon::prelude::*;

use super::bootstrap_key::sample_extract;
use super::keys::ServerKey;
use super::lwe::{delta, encode_bit, LweCiphertext, EIGHTH};
use super::params::KeyLevel;
use crate::LweError;
use shroud_math::KeyTag;

/// The largest failure probability (log2) [`ServerKey::sum_bit`] accepts: the bound the
/// presets' gates are checked against.
pub const MAX_LOG2_FAILURE: f64 = -40.0;

/// How many bootstraps one thread runs against a single pass over the bootstrapping key.
/// Each extra one reuses every chunk of the key from the L1 cache instead of streaming it
/// again (see `BootstrapKey::blind_rotate_many`), for 64-96 KB of digit spectra of its own,
/// which are read once per step. Sixteen measured 6% faster per MNIST image than four.
pub(crate) const SHARED_ROTATIONS: usize = 16;

/// One bootstrap of a batch: its input, the test polynomial it rotates, the rotations its
/// phase is shifted by first, and the bootstrapping key it runs through.
pub(crate) struct Rotation<'a> {
    pub input: &'a LweCiphertext,
    pub test_poly: &'a [u64],
    pub offset: usize,
    pub level: KeyLevel,
}

/// A function on `bits`-bit integers, as the test polynomial that evaluates it.
/// It belongs to the server key that built it.
#[derive(Clone, Debug)]
pub struct Lut {
    bits: u32,
    pub(crate) poly: Vec<u64>,
    tag: KeyTag,
}

impl Lut {
    /// Refuses a width the key's tables cannot have, before anything of size `2^bits` is
    /// allocated.
    fn check_width(key: &ServerKey, bits: u32) -> Result<(), LweError> {
        if bits == 0 || bits > key.params.message_bits {
            return Err(LweError::MessageOutOfRange { message: 0, bits });
        }
        Ok(())
    }

    /// `table[m]` is the output for input `m`; it needs `2^bits` entries below `2^bits`.
    pub fn new(key: &ServerKey, bits: u32, table: &[u64]) -> Result<Self, LweError> {
        let p = &key.params;
        Self::check_width(key, bits)?;
        if table.len() != 1 << bits {
            return Err(LweError::LutSize {
                expected: 1 << bits,
                found: table.len(),
            });
        }
        if let Some(&m) = table.iter().find(|&&m| m >> bits != 0) {
            return Err(LweError::MessageOutOfRange { message: m, bits });
        }
        // The first half of the rotations (phases in [0, 1/2), padding bit 0) is split into one
        // box of N / 2^bits coefficients per input value.
        let n = p.polynomial_size;
        let box_size = n >> bits;
        let poly = (0..n)
            .map(|j| table[j / box_size].wrapping_mul(delta(bits)))
            .collect();
        Ok(Self {
            bits,
            poly,
            tag: key.tag,
        })
    }

    /// A table whose outputs are raw torus values (any encoding the caller chooses).
    pub(crate) fn raw(key: &ServerKey, bits: u32, outputs: &[u64]) -> Result<Self, LweError> {
        Self::check_width(key, bits)?;
        if outputs.len() != 1 << bits {
            return Err(LweError::LutSize {
                expected: 1 << bits,
                found: outputs.len(),
            });
        }
        let mut lut = Self::new(key, bits, &vec![0; 1 << bits])?;
        let box_size = key.params.polynomial_size >> bits;
        for (j, c) in lut.poly.iter_mut().enumerate() {
            *c = outputs[j / box_size];
        }
        Ok(lut)
    }

    /// A table with signed outputs, `|table[m]| < 2^bits`, encoded as `table[m] * delta`
    /// modulo the torus: sums of such outputs and of clear offsets (see
    /// [`LweCiphertext::add_clear`]) stay exact as long as the final sum is back in
    /// `[0, 2^bits)` when it enters another table, or is read with
    /// [`ClientKey::decrypt_signed`](super::ClientKey::decrypt_signed).
    pub fn signed(key: &ServerKey, bits: u32, table: &[i64]) -> Result<Self, LweError> {
        Self::check_width(key, bits)?;
        let outputs: Vec<u64> = table
            .iter()
            .map(|&v| {
                if v.unsigned_abs() >> bits != 0 {
                    return Err(LweError::SignedOutOfRange { value: v, bits });
                }
                Ok((v as u64).wrapping_mul(delta(bits)))
            })
            .collect::<Result<_, _>>()?;
        Self::raw(key, bits, &outputs)
    }

    /// A table from a function, for convenience.
    pub fn from_fn(key: &ServerKey, bits: u32, f: impl Fn(u64) -> u64) -> Result<Self, LweError> {
        Self::check_width(key, bits)?;
        let table: Vec<u64> = (0..1u64 << bits)
            .map(|m| f(m) & ((1 << bits) - 1))
            .collect();
        Self::new(key, bits, &table)
    }
}

impl ServerKey {
    /// Refuses a ciphertext of other parameters or under another key, or of the wrong size.
    pub(crate) fn check(&self, ct: &LweCiphertext) -> Result<(), LweError> {
        self.tag.check(ct.tag)?;
        let d = self.params.big_lwe_dimension();
        if ct.dimension() != d {
            return Err(LweError::DimensionMismatch {
                expected: d,
                found: ct.dimension(),
            });
        }
        Ok(())
    }

    /// Bootstraps `ct` through `test_poly`, after shifting its phase by `offset` rotations
    /// (half a box for lookup tables, so that each box is centred on its message).
    pub(crate) fn bootstrap(
        &self,
        ct: &LweCiphertext,
        test_poly: &[u64],
        offset: usize,
    ) -> LweCiphertext {
        let job = Rotation {
            input: ct,
            test_poly,
            offset,
            level: KeyLevel::Full,
        };
        self.extract(&self.rotate_group(&[&job])[0], 0)
    }

    /// The ciphertext of coefficient `j` of a rotated accumulator, under the large key.
    pub(crate) fn extract(&self, acc: &[u64], j: usize) -> LweCiphertext {
        LweCiphertext {
            data: sample_extract(&self.params, acc, j),
            tag: self.tag,
        }
    }

    /// Bootstraps of many ciphertexts through one test polynomial, on all threads, sharing
    /// reads of the key (see [`ServerKey::rotate_batch`]).
    pub(crate) fn bootstrap_batch(
        &self,
        cts: &[&LweCiphertext],
        test_poly: &[u64],
        offset: usize,
    ) -> Vec<LweCiphertext> {
        let jobs: Vec<Rotation> = cts
            .iter()
            .map(|&input| Rotation {
                input,
                test_poly,
                offset,
                level: KeyLevel::Full,
            })
            .collect();
        self.rotate_batch(&jobs)
            .iter()
            .map(|acc| self.extract(acc, 0))
            .collect()
    }

    /// The blind rotations of many independent bootstraps, each with its own test polynomial,
    /// on all threads: one group of at most [`SHARED_ROTATIONS`] per thread at a time, each
    /// group sharing its reads of the key (its jobs all use the same key). Returns the
    /// accumulators in the order of `jobs`.
    pub(crate) fn rotate_batch(&self, jobs: &[Rotation]) -> Vec<Vec<u64>> {
        let group = jobs
            .len()
            .div_ceil(rayon::current_num_threads())
            .clamp(1, SHARED_ROTATIONS);
        // Groups share a key: the jobs of each level, in their order.
        let mut by_level: [Vec<usize>; 3] = Default::default();
        for (i, job) in jobs.iter().enumerate() {
            by_level[self.params.resolve(job.level) as usize].push(i);
        }
        let groups: Vec<&[usize]> = by_level.iter().flat_map(|l| l.chunks(group)).collect();
        let accs: Vec<Vec<Vec<u64>>> = groups
            .par_iter()
            .map(|g| {
                let g: Vec<&Rotation> = g.iter().map(|&i| &jobs[i]).collect();
                self.rotate_group(&g)
            })
            .collect();
        let mut out = vec![Vec::new(); jobs.len()];
        for (&i, acc) in groups
            .iter()
            .copied()
            .flatten()
            .zip(accs.into_iter().flatten())
        {
            out[i] = acc;
        }
        out
    }

    /// Key switch, modulus switch and one shared blind rotation for a group of ciphertexts,
    /// on this thread; returns the accumulators.
    fn rotate_group(&self, group: &[&Rotation]) -> Vec<Vec<u64>> {
        let p = &self.params;
        let level = self
            .params
            .resolve(group.first().map_or(KeyLevel::Full, |job| job.level));
        let (key_params, bsk) = match (level, &self.light, &self.coarse) {
            (KeyLevel::Light, Some(key), _) | (KeyLevel::Coarse, _, Some(key)) => (&key.0, &key.1),
            _ => (p, &*self.bsk),
        };
        // Modulus switch from 2^32 to 2N: keep the top log2(2N) bits, rounded.
        let log2n = (2 * p.polynomial_size).trailing_zeros();
        let mask = 2 * p.polynomial_size - 1;
        let inputs: Vec<&[u64]> = group.iter().map(|job| &job.input.data[..]).collect();
        let rotations: Vec<Vec<usize>> = group
            .iter()
            .zip(self.ksk.apply_many(p, &inputs))
            .map(|(job, small)| {
                let mut r: Vec<usize> = small
                    .iter()
                    .map(|&a| (((a as u64 + (1 << (31 - log2n))) >> (32 - log2n)) as usize) & mask)
                    .collect();
                r[p.lwe_dimension] = (r[p.lwe_dimension] + job.offset) & mask;
                r
            })
            .collect();
        let test_polys: Vec<&[u64]> = group.iter().map(|job| job.test_poly).collect();
        let n = group.len() as u64;
        self.counters.keyswitches.fetch_add(n, Ordering::Relaxed);
        let accs = bsk.blind_rotate_many(key_params, &self.fft, &rotations, &test_polys);
        self.counters.bootstraps.fetch_add(n, Ordering::Relaxed);
        self.counters.by_key[level as usize].fetch_add(n, Ordering::Relaxed);
        accs
    }

    /// Evaluates a lookup table on an encrypted `lut.bits`-bit integer; the output is a fresh
    /// encryption of `table[m]` with the bootstrap's (small, fixed) noise.
    pub fn apply_lut(&self, ct: &LweCiphertext, lut: &Lut) -> Result<LweCiphertext, LweError> {
        self.check(ct)?;
        Ok(self.bootstrap(ct, &lut.poly, self.lut_offset(lut)?))
    }

    /// Many lookup tables at once, in parallel, sharing reads of the key.
    pub fn apply_lut_batch(
        &self,
        cts: &[LweCiphertext],
        lut: &Lut,
    ) -> Result<Vec<LweCiphertext>, LweError> {
        for ct in cts {
            self.check(ct)?;
        }
        let refs: Vec<&LweCiphertext> = cts.iter().collect();
        Ok(self.bootstrap_batch(&refs, &lut.poly, self.lut_offset(lut)?))
    }

    /// Half a box of `lut`, the phase shift that centres every box on its message; errors if
    /// the table was built by another server key.
    pub(crate) fn lut_offset(&self, lut: &Lut) -> Result<usize, LweError> {
        self.tag.check(lut.tag)?;
        Ok((self.params.polynomial_size >> lut.bits) / 2)
    }

    /// The test polynomial of the sign: +1/8 for phases in (0, 1/2), -1/8 otherwise.
    fn sign_poly(&self) -> Vec<u64> {
        vec![EIGHTH; self.params.polynomial_size]
    }

    fn sign_bootstrap(&self, ct: &LweCiphertext) -> LweCiphertext {
        self.bootstrap(ct, &self.sign_poly(), 0)
    }

    /// The input of a gate's sign bootstrap: `c0 + c1 a + c2 b`, the constant in eighths of
    /// the torus.
    fn gate_input(
        &self,
        gate: Gate,
        a: &LweCiphertext,
        b: &LweCiphertext,
    ) -> Result<LweCiphertext, LweError> {
        self.check(a)?;
        self.check(b)?;
        let (constant_eighths, ka, kb) = gate.coefficients();
        let mut lin = a.scalar_mul(ka).add(&b.scalar_mul(kb))?;
        lin.add_to_body(EIGHTH.wrapping_mul(constant_eighths as u64));
        Ok(lin)
    }

    /// NAND of two encrypted bits, with one bootstrap.
    pub fn nand(&self, a: &LweCiphertext, b: &LweCiphertext) -> Result<LweCiphertext, LweError> {
        self.apply_gate(Gate::Nand, a, b)
    }

    /// AND of two encrypted bits, with one bootstrap.
    pub fn and(&self, a: &LweCiphertext, b: &LweCiphertext) -> Result<LweCiphertext, LweError> {
        self.apply_gate(Gate::And, a, b)
    }

    /// OR of two encrypted bits, with one bootstrap.
    pub fn or(&self, a: &LweCiphertext, b: &LweCiphertext) -> Result<LweCiphertext, LweError> {
        self.apply_gate(Gate::Or, a, b)
    }

    /// NOR of two encrypted bits, with one bootstrap.
    pub fn nor(&self, a: &LweCiphertext, b: &LweCiphertext) -> Result<LweCiphertext, LweError> {
        self.apply_gate(Gate::Nor, a, b)
    }

    /// XOR of two encrypted bits, with one bootstrap.
    pub fn xor(&self, a: &LweCiphertext, b: &LweCiphertext) -> Result<LweCiphertext, LweError> {
        self.apply_gate(Gate::Xor, a, b)
    }

    /// XNOR of two encrypted bits, with one bootstrap.
    pub fn xnor(&self, a: &LweCiphertext, b: &LweCiphertext) -> Result<LweCiphertext, LweError> {
        self.apply_gate(Gate::Xnor, a, b)
    }

    /// Free: negates the encoding, no bootstrap.
    pub fn not(&self, a: &LweCiphertext) -> Result<LweCiphertext, LweError> {
        self.check(a)?;
        Ok(a.neg())
    }

    /// `c ? a : b` with two bootstraps, run in parallel (see [`ServerKey::pending_mux`]).
    pub fn mux(
        &self,
        c: &LweCiphertext,
        a: &LweCiphertext,
        b: &LweCiphertext,
    ) -> Result<LweCiphertext, LweError> {
        self.finish_one(self.pending_mux(c, a, b)?)
    }

    /// Bit 1 of `(constant + sum of w_i m_i) mod 4` over encrypted bits `m_i`, in one
    /// bootstrap (see [`ServerKey::pending_sum_bit`]).
    pub fn sum_bit(
        &self,
        terms: &[(i64, &LweCiphertext)],
        constant: i64,
    ) -> Result<LweCiphertext, LweError> {
        self.finish_one(self.pending_sum_bit(terms, constant)?)
    }

    /// A noiseless encryption of a public bit (zero mask), for constants in circuits.
    pub fn trivial_bit(&self, bit: bool) -> LweCiphertext {
        let mut ct = self.zero();
        ct.add_to_body(encode_bit(bit));
        ct
    }

    fn zero(&self) -> LweCiphertext {
        LweCiphertext {
            data: vec![0u64; self.params.big_lwe_dimension() + 1],
            tag: self.tag,
        }
    }

    /// Evaluates many independent two-input gates in parallel, sharing reads of the key.
    pub fn gate_batch(
        &self,
        gate: Gate,
        inputs: &[(LweCiphertext, LweCiphertext)],
    ) -> Result<Vec<LweCiphertext>, LweError> {
        let pending = inputs
            .iter()
            .map(|(a, b)| self.pending_gate(gate, a, b))
            .collect::<Result<Vec<_>, _>>()?;
        self.finish(pending)
    }

    /// One two-input gate chosen at run time.
    pub fn apply_gate(
        &self,
        gate: Gate,
        a: &LweCiphertext,
        b: &LweCiphertext,
    ) -> Result<LweCiphertext, LweError> {
        Ok(self.sign_bootstrap(&self.gate_input(gate, a, b)?))
    }

    /// A two-input gate, bootstrap deferred.
    pub fn pending_gate(
        &self,
        gate: Gate,
        a: &LweCiphertext,
        b: &LweCiphertext,
    ) -> Result<PendingGate, LweError> {
        Ok(PendingGate {
            inputs: vec![self.gate_input(gate, a, b)?],
            output: Output::Sign,
        })
    }

    /// NOT as a pending gate (it has no bootstrap), so circuits can hand every gate of a layer
    /// to [`ServerKey::finish`].
    pub fn pending_not(&self, a: &LweCiphertext) -> Result<PendingGate, LweError> {
        Ok(PendingGate {
            inputs: vec![],
            output: Output::Ready(self.not(a)?),
        })
    }

    /// `c ? a : b`, bootstraps deferred: AND(c, a) and AND(NOT c, b) are never both true, so
    /// their sum plus 1/8 is their OR without a third bootstrap.
    pub fn pending_mux(
        &self,
        c: &LweCiphertext,
        a: &LweCiphertext,
        b: &LweCiphertext,
    ) -> Result<PendingGate, LweError> {
        Ok(PendingGate {
            inputs: vec![
                self.gate_input(Gate::And, c, a)?,
                self.gate_input(Gate::And, &c.neg(), b)?,
            ],
            output: Output::SumPlusEighth,
        })
    }

    /// [`ServerKey::sum_bit`], bootstrap deferred. Each bit moves the phase by `w_i / 4`, so
    /// the four residues land on the odd eighths of the torus, each 1/8 from the sign decision
    /// boundaries: the same margin as the two-input gates, with the noise of `sum w_i^2`
    /// inputs. Weights 1 give the parity of `floor(count / 2)` (the majority of three bits, a
    /// full adder's carry), weights 2 the parity of the count (XOR of any number of bits); AND
    /// is `[1, 1]`, OR `[1, 1]` plus 1. Refuses weights whose noise would make a wrong result
    /// likelier than 2^-40.
    pub fn pending_sum_bit(
        &self,
        terms: &[(i64, &LweCiphertext)],
        constant: i64,
    ) -> Result<PendingGate, LweError> {
        let norm2: f64 = terms.iter().map(|&(w, _)| (w * w) as f64).sum();
        let log2 = self.params.log2_failure_probability(1, norm2);
        if log2 > MAX_LOG2_FAILURE {
            return Err(LweError::FailureProbability {
                log2,
                limit_log2: MAX_LOG2_FAILURE,
            });
        }
        let mut lin = self.zero();
        let mut weight_sum = 0i64;
        for &(w, ct) in terms {
            self.check(ct)?;
            lin = lin.add(&ct.scalar_mul(w))?;
            weight_sum += w;
        }
        // With m_i encoded as (2 m_i - 1) / 8, this constant puts residue q on (2 q + 1) / 8;
        // the sign is true for q in {0, 1}, so the negation is bit 1 of q.
        let eighths = 2 * constant.rem_euclid(4) + 1 + weight_sum;
        lin.add_to_body(EIGHTH.wrapping_mul(eighths as u64));
        Ok(PendingGate {
            inputs: vec![lin],
            output: Output::NegatedSign,
        })
    }

    /// Runs the bootstraps of many pending gates together, on all threads and sharing reads
    /// of the key; the outputs come in the order of `gates`.
    pub fn finish(&self, gates: Vec<PendingGate>) -> Result<Vec<LweCiphertext>, LweError> {
        let inputs: Vec<&LweCiphertext> = gates.iter().flat_map(|g| &g.inputs).collect();
        for input in &inputs {
            self.check(input)?;
        }
        let mut signs = self
            .bootstrap_batch(&inputs, &self.sign_poly(), 0)
            .into_iter();
        let mut next = || {
            signs
                .next()
                .ok_or(LweError::Internal("one bootstrap per pending input"))
        };
        gates
            .into_iter()
            .map(|g| match g.output {
                Output::Ready(ct) => Ok(ct),
                Output::Sign => next(),
                Output::NegatedSign => Ok(next()?.neg()),
                Output::SumPlusEighth => {
                    let mut out = next()?.add(&next()?)?;
                    out.add_to_body(EIGHTH);
                    Ok(out)
                }
            })
            .collect()
    }

    fn finish_one(&self, gate: PendingGate) -> Result<LweCiphertext, LweError> {
        Ok(self.finish(vec![gate])?.remove(0))
    }
}

/// A gate whose linear part is evaluated and whose bootstraps have not run yet:
/// [`ServerKey::finish`] runs those of many gates at once, which is how a circuit's layer
/// shares one pass over the bootstrapping key per thread.
#[derive(Clone, Debug)]
pub struct PendingGate {
    /// Ciphertexts to sign-bootstrap.
    inputs: Vec<LweCiphertext>,
    output: Output,
}

/// How a pending gate's output comes from its bootstraps.
#[derive(Clone, Debug)]
enum Output {
    /// No bootstrap (NOT): the ciphertext itself.
    Ready(LweCiphertext),
    /// The one sign bootstrap.
    Sign,
    /// Its negation (`sum_bit`).
    NegatedSign,
    /// The two bootstraps added, plus 1/8 (MUX).
    SumPlusEighth,
}

/// The bootstrapped two-input gates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// `!(a && b)`.
    Nand,
    /// `a && b`.
    And,
    /// `a || b`.
    Or,
    /// `!(a || b)`.
    Nor,
    /// `a ^ b`.
    Xor,
    /// `!(a ^ b)`.
    Xnor,
}

impl Gate {
    /// `(c0, c1, c2)` of the gate's sign bootstrap input `c0 / 8 + c1 a + c2 b` (bits encoded
    /// as +-1/8): NAND `1/8 - a - b`, XOR `1/4 + 2 (a + b)` (the sum of two bits lands on
    /// -1/4 or 3/4 when false, 1/4 when true), the others alike.
    fn coefficients(self) -> (i64, i64, i64) {
        match self {
            Gate::Nand => (1, -1, -1),
            Gate::And => (-1, 1, 1),
            Gate::Or => (1, 1, 1),
            Gate::Nor => (-1, -1, -1),
            Gate::Xor => (2, 2, 2),
            Gate::Xnor => (-2, -2, -2),
        }
    }

    /// Every gate, to iterate over.
    pub const ALL: [Gate; 6] = [
        Gate::Nand,
        Gate::And,
        Gate::Or,
        Gate::Nor,
        Gate::Xor,
        Gate::Xnor,
    ];

    /// The gate on clear bits.
    pub fn eval(self, a: bool, b: bool) -> bool {
        match self {
            Gate::Nand => !(a && b),
            Gate::And => a && b,
            Gate::Or => a || b,
            Gate::Nor => !(a || b),
            Gate::Xor => a ^ b,
            Gate::Xnor => !(a ^ b),
        }
    }
}

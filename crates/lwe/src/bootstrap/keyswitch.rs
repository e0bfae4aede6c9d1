//! Key switching from the large LWE key (dimension `k N`) to the small one (dimension `n`).
//!
//! The key switch keeps only the top `base_log * levels` (at most 32) bits of every mask
//! coefficient, and the small key's noise is about 2^-17 of the torus, so the switch runs on a
//! 32-bit torus: the key takes half the memory of a 64-bit one, and key switching, which
//! streams the whole key for every bootstrap, runs about twice as fast.

use serde::{Deserialize, Serialize};

use super::params::BootstrapParams;
use super::random::TorusSampler;

/// `ksk[i][j]` = LWE encryption under the small key of `s_big[i] / B^(j+1)`, on 32 bits.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeySwitchKey {
    pub(crate) data: Vec<u32>,
}

/// An LWE ciphertext under the small key on the 32-bit torus: `n` mask words and a body.
pub(crate) type SmallLwe = Vec<u32>;

impl KeySwitchKey {
    pub(crate) fn expected_len(p: &BootstrapParams) -> usize {
        p.big_lwe_dimension() * p.ks.levels as usize * (p.lwe_dimension + 1)
    }

    /// Words of a seeded key's bodies: one per row.
    pub(crate) fn bodies_len(p: &BootstrapParams) -> usize {
        p.big_lwe_dimension() * p.ks.levels as usize
    }

    /// The bodies of a seeded key: row `(i, j)` encrypts `s_big[i] / B^(j+1)` under the
    /// small key with the next `n` words of the public stream (their top 32 bits) as mask.
    pub(crate) fn seeded_bodies(
        p: &BootstrapParams,
        big_key: &[u64],
        small_key: &[u64],
        masks: &mut TorusSampler,
        noise: &mut TorusSampler,
    ) -> Vec<u32> {
        let (b, l) = (p.ks.base_log, p.ks.levels);
        let mut mask = vec![0u64; p.lwe_dimension];
        let mut bodies = Vec::with_capacity(Self::bodies_len(p));
        for &s in big_key {
            for j in 0..l {
                masks.uniform(&mut mask);
                let mut body = (s as u32).wrapping_shl(32 - (j + 1) * b);
                body = body.wrapping_add(round_to_u32(noise.gaussian(p.lwe_noise_std)));
                for (&a, &sk) in mask.iter().zip(small_key) {
                    body = body.wrapping_add(((a >> 32) as u32).wrapping_mul(sk as u32));
                }
                bodies.push(body);
            }
        }
        bodies
    }

    /// The key from its bodies ([`Self::bodies_len`] words) and its masks' public stream.
    pub(crate) fn from_seeded(
        p: &BootstrapParams,
        bodies: &[u32],
        masks: &mut TorusSampler,
    ) -> Self {
        let n = p.lwe_dimension;
        let mut data = Vec::with_capacity(Self::expected_len(p));
        let mut mask = vec![0u64; n];
        for &body in bodies {
            masks.uniform(&mut mask);
            data.extend(mask.iter().map(|&a| (a >> 32) as u32));
            data.push(body);
        }
        Self { data }
    }

    /// Switches each of `bigs` (64-bit ciphertexts under the large key) to the small key.
    /// The ciphertexts advance together row by row, so each row of the key (which is far
    /// larger than the caches) is read from memory once for all of them.
    pub(crate) fn apply_many(&self, p: &BootstrapParams, bigs: &[&[u64]]) -> Vec<SmallLwe> {
        let n = p.lwe_dimension;
        let (b, l) = (p.ks.base_log, p.ks.levels as usize);
        let dim = p.big_lwe_dimension();
        let mut outs: Vec<SmallLwe> = bigs
            .iter()
            .map(|big| {
                let mut out = vec![0u32; n + 1];
                out[n] = round_to_u32(big[dim]);
                out
            })
            .collect();
        let mut digits = vec![0i32; l * bigs.len()];
        for i in 0..dim {
            for (big, d) in bigs.iter().zip(digits.chunks_mut(l)) {
                decompose_u32(round_to_u32(big[i]), b, d);
            }
            for j in 0..l {
                let row = &self.data[(i * l + j) * (n + 1)..][..n + 1];
                for (out, d) in outs.iter_mut().zip(digits.chunks(l)) {
                    let d = d[j];
                    if d == 0 {
                        continue;
                    }
                    let d = d as u32;
                    for (o, r) in out.iter_mut().zip(row) {
                        *o = o.wrapping_sub(r.wrapping_mul(d));
                    }
                }
            }
        }
        outs
    }
}

/// The top 32 bits of a torus word, rounded.
#[inline]
pub(crate) fn round_to_u32(x: u64) -> u32 {
    (x.wrapping_add(1 << 31) >> 32) as u32
}

/// Balanced digits of the top `base_log * digits.len()` bits of `x`, rounded; `digits[0]` is
/// the most significant (weight `2^(32 - base_log)`), every digit in `[-B/2, B/2]`.
#[inline]
fn decompose_u32(x: u32, base_log: u32, digits: &mut [i32]) {
    let total = base_log * digits.len() as u32;
    let shift = 32 - total;
    let mut v = if shift == 0 {
        x as u64
    } else {
        ((x >> shift) as u64) + ((x >> (shift - 1)) & 1) as u64
    };
    let base = 1u64 << base_log;
    let half = base >> 1;
    for d in digits.iter_mut().rev() {
        let mut digit = v & (base - 1);
        v >>= base_log;
        if digit > half || (digit == half && (v & 1) == 1) {
            digit = digit.wrapping_sub(base);
            v += 1;
        }
        *d = digit as i64 as i32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposition_recomposes_the_rounded_value() {
        let mut rng = TorusSampler::from_seed(5);
        let mut xs = vec![0u64; 1000];
        rng.uniform(&mut xs);
        for (b, l) in [(3u32, 4usize), (4, 8), (8, 2)] {
            let mut digits = vec![0i32; l];
            for &x in &xs {
                let x = x as u32;
                decompose_u32(x, b, &mut digits);
                let mut r = 0u32;
                for (j, &d) in digits.iter().enumerate() {
                    assert!(d.unsigned_abs() <= 1 << (b - 1));
                    r = r.wrapping_add((d as u32).wrapping_shl(32 - (j as u32 + 1) * b));
                }
                let err = x.wrapping_sub(r) as i32;
                let total = b * l as u32;
                let bound = if total == 32 { 0 } else { 1u32 << (31 - total) };
                assert!(err.unsigned_abs() <= bound);
            }
        }
    }
}

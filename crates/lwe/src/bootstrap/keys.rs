//! The client key (both secret keys; encrypts and decrypts) and the server key (bootstrapping
//! and key-switching keys; evaluates).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shroud_math::{Fingerprint, KeyTag};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::bootstrap_key::BootstrapKey;
use super::compressed::CompressedServerKey;
use super::fft::NegacyclicFft;
use super::keyswitch::KeySwitchKey;
use super::lwe::{delta, encode_bit, LweCiphertext};
use super::params::{BootstrapParams, KeyLevel};
use super::random::TorusSampler;
use crate::LweError;

/// The secret side: the small LWE key `s` (dimension `n`) and the GLWE key `S` (k binary
/// polynomials), whose coefficients form the large LWE key ciphertexts are encrypted under.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct ClientKey {
    #[zeroize(skip)]
    pub(crate) params: BootstrapParams,
    pub(crate) small: Vec<u64>,
    pub(crate) glwe: Vec<u64>,
    /// Recomputed from the keys, never read from a file.
    #[serde(skip)]
    #[zeroize(skip)]
    pub(crate) tag: KeyTag,
    #[serde(skip, default = "TorusSampler::from_os")]
    #[zeroize(skip)]
    rng: TorusSampler,
}

/// The public evaluation key. Cloning shares the (large) keys.
#[derive(Clone)]
pub struct ServerKey {
    pub(crate) params: BootstrapParams,
    /// The parameters' fingerprint and the identity of the client key that made it.
    pub(crate) tag: KeyTag,
    pub(crate) bsk: Arc<BootstrapKey>,
    /// The bootstrapping keys of `params.light_pbs` and `params.coarse_pbs` with their
    /// parameters, if the set has them.
    pub(crate) light: Option<Arc<(BootstrapParams, BootstrapKey)>>,
    pub(crate) coarse: Option<Arc<(BootstrapParams, BootstrapKey)>>,
    pub(crate) ksk: Arc<KeySwitchKey>,
    pub(crate) fft: Arc<NegacyclicFft>,
    pub(crate) counters: Arc<Counters>,
}

/// How many of the costly operations a server key has run.
#[derive(Debug, Default)]
pub struct Counters {
    pub(crate) bootstraps: AtomicU64,
    pub(crate) keyswitches: AtomicU64,
    /// Bootstraps through each key, indexed by [`KeyLevel`].
    pub(crate) by_key: [AtomicU64; 3],
}

/// A snapshot of a server key's operation counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpCounts {
    /// Bootstraps run (blind rotations), through any of the keys.
    pub bootstraps: u64,
    /// Key switches from the large key to the small one, one before every bootstrap.
    pub keyswitches: u64,
    /// Bootstraps through the full, the light and the coarse key.
    pub by_key: [u64; 3],
}

impl ClientKey {
    /// A fresh key from the OS-seeded CSPRNG.
    pub fn new(params: &BootstrapParams) -> Result<Self, LweError> {
        Self::with_sampler(params, TorusSampler::from_os())
    }

    /// Deterministic keys, for tests and reproducible benchmarks only.
    pub fn from_seed(params: &BootstrapParams, seed: u64) -> Result<Self, LweError> {
        Self::with_sampler(params, TorusSampler::from_seed(seed))
    }

    fn with_sampler(params: &BootstrapParams, mut rng: TorusSampler) -> Result<Self, LweError> {
        params.validate()?;
        let mut key = Self {
            params: params.clone(),
            small: rng.binary(params.lwe_dimension),
            glwe: rng.binary(params.big_lwe_dimension()),
            tag: KeyTag::default(),
            rng,
        };
        key.tag = key.identity();
        Ok(key)
    }

    /// The tag of this key's ciphertexts: the parameters' fingerprint, and a hash of the
    /// secret keys (one-way, and the keys have hundreds of bits of entropy) as the key's
    /// identity, so that a key read back from a file is the same key.
    pub(crate) fn identity(&self) -> KeyTag {
        let params = self.params.fingerprint();
        KeyTag {
            params,
            key: Fingerprint::of_words("shroud-lwe-key", params, &[&self.small, &self.glwe]),
        }
    }

    /// The parameter set the keys were generated for.
    pub fn params(&self) -> &BootstrapParams {
        &self.params
    }

    /// What this key's ciphertexts and evaluation keys carry.
    pub fn tag(&self) -> KeyTag {
        self.tag
    }

    /// Generates the server key: `n` GGSW encryptions of the small key's bits (or of their
    /// patterns, for grouped keys) at each key level and the key switch from the large key
    /// to the small one. It is the expansion of [`Self::compressed_server_key`], which is
    /// what to send a server.
    pub fn server_key(&mut self) -> ServerKey {
        self.compressed_server_key().decompress()
    }

    /// The server key as a seed and the bodies of its rows: a third of its size for
    /// `wide_128`. The server rebuilds the key with [`CompressedServerKey::decompress`].
    pub fn compressed_server_key(&mut self) -> CompressedServerKey {
        CompressedServerKey::generate(
            &self.params,
            self.tag.key,
            &self.small,
            &self.glwe,
            &mut self.rng,
        )
    }

    /// Encrypts a torus value under the large key with the GLWE noise.
    fn encrypt_raw(&mut self, m: u64) -> LweCiphertext {
        let d = self.glwe.len();
        let mut data = vec![0u64; d + 1];
        self.rng.uniform(&mut data[..d]);
        let mut body = m.wrapping_add(self.rng.gaussian(self.params.glwe_noise_std));
        for (a, s) in data.iter().zip(&self.glwe) {
            body = body.wrapping_add(a.wrapping_mul(*s));
        }
        data[d] = body;
        LweCiphertext {
            data,
            tag: self.tag,
        }
    }

    /// The phase `b - <a, s>`; errors if the ciphertext is not under this key.
    fn phase(&self, ct: &LweCiphertext) -> Result<u64, LweError> {
        self.tag.check(ct.tag)?;
        if ct.dimension() != self.glwe.len() {
            return Err(LweError::DimensionMismatch {
                expected: self.glwe.len(),
                found: ct.dimension(),
            });
        }
        let d = self.glwe.len();
        let dot = ct.data[..d]
            .iter()
            .zip(&self.glwe)
            .fold(0u64, |acc, (a, s)| acc.wrapping_add(a.wrapping_mul(*s)));
        Ok(ct.data[d].wrapping_sub(dot))
    }

    /// Encrypts a bit for the gates under the large key: true is +1/8 of the torus, false
    /// -1/8.
    pub fn encrypt_bit(&mut self, bit: bool) -> LweCiphertext {
        self.encrypt_raw(encode_bit(bit))
    }

    /// Decrypts a gate-encoded bit: true when the phase lies in the upper half of the
    /// signed torus (0, 1/2). Errors if the ciphertext is under another key or of another
    /// dimension.
    pub fn decrypt_bit(&self, ct: &LweCiphertext) -> Result<bool, LweError> {
        Ok((self.phase(ct)? as i64) > 0)
    }

    /// Encrypts `m < 2^bits` as `m * 2^64 / 2^(bits+1)`: the top bit stays zero (the padding
    /// bit programmable bootstrapping needs). `bits` is at most the parameters' message bits.
    pub fn encrypt_int(&mut self, m: u64, bits: u32) -> Result<LweCiphertext, LweError> {
        if bits == 0 || bits > self.params.message_bits || m >> bits != 0 {
            return Err(LweError::MessageOutOfRange { message: m, bits });
        }
        Ok(self.encrypt_raw(m * delta(bits)))
    }

    /// Encrypts a signed integer at scale `2^(64 - width)` (a [`WideCiphertext`](super::WideCiphertext)
    /// once the receiver attaches the interval it knows `v` to lie in).
    pub fn encrypt_scaled(&mut self, v: i64, width: u32) -> Result<LweCiphertext, LweError> {
        if !(1..=62).contains(&width) || super::wide::signed_bits(v, v) > width {
            return Err(LweError::SignedOutOfRange {
                value: v,
                bits: width,
            });
        }
        Ok(self.encrypt_raw((v as u64) << (64 - width)))
    }

    /// Decrypts a signed integer at scale `2^(64 - width)`, rounding away the noise.
    pub fn decrypt_scaled(&self, ct: &LweCiphertext, width: u32) -> Result<i64, LweError> {
        if !(1..=62).contains(&width) {
            return Err(LweError::SignedOutOfRange {
                value: 0,
                bits: width,
            });
        }
        let shift = 64 - width;
        let rounded = self.phase(ct)?.wrapping_add(1 << (shift - 1)) as i64;
        Ok(rounded >> shift)
    }

    /// Decrypts a signed integer `|m| < 2^bits` encoded as `m * delta` modulo the torus (a
    /// sum of [`Lut::signed`](super::Lut::signed) outputs and clear offsets).
    pub fn decrypt_signed(&self, ct: &LweCiphertext, bits: u32) -> Result<i64, LweError> {
        if bits == 0 || bits > self.params.message_bits {
            return Err(LweError::MessageOutOfRange { message: 0, bits });
        }
        // `delta(bits)` is the scale of a (bits + 1)-bit two's-complement integer.
        self.decrypt_scaled(ct, bits + 1)
    }

    /// Decrypts a `bits`-bit integer, rounding away the noise; the padding bit is dropped.
    pub fn decrypt_int(&self, ct: &LweCiphertext, bits: u32) -> Result<u64, LweError> {
        if bits == 0 || bits > self.params.message_bits {
            return Err(LweError::MessageOutOfRange { message: 0, bits });
        }
        let d = delta(bits);
        let rounded = self.phase(ct)?.wrapping_add(d / 2) / d;
        Ok(rounded & ((1 << bits) - 1))
    }
}

impl ServerKey {
    /// Assembles a server key; its tag is the fingerprint of `params` (recomputed, so that
    /// edited parameters cannot keep the tag of the originals) and the client's `key`.
    pub(crate) fn from_parts(
        params: BootstrapParams,
        key: Fingerprint,
        bsk: BootstrapKey,
        [light, coarse]: [Option<BootstrapKey>; 2],
        ksk: KeySwitchKey,
        fft: NegacyclicFft,
    ) -> Self {
        Self {
            tag: KeyTag {
                params: params.fingerprint(),
                key,
            },
            light: light.map(|bsk| Arc::new((params.at(KeyLevel::Light), bsk))),
            coarse: coarse.map(|bsk| Arc::new((params.at(KeyLevel::Coarse), bsk))),
            params,
            bsk: Arc::new(bsk),
            ksk: Arc::new(ksk),
            fft: Arc::new(fft),
            counters: Arc::new(Counters::default()),
        }
    }

    /// The parameter set this key evaluates under.
    pub fn params(&self) -> &BootstrapParams {
        &self.params
    }

    /// The parameters and client key this server key evaluates for.
    pub fn tag(&self) -> KeyTag {
        self.tag
    }

    /// How many operations this key has run so far; its clones share the counters, so the
    /// counts cover them too.
    pub fn counts(&self) -> OpCounts {
        OpCounts {
            bootstraps: self.counters.bootstraps.load(Ordering::Relaxed),
            keyswitches: self.counters.keyswitches.load(Ordering::Relaxed),
            by_key: self
                .counters
                .by_key
                .each_ref()
                .map(|c| c.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::pbs::Rotation;
    use crate::bootstrap::presets;

    /// Measured over modelled variance of `samples` bootstrap outputs under the key of
    /// `seed`, through the bootstrapping key at `level`.
    fn noise_ratio(p: &BootstrapParams, seed: u64, level: KeyLevel, samples: usize) -> f64 {
        let mut client = ClientKey::from_seed(p, seed).unwrap();
        let server = client.server_key();
        let c = 1u64 << 60;
        let test_poly = vec![c; p.polynomial_size];
        let mut sum2 = 0.0;
        for i in 0..samples {
            let sign = if i % 2 == 0 {
                1u64 << 61
            } else {
                (1u64 << 61).wrapping_neg()
            };
            let input = client.encrypt_raw(sign);
            let job = Rotation {
                input: &input,
                test_poly: &test_poly,
                offset: 0,
                level,
            };
            let out = server.extract(&server.rotate_batch(&[job])[0], 0);
            let want = if i % 2 == 0 { c } else { c.wrapping_neg() };
            let err = client.phase(&out).unwrap().wrapping_sub(want) as i64 as f64;
            sum2 += (err / 2f64.powi(64)).powi(2);
        }
        sum2 / samples as f64 / server.planner().output_variance_at(level)
    }

    /// Bootstrap outputs against `bootstrap_output_variance`: the model must bound what is
    /// measured (it decides every failure probability the planners check) without being
    /// wildly pessimistic. On the two wide presets the transforms' rounding dominates, on
    /// the others the key's noise or the dropped digits; `wide_128`'s light and coarse keys
    /// are measured too. Three keys each, 96 bootstraps per key: the sampling error of one
    /// ratio is about 15%, so 1.3 is two of them above a model that holds.
    #[test]
    fn measured_noise() {
        for p in [
            presets::insecure_test(),
            presets::insecure_wide_test(),
            presets::gates_128(),
            presets::wide_128(),
        ] {
            for level in p.key_levels() {
                for seed in 1..=3 {
                    let ratio = noise_ratio(&p, seed, level, 96);
                    assert!(
                        (0.2..1.3).contains(&ratio),
                        "{} ({level:?} key, seed {seed}): measured / model = {ratio}",
                        p.name
                    );
                }
            }
        }
    }

    /// The grid `fft_variance` and the dropped digits' term are fitted to: shapes where one
    /// of them is the only sizeable term (`insecure_wide_test`'s tiny noise, 64 key bits),
    /// four keys and 300 bootstraps each. Prints measured over modelled variance per key (the table of
    /// docs/security-lwe.md, `scripts/noise-fit.sh`) and checks that the model bounds
    /// every mean up to the sampling error (8% at 300 samples). Minutes, hence ignored.
    #[test]
    #[ignore]
    fn fft_noise_grid() {
        let grid: [(usize, usize, u32, u32); 28] = [
            (1024, 1, 9, 4),
            (1024, 1, 12, 4),
            (1024, 1, 15, 2),
            (2048, 1, 6, 8),
            (2048, 1, 9, 4),
            (2048, 1, 10, 4),
            (2048, 1, 12, 4),
            (2048, 1, 14, 3),
            (2048, 1, 15, 2),
            (2048, 1, 16, 3),
            (2048, 1, 18, 2),
            (2048, 1, 24, 2),
            (2048, 1, 20, 2),
            (2048, 1, 9, 1),
            (2048, 1, 12, 2),
            (2048, 1, 20, 1),
            (2048, 1, 23, 1),
            (1024, 1, 23, 1),
            (4096, 1, 9, 4),
            (4096, 1, 12, 4),
            (4096, 1, 15, 2),
            (8192, 1, 9, 4),
            (8192, 1, 15, 2),
            (1024, 2, 12, 4),
            (2048, 2, 9, 4),
            (2048, 2, 15, 2),
            (512, 3, 10, 4),
            (512, 3, 14, 3),
        ];
        let mut worst: f64 = 0.0;
        for (n, k, base_log, levels) in grid {
            let p = BootstrapParams {
                polynomial_size: n,
                glwe_dimension: k,
                lwe_dimension: 64,
                glwe_noise_std: 2f64.powi(-62),
                pbs: crate::bootstrap::params::BlindRotation::classic(base_log, levels),
                light_pbs: None,
                ..presets::insecure_wide_test()
            };
            let ratios: Vec<f64> = (1..=4)
                .map(|s| noise_ratio(&p, s, KeyLevel::Full, 300))
                .collect();
            let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
            let share = p.fft_variance() * p.lwe_dimension as f64 / p.bootstrap_output_variance();
            println!(
                "N={n} k={k} B=2^{base_log} l={levels}: mean {mean:.2} per key {} (transforms {:.0}% of the model)",
                ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(" "),
                100.0 * share
            );
            worst = worst.max(mean);
        }
        println!("largest mean ratio: {worst:.2}");
        assert!(worst < 1.08, "the model undercounts: {worst}");
    }

    /// The ratio of `measured_noise` over ten keys, 200 bootstraps each, on the two secure
    /// presets (`scripts/noise-over-keys.sh`; minutes, hence ignored). It prints the table
    /// docs/security-lwe.md quotes, and checks every key against the model with the
    /// sampling error of 200 bootstraps (10%) twice over.
    #[test]
    #[ignore]
    fn noise_ratio_over_keys() {
        for p in [presets::gates_128(), presets::wide_128()] {
            for level in p.key_levels() {
                let ratios: Vec<f64> = (1..=10).map(|s| noise_ratio(&p, s, level, 200)).collect();
                let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
                let max = ratios.iter().cloned().fold(0.0, f64::max);
                println!(
                    "{} {level:?} key: mean {mean:.2} max {max:.2} ({})",
                    p.name,
                    ratios
                        .iter()
                        .map(|r| format!("{r:.2}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                assert!(ratios.iter().all(|r| (0.2..1.3).contains(r)), "{ratios:?}");
            }
        }
    }
}

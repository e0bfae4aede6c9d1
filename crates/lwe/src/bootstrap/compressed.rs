//! Seeded (compressed) server keys: what the client sends instead of the server key.
//!
//! Every row of the bootstrapping and key-switching keys is an encryption whose mask is
//! uniform. The client draws those masks from public streams of one 32-byte seed
//! (`shroud_math::Sampler::expand_stream`, one stream per key) and sends the seed and the
//! bodies only; the server expands the same masks and rebuilds the keys. The bodies of the
//! bootstrapping keys are rounded to [`BODY_BITS`] bits, which the noise model counts.
//!
//! For `wide_128` (k = 1) a GGSW row's mask is half of it and a key-switching row's mask is
//! 833 of its 834 words: the upload shrinks from 443.5 MB to about 154 MB, and the server's
//! expansion costs one forward transform per row.

use super::bootstrap_key::{BootstrapKey, BODY_BITS};
use super::fft::NegacyclicFft;
use super::keys::ServerKey;
use super::keyswitch::KeySwitchKey;
use super::params::{BootstrapParams, KeyLevel};
use super::random::TorusSampler;
use shroud_math::{Fingerprint, KeyTag};

/// The public stream of each key's masks.
const FULL_STREAM: u64 = 0;
const LIGHT_STREAM: u64 = 1;
const COARSE_STREAM: u64 = 2;
const KSK_STREAM: u64 = 3;

/// A server key as seed and bodies. Build one with
/// [`ClientKey::compressed_server_key`](super::ClientKey::compressed_server_key).
#[derive(Clone, Debug, PartialEq)]
pub struct CompressedServerKey {
    pub(crate) params: BootstrapParams,
    /// The identity of the client key it was made from.
    pub(crate) key: Fingerprint,
    pub(crate) seed: [u8; 32],
    /// Bodies of the bootstrapping keys (full, light, coarse), rounded to [`BODY_BITS`].
    pub(crate) bsk: Vec<u64>,
    pub(crate) light: Option<Vec<u64>>,
    pub(crate) coarse: Option<Vec<u64>>,
    pub(crate) ksk: Vec<u32>,
}

impl CompressedServerKey {
    /// Generates the seeded keys from the secret ones; `noise` draws the errors, the seed
    /// comes from it too.
    pub(crate) fn generate(
        p: &BootstrapParams,
        key: Fingerprint,
        small: &[u64],
        glwe: &[u64],
        noise: &mut TorusSampler,
    ) -> Self {
        let fft = NegacyclicFft::new(p.polynomial_size);
        let seed = noise.seed();
        let bodies = |level: KeyLevel, stream: u64, noise: &mut TorusSampler| {
            let mut masks = TorusSampler::expand_stream(seed, stream);
            BootstrapKey::seeded_bodies(&p.at(level), small, glwe, &fft, &mut masks, noise)
        };
        let bsk = bodies(KeyLevel::Full, FULL_STREAM, noise);
        let light = p
            .light_pbs
            .map(|_| bodies(KeyLevel::Light, LIGHT_STREAM, noise));
        let coarse = p
            .coarse_pbs
            .map(|_| bodies(KeyLevel::Coarse, COARSE_STREAM, noise));
        let mut masks = TorusSampler::expand_stream(seed, KSK_STREAM);
        let ksk = KeySwitchKey::seeded_bodies(p, glwe, small, &mut masks, noise);
        Self {
            params: p.clone(),
            key,
            seed,
            bsk,
            light,
            coarse,
            ksk,
        }
    }

    /// The parameter set the key was generated for.
    pub fn params(&self) -> &BootstrapParams {
        &self.params
    }

    /// The parameters and client key it evaluates for (the fingerprint recomputed from the
    /// parameters it holds).
    pub fn tag(&self) -> KeyTag {
        KeyTag {
            params: self.params.fingerprint(),
            key: self.key,
        }
    }

    /// Bytes of the serialized form for `params`, known before it is generated: 6 bytes per
    /// bootstrapping-key body word ([`BODY_BITS`] bits), 4 per key-switching body word, and
    /// the seed; the envelope adds a few hundred bytes.
    pub fn payload_bytes(params: &BootstrapParams) -> usize {
        let words: usize = params
            .key_levels()
            .map(|level| BootstrapKey::bodies_len(&params.at(level)))
            .sum();
        words * (BODY_BITS as usize / 8) + KeySwitchKey::bodies_len(params) * 4 + 32
    }

    /// The server key: the masks expanded again from the seed, every row transformed. The
    /// three bootstrapping keys expand in parallel.
    pub fn decompress(&self) -> ServerKey {
        let p = &self.params;
        let fft = NegacyclicFft::new(p.polynomial_size);
        let expand = |level: KeyLevel, stream: u64, bodies: &[u64]| {
            let mut masks = TorusSampler::expand_stream(self.seed, stream);
            BootstrapKey::from_seeded(&p.at(level), bodies, &fft, &mut masks)
        };
        let ((bsk, light), coarse) = rayon::join(
            || {
                rayon::join(
                    || expand(KeyLevel::Full, FULL_STREAM, &self.bsk),
                    || {
                        self.light
                            .as_ref()
                            .map(|b| expand(KeyLevel::Light, LIGHT_STREAM, b))
                    },
                )
            },
            || {
                self.coarse
                    .as_ref()
                    .map(|b| expand(KeyLevel::Coarse, COARSE_STREAM, b))
            },
        );
        let mut masks = TorusSampler::expand_stream(self.seed, KSK_STREAM);
        let ksk = KeySwitchKey::from_seeded(p, &self.ksk, &mut masks);
        ServerKey::from_parts(p.clone(), self.key, bsk, [light, coarse], ksk, fft)
    }
}

//! Versioned binary serialization with validation on load.
//!
//! Every object is a header (magic, format version, object kind) and a bincode body, read
//! with a size limit and with trailing bytes rejected. Whatever arrives is then checked against
//! its parameters (lengths, binary keys, finite Fourier values) before it is used: malformed
//! input becomes [`LweError::Malformed`], never a panic or a silently wrong result.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use shroud_math::serde_bytes::ByteBuf;
use shroud_math::{Fingerprint, KeyTag, WireFormat};
use zeroize::Zeroizing;

use crate::bootstrap::{
    BootstrapKey, BootstrapParams, ClientKey, CompressedServerKey, KeyLevel, KeySwitchKey,
    LweCiphertext, NegacyclicFft, ServerKey, BODY_BITS,
};
use crate::gsw::{GswCiphertext, GswParams};
use crate::LweError;

/// Bumped whenever a serialized layout changes.
pub const FORMAT_VERSION: u16 = 5;
const FORMAT: WireFormat = WireFormat {
    magic: *b"SHRL",
    version: FORMAT_VERSION,
    // Large enough for the 6-bit bootstrapping key (about 450 MB in the Fourier domain).
    max_bytes: 1 << 31,
};

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
enum Kind {
    ClientKey,
    ServerKey,
    LweCiphertext,
    GswCiphertext,
    CompressedServerKey,
}

fn encode<T: Serialize>(kind: Kind, body: &T) -> Vec<u8> {
    FORMAT.write(kind, body)
}

fn decode<T: DeserializeOwned>(kind: Kind, bytes: &[u8]) -> Result<T, LweError> {
    FORMAT
        .read(kind, bytes)
        .map_err(|e| LweError::Malformed(e.to_string()))
}

fn check_len(what: &str, found: usize, expected: usize) -> Result<(), LweError> {
    if found != expected {
        return Err(LweError::Malformed(format!(
            "{what} has {found} entries, expected {expected}"
        )));
    }
    Ok(())
}

/// Length and range checks of a bootstrapping key for parameters `p`.
fn check_bootstrap_key(p: &BootstrapParams, bsk: &BootstrapKey) -> Result<(), LweError> {
    check_len(
        "bootstrapping key",
        bsk.fourier.len(),
        BootstrapKey::expected_len(p),
    )?;
    // Fourier values of torus words scaled by at most 2^63 per coefficient and N terms.
    let limit = 2f64.powi(64) * p.polynomial_size as f64;
    if !bsk
        .fourier
        .iter()
        .all(|c| c.is_finite() && c.abs() <= limit)
    {
        return Err(LweError::Malformed(
            "bootstrapping key holds non-finite or out-of-range values".into(),
        ));
    }
    Ok(())
}

fn checked_params(p: &BootstrapParams) -> Result<(), LweError> {
    p.validate()
        .map_err(|e| LweError::Malformed(format!("parameters: {e}")))
}

#[derive(Serialize, Deserialize)]
struct ServerKeyBody {
    params: BootstrapParams,
    key: Fingerprint,
    bsk: BootstrapKey,
    light_bsk: Option<BootstrapKey>,
    coarse_bsk: Option<BootstrapKey>,
    ksk: KeySwitchKey,
}

#[derive(Serialize)]
struct ServerKeyRef<'a> {
    params: &'a BootstrapParams,
    key: Fingerprint,
    bsk: &'a BootstrapKey,
    light_bsk: Option<&'a BootstrapKey>,
    coarse_bsk: Option<&'a BootstrapKey>,
    ksk: &'a KeySwitchKey,
}

impl ServerKey {
    /// What the serialized evaluation key of `params` holds, known before it is generated:
    /// the bootstrapping keys' spectra (8 bytes a float) and the key-switching key (4 bytes a
    /// word); the envelope adds a few hundred bytes.
    pub fn payload_bytes(params: &BootstrapParams) -> usize {
        let floats: usize = params
            .key_levels()
            .map(|level| BootstrapKey::expected_len(&params.at(level)))
            .sum();
        floats * 8 + KeySwitchKey::expected_len(params) * 4
    }

    /// The key as held in memory (the bootstrapping keys' spectra), in the versioned
    /// format [`Self::from_bytes`] reads: larger than the compressed form
    /// ([`CompressedServerKey::to_bytes`]), but loaded without expanding anything.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(
            Kind::ServerKey,
            &ServerKeyRef {
                params: &self.params,
                key: self.tag.key,
                bsk: &self.bsk,
                light_bsk: self.light.as_deref().map(|(_, bsk)| bsk),
                coarse_bsk: self.coarse.as_deref().map(|(_, bsk)| bsk),
                ksk: &self.ksk,
            },
        )
    }

    /// Loads a server key from either of its forms: as [`Self::to_bytes`] writes it (the
    /// transformed key, as held in memory) or compressed ([`CompressedServerKey::to_bytes`],
    /// what clients send), which is expanded here.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LweError> {
        let kind: Kind = FORMAT
            .kind(bytes)
            .map_err(|e| LweError::Malformed(e.to_string()))?;
        if kind == Kind::CompressedServerKey {
            return Ok(CompressedServerKey::from_bytes(bytes)?.decompress());
        }
        let body: ServerKeyBody = decode(Kind::ServerKey, bytes)?;
        let p = &body.params;
        checked_params(p)?;
        for (name, level, decomposition, bsk) in [
            ("light", KeyLevel::Light, p.light_pbs, &body.light_bsk),
            ("coarse", KeyLevel::Coarse, p.coarse_pbs, &body.coarse_bsk),
        ] {
            match (decomposition, bsk) {
                (Some(_), Some(bsk)) => check_bootstrap_key(&p.at(level), bsk)?,
                (None, None) => {}
                _ => {
                    return Err(LweError::Malformed(format!(
                        "{name} bootstrapping key does not match the parameters"
                    )))
                }
            }
        }
        check_bootstrap_key(p, &body.bsk)?;
        check_len(
            "key-switching key",
            body.ksk.data.len(),
            KeySwitchKey::expected_len(p),
        )?;
        let fft = NegacyclicFft::new(p.polynomial_size);
        Ok(ServerKey::from_parts(
            body.params,
            body.key,
            body.bsk,
            [body.light_bsk, body.coarse_bsk],
            body.ksk,
            fft,
        ))
    }
}

/// Bytes a bootstrapping-key body word takes on the wire: its top [`BODY_BITS`] bits.
const BODY_BYTES: usize = BODY_BITS as usize / 8;

fn pack_bodies(words: &[u64]) -> ByteBuf {
    let mut out = Vec::with_capacity(words.len() * BODY_BYTES);
    for w in words {
        out.extend_from_slice(&w.to_be_bytes()[..BODY_BYTES]);
    }
    ByteBuf::from(out)
}

fn unpack_bodies(what: &str, bytes: &[u8], words: usize) -> Result<Vec<u64>, LweError> {
    check_len(what, bytes.len(), words * BODY_BYTES)?;
    Ok(bytes
        .chunks_exact(BODY_BYTES)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..BODY_BYTES].copy_from_slice(c);
            u64::from_be_bytes(w)
        })
        .collect())
}

#[derive(Serialize, Deserialize)]
struct CompressedBody {
    params: BootstrapParams,
    key: Fingerprint,
    seed: [u8; 32],
    bsk: ByteBuf,
    light: Option<ByteBuf>,
    coarse: Option<ByteBuf>,
    ksk: Vec<u32>,
}

impl CompressedServerKey {
    /// The seed and the bodies (those of the bootstrapping keys on [`BODY_BITS`] bits) in
    /// the versioned format; [`Self::from_bytes`] and [`ServerKey::from_bytes`] read it.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(
            Kind::CompressedServerKey,
            &CompressedBody {
                params: self.params.clone(),
                key: self.key,
                seed: self.seed,
                bsk: pack_bodies(&self.bsk),
                light: self.light.as_deref().map(pack_bodies),
                coarse: self.coarse.as_deref().map(pack_bodies),
                ksk: self.ksk.clone(),
            },
        )
    }

    /// Loads a compressed key and checks every length against its parameters; any body
    /// words of the right count make a well-formed key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LweError> {
        let body: CompressedBody = decode(Kind::CompressedServerKey, bytes)?;
        let p = &body.params;
        checked_params(p)?;
        let bodies = |what: &str, level: KeyLevel, bytes: &[u8]| {
            unpack_bodies(what, bytes, BootstrapKey::bodies_len(&p.at(level)))
        };
        let optional =
            |what: &str, level: KeyLevel, present: bool, b: &Option<ByteBuf>| match (present, b) {
                (true, Some(b)) => bodies(what, level, b).map(Some),
                (false, None) => Ok(None),
                _ => Err(LweError::Malformed(format!(
                    "{what} does not match the parameters"
                ))),
            };
        let light = optional(
            "light bootstrapping key",
            KeyLevel::Light,
            p.light_pbs.is_some(),
            &body.light,
        )?;
        let coarse = optional(
            "coarse bootstrapping key",
            KeyLevel::Coarse,
            p.coarse_pbs.is_some(),
            &body.coarse,
        )?;
        let bsk = bodies("bootstrapping key", KeyLevel::Full, &body.bsk)?;
        check_len(
            "key-switching key",
            body.ksk.len(),
            KeySwitchKey::bodies_len(p),
        )?;
        Ok(Self {
            params: body.params,
            key: body.key,
            seed: body.seed,
            bsk,
            light,
            coarse,
            ksk: body.ksk,
        })
    }
}

impl ClientKey {
    /// The secret key's bytes, wiped when dropped.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(encode(Kind::ClientKey, self))
    }

    /// Loads a key written by [`Self::to_bytes`], checking its parameters, the lengths of
    /// both secret keys and that they are binary; the tag is recomputed from the keys.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LweError> {
        let mut key: ClientKey = decode(Kind::ClientKey, bytes)?;
        let p = &key.params;
        checked_params(p)?;
        check_len("small key", key.small.len(), p.lwe_dimension)?;
        check_len("GLWE key", key.glwe.len(), p.big_lwe_dimension())?;
        if key.small.iter().chain(&key.glwe).any(|&b| b > 1) {
            return Err(LweError::Malformed("secret keys must be binary".into()));
        }
        key.tag = key.identity();
        Ok(key)
    }
}

impl LweCiphertext {
    /// The ciphertext and its tag in the versioned format [`Self::from_bytes`] reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(Kind::LweCiphertext, self)
    }

    /// Loads a ciphertext and checks that it belongs to `params`; the server key it meets
    /// checks the key it is under.
    pub fn from_bytes(params: &BootstrapParams, bytes: &[u8]) -> Result<Self, LweError> {
        let ct: LweCiphertext = decode(Kind::LweCiphertext, bytes)?;
        let expected = params.fingerprint();
        if ct.tag.params != expected {
            return Err(LweError::Mismatch(shroud_math::TagMismatch {
                expected: KeyTag {
                    params: expected,
                    key: ct.tag.key,
                },
                found: ct.tag,
            }));
        }
        check_len(
            "LWE ciphertext",
            ct.data.len(),
            params.big_lwe_dimension() + 1,
        )?;
        Ok(ct)
    }
}

impl GswCiphertext {
    /// The ciphertext, its noise record and its tag in the versioned format
    /// [`Self::from_bytes`] reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(Kind::GswCiphertext, self)
    }

    /// Loads a GSW ciphertext and checks its shape and noise record against `params`.
    pub fn from_bytes(params: &GswParams, bytes: &[u8]) -> Result<Self, LweError> {
        let ct: GswCiphertext = decode(Kind::GswCiphertext, bytes)?;
        ct.validate(params).map_err(|e| match e {
            LweError::Mismatch(_) => e,
            other => LweError::Malformed(other.to_string()),
        })?;
        Ok(ct)
    }
}

//! Versioned binary serialization with validation on load.
//!
//! Every object is written as a header (magic, format version, object kind, parameter
//! fingerprint) followed by its body, in bincode. Residues are bit-packed at the width of their
//! prime (a 40-bit limb costs 40 bits, not 64). Loading checks everything a malicious or
//! corrupted file could get wrong: magic, version, kind, parameters, level, number of
//! polynomials and limbs, exact lengths, every residue below its modulus, finite scale. A
//! failure is a [`CkksError`], never a panic.

use serde::{Deserialize, Serialize};
use shroud_math::serde_bytes::ByteBuf;
use shroud_math::{Fingerprint, KeyTag, RnsBasis, RnsPoly, WireError, WireFormat};

use crate::keys::{
    EncapsulationKey, GaloisKeys, KeyGenerator, PublicKey, RelinKey, SecretKey, SwitchingKey,
};
use crate::{Ciphertext, CkksError, Params, ParamsLiteral, Plaintext, SeededCiphertext};

/// Version of the binary format written by this build.
pub const FORMAT_VERSION: u16 = 2;
const FORMAT: WireFormat = WireFormat {
    magic: *b"SHRD",
    version: FORMAT_VERSION,
    // No serialized object of any supported parameter set comes near this.
    max_bytes: 1 << 32,
};

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Params,
    Ciphertext,
    Plaintext,
    PublicKey,
    RelinKey,
    GaloisKeys,
    SecretKey,
    SeededCiphertext,
    EncapsulationKey,
}

#[derive(Serialize, Deserialize)]
struct ParamsWire {
    literal: ParamsLiteral,
    q: Vec<u64>,
    p: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct CiphertextWire {
    level: u32,
    scale: f64,
    polys: Vec<ByteBuf>,
}

/// `c_0` as a one-polynomial ciphertext body, and the seed of `c_1`.
#[derive(Serialize, Deserialize)]
struct SeededCiphertextWire {
    c0: CiphertextWire,
    seed: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct SwitchingKeyWire {
    parts: Vec<(ByteBuf, ByteBuf)>,
}

fn malformed(e: impl std::fmt::Display) -> CkksError {
    CkksError::Malformed(e.to_string())
}

/// Every body travels with the tag of the parameters and key it belongs to (key 0 for
/// objects of no key: parameters and plaintexts).
fn write<T: Serialize>(kind: Kind, tag: KeyTag, body: &T) -> Vec<u8> {
    FORMAT.write(kind, &(tag, body))
}

/// Reads and checks the envelope and, when given, the parameters; returns the tag and the
/// body.
fn read<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    kind: Kind,
    params: Option<&Params>,
) -> Result<(KeyTag, T), CkksError> {
    let (tag, body): (KeyTag, T) = FORMAT.read(kind, bytes).map_err(|e| match e {
        WireError::Version { found, expected } => CkksError::UnsupportedVersion { found, expected },
        other => malformed(other),
    })?;
    if let Some(p) = params {
        p.check_same(tag.params)?;
    }
    Ok((tag, body))
}

/// The tag of objects that belong to parameters only.
fn keyless(params: Fingerprint) -> KeyTag {
    KeyTag {
        params,
        key: Fingerprint::default(),
    }
}

/// Packs each limb at the bit width of its modulus into one little-endian bit stream, eight
/// bytes at a time.
fn pack(poly: &RnsPoly, basis: &RnsBasis) -> ByteBuf {
    let mut out = Vec::with_capacity(packed_len(basis) + 8);
    let (mut acc, mut filled) = (0u128, 0u32);
    for i in 0..basis.len() {
        let bits = basis.modulus(i).bits();
        for &v in poly.limb(i) {
            acc |= (v as u128) << filled;
            filled += bits;
            if filled >= 64 {
                out.extend_from_slice(&(acc as u64).to_le_bytes());
                acc >>= 64;
                filled -= 64;
            }
        }
    }
    out.extend_from_slice(&acc.to_le_bytes()[..filled.div_ceil(8) as usize]);
    ByteBuf::from(out)
}

/// A basis has `n >= 16` (the NTT's minimum), so every limb fills whole bytes: the stream
/// has no padding bits to check.
fn packed_len(basis: &RnsBasis) -> usize {
    let bits: usize = basis.moduli().map(|m| m.bits() as usize).sum::<usize>() * basis.n();
    bits.div_ceil(8)
}

/// The `width` bits of `bytes` (a little-endian bit stream) from bit `at`, `width <= 64`.
fn bits_at(bytes: &[u8], at: usize, width: u32) -> u64 {
    let (byte, shift) = (at / 8, at % 8);
    // A value spans at most 9 bytes; 16 are read at once where the stream has them, so that
    // values are independent loads and shifts, not a chain through one accumulator.
    let word = match bytes.get(byte..byte + 16).and_then(|w| w.try_into().ok()) {
        Some(w) => u128::from_le_bytes(w),
        None => {
            let mut w = [0u8; 16];
            w[..bytes.len() - byte].copy_from_slice(&bytes[byte..]);
            u128::from_le_bytes(w)
        }
    };
    ((word >> shift) as u64) & (u64::MAX >> (64 - width))
}

fn unpack(bytes: &[u8], basis: &RnsBasis) -> Result<RnsPoly, CkksError> {
    let len = packed_len(basis);
    if bytes.len() != len {
        return Err(malformed(format!(
            "polynomial of {} bytes, expected {len}",
            bytes.len(),
        )));
    }
    let n = basis.n();
    let mut data = Vec::with_capacity(n * basis.len());
    let mut at = 0;
    for i in 0..basis.len() {
        let m = basis.modulus(i);
        let bits = m.bits();
        let limb = (0..n).map(|j| bits_at(bytes, at + j * bits as usize, bits));
        let start = data.len();
        data.extend(limb);
        at += n * bits as usize;
        if let Some(v) = data[start..].iter().find(|&&v| v >= m.value()) {
            return Err(malformed(format!(
                "residue {v} not below its modulus {}",
                m.value()
            )));
        }
    }
    RnsPoly::from_data(n, data).map_err(malformed)
}

impl Params {
    /// Serializes the literal and the primes it chose, under the parameters' fingerprint;
    /// [`Self::from_bytes`] rebuilds the parameters from them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = ParamsWire {
            literal: self.literal().clone(),
            q: self.q_moduli().iter().map(|m| m.value()).collect(),
            p: self.p_moduli().iter().map(|m| m.value()).collect(),
        };
        write(Kind::Params, keyless(self.id()), &wire)
    }

    /// Rebuilds parameters and checks they are the ones that were saved and 128-bit secure.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CkksError> {
        Self::load(bytes, Params::new)
    }

    /// Like [`Params::from_bytes`] but accepts insecure parameters. For tests only.
    pub fn from_bytes_insecure(bytes: &[u8]) -> Result<Self, CkksError> {
        Self::load(bytes, Params::new_insecure)
    }

    fn load(
        bytes: &[u8],
        build: fn(ParamsLiteral) -> Result<Params, CkksError>,
    ) -> Result<Self, CkksError> {
        let (tag, wire): (KeyTag, ParamsWire) = read(bytes, Kind::Params, None)?;
        let params = build(wire.literal)?;
        let same = params
            .q_moduli()
            .iter()
            .map(|m| m.value())
            .eq(wire.q.iter().copied())
            && params
                .p_moduli()
                .iter()
                .map(|m| m.value())
                .eq(wire.p.iter().copied());
        if !same {
            return Err(malformed("primes do not match the parameter literal"));
        }
        params.check_same(tag.params)?;
        Ok(params)
    }
}

fn ct_to_wire(level: usize, scale: f64, polys: &[&RnsPoly], params: &Params) -> CiphertextWire {
    let basis = &params.ctx().levels[level].q;
    CiphertextWire {
        level: level as u32,
        scale,
        polys: polys.iter().map(|p| pack(p, basis)).collect(),
    }
}

fn ct_from_wire(
    wire: CiphertextWire,
    params: &Params,
    allowed: std::ops::RangeInclusive<usize>,
) -> Result<(usize, f64, Vec<RnsPoly>), CkksError> {
    let level = wire.level as usize;
    let basis = &params.level_ctx(level)?.q;
    params.check_scale(level, wire.scale)?;
    if !allowed.contains(&wire.polys.len()) {
        return Err(malformed(format!("{} polynomials", wire.polys.len())));
    }
    let polys = wire
        .polys
        .iter()
        .map(|b| unpack(b, basis))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((level, wire.scale, polys))
}

impl Ciphertext {
    /// Serializes with its parameters' fingerprint; `params` must be the ones it belongs to.
    pub fn to_bytes(&self, params: &Params) -> Result<Vec<u8>, CkksError> {
        params.check_same(self.tag.params)?;
        let polys: Vec<&RnsPoly> = self.polys.iter().collect();
        Ok(write(
            Kind::Ciphertext,
            self.tag,
            &ct_to_wire(self.level, self.scale, &polys, params),
        ))
    }

    /// Reads a ciphertext, or a seeded one (whose seed it expands).
    pub fn from_bytes(params: &Params, bytes: &[u8]) -> Result<Self, CkksError> {
        let kind: Kind = FORMAT.kind(bytes).map_err(|e| match e {
            WireError::Version { found, expected } => {
                CkksError::UnsupportedVersion { found, expected }
            }
            other => malformed(other),
        })?;
        let (tag, (level, scale, polys)) = if kind == Kind::SeededCiphertext {
            let (tag, wire): (_, SeededCiphertextWire) = read(bytes, kind, Some(params))?;
            let (level, scale, mut polys) = ct_from_wire(wire.c0, params, 1..=1)?;
            let basis = &params.level_ctx(level)?.q;
            polys.push(KeyGenerator::expand_seed(wire.seed, basis));
            (tag, (level, scale, polys))
        } else {
            let (tag, wire): (_, CiphertextWire) = read(bytes, Kind::Ciphertext, Some(params))?;
            (tag, ct_from_wire(wire, params, 2..=3)?)
        };
        Ok(Ciphertext {
            tag,
            level,
            scale,
            polys,
        })
    }
}

impl SeededCiphertext {
    /// Serializes `c_0` and the seed; [`Ciphertext::from_bytes`] reads it back whole.
    pub fn to_bytes(&self, params: &Params) -> Result<Vec<u8>, CkksError> {
        params.check_same(self.tag.params)?;
        Ok(write(
            Kind::SeededCiphertext,
            self.tag,
            &SeededCiphertextWire {
                c0: ct_to_wire(self.level, self.scale, &[&self.c0], params),
                seed: self.seed,
            },
        ))
    }
}

impl Plaintext {
    /// Serializes with its parameters' fingerprint; `params` must be the ones it was encoded
    /// for.
    pub fn to_bytes(&self, params: &Params) -> Result<Vec<u8>, CkksError> {
        params.check_same(self.params_id)?;
        Ok(write(
            Kind::Plaintext,
            keyless(self.params_id),
            &ct_to_wire(self.level, self.scale, &[&self.poly], params),
        ))
    }

    /// Reads a plaintext written under `params`, checking its level, scale and residues.
    pub fn from_bytes(params: &Params, bytes: &[u8]) -> Result<Self, CkksError> {
        let (_, wire): (_, CiphertextWire) = read(bytes, Kind::Plaintext, Some(params))?;
        let (level, scale, mut polys) = ct_from_wire(wire, params, 1..=1)?;
        Ok(Plaintext {
            params_id: params.id(),
            level,
            scale,
            poly: polys.remove(0),
        })
    }
}

impl PublicKey {
    /// Serializes with its tag; `params` must be the ones it belongs to.
    pub fn to_bytes(&self, params: &Params) -> Result<Vec<u8>, CkksError> {
        params.check_same(self.tag.params)?;
        let basis = &params.ctx().levels[params.max_level()].q;
        Ok(write(
            Kind::PublicKey,
            self.tag,
            &(pack(&self.b, basis), pack(&self.a, basis)),
        ))
    }

    /// Reads a public key written under `params`, checking every residue.
    pub fn from_bytes(params: &Params, bytes: &[u8]) -> Result<Self, CkksError> {
        let (tag, (b, a)): (_, (ByteBuf, ByteBuf)) = read(bytes, Kind::PublicKey, Some(params))?;
        let basis = &params.ctx().levels[params.max_level()].q;
        Ok(PublicKey {
            tag,
            b: unpack(&b, basis)?,
            a: unpack(&a, basis)?,
        })
    }
}

impl SwitchingKey {
    fn to_wire(&self, params: &Params) -> SwitchingKeyWire {
        let basis = &params.ctx().levels[params.max_level()].qp;
        SwitchingKeyWire {
            parts: self
                .parts
                .iter()
                .map(|(b, a)| (pack(b, basis), pack(a, basis)))
                .collect(),
        }
    }

    fn from_wire(wire: SwitchingKeyWire, tag: KeyTag, params: &Params) -> Result<Self, CkksError> {
        let top = &params.ctx().levels[params.max_level()];
        if wire.parts.len() != top.digits.len() {
            return Err(malformed(format!(
                "{} key parts for {} digits",
                wire.parts.len(),
                top.digits.len()
            )));
        }
        let parts = wire
            .parts
            .iter()
            .map(|(b, a)| Ok((unpack(b, &top.qp)?, unpack(a, &top.qp)?)))
            .collect::<Result<Vec<_>, CkksError>>()?;
        Ok(SwitchingKey { tag, parts })
    }
}

impl RelinKey {
    /// Serializes with its tag; `params` must be the ones it belongs to.
    pub fn to_bytes(&self, params: &Params) -> Result<Vec<u8>, CkksError> {
        params.check_same(self.0.tag.params)?;
        Ok(write(Kind::RelinKey, self.0.tag, &self.0.to_wire(params)))
    }

    /// Reads a relinearization key written under `params`, checking its number of digits and
    /// every residue.
    pub fn from_bytes(params: &Params, bytes: &[u8]) -> Result<Self, CkksError> {
        let (tag, wire) = read(bytes, Kind::RelinKey, Some(params))?;
        Ok(RelinKey(SwitchingKey::from_wire(wire, tag, params)?))
    }
}

impl GaloisKeys {
    /// Serializes every key of the set under their common tag; all must belong to `params`
    /// and to one secret key.
    pub fn to_bytes(&self, params: &Params) -> Result<Vec<u8>, CkksError> {
        // The set's key is its first key's (an empty set has none); every key must share it.
        let tag = self
            .keys
            .values()
            .next()
            .map_or(keyless(params.id()), |k| k.tag);
        let wire = self
            .keys
            .iter()
            .map(|(&g, k)| {
                params.check_same(k.tag.params)?;
                tag.check(k.tag)?;
                Ok((g, k.to_wire(params)))
            })
            .collect::<Result<Vec<_>, CkksError>>()?;
        Ok(write(Kind::GaloisKeys, tag, &wire))
    }

    /// Reads a set written under `params`, refusing Galois elements that are even, not below
    /// `2N` or repeated, and checking every key as [`RelinKey::from_bytes`] does.
    pub fn from_bytes(params: &Params, bytes: &[u8]) -> Result<Self, CkksError> {
        let (tag, wire): (_, Vec<(u64, SwitchingKeyWire)>) =
            read(bytes, Kind::GaloisKeys, Some(params))?;
        let two_n = 2 * params.n() as u64;
        let mut keys = GaloisKeys::default();
        for (g, k) in wire {
            if g % 2 == 0 || g >= two_n || keys.keys.contains_key(&g) {
                return Err(malformed(format!("bad or repeated Galois element {g}")));
            }
            keys.keys
                .insert(g, SwitchingKey::from_wire(k, tag, params)?);
        }
        Ok(keys)
    }
}

/// The key to the sparse secret over `q_0 p_0`, and the key back.
#[derive(Serialize, Deserialize)]
struct EncapsulationKeyWire {
    to_sparse: (ByteBuf, ByteBuf),
    to_dense: SwitchingKeyWire,
}

impl EncapsulationKey {
    /// Serializes both keys under their tag; `params` must be the ones they belong to, and
    /// both must come from one secret key.
    pub fn to_bytes(&self, params: &Params) -> Result<Vec<u8>, CkksError> {
        params.check_same(self.tag.params)?;
        self.tag.check(self.to_dense.tag)?;
        let small = Self::sparse_basis(params)?;
        let (b, a) = &self.to_sparse;
        let wire = EncapsulationKeyWire {
            to_sparse: (pack(b, &small), pack(a, &small)),
            to_dense: self.to_dense.to_wire(params),
        };
        Ok(write(Kind::EncapsulationKey, self.tag, &wire))
    }

    /// Reads an encapsulation key written under `params`, checking every residue.
    pub fn from_bytes(params: &Params, bytes: &[u8]) -> Result<Self, CkksError> {
        let (tag, wire): (_, EncapsulationKeyWire) =
            read(bytes, Kind::EncapsulationKey, Some(params))?;
        let small = Self::sparse_basis(params)?;
        let (b, a) = &wire.to_sparse;
        Ok(Self {
            tag,
            to_sparse: (unpack(b, &small)?, unpack(a, &small)?),
            to_dense: SwitchingKey::from_wire(wire.to_dense, tag, params)?,
        })
    }
}

impl SecretKey {
    /// The ternary coefficients, one byte each. Handle the result as the secret it is.
    pub fn to_bytes(&self, params: &Params) -> Result<zeroize::Zeroizing<Vec<u8>>, CkksError> {
        params.check_same(self.tag.params)?;
        let coeffs: zeroize::Zeroizing<Vec<i8>> =
            zeroize::Zeroizing::new(self.coeffs.iter().map(|&c| c as i8).collect());
        Ok(zeroize::Zeroizing::new(write(
            Kind::SecretKey,
            self.tag,
            &*coeffs,
        )))
    }

    /// Reads a secret key written under `params`: `N` coefficients in {-1, 0, 1} whose
    /// identity must be the one stored with them.
    pub fn from_bytes(params: &Params, bytes: &[u8]) -> Result<Self, CkksError> {
        let (stored, coeffs): (KeyTag, Vec<i8>) = read(bytes, Kind::SecretKey, Some(params))?;
        let coeffs = zeroize::Zeroizing::new(coeffs);
        if coeffs.len() != params.n() || coeffs.iter().any(|c| !(-1..=1).contains(c)) {
            return Err(malformed(
                "secret key coefficients must be n values in {-1, 0, 1}",
            ));
        }
        let coeffs: Vec<i64> = coeffs.iter().map(|&c| c as i64).collect();
        // The identity is recomputed from the key, and must be the one it was saved with.
        let tag = SecretKey::identity(params.id(), &coeffs);
        if tag != stored {
            return Err(malformed(
                "the secret key does not match its recorded identity",
            ));
        }
        let basis = &params.ctx().levels[params.max_level()].qp;
        let mut poly = RnsPoly::from_signed(basis, &coeffs);
        poly.ntt_forward(basis);
        Ok(SecretKey { tag, coeffs, poly })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shroud_math::{ntt_primes, Sampler};

    /// A basis whose widths (61, 37, 29 bits) leave residues straddling word boundaries.
    fn odd_basis(n: usize) -> RnsBasis {
        let moduli: Vec<_> = [61, 37, 29]
            .iter()
            .flat_map(|&bits| ntt_primes(bits, n, 1, &[]).unwrap())
            .collect();
        RnsBasis::new(n, &moduli).unwrap()
    }

    #[test]
    fn packing_round_trips_random_residues() {
        let mut s = Sampler::from_seed(5);
        for n in [16, 64, 1024] {
            let basis = odd_basis(n);
            let mut data = vec![0u64; n * basis.len()];
            for (i, limb) in data.chunks_mut(n).enumerate() {
                s.uniform(basis.modulus(i), limb);
                // The extremes of each range.
                (limb[0], limb[1]) = (0, basis.modulus(i).value() - 1);
            }
            let poly = RnsPoly::from_data(n, data).unwrap();
            let bytes = pack(&poly, &basis);
            assert_eq!(bytes.len(), packed_len(&basis));
            assert_eq!(unpack(&bytes, &basis).unwrap(), poly);
        }
    }

    #[test]
    fn unpacking_rejects_large_residues() {
        let n = 16;
        let basis = odd_basis(n);
        let poly = RnsPoly::from_data(n, vec![0; n * basis.len()]).unwrap();
        let zeros = pack(&poly, &basis).into_vec();
        let mut ones = zeros.clone();
        ones[..8].fill(0xff); // the first residue becomes 2^61 - 1, above its 61-bit prime
        assert!(matches!(
            unpack(&ones, &basis),
            Err(CkksError::Malformed(_))
        ));
    }
}

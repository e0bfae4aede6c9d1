//! Versioned binary envelopes, shared by every scheme's serialization: a header (magic, format
//! version, object kind), the SHA-256 digest of the body, and a bincode body, read with a size
//! limit and with trailing bytes rejected, so that truncated, padded, foreign, oversized or
//! edited input is an error. The digest is checked before the body is decoded: a flipped bit
//! anywhere (in a key's parameters, say) is caught even where the edited value would still
//! be well-formed. It guards against corruption and careless edits, not against someone who
//! recomputes it; identities ([`crate::KeyTag`]) catch what such an edit would mix up.

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bytes of the body's digest.
const DIGEST_BYTES: usize = 32;

/// One serialization format: its magic, version and the largest object it accepts.
#[derive(Clone, Copy, Debug)]
pub struct WireFormat {
    /// Four bytes that open every object of this format and tell it from others.
    pub magic: [u8; 4],
    /// Format version written into each header; reading requires an exact match.
    pub version: u16,
    /// Largest object accepted, in bytes: longer input is refused before it is decoded, and
    /// no length prefix inside it may make the decoder allocate more.
    pub max_bytes: u64,
}

/// Why bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The header or body could not be decoded: the input is truncated, has trailing bytes,
    /// or declares a length beyond the format's limit. Holds the decoder's message.
    #[error("undecodable input: {0}")]
    Decode(String),
    /// The input does not start with this format's magic; holds the magic that was expected.
    #[error("not a {0:?} object")]
    Magic([u8; 4]),
    /// The input was written in another version of the format.
    #[error("serialization format version {found}, this build reads {expected}")]
    Version {
        /// The version in the input's header.
        found: u16,
        /// The version this format reads and writes.
        expected: u16,
    },
    /// The input is a valid object of this format, but of another kind than was asked for.
    #[error("expected a {expected}, found a {found}")]
    Kind {
        /// The kind asked for, in its `Debug` spelling.
        expected: String,
        /// The kind in the input's header, in its `Debug` spelling.
        found: String,
    },
    /// The input is longer than [`WireFormat::max_bytes`].
    #[error("{found} bytes, more than the {limit} this format accepts")]
    TooLarge {
        /// Length of the input, in bytes.
        found: u64,
        /// The format's limit, in bytes.
        limit: u64,
    },
    /// The body's SHA-256 digest differs from the one in the header: the object was corrupted
    /// or edited after it was written.
    #[error("the body does not match its digest: the object was corrupted or edited")]
    Digest,
}

#[derive(Serialize, Deserialize)]
struct Header<K> {
    magic: [u8; 4],
    version: u16,
    kind: K,
}

impl WireFormat {
    fn options(&self) -> impl Options {
        bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .with_limit(self.max_bytes)
            .reject_trailing_bytes()
    }

    /// Serializes `body` as an object of `kind`: header, digest of the body, then the body.
    /// The size limit is the reader's: an object larger than [`Self::max_bytes`] is written,
    /// and [`Self::read`] refuses it with [`WireError::TooLarge`].
    pub fn write<K: Serialize, T: Serialize + ?Sized>(&self, kind: K, body: &T) -> Vec<u8> {
        let header = Header {
            magic: self.magic,
            version: self.version,
            kind,
        };
        // Without a size limit bincode fails only on maps and sequences of unknown length or
        // on a writer's error; the project's types have neither and a `Vec` never errs.
        let options = bincode::DefaultOptions::new().with_fixint_encoding();
        #[allow(clippy::expect_used)]
        let mut out = options
            .serialize(&header)
            .expect("in-memory serialization of plain data");
        let digest_at = out.len();
        out.extend_from_slice(&[0; DIGEST_BYTES]);
        #[allow(clippy::expect_used)]
        options
            .serialize_into(&mut out, body)
            .expect("in-memory serialization of plain data");
        let digest = Sha256::digest(&out[digest_at + DIGEST_BYTES..]);
        out[digest_at..digest_at + DIGEST_BYTES].copy_from_slice(&digest);
        out
    }

    /// The header and the verified body bytes that follow it.
    fn split<'a, K: DeserializeOwned>(
        &self,
        bytes: &'a [u8],
    ) -> Result<(Header<K>, &'a [u8]), WireError> {
        if bytes.len() as u64 > self.max_bytes {
            return Err(WireError::TooLarge {
                found: bytes.len() as u64,
                limit: self.max_bytes,
            });
        }
        let mut reader = bytes;
        let header: Header<K> = bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .with_limit(self.max_bytes)
            .allow_trailing_bytes()
            .deserialize_from(&mut reader)
            .map_err(|e| WireError::Decode(e.to_string()))?;
        self.check_header(&header)?;
        if reader.len() < DIGEST_BYTES {
            return Err(WireError::Decode("no digest after the header".into()));
        }
        let (digest, body) = reader.split_at(DIGEST_BYTES);
        if Sha256::digest(body).as_slice() != digest {
            return Err(WireError::Digest);
        }
        Ok((header, body))
    }

    /// The kind an object declares, after checking magic, version and digest: for readers
    /// that accept several kinds.
    pub fn kind<K: DeserializeOwned>(&self, bytes: &[u8]) -> Result<K, WireError> {
        Ok(self.split(bytes)?.0.kind)
    }

    fn check_header<K>(&self, header: &Header<K>) -> Result<(), WireError> {
        if header.magic != self.magic {
            return Err(WireError::Magic(self.magic));
        }
        if header.version != self.version {
            return Err(WireError::Version {
                found: header.version,
                expected: self.version,
            });
        }
        Ok(())
    }

    /// The body of an object of `kind`, after checking magic, version, kind and digest.
    pub fn read<K, T>(&self, kind: K, bytes: &[u8]) -> Result<T, WireError>
    where
        K: DeserializeOwned + PartialEq + std::fmt::Debug,
        T: DeserializeOwned,
    {
        let (header, body) = self.split::<K>(bytes)?;
        if header.kind != kind {
            return Err(WireError::Kind {
                expected: format!("{kind:?}"),
                found: format!("{:?}", header.kind),
            });
        }
        self.options()
            .deserialize(body)
            .map_err(|e| WireError::Decode(e.to_string()))
    }
}

/// Recomputes the digest of an object after its body was edited, so that tests and fuzzers
/// can reach the checks behind the digest. Every format's header is its magic, version and a
/// kind whose encoding is a 4-byte variant index. Returns false if `bytes` is too short to
/// hold a header and a digest.
pub fn reseal(bytes: &mut [u8]) -> bool {
    const HEADER: usize = 4 + 2 + 4;
    if bytes.len() < HEADER + DIGEST_BYTES {
        return false;
    }
    let (head, body) = bytes.split_at_mut(HEADER + DIGEST_BYTES);
    head[HEADER..].copy_from_slice(&Sha256::digest(body));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: WireFormat = WireFormat {
        magic: *b"TEST",
        version: 3,
        max_bytes: 1 << 20,
    };

    #[derive(Serialize, Deserialize, PartialEq, Debug, Clone, Copy)]
    enum Kind {
        A,
        B,
    }

    #[test]
    fn roundtrip_and_every_refusal() {
        let bytes = F.write(Kind::A, &vec![1u64, 2, 3]);
        assert_eq!(
            F.read::<_, Vec<u64>>(Kind::A, &bytes).unwrap(),
            vec![1, 2, 3]
        );
        assert_eq!(F.kind::<Kind>(&bytes), Ok(Kind::A));
        assert!(matches!(
            F.kind::<Kind>(&bytes[..4]),
            Err(WireError::Decode(_))
        ));
        assert!(matches!(
            F.read::<_, Vec<u64>>(Kind::B, &bytes),
            Err(WireError::Kind { .. })
        ));
        let mut v = bytes.clone();
        v[4] = 9;
        assert!(matches!(
            F.read::<_, Vec<u64>>(Kind::A, &v),
            Err(WireError::Version { found: 9, .. })
        ));
        let mut m = bytes.clone();
        m[0] = b'X';
        assert!(matches!(
            F.read::<_, Vec<u64>>(Kind::A, &m),
            Err(WireError::Magic(_))
        ));
        assert!(F
            .read::<_, Vec<u64>>(Kind::A, &bytes[..bytes.len() - 1])
            .is_err());
        assert!(F
            .read::<_, Vec<u64>>(Kind::A, &[bytes.clone(), vec![0]].concat())
            .is_err());
        // Any flipped bit of the body is caught by the digest.
        for i in 42..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 1 << (i % 8);
            assert_eq!(
                F.read::<_, Vec<u64>>(Kind::A, &flipped),
                Err(WireError::Digest)
            );
        }
        // A length prefix far beyond the limit (with a digest recomputed to match) is refused
        // without allocating it.
        let mut huge = bytes.clone();
        huge[42..50].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(reseal(&mut huge));
        assert!(matches!(
            F.read::<_, Vec<u64>>(Kind::A, &huge),
            Err(WireError::Decode(_))
        ));
        let oversized = vec![0u8; (F.max_bytes + 1) as usize];
        assert!(matches!(
            F.read::<_, Vec<u64>>(Kind::A, &oversized),
            Err(WireError::TooLarge { .. })
        ));
        // A body over the limit is written (no panic) and refused on reading.
        let big = F.write(Kind::A, &vec![7u64; (F.max_bytes / 8 + 1) as usize]);
        assert!(matches!(
            F.read::<_, Vec<u64>>(Kind::A, &big),
            Err(WireError::TooLarge { .. })
        ));
    }
}

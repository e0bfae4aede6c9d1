//! Versioned binary envelopes, shared by every scheme's serialization: a header (magic, format
//! version, object kind) and a bincode body, read with a size limit and with trailing bytes
//! rejected, so that truncated, padded, foreign or oversized input is an error.

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One serialization format: its magic, version and the largest object it accepts.
#[derive(Clone, Copy, Debug)]
pub struct WireFormat {
    pub magic: [u8; 4],
    pub version: u16,
    pub max_bytes: u64,
}

/// Why bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("undecodable input: {0}")]
    Decode(String),
    #[error("not a {0:?} object")]
    Magic([u8; 4]),
    #[error("serialization format version {found}, this build reads {expected}")]
    Version { found: u16, expected: u16 },
    #[error("expected a {expected}, found a {found}")]
    Kind { expected: String, found: String },
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

    pub fn write<K: Serialize, T: Serialize + ?Sized>(&self, kind: K, body: &T) -> Vec<u8> {
        let header = Header {
            magic: self.magic,
            version: self.version,
            kind,
        };
        self.options()
            .serialize(&(header, body))
            .expect("in-memory serialization of plain data")
    }

    /// The kind an object declares, after checking magic and version: for readers that
    /// accept several kinds.
    pub fn kind<K: DeserializeOwned>(&self, bytes: &[u8]) -> Result<K, WireError> {
        let header: Header<K> = bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .with_limit(self.max_bytes)
            .allow_trailing_bytes()
            .deserialize(bytes)
            .map_err(|e| WireError::Decode(e.to_string()))?;
        self.check_header(&header)?;
        Ok(header.kind)
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

    /// The body of an object of `kind`, after checking magic, version and kind.
    pub fn read<K, T>(&self, kind: K, bytes: &[u8]) -> Result<T, WireError>
    where
        K: DeserializeOwned + PartialEq + std::fmt::Debug,
        T: DeserializeOwned,
    {
        let (header, body): (Header<K>, T) = self
            .options()
            .deserialize(bytes)
            .map_err(|e| WireError::Decode(e.to_string()))?;
        self.check_header(&header)?;
        if header.kind != kind {
            return Err(WireError::Kind {
                expected: format!("{kind:?}"),
                found: format!("{:?}", header.kind),
            });
        }
        Ok(body)
    }
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
        // A length prefix far beyond the limit is refused without allocating it.
        let mut huge = bytes.clone();
        huge[10..18].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(F.read::<_, Vec<u64>>(Kind::A, &huge).is_err());
    }
}

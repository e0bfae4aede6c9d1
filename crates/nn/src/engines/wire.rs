//! What crosses between an engine's client and server: lists of LWE ciphertexts in one
//! versioned envelope, tagged with what they carry so an image is never read as logits.

use serde::{Deserialize, Serialize};
use shroud_lwe::bootstrap::{BootstrapParams, ClientKey, LweCiphertext};
use shroud_math::serde_bytes::ByteBuf;
use shroud_math::WireFormat;

use crate::NnError;

const FORMAT: WireFormat = WireFormat {
    magic: *b"SHRM",
    version: 2,
    // 784 ciphertexts at the largest big LWE dimension (2^15 + 1 words), or 784 pixels of
    // 9 encrypted bits at the gate parameters (86 MB), stay below this.
    max_bytes: 1 << 29,
};

/// What a message carries; checked on decoding so an image is never read as logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Kind {
    Image,
    Logits,
}

pub(crate) fn to_bytes(kind: Kind, cts: &[LweCiphertext]) -> Vec<u8> {
    let wire: Vec<ByteBuf> = cts.iter().map(|c| ByteBuf::from(c.to_bytes())).collect();
    FORMAT.write(kind, &wire)
}

pub(crate) fn from_bytes(
    kind: Kind,
    params: &BootstrapParams,
    bytes: &[u8],
    count: usize,
) -> Result<Vec<LweCiphertext>, NnError> {
    let wire: Vec<ByteBuf> = FORMAT
        .read(kind, bytes)
        .map_err(|e| NnError::Malformed(e.to_string()))?;
    if wire.len() != count {
        return Err(NnError::Malformed(format!(
            "{kind:?} of {} ciphertexts, expected {count}",
            wire.len()
        )));
    }
    wire.iter()
        .map(|b| LweCiphertext::from_bytes(params, b).map_err(NnError::from))
        .collect()
}

/// A fresh secret key (seeded from the OS) and the evaluation key for the server, as bytes.
pub(crate) fn fresh_keys(params: &BootstrapParams) -> Result<(ClientKey, Vec<u8>), NnError> {
    let mut key = ClientKey::new(params)?;
    // Compressed: a third of the bytes, and `ServerKey::from_bytes` expands it.
    let evaluation_key = key.compressed_server_key().to_bytes();
    Ok((key, evaluation_key))
}

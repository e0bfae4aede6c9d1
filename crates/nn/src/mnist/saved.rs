//! Model files: a float or a quantized network in the project's versioned wire envelope.

use std::path::Path;

use serde::{Deserialize, Serialize};
use shroud_math::WireFormat;

use super::model::FloatMlp;
use crate::NnError;

const FORMAT: WireFormat = WireFormat {
    magic: *b"SHMN",
    version: 1,
    // A 784-500-256-10 float model takes 1.9 MB; this leaves room for wider networks.
    max_bytes: 1 << 28,
};

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Model;

/// What a model file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SavedModel {
    Float(FloatMlp),
}

impl SavedModel {
    pub fn to_bytes(&self) -> Vec<u8> {
        FORMAT.write(Model, self)
    }

    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self, NnError> {
        FORMAT.read(Model, bytes).map_err(|e| NnError::NotAModel {
            path: name.to_string(),
            reason: e.to_string(),
        })
    }

    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NnError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_bytes()).map_err(|source| NnError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    pub fn load(path: impl AsRef<Path>) -> Result<Self, NnError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| NnError::Io {
            path: name.clone(),
            source,
        })?;
        Self::from_bytes(&bytes, &name)
    }
}

//! The data owner's side of the LWE engines: the secret key, encryption of quantized inputs
//! and decryption of outputs, as the server's public [`Encoding`] says. The same client
//! serves every LWE server ([`GraphServer`](super::GraphServer) for quantized graphs,
//! [`TwoPhaseServer`](super::two_phase::TwoPhaseServer) for the design's two-phase MLP); only
//! bytes travel between them.

use serde::{Deserialize, Serialize};
use shroud_lwe::bootstrap::{BootstrapParams, ClientKey};

use super::wire::{fresh_keys, from_bytes, to_bytes, Kind};
use crate::NnError;

/// The data owner's side: secret key, encryption of images, decryption of logits.
pub struct LweClient {
    key: ClientKey,
}

impl LweClient {
    /// A fresh secret key (seeded from the OS) and the evaluation key for the server, as bytes.
    pub fn new(params: &BootstrapParams) -> Result<(Self, Vec<u8>), NnError> {
        let (key, evaluation_key) = fresh_keys(params)?;
        Ok((Self { key }, evaluation_key))
    }

    /// A client around a secret key kept from an earlier run (`ClientKey::from_bytes`).
    pub fn from_key(key: ClientKey) -> Self {
        Self { key }
    }

    /// The secret key, to keep (`ClientKey::to_bytes` zeroizes its copy).
    pub fn key(&self) -> &ClientKey {
        &self.key
    }

    /// The LWE parameters of the client's key.
    pub fn params(&self) -> &BootstrapParams {
        self.key.params()
    }

    /// Encrypts a quantized input (values in `[0, U]`: a graph's
    /// [`quantize_input`](crate::quant::QuantizedGraph::quantize_input)), one ciphertext per
    /// value.
    pub fn encrypt_input(&mut self, encoding: &Encoding, x: &[i64]) -> Result<Vec<u8>, NnError> {
        let cts = x
            .iter()
            .map(|&v| {
                Ok(match encoding.form {
                    Form::Padded { bits } => {
                        let v = u64::try_from(v).map_err(|_| {
                            NnError::InvalidConfig(format!(
                                "input {v} is negative: not a quantized input"
                            ))
                        })?;
                        self.key.encrypt_int(v, bits)?
                    }
                    Form::Scaled { input_width, .. } => self.key.encrypt_scaled(v, input_width)?,
                })
            })
            .collect::<Result<Vec<_>, NnError>>()?;
        Ok(to_bytes(Kind::Image, &cts))
    }

    /// The model's outputs (logits), as the integer evaluator computes them.
    pub fn decrypt_output(&self, encoding: &Encoding, bytes: &[u8]) -> Result<Vec<i64>, NnError> {
        from_bytes(Kind::Logits, self.params(), bytes, encoding.outputs)?
            .iter()
            .map(|c| {
                Ok(match encoding.form {
                    Form::Padded { bits } => self.key.decrypt_signed(c, bits)?,
                    Form::Scaled { output_width, .. } => {
                        self.key.decrypt_scaled(c, output_width)?
                    }
                })
            })
            .collect()
    }
}

/// How the server wants inputs encrypted and how its logits read: public, sent to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encoding {
    /// Number of input values (an image's pixels, a quantized graph's input elements),
    /// encrypted one ciphertext each.
    pub inputs: usize,
    /// Number of output values (logits, a quantized graph's outputs), returned one
    /// ciphertext each.
    pub outputs: usize,
    /// How each value is encoded in its ciphertext.
    pub form: Form,
}

/// How an integer is encoded in an LWE ciphertext.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Form {
    /// Integers in `[0, 2^bits)` under a padding bit (the two-phase form's tables).
    Padded {
        /// Bits of the message space: the parameters' message bits.
        bits: u32,
    },
    /// Signed integers at scale `2^(64 - width)` (the window form's and quantized graphs'
    /// wide integers).
    Scaled {
        /// The width of the inputs the client encrypts, in bits.
        input_width: u32,
        /// The width of the outputs the client decrypts, in bits.
        output_width: u32,
    },
}

//! What travels between the client and the service besides ciphertexts and keys: the JSON
//! documents of the API (docs/api.md), the headers, and the framing of a training step.
//! Both sides use these types, so the two cannot drift apart.

use serde::{Deserialize, Serialize};
use shroud_nn::engines::Encoding;
use shroud_nn::quant::ModelInterface;
pub use shroud_nn::training::encrypted::PackingName;
use shroud_nn::training::encrypted::Shape;

/// The header naming the key a request uses.
pub const KEY_HEADER: &str = "x-shroud-key";
/// Response header of an inference: the bootstraps it ran.
pub const BOOTSTRAPS_HEADER: &str = "x-shroud-bootstraps";
/// Response header of an inference: the seconds the service spent evaluating the model
/// (loading the key excluded), with three decimals.
pub const SECONDS_HEADER: &str = "x-shroud-seconds";

/// Largest training network the service accepts, per layer.
pub const MAX_TRAINING_WIDTH: usize = 256;

/// A hosted model, as the client needs it: which evaluation key to make, how to encrypt an
/// input and how to read the output. The weights stay on the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The name the service hosts the model under, as in `/v1/models/{name}`.
    pub name: String,
    /// Where the model came from (its ONNX file's name and the quantization).
    pub source: String,
    /// The bootstrapping parameter set the model is compiled for (`shroud_lwe` preset name).
    pub params: String,
    /// Estimated classical security of that parameter set, in bits (0 for test-only sets).
    pub security_bits: u32,
    /// How to quantize an input before encrypting it and how to read the decrypted outputs.
    pub interface: ModelInterface,
    /// How to encrypt the quantized input (ciphertexts per value and their width) and how
    /// many outputs come back.
    pub encoding: Encoding,
    /// Bootstraps per inference.
    pub bootstraps: usize,
    /// The server's estimate of one inference's latency, in seconds.
    pub estimated_seconds: f64,
    /// Every bootstrap fails with probability at most `2^max_log2_failure`.
    pub max_log2_failure: f64,
    /// Size in bytes of the (compressed) evaluation key to register for it.
    pub evaluation_key_bytes: usize,
}

/// What a registered key serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    /// An LWE evaluation key: inference with every model compiled for its parameters.
    Lwe,
    /// CKKS relinearization and rotation keys for one training network.
    Training,
}

/// The training network a CKKS key is registered for, and its learning rate. The
/// parameters follow from the packing (`shroud_nn::training::encrypted::training_params`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingSpec {
    /// Features per sample, the bias column included (1 to [`MAX_TRAINING_WIDTH`]).
    pub inputs: usize,
    /// Width of the hidden layer (1 to [`MAX_TRAINING_WIDTH`]).
    pub hidden: usize,
    /// Number of outputs, one per class (1 to [`MAX_TRAINING_WIDTH`]).
    pub outputs: usize,
    /// How the weight matrices are packed into ciphertexts; the CKKS parameters follow
    /// from it.
    pub packing: PackingName,
    /// Learning rate of the service's gradient steps, in (0, 10].
    pub lr: f64,
}

impl ModelSpec {
    /// Whether a client can use the spec: it comes from a service the client does not trust.
    pub fn check(&self) -> Result<(), String> {
        self.interface.check()?;
        if self.encoding.inputs != self.interface.input.shape.len() || self.encoding.outputs == 0 {
            return Err("its encoding does not match its input".into());
        }
        Ok(())
    }
}

impl TrainingSpec {
    /// The shape both roles use; refused if a layer is empty or wider than the service
    /// trains, or the learning rate is not a positive number.
    pub fn shape(&self) -> Result<Shape, String> {
        for (what, n) in [
            ("inputs", self.inputs),
            ("hidden", self.hidden),
            ("outputs", self.outputs),
        ] {
            if !(1..=MAX_TRAINING_WIDTH).contains(&n) {
                return Err(format!("{what} = {n} (1 to {MAX_TRAINING_WIDTH})"));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 10.0) {
            return Err(format!("learning rate {} (in (0, 10])", self.lr));
        }
        Ok(Shape {
            inputs: self.inputs,
            hidden: self.hidden,
            outputs: self.outputs,
            packing: self.packing.packing(),
        })
    }
}

/// The query string of a key registration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegisterQuery {
    /// Who registers: quotas count keys per client.
    pub client: String,
    /// What the key serves (`lwe` or `training`); an LWE key when absent.
    pub kind: Option<KeyKind>,
    /// For `kind=training`: the network's inputs ([`TrainingSpec::inputs`]).
    pub inputs: Option<usize>,
    /// For `kind=training`: the width of its hidden layer.
    pub hidden: Option<usize>,
    /// For `kind=training`: its outputs.
    pub outputs: Option<usize>,
    /// For `kind=training`: its packing (`row`, `diagonal` or `stepped`).
    pub packing: Option<PackingName>,
    /// For `kind=training`: its learning rate.
    pub lr: Option<f64>,
}

/// The answer to a registration: the key's id and the token that alone may use it. The
/// service keeps only the token's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The key's id, 32 hexadecimal digits: the `x-shroud-key` header of later requests.
    pub key_id: String,
    /// The bearer token of later requests, 64 hexadecimal digits. The service does not
    /// keep it, so it cannot be recovered.
    pub token: String,
    /// What the key serves.
    pub kind: KeyKind,
    /// The key's parameter set.
    pub params: String,
    /// Size of the uploaded key in bytes, as counted against the client's quota.
    pub bytes: u64,
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Why the request failed ([`ServeError::reason`](crate::ServeError::reason)); the
    /// status gives the kind.
    pub error: String,
}

/// `/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"`: a service that answers is up.
    pub status: String,
    /// The service's version (that of the `shroud-serve` crate).
    pub version: String,
    /// Number of models it hosts.
    pub models: usize,
}

/// A training step's body: the encrypted weights and the encrypted batch, each preceded by
/// its length (8 bytes, little-endian) so that neither can run into the other.
pub fn frame_step(weights: &[u8], batch: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + weights.len() + batch.len());
    for part in [weights, batch] {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// The two parts of a training step's body, or why it is not one.
pub fn unframe_step(body: &[u8]) -> Result<(&[u8], &[u8]), String> {
    fn part(rest: &[u8]) -> Result<(&[u8], &[u8]), String> {
        let (len, rest) = rest
            .split_first_chunk::<8>()
            .ok_or("truncated: a length is missing")?;
        let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| "length too large")?;
        if len > rest.len() {
            return Err(format!("a part of {len} bytes where {} remain", rest.len()));
        }
        Ok(rest.split_at(len))
    }
    let (weights, rest) = part(body)?;
    let (batch, rest) = part(rest)?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the batch", rest.len()));
    }
    Ok((weights, batch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_frames_round_trip_and_refuse_garbage() {
        let body = frame_step(b"weights", b"batch!");
        assert_eq!(
            unframe_step(&body).unwrap(),
            (&b"weights"[..], &b"batch!"[..])
        );
        for cut in 0..body.len() {
            assert!(unframe_step(&body[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = body.clone();
        long.push(0);
        assert!(unframe_step(&long).is_err());
        let mut huge = body;
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(unframe_step(&huge).is_err());
    }

    #[test]
    fn training_specs_are_bounded() {
        let spec = TrainingSpec {
            inputs: 4,
            hidden: 10,
            outputs: 3,
            packing: PackingName::Diagonal,
            lr: 0.1,
        };
        assert!(spec.shape().is_ok());
        for bad in [
            TrainingSpec { inputs: 0, ..spec },
            TrainingSpec {
                hidden: 100_000,
                ..spec
            },
            TrainingSpec {
                lr: f64::NAN,
                ..spec
            },
            TrainingSpec { lr: -1.0, ..spec },
        ] {
            assert!(bad.shape().is_err(), "{bad:?}");
        }
        for p in [
            PackingName::Row,
            PackingName::Diagonal,
            PackingName::Stepped,
        ] {
            assert_eq!(PackingName::of(p.packing()), Some(p));
        }
    }
}

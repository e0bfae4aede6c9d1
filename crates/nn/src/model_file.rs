//! Model files in the project's versioned wire envelope, validated on load:
//!
//! - [`CompiledModel`] (`MODEL.shroud`): the float graph a model was imported as and its
//!   quantized form, which the graph engines run;
//! - [`SavedModel`]: the design's dense ReLU network as `shroud mnist` trains it, in float or
//!   in the two-phase form.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shroud_math::WireFormat;

use crate::graph::Graph;
use crate::quant::two_phase::QuantizedMlp;
use crate::quant::QuantizedGraph;
use crate::training::relu::FloatMlp;
use crate::NnError;

/// A model kept in a file: its versioned envelope, and what loading checks beyond decoding.
/// Every kind of model file reads, validates, saves and loads the same way.
pub trait ModelFile: Serialize + DeserializeOwned {
    /// The envelope: magic, version and size limit.
    const FORMAT: WireFormat;

    /// What deserialization cannot check.
    fn validate(&self) -> Result<(), NnError>;

    /// The model in its envelope, as [`ModelFile::save`] writes it.
    fn to_bytes(&self) -> Vec<u8> {
        Self::FORMAT.write(Tag, self)
    }

    /// Decodes and validates; `name` is for messages.
    fn from_bytes(bytes: &[u8], name: &str) -> Result<Self, NnError> {
        let not_a_model = |reason: String| NnError::NotAModel {
            path: name.to_string(),
            reason,
        };
        let model: Self = Self::FORMAT
            .read(Tag, bytes)
            .map_err(|e| not_a_model(e.to_string()))?;
        model.validate().map_err(|e| not_a_model(e.to_string()))?;
        Ok(model)
    }

    /// Writes the model to `path`, replacing any file there.
    fn save(&self, path: impl AsRef<Path>) -> Result<(), NnError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_bytes()).map_err(NnError::io_write(path))
    }

    /// Reads, decodes and validates the model in `path` (a file of at most
    /// [`MAX_FILE`](crate::datasets::MAX_FILE) bytes).
    fn load(path: impl AsRef<Path>) -> Result<Self, NnError> {
        let path = path.as_ref();
        let bytes = crate::datasets::read_bounded(path)?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }
}

/// The envelope's kind: one per format, told apart by the magic.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Tag;

/// A model as `shroud compile` writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompiledModel {
    /// Where it came from (the ONNX file's name), for messages.
    pub source: String,
    /// The graph as imported, in floating point.
    pub float: Graph,
    /// Its quantized form, which the encrypted engines run.
    pub quantized: QuantizedGraph,
}

impl ModelFile for CompiledModel {
    const FORMAT: WireFormat = WireFormat {
        magic: *b"SHGM",
        version: 2,
        // Far above the networks an encrypted engine runs (the 784-500-256-10 MLP is 2.6 MB).
        max_bytes: 1 << 28,
    };

    /// Errors unless both graphs validate and read and write the same sizes.
    fn validate(&self) -> Result<(), NnError> {
        let shapes = self.float.validate()?;
        let (int_shapes, _) = self.quantized.ranges()?;
        let size = |s: &[crate::graph::Shape]| s.last().map_or(0, |s| s.len());
        if self.float.input.len() != self.quantized.input.shape.len()
            || size(&shapes) != size(&int_shapes)
        {
            return Err(NnError::InvalidGraph(
                "the float and quantized graphs read or write different sizes".into(),
            ));
        }
        Ok(())
    }
}

/// A model file of the design's dense ReLU network (`shroud mnist train` and `quantize`):
/// the float network as trained, or its two-phase quantized form. (Files of the window form,
/// before it became a quantized graph, are refused: their variant no longer decodes.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SavedModel {
    /// The float network, as trained.
    Float(FloatMlp),
    /// The two-phase quantized network ([`crate::quant::two_phase`]), for the bit-list
    /// engine and the two-phase LWE engine.
    Quantized(QuantizedMlp),
}

impl ModelFile for SavedModel {
    const FORMAT: WireFormat = WireFormat {
        magic: *b"SHMN",
        version: 2,
        // A 784-500-256-10 float model takes 2.1 MB, a quantized one 0.5 MB; this leaves room
        // for wider networks.
        max_bytes: 1 << 28,
    };

    fn validate(&self) -> Result<(), NnError> {
        match self {
            SavedModel::Float(m) => m.validate(),
            SavedModel::Quantized(m) => m.validate(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{quantize, QuantConfig};
    use crate::training::relu::FloatMlp;

    #[test]
    fn a_failed_save_says_it_was_writing() {
        let float = FloatMlp::init(&[2, 2], 1);
        let e = SavedModel::Float(float)
            .save("/nonexistent-shroud-folder/m.bin")
            .unwrap_err();
        assert!(e.to_string().starts_with("cannot write"), "{e}");
        let e = SavedModel::load("/nonexistent-shroud-folder/m.bin").unwrap_err();
        assert!(e.to_string().starts_with("cannot read"), "{e}");
    }

    #[test]
    fn round_trips_and_refuses_what_is_not_one() {
        let float = FloatMlp::init(&[6, 4, 3], 2).to_graph().unwrap();
        let calibration: Vec<Vec<f32>> = (0..10).map(|e| vec![e as f32 / 10.0; 6]).collect();
        let quantized = quantize(&float, &calibration, &QuantConfig::new(5)).unwrap();
        let model = CompiledModel {
            source: "m.onnx".into(),
            float,
            quantized,
        };
        let bytes = model.to_bytes();
        assert_eq!(CompiledModel::from_bytes(&bytes, "m").unwrap(), model);
        for cut in [0, 8, bytes.len() / 2, bytes.len() - 1] {
            assert!(CompiledModel::from_bytes(&bytes[..cut], "m").is_err());
        }
        let mut edited = model.clone();
        edited.quantized.bits = 12;
        assert!(CompiledModel::from_bytes(&edited.to_bytes(), "m").is_err());
        let mut edited = model;
        edited.float.input = crate::graph::Shape::Vector(7);
        assert!(CompiledModel::from_bytes(&edited.to_bytes(), "m").is_err());
    }

    /// Bytes changed at random: refused, or a model that validates and then evaluates any
    /// input without panicking (the checks on load are what make the evaluators safe).
    #[test]
    fn mutated_model_files_never_panic() {
        use rand::{Rng, SeedableRng};
        let conv = crate::graph::Conv2d {
            in_channels: 1,
            out_channels: 2,
            groups: 1,
            kernel: [3, 3],
            stride: [2, 2],
            padding: [1; 4],
            dilation: [1, 1],
            weights: (0..18).map(|i| i as f32 / 9.0 - 1.0).collect(),
            bias: vec![0.1, -0.1],
        };
        let float = Graph::sequential(
            crate::graph::Shape::Image {
                channels: 1,
                height: 6,
                width: 6,
            },
            vec![
                ("conv".into(), crate::graph::Op::Conv2d(conv)),
                ("relu".into(), crate::graph::Op::Relu),
                (
                    "pool".into(),
                    crate::graph::Op::MaxPool(crate::graph::Pool2d::square(2, 1)),
                ),
                ("flat".into(), crate::graph::Op::Flatten),
            ],
        )
        .unwrap();
        let calibration: Vec<Vec<f32>> = (0..10).map(|e| vec![e as f32 / 10.0; 36]).collect();
        let quantized = quantize(&float, &calibration, &QuantConfig::new(4)).unwrap();
        let bytes = CompiledModel {
            source: "m".into(),
            float,
            quantized,
        }
        .to_bytes();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut loaded = 0;
        for _ in 0..20_000 {
            let mut b = bytes.clone();
            for _ in 0..rng.gen_range(1..4) {
                let i = rng.gen_range(0..b.len());
                b[i] = rng.gen();
            }
            if let Ok(m) = CompiledModel::from_bytes(&b, "m") {
                loaded += 1;
                let x = vec![0.5f32; m.float.input.len()];
                let _ = m.float.eval(&x);
                if let Ok(q) = m.quantized.quantize_input(&x) {
                    let _ = m.quantized.eval(&q);
                }
            }
        }
        // Most mutations land in weights and still load; the point is that none panicked.
        assert!(loaded > 0);
    }
}

#[cfg(test)]
mod saved_tests {
    use super::*;
    use crate::quant::qat::{QatNet, TwoPhaseConfig};
    use ndarray::Array2;

    #[test]
    fn models_round_trip_and_anything_else_is_refused() {
        let float = FloatMlp::init(&[9, 4, 3], 1);
        let x = Array2::from_elem((4, 9), 0.5f32);
        let quantized =
            QatNet::new(float.clone(), &TwoPhaseConfig::new(3), x.view(), 4).to_quantized();
        for model in [SavedModel::Float(float), SavedModel::Quantized(quantized)] {
            let bytes = model.to_bytes();
            assert_eq!(SavedModel::from_bytes(&bytes, "m").unwrap(), model);
            let cut = SavedModel::from_bytes(&bytes[..bytes.len() - 3], "m");
            assert!(matches!(cut, Err(NnError::NotAModel { .. })));
        }
        let idx = crate::datasets::mnist::tests::idx_bytes(&[2], &[1, 2]);
        assert!(matches!(
            SavedModel::from_bytes(&idx, "labels"),
            Err(NnError::NotAModel { .. })
        ));
        // Extreme values are refused, never overflowed (a debug build panicked on them, a
        // release build evaluated nonsense).
        let mut q = QatNet::new(
            FloatMlp::init(&[9, 4, 3], 1),
            &TwoPhaseConfig::new(3),
            x.view(),
            4,
        )
        .to_quantized();
        q.layers[0].neurons[0].bias = i64::MIN;
        let mut wide = q.clone();
        wide.layers[0].neurons[0].bias = 0;
        wide.layers[0].inputs = usize::MAX;
        let mut nan = FloatMlp::init(&[9, 4, 3], 1);
        nan.layers[0].w[[0, 0]] = f32::NAN;
        for model in [
            SavedModel::Quantized(q),
            SavedModel::Quantized(wide),
            SavedModel::Float(nan),
        ] {
            assert!(matches!(
                SavedModel::from_bytes(&model.to_bytes(), "m"),
                Err(NnError::NotAModel { .. })
            ));
        }
        // Well-formed bytes of an inconsistent model: a layer that does not chain.
        let mut broken = FloatMlp::init(&[9, 4, 3], 1);
        broken.layers[1] = crate::training::relu::Dense::zeros(5, 3);
        let bytes = SavedModel::Float(broken).to_bytes();
        assert!(matches!(
            SavedModel::from_bytes(&bytes, "m"),
            Err(NnError::NotAModel { .. })
        ));
    }
}

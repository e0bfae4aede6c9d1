//! Model files: a float or a quantized network in the project's versioned wire envelope.

use serde::{Deserialize, Serialize};
use shroud_math::WireFormat;

use super::integer::QuantizedMlp;
use super::model::FloatMlp;
use super::window::WindowMlp;
use crate::model_file::ModelFile;
use crate::NnError;

/// What a model file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SavedModel {
    /// The float network, as trained.
    Float(FloatMlp),
    /// The quantized network of the integer evaluator ([`super::integer`]).
    Quantized(QuantizedMlp),
    /// The window form, for the LWE engine ([`super::window`]).
    Window(WindowMlp),
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
            SavedModel::Window(m) => m.validate(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mnist::qat::{QatNet, QuantConfig};
    use ndarray::Array2;

    #[test]
    fn models_round_trip_and_anything_else_is_refused() {
        let float = FloatMlp::init(&[9, 4, 3], 1);
        let x = Array2::from_elem((4, 9), 0.5f32);
        let quantized =
            QatNet::new(float.clone(), &QuantConfig::new(3), x.view(), 4).to_quantized();
        let images = crate::mnist::idx::MnistSet {
            rows: 3,
            cols: 3,
            pixels: (0..36).map(|i| (i * 7) as u8).collect(),
            labels: vec![0; 4],
        };
        let window = crate::mnist::window::quantize_window(&float, 4, &images).unwrap();
        for model in [
            SavedModel::Float(float),
            SavedModel::Quantized(quantized),
            SavedModel::Window(window),
        ] {
            let bytes = model.to_bytes();
            assert_eq!(SavedModel::from_bytes(&bytes, "m").unwrap(), model);
            let cut = SavedModel::from_bytes(&bytes[..bytes.len() - 3], "m");
            assert!(matches!(cut, Err(NnError::NotAModel { .. })));
        }
        let idx = crate::mnist::idx::tests::idx_bytes(&[2], &[1, 2]);
        assert!(matches!(
            SavedModel::from_bytes(&idx, "labels"),
            Err(NnError::NotAModel { .. })
        ));
        // Extreme values are refused, never overflowed (a debug build panicked on them, a
        // release build evaluated nonsense).
        let mut q = QatNet::new(
            FloatMlp::init(&[9, 4, 3], 1),
            &QuantConfig::new(3),
            x.view(),
            4,
        )
        .to_quantized();
        q.layers[0].neurons[0].bias = i64::MIN;
        let mut wide = q.clone();
        wide.layers[0].neurons[0].bias = 0;
        wide.layers[0].inputs = usize::MAX;
        let mut w =
            crate::mnist::window::quantize_window(&FloatMlp::init(&[9, 4, 3], 1), 4, &images)
                .unwrap();
        w.layers[0].neurons[0].offset = i64::MIN;
        let mut huge = w.clone();
        huge.layers[0].neurons[0].offset = 0;
        huge.layers[1].outputs = usize::MAX / 2;
        let mut nan = FloatMlp::init(&[9, 4, 3], 1);
        nan.layers[0].w[[0, 0]] = f32::NAN;
        for model in [
            SavedModel::Quantized(q),
            SavedModel::Quantized(wide),
            SavedModel::Window(w),
            SavedModel::Window(huge),
            SavedModel::Float(nan),
        ] {
            assert!(matches!(
                SavedModel::from_bytes(&model.to_bytes(), "m"),
                Err(NnError::NotAModel { .. })
            ));
        }
        // Well-formed bytes of an inconsistent model: a layer that does not chain.
        let mut broken = FloatMlp::init(&[9, 4, 3], 1);
        broken.layers[1] = crate::mnist::model::Dense::zeros(5, 3);
        let bytes = SavedModel::Float(broken).to_bytes();
        assert!(matches!(
            SavedModel::from_bytes(&bytes, "m"),
            Err(NnError::NotAModel { .. })
        ));
    }
}

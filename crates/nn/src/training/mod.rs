//! Training, in the clear and on encrypted data.
//!
//! - [`relu`], [`sgd`]: the float dense ReLU network (softmax cross-entropy) and mini-batch
//!   SGD with momentum, shared by float training and the two-phase form's fine-tuning
//!   ([`crate::quant::qat`]);
//! - [`square`]: the square-activation perceptron of the encrypted-training design, trained
//!   in the clear as the reference of the encrypted run;
//! - [`encrypted`]: that perceptron trained on CKKS ciphertexts, with the client repacking or
//!   the server bootstrapping.

pub mod encrypted;
pub mod relu;
pub mod sgd;
pub mod square;

use std::path::Path;

use crate::datasets::mnist::load_set;
use crate::datasets::Examples;
use crate::model_file::CompiledModel;
use crate::quant::{quantize, QuantConfig};
use crate::NnError;

/// A small MNIST network trained and quantized in seconds, for demonstrations and examples:
/// the images under `data` (the IDX files) average-pooled to 14x14, a 196-64-10 ReLU network
/// trained by `epochs` epochs of SGD and quantized to 4 bits in the window form on 5,000
/// training images. Returns it with the pooled test set it reads. The design's full network
/// is `shroud mnist train` and `shroud mnist quantize --window`.
pub fn small_mnist_model(
    data: impl AsRef<Path>,
    epochs: usize,
) -> Result<(CompiledModel, Examples), NnError> {
    let data = data.as_ref();
    let train_set = load_set(data, "train")?.pooled(2)?;
    let test = load_set(data, "t10k")?.pooled(2)?;
    let config = sgd::SgdConfig {
        epochs,
        ..sgd::SgdConfig::float_default()
    };
    let mut net = relu::FloatMlp::init(&[196, 64, 10], config.seed);
    sgd::train(
        &mut net,
        &train_set.features(),
        &train_set.labels,
        &config,
        |_| {},
    )?;
    let float = net.to_graph()?;
    let calibration = train_set.take(5000).examples();
    let quantized = quantize(&float, &calibration.inputs, &QuantConfig::window_form(4))?;
    let model = CompiledModel {
        source: format!("196-64-10 trained on {}", data.display()),
        float,
        quantized,
    };
    Ok((model, test.examples()))
}

//! # shroud-nn
//!
//! Neural networks on Shroud's encrypted engines, in modules named for what they are:
//!
//! - [`graph`]: a network users bring, a graph of layers with its float evaluator, and
//!   [`import`] of it from ONNX (PyTorch, skl2onnx);
//! - [`quant`]: the integer forms the engines compute bit for bit and their evaluators:
//!   quantized graphs built by post-training calibration (the window form), and the
//!   design's two-phase dense network with its fine-tuning;
//! - [`engines`]: compilation for the LWE engine and the encrypted engines (quantized graphs
//!   on LWE; the two-phase network on LWE and as a circuit of encrypted bits), clients and
//!   servers apart;
//! - [`training`]: float training of dense ReLU networks, and the square-activation
//!   perceptron of the encrypted-training design trained in the clear and on CKKS
//!   ciphertexts (`shroud-ckks` packing);
//! - [`datasets`]: labelled examples (tables, the 8x8 digits, MNIST, Iris) and bounded file
//!   reading; [`model_file`]: models kept in files.
//!
//! It is the top library layer: it uses `shroud-ckks`, `shroud-lwe`, `shroud-bits` and
//! `shroud-math`; the service (`shroud-serve`) and the CLI use it.
//!
//! ```
//! use shroud_nn::datasets::iris::prepare_iris;
//! use shroud_nn::training::square::{train_plain, TrainConfig};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/iris/iris.csv");
//! let (train, test) = prepare_iris(path, 0.2, 1)?; // split, scale to [0, 1], bias column
//! let config = TrainConfig { epochs: 50, ..TrainConfig::default() };
//! let (_model, history) = train_plain(&train, &test, &config, |_| {})?;
//! assert_eq!(history.len(), 50);
//! # Ok::<(), shroud_nn::NnError>(())
//! ```
//!
//! A scikit-learn model from ONNX, quantized on its training data:
//!
//! ```
//! use shroud_nn::datasets::load_table;
//! use shroud_nn::import::import_onnx_file;
//! use shroud_nn::quant::{quantize, QuantConfig};
//!
//! let dir = env!("CARGO_MANIFEST_DIR");
//! let graph = import_onnx_file(format!("{dir}/tests/fixtures/wdbc_mlp_sklearn.onnx"))?;
//! let data = load_table(format!("{dir}/../../datasets/breast-cancer/wdbc.csv"))?;
//! let (train, test) = data.split_fifths();
//! let model = quantize(&graph, &train.inputs, &QuantConfig::new(6))?;
//! let q = model.quantize_input(&test.inputs[0])?; // what the client encrypts
//! let scores = model.dequantize(&model.eval(&q)?); // what the engine computes, decrypted
//! assert!((scores[0] + scores[1] - 1.0).abs() < 1e-9); // the model's softmax, client-side
//! # Ok::<(), shroud_nn::NnError>(())
//! ```

// Library code reports errors instead of panicking (docs/reliability.md); tests may panic.
// Indexing stays allowed: hot loops index by lengths checked where objects are built or
// loaded.
// Every public item says what it is for (checked by `cargo doc` in scripts/publish-check.sh).
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod datasets;
pub mod engines;
mod error;
pub mod graph;
pub mod import;
pub mod model_file;
pub mod quant;
pub mod training;

pub use error::NnError;

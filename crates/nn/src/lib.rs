//! # shroud-nn
//!
//! Neural networks on Shroud's encrypted engines. This crate holds the datasets (Iris,
//! MNIST), the models in the clear (the 4-10-3 square-activation perceptron of the
//! encrypted-training design; the 784-500-256-10 MNIST network, in float and quantized to
//! N-bit integers with the integer evaluators the encrypted engines reproduce, in [`mnist`])
//! and their trainers; encrypted training builds on `shroud-ckks` packing, encrypted MNIST
//! inference on `shroud-lwe`'s wide integers.
//!
//! It is the top library layer: it uses `shroud-ckks`, `shroud-lwe` and `shroud-math`, and
//! only the CLI uses it.
//!
//! ```
//! use shroud_nn::iris::prepare_iris;
//! use shroud_nn::mlp::{train_plain, TrainConfig};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/iris/iris.csv");
//! let (train, test) = prepare_iris(path, 0.2, 1)?; // split, scale to [0, 1], bias column
//! let config = TrainConfig { epochs: 50, ..TrainConfig::default() };
//! let (_model, history) = train_plain(&train, &test, &config, |_| {})?;
//! assert_eq!(history.len(), 50);
//! # Ok::<(), shroud_nn::NnError>(())
//! ```

pub mod datasets;
pub mod encrypted;
pub mod engines;
mod error;
pub mod graph;
pub mod import;
pub mod iris;
pub mod mlp;
pub mod mnist;
pub mod model_file;
pub mod quant;

pub use error::NnError;

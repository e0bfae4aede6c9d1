//! The design's 784-500-256-10 network exported by PyTorch: imported as a graph, and read as
//! the native dense network (`shroud mnist import`) and back, it quantizes to the same window
//! form: the same integer logits on the test images.

use std::path::PathBuf;

use shroud_nn::datasets::load_mnist_examples;
use shroud_nn::import::import_onnx_file;
use shroud_nn::quant::{quantize, QuantConfig};
use shroud_nn::training::relu::FloatMlp;

#[test]
fn imported_mlp_equals_the_native_path() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("../../datasets/mnist");
    let graph = import_onnx_file(root.join("tests/fixtures/mnist_mlp.onnx")).unwrap();
    let native_float = FloatMlp::from_graph(&graph).unwrap();
    assert_eq!(native_float.sizes(), [784, 500, 256, 10]);

    let train = load_mnist_examples(&data, "train").unwrap().take(1000);
    let config = QuantConfig::window_form(4);
    let native = quantize(&native_float.to_graph().unwrap(), &train.inputs, &config).unwrap();
    let q = quantize(&graph, &train.inputs, &config).unwrap();

    let test = load_mnist_examples(&data, "t10k").unwrap();
    for x in &test.inputs[..100] {
        let ours = q.eval(&q.quantize_input(x).unwrap()).unwrap();
        let theirs = native.eval(&native.quantize_input(x).unwrap()).unwrap();
        assert_eq!(ours, theirs);
    }
}

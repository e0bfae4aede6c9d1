//! The design's 784-500-256-10 network exported by PyTorch: imported as a graph and
//! quantized to the window form, it gives the native MNIST path's integer logits exactly.

use std::path::PathBuf;

use shroud_nn::datasets::load_mnist_examples;
use shroud_nn::import::import_onnx_file;
use shroud_nn::mnist::idx::load_set;
use shroud_nn::mnist::model::FloatMlp;
use shroud_nn::mnist::window::quantize_window;
use shroud_nn::quant::{quantize, QuantConfig};

#[test]
fn imported_mlp_equals_the_native_window_form() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("../../datasets/mnist");
    let graph = import_onnx_file(root.join("tests/fixtures/mnist_mlp.onnx")).unwrap();
    let native_float = FloatMlp::from_graph(&graph).unwrap();
    assert_eq!(native_float.sizes(), [784, 500, 256, 10]);

    let calibration = load_set(&data, "train").unwrap().take(1000);
    let native = quantize_window(&native_float, 4, &calibration).unwrap();
    let train = load_mnist_examples(&data, "train").unwrap().take(1000);
    let q = quantize(&graph, &train.inputs, &QuantConfig::window_form(4)).unwrap();

    let test_set = load_set(&data, "t10k").unwrap();
    let test = load_mnist_examples(&data, "t10k").unwrap();
    for i in 0..100 {
        let ours = q.eval(&q.quantize_input(&test.inputs[i]).unwrap()).unwrap();
        let theirs = native.logits(&native.quantize_image(test_set.image(i)));
        assert_eq!(ours, theirs, "test image {i}");
    }
}

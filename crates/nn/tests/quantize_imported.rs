//! Imported models quantized to the integer form: accuracy of the integer evaluator against
//! the float graph on the shipped datasets' test split (the split the exporters trained on).

use std::path::PathBuf;

use shroud_nn::datasets::{load_digits, load_table, Examples};
use shroud_nn::graph::Graph;
use shroud_nn::import::import_onnx_file;
use shroud_nn::quant::{quantize, QuantConfig, QuantizedGraph};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn model(name: &str) -> Graph {
    import_onnx_file(root().join("tests/fixtures").join(name)).unwrap()
}

fn accuracies(graph: &Graph, q: &QuantizedGraph, test: &Examples) -> (f64, f64) {
    let float: Vec<usize> = test
        .inputs
        .iter()
        .map(|x| graph.predict(x).unwrap())
        .collect();
    let int: Vec<usize> = test.inputs.iter().map(|x| q.predict(x).unwrap()).collect();
    (test.accuracy(&float), test.accuracy(&int))
}

#[test]
fn breast_cancer_mlps_keep_their_accuracy() {
    let data = load_table(root().join("../../datasets/breast-cancer/wdbc.csv")).unwrap();
    let (train, test) = data.split_fifths();
    for name in ["wdbc_mlp_torch.onnx", "wdbc_mlp_sklearn.onnx"] {
        let graph = model(name);
        let q = quantize(&graph, &train.inputs, &QuantConfig::new(6)).unwrap();
        // The standardization stays the client's.
        assert!(q.input.preprocess.is_some(), "{name}");
        let (float, int) = accuracies(&graph, &q, &test);
        println!("{name}: float {float:.4}, 6-bit {int:.4}");
        assert!(
            float >= 0.95 && int >= float - 0.01,
            "{name}: {float} {int}"
        );
    }
}

#[test]
fn digits_cnn_keeps_its_accuracy() {
    let data = load_digits(root().join("../../datasets/digits/digits.csv.gz")).unwrap();
    let (train, test) = data.split_fifths();
    let graph = model("digits_cnn.onnx");
    let config = QuantConfig {
        input_range: Some((0.0, 1.0)),
        ..QuantConfig::new(6)
    };
    let q = quantize(&graph, &train.inputs, &config).unwrap();
    let (float, int) = accuracies(&graph, &q, &test);
    println!("digits CNN: float {float:.4}, 6-bit {int:.4}");
    assert!(float >= 0.95 && int >= float - 0.01, "{float} {int}");
}

#[test]
fn residual_and_pooling_graphs_quantize() {
    // Untrained models on their own fixture inputs: the integer outputs follow the float ones.
    for (name, tolerance) in [("torch_residual.onnx", 0.05), ("torch_layers.onnx", 0.5)] {
        let graph = model(name);
        let inputs: Vec<Vec<f32>> = (0..64)
            .map(|e| {
                (0..graph.input.len())
                    .map(|i| ((i * 31 + e * 17) % 29) as f32 / 29.0 - 0.3)
                    .collect()
            })
            .collect();
        let q = quantize(&graph, &inputs, &QuantConfig::new(6)).unwrap();
        for x in &inputs[..8] {
            let want = graph.eval(x).unwrap();
            let got = q.dequantize(&q.eval(&q.quantize_input(x).unwrap()).unwrap());
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - *w as f64).abs() <= tolerance,
                    "{name}: {got:?} against {want:?}"
                );
            }
        }
    }
}

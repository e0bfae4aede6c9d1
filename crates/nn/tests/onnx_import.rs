//! ONNX import against the exporters: every fixture of `tests/fixtures` (made by
//! scripts/export-fixtures.py with PyTorch and skl2onnx) imports, and the float graph gives
//! onnxruntime's outputs within 1e-4; what no engine runs is refused by name.

use std::path::PathBuf;

use shroud_nn::graph::Op;
use shroud_nn::import::{import_onnx, import_onnx_file};
use shroud_nn::NnError;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The fixture's inputs and onnxruntime's float outputs (the label output of a classifier
/// is left out: the graph keeps the scores).
fn expected(name: &str) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let text = std::fs::read_to_string(fixture(&format!("{name}.json"))).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = |v: &serde_json::Value| -> Vec<Vec<f32>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect()
    };
    let outputs = doc["outputs"].as_object().unwrap();
    let scores = outputs
        .iter()
        .find(|(k, _)| k.as_str() != "label")
        .map(|(_, v)| rows(v))
        .unwrap();
    (rows(&doc["inputs"]), scores)
}

fn check(name: &str) -> shroud_nn::graph::Graph {
    let graph = import_onnx_file(fixture(&format!("{name}.onnx")))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let (inputs, outputs) = expected(name);
    assert!(!inputs.is_empty());
    for (x, want) in inputs.iter().zip(&outputs) {
        let got = graph.eval(x).unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-4, "{name}: {got:?} against {want:?}");
        }
    }
    graph
}

fn ops(graph: &shroud_nn::graph::Graph) -> Vec<&'static str> {
    graph.nodes.iter().map(|n| n.op.name()).collect()
}

#[test]
fn pytorch_layers_with_batch_norm_pools_and_clip() {
    let g = check("torch_layers");
    // BatchNormalization folded into the convolution before it, Dropout dropped.
    assert_eq!(
        ops(&g),
        ["Conv2d", "Relu", "MaxPool", "Conv2d", "Clip", "AvgPool", "Flatten", "Dense"]
    );
    let Op::Conv2d(c) = &g.nodes[3].op else {
        panic!()
    };
    assert_eq!(c.groups, 2);
}

#[test]
fn pytorch_residual_block_with_global_pooling_and_softmax() {
    let g = check("torch_residual");
    assert_eq!(
        ops(&g),
        [
            "Conv2d",
            "Relu",
            "Add",
            "Conv2d",
            "GlobalAvgPool",
            "Flatten",
            "Dense",
            "Softmax"
        ]
    );
    assert_eq!(g.nodes[2].inputs, vec![2, 0]);
}

#[test]
fn pytorch_mlp_with_input_normalization() {
    let g = check("wdbc_mlp_torch");
    // Sub and Div by the training statistics: one affine node in front of the network.
    assert_eq!(ops(&g), ["Affine", "Dense", "Relu", "Dense"]);
}

#[test]
fn sklearn_mlps_binary_and_multiclass() {
    let g = check("wdbc_mlp_sklearn");
    // Scaler, then the binary head (Sigmoid, 1 - Sigmoid, Concat) as two logits.
    assert_eq!(ops(&g), ["Affine", "Dense", "Relu", "Dense", "Softmax"]);
    let g = check("iris_mlp_sklearn");
    assert_eq!(ops(&g), ["Dense", "Relu", "Dense", "Softmax"]);
}

#[test]
fn trained_digits_cnn() {
    let g = check("digits_cnn");
    assert_eq!(
        ops(&g),
        ["Conv2d", "Relu", "Conv2d", "Relu", "Flatten", "Dense"]
    );
}

#[test]
fn an_unsupported_operator_is_named() {
    let e = import_onnx_file(fixture("torch_tanh.onnx")).unwrap_err();
    let NnError::Import { node, op, reason } = &e else {
        panic!("{e}")
    };
    assert_eq!((node.as_str(), op.as_str()), ("tanh1", "Tanh"));
    assert!(e.to_string().contains("tanh1") && !reason.is_empty(), "{e}");
}

#[test]
fn what_is_not_onnx_is_an_error() {
    let bytes = std::fs::read(fixture("digits_cnn.onnx")).unwrap();
    for cut in [0, 1, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(import_onnx(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut flipped = bytes.clone();
    for i in (0..flipped.len()).step_by(97) {
        flipped[i] ^= 0x5a;
    }
    let _ = import_onnx(&flipped);
    // Random bytes changed: an error or a graph that validates, never a panic of ours.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut b = bytes.clone();
        for _ in 0..1 + next() % 3 {
            let i = (next() % b.len() as u64) as usize;
            b[i] = next() as u8;
        }
        if let Ok(g) = import_onnx(&b) {
            g.validate().unwrap();
            let _ = g.eval(&vec![0.5; g.input.len()]);
        }
    }
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(import_onnx(&noise).is_err());
    assert!(matches!(
        import_onnx_file(fixture("missing.onnx")),
        Err(NnError::Io { .. })
    ));
}

#[test]
fn trained_mnist_networks() {
    let g = check("mnist_cnn");
    // ReLU clipped at 7.5 (Hardtanh), as its quantization-aware training shaped it.
    assert_eq!(ops(&g), ["Conv2d", "Clip", "Flatten", "Dense"]);
    let g = check("mnist_mlp");
    assert_eq!(ops(&g), ["Dense", "Relu", "Dense", "Relu", "Dense"]);
}

//! Encrypted inference of imported, quantized graphs on the LWE engine (test parameters):
//! every output equal to the integer evaluator's; models the engine cannot run refused at
//! compilation, naming the node.

use std::path::PathBuf;

use shroud_lwe::bootstrap::presets;
use shroud_nn::datasets::{load_digits, load_table};
use shroud_nn::engines::{plan, GraphServer, LweClient};
use shroud_nn::graph::{Conv2d, Graph, Op, Pool2d, Shape};
use shroud_nn::import::import_onnx_file;
use shroud_nn::quant::{quantize, QuantConfig, QuantizedGraph};
use shroud_nn::NnError;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn model(name: &str) -> Graph {
    import_onnx_file(root().join("tests/fixtures").join(name)).unwrap()
}

/// Encrypts each input, runs the server, decrypts: the integer evaluator's outputs.
fn agree(q: QuantizedGraph, inputs: &[Vec<f32>]) -> usize {
    let params = presets::insecure_wide_test();
    let (mut client, key) = LweClient::new(&params).unwrap();
    let server = GraphServer::new(q.clone(), &key).unwrap();
    let encoding = server.encoding();
    let planned = server.plan().bootstraps;
    for x in inputs {
        let qx = q.quantize_input(x).unwrap();
        let clear = q.eval(&qx).unwrap();
        let ct = client.encrypt_input(&encoding, &qx).unwrap();
        let before = server.counts().bootstraps;
        let out = server.infer(&ct, &|_| {}).unwrap();
        let ran = (server.counts().bootstraps - before) as usize;
        assert!(ran <= planned, "{ran} bootstraps, {planned} planned");
        assert_eq!(client.decrypt_output(&encoding, &out).unwrap(), clear);
    }
    planned
}

#[test]
fn digits_cnn_encrypted_equals_integer() {
    let data = load_digits(root().join("../../datasets/digits/digits.csv.gz")).unwrap();
    let (train, test) = data.split_fifths();
    let config = QuantConfig {
        input_range: Some((0.0, 1.0)),
        ..QuantConfig::new(6)
    };
    let q = quantize(&model("digits_cnn.onnx"), &train.inputs, &config).unwrap();
    let bootstraps = agree(q, &test.inputs[..2]);
    assert!(bootstraps > 96, "{bootstraps}");
}

#[test]
fn max_pool_batch_norm_clip_and_average_pool_encrypted() {
    let g = model("torch_layers.onnx");
    let inputs: Vec<Vec<f32>> = (0..40)
        .map(|e| {
            (0..64)
                .map(|i| ((i * 13 + e * 7) % 17) as f32 / 17.0)
                .collect()
        })
        .collect();
    let q = quantize(&g, &inputs, &QuantConfig::new(4)).unwrap();
    let p = plan(&q, &presets::insecure_wide_test()).unwrap();
    assert!(p.nodes.iter().any(|n| n.fused), "{}", p.table());
    agree(q, &inputs[..2]);
}

#[test]
fn breast_cancer_mlp_encrypted() {
    let data = load_table(root().join("../../datasets/breast-cancer/wdbc.csv")).unwrap();
    let (train, test) = data.split_fifths();
    let q = quantize(
        &model("wdbc_mlp_sklearn.onnx"),
        &train.inputs,
        &QuantConfig::new(6),
    )
    .unwrap();
    agree(q, &test.inputs[..4]);
}

#[test]
fn what_the_engine_cannot_run_is_refused_by_node() {
    // A max pool straight after a convolution: no activation's buckets to pool.
    let conv = Conv2d {
        in_channels: 1,
        out_channels: 2,
        groups: 1,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1; 4],
        dilation: [1, 1],
        weights: (0..18).map(|i| i as f32 / 18.0 - 0.5).collect(),
        bias: vec![0.0, 0.1],
    };
    let g = Graph::sequential(
        Shape::Image {
            channels: 1,
            height: 4,
            width: 4,
        },
        vec![
            ("conv".into(), Op::Conv2d(conv)),
            ("pool".into(), Op::MaxPool(Pool2d::square(2, 2))),
            ("flat".into(), Op::Flatten),
        ],
    )
    .unwrap();
    let inputs: Vec<Vec<f32>> = (0..8).map(|e| vec![e as f32 / 8.0; 16]).collect();
    let q = quantize(&g, &inputs, &QuantConfig::new(4)).unwrap();
    let e = plan(&q, &presets::wide_128()).unwrap_err();
    assert!(matches!(e, NnError::EngineUnsupported { .. }));
    assert!(e.to_string().contains("pool"), "{e}");
    // Windows wider than the parameters' messages.
    let wide = QuantConfig {
        window_bits: 4,
        ..QuantConfig::new(4)
    };
    let g = model("digits_cnn.onnx");
    let q = quantize(
        &g,
        &inputs.iter().map(|_| vec![0.5; 64]).collect::<Vec<_>>(),
        &wide,
    )
    .unwrap();
    assert!(plan(&q, &presets::wide_128()).is_err());
}

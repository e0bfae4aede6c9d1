//! Valid inputs for each target, made with the parameters the targets load against.

use std::io::Write;

use shroud_ckks::{Encoder, Encryptor, KeyGenerator};
use shroud_lwe::bootstrap::ClientKey;
use shroud_lwe::gsw::GswSecretKey;
use shroud_nn::model_file::SavedModel;
use shroud_nn::model_file::{CompiledModel, ModelFile};
use shroud_nn::quant::{quantize, QuantConfig};
use shroud_nn::training::relu::FloatMlp;
use shroud_serve::api::frame_step;

use crate::targets::{ckks_fixture, gsw_fixture, inference_fixture, lwe_fixture, training_fixture};

fn client() -> ClientKey {
    ClientKey::from_seed(lwe_fixture(), 1).unwrap_or_else(|e| unreachable!("{e}"))
}

pub(crate) fn lwe_ciphertext() -> Vec<Vec<u8>> {
    let mut c = client();
    let int = c.encrypt_int(5, 3).unwrap_or_else(|e| unreachable!("{e}"));
    vec![c.encrypt_bit(true).to_bytes(), int.to_bytes()]
}

pub(crate) fn lwe_client_key() -> Vec<Vec<u8>> {
    vec![client().to_bytes().to_vec()]
}

pub(crate) fn lwe_server_key() -> Vec<Vec<u8>> {
    vec![client().compressed_server_key().to_bytes()]
}

pub(crate) fn gsw_ciphertext() -> Vec<Vec<u8>> {
    let mut sk = GswSecretKey::from_seed(gsw_fixture(), 2).unwrap_or_else(|e| unreachable!("{e}"));
    (0..2)
        .map(|m| {
            sk.encrypt(m)
                .unwrap_or_else(|e| unreachable!("{e}"))
                .to_bytes()
        })
        .collect()
}

pub(crate) fn ckks_params() -> Vec<Vec<u8>> {
    vec![ckks_fixture().to_bytes()]
}

pub(crate) fn ckks_ciphertext() -> Vec<Vec<u8>> {
    let p = ckks_fixture();
    let mut kg = KeyGenerator::with_seed(p, 3);
    let sk = kg.secret_key();
    let encoder = Encoder::new(p);
    let mut enc = Encryptor::with_secret_key(p, &sk).unwrap_or_else(|e| unreachable!("{e}"));
    let values = [0.5, -0.25, 1.0];
    let ct = enc
        .encrypt_values(&encoder, &values, 1, p.default_scale())
        .unwrap_or_else(|e| unreachable!("{e}"));
    let seeded = enc
        .encrypt_values_seeded(&encoder, &values, 0, p.default_scale())
        .unwrap_or_else(|e| unreachable!("{e}"));
    let pt = encoder
        .encode(&values)
        .unwrap_or_else(|e| unreachable!("{e}"));
    [ct.to_bytes(p), seeded.to_bytes(p), pt.to_bytes(p)]
        .into_iter()
        .map(|b| b.unwrap_or_else(|e| unreachable!("{e}")))
        .collect()
}

pub(crate) fn ckks_keys() -> Vec<Vec<u8>> {
    let p = ckks_fixture();
    let mut kg = KeyGenerator::with_seed(p, 4);
    let sk = kg.secret_key();
    let ok = |r: Result<Vec<u8>, shroud_ckks::CkksError>| r.unwrap_or_else(|e| unreachable!("{e}"));
    vec![
        ok(kg.public_key(&sk).and_then(|k| k.to_bytes(p))),
        ok(kg.relin_key(&sk).and_then(|k| k.to_bytes(p))),
        ok(kg.galois_keys(&sk, &[1], true).and_then(|k| k.to_bytes(p))),
        ok(sk.to_bytes(p).map(|b| b.to_vec())),
        ok(kg.encapsulation_key(&sk, 32).and_then(|k| k.to_bytes(p))),
    ]
}

pub(crate) fn model_files() -> Vec<Vec<u8>> {
    let float = FloatMlp::init(&[4, 3, 2], 5);
    let graph = float.to_graph().unwrap_or_else(|e| unreachable!("{e}"));
    let calibration: Vec<Vec<f32>> = (0..8).map(|e| vec![e as f32 / 8.0; 4]).collect();
    let quantized = quantize(&graph, &calibration, &QuantConfig::new(4))
        .unwrap_or_else(|e| unreachable!("{e}"));
    let compiled = CompiledModel {
        source: "seed".into(),
        float: graph,
        quantized,
    };
    vec![compiled.to_bytes(), SavedModel::Float(float).to_bytes()]
}

pub(crate) fn onnx() -> Vec<Vec<u8>> {
    vec![
        include_bytes!("../../nn/tests/fixtures/iris_mlp_sklearn.onnx").to_vec(),
        include_bytes!("../../nn/tests/fixtures/torch_residual.onnx").to_vec(),
    ]
}

/// An IDX image file of two 2x2 images and its label file, behind the 4-byte cut.
pub(crate) fn idx() -> Vec<Vec<u8>> {
    let mut images = vec![0, 0, 8, 3];
    for d in [2u32, 2, 2] {
        images.extend_from_slice(&d.to_be_bytes());
    }
    images.extend_from_slice(&[0, 64, 128, 255, 1, 2, 3, 4]);
    let mut labels = vec![0, 0, 8, 1];
    labels.extend_from_slice(&2u32.to_be_bytes());
    labels.extend_from_slice(&[3, 7]);
    let mut seed = (images.len() as u32).to_le_bytes().to_vec();
    seed.extend_from_slice(&images);
    seed.extend_from_slice(&labels);
    vec![seed]
}

pub(crate) fn datasets() -> Vec<Vec<u8>> {
    let table = "3,2,a,b\n0.5,1.5,0\n-1,2,1\n3,4,0\n";
    let digits: String = (0..3)
        .map(|d| format!("{}{d}\n", "1,".repeat(64)))
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let packed = gz
        .write_all(digits.as_bytes())
        .and_then(|_| gz.finish())
        .unwrap_or_else(|e| unreachable!("{e}"));
    let with = |which: u8, file: &[u8]| [&[which][..], file].concat();
    vec![
        with(0, table.as_bytes()),
        with(1, &packed),
        with(2, b"1,2,3,4\n0.5,0.5,0.5,0.5\n"),
    ]
}

pub(crate) fn service_requests() -> Vec<Vec<u8>> {
    let with = |which: u8, body: &[u8]| [&[which][..], body].concat();
    vec![
        with(0, &frame_step(b"weights", b"batch")),
        with(
            1,
            br#"{"inputs":4,"hidden":10,"outputs":3,"packing":"diagonal","lr":0.1}"#,
        ),
        with(3, br#"{"key_id":"abc","token":"def","bytes":10}"#),
        with(4, br#"{"client":"alice","kind":"lwe"}"#),
    ]
}

pub(crate) fn option_values() -> Vec<Vec<u8>> {
    [
        "wide_128",
        "wide_128:full+light",
        "insecure_test",
        "diagonal",
        "mnist=target/m.shroud@wide_128",
        "alice",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

pub(crate) fn training_messages() -> Vec<Vec<u8>> {
    let t = training_fixture();
    let with = |which: u8, body: &[u8]| [&[which][..], body].concat();
    vec![
        with(0, &t.keys),
        with(1, &t.weights),
        with(2, &t.batch),
        with(3, &t.updated),
    ]
}

pub(crate) fn lwe_inference() -> Vec<Vec<u8>> {
    let f = inference_fixture();
    let logits = f
        .server
        .infer(&f.image, &|_| {})
        .unwrap_or_else(|e| unreachable!("{e}"));
    vec![[&[0][..], &f.image].concat(), [&[1][..], &logits].concat()]
}

//! The functions under test. Results are dropped: only panics, aborts and runaway
//! allocations are failures.

use std::io::Write;
use std::sync::OnceLock;

use ndarray::Array2;
use shroud_ckks::packing::DiagonalLayout;
use shroud_ckks::{
    Ciphertext, EncapsulationKey, GaloisKeys, Params, ParamsLiteral, Plaintext, PublicKey,
    RelinKey, SecretKey,
};
use shroud_lwe::bootstrap::{presets, BootstrapParams, ClientKey, LweCiphertext, ServerKey};
use shroud_lwe::gsw::{self, GswCiphertext, GswParams};
use shroud_math::reseal;
use shroud_nn::engines::GraphServer;
use shroud_nn::engines::{Encoding, LweClient};
use shroud_nn::graph::Shape;
use shroud_nn::model_file::SavedModel;
use shroud_nn::model_file::{CompiledModel, ModelFile};
use shroud_nn::quant::{quantize, QuantConfig};
use shroud_nn::training::encrypted::{self, Client, Packing, Server};
use shroud_nn::training::relu::FloatMlp;
use shroud_nn::training::square::Mlp;
use shroud_serve::api::{unframe_step, ModelSpec, RegisterQuery, Registration, TrainingSpec};
use shroud_serve::models::ModelSource;

/// The parameters objects are loaded against (the seeds are made with the same).
pub(crate) fn lwe_fixture() -> &'static BootstrapParams {
    static P: OnceLock<BootstrapParams> = OnceLock::new();
    P.get_or_init(presets::insecure_test)
}

pub(crate) fn gsw_fixture() -> &'static GswParams {
    static P: OnceLock<GswParams> = OnceLock::new();
    P.get_or_init(gsw::presets::insecure_test)
}

pub(crate) fn ckks_fixture() -> &'static Params {
    static P: OnceLock<Params> = OnceLock::new();
    P.get_or_init(|| {
        Params::new_insecure(shroud_ckks::presets::insecure_test_n12())
            .unwrap_or_else(|e| unreachable!("the test preset is valid: {e}"))
    })
}

/// Fixtures are built from valid inputs: a failure is a bug of the fixture.
trait Valid<T> {
    fn valid(self) -> T;
}

impl<T, E: std::fmt::Display> Valid<T> for Result<T, E> {
    fn valid(self) -> T {
        self.unwrap_or_else(|e| unreachable!("a fixture is valid: {e}"))
    }
}

/// Both roles of encrypted training on a 2-2-2 network, with valid messages of one step.
pub(crate) struct Training {
    pub params: Params,
    pub shape: encrypted::Shape,
    pub client: Client,
    pub server: Server,
    pub keys: Vec<u8>,
    pub weights: Vec<u8>,
    pub batch: Vec<u8>,
    pub updated: Vec<u8>,
}

/// Samples in the fixture's batch.
const TRAINING_BATCH: usize = 2;

pub(crate) fn training_fixture() -> &'static Training {
    static T: OnceLock<Training> = OnceLock::new();
    T.get_or_init(|| {
        // Five levels, as a diagonal-packed step needs, in a ring small enough that a step
        // takes milliseconds. INSECURE.
        let params = Params::new_insecure(ParamsLiteral {
            log_n: 10,
            q_bits: [vec![35], vec![28; 5]].concat(),
            p_bits: vec![43],
            log_scale: 28,
            digits: 6,
        })
        .unwrap_or_else(|e| unreachable!("{e}"));
        let shape = encrypted::Shape {
            inputs: 2,
            hidden: 2,
            outputs: 2,
            packing: Packing::Diagonal(DiagonalLayout::Plain),
        };
        // Seeded keys: the seeds written by one process load in the next.
        let (mut client, keys) = Client::with_seed(&params, shape, 6).valid();
        let server = Server::new(&params, shape, 0.1, &keys).valid();
        let weights = client.encrypt_weights(&Mlp::init(2, 2, 2, 0.3, 7)).valid();
        let x = Array2::from_shape_fn((TRAINING_BATCH, 2), |(i, j)| (i + j) as f64 / 4.0);
        let y = Array2::from_shape_fn((TRAINING_BATCH, 2), |(i, j)| f64::from(u8::from(i == j)));
        let batch = client.encrypt_batch(&x, &y).valid();
        let (updated, _) = server.step(&weights, &batch).valid();
        Training {
            params,
            shape,
            client,
            server,
            keys,
            weights,
            batch,
            updated,
        }
    })
}

/// Both roles of encrypted inference on a 3-2-2 graph, and a valid encrypted input.
pub(crate) struct Inference {
    pub client: LweClient,
    pub server: GraphServer,
    pub encoding: Encoding,
    pub image: Vec<u8>,
}

pub(crate) fn inference_fixture() -> &'static Inference {
    static I: OnceLock<Inference> = OnceLock::new();
    I.get_or_init(|| {
        let graph = FloatMlp::init(&[3, 2, 2], 8).to_graph().valid();
        let calibration: Vec<Vec<f32>> = (0..8).map(|e| vec![e as f32 / 8.0; 3]).collect();
        let q = quantize(&graph, &calibration, &QuantConfig::new(3)).valid();
        let mut key = ClientKey::from_seed(lwe_fixture(), 9).valid();
        let server = GraphServer::new(q.clone(), &key.compressed_server_key().to_bytes()).valid();
        let mut client = LweClient::from_key(key);
        let encoding = server.encoding();
        let x = q.quantize_input(&[0.25, 0.5, 0.75]).valid();
        let image = client.encrypt_input(&encoding, &x).valid();
        Inference {
            client,
            server,
            encoding,
            image,
        }
    })
}

/// Runs `f` on `data` as given, and with its digest recomputed.
fn sealed_and_resealed(data: &[u8], f: impl Fn(&[u8])) {
    f(data);
    let mut resealed = data.to_vec();
    if reseal(&mut resealed) {
        f(&resealed);
    }
}

pub(crate) fn lwe_ciphertext(data: &[u8]) {
    sealed_and_resealed(data, |b| {
        let _ = LweCiphertext::from_bytes(lwe_fixture(), b);
    });
}

pub(crate) fn lwe_client_key(data: &[u8]) {
    sealed_and_resealed(data, |b| {
        if let Ok(key) = ClientKey::from_bytes(b) {
            // A key that loads decrypts anything of its own size without panicking.
            let mut key = key;
            let ct = key.encrypt_bit(true);
            let _ = key.decrypt_bit(&ct);
        }
    });
}

pub(crate) fn lwe_server_key(data: &[u8]) {
    sealed_and_resealed(data, |b| {
        let _ = ServerKey::from_bytes(b);
    });
}

pub(crate) fn gsw_ciphertext(data: &[u8]) {
    sealed_and_resealed(data, |b| {
        let _ = GswCiphertext::from_bytes(gsw_fixture(), b);
    });
}

pub(crate) fn ckks_params(data: &[u8]) {
    sealed_and_resealed(data, |b| {
        let _ = Params::from_bytes_insecure(b);
    });
}

pub(crate) fn ckks_ciphertext(data: &[u8]) {
    let p = ckks_fixture();
    sealed_and_resealed(data, |b| {
        let _ = Ciphertext::from_bytes(p, b);
        let _ = Plaintext::from_bytes(p, b);
    });
}

pub(crate) fn ckks_keys(data: &[u8]) {
    let p = ckks_fixture();
    sealed_and_resealed(data, |b| {
        let _ = PublicKey::from_bytes(p, b);
        let _ = RelinKey::from_bytes(p, b);
        let _ = GaloisKeys::from_bytes(p, b);
        let _ = SecretKey::from_bytes(p, b);
        let _ = EncapsulationKey::from_bytes(p, b);
    });
}

pub(crate) fn model_files(data: &[u8]) {
    sealed_and_resealed(data, |b| {
        if let Ok(m) = CompiledModel::from_bytes(b, "fuzz") {
            // A model that loads evaluates any input of its size without panicking.
            let x = vec![0.5f32; m.float.input.len()];
            let _ = m.float.eval(&x);
            if let Ok(q) = m.quantized.quantize_input(&x) {
                let _ = m.quantized.eval(&q);
            }
        }
        if let Ok(SavedModel::Quantized(m)) = SavedModel::from_bytes(b, "fuzz") {
            let _ = m.logits(&vec![1; m.layers[0].inputs]);
        }
    });
}

pub(crate) fn onnx(data: &[u8]) {
    // onnx-ir panics on some malformed models; the importer catches those and reports a
    // malformed file (docs/dependencies.md). libFuzzer's panic hook aborts before anything
    // can catch, so panics raised inside onnx-ir are let through to the importer's
    // `catch_unwind`; any other panic still reaches the previous hook.
    static QUIET_ONNX_IR: std::sync::Once = std::sync::Once::new();
    QUIET_ONNX_IR.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info
                .location()
                .is_some_and(|l| l.file().contains("/onnx-ir-"))
            {
                return;
            }
            previous(info);
        }));
    });
    if let Ok(graph) = shroud_nn::import::import_onnx(data) {
        let _ = graph.eval(&vec![0.5f32; graph.input.len()]);
    }
}

/// The first 4 bytes (little-endian) say where the image file ends and the label file
/// begins.
pub(crate) fn idx(data: &[u8]) {
    let Some((cut, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let cut = (u32::from_le_bytes(*cut) as usize).min(rest.len());
    let (images, labels) = rest.split_at(cut);
    let _ = shroud_nn::datasets::mnist::parse_set(images, labels, "fuzz");
}

/// The first byte chooses the loader, the rest is the file: a table (`.csv`), the digits
/// (`.csv.gz`, compressed or not), rows of inputs.
pub(crate) fn datasets(data: &[u8]) {
    let Some((&which, file)) = data.split_first() else {
        return;
    };
    let suffix = match which % 3 {
        0 => ".csv",
        1 => ".csv.gz",
        _ => ".rows",
    };
    let Ok(mut tmp) = tempfile::Builder::new().suffix(suffix).tempfile() else {
        return;
    };
    if tmp.write_all(file).and_then(|_| tmp.flush()).is_err() {
        return;
    }
    match which % 3 {
        0 | 1 => {
            let _ = shroud_nn::datasets::load_labelled(tmp.path());
        }
        _ => {
            let _ = shroud_nn::datasets::load_rows(tmp.path(), Shape::Vector(4));
        }
    }
}

/// What a service reads from requests, and a client from answers; the first byte chooses.
pub(crate) fn service_requests(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 5 {
        0 => {
            let _ = unframe_step(body);
        }
        1 => {
            if let Ok(spec) = serde_json::from_slice::<TrainingSpec>(body) {
                let _ = spec.shape();
            }
        }
        2 => {
            if let Ok(spec) = serde_json::from_slice::<ModelSpec>(body) {
                if spec.check().is_ok() {
                    let _ = spec.interface.quantize(&vec![0.5; spec.encoding.inputs]);
                    let _ = spec.interface.dequantize(&vec![1; spec.encoding.outputs]);
                }
            }
        }
        3 => {
            let _ = serde_json::from_slice::<Registration>(body);
        }
        _ => {
            let _ = serde_json::from_slice::<RegisterQuery>(body);
        }
    }
}

/// Values of command-line options and of the service's configuration.
pub(crate) fn option_values(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = presets::by_name(text);
    let _ = text.parse::<shroud_nn::training::encrypted::PackingName>();
    let _ = text.parse::<ModelSource>();
    let _ = shroud_serve::store::valid_name(text);
}

/// The messages of one step of encrypted training; the first byte chooses which is replaced
/// by the input: the evaluation keys, the weights, the batch (all read by the server), or
/// the updated weights (read by the client).
pub(crate) fn training_messages(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let t = training_fixture();
    sealed_and_resealed(body, |b| match which % 4 {
        0 => {
            let _ = Server::new(&t.params, t.shape, 0.1, b);
        }
        1 => {
            let _ = t.server.step(b, &t.batch);
        }
        2 => {
            let _ = t.server.step(&t.weights, b);
        }
        _ => {
            let _ = t.client.decrypt_weights(b, TRAINING_BATCH);
        }
    });
}

/// The messages of encrypted inference on the LWE engine; the first byte chooses: an
/// encrypted input (read by the server, which runs the graph on it) or encrypted outputs
/// (read by the client).
pub(crate) fn lwe_inference(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let f = inference_fixture();
    sealed_and_resealed(body, |b| {
        if which % 2 == 0 {
            let _ = f.server.infer(b, &|_| {});
        } else {
            let _ = f.client.decrypt_output(&f.encoding, b);
        }
    });
}

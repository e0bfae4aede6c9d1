//! The service end to end on 127.0.0.1 with test parameters: a client registers, classifies
//! encrypted records (every output equal to the integer evaluator's), trains a few encrypted
//! Iris steps, and is refused with a wrong token, another client's key, an oversized body or
//! a malformed ciphertext; keys survive a restart on the same store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use shroud_lwe::bootstrap::presets;
use shroud_nn::datasets::iris::prepare_iris;
use shroud_nn::datasets::load_table;
use shroud_nn::engines::LweClient;
use shroud_nn::import::import_onnx_file;
use shroud_nn::model_file::{CompiledModel, ModelFile};
use shroud_nn::quant::{quantize, QuantConfig, QuantizedGraph};
use shroud_nn::training::encrypted::{default_params, Packing};
use shroud_nn::training::square::{train_plain, TrainConfig};
use shroud_serve::api::Registration;
use shroud_serve::client::{RetryPolicy, ServiceClient};
use shroud_serve::probe::{probe, ProbeInputs};
use shroud_serve::server::{ServeConfig, Service};
use shroud_serve::ServeError;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running service and how to stop it.
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Running {
    fn start(config: &ServeConfig) -> Self {
        let service = Service::bind(config).unwrap();
        let addr = service.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(service.run(async {
                    let _ = stopped.await;
                }))
        });
        Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn client(&self) -> ServiceClient {
        ServiceClient::new(&format!("http://{}", self.addr))
            .unwrap()
            .with_retry(RetryPolicy {
                attempts: 20,
                first_wait: std::time::Duration::from_millis(50),
                max_wait: std::time::Duration::from_millis(500),
            })
    }

    fn stop(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        self.thread.take().unwrap().join().unwrap().unwrap();
    }
}

/// The WDBC MLP from its skl2onnx export, quantized to 6 bits, and its compiled file.
fn wdbc_model(dir: &Path) -> (QuantizedGraph, Vec<Vec<f32>>, PathBuf) {
    let graph =
        import_onnx_file(root().join("crates/nn/tests/fixtures/wdbc_mlp_sklearn.onnx")).unwrap();
    let data = load_table(root().join("datasets/breast-cancer/wdbc.csv")).unwrap();
    let (train, test) = data.split_fifths();
    let quantized = quantize(&graph, &train.inputs, &QuantConfig::new(6)).unwrap();
    let path = dir.join("wdbc.shroud");
    CompiledModel {
        source: "wdbc_mlp_sklearn.onnx".into(),
        float: graph,
        quantized: quantized.clone(),
    }
    .save(&path)
    .unwrap();
    (quantized, test.inputs, path)
}

fn config(dir: &Path, model: &Path) -> ServeConfig {
    let mut config = ServeConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.join("store"),
        vec![format!("wdbc={}@insecure_wide_test", model.display())
            .parse()
            .unwrap()],
    );
    // The Iris step's ciphertexts are about 16 MB.
    config.max_body_bytes = 32 << 20;
    config.max_key_bytes = 64 << 20;
    config
}

fn refused<T: std::fmt::Debug>(r: Result<T, ServeError>) -> ServeError {
    r.expect_err("refused")
}

#[test]
fn register_infer_train_and_refuse_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (model, inputs, path) = wdbc_model(dir.path());
    let config = config(dir.path(), &path);
    let running = Running::start(&config);
    let service = running.client();

    assert_eq!(service.health().unwrap().models, 1);
    let spec = service.model("wdbc").unwrap();
    assert_eq!(spec.params, "insecure_wide_test");
    assert_eq!(spec.interface, model.interface());
    assert!(matches!(
        refused(service.model("nope")),
        ServeError::NotFound(_)
    ));

    // Register, then classify two records: every output the integer evaluator's.
    let params = presets::by_name(&spec.params).unwrap();
    let (mut secret, evaluation_key) = LweClient::new(&params).unwrap();
    let key = service
        .register("clinic-a", &evaluation_key, None, &|_| {})
        .unwrap();
    for x in &inputs[..2] {
        let answer = service.classify(&spec, &mut secret, &key, x).unwrap();
        let want = model.eval(&model.quantize_input(x).unwrap()).unwrap();
        assert_eq!(answer.outputs, want);
    }

    // Wrong token, another client's key, no token: refused.
    let (_, other_key) = LweClient::new(&params).unwrap();
    let other = service
        .register("clinic-b", &other_key, None, &|_| {})
        .unwrap();
    let ciphertext = secret
        .encrypt_input(&spec.encoding, &vec![1; spec.encoding.inputs])
        .unwrap();
    let stolen = Registration {
        token: key.token.clone(),
        ..other.clone()
    };
    assert!(matches!(
        refused(service.infer("wdbc", &stolen, &ciphertext)),
        ServeError::Forbidden(_)
    ));
    let guessed = Registration {
        token: "0".repeat(64),
        ..key.clone()
    };
    assert!(matches!(
        refused(service.infer("wdbc", &guessed, &ciphertext)),
        ServeError::Forbidden(_)
    ));
    let status = ureq::post(&format!("http://{}/v1/models/wdbc/infer", running.addr))
        .config()
        .http_status_as_error(false)
        .build()
        .send(&ciphertext[..])
        .unwrap()
        .status();
    assert_eq!(status, 401);
    // Clinic B's own key and token on clinic A's ciphertexts: refused, not computed through.
    match refused(service.infer("wdbc", &other, &ciphertext)) {
        ServeError::BadRequest(m) => assert!(m.contains("different keys"), "{m}"),
        e => panic!("{e:?}"),
    }

    // An oversized body, a malformed ciphertext, a key of parameters no model uses.
    let huge = vec![0u8; 33 << 20];
    assert!(matches!(
        refused(service.infer("wdbc", &key, &huge)),
        ServeError::TooLarge(_)
    ));
    let mut bad = ciphertext.clone();
    bad.truncate(bad.len() - 3);
    assert!(matches!(
        refused(service.infer("wdbc", &key, &bad)),
        ServeError::BadRequest(_)
    ));
    let (_, test_key) = LweClient::new(&presets::insecure_test()).unwrap();
    assert!(matches!(
        refused(service.register("clinic-a", &test_key, None, &|_| {})),
        ServeError::BadRequest(_)
    ));

    // Hostile requests of every kind: all refused with a 4xx, the service unharmed.
    let report = probe(
        &service,
        &ProbeInputs {
            model: "wdbc",
            key: &key,
            ciphertext: &ciphertext,
            evaluation_key: &evaluation_key,
            oversized_bytes: 48 << 20,
        },
        200,
        1,
    );
    assert_eq!(report.refused, 200, "{report:?}");
    let answer = service
        .classify(&spec, &mut secret, &key, &inputs[3])
        .unwrap();
    assert_eq!(
        answer.outputs,
        model
            .eval(&model.quantize_input(&inputs[3]).unwrap())
            .unwrap()
    );

    // A few encrypted Iris steps with the service as the server: the plaintext steps'
    // weights, to CKKS precision.
    let (train, test) = prepare_iris(root().join("datasets/iris/iris.csv"), 0.2, 1).unwrap();
    let train = shroud_nn::datasets::iris::Dataset {
        features: train.features.slice(ndarray::s![..40, ..]).to_owned(),
        labels: train.labels[..40].to_vec(),
        class_names: train.class_names.clone(),
    };
    let iris = TrainConfig {
        epochs: 1,
        batch: 20,
        ..TrainConfig::default()
    };
    let packing = Packing::Diagonal(shroud_ckks::packing::DiagonalLayout::Plain);
    let run = service
        .train(
            "clinic-a",
            &train,
            &test,
            &iris,
            &default_params(packing).unwrap(),
            packing,
            &|_| {},
            |_| {},
        )
        .unwrap();
    assert_eq!(run.iterations, 2);
    let (plain, _) = train_plain(&train, &test, &iris, |_| {}).unwrap();
    let diff = run.model.max_abs_diff(&plain);
    assert!(diff < 1e-3, "remote training off by {diff}");

    // The metrics saw it all.
    let metrics = ureq::get(&format!("http://{}/metrics", running.addr))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains("shroud_training_steps_total 2"),
        "{metrics}"
    );
    assert!(metrics.contains("status=\"403\""), "{metrics}");

    // A restart on the same store: the key is still registered.
    running.stop();
    let running = Running::start(&config);
    let service = running.client();
    let answer = service
        .classify(&spec, &mut secret, &key, &inputs[2])
        .unwrap();
    let want = model
        .eval(&model.quantize_input(&inputs[2]).unwrap())
        .unwrap();
    assert_eq!(answer.outputs, want);
    service.delete_key(&key).unwrap();
    assert!(matches!(
        refused(service.infer("wdbc", &key, &ciphertext)),
        ServeError::NotFound(_)
    ));
    running.stop();
}

#[test]
fn serves_https_with_a_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, path) = wdbc_model(dir.path());
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let mut config = config(dir.path(), &path);
    config.tls = Some((cert_path, key_path));
    let running = Running::start(&config);
    let url = format!("https://localhost:{}", running.addr.port());
    let trusted = ServiceClient::with_ca(&url, cert.cert.pem().as_bytes()).unwrap();
    assert_eq!(trusted.health().unwrap().models, 1);
    assert_eq!(trusted.model("wdbc").unwrap().name, "wdbc");
    // Without the certificate the client trusts nothing it cannot verify, and plain HTTP
    // gets no service.
    let retry = RetryPolicy {
        attempts: 1,
        ..RetryPolicy::default()
    };
    let untrusted = ServiceClient::new(&url).unwrap().with_retry(retry);
    assert!(matches!(
        refused(untrusted.health()),
        ServeError::Transport(_)
    ));
    let plain = ServiceClient::new(&format!("http://localhost:{}", running.addr.port()))
        .unwrap()
        .with_retry(retry);
    assert!(plain.health().is_err());
    running.stop();
}

/// `shroud_requests_in_flight` as `/metrics` says (the metrics request itself included).
fn in_flight(addr: SocketAddr) -> u64 {
    let text = ureq::get(&format!("http://{addr}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("shroud_requests_in_flight "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_stop_lets_running_requests_finish() {
    let dir = tempfile::tempdir().unwrap();
    let (model, inputs, path) = wdbc_model(dir.path());
    let running = Running::start(&config(dir.path(), &path));
    let service = running.client();
    let spec = service.model("wdbc").unwrap();
    let params = presets::by_name(&spec.params).unwrap();
    let (secret, evaluation_key) = LweClient::new(&params).unwrap();
    let key = service
        .register("clinic-a", &evaluation_key, None, &|_| {})
        .unwrap();
    let addr = running.addr;
    // Send inferences until the service is seen answering one, then ask it to stop: that
    // inference still gets its answer, and the service stops afterwards.
    let x = inputs[0].clone();
    let mut secret = Some(secret);
    for _ in 0..50 {
        let (spec, key, sent) = (spec.clone(), key.clone(), x.clone());
        let mut lwe = secret.take().unwrap();
        let request = std::thread::spawn(move || {
            let client = ServiceClient::new(&format!("http://{addr}")).unwrap();
            let answer = client.classify(&spec, &mut lwe, &key, &sent);
            (answer, lwe)
        });
        let mut seen = false;
        while !request.is_finished() {
            if in_flight(addr) >= 2 {
                seen = true;
                break;
            }
        }
        if seen {
            running.stop();
            let (answer, _) = request.join().unwrap();
            let want = model.eval(&model.quantize_input(&x).unwrap()).unwrap();
            assert_eq!(answer.unwrap().outputs, want);
            return;
        }
        let (answer, lwe) = request.join().unwrap();
        answer.unwrap();
        secret = Some(lwe);
    }
    panic!("no inference was ever seen running");
}

//! `shroud demo`: a doctor's encrypted measurements, a statistic computed on them by a party
//! that never sees them, and the answer only the doctor can read; then a short training of
//! the Iris classifier on encrypted data and encrypted weights; then integers as lists of
//! encrypted bits, multiplied and passed through a ReLU gate by gate; then an encrypted MNIST
//! image classified by a quantized network that never sees it; then a model a user brings,
//! imported from ONNX and hosted by a service on 127.0.0.1, classifying an encrypted patient
//! record sent over HTTP.

use std::time::Instant;

use shroud_bits::backends::Bootstrapped;
use shroud_bits::{Builder, EncInt, Encoding, Evaluator as BitEvaluator, Format};
use shroud_ckks::packing::DiagonalLayout;
use shroud_ckks::{
    presets, Ciphertext, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Params,
};
use shroud_lwe::bootstrap::{presets as lwe_presets, ClientKey};
use shroud_nn::datasets::iris::prepare_iris;
use shroud_nn::datasets::load_labelled;
use shroud_nn::engines::{GraphServer, LweClient};
use shroud_nn::import::import_onnx_file;
use shroud_nn::model_file::{CompiledModel, ModelFile};
use shroud_nn::quant::argmax;
use shroud_nn::quant::{quantize, QuantConfig};
use shroud_nn::training::encrypted::{default_params, train_encrypted, Packing};
use shroud_nn::training::small_mnist_model;
use shroud_nn::training::square::{train_plain, TrainConfig};
use shroud_serve::client::ServiceClient;
use shroud_serve::models::ModelSource;
use shroud_serve::server::{ServeConfig, Service};

/// The Iris data shipped with the repository, relative to the workspace root.
const IRIS: &str = "datasets/iris/iris.csv";

pub fn run() -> anyhow::Result<()> {
    statistics()?;
    println!();
    iris_training()?;
    println!();
    encrypted_integers()?;
    println!();
    let (mut client, evaluation_key) = mnist_classification()?;
    println!();
    imported_model(&mut client, &evaluation_key)
}

/// A scikit-learn MLP exported by skl2onnx, shipped with the repository.
const WDBC_MODEL: &str = "crates/nn/tests/fixtures/wdbc_mlp_sklearn.onnx";
const WDBC: &str = "datasets/breast-cancer/wdbc.csv";

/// A model a user brings, served across a network: the Breast Cancer Wisconsin classifier
/// (30 features of a fine-needle aspirate, scikit-learn's MLPClassifier with its
/// StandardScaler) imported from ONNX and quantized on the training records, hosted by a
/// service on 127.0.0.1; the client registers the MNIST step's evaluation key with it and
/// has one held-out patient record classified on ciphertexts over HTTP.
fn imported_model(client: &mut LweClient, evaluation_key: &[u8]) -> anyhow::Result<()> {
    let t = Instant::now();
    let float = import_onnx_file(WDBC_MODEL)?;
    let (train, test) = load_labelled(WDBC)?;
    let model = quantize(&float, &train.inputs, &QuantConfig::new(6))?;
    let dir = std::env::temp_dir().join(format!("shroud-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("wdbc.shroud");
    let nodes = float.nodes.len();
    CompiledModel {
        source: WDBC_MODEL.into(),
        float,
        quantized: model.clone(),
    }
    .save(&path)?;
    let config = ServeConfig::new(
        "127.0.0.1:0".parse()?,
        dir.join("store"),
        vec![ModelSource {
            name: "wdbc".into(),
            path,
            params: "wide_128".into(),
        }],
    );
    let service = Service::bind(&config)?;
    let addr = service.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = std::thread::spawn(move || -> anyhow::Result<()> {
        tokio::runtime::Runtime::new()?.block_on(service.run(async {
            let _ = stopped.await;
        }))?;
        Ok(())
    });
    let http = ServiceClient::new(&format!("http://{addr}"))?;
    let spec = http.model("wdbc")?;
    println!(
        "A model you bring: {WDBC_MODEL} ({nodes} nodes after import: scaler, dense, ReLU, \
         dense, binary head), quantized to 6 bits in {:.1?}; served on http://{addr}, {} \
         bootstraps per record",
        t.elapsed(),
        spec.bootstraps
    );
    let t = Instant::now();
    let key = http.register("demo", evaluation_key, None, &|_| {})?;
    println!(
        "  the client registers its evaluation key with the service ({:.1} MB, seeded) in {:.1?}",
        key.bytes as f64 / 1e6,
        t.elapsed()
    );
    let record = 0;
    let answer = http.classify(&spec, client, &key, &test.inputs[record])?;
    println!(
        "  held-out patient {record} ({}): encrypted inference over HTTP in {:.1} s (sent \
         {:.2} MB, received {:.3} MB); the client decrypts P(benign) = {:.3}",
        ["malignant", "benign"][test.labels[record]],
        answer.seconds,
        answer.bytes_sent as f64 / 1e6,
        answer.bytes_received as f64 / 1e6,
        answer.scores[1]
    );
    let _ = stop.send(());
    running
        .join()
        .map_err(|_| anyhow::anyhow!("the service's thread panicked"))??;
    let _ = std::fs::remove_dir_all(&dir);
    anyhow::ensure!(
        answer.outputs == model.eval(&model.quantize_input(&test.inputs[record])?)?,
        "encrypted outputs differ from the integer evaluator's"
    );
    println!("  the decrypted outputs equal the integer evaluator's, bit for bit");
    Ok(())
}

/// The MNIST files shipped with the repository, relative to the workspace root.
const MNIST: &str = "datasets/mnist";

/// A small network (14x14 images, 196-64-10) trained and quantized to 4 bits on the spot, then
/// one encrypted test image classified by the LWE engine: exact plaintext-weighted sums and
/// one clamped lookup per hidden neuron. `shroud mnist infer` runs the full 784-500-256-10.
fn mnist_classification() -> anyhow::Result<(LweClient, Vec<u8>)> {
    let t = Instant::now();
    let epochs = 10;
    let (model, test) = small_mnist_model(MNIST, epochs)?;
    let model = model.quantized;
    let accuracy = test.accuracy_of(|x| model.predict(x));
    println!(
        "Encrypted inference: MNIST on 14x14 images, 196-64-10 trained ({epochs} epochs) and quantized to 4 bits in {:.1?}; test accuracy {accuracy:.4}",
        t.elapsed()
    );
    let params = lwe_presets::wide_128();
    let t = Instant::now();
    let (mut client, evaluation_key) = LweClient::new(&params)?;
    let server = GraphServer::new(model.clone(), &evaluation_key)?;
    let encoding = server.encoding();
    println!(
        "  LWE engine ({}, {}-bit security): keys in {:.1?}, {} bootstraps per image",
        params.name,
        params.security_bits,
        t.elapsed(),
        server.plan().bootstraps
    );
    let image = 0;
    let x = model.quantize_input(&test.inputs[image])?;
    let upload = client.encrypt_input(&encoding, &x)?;
    let t = Instant::now();
    let download = server.infer(&upload, &|_| {})?;
    let secs = t.elapsed().as_secs_f64();
    let logits = client.decrypt_output(&encoding, &download)?;
    let class = argmax(&logits);
    println!(
        "  test image {image} (a {}): the server computed on {:.1} MB of ciphertext for {secs:.1} s; the client decrypts class {class}",
        test.labels[image],
        upload.len() as f64 / 1e6
    );
    anyhow::ensure!(
        logits == model.eval(&x)?,
        "encrypted logits differ from the integer evaluator's"
    );
    println!("  the decrypted logits equal the integer evaluator's, bit for bit");
    Ok((client, evaluation_key))
}

/// Two 8-bit integers encrypted bit by bit, their product and a ReLU computed by bootstrapped
/// gates on the server, read back by the key owner.
fn encrypted_integers() -> anyhow::Result<()> {
    let t = Instant::now();
    let params = lwe_presets::gates_128();
    let mut client = ClientKey::new(&params)?;
    let server = client.server_key();
    println!(
        "Bit-level FHE: TFHE-style bootstrapped gates ({}), {}-bit security; keys in {:.2?}",
        params.name,
        params.security_bits,
        t.elapsed()
    );
    let format = Format::new(8, Encoding::TwosComplement, 0)?;
    let (a, b) = (-7, 12);
    let (x, y) = (
        EncInt::encrypt(&mut client, a, format)?,
        EncInt::encrypt(&mut client, b, format)?,
    );
    let ev = BitEvaluator::new(Bootstrapped::new(server));
    let t = Instant::now();
    let product = ev.binary(&x, &y, Builder::mul)?;
    let product_time = t.elapsed();
    let t = Instant::now();
    let relu = ev.unary(&product, |b, w| Ok(b.relu_fast(w)))?;
    let relu_time = t.elapsed();
    println!(
        "  {a} x {b} = {} (8-bit two's complement, {product_time:.2?}); ReLU of it = {} ({relu_time:.2?}); {} bootstraps in all",
        product.decrypt(&client)?,
        relu.decrypt(&client)?,
        ev.backend().server_key().counts().bootstraps
    );
    Ok(())
}

fn statistics() -> anyhow::Result<()> {
    let t0 = Instant::now();
    let params = Params::new(presets::n14())?;
    println!(
        "CKKS, N = {}, log2(QP) = {}, {} levels, estimated security {} bits ({})",
        params.n(),
        params.log_qp(),
        params.max_level(),
        params.security_bits().unwrap_or(0),
        params.security_source()
    );

    // Client: keys and encryption.
    let mut kg = KeyGenerator::new(&params);
    let sk = kg.secret_key();
    let pk = kg.public_key(&sk)?;
    let rk = kg.relin_key(&sk)?;
    let gk = kg.galois_keys_power_of_two(&sk)?;
    println!("client: keys generated in {:.2?}", t0.elapsed());

    // Blood glucose readings (mmol/L) of 8 patients, and a risk score w.x + c x^2 per patient.
    let readings = [5.1, 6.3, 7.8, 4.9, 11.2, 5.6, 9.4, 6.0];
    let encoder = Encoder::new(&params);
    let mut encryptor = Encryptor::with_public_key(&params, &pk)?;
    let ct = encryptor.encrypt(&encoder.encode(&readings)?)?;
    let wire = ct.to_bytes(&params)?;
    println!(
        "client: {} readings encrypted, {} KiB sent",
        readings.len(),
        wire.len() / 1024
    );

    // Server: only evaluation keys; computes the scores and the mean without seeing anything.
    let t1 = Instant::now();
    let eval = Evaluator::new(&params)
        .with_relin_key(rk)?
        .with_galois_keys(gk)?;
    let x = Ciphertext::from_bytes(&params, &wire)?;
    let (w, c) = (0.4, 0.05);
    let sq = eval.mul_relin_rescale(&x, &x)?;
    let quad = eval.rescale(&eval.mul_scalar(&sq, c)?)?;
    // The linear term is scaled to land exactly on the quadratic term's scale.
    let lin = eval.rescale(&eval.mul_scalar_to(&x, w, quad.scale())?)?;
    let lin = eval.mod_drop_to(&lin, quad.level())?;
    let score = eval.add(&quad, &lin)?;
    let mean = eval.rescale(&eval.mul_scalar(&eval.sum_slots(&x, 8)?, 1.0 / 8.0)?)?;
    println!(
        "server: risk scores and mean computed on ciphertexts in {:.2?}",
        t1.elapsed()
    );

    // Client: decrypt.
    let dec = Decryptor::new(&params, &sk)?;
    let scores = encoder.decode(&dec.decrypt(&score)?)?;
    let mean_out = encoder.decode(&dec.decrypt(&mean)?)?[0];
    println!("\npatient  reading  score(encrypted)  score(plain)");
    let mut worst = 0f64;
    for (i, r) in readings.iter().enumerate() {
        let plain = w * r + c * r * r;
        worst = worst.max((scores[i] - plain).abs());
        println!(
            "{:>7}  {:>7.1}  {:>16.6}  {:>12.6}",
            i + 1,
            r,
            scores[i],
            plain
        );
    }
    let plain_mean = readings.iter().sum::<f64>() / readings.len() as f64;
    println!("mean reading: encrypted {mean_out:.6}, plain {plain_mean:.6}");
    worst = worst.max((mean_out - plain_mean).abs());
    println!("largest difference {worst:.2e}; total {:.2?}", t0.elapsed());
    anyhow::ensure!(worst < 1e-3, "encrypted result diverged from the plain one");
    Ok(())
}

/// Two epochs of encrypted SGD on Iris at batch 40 (six steps), beside the same steps in the
/// clear.
fn iris_training() -> anyhow::Result<()> {
    let (train, test) = prepare_iris(IRIS, 0.2, 1)?;
    let config = TrainConfig {
        epochs: 2,
        batch: 40,
        ..TrainConfig::default()
    };
    let packing = Packing::Diagonal(DiagonalLayout::Plain);
    let params = default_params(packing)?;
    println!(
        "Encrypted training: Iris 4-10-3, {} samples, batch {}, {} epochs; CKKS N = {}, {}-bit security",
        train.len(),
        config.batch,
        config.epochs,
        params.n(),
        params.security_bits().unwrap_or(0)
    );
    let t = Instant::now();
    let run = train_encrypted(&train, &test, &config, &params, packing, |s| {
        println!(
            "  epoch {}: loss {:.5}, train accuracy {:.3}, test accuracy {:.3} (encrypted)",
            s.epoch, s.train_loss, s.train_acc, s.test_acc
        )
    })?;
    let (plain, history) = train_plain(&train, &test, &config, |_| {})?;
    let drift = run.model.max_abs_diff(&plain);
    println!(
        "  plaintext after the same steps: loss {:.5}; largest weight difference {drift:.1e}",
        history.last().map(|s| s.train_loss).unwrap_or(f64::NAN)
    );
    println!(
        "  {} encrypted steps in {:.1?} ({:.2} s each); `shroud iris train --encrypted` runs the full training",
        run.iterations,
        t.elapsed(),
        t.elapsed().as_secs_f64() / run.iterations as f64
    );
    anyhow::ensure!(
        drift < 3e-3,
        "encrypted training diverged from the plaintext steps"
    );
    Ok(())
}

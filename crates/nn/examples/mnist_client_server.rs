//! Encrypted MNIST inference with the client (who holds the image and the secret key) and
//! the server (who holds the model) apart: only bytes pass between them.
//!
//! A 196-64-10 network on 14x14 images is trained here in the clear and quantized to the
//! 4-bit window form the LWE engine runs (exact weighted sums over wide integers, one
//! clamped lookup table per hidden neuron, 128-bit security). The client generates its
//! keys and sends the evaluation key; the server plans the network against it; then each
//! image goes up encrypted and its logits come back encrypted. The decrypted logits must
//! equal the integer evaluator's bit for bit. `shroud mnist infer` runs the full
//! 784-500-256-10 network the same way.
//!
//! ```text
//! cargo run --release -p shroud-nn --example mnist_client_server [-- IMAGES]
//! ```

use std::time::Instant;

use shroud_lwe::bootstrap::presets;
use shroud_nn::engines::{GraphServer, LweClient};
use shroud_nn::quant::argmax;
use shroud_nn::training::small_mnist_model;

const MNIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/mnist");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let images: usize = match std::env::args().nth(1) {
        Some(arg) if !arg.starts_with('-') => arg.parse()?,
        _ => 1,
    };

    // The model owner trains and quantizes its network (in the clear: it is the owner's).
    let t = Instant::now();
    let (model, test) = small_mnist_model(MNIST, 3)?;
    let model = model.quantized;
    println!(
        "model: 196-64-10 on 14x14 images, 4-bit window form, trained and quantized in {:.1?}",
        t.elapsed()
    );

    // Client: keys; the evaluation key goes to the server once.
    let params = presets::wide_128();
    let t = Instant::now();
    let (mut client, evaluation_key) = LweClient::new(&params)?;
    println!(
        "client: keys ({}, {}-bit security) in {:.1?}; evaluation key {:.0} MB",
        params.name,
        params.security_bits,
        t.elapsed(),
        evaluation_key.len() as f64 / 1e6
    );

    // Server: the model and the evaluation key, checked against each other before any image.
    let server = GraphServer::new(model.clone(), &evaluation_key)?;
    // Public: how the server wants inputs encoded and how its logits read.
    let encoding = server.encoding();
    println!(
        "server: network planned, {} bootstraps per image",
        server.plan().bootstraps
    );

    for i in 0..images {
        // Client: quantize and encrypt the image.
        let x = model.quantize_input(&test.inputs[i])?;
        let upload = client.encrypt_input(&encoding, &x)?;
        // Server: computes on ciphertexts only.
        let t = Instant::now();
        let download = server.infer(&upload, &|_| {})?;
        let elapsed = t.elapsed();
        // Client: decrypts the logits.
        let logits = client.decrypt_output(&encoding, &download)?;
        println!(
            "image {i} (a {}): class {} in {elapsed:.1?}; {:.1} MB up, {:.2} MB down",
            test.labels[i],
            argmax(&logits),
            upload.len() as f64 / 1e6,
            download.len() as f64 / 1e6
        );
        if logits != model.eval(&x)? {
            return Err("the encrypted logits differ from the integer evaluator's".into());
        }
    }
    println!("every decrypted logit equals the integer evaluator's");
    Ok(())
}

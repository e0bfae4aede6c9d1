//! Encrypted training of the 4-10-3 Iris perceptron (square activation, MSE), with the data
//! owner and the training server apart. Only bytes pass between them:
//!
//! - once, owner -> server: the evaluation keys (relinearization and rotations);
//! - each step, owner -> server: the encrypted batch and the encrypted weights;
//! - each step, server -> owner: the encrypted updated weights, which the owner decrypts and
//!   encrypts afresh (repacking), since a step uses up the ciphertexts' levels.
//!
//! The server runs feed-forward, the rotation-only transposes and backpropagation on
//! ciphertexts (diagonal packing) and never sees a feature, a label or a weight. The same
//! steps in the clear check the result. `shroud iris train --encrypted --bootstrap` trains
//! with the server alone, refreshing the weights by bootstrapping instead of repacking.
//!
//! ```text
//! cargo run --release -p shroud-nn --example iris_training
//! ```

use std::time::Instant;

use ndarray::Axis;
use shroud_ckks::packing::DiagonalLayout;
use shroud_nn::datasets::iris::prepare_iris;
use shroud_nn::training::encrypted::{default_params, Client, Packing, Server, Shape};
use shroud_nn::training::square::{epoch_batches, Mlp, TrainConfig};

const IRIS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/iris/iris.csv");
/// Six epochs (36 steps) reach 60% test accuracy; the design's 400 reach 93%
/// (`scripts/iris-full.sh`).
const EPOCHS: usize = 6;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (train, test) = prepare_iris(IRIS, 0.2, 1)?;
    let config = TrainConfig::default(); // lr 0.1, batch 20, 10 hidden units, seed 1
    let packing = Packing::Diagonal(DiagonalLayout::Plain);
    let params = default_params(packing)?;
    let shape = Shape {
        inputs: train.features.ncols(),
        hidden: config.hidden,
        outputs: train.classes(),
        packing,
    };
    println!(
        "Iris: {} training samples, network {}-{}-{}, batch {}, lr {}; CKKS N = {}, {}-bit security",
        train.len(),
        shape.inputs,
        shape.hidden,
        shape.outputs,
        config.batch,
        config.lr,
        params.n(),
        params.security_bits().unwrap_or(0)
    );

    // The data owner: secret key, evaluation keys for the server, initial weights.
    let (mut owner, keys) = Client::new(&params, shape)?;
    let initial = Mlp::init(
        shape.inputs,
        shape.hidden,
        shape.outputs,
        config.init_std,
        config.seed,
    );
    let mut weights = owner.encrypt_weights(&initial)?;
    // The server: evaluation keys only.
    let server = Server::new(&params, shape, config.lr, &keys)?;
    println!(
        "evaluation keys: {:.1} MB, sent once",
        keys.len() as f64 / 1e6
    );

    let labels = train.one_hot();
    let mut plain = initial.clone();
    let mut model = initial;
    let (mut steps, mut traffic) = (0, 0);
    let t = Instant::now();
    for epoch in 1..=EPOCHS {
        for idx in epoch_batches(train.len(), config.batch, config.seed, epoch) {
            let (x, y) = (
                train.features.select(Axis(0), &idx),
                labels.select(Axis(0), &idx),
            );
            let batch = owner.encrypt_batch(&x, &y)?;
            let (updated, _) = server.step(&weights, &batch)?;
            traffic += batch.len() + weights.len() + updated.len();
            (model, weights) = owner.repack(&updated, idx.len())?;
            plain.step(&x, &y, config.lr);
            steps += 1;
        }
        println!(
            "epoch {epoch}: test accuracy {:.3} (encrypted training), {:.3} (the same steps in the clear)",
            model.accuracy(&test.features, &test.labels),
            plain.accuracy(&test.features, &test.labels)
        );
    }
    let drift = model.max_abs_diff(&plain);
    println!(
        "{steps} steps in {:.1?}, {:.0} MB exchanged; largest weight difference from the clear steps {drift:.1e}",
        t.elapsed(),
        traffic as f64 / 1e6
    );
    if drift > 3e-3 {
        return Err(format!("encrypted training drifted by {drift:e}").into());
    }
    Ok(())
}

#[test]
fn example_runs() {
    main().unwrap();
}

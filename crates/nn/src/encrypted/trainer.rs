use std::time::{Duration, Instant};

use ndarray::Axis;
use shroud_ckks::Params;

use super::{Client, Packing, PhaseTimes, Server, Shape};
use crate::iris::Dataset;
use crate::mlp::{epoch_batches, evaluate, EpochStats, Mlp, TrainConfig};
use crate::NnError;

/// The outcome of an encrypted training run.
#[derive(Clone, Debug)]
pub struct EncryptedRun {
    pub model: Mlp,
    pub history: Vec<EpochStats>,
    pub iterations: usize,
    /// Server time per phase, summed over all iterations.
    pub server: PhaseTimes,
    /// Client time spent encrypting batches and repacking weights.
    pub client: Duration,
    /// Bytes sent client -> server and back, summed over all iterations.
    pub bytes_up: usize,
    pub bytes_down: usize,
}

/// Trains like [`crate::mlp::train_plain`] (same initialization, same batches in the same
/// order) with the data and the weights encrypted on the server. `on_epoch` sees the
/// metrics of the weights the client decrypted at the end of each epoch.
pub fn train_encrypted(
    train: &Dataset,
    test: &Dataset,
    config: &TrainConfig,
    params: &Params,
    packing: Packing,
    mut on_epoch: impl FnMut(&EpochStats),
) -> Result<EncryptedRun, NnError> {
    if config.batch == 0 || config.epochs == 0 || train.is_empty() {
        return Err(NnError::InvalidConfig(
            "batch, epochs and training set must be non-empty".into(),
        ));
    }
    let shape = Shape {
        inputs: train.features.ncols(),
        hidden: config.hidden,
        outputs: train.classes(),
        packing,
    };
    let (mut client, keys) = Client::new(params, shape)?;
    let server = Server::new(params, shape, config.lr, &keys)?;
    let mut model = Mlp::init(
        shape.inputs,
        shape.hidden,
        shape.outputs,
        config.init_std,
        config.seed,
    );
    let mut weights = client.encrypt_weights(&model)?;
    let y = train.one_hot();
    let mut run = EncryptedRun {
        model: model.clone(),
        history: Vec::with_capacity(config.epochs),
        iterations: 0,
        server: PhaseTimes::default(),
        client: Duration::ZERO,
        bytes_up: 0,
        bytes_down: 0,
    };
    for epoch in 1..=config.epochs {
        for idx in epoch_batches(train.len(), config.batch, config.seed, epoch) {
            let t = Instant::now();
            let batch = client.encrypt_batch(
                &train.features.select(Axis(0), &idx),
                &y.select(Axis(0), &idx),
            )?;
            run.client += t.elapsed();
            let (updated, times) = server.step(&weights, &batch)?;
            run.server += times;
            run.bytes_up += batch.len() + weights.len();
            run.bytes_down += updated.len();
            let t = Instant::now();
            (model, weights) = client.repack(&updated, idx.len())?;
            run.client += t.elapsed();
            run.iterations += 1;
        }
        let stats = evaluate(&model, train, test, epoch)?;
        on_epoch(&stats);
        run.history.push(stats);
    }
    run.model = model;
    Ok(run)
}

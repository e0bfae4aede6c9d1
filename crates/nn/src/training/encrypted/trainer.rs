use std::time::{Duration, Instant};

use ndarray::Axis;
use shroud_ckks::Params;

use super::{Client, Packing, PhaseTimes, Server, Shape};
use crate::datasets::iris::Dataset;
use crate::training::square::{epoch_batches, evaluate, EpochStats, Mlp, TrainConfig};
use crate::NnError;

/// The outcome of an encrypted training run.
#[derive(Clone, Debug)]
pub struct EncryptedRun {
    /// The trained weights, as the client decrypted them after the last step.
    pub model: Mlp,
    /// Metrics of the decrypted weights after each epoch, in order.
    pub history: Vec<EpochStats>,
    /// Number of SGD steps (batches) run, over all epochs.
    pub iterations: usize,
    /// Server time per phase, summed over all iterations.
    pub server: PhaseTimes,
    /// Client time spent encrypting batches and repacking weights.
    pub client: Duration,
    /// The evaluation keys, sent once.
    pub key_bytes: usize,
    /// Bytes sent client -> server and back, summed over all iterations.
    pub bytes_up: usize,
    /// Bytes of updated weights sent server -> client, summed over all iterations.
    pub bytes_down: usize,
}

/// Where the client's training steps run: the [`Server`] in this process, or a service
/// across a network (which reports no phase times: [`PhaseTimes::default`]).
pub trait StepServer {
    /// One SGD step: the updated weights' shares and the server's time per phase.
    fn step(&mut self, weights: &[u8], batch: &[u8]) -> Result<(Vec<u8>, PhaseTimes), NnError>;
}

impl StepServer for Server {
    fn step(&mut self, weights: &[u8], batch: &[u8]) -> Result<(Vec<u8>, PhaseTimes), NnError> {
        Server::step(self, weights, batch)
    }
}

/// Trains like [`crate::training::square::train_plain`] (same initialization, same batches in the same
/// order) with the data and the weights encrypted on a [`Server`] in this process.
/// `on_epoch` sees the metrics of the weights the client decrypted at the end of each epoch.
pub fn train_encrypted(
    train: &Dataset,
    test: &Dataset,
    config: &TrainConfig,
    params: &Params,
    packing: Packing,
    on_epoch: impl FnMut(&EpochStats),
) -> Result<EncryptedRun, NnError> {
    let connect = |shape, keys: &[u8]| Server::new(params, shape, config.lr, keys);
    train_encrypted_with(train, test, config, params, packing, connect, on_epoch)
}

/// [`train_encrypted`] against any [`StepServer`]: `connect` receives the network's shape
/// and the serialized evaluation keys and returns the server that runs the steps (for a
/// service: after registering the keys with it).
pub fn train_encrypted_with<S: StepServer>(
    train: &Dataset,
    test: &Dataset,
    config: &TrainConfig,
    params: &Params,
    packing: Packing,
    connect: impl FnOnce(Shape, &[u8]) -> Result<S, NnError>,
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
    let mut server = connect(shape, &keys)?;
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
        key_bytes: keys.len(),
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

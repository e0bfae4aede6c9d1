//! The plaintext reference trainer with the design's hyperparameters.

use shroud_nn::datasets::iris::{prepare_iris, Dataset};
use shroud_nn::training::square::{train_plain, TrainConfig};
use shroud_nn::NnError;

fn data(seed: u64) -> (Dataset, Dataset) {
    prepare_iris(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/iris/iris.csv"),
        0.2,
        seed,
    )
    .unwrap()
}

#[test]
fn batch_20_converges_with_scaled_features_and_small_weights() {
    for seed in [1, 2, 3] {
        let (train, test) = data(seed);
        let config = TrainConfig {
            seed,
            ..TrainConfig::default()
        };
        let (_, history) = train_plain(&train, &test, &config, |_| {}).unwrap();
        let last = history.last().unwrap();
        assert!(
            last.train_acc >= 0.9,
            "seed {seed}: train accuracy {}",
            last.train_acc
        );
        assert!(
            last.test_acc >= 0.8,
            "seed {seed}: test accuracy {}",
            last.test_acc
        );
        assert!(
            last.train_loss < history[0].train_loss / 2.0,
            "loss did not fall: {history:?}"
        );
    }
}

#[test]
fn divergence_is_reported_not_hidden() {
    let (train, test) = data(1);
    let config = TrainConfig {
        lr: 50.0,
        init_std: 2.0,
        epochs: 20,
        ..TrainConfig::default()
    };
    let err = train_plain(&train, &test, &config, |_| {}).unwrap_err();
    assert!(matches!(err, NnError::Diverged { .. }), "{err}");
}

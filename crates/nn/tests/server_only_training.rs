//! Server-only training (the model refreshed by bootstrapping, no client in the loop) against
//! plaintext SGD, on insecure test parameters: N = 2^12, eight Iris samples in eight tiles.

use ndarray::Axis;
use shroud_nn::datasets::iris::{prepare_iris, Dataset};
use shroud_nn::training::encrypted::server_only::{
    insecure_test_circuit, train_server_only, DataOwner, Trainer, STEP_LEVELS,
};
use shroud_nn::training::encrypted::tiles::TileLayout;
use shroud_nn::training::square::{train_plain, Mlp, TrainConfig};

/// The first `n` samples of the Iris training split, and the test split.
fn iris(n: usize) -> (Dataset, Dataset) {
    let (train, test) = prepare_iris(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/iris/iris.csv"),
        0.2,
        1,
    )
    .unwrap();
    let idx: Vec<usize> = (0..n).collect();
    let small = Dataset {
        features: train.features.select(Axis(0), &idx),
        labels: idx.iter().map(|&i| train.labels[i]).collect(),
        class_names: train.class_names.clone(),
    };
    (small, test)
}

#[test]
fn server_only_steps_across_a_bootstrap_track_plaintext_sgd() {
    let (train, test) = iris(8);
    // Two epochs of two batches: three steps use the eighteen levels, the fourth needs a
    // bootstrap first.
    let config = TrainConfig {
        epochs: 2,
        batch: 4,
        ..TrainConfig::default()
    };
    let (plain, _) = train_plain(&train, &test, &config, |_| {}).unwrap();
    let mut seen = Vec::new();
    let run = train_server_only(&train, &test, &config, insecure_test_circuit, None, |s| {
        seen.push(*s)
    })
    .unwrap();
    assert_eq!((run.trainer.steps, run.trainer.bootstraps), (4, 1));
    assert_eq!(seen.len(), 4);
    assert_eq!(run.levels, 18);
    let drift = run.model.max_abs_diff(&plain);
    let moved = plain.max_abs_diff(&Mlp::init(5, 10, 3, config.init_std, config.seed));
    assert!(moved > 1e-2, "the plaintext model moved by {moved}");
    // Four steps and a bootstrap drift by 4e-6 to 9e-6 (three runs); a wrong gradient, by the
    // size of a step.
    assert!(drift < 1e-4, "weights drifted by {drift} (moved {moved})");
}

#[test]
fn the_trainer_refuses_what_it_cannot_run() {
    let (train, _) = iris(8);
    let (params, preset) = insecure_test_circuit(256).unwrap();
    let layout = TileLayout::new(5, 10, 3, params.slots()).unwrap();
    // A circuit for another tile, a zero rate.
    let mut other = preset.spec.clone();
    other.slots = 128;
    assert!(Trainer::new(&params, other, layout, 0.1).is_err());
    assert!(Trainer::new(&params, preset.spec.clone(), layout, 0.0).is_err());

    let trainer = Trainer::new(&params, preset.spec.clone(), layout, 0.1).unwrap();
    let (mut owner, keys) = DataOwner::with_seed(
        &params,
        layout,
        trainer.level(),
        &trainer.galois_elements(),
        preset.ephemeral_weight,
        3,
    )
    .unwrap();
    let trainer = trainer.with_keys(keys).unwrap();
    let model = Mlp::init(5, 10, 3, 0.2, 1);
    let upload = owner
        .upload(&train.features, &train.one_hot(), &model)
        .unwrap();
    // More samples than tiles, a batch naming a sample that is not there.
    let nine = iris(9).0;
    assert!(owner
        .upload(&nine.features, &nine.one_hot(), &model)
        .is_err());
    assert!(trainer.step(&upload.model, &upload, &[0, 8]).is_err());
    assert!(trainer.step(&upload.model, &upload, &[]).is_err());
    // A model without the levels of a step.
    let mut low = upload.model.clone();
    for _ in 0..(trainer.level() / STEP_LEVELS) {
        low = trainer.step(&low, &upload, &[0, 1]).unwrap();
    }
    assert!(low.level() < STEP_LEVELS);
    assert!(trainer.step(&low, &upload, &[0, 1]).is_err());
    // Data from another key: the evaluator detects it.
    let (mut stranger, _) = DataOwner::with_seed(
        &params,
        layout,
        trainer.level(),
        &[],
        preset.ephemeral_weight,
        4,
    )
    .unwrap();
    let foreign = stranger
        .upload(&train.features, &train.one_hot(), &model)
        .unwrap();
    assert!(trainer.step(&foreign.model, &upload, &[0]).is_err());
}

#[test]
fn a_checkpointed_run_resumes_and_refuses_another_run() {
    let (train, test) = iris(8);
    let dir = std::env::temp_dir().join(format!("shroud-checkpoint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = TrainConfig {
        epochs: 1,
        batch: 4,
        ..TrainConfig::default()
    };
    let run = |config: &TrainConfig| {
        train_server_only(
            &train,
            &test,
            config,
            insecure_test_circuit,
            Some(&dir),
            |_| {},
        )
    };
    let first = run(&config).unwrap();
    assert_eq!((first.resumed_at, first.trainer.steps), (0, 2));
    // The same run again: nothing left to do, the saved model and counts come back.
    let again = run(&config).unwrap();
    assert_eq!((again.resumed_at, again.trainer.steps), (2, 2));
    assert!(again.model.max_abs_diff(&first.model) < 1e-12);
    assert!(again.wall >= first.wall);
    // Other settings, a damaged state, a state without its key: errors, not a fresh start.
    assert!(run(&TrainConfig {
        seed: 2,
        ..config.clone()
    })
    .is_err());
    let state = dir.join("state");
    let mut bytes = std::fs::read(&state).unwrap();
    bytes.truncate(bytes.len() - 100);
    std::fs::write(&state, &bytes).unwrap();
    assert!(run(&config).is_err());
    std::fs::remove_file(dir.join("secret.key")).unwrap();
    assert!(run(&config).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

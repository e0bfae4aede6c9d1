//! Encrypted training against the plaintext trainer, step by step, on small runs.

use ndarray::Axis;
use shroud_ckks::packing::DiagonalLayout;
use shroud_nn::datasets::iris::prepare_iris;
use shroud_nn::training::encrypted::{
    default_params, train_encrypted, Client, Packing, Server, Shape,
};
use shroud_nn::training::square::{train_plain, Mlp, TrainConfig};

fn iris() -> (
    shroud_nn::datasets::iris::Dataset,
    shroud_nn::datasets::iris::Dataset,
) {
    prepare_iris(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/iris/iris.csv"),
        0.2,
        1,
    )
    .unwrap()
}

fn max_diff(a: &Mlp, b: &Mlp) -> f64 {
    a.max_abs_diff(b)
}

#[test]
fn one_encrypted_step_matches_the_plaintext_step() {
    let (train, _) = iris();
    // Tolerances are about five times the largest error seen over 40 runs: diagonal packing
    // works at scale 2^28 (n13_l5) and a batch of 20 sums twenty noisy gradients; row packing
    // works at 2^36 (n14_l9).
    for (packing, batch, tolerance) in [
        (Packing::Diagonal(DiagonalLayout::Plain), 1, 1e-4),
        (
            Packing::Diagonal(DiagonalLayout::Stepped { baby: 4 }),
            20,
            5e-4,
        ),
        (Packing::Row, 20, 1e-5),
    ] {
        let params = default_params(packing).unwrap();
        let shape = Shape {
            inputs: 5,
            hidden: 10,
            outputs: 3,
            packing,
        };
        let (mut client, keys) = Client::new(&params, shape).unwrap();
        let server = Server::new(&params, shape, 0.1, &keys).unwrap();
        let model = Mlp::init(5, 10, 3, 0.3, 4);
        let idx: Vec<usize> = (0..batch).collect();
        let x = train.features.select(Axis(0), &idx);
        let y = train.one_hot().select(Axis(0), &idx);
        let weights = client.encrypt_weights(&model).unwrap();
        let (updated, _) = server
            .step(&weights, &client.encrypt_batch(&x, &y).unwrap())
            .unwrap();
        let (got, _) = client.repack(&updated, batch).unwrap();
        let mut want = model.clone();
        want.step(&x, &y, 0.1);
        let diff = max_diff(&got, &want);
        assert!(
            diff < tolerance,
            "{packing:?} batch {batch}: encrypted step off by {diff}"
        );
        assert!(
            max_diff(&want, &model) > 1e-3,
            "the step changes the weights"
        );
    }
}

#[test]
fn layers_of_different_sizes_share_one_packing_dimension() {
    // 6-3-1: the matrices are 3 x 6 and 1 x 3, both packed at dimension 6.
    let packing = Packing::Diagonal(DiagonalLayout::Stepped { baby: 2 });
    let params = default_params(packing).unwrap();
    let shape = Shape {
        inputs: 6,
        hidden: 3,
        outputs: 1,
        packing,
    };
    let (mut client, keys) = Client::new(&params, shape).unwrap();
    let server = Server::new(&params, shape, 0.1, &keys).unwrap();
    let model = Mlp::init(6, 3, 1, 0.5, 9);
    let x = ndarray::Array2::from_shape_fn((3, 6), |(i, j)| 0.1 * (i + j) as f64);
    let y = ndarray::Array2::from_shape_fn((3, 1), |(i, _)| i as f64 / 2.0);
    let weights = client.encrypt_weights(&model).unwrap();
    let (updated, _) = server
        .step(&weights, &client.encrypt_batch(&x, &y).unwrap())
        .unwrap();
    let got = client.decrypt_weights(&updated, 3).unwrap();
    let mut want = model.clone();
    want.step(&x, &y, 0.1);
    assert!(
        max_diff(&got, &want) < 1e-4,
        "off by {}",
        max_diff(&got, &want)
    );
}

#[test]
fn bad_batches_are_refused() {
    let packing = Packing::Diagonal(DiagonalLayout::Plain);
    let params = default_params(packing).unwrap();
    let shape = Shape {
        inputs: 5,
        hidden: 10,
        outputs: 3,
        packing,
    };
    let (mut client, keys) = Client::new(&params, shape).unwrap();
    // Weights of another network shape are refused by the server.
    let other = Shape { hidden: 9, ..shape };
    let (mut other_client, _) = Client::new(&params, other).unwrap();
    let foreign = other_client
        .encrypt_weights(&Mlp::init(5, 9, 3, 0.3, 1))
        .unwrap();
    let x = ndarray::Array2::zeros((2, 4));
    let y = ndarray::Array2::zeros((2, 3));
    assert!(client.encrypt_batch(&x, &y).is_err(), "wrong feature count");
    let server = Server::new(&params, shape, 0.1, &keys).unwrap();
    assert!(server.step(b"junk", b"junk").is_err());
    let batch = client
        .encrypt_batch(
            &ndarray::Array2::zeros((1, 5)),
            &ndarray::Array2::zeros((1, 3)),
        )
        .unwrap();
    assert!(server.step(&foreign, &batch).is_err(), "foreign weights");
    assert!(Server::new(&params, shape, 0.1, b"junk").is_err());
}

#[test]
fn short_encrypted_training_tracks_plaintext_training() {
    let (train, test) = iris();
    let packing = Packing::Diagonal(DiagonalLayout::Plain);
    let params = default_params(packing).unwrap();
    let config = TrainConfig {
        epochs: 2,
        batch: 40,
        ..TrainConfig::default()
    };
    let (plain, plain_hist) = train_plain(&train, &test, &config, |_| {}).unwrap();
    let run = train_encrypted(&train, &test, &config, &params, packing, |_| {}).unwrap();
    assert_eq!(run.iterations, 6);
    // Six steps at scale 2^28 drift by up to 5e-4 (seen over 8 runs); a wrong gradient drifts
    // by more than 1e-2.
    assert!(
        max_diff(&run.model, &plain) < 3e-3,
        "weights drifted by {}",
        max_diff(&run.model, &plain)
    );
    assert!((run.history[1].test_acc - plain_hist[1].test_acc).abs() < 1e-9);
    assert!(run.bytes_up > 0 && run.bytes_down > 0);
}

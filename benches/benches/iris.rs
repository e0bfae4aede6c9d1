//! One encrypted Iris training iteration at batch 1 (the design's Table 4 row "iteration"):
//! the client encrypts a sample, the server runs the step, the client repacks the weights.
//! Every message is serialized, as in `shroud iris table4`.

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Axis;
use shroud_ckks::packing::DiagonalLayout;
use shroud_nn::datasets::iris::prepare_iris;
use shroud_nn::training::encrypted::{default_params, Client, Packing, Server, Shape};
use shroud_nn::training::square::Mlp;

// The allocator of the `shroud` binary, so that these timings are the ones it sees.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn iteration(c: &mut Criterion, name: &str, packing: Packing) {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/iris/iris.csv");
    let (train, _) = prepare_iris(data, 0.2, 1).unwrap();
    let y = train.one_hot();
    let params = default_params(packing).unwrap();
    let shape = Shape {
        inputs: train.features.ncols(),
        hidden: 10,
        outputs: train.classes(),
        packing,
    };
    let (mut client, keys) = Client::new(&params, shape).unwrap();
    let server = Server::new(&params, shape, 0.1, &keys).unwrap();
    let model = Mlp::init(shape.inputs, shape.hidden, shape.outputs, 0.2, 1);
    let mut weights = client.encrypt_weights(&model).unwrap();
    let mut i = 0;
    let mut g = c.benchmark_group("iris_batch1");
    g.sample_size(20);
    g.bench_function(name, |b| {
        b.iter(|| {
            let idx = [i % train.len()];
            i += 1;
            let batch = client
                .encrypt_batch(
                    &train.features.select(Axis(0), &idx),
                    &y.select(Axis(0), &idx),
                )
                .unwrap();
            let (updated, _) = server.step(&weights, &batch).unwrap();
            weights = client.repack(&updated, 1).unwrap().1;
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    iteration(c, "diagonal", Packing::Diagonal(DiagonalLayout::Plain));
}

criterion_group!(iris, benches);
criterion_main!(iris);

#!/usr/bin/env python3
"""Exports the ONNX fixtures of crates/nn/tests/fixtures/ and the outputs onnxruntime gives
for a few inputs, so that Shroud's importer is tested against the exporters without Python.

Run through scripts/export-fixtures.sh, which makes the virtual environment (torch, onnx,
onnxruntime, scikit-learn, skl2onnx) under target/. Each fixture NAME.onnx comes with
NAME.json: {"input_shape", "inputs": [...], "outputs": {output name: [...]}}, one entry per
input, values flattened row-major.

Trained fixtures (the Breast Cancer Wisconsin MLPs, the 8x8-digits CNN) use a fixed split:
row i of the data file is a test row when i % 5 == 4, a training row otherwise (80/20), the
same split Shroud's loaders make. Training is seeded.
"""

import gzip
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "crates", "nn", "tests", "fixtures")


def split(n):
    test = np.array([i % 5 == 4 for i in range(n)])
    return ~test, test


def load_wdbc():
    path = os.path.join(ROOT, "datasets", "breast-cancer", "wdbc.csv")
    rows = [line.strip().split(",") for line in open(path)][1:]
    data = np.array(rows, dtype=np.float64)
    return data[:, :30].astype(np.float32), data[:, 30].astype(np.int64)


def load_digits():
    path = os.path.join(ROOT, "datasets", "digits", "digits.csv.gz")
    rows = [line.decode().strip().split(",") for line in gzip.open(path)]
    data = np.array(rows, dtype=np.float32)
    # Pixels 0..16 scaled to [0, 1], as Shroud's loader does.
    return (data[:, :64] / 16.0).reshape(-1, 1, 8, 8), data[:, 64].astype(np.int64)


def record(name, inputs):
    """Runs NAME.onnx with onnxruntime on `inputs` and writes NAME.json."""
    path = os.path.join(OUT, name + ".onnx")
    onnx.checker.check_model(onnx.load(path))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0].name
    outputs = {o.name: [] for o in session.get_outputs()}
    for x in inputs:
        result = session.run(None, {feed: x[None, ...]})
        for o, r in zip(session.get_outputs(), result):
            outputs[o.name].append(np.asarray(r).astype(np.float64).ravel().tolist())
    doc = {
        "input_shape": list(inputs[0].shape),
        "inputs": [x.astype(np.float64).ravel().tolist() for x in inputs],
        "outputs": outputs,
    }
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(doc, f)
    print(f"{name}: {os.path.getsize(path)} bytes, outputs {list(outputs)}")


def export_torch(model, name, example, opset, fold=True):
    model.eval()
    torch.onnx.export(
        model,
        (torch.from_numpy(example[None, ...]),),
        os.path.join(OUT, name + ".onnx"),
        input_names=["input"],
        output_names=["output"],
        opset_version=opset,
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        dynamo=False,
        do_constant_folding=fold,
    )


def train(model, x, y, epochs, lr, batch=32, seed=1):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    model.eval()
    return model


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


class Normalize(nn.Module):
    """(x - mean) / std inside the model: exported as Sub and Div by constants."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.from_numpy(mean))
        self.register_buffer("std", torch.from_numpy(std))

    def forward(self, x):
        return (x - self.mean) / self.std


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.head = nn.Sequential(
            nn.Conv2d(2, 3, 2, stride=2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(3, 4),
            nn.Softmax(dim=1),
        )

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)) + x)


def layers_fixture(rng):
    """Untrained, every operator the importer folds or maps: Conv with padding and groups,
    BatchNorm (folded), MaxPool, ReLU6 (Clip), AveragePool, Flatten, Dropout (dropped), Gemm."""
    torch.manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1, groups=2),
        nn.ReLU6(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(32, 10),
    )
    bn = model[1]
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(4))
        bn.running_var.copy_(torch.rand(4) + 0.5)
        bn.weight.copy_(torch.randn(4))
        bn.bias.copy_(torch.randn(4))
    inputs = [rng.random((1, 8, 8), dtype=np.float32) for _ in range(4)]
    # Without constant folding, so that the BatchNormalization node stays for Shroud to fold.
    export_torch(model, "torch_layers", inputs[0], 13, fold=False)
    record("torch_layers", inputs)


def residual_fixture(rng):
    torch.manual_seed(3)
    inputs = [rng.standard_normal((2, 6, 6), dtype=np.float32) for _ in range(4)]
    export_torch(Residual(), "torch_residual", inputs[0], 17)
    record("torch_residual", inputs)


def wdbc_fixtures():
    x, y = load_wdbc()
    tr, te = split(len(x))
    mean, std = x[tr].mean(0), x[tr].std(0)
    torch.manual_seed(1)
    mlp = nn.Sequential(Normalize(mean, std), nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 2))
    train(mlp, x[tr], y[tr], epochs=60, lr=0.01)
    print(f"wdbc torch MLP: test accuracy {accuracy(mlp, x[te], y[te]):.4f}")
    export_torch(mlp, "wdbc_mlp_torch", x[0], 15)
    record("wdbc_mlp_torch", [x[i] for i in np.flatnonzero(te)[:6]])

    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from skl2onnx import to_onnx

    clf = make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=600, random_state=1),
    )
    clf.fit(x[tr], y[tr])
    print(f"wdbc sklearn MLP: test accuracy {clf.score(x[te], y[te]):.4f}")
    model = to_onnx(clf, x[:1], options={"zipmap": False}, target_opset=15)
    with open(os.path.join(OUT, "wdbc_mlp_sklearn.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    record("wdbc_mlp_sklearn", [x[i] for i in np.flatnonzero(te)[:6]])


def iris_sklearn_fixture():
    from sklearn.neural_network import MLPClassifier
    from skl2onnx import to_onnx

    path = os.path.join(ROOT, "datasets", "iris", "iris.csv")
    rows = [line.strip().split(",") for line in open(path)][1:]
    data = np.array(rows, dtype=np.float32)
    x, y = data[:, :4], data[:, 4].astype(np.int64)
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=2000, random_state=1).fit(x, y)
    model = to_onnx(clf, x[:1], options={"zipmap": False}, target_opset=13)
    with open(os.path.join(OUT, "iris_mlp_sklearn.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    record("iris_mlp_sklearn", [x[i] for i in (0, 60, 120, 149)])


def digits_fixture():
    x, y = load_digits()
    tr, te = split(len(x))
    torch.manual_seed(1)
    cnn = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    train(cnn, x[tr], y[tr], epochs=40, lr=0.01)
    print(f"digits CNN: test accuracy {accuracy(cnn, x[te], y[te]):.4f}")
    export_torch(cnn, "digits_cnn", x[0], 14)
    record("digits_cnn", [x[i] for i in np.flatnonzero(te)[:4]])


def load_mnist(prefix):
    base = os.path.join(ROOT, "datasets", "mnist")
    with gzip.open(os.path.join(base, f"{prefix}-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(base, f"{prefix}-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return (images.astype(np.float32) / 255.0), labels


def mnist_mlp_fixture():
    """The design's 784-500-256-10 ReLU network, trained as docs/mnist.md trains Shroud's own
    (SGD with momentum 0.9, learning rate 0.05 on a cosine, weight decay 5e-4, batches of 128),
    for fewer epochs: the point is the same float weights on both of Shroud's paths."""
    x, y = load_mnist("train")
    x = x.reshape(len(x), -1)
    torch.manual_seed(1)
    mlp = nn.Sequential(nn.Linear(784, 500), nn.ReLU(), nn.Linear(500, 256), nn.ReLU(), nn.Linear(256, 10))
    epochs = 8
    opt = torch.optim.SGD(mlp.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((len(x) + 127) // 128))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = perm[i : i + 128]
            opt.zero_grad()
            nn.functional.cross_entropy(mlp(xt[idx]), yt[idx]).backward()
            opt.step()
            sched.step()
    tx, ty = load_mnist("t10k")
    tx = tx.reshape(len(tx), -1)
    print(f"mnist MLP: test accuracy {accuracy(mlp, tx, ty):.4f}")
    export_torch(mlp, "mnist_mlp", tx[0], 15)
    record("mnist_mlp", [tx[i] for i in range(3)])


def mnist_cnn_fixture():
    """The MNIST CNN of scripts/models-table.sh (scripts/mnist_cnn_qat.py)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mnist_cnn_qat

    mnist_cnn_qat.main(os.path.join(OUT, "mnist_cnn.onnx"))
    tx, _ = load_mnist("t10k")
    record("mnist_cnn", [tx[i] for i in range(3)])


def unsupported_fixture(rng):
    """A Tanh, which no encrypted engine of Shroud runs: the importer must name it."""
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 2))
    inputs = [rng.standard_normal(5, dtype=np.float32) for _ in range(2)]
    export_torch(model, "torch_tanh", inputs[0], 13)
    record("torch_tanh", inputs)


def main():
    """Every fixture, or those named on the command line."""
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)
    fixtures = {
        "torch_layers": lambda: layers_fixture(rng),
        "torch_residual": lambda: residual_fixture(rng),
        "torch_tanh": lambda: unsupported_fixture(rng),
        "wdbc": wdbc_fixtures,
        "iris_sklearn": iris_sklearn_fixture,
        "digits_cnn": digits_fixture,
        "mnist_mlp": mnist_mlp_fixture,
        "mnist_cnn": mnist_cnn_fixture,
    }
    for name in sys.argv[1:] or list(fixtures):
        fixtures[name]()
    print("torch", torch.__version__, "onnx", onnx.__version__, "onnxruntime", ort.__version__)


if __name__ == "__main__":
    sys.exit(main())

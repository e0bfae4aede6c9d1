//! `shroud mnist` end to end through the binary on a small network: train, quantize to the
//! window form (a compiled model the graph commands read too), evaluate, and classify an
//! encrypted test image on test parameters; what a command cannot take is refused.

mod common;

use common::shroud;

#[test]
fn train_quantize_eval_and_infer_on_the_graph_path() {
    let dir = std::env::temp_dir().join(format!("shroud-mnist-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (float, window) = (path("float.bin"), path("w4.bin"));
    let (ok, text) = shroud(&[
        "mnist", "train", "--hidden", "16", "--pool", "4", "--epochs", "1", "--out", &float,
    ]);
    assert!(ok, "{text}");
    let (ok, text) = shroud(&[
        "mnist",
        "quantize",
        "--window",
        "--bits",
        "4",
        "--calibration",
        "500",
        "--model",
        &float,
        "--out",
        &window,
    ]);
    assert!(
        ok && text.contains("window form: calibrated on 500"),
        "{text}"
    );
    assert!(text.contains("layer 1: 10x16"), "{text}");
    let (ok, text) = shroud(&["mnist", "eval", "--model", &window]);
    assert!(ok && text.contains("window model"), "{text}");
    // The window form is a compiled model: the graph commands read it.
    let (ok, text) = shroud(&["plan", &window, "--params", "wide_128"]);
    assert!(ok && text.contains("plan: bootstraps="), "{text}");
    let (ok, text) = shroud(&[
        "mnist",
        "infer",
        "--model",
        &window,
        "--count",
        "1",
        "--params",
        "insecure_wide_test",
    ]);
    assert!(
        ok && text.contains("infer: images=1 agreement=1.0000 exact=1.0000"),
        "{text}"
    );

    for (args, needle) in [
        (
            vec!["mnist", "infer", "--model", &window, "--engine", "bits"],
            "two-phase",
        ),
        (
            vec!["mnist", "quantize", "--bits", "4", "--model", &window],
            "already quantized",
        ),
        (vec!["mnist", "infer", "--model", &float], "float model"),
        (vec!["mnist", "eval", "--model", "README.md"], "not a model"),
    ] {
        let (ok, text) = shroud(&args);
        assert!(!ok && text.contains(needle), "{args:?}: {text}");
        assert!(!text.contains("panicked"), "{args:?}: {text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

//! The model commands end to end through the binary: compile an ONNX file, plan it, evaluate
//! it, and classify an encrypted example on test parameters; bad options are refused.

mod common;

use common::shroud;

#[test]
fn compile_plan_eval_and_infer_a_digits_cnn() {
    let dir = std::env::temp_dir().join(format!("shroud-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("digits.shroud");
    let model = model.to_str().unwrap();
    let (ok, text) = shroud(&[
        "compile",
        "crates/nn/tests/fixtures/digits_cnn.onnx",
        "--calibrate",
        "datasets/digits/digits.csv.gz",
        "--input-range",
        "0,1",
        "--params",
        "insecure_wide_test",
        "-o",
        model,
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("eval: examples=359"), "{text}");
    let (ok, text) = shroud(&["plan", model, "--params", "wide_128"]);
    assert!(ok && text.contains("plan: bootstraps="), "{text}");
    let (ok, text) = shroud(&["eval", model, "--data", "datasets/digits/digits.csv.gz"]);
    assert!(ok && text.contains("int_acc="), "{text}");
    let (ok, text) = shroud(&[
        "infer",
        model,
        "--input",
        "datasets/digits/digits.csv.gz",
        "--index",
        "3",
        "--params",
        "insecure_wide_test",
    ]);
    assert!(
        ok && text.contains("infer: examples=1 agreement=1.0000 exact=1.0000"),
        "{text}"
    );

    // Refusals with a message, not a panic.
    for (args, needle) in [
        (vec!["plan", "README.md"], "not a model"),
        (
            vec![
                "infer",
                model,
                "--input",
                "datasets/digits/digits.csv.gz",
                "--count",
                "0",
            ],
            "at least 1",
        ),
        (
            vec!["infer", model, "--input", "datasets/iris/iris.csv"],
            "model reads",
        ),
        (
            vec![
                "compile",
                "crates/nn/tests/fixtures/torch_tanh.onnx",
                "--calibrate",
                "datasets/iris/iris.csv",
                "-o",
                model,
            ],
            "tanh1",
        ),
        (
            vec![
                "compile",
                "crates/nn/tests/fixtures/digits_cnn.onnx",
                "--calibrate",
                "datasets/digits/digits.csv.gz",
                "--calibration",
                "0",
                "-o",
                model,
            ],
            "calibration",
        ),
        (
            vec![
                "compile",
                "crates/nn/tests/fixtures/digits_cnn.onnx",
                "--calibrate",
                "datasets/digits/digits.csv.gz",
                "--input-range",
                "1,0",
                "-o",
                model,
            ],
            "range",
        ),
        (
            vec!["plan", model, "--params", "nonsense"],
            "unknown parameters",
        ),
    ] {
        let (ok, text) = shroud(&args);
        assert!(
            !ok && text.contains(needle) && !text.contains("panicked"),
            "{args:?}: {text}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

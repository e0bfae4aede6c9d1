#!/usr/bin/env bash
# Networks users bring (issue 20): ONNX models compiled for the LWE engine at 128-bit
# security (wide_128), their accuracy in float and as the integer evaluator runs them, and
# encrypted inference checked against the integer evaluator.
#
#   a. the MNIST CNN (crates/nn/tests/fixtures/mnist_cnn.onnx, PyTorch with quantization-aware
#      training at 4 bits, scripts/mnist_cnn_qat.py): accuracy on the
#      10,000 test images, CNN_IMAGES encrypted test images (default 20);
#   b. the Breast Cancer Wisconsin MLP (wdbc_mlp_torch.onnx, PyTorch; the fixed 80/20 split):
#      accuracy on the 113 test records, all of them encrypted (WDBC_RECORDS to run fewer);
#   c. the design's 784-500-256-10 exported by PyTorch (mnist_mlp.onnx): read as a native
#      model and quantized by `shroud mnist quantize --window`, and compiled by `shroud
#      compile --window-form` (since 2026-12-07 both quantize through the graph quantizer,
#      so this checks the native reading against the graph import): the integer logits of
#      100 test images must be equal;
#   d. the 8x8-digits CNN (digits_cnn.onnx): accuracy, DIGITS_IMAGES encrypted images
#      (default 5).
#
# The fixtures come from scripts/export-fixtures.sh (PyTorch, skl2onnx); nothing here needs
# Python. About 15 minutes with the defaults on 2 cores (mostly a).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CNN_IMAGES=${CNN_IMAGES:-20}
WDBC_RECORDS=${WDBC_RECORDS:-113}
DIGITS_IMAGES=${DIGITS_IMAGES:-5}
FIX=crates/nn/tests/fixtures
DIR=target/models-table
mkdir -p "$DIR"
cargo build --release -q -p shroud-cli
shroud="$DIR/shroud"
cp target/release/shroud "$shroud"
export RUST_BACKTRACE=0
log="$DIR/log.txt"
: > "$log"

# `key=value` from the last line of a run that starts with `prefix:`.
field() { grep "^$1:" "$3" | tail -1 | sed -n "s/.*\b$2=\([^ ]*\).*/\1/p"; }

run() {
    local out=$1
    shift
    echo "\$ shroud $*" | tee -a "$log" >&2
    "$shroud" "$@" | tee "$out" | tee -a "$log" >&2
}

echo "== a. MNIST CNN ==" >&2
run "$DIR/cnn-compile.txt" compile "$FIX/mnist_cnn.onnx" --calibrate datasets/mnist \
    --calibration 1000 --input-range 0,1 --bits 4 -o "$DIR/mnist_cnn.shroud"
run "$DIR/cnn-infer.txt" infer "$DIR/mnist_cnn.shroud" --input datasets/mnist \
    --count "$CNN_IMAGES"

echo "== b. Breast Cancer Wisconsin MLP ==" >&2
run "$DIR/wdbc-compile.txt" compile "$FIX/wdbc_mlp_torch.onnx" \
    --calibrate datasets/breast-cancer/wdbc.csv --bits 6 -o "$DIR/wdbc.shroud"
run "$DIR/wdbc-infer.txt" infer "$DIR/wdbc.shroud" --input datasets/breast-cancer/wdbc.csv \
    --count "$WDBC_RECORDS"

echo "== c. 784-500-256-10 from ONNX against the native path ==" >&2
run "$DIR/mlp-import.txt" mnist import "$FIX/mnist_mlp.onnx" --out "$DIR/mlp-float.bin"
run "$DIR/mlp-quantize.txt" mnist quantize --window --bits 4 --calibration 5000 \
    --model "$DIR/mlp-float.bin" --out "$DIR/mlp-w4.bin"
run "$DIR/mlp-compile.txt" compile "$FIX/mnist_mlp.onnx" --calibrate datasets/mnist \
    --calibration 5000 --bits 4 --window-form -o "$DIR/mlp.shroud"
run "$DIR/mlp-eval.txt" eval "$DIR/mlp.shroud" --data datasets/mnist \
    --against "$DIR/mlp-w4.bin" --count 100

echo "== d. 8x8-digits CNN ==" >&2
run "$DIR/digits-compile.txt" compile "$FIX/digits_cnn.onnx" \
    --calibrate datasets/digits/digits.csv.gz --input-range 0,1 --bits 6 -o "$DIR/digits.shroud"
run "$DIR/digits-infer.txt" infer "$DIR/digits.shroud" --input datasets/digits/digits.csv.gz \
    --count "$DIGITS_IMAGES"

bootstraps() { grep "^total:" "$1" | sed -n 's/total: \([0-9]*\) bootstraps.*/\1/p'; }
key_mb() { grep "^total:" "$1" | sed -n 's/.*evaluation key \([0-9.]*\) MB.*/\1/p'; }

echo
echo "== Networks from ONNX on the LWE engine (wide_128, 128-bit; $(date -u +%Y-%m-%d), $(git rev-parse --short HEAD)) =="
printf '%-26s %-10s %-10s %-11s %-10s %-11s %-9s %s\n' model float_acc int_acc bootstraps enc_s agreement exact examples
row() {
    local name=$1 compile=$2 infer=$3
    printf '%-26s %-10s %-10s %-11s %-10s %-11s %-9s %s\n' "$name" \
        "$(field eval float_acc "$compile")" "$(field eval int_acc "$compile")" \
        "$(bootstraps "$compile")" "$(field infer mean_latency_s "$infer")" \
        "$(field infer agreement "$infer")" "$(field infer exact "$infer")" \
        "$(field infer examples "$infer")"
}
row "a. MNIST CNN" "$DIR/cnn-compile.txt" "$DIR/cnn-infer.txt"
row "b. WDBC MLP" "$DIR/wdbc-compile.txt" "$DIR/wdbc-infer.txt"
row "d. digits CNN" "$DIR/digits-compile.txt" "$DIR/digits-infer.txt"
echo "evaluation key: $(key_mb "$DIR/cnn-compile.txt") MB (one key serves every model)"
echo "c. 784-500-256-10 from ONNX: $(grep '^native:' "$DIR/mlp-eval.txt")"
echo "log: $log"

echo "summary: cnn_acc=$(field eval int_acc "$DIR/cnn-compile.txt")" \
    "cnn_enc_s=$(field infer mean_latency_s "$DIR/cnn-infer.txt")" \
    "cnn_agreement=$(field infer exact "$DIR/cnn-infer.txt")" \
    "wdbc_float_acc=$(field eval float_acc "$DIR/wdbc-compile.txt")" \
    "wdbc_acc=$(field eval int_acc "$DIR/wdbc-compile.txt")" \
    "wdbc_enc_s=$(field infer mean_latency_s "$DIR/wdbc-infer.txt")" \
    "wdbc_agreement=$(field infer exact "$DIR/wdbc-infer.txt")" \
    "onnx_mlp_exact=$(field native native_exact "$DIR/mlp-eval.txt")"

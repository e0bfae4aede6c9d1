#!/usr/bin/env bash
# Quantized MNIST (issue 6): accuracy on the 10,000 test images of the float 784-500-256-10
# network and of its N-bit versions, N = 2..8, the latter by the integer evaluator.
#
# Trains the float model unless target/mnist/float.bin exists (MNIST_RETRAIN=1 forces it;
# about 70 s), then quantizes and fine-tunes each width (about 25 s per epoch).
# Env: MNIST_EPOCHS fine-tuning epochs per width (default 1), MNIST_DIR model folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DIR=${MNIST_DIR:-target/mnist}
EPOCHS=${MNIST_EPOCHS:-1}
BITS=(8 7 6 5 4 3 2)

cargo build --release -q -p shroud-cli
shroud=target/release/shroud
mkdir -p "$DIR"

# The accuracy a `shroud mnist eval` run prints.
accuracy() {
    "$shroud" mnist eval --model "$1" | sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p'
}

if [[ ! -f "$DIR/float.bin" || -n "${MNIST_RETRAIN:-}" ]]; then
    start=$SECONDS
    "$shroud" mnist train --out "$DIR/float.bin" >&2
    echo "float training: $((SECONDS - start)) s" >&2
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
declare -A acc calibrated seconds
acc[float]=$(accuracy "$DIR/float.bin")
for n in "${BITS[@]}"; do
    # Two bits cannot follow the float network's scales in one slow epoch: a larger step.
    lr=0.005
    [[ $n -eq 2 ]] && lr=0.05
    start=$SECONDS
    "$shroud" mnist quantize --bits "$n" --epochs "$EPOCHS" --lr "$lr" \
        --model "$DIR/float.bin" --out "$DIR/q$n.bin" | tee "$log" >&2
    seconds[$n]=$((SECONDS - start))
    calibrated[$n]=$(sed -n 's/.*before fine-tuning: test accuracy \([0-9.]*\).*/\1/p' "$log")
    acc[$n]=$(accuracy "$DIR/q$n.bin")
done

echo "== Quantized MNIST: accuracy on the 10,000 test images (integer evaluator for N bits) =="
printf '%-8s %-12s %-12s %s\n' model calibrated fine-tuned "quantize + fine-tune (s)"
printf '%-8s %-12s %-12s %s\n' float - "${acc[float]}" -
for n in "${BITS[@]}"; do
    printf '%-8s %-12s %-12s %s\n' "$n-bit" "${calibrated[$n]}" "${acc[$n]}" "${seconds[$n]}"
done

#!/usr/bin/env bash
# Fine-tuning for the window form (issue 20 item 3, issue 23 item 1): the 784-500-256-10
# MLP exported by PyTorch (crates/nn/tests/fixtures/mnist_mlp.onnx), read as Shroud's dense
# network, quantized to the window form post-training and after EPOCHS epochs of
# fine-tuning through the window form's arithmetic (shroud mnist quantize --window
# --epochs); accuracy of the integer evaluator on the 10,000 test images. A few minutes on
# 2 cores. Env: WIDTHS (default "4 5"), EPOCHS (default "1 3"), LR (default 0.005).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WIDTHS=(${WIDTHS:-4 5})
EPOCHS=(${EPOCHS:-1 3})
LR=${LR:-0.005}
DIR=target/window-qat
mkdir -p "$DIR"
cargo build --release -q -p shroud-cli
shroud="$DIR/shroud"
cp target/release/shroud "$shroud"

"$shroud" mnist import crates/nn/tests/fixtures/mnist_mlp.onnx --out "$DIR/float.bin" >&2
float=$("$shroud" mnist eval --model "$DIR/float.bin" | sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p')

declare -A acc
for n in "${WIDTHS[@]}"; do
    for e in 0 "${EPOCHS[@]}"; do
        "$shroud" mnist quantize --window --bits "$n" --epochs "$e" --lr "$LR" \
            --model "$DIR/float.bin" --out "$DIR/w$n-$e.bin" >"$DIR/log.txt"
        acc[$n,$e]=$("$shroud" mnist eval --model "$DIR/w$n-$e.bin" |
            sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p')
    done
done

echo "== Window form of the PyTorch 784-500-256-10 (float $float): test accuracy by fine-tuning epochs (lr $LR) =="
printf '%-8s' bits
for e in 0 "${EPOCHS[@]}"; do printf '%-10s' "epochs=$e"; done
echo
for n in "${WIDTHS[@]}"; do
    printf '%-8s' "$n"
    for e in 0 "${EPOCHS[@]}"; do printf '%-10s' "${acc[$n,$e]}"; done
    echo
done
first=${EPOCHS[0]}
echo "summary: float_acc=$float ptq4=${acc[4,0]:-none} qat4=${acc[4,$first]:-none} ptq5=${acc[5,0]:-none} qat5=${acc[5,$first]:-none}"

#!/usr/bin/env bash
# What quantization choices are worth (docs/models.md): the integer evaluator's accuracy on the
# test split for weights/inputs of 4, 6 and 8 bits and windows of 3 and 4 bits (the default
# mean-square fit), for the imported WDBC MLP, the digits CNN, the MNIST CNN and the
# 784-500-256-10 MLP; and which settings the LWE plan at wide_128 refuses (`refused`: the
# compile printed its accuracy, then the planner named the node that cannot meet 2^-40).
# A few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -q -p shroud-cli
FIX=crates/nn/tests/fixtures
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export RUST_BACKTRACE=0

echo "== accuracy on the test split, float and integer; the plan at wide_128 ($(date -u +%Y-%m-%d), $(git rev-parse --short HEAD)) =="
printf '%-18s %-5s %-7s %-9s %-9s %s\n' model bits window float int plan
while read -r name onnx data extra; do
    for bits in 4 6 8; do
        for w in 3 4; do
            log="$out/$name-$bits-$w.txt"
            if target/release/shroud compile "$FIX/$onnx" --calibrate "$data" --bits "$bits" \
                --window-bits "$w" $extra -o "$out/m.shroud" > "$log" 2>&1; then
                plan=ok
            else
                plan=refused
            fi
            printf '%-18s %-5s %-7s %-9s %-9s %s\n' "$name" "$bits" "$w" \
                "$(sed -n 's/^eval:.*float_acc=\([0-9.]*\).*/\1/p' "$log")" \
                "$(sed -n 's/^eval:.*int_acc=\([0-9.]*\).*/\1/p' "$log")" "$plan"
        done
    done
done <<LIST
wdbc_mlp_torch wdbc_mlp_torch.onnx datasets/breast-cancer/wdbc.csv
digits_cnn digits_cnn.onnx datasets/digits/digits.csv.gz --input-range 0,1
mnist_cnn mnist_cnn.onnx datasets/mnist --input-range 0,1
mnist_mlp mnist_mlp.onnx datasets/mnist --input-range 0,1 --calibration 5000
LIST

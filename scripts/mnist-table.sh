#!/usr/bin/env bash
# Quantized MNIST (issue 6): accuracy on the 10,000 test images of the float 784-500-256-10
# network and of its N-bit versions, N = 2..8, the latter by the integer evaluator.
#
# Trains the float model unless target/mnist/float.bin exists (MNIST_RETRAIN=1 forces it;
# about 70 s), then quantizes and fine-tunes each width (20-35 s per epoch), then runs
# encrypted inference on ENC_IMAGES test images (default 20, about 30 s each). About 16
# minutes in all with a trained float model. Env: MNIST_DIR model folder (default
# target/mnist).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DIR=${MNIST_DIR:-target/mnist}
BITS=(8 7 6 5 4 3 2)
# Fine-tuning per width. One epoch at a small step is enough from 4 bits up; 3 bits gains
# 1.2 points from three epochs at a larger step; at 2 bits the loss diverges after the first
# epoch whatever the step, and one epoch at a large step does best.
declare -A EPOCHS=([8]=1 [7]=1 [6]=1 [5]=1 [4]=1 [3]=3 [2]=1)
declare -A LR=([8]=0.005 [7]=0.005 [6]=0.005 [5]=0.005 [4]=0.005 [3]=0.01 [2]=0.05)

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
    start=$SECONDS
    "$shroud" mnist quantize --bits "$n" --epochs "${EPOCHS[$n]}" --lr "${LR[$n]}" \
        --model "$DIR/float.bin" --out "$DIR/q$n.bin" | tee "$log" >&2
    seconds[$n]=$((SECONDS - start))
    calibrated[$n]=$(sed -n 's/.*before fine-tuning: test accuracy \([0-9.]*\).*/\1/p' "$log")
    acc[$n]=$(accuracy "$DIR/q$n.bin")
done

echo "== Quantized MNIST: accuracy on the 10,000 test images (integer evaluator for N bits) =="
printf '%-8s %-12s %-12s %-8s %s\n' model calibrated fine-tuned epochs "quantize + fine-tune (s)"
printf '%-8s %-12s %-12s %-8s %s\n' float - "${acc[float]}" - -
for n in "${BITS[@]}"; do
    printf '%-8s %-12s %-12s %-8s %s\n' "$n-bit" "${calibrated[$n]}" "${acc[$n]}" "${EPOCHS[$n]}" "${seconds[$n]}"
done

# Encrypted inference, LWE engine at 128 bits (`pbs6_128`: 6-bit messages, one bootstrap per
# block and neuron, one per neuron). First the full-size models: the engine checks every
# table's range before any work and refuses what needs more than 64 values.
echo "== Encrypted inference, LWE engine, pbs6_128 =="
for n in 8 4 2; do
    reason=$("$shroud" mnist infer --model "$DIR/q$n.bin" 2>&1 >/dev/null | tail -1 || true)
    echo "$n-bit 784-500-256-10: ${reason:-runs}"
done

# Then the largest network whose ranges fit: 7x7 pooled images, 49-32-10, 2 bits, blocks of 5.
ENC_IMAGES=${ENC_IMAGES:-20}
if [[ ! -f "$DIR/small.bin" || -n "${MNIST_RETRAIN:-}" ]]; then
    "$shroud" mnist train --pool 4 --hidden 32 --out "$DIR/small.bin" >&2
fi
"$shroud" mnist quantize --bits 2 --block 5 --epochs 3 --lr 0.01 \
    --model "$DIR/small.bin" --out "$DIR/small-q2.bin" >&2
small_float=$(accuracy "$DIR/small.bin")
small_acc=$(accuracy "$DIR/small-q2.bin")
"$shroud" mnist infer --model "$DIR/small-q2.bin" --count "$ENC_IMAGES" | tee "$log"
enc=$(grep '^infer:' "$log")
latency=$(sed -n 's/.*mean_latency_s=\([0-9.]*\).*/\1/p' <<<"$enc")
agreement=$(sed -n 's/.*agreement=\([0-9.]*\).*/\1/p' <<<"$enc")
echo "49-32-10 on 7x7 images: float accuracy $small_float, 2-bit $small_acc; encrypted: $enc"

# enc_latency_s and agreement are the small network's: no engine runs the full one yet.
echo "summary: float_acc=${acc[float]} acc8=${acc[8]:-none} acc4=${acc[4]:-none} enc_latency_s=$latency agreement=$agreement enc_model=49-32-10-2bit"

#!/usr/bin/env bash
# Quantized MNIST (issue 6): accuracy on the 10,000 test images of the float 784-500-256-10
# network and of its N-bit versions, N = 2..8, the latter by the integer evaluator.
#
# Trains the float model unless target/mnist/float.bin exists (MNIST_RETRAIN=1 forces it;
# about 70 s), then quantizes and fine-tunes each width in the two-phase form (20-35 s per
# epoch) and in the window form (post-training, a few seconds; then fine-tuned for the window
# form, WINDOW_EPOCHS epochs, default 1, about 20 s each), then runs encrypted inference:
# the LWE engine on the fine-tuned 4-bit window model for ENC_IMAGES test images (default 20, about a
# minute each on 2 cores), the bit-list engine's plan for the full two-phase models and a run
# of it on a small two-phase network (49-16-10 on 7x7 pooled images, 3 bits) for BITS_IMAGES
# test images (default 20, under 2 minutes each). About 1.5 hours in all with a trained float
# model. Env: MNIST_DIR model folder (default target/mnist).
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
mkdir -p "$DIR"
# A copy, so that rebuilding while the table runs (it takes an hour) changes nothing.
shroud="$DIR/shroud-table-bin"
cp target/release/shroud "$shroud"
export RUST_BACKTRACE=0

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
trap 'rm -f "$log" "$shroud"' EXIT
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

# The window form (one lookup per neuron, for the LWE engine): post-training quantization,
# then fine-tuning for the window form (shroud mnist quantize --window --epochs).
WINDOW_EPOCHS=${WINDOW_EPOCHS:-1}
declare -A wacc wtuned
for n in "${BITS[@]}"; do
    "$shroud" mnist quantize --window --bits "$n" --epochs "$WINDOW_EPOCHS" \
        --model "$DIR/float.bin" --out "$DIR/w$n.bin" | tee "$log" >&2
    wacc[$n]=$(sed -n 's/.*window form: .* test accuracy \([0-9.]*\).*/\1/p' "$log")
    wtuned[$n]=$(sed -n 's/.*window form after fine-tuning: test accuracy \([0-9.]*\).*/\1/p' "$log")
done
echo "== Window form (8 buckets per neuron): accuracy on the 10,000 test images =="
printf '%-8s %-14s %s\n' model post-training "fine-tuned ($WINDOW_EPOCHS epochs)"
for n in "${BITS[@]}"; do
    printf '%-8s %-14s %s\n' "$n-bit" "${wacc[$n]}" "${wtuned[$n]:-none}"
done

# Encrypted inference, LWE engine. The two-phase models need tables over their phase-one sums
# (7 to 20 bits), more than a bootstrap holds at 128 bits: the engine plans every table
# before any work and refuses them, naming the first that does not fit, or counts the
# bootstraps (a lookup per block and neuron) of those that fit.
echo "== Encrypted inference, LWE engine =="
for n in "${BITS[@]}"; do
    planned=$("$shroud" mnist infer --plan --model "$DIR/q$n.bin" 2>&1 |
        grep -o -e 'cannot run.*' -e 'bootstraps=.*' || true)
    echo "$n-bit two-phase 784-500-256-10: ${planned:-no plan}"
done
planned=$("$shroud" mnist infer --plan --model "$DIR/w4.bin" | grep -o 'bootstraps=.*')
echo "4-bit window 784-500-256-10: $planned"

# The 4-bit window model at 128 bits (wide_128): exact floors and clamped tables per neuron.
ENC_IMAGES=${ENC_IMAGES:-20}
"$shroud" mnist infer --model "$DIR/w4.bin" --count "$ENC_IMAGES" | tee "$log"
enc=$(grep '^infer:' "$log")
latency=$(sed -n 's/.*mean_latency_s=\([0-9.]*\).*/\1/p' <<<"$enc")
agreement=$(sed -n 's/.*agreement=\([0-9.]*\).*/\1/p' <<<"$enc")
exact=$(sed -n 's/.* exact=\([0-9.]*\).*/\1/p' <<<"$enc")
enc_acc=${wtuned[4]:-${wacc[4]}}
echo "4-bit window 784-500-256-10 (test accuracy $enc_acc), wide_128: $enc"

# Encrypted inference, bit-list engine (gates_128): the two-phase network as one circuit of
# bootstrapped gates. Its plan for the full network (bootstraps counted on clear bits; the
# 8-bit count takes a minute), then a run on a network small enough for gates, and the full
# network's time estimated from that run's seconds per bootstrap.
echo "== Encrypted inference, bit-list engine =="
declare -A full
for n in 8 4 2; do
    full[$n]=$("$shroud" mnist infer --engine bits --plan --model "$DIR/q$n.bin" |
        sed -n 's/^plan: bootstraps=//p')
done
small="$DIR/small"
mkdir -p "$small"
"$shroud" mnist train --hidden 16 --pool 4 --epochs 10 --out "$small/float-49-16.bin" >&2
"$shroud" mnist quantize --bits 3 --epochs 3 --model "$small/float-49-16.bin" \
    --out "$small/q3-49-16.bin" >&2
small_acc=$(accuracy "$small/q3-49-16.bin")
BITS_IMAGES=${BITS_IMAGES:-20}
"$shroud" mnist infer --engine bits --model "$small/q3-49-16.bin" --count "$BITS_IMAGES" | tee "$log"
bits_enc=$(grep '^infer:' "$log")
bits_latency=$(sed -n 's/.*mean_latency_s=\([0-9.]*\).*/\1/p' <<<"$bits_enc")
bits_agreement=$(sed -n 's/.*agreement=\([0-9.]*\).*/\1/p' <<<"$bits_enc")
bits_exact=$(sed -n 's/.* exact=\([0-9.]*\).*/\1/p' <<<"$bits_enc")
small_boots=$(sed -n 's/.* \([0-9]*\) bootstraps per image.*/\1/p' "$log")
echo "3-bit two-phase 49-16-10 (test accuracy $small_acc), gates_128, $small_boots bootstraps: $bits_enc"
for n in 8 4 2; do
    awk -v n="$n" -v b="${full[$n]}" -v l="$bits_latency" -v s="$small_boots" 'BEGIN {
        printf "%d-bit two-phase 784-500-256-10: bootstraps=%d, estimated %.1f hours per image\n",
            n, b, b * l / s / 3600 }'
done

# Agreement (classes) and exactness (all logits) over every encrypted image of both engines.
pooled() {
    awk -v a="$1" -v n="$ENC_IMAGES" -v b="$2" -v m="$BITS_IMAGES" \
        'BEGIN { printf "%.4f", (a * n + b * m) / (n + m) }'
}
agreement=$(pooled "$agreement" "$bits_agreement")
echo "encrypted images whose ten logits equal the integer evaluator's: $(pooled "$exact" "$bits_exact")"

echo "summary: float_acc=${acc[float]} acc8=${acc[8]:-none} acc4=${acc[4]:-none} enc_acc=$enc_acc enc_latency_s=$latency agreement=$agreement"

#!/usr/bin/env bash
# Evaluation-key size against latency for the 784-500-256-10 MNIST network (compiled from its
# ONNX export in the window form, 4 bits): for each 128-bit key set (`wide_128` with all three
# bootstrapping keys, and the sets that keep fewer), the seeded key the client uploads, the
# expanded key the server holds, and the encrypted latency over IMAGES test images (every
# logit compared with the integer evaluator's). One image at a time, both cores. Ends with
#   summary: full_mb=M full_s=S full_light_mb=M full_light_s=S full_coarse_mb=M full_coarse_s=S
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${DIR:-target/key-sets}
IMAGES=${IMAGES:-2}
mkdir -p "$DIR"
cargo build --release -p shroud-cli >&2
shroud=target/release/shroud
if [ ! -f "$DIR/mnist.shroud" ]; then
    "$shroud" compile crates/nn/tests/fixtures/mnist_mlp.onnx --calibrate datasets/mnist \
        --calibration 5000 --bits 4 --window-form -o "$DIR/mnist.shroud" >"$DIR/compile.txt"
fi

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" "$2" | tail -1; }
echo
echo "MNIST 784-500-256-10 by key set, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), $(nproc) cores, $IMAGES images"
printf '%-24s %10s %10s %12s %8s\n' "key set" "upload_mb" "loaded_mb" "latency_s" "exact"
for set in wide_128 wide_128:full+light wide_128:full+coarse; do
    name=${set//[:+]/_}
    "$shroud" plan "$DIR/mnist.shroud" --params "$set" >"$DIR/$name-plan.txt"
    "$shroud" infer "$DIR/mnist.shroud" --input datasets/mnist --count "$IMAGES" \
        --params "$set" >"$DIR/$name-infer.txt" 2>/dev/null
    upload=$(sed -n 's/.*evaluation key \([0-9.]*\) MB to send, \([0-9.]*\) MB loaded.*/\1/p' "$DIR/$name-plan.txt")
    loaded=$(sed -n 's/.*evaluation key \([0-9.]*\) MB to send, \([0-9.]*\) MB loaded.*/\2/p' "$DIR/$name-plan.txt")
    latency=$(field mean_latency_s "$DIR/$name-infer.txt")
    exact=$(field exact "$DIR/$name-infer.txt")
    printf '%-24s %10s %10s %12s %8s\n' "$set" "$upload" "$loaded" "$latency" "$exact"
    eval "mb_$name=$upload; s_$name=$latency"
done
echo "summary: full_mb=$mb_wide_128 full_s=$s_wide_128" \
    "full_light_mb=$mb_wide_128_full_light full_light_s=$s_wide_128_full_light" \
    "full_coarse_mb=$mb_wide_128_full_coarse full_coarse_s=$s_wide_128_full_coarse"

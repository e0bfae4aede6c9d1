#!/usr/bin/env bash
# The whole Iris training of the design: 400 epochs at batch 20, plaintext and encrypted with
# the same seed (split, initial weights, batch order). Curves and plots go to out/iris-full.
# Ends with: summary: epochs=400 batch=20 enc_wall_s=S enc_test_acc=A plain_test_acc=A
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-400}
BATCH=${BATCH:-20}
SEED=${SEED:-1}
OUT=out/iris-full
cargo build --release -q -p shroud-cli
log=$(mktemp)
start=$(date +%s.%N)
./target/release/shroud iris train --encrypted --epochs "$EPOCHS" --batch "$BATCH" --seed "$SEED" --out "$OUT" | tee "$log"
end=$(date +%s.%N)
plain=$(awk -F, 'END { print $5 }' "$OUT/plain.csv")
enc=$(awk -F, 'END { print $5 }' "$OUT/encrypted.csv")
wall=$(grep -o '[0-9.]* s wall' "$log" | awk '{ print $1 }')
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
awk -v a="$start" -v b="$end" 'BEGIN { printf "total script time: %.1f s\n", b - a }'
echo "summary: epochs=$EPOCHS batch=$BATCH enc_wall_s=$wall enc_test_acc=$enc plain_test_acc=$plain"

#!/usr/bin/env bash
# The whole Iris training of the design: 400 epochs at batch 20, plaintext and encrypted with
# the same seed (split, initial weights, batch order), first with the client repacking the
# weights after every step, then on the server alone with bootstrapping (N = 2^16; set
# BOOTSTRAP=0 to skip it). Curves and plots go to out/iris-full and out/iris-full-boot; the
# bootstrapped run saves its state in out/iris-full-boot/checkpoint and a rerun resumes it
# (its wall time counts every part; delete the folder to start over).
# Ends with: summary: epochs=400 batch=20 enc_wall_s=S enc_test_acc=A plain_test_acc=A boot_wall_s=S boot_test_acc=A
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-400}
BATCH=${BATCH:-20}
SEED=${SEED:-1}
BOOTSTRAP=${BOOTSTRAP:-1}
OUT=out/iris-full
BOOT_OUT=out/iris-full-boot
cargo build --release -q -p shroud-cli
log=$(mktemp)
start=$(date +%s.%N)
./target/release/shroud iris train --encrypted --epochs "$EPOCHS" --batch "$BATCH" --seed "$SEED" --out "$OUT" | tee "$log"
plain=$(awk -F, 'END { print $5 }' "$OUT/plain.csv")
enc=$(awk -F, 'END { print $5 }' "$OUT/encrypted.csv")
wall=$(grep -o '[0-9.]* s wall' "$log" | awk '{ print $1 }')
boot_wall=-
boot_acc=-
if [ "$BOOTSTRAP" != 0 ]; then
  ./target/release/shroud iris train --encrypted --bootstrap --checkpoint "$BOOT_OUT/checkpoint" --epochs "$EPOCHS" --batch "$BATCH" --seed "$SEED" --out "$BOOT_OUT" | tee "$log"
  boot_acc=$(awk -F, 'END { print $5 }' "$BOOT_OUT/bootstrapped.csv")
  boot_wall=$(grep -o '[0-9.]* s wall' "$log" | awk '{ print $1 }')
fi
end=$(date +%s.%N)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F), commit $(git rev-parse --short HEAD)"
awk -v a="$start" -v b="$end" 'BEGIN { printf "total script time: %.1f s\n", b - a }'
echo "summary: epochs=$EPOCHS batch=$BATCH enc_wall_s=$wall enc_test_acc=$enc plain_test_acc=$plain boot_wall_s=$boot_wall boot_test_acc=$boot_acc"

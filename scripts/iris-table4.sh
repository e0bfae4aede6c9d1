#!/usr/bin/env bash
# The encrypted-training design's Table 4 (seconds per phase of one batch-1 iteration, per
# packing) and Table 2 (operations of one 6-3-1 iteration), measured on this machine.
# Ends with: summary: diag_iter_s=S row_iter_s=S table2_diag=MULT/ROT table2_row=MULT/ROT
set -euo pipefail
cd "$(dirname "$0")/.."
ITERATIONS=${ITERATIONS:-20}
cargo build --release -q -p shroud-cli
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
./target/release/shroud iris table4 --iterations "$ITERATIONS"

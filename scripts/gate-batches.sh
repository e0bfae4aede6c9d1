#!/usr/bin/env bash
# What a layer of j independent gates costs on the bootstrapped engine (gates_128), j = 1..8,
# on one thread and on every core, with the line ms = fixed + per_gate * j fitted through each
# (docs/bits.md, "Where the time goes"). Medians of REPS batches (default 15); about 1 min.
# Usage: scripts/gate-batches.sh [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p shroud-lwe --example gate_batches
RAYON_NUM_THREADS=1 target/release/examples/gate_batches "${1:-15}"
target/release/examples/gate_batches "${1:-15}"

#!/usr/bin/env bash
# The test suite built for a CPU without AVX2 (x86-64-v2), in its own target directory, so the
# plain-Rust fallbacks of the hand-vectorized loops run end to end (bootstraps, noise
# measurements, circuits, networks); the normal build picks AVX2 on this machine and never
# reaches them. About 20 min on two cores, most of it compiling.
# Usage: scripts/portable-tests.sh [cargo test arguments; default --workspace, e.g. -p shroud-lwe]
set -euo pipefail
cd "$(dirname "$0")/.."

(($# > 0)) || set -- --workspace
RUSTFLAGS="-C target-cpu=x86-64-v2" CARGO_TARGET_DIR=target/portable cargo test "$@"

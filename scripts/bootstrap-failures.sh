#!/usr/bin/env bash
# Runs >= 100,000 bootstrapped gates at the 128-bit gate preset on both cores and counts
# decryption failures (expected: none; the noise analysis predicts about 2^-60 per gate).
# Takes about 15-30 minutes here. Usage: scripts/bootstrap-failures.sh [count]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p shroud-lwe --example bootstrap_failures
target/release/examples/bootstrap_failures "${1:-100000}"

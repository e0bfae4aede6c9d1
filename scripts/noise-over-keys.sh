#!/usr/bin/env bash
# Measured over modelled bootstrap output variance for ten keys (seeds 1-10, 200 bootstraps
# each) on gates_128 and every bootstrapping key of wide_128: the figures quoted in
# docs/security-lwe.md. A few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -q -p shroud-lwe --lib noise_ratio_over_keys -- --ignored --nocapture 2>&1 |
    grep -E " key: |test result"

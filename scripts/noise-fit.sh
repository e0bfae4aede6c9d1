#!/usr/bin/env bash
# The measurements BootstrapParams::fft_variance is fitted to: bootstrap output variance over
# the model's, on 28 shapes (N 512-8192, k 1-3, digits 2^6-2^24) where the transforms'
# rounding or the dropped digits are the only sizeable term, four keys and 300 bootstraps
# each. The table of docs/security-lwe.md. About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -q -p shroud-lwe --lib fft_noise_grid -- --ignored --nocapture 2>&1 |
    grep -E "^N=|largest|test result"

#!/usr/bin/env bash
# Forward NTT time of the tfhe-ntt backend against a plain Rust Harvey NTT (criterion medians).
# Prints: `backend size/prime microseconds`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p shroud-benches --bench ntt 2>/dev/null \
  | grep -E "^ntt_|time:" | paste - - \
  | awk '{ split($1, p, "/"); printf "%s %s/%s %s\n", p[1] "/" p[2], p[3], p[4], $(NF-3) }'

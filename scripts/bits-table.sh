#!/usr/bin/env bash
# The design's timing table for 8-bit encrypted integers (issue 5): per row the encoding,
# bootstraps, depth in gate layers, the published seconds, ours on the bootstrapped engine
# (gates_128, 128-bit, both cores), ours on GSW where the circuit is shallow enough
# (gsw_128 / gsw_128_deep; otherwise the cell says which depth it would need), and the
# speedup over the published number. The GSW rows take minutes (about 15 s per gate).
# Usage: scripts/bits-table.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p shroud-bits --example bits_table
out=$(target/release/examples/bits_table)
grep '^#' <<<"$out"
grep -v '^#\|^summary:' <<<"$out" | column -t
grep '^summary:' <<<"$out"

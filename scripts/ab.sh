#!/usr/bin/env bash
# Alternating A/B timing of two builds of the same command, for this noisy machine (its speed
# drifts by 10-20% over minutes, so back-to-back blocks of runs mislead): runs A, B, A, B, ...
# RUNS times each and prints every wall time and both medians.
#   scripts/ab.sh RUNS BIN_A BIN_B [ARGS...]
# e.g. build before and after a change, copy the binaries aside, then
#   scripts/ab.sh 5 /tmp/shroud-before /tmp/shroud-after iris train --encrypted --batch 1 --epochs 1
set -euo pipefail
if (($# < 3)); then
    echo "usage: $0 RUNS BIN_A BIN_B [ARGS...]" >&2
    exit 2
fi
runs=$1 a=$2 b=$3
shift 3
declare -a ta tb
wall() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }'
}
for ((i = 1; i <= runs; i++)); do
    ta+=("$(wall "$a" "$@")")
    tb+=("$(wall "$b" "$@")")
    echo "run $i: A ${ta[-1]} s, B ${tb[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ma=$(median "${ta[@]}")
mb=$(median "${tb[@]}")
awk -v a="$ma" -v b="$mb" 'BEGIN { printf "median: A %.3f s, B %.3f s, B/A %.3f\n", a, b, b / a }'

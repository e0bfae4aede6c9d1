#!/usr/bin/env bash
# Shroud's bootstrapped gates against TFHE-rs 1.8.2 (boolean API, default parameters), one
# thread each, measured in the same run; then Shroud's 6-bit lookup table and its GSW NAND
# on every GSW preset. The TFHE-rs side is a separate Cargo project (scripts/tfhe-compare),
# built once into target/tfhe-compare (about 8 minutes the first time).
# Usage: scripts/gates-vs-tfhe.sh [reps]   (default 50 gates per measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
reps="${1:-50}"
export RAYON_NUM_THREADS=1

CARGO_TARGET_DIR=target/tfhe-compare cargo build --release -q \
    --manifest-path scripts/tfhe-compare/Cargo.toml
cargo build --release -q -p shroud-lwe --example gate_timings

tfhe_out=$(target/tfhe-compare/release/tfhe-compare "$reps")
shroud_out=$(target/release/examples/gate_timings "$reps")

value() { awk -v op="$2" '$1 == op { print $2 }' <<<"$1"; }

echo "op shroud_ms tfhe_rs_ms ratio"
for op in keygen nand xor mux; do
    s=$(value "$shroud_out" "$op")
    t=$(value "$tfhe_out" "$op")
    awk -v op="$op" -v s="$s" -v t="$t" 'BEGIN { printf "%s %.2f %.2f %.2f\n", op, s, t, s / t }'
done
pbs6=$(value "$shroud_out" pbs6)
echo "pbs6 $pbs6 - -"
# GSW lines: gsw_nand:<preset> <ms> depth=<d> security=<bits>
grep '^gsw_nand:' <<<"$shroud_out" | awk '{ printf "%s %.2f - - %s %s\n", $1, $2, $3, $4 }'

nand_s=$(value "$shroud_out" nand)
nand_t=$(value "$tfhe_out" nand)
# The depth of the most secure GSW preset (the deepest among those with the most bits).
gsw_depth=$(grep '^gsw_nand:' <<<"$shroud_out" | sed 's/depth=//; s/security=//' |
    sort -k4,4n -k3,3n | tail -1 | awk '{ print $3 }')
awk -v s="$nand_s" -v t="$nand_t" -v p="$pbs6" -v d="$gsw_depth" \
    'BEGIN { printf "summary: nand_ratio=%.2f pbs6_over_nand=%.2f gsw_depth=%d\n", s / t, p / s, d }'

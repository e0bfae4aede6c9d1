#!/usr/bin/env bash
# Compare Shroud's CKKS timings with Microsoft SEAL's on the same parameters.
#
# Both sides print `<op> <logN> <value>` lines (ms, or bytes for ct_bytes);
# this script joins them into `op N shroud_ms seal_ms ratio` rows, with
# ratio = shroud / seal, and ends with a one-line summary at logN 15.
#
# SEAL comes from PyPI's tenseal==0.3.18 (its raw `tenseal.sealapi` bindings),
# installed into target/seal-venv on first use.
#
# Env:
#   SHROUD_BENCH_FILE  read Shroud's lines from this file instead of running
#                      cargo (for testing the join, or reusing a saved run).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

LOG_NS=(13 14 15)
VENV=target/seal-venv
PY="$VENV/bin/python"
TENSEAL_VERSION=0.3.18

# Install only when needed: the wheel is large and the venv is reused.
if [[ ! -x "$PY" ]]; then
    echo "creating $VENV" >&2
    python3 -m venv "$VENV"
fi
if ! "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('tenseal') != '$TENSEAL_VERSION')" 2>/dev/null; then
    echo "installing tenseal==$TENSEAL_VERSION into $VENV" >&2
    "$PY" -m pip install -q "tenseal==$TENSEAL_VERSION"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ -n "${SHROUD_BENCH_FILE:-}" ]]; then
    echo "shroud: reading $SHROUD_BENCH_FILE" >&2
    cp "$SHROUD_BENCH_FILE" "$tmp/shroud.txt"
else
    echo "shroud: cargo run --release -p shroud-cli -- bench ckks --log-n ${LOG_NS[*]}" >&2
    cargo run --release -q -p shroud-cli -- bench ckks --log-n "${LOG_NS[@]}" > "$tmp/shroud.txt"
fi

echo "seal: scripts/seal_bench.py --log-n ${LOG_NS[*]}" >&2
seal_start=$SECONDS
"$PY" scripts/seal_bench.py --log-n "${LOG_NS[@]}" > "$tmp/seal.txt"
echo "seal: done in $((SECONDS - seal_start)) s" >&2

"$PY" - "$tmp/shroud.txt" "$tmp/seal.txt" <<'EOF'
import sys

# Canonical row order; ops outside it (if either side adds some) follow.
ORDER = ["encode_encrypt", "decrypt_decode", "add", "mul_relin_rescale",
         "mul_plain", "rotate_1", "ct_bytes"]
OTHER_AT_15 = ["encode_encrypt", "decrypt_decode", "add", "mul_plain"]


def load(path, who):
    vals = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            try:
                op, log_n, value = parts
                vals[(op, int(log_n))] = (value, float(value))
            except ValueError:
                # Keep going: a stray log line must not sink the whole report.
                print(f"{who}: ignoring unparsable line: {line.rstrip()}", file=sys.stderr)
    return vals


shroud = load(sys.argv[1], "shroud")
seal = load(sys.argv[2], "seal")
keys = set(shroud) | set(seal)
ops = [op for op in ORDER if any(k[0] == op for k in keys)]
ops += sorted({k[0] for k in keys} - set(ORDER))
ratios = {}

print("op N shroud_ms seal_ms ratio")
for op in ops:
    for log_n in sorted({k[1] for k in keys if k[0] == op}):
        s_txt, s_val = shroud.get((op, log_n), ("-", None))
        r_txt, r_val = seal.get((op, log_n), ("-", None))
        ratio = "-"
        if s_val is not None and r_val:
            ratios[(op, log_n)] = s_val / r_val
            ratio = f"{s_val / r_val:.2f}"
        print(f"{op} {1 << log_n} {s_txt} {r_txt} {ratio}")


def fmt(x):
    return "NA" if x is None else f"{x:.2f}"


others = [ratios[(op, 15)] for op in OTHER_AT_15 if (op, 15) in ratios]
missing = [op for op in OTHER_AT_15 if (op, 15) not in ratios]
if missing:
    print(f"summary: no logN 15 ratio for {' '.join(missing)}", file=sys.stderr)
print(f"summary: n15_mul_ratio={fmt(ratios.get(('mul_relin_rescale', 15)))}"
      f" n15_rot_ratio={fmt(ratios.get(('rotate_1', 15)))}"
      f" n15_max_other_ratio={fmt(max(others) if others else None)}")
EOF

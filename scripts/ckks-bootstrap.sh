#!/usr/bin/env bash
# CKKS bootstrapping, Shroud against OpenFHE on this machine, one thread each, at 256 slots
# (an Iris-sized packed matrix) and at full slots: bootstrap time (median of RUNS), key
# generation time, evaluation-key bytes, precision in bits (-log2 of the largest error on
# uniform inputs in [-1, 1]), levels left after bootstrapping, peak memory.
#
# Shroud: `shroud bench bootstrap` on its 128-bit preset (N = 2^16, uniform ternary secret,
# sparse-secret encapsulation; docs/security.md). OpenFHE: the `openfhe` wheel (CPython 3.10,
# target/openfhe-venv, scripts/openfhe-install.sh) with its own recommended settings:
# uniform ternary secret, HEStd_128_classic, FLEXIBLEAUTO, 59-bit scale, level budget [2, 2]
# at 256 slots and [4, 4] at full slots, ten levels after bootstrapping
# (scripts/openfhe_bootstrap.py). Both run pinned to the same core, one after the other.
# OpenFHE's full-slot run is capped at MAX_GIB (default 22) of address space: on this
# machine it runs out of memory, which the table reports.
#
#   scripts/ckks-bootstrap.sh              # RUNS=3
#   RUNS=1 SKIP_FULL=1 scripts/ckks-bootstrap.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=${RUNS:-3}
MAX_GIB=${MAX_GIB:-22}
source scripts/openfhe-install.sh

pin=()
if command -v taskset > /dev/null; then
    pin=(taskset -c 0)
fi
cargo build --release -q -p shroud-cli
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME COMMAND...: the metric lines into $tmp/NAME, the exit status into $tmp/NAME.rc.
run() {
    local name=$1 rc=0
    shift
    echo "$name: $*" >&2
    "${pin[@]}" "$@" > "$tmp/$name" 2> "$tmp/$name.err" || rc=$?
    echo "$rc" > "$tmp/$name.rc"
    echo "$name: exit $rc" >&2
}

run shroud256 target/release/shroud bench bootstrap --slots 256 --runs "$RUNS" --threads 1
run openfhe256 "$OPENFHE_PY" scripts/openfhe_bootstrap.py --slots 256 --runs "$RUNS" --threads 1 \
    --max-gib "$MAX_GIB"
if [[ -z "${SKIP_FULL:-}" ]]; then
    run shroudfull target/release/shroud bench bootstrap --slots full --runs 1 --threads 1
    run openfhefull "$OPENFHE_PY" scripts/openfhe_bootstrap.py --slots full --runs 1 \
        --threads 1 --max-gib "$MAX_GIB"
fi

python3 - "$tmp" "$RUNS" <<'PY'
import os, sys

tmp, runs = sys.argv[1], sys.argv[2]
COLUMNS = ["shroud256", "openfhe256", "shroudfull", "openfhefull"]
METRICS = ["ring_n", "keygen_s", "key_bytes", "boot_s", "bits", "levels_left", "peak_gib"]
STATUS = {"0": "ok", "3": "check failed", "4": "out of memory", "5": "killed"}


def load(name):
    path = os.path.join(tmp, name)
    if not os.path.exists(path):
        return None, "not run"
    values = {}
    for line in open(path):
        parts = line.split()
        if len(parts) == 2:
            values[parts[0]] = parts[1]
    rc = open(path + ".rc").read().strip()
    return values, STATUS.get(rc, f"exit {rc}")


data = {c: load(c) for c in COLUMNS}
print(f"one thread each, median of {runs} bootstrap(s) at 256 slots, 1 at full slots")
print(f"{'':12}" + "".join(f"{c:>14}" for c in COLUMNS))
for m in METRICS + ["result"]:
    row = f"{m:12}"
    for c in COLUMNS:
        values, status = data[c]
        if m == "result":
            cell = status
        elif values is None or m not in values:
            cell = "-"
        elif m == "key_bytes":
            cell = f"{int(values[m]) / 2**30:.2f} GiB"
        else:
            cell = values[m]
        row += f"{cell:>14}"
    print(row)


def get(c, m):
    values, status = data[c]
    ok = status == "ok"
    return values.get(m) if (values and ok) else None


def num(v, fmt):
    return format(float(v), fmt) if v is not None else "na"


s256, o256 = get("shroud256", "boot_s"), get("openfhe256", "boot_s")
ratio = float(s256) / float(o256) if s256 and o256 else None
peaks = [float(v) for c in ("shroud256", "shroudfull") if (v := get(c, "peak_gib"))]
print(
    "summary:"
    f" boot256_s={num(s256, '.2f')}"
    f" boot256_ratio={num(ratio, '.3f')}"
    f" boot256_bits={num(get('shroud256', 'bits'), '.1f')}"
    f" openfhe256_bits={num(get('openfhe256', 'bits'), '.1f')}"
    f" bootfull_s={num(get('shroudfull', 'boot_s'), '.2f')}"
    f" bootfull_bits={num(get('shroudfull', 'bits'), '.1f')}"
    f" peak_gib={num(max(peaks) if peaks else None, '.2f')}"
)
PY

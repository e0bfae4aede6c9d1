#!/usr/bin/env bash
# Long fuzzing runs: every target of crates/fuzz under libFuzzer (cargo fuzz) for MINUTES
# minutes each (default 10), one after the other on one core each, starting from the
# targets' seeds and the committed corpus (fuzz/corpus). New inputs that add coverage are
# merged back into fuzz/corpus (except those over 256 KB, keys mostly, which the seeds
# regenerate); a crash is copied to fuzz/regressions/TARGET, where the smoke tests replay it
# from then on.
#
#   scripts/fuzz.sh                      # all targets, 10 minutes each, one at a time
#   JOBS=2 scripts/fuzz.sh               # two at a time (one core each)
#   MINUTES=1 TARGETS="idx onnx" scripts/fuzz.sh
#
# Needs cargo-fuzz (installed here if missing) and a nightly toolchain for the sanitizer
# (without one it runs on stable without AddressSanitizer: -s none).
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=${MINUTES:-10}
seconds=$(python3 -c "print(int(float('$MINUTES') * 60))")
command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --locked
if rustup toolchain list | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
    sanitizer=(-s address)
else
    fuzz=(cargo fuzz)
    sanitizer=(-s none)
fi
targets=${TARGETS:-$("${fuzz[@]}" list)}

cargo run --release -q -p shroud-fuzz --bin write-seeds -- target/fuzz-seeds
# Build once before the lanes start, so that they do not queue on cargo's lock.
"${fuzz[@]}" build "${sanitizer[@]}" > /dev/null 2>&1 || "${fuzz[@]}" build "${sanitizer[@]}"
log=target/fuzz-logs
rm -rf "$log"
mkdir -p "$log"

# One target: run, keep a crash as a regression, fold new coverage into the corpus, and
# write its row of the table.
fuzz_one() {
    local t=$1 status=ok
    mkdir -p "fuzz/corpus/$t" "target/fuzz-new/$t"
    # New coverage goes to a scratch folder; the committed corpus is only read.
    if ! "${fuzz[@]}" run "${sanitizer[@]}" "$t" "target/fuzz-new/$t" \
            "fuzz/corpus/$t" "target/fuzz-seeds/$t" -- \
            -max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 -print_final_stats=1 \
            > "$log/$t.log" 2>&1; then
        status=CRASH
        mkdir -p "fuzz/regressions/$t"
        for f in fuzz/artifacts/"$t"/*; do
            [ -f "$f" ] && cp "$f" "fuzz/regressions/$t/"
        done
    fi
    local runs took
    # A crashed run has no final statistics.
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log/$t.log" | grep -o '[0-9]*$' | tail -1 || true)
    took=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log/$t.log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' | tail -1 || true)
    if [ "$status" = ok ] && [ "$t" != lwe_server_key ]; then
        # Only inputs that add coverage join the committed corpus.
        "${fuzz[@]}" run "${sanitizer[@]}" "$t" "fuzz/corpus/$t" "target/fuzz-new/$t" -- \
            -merge=1 > "$log/$t.merge.log" 2>&1 || true
        # Key-sized inputs stay out of the repository: the seeds regenerate them.
        find "fuzz/corpus/$t" -type f -size +256k -delete
    fi
    printf '%-18s %12s %8s %s\n' "$t" "${runs:-?}" "${took:-?}" "$status" > "$log/$t.row"
}

# JOBS lanes at a time (default 1; each fuzzer uses one core).
JOBS=${JOBS:-1}
for t in $targets; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
        wait -n || true
    done
    fuzz_one "$t" &
done
wait || true

n=0
crashes=0
printf '%-18s %12s %8s %s\n' target runs seconds result
for t in $targets; do
    n=$((n + 1))
    cat "$log/$t.row"
    grep -q CRASH "$log/$t.row" && crashes=$((crashes + 1))
done
echo "logs in $log; crashes (if any) in fuzz/regressions"
echo "summary: targets=$n minutes_per_target=$MINUTES crashes=$crashes"

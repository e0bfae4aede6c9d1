#!/usr/bin/env bash
# Readiness of the crates for crates.io: `cargo publish --workspace --dry-run` packages every
# publishable crate in dependency order (each verified by building it from its package, with
# the workspace's own crates resolved from the packages made before it), then `cargo doc`
# warnings and the runnable examples are counted.
#
#   scripts/publish-check.sh            # VERIFY=0 skips the verification builds
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
verify=()
[[ "${VERIFY:-1}" == 0 ]] && verify=(--no-verify)

# Every crate that may be published (publish = false ones are left out by cargo).
total=$(cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json, sys; print(sum(1 for p in json.load(sys.stdin)["packages"] if p.get("publish") != []))')
status=ok
cargo publish --workspace --dry-run --allow-dirty "${verify[@]}" > "$log" 2>&1 || status=failed
grep -E "^\s*(Packaging|Packaged|Verifying|error|warning: (manifest|no))" "$log" || true
ready=$(grep -cE "^\s*Packaged " "$log" || true)
if [[ "$status" != ok ]]; then
    echo "cargo publish --dry-run failed:" >&2
    tail -20 "$log" >&2
    # A failure stops the run: the crate it stopped at is not ready.
    ready=$((ready > 0 ? ready - 1 : 0))
fi

cargo doc --workspace --no-deps > "$log" 2>&1 || true
# Each warning once, not the per-crate "generated N warnings" lines.
doc_warnings=$(grep -E "^warning" "$log" | grep -cvE "generated [0-9]+ warnings?" || true)
examples=$(find crates -path '*/examples/*.rs' | wc -l)

echo "crates ready for publishing: $ready of $total; cargo doc warnings: $doc_warnings; examples: $examples"
echo "summary: crates_ready=$ready/$total doc_warnings=$doc_warnings examples=$examples"

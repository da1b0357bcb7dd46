#!/usr/bin/env bash
# Reliability figures: runs the reliability tests (tests/integration/reliability.rs) on a release build,
# one at a time, and prints the line each prints once its checks passed (what was tried, what
# was placed and refused, what was lost, how long recovery took). RELIABILITY.md quotes them.
# The disk-full case mounts a tmpfs and so needs root; without it, it says SKIPPED.
set -euo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --release --quiet --test integration reliability:: -- --nocapture --test-threads 1 >"$log" 2>&1 || {
    cat "$log" >&2
    exit 1
}
grep -oE '(figure|SKIPPED): .*' "$log" | sed 's/^figure: //'

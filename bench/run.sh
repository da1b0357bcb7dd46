#!/usr/bin/env bash
# Benchmarks for tracedojo. Prints figures; asserts nothing. Takes about 10 minutes on 2 cores.
#
#   bench/run.sh            everything: clean release build, one-line rebuild, runtime figures
#   bench/run.sh --runtime  only the runtime figures (start-up, memory, throughput)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != "--runtime" ]]; then
    # Clean release build in its own target directory, so the developer's cache is untouched.
    clean_dir="$(mktemp -d)"
    trap 'rm -rf "$clean_dir"' EXIT
    start=$(date +%s.%N)
    CARGO_TARGET_DIR="$clean_dir" cargo build --release --quiet --bin tracedojo
    end=$(date +%s.%N)
    printf 'build: clean release build %.0f s\n' "$(echo "$end - $start" | bc)"

    # What a workshop participant does: change one line in one service and rebuild.
    file=services/payment/src/routes.rs
    cp "$file" "$file.bench-backup"
    trap 'if [[ -f "$file.bench-backup" ]]; then mv -f "$file.bench-backup" "$file"; fi; rm -rf "$clean_dir"' EXIT
    sed -i 's/"payment approved"/"payment approved (edited)"/' "$file"
    if cmp -s "$file" "$file.bench-backup"; then
        echo "bench: the one-line edit did not apply to $file" >&2
        exit 1
    fi
    start=$(date +%s.%N)
    CARGO_TARGET_DIR="$clean_dir" cargo build --release --quiet --bin tracedojo
    end=$(date +%s.%N)
    mv -f "$file.bench-backup" "$file"
    printf 'build: release rebuild after a one-line edit in payment %.1f s (target <= 30 s)\n' "$(echo "$end - $start" | bc)"
fi

cargo build --release --quiet -p tracedojo -p tracedojo-bench
args=("$@"); [[ "${args[0]:-}" == "--runtime" ]] && args=("${args[@]:1}")
target/release/tracedojo-bench --binary target/release/tracedojo "${args[@]}"

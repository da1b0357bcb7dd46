#!/usr/bin/env bash
# Benchmark of latency faults: for each distribution, the injected p50 and p99 next to those
# observed on the SERVER spans an OTLP receiver got. Prints figures; asserts nothing. About
# a minute after the build.
#
#   bench/faults.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p tracedojo -p tracedojo-bench
target/release/tracedojo-bench --fault-latency "$@"

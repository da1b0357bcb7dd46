#!/usr/bin/env bash
# Benchmark of stopping `tracedojo up` (Ctrl-C, i.e. SIGINT): the time until `up` exits with a
# backend that accepts connections and never answers (with and without the background load)
# and with a healthy one (the explorer `up` runs by default), several rounds each, median.
# Also says how many services `up` had to kill at its deadline and how many spans it reported
# unsent. Prints figures; asserts nothing. About 2 minutes after the release build.
#
#   bench/stop.sh                   5 rounds per backend
#   bench/stop.sh --stop-rounds 3   any tracedojo-bench flag (see --help)
#
# Everything goes to 127.0.0.1; `up` is killed if it does not stop within 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p tracedojo -p tracedojo-bench
target/release/tracedojo-bench --stop --binary target/release/tracedojo "$@"

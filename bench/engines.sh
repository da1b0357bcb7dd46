#!/usr/bin/env bash
# The shop on SQLite against the shop on PostgreSQL, in one run: saturation throughput and
# checkout latency (p50, p99) per engine and their ratio, and each service's memory idle and
# after saturation (the figures deploy/kubernetes requests). Prints figures; asserts nothing.
#
#   bench/engines.sh                 # starts Debian's PostgreSQL with tests/postgres.sh
#   bench/engines.sh --rounds 5 --seconds 20
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${TRACEDOJO_BENCH_POSTGRES_URL:-}" ]]; then
    TRACEDOJO_BENCH_POSTGRES_URL="$(bash tests/postgres.sh)"
    export TRACEDOJO_BENCH_POSTGRES_URL
fi
cargo build --release --quiet -p tracedojo -p tracedojo-bench
target/release/tracedojo-bench --binary target/release/tracedojo --engines "$@"

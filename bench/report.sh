#!/usr/bin/env bash
# Benchmark of `tracedojo report` over a full explorer: how long a report takes with a million
# spans stored, and what running reports costs the explorer's ingest. Prints a table of figures
# with their targets; asserts nothing. About 75 seconds on 2 cores after the release build (the
# build: seconds when cached, about 5 minutes from clean).
#
#   1. `tracedojo explore --max-spans 1000000 --max-memory 4GiB` (free loopback ports), pinned
#      to CPU 0 with TOKIO_WORKER_THREADS=1 as in bench/explorer.sh, is filled with 1,000,000
#      synthetic shop spans (the shop's services and routes, errors, slow queries, user
#      baggage) stamped with the time of sending, so all of them fall in the report's windows.
#   2. `tracedojo report --format json` (default windows 1h and 5m, the shop's built-in
#      objectives) runs 5 times: p50 and max (target <= 2 s), how many endpoints it judged,
#      how many need work and how many it explained from exemplar traces, the explorer's CPU
#      per report and its peak RSS; then once with `--format markdown --lang ja`.
#   3. With the store full (every new span evicts an old one), spans are sent as fast as the
#      explorer takes them for 15 s with no report running, then for 15 s with reports running
#      back to back, and again in the other order: spans/s of both and their ratio, confirmed
#      by the growth of /api/status's spans_received.
#
# The sender and the report processes run on CPU 1 (this script pins the benchmark there and
# they inherit it): the report process itself does little, and keeping it off CPU 0 leaves the
# explorer's core to the explorer, so the ratio shows the work a report asks of the explorer.
#
#   bench/report.sh                                    everything
#   bench/report.sh --report-runs 9 --report-ingest-seconds 30
#   bench/report.sh --report-spans 200000              any tracedojo-bench flag (see --help)
#
# Everything goes to 127.0.0.1; the children are killed when the run ends, fails or is
# interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

cargo build --release --quiet -p tracedojo -p tracedojo-bench

# The sender and the reports on CPU 1; the bench pins the explorer to CPU 0.
bench="report bench"
source bench/sender_cpu.sh
exec "${pin[@]}" "$target/release/tracedojo-bench" --report --binary "$target/release/tracedojo" "$@"

#!/usr/bin/env bash
# Benchmark of the explorer (`tracedojo explore`): what it takes in, what it costs to keep, how
# fast it finds, and whether its bounds hold. Prints a table of figures with their targets;
# asserts nothing. About 2 minutes on 2 cores after the release build (the build: seconds
# when cached, about 3.5 minutes from clean).
#
#   a) ingest: spans/s over OTLP/gRPC into an empty explorer until it holds ~1,000,000 spans
#      (batches of 512 synthetic shop spans: 8 services, traces of 5-60 spans, HTTP and DB
#      attributes, user baggage), 8 exports in flight on 2 connections, with the explorer
#      pinned to CPU 0 (taskset, TOKIO_WORKER_THREADS=1) and the sender to CPU 1. Reference in
#      the same run: the same requests into a decode-and-discard tonic sink pinned the same way
#      (`tracedojo-bench --null-sink`), and the ratio. Target >= 50,000 spans/s.
#   b) memory per stored span: (RSS full - RSS empty) / spans_stored, also with PSS, at
#      --max-spans 1000000 --max-memory 4GiB so nothing is evicted. Target <= 1 KiB.
#   c) search with those spans stored: 300 varied GET /api/traces queries (service, operation,
#      durations, errors, attributes, time windows, ones that match nothing): p50, p95, max
#      (target p95 < 100 ms), and GET /api/red, /api/service-map, /api/errors, /api/customers,
#      /api/services.
#   d) overload: a fresh explorer with --max-spans 200000 --max-memory 128MiB gets 3,000,000
#      spans as fast as it takes them while /api/status and RSS are sampled every 250 ms: most
#      spans and bytes stored against the bounds, RSS at the end against RSS when the bounds
#      were first reached (target within 10 %), and the ingest rate while evicting.
#   e) the same with --max-spans 1000000 --max-memory 32MiB, so the memory bound binds first.
#   f) the store alone, in this process: the same million spans decoded and stored on one
#      thread with no network, decoding and storing timed apart, storing by quarter of the
#      fill (`--store-ingest` runs only this, a quick loop for profiling the store).
#
#   bench/explorer.sh                        everything
#   bench/explorer.sh --search-queries 1000  any tracedojo-bench flag (see --help)
#
# Everything goes to 127.0.0.1; the children are killed when the run ends, fails or is
# interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p tracedojo -p tracedojo-bench

# The sender on CPU 1; the bench pins the explorer and the sink to CPU 0.
bench="explorer bench"
source bench/sender_cpu.sh
exec "${pin[@]}" target/release/tracedojo-bench --explorer --binary target/release/tracedojo "$@"

#!/usr/bin/env bash
# Benchmark of the telemetry stack's CPU per span, alone in one process: no shop, no HTTP, no
# database. One checkout-like request (5 spans, 1 log event, children suspended across an
# `.await` in a current-thread tokio runtime) runs under each set-up, in rotating order over
# several rounds, and the medians of process CPU per span are printed next to the reference
# (no subscriber) of the same round:
#
#   0 no subscriber (the `tracing` macros are no-ops)     3 + the kit's OTLP protobuf encoding
#   1 the `tracing-subscriber` registry only              4 the OpenTelemetry API, no bridge
#   2 + `tracing-opentelemetry`, SDK, discarding exporter 5 as 3 + console and log-bridge layers
#
# and how many spans (and log records) each exporting set-up exported. Prints figures; asserts
# nothing. About a minute on 2 cores after the release build (the build: seconds when cached,
# a few minutes from clean). See bench/src/span_cost.rs for what is measured and how.
#
#   bench/span_cost.sh                                            200,000 spans per set-up, 3 rounds
#   bench/span_cost.sh --span-cost-spans 50000 --span-cost-rounds 5
#
# Nothing leaves the process.
set -euo pipefail
cd "$(dirname "$0")/.."
# Only the bench: no shop binary is started.
cargo build --release --quiet -p tracedojo-bench
exec target/release/tracedojo-bench --span-cost "$@"

#!/usr/bin/env bash
# Soak of the showcase: does a booth demo stay flat for days? Plays a built-in scenario for
# many loops at a high speed factor (each loop then carries that many loops of booth traffic),
# with the services exporting to a separate `tracedojo explore` standing in for the vendor's
# backend, and prints after every loop the RSS of every process, the data directory's size,
# the requests answered and failed and the spans the backend received; then the slope of each
# from the second loop on and over the second half (target: flat) and how many hours of booth
# traffic the run carried.
# Midway a service is killed (`up` starts it again) and the backend is down for one whole loop
# (the shop keeps serving; the export resumes by itself).
#
#   bench/soak.sh                                   12 loops of slow-payment at speed 6 (~10 min)
#   bench/soak.sh --soak-loops 40 --soak-speed 8    longer
#   bench/soak.sh --soak-scenario database          another scenario
#
# Everything goes to 127.0.0.1; the children stop when the run ends, fails or is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p tracedojo -p tracedojo-bench
exec target/release/tracedojo-bench --soak --binary target/release/tracedojo "$@"

# shellcheck shell=bash disable=SC2034  # `pin` is read by the script that sources this
# Sourced by the benchmarks that pin a receiver to CPU 0 (explorer.sh, report.sh): sets `pin`
# to the command that runs the sending side on CPU 1, or to nothing where that cannot be done.
# `bench` names the benchmark in the warning.
if [[ "$(nproc)" -ge 2 ]] && command -v taskset >/dev/null 2>&1; then
    pin=(taskset -c 1)
else
    echo "${bench:-bench}: fewer than 2 CPUs or no taskset; the sender shares the receiver's CPU" >&2
    pin=()
fi

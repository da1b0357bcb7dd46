#!/usr/bin/env bash
# Benchmark of the workshop's stages: for each lesson whose stage shows its symptom by itself,
# the time from `tracedojo workshop start N` until `check` can tell (it no longer answers
# "not yet"), target <= 10 s; start's own share (faults set, burst of traffic) is printed too.
# Lessons whose symptom needs the participant's own action (a purchase, a code change, a
# backend) are listed as such. Prints figures; asserts nothing. About two minutes.
#
#   bench/workshop.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p tracedojo
bin="$PWD/target/release/tracedojo"

data="$(mktemp -d)"
"$bin" up --base-port 0 --data-dir "$data" --participant bench --load-rate 1 >"$data/up.log" 2>&1 &
up=$!
trap 'kill -INT $up 2>/dev/null; wait $up 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 300); do
    [[ -f "$data/running.json" ]] && break
    sleep 0.2
done
[[ -f "$data/running.json" ]] || { echo "bench: the shop did not start"; cat "$data/up.log"; exit 1; }

# The shop's addresses come from what `up` wrote to its data directory.
workshop() { "$bin" workshop "$@" --data-dir "$data" --lang en; }
now() { date +%s.%N; }

# Lesson and an answer of the right form that is wrong: `check` answers "not yet" (…) until
# the stage's symptom is in the explorer, then "wrong" (✗).
probes=(
    "2|1"
    "4|frontend 1"
    "5|nothing 1"
    "6|frontend"
    "7|tier=nobody"
    "8|nothing 0.0.1"
    "14|GET /nothing"
)
printf '%-8s %14s %22s\n' lesson "start (s)" "start to symptom (s)"
for probe in "${probes[@]}"; do
    lesson="${probe%%|*}"
    answer="${probe#*|}"
    t0=$(now)
    workshop start "$lesson" >/dev/null 2>&1
    t1=$(now)
    verdict=""
    for _ in $(seq 1 120); do
        # shellcheck disable=SC2086
        verdict="$(workshop check "$lesson" $answer 2>&1 | head -c 3 || true)"
        [[ "$verdict" == "…" ]] || break
        sleep 0.25
    done
    t2=$(now)
    if [[ "$verdict" == "…" ]]; then
        printf '%-8s %14.1f %22s\n' "$lesson" "$(echo "$t1 - $t0" | bc)" "not within 30 s"
    else
        printf '%-8s %14.1f %22.1f\n' "$lesson" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t0" | bc)"
    fi
done
for lesson in 1 3 9 10 11 12 13; do
    printf '%-8s %14s %22s\n' "$lesson" "-" "needs the participant"
done
workshop reset >/dev/null 2>&1 || true

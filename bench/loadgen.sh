#!/usr/bin/env bash
# Benchmark of `tracedojo load` against a trivial loopback endpoint, with Debian's wrk as the
# reference in the same run. Prints figures; asserts nothing. About a minute.
#
#   bench/loadgen.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet -p tracedojo -p tracedojo-bench

work="$(mktemp -d)"
port=$(( 20000 + RANDOM % 20000 ))
target/release/tracedojo-bench --trivial-server "127.0.0.1:$port" &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/health"; then break; fi
    sleep 0.05 # waiting for the server to bind; bounded to 5 s
done

# One request per journey: product views only, no think time, no traces.
printf '[mix]\nview_product = 1\n' > "$work/mix.toml"
run_load() { # rate seconds max_in_flight json
    /usr/bin/time -f "%U %S" -o "$work/cpu" target/release/tracedojo load \
        --target "http://127.0.0.1:$port" --file "$work/mix.toml" --rate "$1" --duration "$2" \
        --max-in-flight "$3" --think-max-ms 0 --no-trace --quiet --json "$4"
}
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

# 1. Accuracy at 1,000 requests/s for 30 s.
run_load 1000 30 1000 "$work/steady.json"
requests=$(field "$work/steady.json" requests)
elapsed=$(field "$work/steady.json" elapsed_s)
late=$(field "$work/steady.json" late)
dropped=$(field "$work/steady.json" dropped)
read -r user sys < "$work/cpu"
python3 - "$requests" "$elapsed" "$late" "$dropped" "$user" "$sys" <<'PY'
import sys
requests, elapsed, late, dropped, user, sys_cpu = map(float, sys.argv[1:])
achieved = requests / 30.0
print(f"loadgen: target 1000 req/s for 30 s: {requests:.0f} requests, achieved {achieved:.1f} req/s "
      f"({100 * (achieved - 1000) / 1000:+.2f} %, target within 1 %), {late:.0f} late, {dropped:.0f} dropped "
      f"(run took {elapsed:.1f} s)")
print(f"loadgen: CPU {1000 * (user + sys_cpu) / max(requests, 1):.3f} s per 1,000 requests "
      f"(user {user:.2f} s + system {sys_cpu:.2f} s)")
PY

# 2. The most it can drive: 600,000 journeys asked for in 4 s (more than it can send),
#    measured as requests over the time the run took; then wrk for 10 s.
run_load 150000 4 256 "$work/max.json"
max_requests=$(field "$work/max.json" requests)
max_elapsed=$(field "$work/max.json" elapsed_s)
max_dropped=$(field "$work/max.json" dropped)
read -r max_user max_sys < "$work/cpu"
wrk_rate=$(wrk -t2 -c256 -d10s "http://127.0.0.1:$port/api/products/1" | awk '/Requests\/sec/ {print $2}')
python3 - "$max_requests" "$max_elapsed" "$max_dropped" "$max_user" "$max_sys" "$wrk_rate" <<'PY'
import sys
requests, elapsed, dropped, user, sys_cpu, wrk = map(float, sys.argv[1:])
ours = requests / elapsed
print(f"loadgen: most driven {ours:.0f} req/s ({requests:.0f} requests in {elapsed:.1f} s, 256 in flight, "
      f"{dropped:.0f} dropped; CPU {1000 * (user + sys_cpu) / max(requests, 1):.3f} s per 1,000) "
      f"vs wrk {wrk:.0f} req/s (2 threads, 256 connections): ratio {ours / wrk:.2f} (target >= 0.8)")
if ours > 0.95 * 150000:
    print("loadgen: the run kept up with the 150,000/s asked for; raise the ask to find the limit")
PY

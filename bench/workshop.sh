#!/usr/bin/env bash
# Benchmark of the workshop's stages: for every lesson, the time from `tracedojo workshop start
# N` until `check` can tell (it no longer answers "not yet"), target <= 10 s; start's own share
# (faults set, burst of traffic) is printed too. Where the symptom needs the participant's own
# purchase (lessons 1, 3, 9), the benchmark buys as a browser does, right after `start`.
# Lesson 10's figure is the release rebuild after a one-line edit in payment (the source is put
# back afterwards); lesson 12's is `tracedojo doctor` against the running explorer; lesson 11's
# runs a second shop with the example Python service in recommendation's place (it needs
# target/workshop-python, from workshop/examples/setup-python.sh). Prints figures; asserts
# nothing. About four minutes, plus a release build.
#
#   bench/workshop.sh              every lesson
#   bench/workshop.sh --no-rebuild without lesson 10's rebuild
set -euo pipefail
cd "$(dirname "$0")/.."
rebuild=yes
[[ "${1:-}" == "--no-rebuild" ]] && rebuild=no
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
shop="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["shop"])' "$data/running.json")"

# The shop's addresses come from what `up` wrote to its data directory.
workshop() { "$bin" workshop "$@" --data-dir "$data" --lang en; }
now() { date +%s.%N; }
seconds() { echo "$2 - $1" | bc; }

# A purchase as the shop's page makes it (a session cookie, the cart form, the checkout form);
# prints the trace id the order page is sent to.
buy() {
    local session location
    session="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    curl -sf -o /dev/null -b "td_session=$session" -d "product_id=3&quantity=1" "$shop/cart/add"
    location="$(curl -s -o /dev/null -w '%{redirect_url}' -b "td_session=$session" \
        -d "card_number=4242424242424242&email=bench@example.com" "$shop/checkout")"
    echo "${location##*trace=}"
}

# Lesson, whether the participant buys after `start`, and an answer of the right form: `check`
# answers "not yet" (…) until the stage's symptom (or the purchase) is in the explorer, then
# "wrong" (✗), or "right" (✓) for lesson 1, whose answer is the purchase's own trace id.
probes=(
    "1|buy|TRACE"
    "2|-|1"
    "3|buy|x-nothing free"
    "4|-|frontend 1"
    "5|-|nothing 1"
    "6|-|frontend"
    "7|-|tier=nobody"
    "8|-|nothing 0.0.1"
    "9|buy|nothing 1"
    "13|-|1"
    "14|-|GET /nothing"
)
printf '%-8s %14s %22s   %s\n' lesson "start (s)" "start to symptom (s)" "check said"
for probe in "${probes[@]}"; do
    IFS='|' read -r lesson purchase answer <<<"$probe"
    t0=$(now)
    workshop start "$lesson" >/dev/null 2>&1
    t1=$(now)
    trace=""
    if [[ "$purchase" == buy ]]; then
        trace="$(buy)"
        answer="${answer/TRACE/$trace}"
    fi
    verdict=""
    for _ in $(seq 1 120); do
        # shellcheck disable=SC2086
        verdict="$(workshop check "$lesson" $answer 2>&1 | head -c 3 || true)"
        # Lesson 1's answer is right once the whole trace is there; "no such trace" before.
        [[ "$verdict" == "…" || ("$purchase" == buy && "$answer" == "$trace" && "$verdict" != "✓") ]] || break
        sleep 0.25
    done
    t2=$(now)
    if [[ "$verdict" == "…" ]]; then
        printf '%-8s %14.1f %22s\n' "$lesson" "$(seconds "$t0" "$t1")" "not within 30 s"
    else
        printf '%-8s %14.1f %22.1f   %s\n' "$lesson" "$(seconds "$t0" "$t1")" "$(seconds "$t0" "$t2")" "$verdict"
    fi
done
workshop reset >/dev/null 2>&1 || true

# Lesson 12: the export self-check's verdict, with the running explorer as the backend.
otlp_http="$(sed -n 's|.*OTLP/HTTP \([^)]*\)).*|\1|p' "$data/up.log" | head -1)"
[[ "$otlp_http" == http* ]] || otlp_http="http://$otlp_http"
t0=$(now)
OTEL_EXPORTER_OTLP_ENDPOINT="$otlp_http" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
    "$bin" doctor >/dev/null 2>&1 || echo "bench: doctor did not deliver to $otlp_http"
printf '%-8s %14s %22.1f   (tracedojo doctor)\n' 12 "-" "$(seconds "$t0" "$(now)")"
# Lesson 11: a second shop with recommendation left out, the example Python service in its
# place (started as the lesson prints it), then `start 11` and a product page, until `check`
# sees a trace across the Python service.
python="$PWD/target/workshop-python/bin/python"
if [[ ! -x "$python" ]]; then
    printf '%-8s %14s %22s\n' 11 "-" "no $python (run workshop/examples/setup-python.sh)"
else
    py_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    data11="$(mktemp -d)"
    "$bin" up --base-port 0 --data-dir "$data11" --participant bench --load-rate 1 \
        --external "recommendation=http://127.0.0.1:$py_port" >"$data11/up.log" 2>&1 &
    up11=$!
    trap 'kill ${py:-} 2>/dev/null; kill -INT $up $up11 2>/dev/null; wait $up $up11 2>/dev/null; rm -rf "$data" "$data11"' EXIT
    for _ in $(seq 1 300); do
        [[ -f "$data11/running.json" ]] && break
        sleep 0.2
    done
    otlp11="$(sed -n 's|.*OTLP/HTTP \([^)]*\)).*|\1|p' "$data11/up.log" | head -1)"
    [[ "$otlp11" == http* ]] || otlp11="http://$otlp11"
    OTEL_SERVICE_NAME=recommendation OTEL_RESOURCE_ATTRIBUTES=service.namespace=bench \
        OTEL_EXPORTER_OTLP_ENDPOINT="$otlp11" \
        "$python" workshop/examples/recommendation.py "$py_port" >"$data11/python.log" 2>&1 &
    py=$!
    for _ in $(seq 1 150); do
        (exec 3<>"/dev/tcp/127.0.0.1/$py_port") 2>/dev/null && break
        sleep 0.2
    done
    shop11="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["shop"])' "$data11/running.json")"
    t0=$(now)
    "$bin" workshop start 11 --data-dir "$data11" --lang en >/dev/null 2>&1
    t1=$(now)
    curl -sf -o /dev/null "$shop11/products/3" || echo "bench: the product page failed"
    verdict=""
    for _ in $(seq 1 120); do
        verdict="$("$bin" workshop check 11 --data-dir "$data11" --lang en 2>&1 | head -c 3 || true)"
        [[ "$verdict" == "…" ]] || break
        sleep 0.25
    done
    t2=$(now)
    printf '%-8s %14.1f %22.1f   %s (Python SDK, its default 5 s batch delay)\n' 11 \
        "$(seconds "$t0" "$t1")" "$(seconds "$t0" "$t2")" "$verdict"
    kill "$py" 2>/dev/null
    kill -INT "$up11" 2>/dev/null
    wait "$py" "$up11" 2>/dev/null || true
    rm -rf "$data11"
    trap 'kill -INT $up 2>/dev/null; wait $up 2>/dev/null; rm -rf "$data"' EXIT
fi

# Lesson 10: the release rebuild after a one-line edit in payment's gateway (the participant's
# span), then the source put back and the binary rebuilt as it was.
if [[ "$rebuild" == yes ]]; then
    gateway=services/payment/src/gateway.rs
    saved="$(mktemp)"
    cp "$gateway" "$saved"
    trap 'cp "$saved" "$gateway"; kill -INT $up 2>/dev/null; wait $up 2>/dev/null; rm -rf "$data" "$saved"' EXIT
    # The line the lesson's span takes: an attribute on `authorise`, so the function changes.
    sed -i 's|^pub async fn authorise(|#[tracing::instrument(name = "authorise card", skip_all)]\npub async fn authorise(|' "$gateway"
    cmp -s "$gateway" "$saved" && { echo "bench: the edit of $gateway changed nothing"; exit 1; }
    t0=$(now)
    cargo build --release --quiet -p tracedojo
    t1=$(now)
    cp "$saved" "$gateway"
    cargo build --release --quiet -p tracedojo
    printf '%-8s %14s %22.1f   (release rebuild after a one-line edit in payment)\n' 10 "-" "$(seconds "$t0" "$t1")"
fi

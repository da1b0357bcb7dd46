#!/usr/bin/env bash
# Makes the Python environment that workshop/examples/recommendation.py and its test
# (tests/integration/workshop_external.rs) run in: a virtualenv at target/workshop-python holding the
# pinned packages of requirements.txt. The test looks for it there; CI runs this first.
#
#   workshop/examples/setup-python.sh              # then:
#   target/workshop-python/bin/python workshop/examples/recommendation.py 9000
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/target/workshop-python"

# Debian and Ubuntu ship venv's pip bootstrap apart from python3 (package python3-venv).
if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$venv"
    else
        echo "python3 cannot make a virtualenv: install python3-venv (Debian, Ubuntu), then run $0 again" >&2
        exit 1
    fi
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$root/workshop/examples/requirements.txt"
"$venv/bin/python" -c 'import opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.http.trace_exporter'
echo "ready: $venv/bin/python ($("$venv/bin/python" --version 2>&1))"

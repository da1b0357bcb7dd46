#!/usr/bin/env bash
# Checks the Kubernetes manifests without a cluster: renders every overlay with
# `kubectl kustomize` and validates each resource against Kubernetes' own schemas, strictly (a
# misspelt or unknown field fails, and so does a kind the schemas do not know). The tools come
# from PyPI, pinned in requirements.txt, into a virtualenv at target/kubernetes-check; a kubectl
# already on the machine is not used. The rendered overlays are left in target/kubernetes.
#
#   deploy/kubernetes/check.sh
#
# The Rust test in src/deploy_manifests.rs renders them with the same virtualenv, and checks
# what a schema cannot: every service, port, flag and URL against the binary's own.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/target/kubernetes-check"
out="$root/target/kubernetes"
# The oldest Kubernetes the manifests are for (a preStop `sleep` needs 1.30) and the newest the
# pinned validator knows.
versions=(1.30.0 1.37.0)

# Debian and Ubuntu ship venv's pip bootstrap apart from python3 (package python3-venv).
if [ ! -x "$venv/bin/python" ] && ! python3 -m venv "$venv" >/dev/null 2>&1; then
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
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
kubectl="$venv/bin/kubectl"
validate="$venv/bin/kubernetes-validate"
echo "kubectl $("$kubectl" version --client | head -1 | awk '{print $3}'), kubernetes-validate $("$validate" --version), against Kubernetes ${versions[*]}"

mkdir -p "$out"
failed=0
count=0
for overlay in "$here"/overlays/*/; do
    name="$(basename "$overlay")"
    rendered="$out/$name.yaml"
    if ! "$kubectl" kustomize "$overlay" >"$rendered"; then
        echo "FAIL $name: kubectl kustomize could not render it"
        failed=$((failed + 1))
        continue
    fi
    args=()
    for version in "${versions[@]}"; do args+=(-k "$version"); done
    # --quiet prints only warnings and errors; a warning (no schema for a kind) fails too.
    status=0
    report="$("$validate" --strict --quiet "${args[@]}" "$rendered" 2>&1)" || status=$?
    resources="$(grep -c '^kind:' "$rendered" || true)"
    if [ "$status" != 0 ] || [ -n "$report" ]; then
        echo "$report"
        echo "FAIL $name: $resources resources, not valid (above)"
        failed=$((failed + 1))
    else
        echo "ok   $name: $resources resources valid"
        count=$((count + 1))
    fi
done
if [ "$failed" != 0 ]; then
    echo "kubernetes manifests: $failed overlay(s) failed" >&2
    exit 1
fi
echo "kubernetes manifests: $count overlays rendered and valid"

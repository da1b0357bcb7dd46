#!/usr/bin/env bash
# Starts a local PostgreSQL for the tests that run the shop on PostgreSQL, and prints the URL
# they take (TRACEDOJO_TEST_POSTGRES_URL). Debian's package, its default cluster, tuned for
# throw-away test data (no fsync) with room for several shops' connection pools. A login role
# `tracedojo` gets a fresh random password on every run, so nothing secret lives in the repo.
#
#   export TRACEDOJO_TEST_POSTGRES_URL="$(bash tests/postgres.sh)"
#   cargo test -p tracedojo-kit db::      # the kit's database tests, on both engines
#
# Needs root (it installs the package if missing and runs the server as `postgres`).
set -euo pipefail

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "PostgreSQL is not installed: install Debian's postgresql package, then run $0 again" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >/dev/null
fi

version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$version main"; then
    pg_createcluster "$version" main >&2
fi
# Test data only: durability traded for speed, and connections for two shops at once (each
# keeps a small pool per service, doubled for a moment while a redeploy hands over).
for setting in "fsync off" "synchronous_commit off" "full_page_writes off" "max_connections 300"; do
    # shellcheck disable=SC2086
    pg_conftool -s "$version" main set $setting
done
pg_ctlcluster "$version" main restart >&2 2>/dev/null || pg_ctlcluster "$version" main start >&2

password="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
su postgres -c "psql -v ON_ERROR_STOP=1 -q" >/dev/null <<SQL
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tracedojo') THEN
        CREATE ROLE tracedojo LOGIN CREATEDB;
    END IF;
END \$\$;
ALTER ROLE tracedojo PASSWORD '$password';
SQL
port="$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')"
echo "postgres://tracedojo:$password@127.0.0.1:$port/postgres"

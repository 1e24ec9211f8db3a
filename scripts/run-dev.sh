#!/usr/bin/env bash
# Quick start (a): install what is missing, build, start a private PostgreSQL under .local/
# when DATABASE_URL is unset, migrate, load the dev seed data and serve in the foreground.
# Extra arguments go to firstsip-server (e.g. --listen=127.0.0.1:50052).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

scripts/install-deps.sh
scripts/build.sh
server=${BUILD_DIR:-build}/server/firstsip-server

if [ -z "${DATABASE_URL:-}" ]; then
  port=${FIRSTSIP_DEV_PG_PORT:-54329}
  data=$repo/.local/postgres
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$repo"; then
    # The postgres user cannot reach a checkout under a private folder such as /root.
    data=/var/lib/firstsip-dev/$(echo -n "$repo" | sha1sum | cut -c1-12)
    echo "run-dev: $repo is private to root; keeping the dev database in $data" >&2
  fi
  scripts/pg-cluster.sh start "$data" "$port" >/dev/null
  echo "run-dev: private PostgreSQL on 127.0.0.1:$port (data in $data;" \
    "stop it with scripts/pg-cluster.sh stop $data)" >&2
  psql -h 127.0.0.1 -p "$port" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'firstsip'" | grep -q 1 ||
    psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE firstsip"
  export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/firstsip?sslmode=disable"
fi

if [ -z "${ENCRYPTION_KEY:-}" ] && [ -z "${FIRSTSIP_ENCRYPTION_KEY_FILE:-}" ]; then
  # A development key, made once and kept beside the dev database (git-ignored).
  key_file=$repo/.local/dev-encryption-key
  if [ ! -s "$key_file" ]; then
    mkdir -p "$repo/.local"
    (umask 077 && openssl rand -base64 32 >"$key_file")
    echo "run-dev: made a development encryption key in $key_file" >&2
  fi
  export FIRSTSIP_ENCRYPTION_KEY_FILE=$key_file
fi

"$server" seed-dev
exec "$server" "$@"

#!/usr/bin/env bash
# The proto quality gate: `buf lint` (DEFAULT rules; the exceptions and why are in
# proto/buf.yaml) and `buf breaking` against the previous commit's protos, so a renumbered
# field or a removed RPC fails CI. buf comes pinned from the npm registry (tools/package.json).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "proto-check: npm is missing; run as root to install it" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm \
    >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
fi
buf=tools/node_modules/.bin/buf
if [ ! -x "$buf" ]; then
  npm ci --prefix tools --no-audit --no-fund --silent 2>&1 | grep -v "Unknown user config" || true
fi

# buf warns that DEFAULT is now also called STANDARD; the issue asks for DEFAULT by name.
quiet() { "$@" 2> >(grep -v -e "DEFAULT referenced" -e "^$" -e "^	" >&2); }
quiet "$buf" lint proto
echo "proto-check: buf lint passed"

if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:proto/buf.yaml 2>/dev/null; then
  quiet "$buf" breaking proto --against ".git#ref=HEAD~1,subdir=proto"
  echo "proto-check: buf breaking against HEAD~1 passed"
else
  echo "proto-check: the previous commit has no proto/buf.yaml; buf breaking has nothing to compare"
fi
scripts/migration-check.sh

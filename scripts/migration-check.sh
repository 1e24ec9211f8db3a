#!/usr/bin/env bash
# The migration quality gate: squawk over migrations/ with the committed config
# (migrations/squawk.toml lists the rules turned off and the files left out, with reasons).
# Files that run in a transaction are linted as such; files whose first line is
# "-- firstsip: no-transaction" run statement by statement, so they are linted without that
# assumption (prefer-robust-stmts then asks for IF NOT EXISTS, which re-running needs).
# squawk comes pinned from the npm registry (tools/package.json), like buf.
set -euo pipefail
cd "$(dirname "$0")/.."

marker='-- firstsip: no-transaction'
squawk=tools/node_modules/.bin/squawk
if [ ! -x "$squawk" ]; then
  if ! command -v npm >/dev/null; then
    echo "migration-check: npm is missing (scripts/proto-check.sh installs it as root); cannot install squawk" >&2
    exit 1
  fi
  if ! npm ci --prefix tools --no-audit --no-fund --loglevel=error >/tmp/migration-check-npm.log 2>&1 ||
    [ ! -x "$squawk" ]; then
    echo "migration-check: could not install squawk-cli from the npm registry (is it reachable?):" >&2
    grep -v "Unknown user config" /tmp/migration-check-npm.log | tail -n 5 >&2
    exit 1
  fi
fi

transactional=()
outside=()
for file in migrations/*.sql; do
  if [ "$(head -n 1 "$file" | tr -d '\r' | sed 's/[[:space:]]*$//')" = "$marker" ]; then
    outside+=("$file")
  else
    transactional+=("$file")
    # CONCURRENTLY cannot run in a transaction; squawk does not catch it here, so we do.
    if grep -qi 'concurrently' "$file"; then
      echo "migration-check: $file uses CONCURRENTLY but lacks the first line \"$marker\"" >&2
      exit 1
    fi
  fi
done

lint() {  # squawk args... files...
  "$squawk" --config migrations/squawk.toml --reporter gcc "$@"
}
status=0
if [ ${#transactional[@]} -gt 0 ]; then lint --assume-in-transaction "${transactional[@]}" || status=1; fi
if [ ${#outside[@]} -gt 0 ]; then lint --no-assume-in-transaction "${outside[@]}" || status=1; fi
if [ $status -ne 0 ]; then
  echo "migration-check: squawk found problems above (rules and exclusions: migrations/squawk.toml)" >&2
  exit 1
fi
echo "migration-check: squawk passed (${#transactional[@]} transactional files, ${#outside[@]} no-transaction files)"

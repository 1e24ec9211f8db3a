#!/usr/bin/env bash
# The proto quality gate: `buf lint` (DEFAULT rules plus COMMENTS: every service, RPC, message,
# field and enum value documented; the exceptions and why are in proto/buf.yaml) and
# `buf breaking` against what callers already have, so a renumbered field or a removed RPC fails
# CI however many commits it is spread over. buf comes pinned from the npm registry
# (tools/package.json).
#
# What "what callers have" is, first match wins:
#   1. FIRSTSIP_PROTO_BASE, a git revision (a release tag, say), when set;
#   2. on any branch but main: where it forked from main (`git merge-base HEAD main`, or
#      origin/main when there is no local main), i.e. what the change is judged against when it
#      merges;
#   3. on main: the newest tag reachable from HEAD (the last release);
#   4. on main with no tag (a fresh clone may hold main alone): HEAD's first parent, which after
#      a merge is main before the merge, so a merged branch is judged as a whole.
# A base without proto/buf.yaml (history before the gate), or a clone too shallow to hold the
# base, skips `buf breaking` with a line that says so.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "proto-check: $*" >&2
  exit 1
}

if ! command -v npm >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    fail "npm is missing: install the Debian packages nodejs and npm (or run this as root)"
  fi
  echo "proto-check: installing nodejs and npm with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; then
    apt-get update -qq ||
      fail "apt-get update failed (apt's error above): the Debian mirror cannot be reached." \
        "Fix the network or /etc/apt/sources.list, or install nodejs and npm yourself."
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null ||
      fail "apt-get could not install nodejs and npm (apt's error above)."
  fi
fi

buf=tools/node_modules/.bin/buf
if ! "$buf" --version >/dev/null 2>&1; then
  registry=$(npm config get registry 2>/dev/null || echo "the npm registry")
  echo "proto-check: installing buf (tools/package.json) from $registry" >&2
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  if ! npm ci --prefix tools --no-audit --no-fund >"$log" 2>&1; then
    grep -v "Unknown user config" "$log" >&2 || true
    fail "could not install buf from $registry (npm's error above). The proto gate needs it:" \
      "check the network or proxy to the registry (npm config get registry), then run again."
  fi
  # buf's binary is an optional dependency, which npm skips quietly when its download fails.
  if ! version_error=$("$buf" --version 2>&1); then
    grep -v "Unknown user config" "$log" >&2 || true
    echo "$version_error" >&2
    fail "buf was installed from $registry but does not run (its error above). Its binary" \
      "comes in the package @bufbuild/buf-linux-x64 (or your platform's): remove" \
      "tools/node_modules and run again with the registry reachable."
  fi
fi

# buf warns that DEFAULT is now also called STANDARD; the issue asks for DEFAULT by name.
quiet() { "$@" 2> >(grep -v -e "DEFAULT referenced" -e "^$" -e "^	" >&2); }
quiet "$buf" lint proto
echo "proto-check: buf lint passed (DEFAULT and COMMENTS)"

# The revision callers have (see the top of this file), and how it was chosen.
base=""
why=""
main_ref=""
for candidate in main origin/main; do
  if git rev-parse -q --verify "$candidate^{commit}" >/dev/null; then
    main_ref=$candidate
    break
  fi
done
head=$(git rev-parse HEAD)
if [ -n "${FIRSTSIP_PROTO_BASE:-}" ]; then
  base=$(git rev-parse -q --verify "$FIRSTSIP_PROTO_BASE^{commit}") ||
    fail "FIRSTSIP_PROTO_BASE=$FIRSTSIP_PROTO_BASE is not a revision in this clone"
  why="FIRSTSIP_PROTO_BASE=$FIRSTSIP_PROTO_BASE"
elif [ -n "$main_ref" ] && [ "$(git rev-parse "$main_ref")" != "$head" ] &&
  fork=$(git merge-base HEAD "$main_ref") && [ "$fork" != "$head" ]; then
  base=$fork
  why="the merge base with $main_ref"
elif tag=$(git describe --tags --abbrev=0 HEAD 2>/dev/null); then
  base=$(git rev-parse "$tag^{commit}")
  why="the last tag, $tag"
elif git rev-parse -q --verify "HEAD^1" >/dev/null; then
  base=$(git rev-parse "HEAD^1")
  why="HEAD's first parent (no tag, and HEAD is main itself)"
fi

if [ -z "$base" ]; then
  echo "proto-check: buf breaking skipped: no earlier revision in this clone (shallow or the" \
    "first commit); fetch more history or set FIRSTSIP_PROTO_BASE to what was released"
elif ! git cat-file -e "$base:proto/buf.yaml" 2>/dev/null; then
  echo "proto-check: buf breaking skipped: $why (${base:0:12}) has no proto/buf.yaml"
else
  against=$(mktemp -d)
  trap 'rm -rf "$against" "${log:-}"' EXIT
  git archive "$base" proto | tar -x -C "$against"
  quiet "$buf" breaking proto --against "$against/proto"
  echo "proto-check: buf breaking passed against $why (${base:0:12})"
fi
scripts/migration-check.sh

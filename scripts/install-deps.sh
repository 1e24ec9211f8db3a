#!/usr/bin/env bash
# Installs the Debian bookworm packages the build, the tests and the local database need.
# Runs apt-get only when something is missing, so repeated runs cost nothing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates tzdata openssl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev zlib1g-dev libpq-dev
  libjemalloc-dev libgtest-dev libgmock-dev libbenchmark-dev libsimdjson-dev libnghttp2-dev
  postgresql-15 postgresql-client-15 pgbouncer prometheus-cpp-dev python3 python3-yaml
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or with sudo) to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# apt's own error goes to stderr first; then what to do, and the script stops there rather than
# leaving a later step to fail on a missing file.
if ! apt-get update -qq; then
  echo "install-deps: apt-get update failed (apt's error above): the Debian mirror cannot be" \
    "reached, or a source in /etc/apt/sources.list* is broken. Fix that and run again, or" \
    "install these yourself: ${missing[*]}" >&2
  exit 1
fi
# postgresql-common would create and start a system cluster; ours are private, so skip it.
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/firstsip.conf
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "install-deps: apt-get could not install ${missing[*]} (apt's error above). This" \
    "project builds from Debian bookworm's packages only: check that the machine runs" \
    "bookworm and reaches its mirror, then run again." >&2
  exit 1
fi

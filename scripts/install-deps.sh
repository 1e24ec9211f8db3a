#!/usr/bin/env bash
# Installs the Debian bookworm packages the build, the tests and the local database need.
# Runs apt-get only when something is missing, so repeated runs cost nothing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates tzdata openssl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev zlib1g-dev libpq-dev
  libjemalloc-dev libgtest-dev libgmock-dev libbenchmark-dev libsimdjson-dev
  postgresql-15 postgresql-client-15 prometheus-cpp-dev python3 python3-yaml
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
apt-get update -qq
# postgresql-common would create and start a system cluster; ours are private, so skip it.
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/firstsip.conf
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

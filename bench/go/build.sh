#!/usr/bin/env bash
# Builds the Go comparison server (and its smoke client) offline, in GOPATH mode, from Debian's
# Go packages under /usr/share/gocode. See README.md beside this file.
#
#   bench/go/build.sh OUT_DIR     ->  OUT_DIR/firstsip-go-bench, OUT_DIR/firstsip-go-smoke
set -euo pipefail

out=${1:?usage: bench/go/build.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# golang-google-grpc-dev is satisfied by either golang-github-golang-protobuf-1-3-dev or -1-5-dev;
# protoc-gen-go 1.28's output and protojson need the APIv2 runtime (golang-google-protobuf-dev),
# and grpc's codec must then use the 1.5 shim, so both are named (apt swaps 1-3 out for 1-5).
packages=(golang-go golang-google-grpc-dev golang-github-jackc-pgx-v4-dev protoc-gen-go
  protoc-gen-go-grpc protobuf-compiler golang-google-protobuf-dev
  golang-github-golang-protobuf-1-5-dev)
missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "build.sh: missing Debian packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  echo "build.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/firstsip-go-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Generated code: one Go package for firstsip.v1, mapped with M options so the .proto files
# need no go_package option.
gen_import=firstsip/gen/firstsipv1
mkdir -p "$work/src/$gen_import"
protos=()
opts=(--go_opt=paths=source_relative --go-grpc_opt=paths=source_relative)
for proto in "$repo"/proto/firstsip/v1/*.proto; do
  name=firstsip/v1/$(basename "$proto")
  protos+=("$name")
  opts+=("--go_opt=M$name=$gen_import;firstsipv1" "--go-grpc_opt=M$name=$gen_import;firstsipv1")
done
mkdir -p "$work/gen"
protoc -I "$repo/proto" -I /usr/include --go_out="$work/gen" --go-grpc_out="$work/gen" \
  "${opts[@]}" "${protos[@]}"
mv "$work"/gen/firstsip/v1/*.go "$work/src/$gen_import/"

# Our sources, copied into the GOPATH beside the generated package.
for program in firstsip-go-bench firstsip-go-smoke; do
  cp -r "$here/src/$program" "$work/src/$program"
done

export GO111MODULE=off GOFLAGS='' GOPATH="$work:/usr/share/gocode" GOCACHE="$out/.gocache"
export GOPROXY=off CGO_ENABLED=0
for program in firstsip-go-bench firstsip-go-smoke; do
  (cd "$work/src/$program" && go build -trimpath -o "$out/$program" .)
done
echo "built $out/firstsip-go-bench $out/firstsip-go-smoke" >&2

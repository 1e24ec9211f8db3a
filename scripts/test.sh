#!/usr/bin/env bash
# Quick start (b): install what is missing, build, and run the whole test suite under ctest.
# The tests start their own throwaway PostgreSQL (see tests/CMakeLists.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${BUILD_DIR:-build}

scripts/install-deps.sh
scripts/proto-check.sh
scripts/build.sh -DFIRSTSIP_BUILD_TESTS=ON

# The client package installs and builds into a program outside this project.
rm -rf "$build/install" "$build/example"
cmake --install "$build" --prefix "$build/install" >/dev/null
cmake -S client/examples -B "$build/example" -DCMAKE_PREFIX_PATH="$PWD/$build/install" >/dev/null
cmake --build "$build/example" >/dev/null
echo "client example: built against the installed firstsip package"

ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@"

#!/usr/bin/env bash
# Quick start (b): install what is missing, build, and run the whole test suite under ctest.
# The tests start their own throwaway PostgreSQL (see tests/CMakeLists.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh -DFIRSTSIP_BUILD_TESTS=ON
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j"$(nproc)" "$@"

#!/usr/bin/env bash
# Fresh machine to green tests: installs what is missing, builds, runs every test.
# (A sanitizer build exists as -DKVMIX_SANITIZE=ON; it is not yet part of this script.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
jobs=$(nproc 2>/dev/null || echo 2)
cd build
ctest --output-on-failure -j "$jobs" --timeout 900


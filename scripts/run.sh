#!/usr/bin/env bash
# Fresh machine to the main job: installs what is missing, builds, and runs kvmix's main job on
# the built-in model. Extra arguments are passed to that job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
build/kvmix tune --model builtin --out runs/tune-builtin "$@"

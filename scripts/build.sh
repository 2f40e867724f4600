#!/usr/bin/env bash
# Configures and builds kvmix (Release) into build/, against the CPU libtorch of PyTorch 2.13.0 in
# .cache/venv-cpu (scripts/setup.sh makes it): here it runs `kvmix tune` 1.8x as fast as Debian's
# libtorch 1.13 (results/libtorch_speed.md). KVMIX_TORCH=system builds against Debian's instead.
# Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
if [ "${KVMIX_TORCH:-python}" = system ]; then
  torch=(-DKVMIX_TORCH=system)
else
  torch=(-DKVMIX_TORCH=python "-DKVMIX_PYTHON=$PWD/.cache/venv-cpu/bin/python")
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${torch[@]}" "$@" >/dev/null
cmake --build build -j "$jobs"

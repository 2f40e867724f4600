#!/usr/bin/env bash
# Fresh machine to green tests: installs what is missing, builds, runs every test. Two builds,
# each only what it must check, sharing compiled objects through ccache where flags agree:
#  1. build/: everything against Debian's libtorch, and every test;
#  2. build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer, the kernel and library tests
#     (parsers, kernels, caches, search) without the slow end-to-end model comparisons.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
jobs=$(nproc 2>/dev/null || echo 2)
(cd build && ctest --output-on-failure -j "$jobs" --timeout 900)

# The sanitizer build: CPU only (nvcc has no ASan), no benchmarks or trainer.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVMIX_SANITIZE=ON -DKVMIX_CUDA=OFF >/dev/null
cmake --build build-asan -j "$jobs" --target kvmix kvmix_kernel_tests kvmix_tests
# libtorch keeps allocations alive until exit: leak reports there are libtorch's, not kvmix's.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$jobs" --timeout 1800 -E "llama.cpp")

#!/usr/bin/env bash
# Fresh machine to green tests: installs what is missing, builds, runs every test. Four builds of
# one tree, each checking what only it can (ccache shares what objects they have in common):
#   build/        Debian's libtorch 1.13, the default: every test
#   build-pycpu/  PyTorch 2.13.0's CPU libtorch (pip, .cache/venv-cpu): every test
#   build-cuda/   PyTorch 2.14.1's CUDA libtorch (pip, .cache/venv-cuda): compiles and links all of
#                 kvmix, every CUDA registration and GPU path included; no GPU here to run it
#   build-asan/   AddressSanitizer and UndefinedBehaviorSanitizer over Debian's libtorch: the
#                 parser, kernel, cache and search tests
# Set KVMIX_TEST_BUILDS to a subset ("system pycpu cuda asan") to run fewer.
set -euo pipefail
cd "$(dirname "$0")/.."
builds=${KVMIX_TEST_BUILDS:-system pycpu cuda asan}
want() { [[ " $builds " == *" $1 "* ]]; }
if want cuda; then scripts/setup.sh --cuda-torch; else scripts/setup.sh; fi
export CCACHE_DIR=${CCACHE_DIR:-$PWD/.cache/ccache} CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
jobs=$(nproc 2>/dev/null || echo 2)
stage() { echo "== test.sh: $1 ($(date +%T), ${SECONDS}s)"; }
failed=()

if want system; then
  stage "Debian libtorch: build"
  scripts/build.sh
  stage "Debian libtorch: every test"
  (cd build && ctest --output-on-failure -j "$jobs" --timeout 900) || failed+=(system)
fi

if want pycpu; then
  stage "pip torch (CPU): build"
  cmake -S . -B build-pycpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DKVMIX_TORCH=python -DKVMIX_CUDA=OFF \
    -DKVMIX_PYTHON="$PWD/.cache/venv-cpu/bin/python" > /dev/null
  cmake --build build-pycpu -j "$jobs" --target kvmix kvmix_kernel_tests kvmix_tests
  stage "pip torch (CPU): every test"
  (cd build-pycpu && ctest --output-on-failure -j "$jobs" --timeout 900) || failed+=(pycpu)
fi

if want cuda; then
  stage "pip torch (CUDA): compile and link everything"
  # Nothing of this build runs here: -O0 compiles in about half the time and checks the same code.
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O0 -DKVMIX_TORCH=python \
    -DKVMIX_CUDA=ON -DKVMIX_PYTHON="$PWD/.cache/venv-cuda/bin/python" > /dev/null
  cmake --build build-cuda -j "$jobs" || failed+=(cuda)
fi

if want asan; then
  stage "sanitizers: build"
  # -O1: the sanitizers' usual level (-O3 takes twice as long to compile, for tests that spend
  # their time in uninstrumented libtorch anyway).
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O1 -DKVMIX_SANITIZE=ON \
    -DKVMIX_CUDA=OFF > /dev/null
  cmake --build build-asan -j "$jobs" --target kvmix kvmix_kernel_tests kvmix_tests
  stage "sanitizers: parser, kernel, cache and search tests"
  # libtorch's own one-time allocations are not leaks of kvmix's; UB aborts the test.
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  build-asan/kvmix_kernel_tests "~[cuda]" || failed+=(asan-kernels)
  parsers="[tokenizer],[model_config],[safetensors],[kv_config],[loader],[fuzz],[export],[lib]"
  build-asan/kvmix_tests "$parsers,[cache],[search]" || failed+=(asan)
fi

stage "done"
if ((${#failed[@]})); then
  echo "test.sh: FAILED in: ${failed[*]}" >&2
  exit 1
fi

#!/usr/bin/env bash
# Fresh machine to green tests: installs what is missing, builds, runs every test. Three builds of
# one tree, each checking what only it can:
#   build/         the default (scripts/build.sh): PyTorch 2.13.0's CPU libtorch (pip,
#                  .cache/venv-cpu), with MPI: every test, the MPI ranks' included
#   build-cuda/    PyTorch 2.14.1's CUDA libtorch (pip, .cache/venv-cuda): compiles and links all of
#                  kvmix (library, command line, trainer, kernel tests), every CUDA registration and
#                  GPU path included; no GPU here to run it
#   build-asan/    AddressSanitizer and UndefinedBehaviorSanitizer over Debian's libtorch 1.13: all
#                  of kvmix compiles and links against Debian's libtorch there, and the parser,
#                  kernel, cache, model and search tests (all but the command line's) run under
#                  the sanitizers. (A separate optimized Debian build ran a subset of these same
#                  tests again; it cost CI about ten minutes and checked nothing this one does not.)
# A build's tests run in the background while the next build compiles, so a long test's tail
# does not leave a core idle. Set KVMIX_TEST_BUILDS to a subset ("default cuda asan").
set -euo pipefail
cd "$(dirname "$0")/.."
builds=${KVMIX_TEST_BUILDS:-default cuda asan}
want() { [[ " $builds " == *" $1 "* ]]; }
if want cuda; then scripts/setup.sh --cuda-torch; else scripts/setup.sh; fi
export CCACHE_DIR=${CCACHE_DIR:-$PWD/.cache/ccache} CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
jobs=$(nproc 2>/dev/null || echo 2)
stage() { echo "== test.sh: $1 (${SECONDS}s)"; }
failed=()
# Test runs in the background, as three parallel arrays (a name may hold any character).
pending_names=() pending_pids=() pending_logs=()

# in_background NAME LOG COMMAND...: runs COMMAND in the background, its output to LOG.
in_background() {
  local name=$1 log=$2
  shift 2
  stage "$name: tests start"
  ("$@" > "$log" 2>&1) &
  pending_names+=("$name") pending_pids+=("$!") pending_logs+=("$log")
}
# run_tests NAME DIR: ctest in DIR in the background.
run_tests() {
  in_background "$1" "$PWD/$2/ctest.log" \
    sh -c "cd '$2' && ctest --output-on-failure -j $jobs --timeout 900"
}
finish_tests() {
  local i name log
  for i in "${!pending_pids[@]}"; do
    name=${pending_names[$i]} log=${pending_logs[$i]}
    if wait "${pending_pids[$i]}"; then
      stage "$name: tests passed"; tail -n 3 "$log" || true
    else
      stage "$name: tests FAILED"; cat "$log" || true; failed+=("$name")
    fi
  done
  pending_names=() pending_pids=() pending_logs=()
}

if want default; then
  stage "default build (pip torch, CPU): build"
  scripts/build.sh
  run_tests "default build" build
fi

if want cuda; then
  stage "pip torch (CUDA): compile and link everything"
  # Nothing of this build runs here: -O0 compiles in about half the time and checks the same code.
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O0 -DKVMIX_TORCH=python \
    -DKVMIX_CUDA=ON -DKVMIX_PYTHON="$PWD/.cache/venv-cuda/bin/python" > /dev/null
  # The library, the command line, the trainer and the kernel tests (the CUDA kernels' own): the
  # Catch2 suite kvmix_tests holds no CUDA-only code (its [cuda] cases compile against any torch)
  # and the two other builds compile it; leaving it out here saves CI about six minutes.
  cmake --build build-cuda -j "$jobs" --target kvmix kvmix_train kvmix_kernel_tests ||
    failed+=("pip torch (CUDA) build")
  finish_tests
fi

if want asan; then
  stage "sanitizers: build"
  # -O1: the sanitizers' usual level (-O3 takes longer to compile, for tests that spend their
  # time in uninstrumented libtorch anyway).
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O1 -DKVMIX_SANITIZE=ON \
    -DKVMIX_CUDA=OFF -DKVMIX_TEST_FOLDERS="lib;models;search;fuzz" > /dev/null
  ASAN_OPTIONS=detect_leaks=0 cmake --build build-asan -j "$jobs" --target kvmix_kernel_tests kvmix_tests kvmix
  finish_tests
  # libtorch's one-time allocations are not kvmix's leaks; undefined behaviour fails the test.
  # Three processes rather than ctest's one per case: each start of an instrumented process
  # that loads libtorch costs about a second.
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  in_background "sanitizers: kernels" build-asan/kernels.log build-asan/kvmix_kernel_tests "~[cuda]"
  in_background "sanitizers: search" build-asan/search.log build-asan/kvmix_tests "[search]~[cuda]"
  in_background "sanitizers: parsers, caches, models" build-asan/rest.log \
    build-asan/kvmix_tests "~[search]~[cuda]"
fi

finish_tests
stage "done"
if ((${#failed[@]})); then
  echo "test.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi

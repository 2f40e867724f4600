#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang in build-fuzz/ and runs each for a
# bounded time, starting from the seed corpus in tests/fuzz/corpus/.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s, all targets
# New corpus entries go to build-fuzz/corpus/TARGET/, crashing inputs to
# build-fuzz/artifacts/TARGET/. A crash, once fixed, is kept as a regression: copy its input to
# tests/fuzz/regressions/TARGET/, where tests/fuzz/fuzz_regressions_test.cpp replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(safetensors model_config kv_config)

if ! command -v clang++ >/dev/null || ! clang++ -fsanitize=fuzzer -x c++ -o /dev/null - \
     <<<'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' 2>/dev/null; then
  echo "fuzz: installing clang and its libFuzzer runtime"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends clang libclang-rt-dev
fi

cmake -S tests/fuzz -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc 2>/dev/null || echo 2)"

status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/artifacts/$t"
  echo "fuzz: $t for ${seconds}s"
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a blow-up, not a long input.
  if ! "build-fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -dict="tests/fuzz/$t.dict" -artifact_prefix="build-fuzz/artifacts/$t/" \
      -print_final_stats=1 "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t"; then
    echo "fuzz: $t FAILED; inputs in build-fuzz/artifacts/$t/" >&2
    status=1
  fi
done
exit $status

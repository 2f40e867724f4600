#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang in build-fuzz/ and runs each, one after
# the other, for a bounded time, starting from the seed corpus in tests/fuzz/corpus/.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s, all targets
# Targets, one per reader of an outside file: safetensors (header), checkpoint_index (shard
# index), model_config (config.json), tokenizer (tokenizer.json), tokenizer_config
# (tokenizer_config.json), kv_config, sensitivity, front, journal (the search journal),
# policy_journal (the policy study's journal), kvtuner_yaml (KVTuner presets), task_file
# (.txt/.jsonl tasks).
# KVMIX_FUZZ_FLAGS adds libFuzzer flags, e.g. KVMIX_FUZZ_FLAGS="-fork=1 -ignore_crashes=1" to go
# on fuzzing past a crash already reported (each crash is still written to the artifacts folder).
# New corpus entries go to build-fuzz/corpus/TARGET/, crashing inputs to
# build-fuzz/artifacts/TARGET/. A crash, once fixed, is kept as a regression: copy its input to
# tests/fuzz/regressions/TARGET/, where the test build replays it (tests/fuzz/*_test.cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(safetensors checkpoint_index model_config tokenizer tokenizer_config
                                kv_config sensitivity front journal policy_journal kvtuner_yaml task_file)

if ! command -v clang++ >/dev/null || ! clang++ -fsanitize=fuzzer -x c++ -o /dev/null - \
     <<<'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' 2>/dev/null; then
  echo "fuzz: installing clang and its libFuzzer runtime"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends clang libclang-rt-dev
fi

cmake -S tests/fuzz -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Only the targets asked for: a target being written cannot hold up the runs of the others.
cmake --build build-fuzz -j "$(nproc 2>/dev/null || echo 2)" --target "${targets[@]/#/fuzz_}"

status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/artifacts/$t"
  echo "fuzz: $t for ${seconds}s"
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a blow-up, not a long input.
  # shellcheck disable=SC2086  # KVMIX_FUZZ_FLAGS is a list of flags
  if ! "build-fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -dict="tests/fuzz/$t.dict" -artifact_prefix="build-fuzz/artifacts/$t/" \
      -print_final_stats=1 ${KVMIX_FUZZ_FLAGS:-} "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t"; then
    echo "fuzz: $t FAILED; inputs in build-fuzz/artifacts/$t/" >&2
    status=1
  fi
done
exit $status

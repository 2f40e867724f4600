#!/usr/bin/env bash
# kvmix's logits against llama.cpp's on random tiny Llama and Qwen2 checkpoints
# (scripts/compare_llamacpp.mjs says how); writes results/llamacpp_compare.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p runs/compare-llamacpp
node scripts/compare_llamacpp.mjs build/kvmix .cache/npm/node_modules runs/compare-llamacpp \
  results/llamacpp_compare

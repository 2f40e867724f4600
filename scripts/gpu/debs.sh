#!/usr/bin/env bash
# Downloads the Debian packages a full kvmix build needs besides libtorch (headers, CMake configs
# and the shared libraries they name) into .cache/gpu-debs, about 25 MB, to carry to a GPU
# machine, which has PyTorch, nvcc, CMake and ninja but none of these and no network.
# scripts/gpu/run.sh unpacks them there with `dpkg -x` (or ar and tar) into a prefix.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.cache/gpu-debs
packages=(
  nlohmann-json3-dev libcli11-dev catch2 libvalijson-dev          # header-only
  libspdlog-dev libspdlog1.10 libfmt-dev libfmt9
  libpagmo-dev libpagmo8 libeigen3-dev libtbb-dev libtbb12 libtbbmalloc2
  libboost1.74-dev libboost-serialization1.74-dev libboost-serialization1.74.0
  libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2 libyaml-cpp-dev libyaml-cpp0.7
)
rm -rf "$out" && mkdir -p "$out"
# apt-get download writes into the current folder; as root it warns that _apt cannot write there.
(cd "$out" && apt-get download "${packages[@]}" 2>&1 | grep -v "unsandboxed as root" || true)
n=$(ls "$out"/*.deb | wc -l)
[ "$n" -eq "${#packages[@]}" ] || { echo "debs: got $n of ${#packages[@]} packages" >&2; exit 1; }
du -sh "$out"

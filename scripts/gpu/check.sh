#!/usr/bin/env bash
# The one call a session makes on a lent GPU machine (the device tool): builds the kernels alone
# (the top-level CMakeLists.txt with -DKVMIX_KERNELS_ONLY=ON) against that machine's pip torch, runs the kernel tests (reference,
# CPU and CUDA bit for bit), `kvmix bench kernels --device cuda`, and transformers' reference
# logits for scripts/compare_transformers.mjs; logs and figures land in $OUT.
#
# Here, before the call: scripts/gpu/headers.sh. The call: command "bash scripts/gpu/check.sh",
# carry [".cache/gpu-headers"], a timeout of about 540 s. Back here: node
# scripts/compare_transformers.mjs build/kvmix <files_at>/transformers-ref results/transformers_compare
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:?the device tool sets OUT}
nvidia-smi > "$out/nvidia-smi.txt" 2>&1
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
# transformers on the CPU, beside the build
(python3 scripts/transformers_reference.py "$out/transformers-ref" > "$out/transformers.log" 2>&1; \
 echo "transformers_reference rc=$?" >> "$out/transformers.log") &
if ! cmake -S . -B build-gpu -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DKVMIX_KERNELS_ONLY=ON \
     -DKVMIX_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DKVMIX_HEADERS="$PWD/.cache/gpu-headers" \
     > "$out/configure.log" 2>&1; then
  tail -40 "$out/configure.log"; wait; exit 1
fi
if ! cmake --build build-gpu -j "$(nproc)" > "$out/build.log" 2>&1; then
  grep -m 30 -B2 -A6 "error" "$out/build.log"; wait; exit 1
fi
build-gpu/kvmix_kernel_tests > "$out/tests.log" 2>&1
echo "kernel tests rc=$?"; tail -4 "$out/tests.log"
build-gpu/kvmix bench kernels --device cuda --tokens 131072 --repeats 9 --json > "$out/bench_kernels_cuda.json" 2> "$out/bench.err"
build-gpu/kvmix bench kernels --device cuda --tokens 131072 --repeats 9 2>> "$out/bench.err" | tee "$out/bench_kernels_cuda.txt"
wait
tail -5 "$out/transformers.log"

#!/usr/bin/env bash
# The one call a session makes on a lent GPU machine (the device tool), which has PyTorch with
# CUDA, nvcc, CMake and ninja but none of kvmix's Debian packages and no network. It builds the
# whole of kvmix there against that torch, with the packages scripts/gpu/debs.sh downloaded here
# unpacked into a prefix, then takes the five figures of the GPU run (DESIGN.md, "GPU"):
#   1. the kernel and model tests on the GPU (codes bit-exact, fused attention within tolerance)
#   2. `kvmix bench kernels --device cuda`: GB/s against the device-to-device copy, and fused
#      4-bit decode attention against torch's sdpa over fp16 K/V at 32k and 128k tokens
#   3. `kvmix tune --model builtin --device cuda`: its choice and wall time
#   4. a random checkpoint with Llama-3.1-8B's shapes: `kvmix bench model` at 4k and 32k tokens,
#      one profile pass and one evaluation, timed
#   5. transformers' reference logits (scripts/transformers_reference.py), compared back here
# Each step has a time limit, so the whole call stays under 9 minutes; logs and figures land in
# $OUT; a failed step is logged and the next one runs.
#
# Here, before the call: scripts/gpu/debs.sh. The call: command "bash scripts/gpu/run.sh",
# carry [".cache/gpu-debs"], timeout_s 570. Rehearsal on a machine without a GPU (every step
# runs; those that need one fail with kvmix's own "no CUDA" error):
#   OUT=$(mktemp -d) KVMIX_PYTHON=.cache/venv-cuda/bin/python KVMIX_SYNTH_SHAPE=tiny \
#     KVMIX_GPU_BUILD_LIMIT=3000 KVMIX_GPU_TARGETS="kvmix kvmix_kernel_tests" scripts/gpu/run.sh
# (a 2-core machine builds in tens of minutes what the GPU machine's 16 cores build in a few; the
# rehearsal leaves out kvmix_tests, which CI builds against the same torch in build-cuda/).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:?the device tool sets OUT}
mkdir -p "$out"
py=${KVMIX_PYTHON:-python3}
shape=${KVMIX_SYNTH_SHAPE:-llama-3.1-8b}
arch=${KVMIX_CUDA_ARCH:-90}
jobs=$(nproc)
steps="$out/steps.log"
: > "$steps"

elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
# step NAME SECONDS COMMAND...: runs COMMAND under a time limit, logging its status and wall time.
step() {
  local name=$1 limit=$2 t0=$EPOCHREALTIME rc
  shift 2
  echo "== $(date +%T) $name" | tee -a "$steps"
  timeout --signal=INT --kill-after=10 "$limit" "$@"
  rc=$?
  echo "$name: rc=$rc wall=$(elapsed "$t0" "$EPOCHREALTIME")s" | tee -a "$steps"
  return $rc
}

{ nvidia-smi; "$py" -c 'import torch, sys; print(sys.version); print(torch.__version__, torch.version.cuda, torch.cuda.is_available())'; uname -a; nproc; } \
  > "$out/machine.txt" 2>&1

# 5 (started first, on the CPU, beside the build)
("$py" scripts/transformers_reference.py "$out/transformers-ref" > "$out/transformers.log" 2>&1
 echo "transformers_reference rc=$?" >> "$out/transformers.log") &

# ---- the Debian packages, unpacked into a prefix ------------------------------------------
prefix=$PWD/.cache/gpu-prefix
rm -rf "$prefix" && mkdir -p "$prefix"
for deb in .cache/gpu-debs/*.deb; do
  if command -v dpkg-deb > /dev/null; then
    dpkg-deb -x "$deb" "$prefix"
  else  # a .deb is an ar archive holding data.tar.*
    (cd "$prefix" && ar p "$OLDPWD/$deb" "$(ar t "$OLDPWD/$deb" | grep '^data.tar')" | tar -x -a -f - 2>/dev/null ||
       ar p "$OLDPWD/$deb" "$(ar t "$OLDPWD/$deb" | grep '^data.tar')" | tar -xJ)
  fi
done
# Some CMake configs name their files by absolute path (pagmo's names /usr/lib/.../libpagmo.so):
# point every such path into the prefix. (The relocatable ones compare /usr paths with their
# own location and, rewritten alike, still agree.)
grep -rlZ '"/usr/' "$prefix/usr" --include='*.cmake' | xargs -0 -r sed -i "s|\"/usr/|\"$prefix/usr/|g"
libdir=$prefix/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# pkg-config files name /usr: the sysroot puts the prefix in front of their paths.
export PKG_CONFIG_LIBDIR=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$prefix

# ---- 0. build ----------------------------------------------------------------------------
build=build-gpu
step configure 120 cmake -S . -B "$build" -G Ninja -DKVMIX_TORCH=python -DKVMIX_PYTHON="$py" \
  -DCMAKE_PREFIX_PATH="$prefix/usr" -DKVMIX_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
  > "$out/configure.log" 2>&1 || tail -30 "$out/configure.log"
step build "${KVMIX_GPU_BUILD_LIMIT:-300}" cmake --build "$build" -j "$jobs" --target ${KVMIX_GPU_TARGETS:-kvmix kvmix_kernel_tests kvmix_tests} \
  > "$out/build.log" 2>&1 || grep -m 20 -B2 -A6 "error" "$out/build.log"
# Every library from the prefix must resolve (and none from elsewhere that the prefix holds).
ldd "$build/kvmix" > "$out/ldd.txt" 2>&1; grep "not found" "$out/ldd.txt"
kvmix=$build/kvmix

# ---- 1. tests on the GPU -----------------------------------------------------------------
step "kernel tests" 90 "$build/kvmix_kernel_tests" > "$out/kernel_tests.log" 2>&1; tail -3 "$out/kernel_tests.log"
step "cuda tests" 90 "$build/kvmix_tests" "[cuda]" > "$out/cuda_tests.log" 2>&1; tail -3 "$out/cuda_tests.log"

# ---- 2. kernel benchmark -----------------------------------------------------------------
step "bench kernels" 90 "$kvmix" bench kernels --device cuda --tokens 131072 --repeats 9 \
  --attention-tokens 32768,131072 --json > "$out/bench_kernels_cuda.json" 2> "$out/bench_kernels.err"
"$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); [print(x["name"], round(x.get("ratio_to_stream",0),2), round(x.get("speedup_vs_sdpa_fp16",0),2)) for x in r["results"]]' \
  "$out/bench_kernels_cuda.json" 2>&1 | tee "$out/bench_kernels_cuda.txt"

# ---- 3. tune on the built-in model -------------------------------------------------------
rm -rf "$out/tune-builtin"
step "tune builtin" 150 "$kvmix" tune --model builtin --device cuda --out "$out/tune-builtin" \
  > "$out/tune.log" 2>&1; tail -5 "$out/tune.log"
cmp -s "$out/tune-builtin/config.json" results/tune-builtin/config.json \
  && echo "tune: config.json equals results/tune-builtin's (the CPU run)" | tee -a "$steps" \
  || echo "tune: config.json differs from the CPU run's, or is missing" | tee -a "$steps"

# ---- 4. a random checkpoint with Llama-3.1-8B's shapes ----------------------------------
synth=$PWD/.cache/synthetic-$shape
step "write $shape" 90 "$py" scripts/gpu/synthetic_llama.py "$synth" --shape "$shape" > "$out/synthetic.log" 2>&1
cat "$out/synthetic.log"
step "bench model" 120 "$kvmix" bench model --model "$synth" --device cuda --contexts 4096,32768 \
  --decode-tokens 32 --repeats 3 --json "$out/bench_model_cuda.json" > "$out/bench_model_cuda.md" 2>&1
cat "$out/bench_model_cuda.md"
# One profile pass: every layer, one pair, one calibration batch. One cell = its time / layers.
step "profile KV4 one batch" 60 "$kvmix" profile --model "$synth" --device cuda --pairs KV4 \
  --calib-tasks text --calib-samples 8 -o "$out/synthetic-profile.json" > "$out/profile.log" 2>&1
tail -3 "$out/profile.log"
step "eval KV4" 60 "$kvmix" eval --model "$synth" --device cuda --pairs KV4 --tasks text,arith \
  --samples 16 -o "$out/synthetic-eval.json" > "$out/eval.log" 2>&1
tail -3 "$out/eval.log"

wait
tail -3 "$out/transformers.log"
cat "$steps"

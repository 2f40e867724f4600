#pragma once
// The GPU run of the kernel benchmark (`kvmix bench kernels --device cuda`): the same figures as
// the CPU run (kernel_bench.h), measured on the current CUDA device through the kvmix ops, with
// STREAM scale and the libtorch composite run on the GPU as the baselines.
#include "apps/bench/kernel_bench.h"

namespace kvmix::bench {

// Throws kvmix::Error when this kvmix's libtorch has no CUDA or no GPU is visible.
KernelBenchReport run_kernel_bench_cuda(const KernelBenchOptions& o);

}  // namespace kvmix::bench

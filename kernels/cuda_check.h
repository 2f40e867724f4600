#pragma once
// Every CUDA runtime call and kernel launch goes through CUDA_CHECK (llm.c's cudaCheck): a failure
// throws kvmix::Error with the call, the error name and the place, instead of carrying on.
#include <cuda_runtime.h>

namespace kvmix {
// Defined in kernels/cuda_check.cpp (plain C++, where kvmix::Error and fmt live).
[[noreturn]] void cuda_fail(const char* expr, const char* error, const char* file, int line);
}  // namespace kvmix

#define CUDA_CHECK(expr)                                                               \
  do {                                                                                 \
    const cudaError_t kvmix_err_ = (expr);                                             \
    if (kvmix_err_ != cudaSuccess)                                                     \
      ::kvmix::cuda_fail(#expr, cudaGetErrorString(kvmix_err_), __FILE__, __LINE__);   \
  } while (0)

// After a launch: the launch itself (bad configuration) and nothing else, kernels stay async.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

#pragma once
// The skip of the [cuda] test cases outside tests/kernels/ (which have their own in
// kernel_test_util.h): without a CUDA device they print the line CMake registers as the skip
// marker (SKIP_REGULAR_EXPRESSION), so ctest reports them as skipped, never as passed.
// at::hasCUDA() is true when libtorch has CUDA and a device is visible: where `kvmix --device cuda`
// runs (models/device.h), and only there.
#include <ATen/Context.h>

#include <cstdio>

namespace kvmix::test {

// A test case tagged [cuda] starts with `if (skip_without_cuda_device()) return;`.
inline bool skip_without_cuda_device() {
  if (at::hasCUDA()) return false;
  std::printf("kvmix-test: skipped: no CUDA device\n");
  std::fflush(stdout);
  return true;
}

}  // namespace kvmix::test

#pragma once
// The device a model runs on, as --device names it: "cpu", "cuda" (the current CUDA device) or
// "cuda:N". Parsed and checked before any work starts, so a machine or a build without CUDA is a
// usage error naming what is missing, not a libtorch failure after the model has loaded.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>

namespace kvmix {

// Throws UsageError naming --device and the accepted spellings for anything else ("gpu",
// "cuda:-1", "cuda:x", "CUDA").
at::Device parse_device(const std::string& name);

// The spelling parse_device reads back: "cpu", "cuda", "cuda:1".
std::string device_name(const at::Device& d);

// What this process can reach: whether its libtorch was built with CUDA, and how many CUDA
// devices are visible (0 without a GPU, or with CUDA_VISIBLE_DEVICES empty).
struct CudaRuntime {
  bool built = false;
  int64_t devices = 0;
};
// Asks libtorch. Only called for a CUDA device: it initializes the CUDA driver.
CudaRuntime cuda_runtime();

// Throws UsageError when `d` cannot be used here: a libtorch without CUDA, no visible CUDA
// device, or an index past the device count. The CPU is always usable.
void check_device_usable(const at::Device& d, const CudaRuntime& rt);

// parse_device, then check_device_usable against this process's CUDA runtime.
at::Device usable_device(const std::string& name);

// The compute dtype when --dtype is not given: bf16 on CUDA (what checkpoints are stored in, at
// half of fp32's memory, with tensor-core matmuls), fp32 on the CPU (kvmix's reference numbers).
at::ScalarType default_compute_dtype(const at::Device& d);

}  // namespace kvmix

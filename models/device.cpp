#include "models/device.h"

#include <ATen/Context.h>
#include <spdlog/fmt/fmt.h>

#include <limits>

#include "base/error.h"

namespace kvmix {

namespace {

constexpr const char* kSpellings = "cpu, cuda or cuda:N with N a device index from 0";

// c10::Device's own string constructor also takes other device types ("mps", "xla:0") and
// spellings kvmix does not document; --device accepts exactly the three forms.
bool parse_index(const std::string& digits, int64_t& out) {
  if (digits.empty() || digits.size() > 3) return false;  // c10::DeviceIndex holds at most 127
  out = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return false;
    out = 10 * out + (ch - '0');
  }
  return out <= std::numeric_limits<c10::DeviceIndex>::max();
}

}  // namespace

at::Device parse_device(const std::string& name) {
  if (name == "cpu") return at::Device(at::kCPU);
  if (name == "cuda") return at::Device(at::kCUDA);
  const std::string prefix = "cuda:";
  int64_t index = 0;
  if (name.compare(0, prefix.size(), prefix) == 0 && parse_index(name.substr(prefix.size()), index))
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  throw UsageError(
      fmt::format("--device '{}' is not a device kvmix runs on ({})", name, kSpellings));
}

std::string device_name(const at::Device& d) {
  if (d.is_cpu()) return "cpu";
  if (d.is_cuda())
    return d.has_index() ? fmt::format("cuda:{}", static_cast<int>(d.index())) : "cuda";
  return d.str();
}

CudaRuntime cuda_runtime() {
  CudaRuntime rt;
  // hasCUDART is true when the CUDA hooks are linked in (a CUDA build of libtorch, whether a GPU
  // is there or not); hasCUDA only when a device is also visible.
  rt.built = at::globalContext().hasCUDART();
  rt.devices = at::hasCUDA() ? static_cast<int64_t>(at::getNumGPUs()) : 0;
  return rt;
}

void check_device_usable(const at::Device& d, const CudaRuntime& rt) {
  if (d.is_cpu()) return;
  const std::string name = device_name(d);
  if (!d.is_cuda())
    throw UsageError(fmt::format("--device {}: kvmix runs models on the CPU or CUDA only", name));
  if (!rt.built)
    throw UsageError(fmt::format(
        "--device {}: this kvmix's libtorch has no CUDA support (it was built against a CPU-only "
        "libtorch); use --device cpu, or build kvmix with a CUDA libtorch",
        name));
  if (rt.devices <= 0)
    throw UsageError(fmt::format(
        "--device {}: no CUDA device is visible (no GPU, its driver not loaded, or "
        "CUDA_VISIBLE_DEVICES hides it); use --device cpu",
        name));
  if (d.has_index() && d.index() >= rt.devices)
    throw UsageError(
        fmt::format("--device {}: there {} {} visible CUDA device{} (cuda:0 to cuda:{})", name,
                    rt.devices == 1 ? "is" : "are", rt.devices, rt.devices == 1 ? "" : "s",
                    rt.devices - 1));
}

at::Device usable_device(const std::string& name) {
  const at::Device d = parse_device(name);
  if (!d.is_cpu()) check_device_usable(d, cuda_runtime());
  return d;
}

at::ScalarType default_compute_dtype(const at::Device& d) {
  return d.is_cuda() ? at::kBFloat16 : at::kFloat;
}

}  // namespace kvmix

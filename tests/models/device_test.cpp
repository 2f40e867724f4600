// --device values: the three spellings parse, everything else is a usage error naming the flag;
// a CUDA device is refused, naming what is missing, by a libtorch without CUDA, on a machine
// without a visible GPU, and past the device count. The runtimes are made up here, so every
// branch runs on any machine.
#include <catch2/catch.hpp>

#include "base/error.h"
#include "models/device.h"

using namespace kvmix;
using Catch::Contains;

TEST_CASE("parse_device reads cpu, cuda and cuda:N", "[models][device]") {
  CHECK(parse_device("cpu") == at::Device(at::kCPU));
  CHECK(parse_device("cuda") == at::Device(at::kCUDA));
  CHECK_FALSE(parse_device("cuda").has_index());
  CHECK(parse_device("cuda:0") == at::Device(at::kCUDA, 0));
  CHECK(parse_device("cuda:3") == at::Device(at::kCUDA, 3));
  CHECK(parse_device("cuda:127") == at::Device(at::kCUDA, 127));
  for (const char* name : {"cpu", "cuda", "cuda:0", "cuda:12"})
    CHECK(device_name(parse_device(name)) == name);
}

TEST_CASE("parse_device refuses other spellings with a usage error", "[models][device]") {
  for (const char* bad : {"", "gpu", "CUDA", "Cpu", "cuda:", "cuda:-1", "cuda:+1", "cuda:x",
                          "cuda:1x", "cuda:0:0", "cuda:128", "cuda:99999999999999999999", "mps",
                          "cuda ", " cpu", "cpu:0"}) {
    INFO("'" << bad << "'");
    CHECK_THROWS_AS(parse_device(bad), UsageError);
    CHECK_THROWS_WITH(parse_device(bad), Contains("--device") && Contains("cuda:N"));
  }
}

TEST_CASE("a CUDA device is refused naming what is missing", "[models][device]") {
  const CudaRuntime cpu_build{false, 0}, no_gpu{true, 0}, two_gpus{true, 2};
  for (const CudaRuntime& rt : {cpu_build, no_gpu, two_gpus})
    CHECK_NOTHROW(check_device_usable(at::Device(at::kCPU), rt));

  for (const char* name : {"cuda", "cuda:0"}) {
    INFO(name);
    const at::Device d = parse_device(name);
    CHECK_THROWS_AS(check_device_usable(d, cpu_build), UsageError);
    CHECK_THROWS_WITH(check_device_usable(d, cpu_build),
                      Contains(std::string("--device ") + name) &&
                          Contains("this kvmix's libtorch has no CUDA support"));
    CHECK_THROWS_AS(check_device_usable(d, no_gpu), UsageError);
    CHECK_THROWS_WITH(check_device_usable(d, no_gpu),
                      Contains(std::string("--device ") + name) &&
                          Contains("no CUDA device is visible"));
    CHECK_NOTHROW(check_device_usable(d, two_gpus));
  }
  CHECK_NOTHROW(check_device_usable(parse_device("cuda:1"), two_gpus));
  CHECK_THROWS_AS(check_device_usable(parse_device("cuda:2"), two_gpus), UsageError);
  CHECK_THROWS_WITH(check_device_usable(parse_device("cuda:2"), two_gpus),
                    Contains("--device cuda:2") && Contains("2 visible CUDA devices") &&
                        Contains("cuda:0 to cuda:1"));
  CHECK_THROWS_WITH(check_device_usable(parse_device("cuda:1"), CudaRuntime{true, 1}),
                    Contains("1 visible CUDA device (cuda:0 to cuda:0)"));
}

TEST_CASE("usable_device agrees with this process's CUDA runtime", "[models][device]") {
  CHECK(usable_device("cpu") == at::Device(at::kCPU));
  const CudaRuntime rt = cuda_runtime();
  if (rt.devices > 0) {
    CHECK(rt.built);
    CHECK(usable_device("cuda").is_cuda());
    CHECK(usable_device("cuda:0") == at::Device(at::kCUDA, 0));
    CHECK_THROWS_AS(usable_device(fmt::format("cuda:{}", rt.devices)), UsageError);
  } else {
    CHECK_THROWS_WITH(usable_device("cuda"),
                      Contains("--device cuda") &&
                          (Contains("no CUDA support") || Contains("no CUDA device")));
  }
}

TEST_CASE("the default compute dtype is bf16 on CUDA and fp32 on the CPU", "[models][device]") {
  CHECK(default_compute_dtype(at::Device(at::kCPU)) == at::kFloat);
  CHECK(default_compute_dtype(at::Device(at::kCUDA)) == at::kBFloat16);
  CHECK(default_compute_dtype(at::Device(at::kCUDA, 1)) == at::kBFloat16);
}

// The out-of-line half of CUDA_CHECK (kernels/cuda_check.h). Plain C++, compiled in every build.
#include "base/error.h"

namespace kvmix {

void cuda_fail(const char* expr, const char* error, const char* file, int line) {
  throw Error(fmt::format("CUDA error {} in `{}` at {}:{}", error, expr, file, line));
}

}  // namespace kvmix

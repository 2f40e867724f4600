#pragma once
// One CPU thread budget for the process. libtorch parallelizes with OpenMP (its intra-op pool,
// which kvmix's kernels share), but the OpenBLAS that does libtorch's matrix products starts its
// own pthreads, as many as the machine has cores. With both pools sized to the machine, a 2-core
// machine ran three busy threads and spent much of its time in the scheduler: `kvmix eval -t recall
// -n 8 -p KV4 -s kivi --threads 2` took 13.6 s (5.7 s of it system time) against 5.8 s with
// OpenBLAS on one thread (OPENBLAS_NUM_THREADS=1), and 6.5 s on one thread in all. So OpenMP gets
// the budget and OpenBLAS runs on the thread that calls it.
#include <ATen/Parallel.h>
#include <dlfcn.h>

namespace kvmix {

inline void set_cpu_threads(int threads) {
  at::set_num_threads(threads);
  // Looked up at run time: which BLAS sits behind libblas.so.3 is the system's choice (Debian's
  // alternatives), and only OpenBLAS has this entry point.
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set(1);
}

}  // namespace kvmix

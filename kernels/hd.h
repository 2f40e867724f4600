#pragma once
// KVMIX_HD marks a function callable from host and device code when nvcc compiles the file, and
// is a plain `inline` otherwise, so the format math is one definition for C++ and CUDA.
#if defined(__CUDACC__)
#define KVMIX_HD __host__ __device__ __forceinline__
#else
#define KVMIX_HD inline
#endif

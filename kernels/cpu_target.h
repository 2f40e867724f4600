#pragma once
// How the CPU kernels get SIMD without giving up portability: each hot function is compiled three
// times (AVX-512, AVX2+FMA+F16C, baseline x86-64) through GCC/Clang function multi-versioning and
// the loader picks the best clone for the running CPU (an ifunc). The loops inside are plain C++
// written so the auto-vectorizer handles them (lane-wise, no cross-iteration float reductions);
// -ffp-contract=off keeps the float results identical in every clone.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KVMIX_CPU_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
// AVX2 and baseline only: for kernels built on 64-byte vector-extension broadcasts, which GCC 12
// expands into 16 masked lane inserts inside AVX-512 target-attributed functions (it emits one
// vbroadcastss for AVX2). Their 16-lane vectors run as two 256-bit halves.
#define KVMIX_CPU_CLONES_AVX2 __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define KVMIX_CPU_CLONES
#define KVMIX_CPU_CLONES_AVX2
#endif

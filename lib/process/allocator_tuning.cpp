#include "lib/process/allocator_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace kvmix {

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  // 32 MB is the largest mmap threshold glibc accepts on 64-bit; larger blocks still come from mmap
  // (lib/dense_attention.cpp keeps its score blocks below this size for that reason).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

}  // namespace kvmix

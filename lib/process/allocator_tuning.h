#pragma once
// glibc hands blocks above its mmap threshold back to the kernel on free, so a forward pass that
// allocates the same large activations every step pays a page fault per 4 KB page each time
// (measured: page faults were a third of `kvmix eval`'s time). Raising the mmap and trim thresholds
// keeps freed blocks in the heap for reuse.
namespace kvmix {

void keep_freed_memory_for_reuse();

}  // namespace kvmix

#pragma once
// The baseline of the kernel benchmark: quantize+pack and unpack+dequantize written as a composite
// of libtorch ops, the way Python KV-quantization code does it. KIVI's PyTorch path (arXiv
// 2402.02750, github.com/jy-yuan/KIVI quant/new_pack.py): min and max per group, fp16 scale and
// zero, codes = clamp(round((x - min)/scale)) as int32, packed by OR-ing each code position
// shifted into place; groups of G along tokens (keys) or channels (values). In-place ops where
// Python code would use them. Runs on whatever device x is on.
#include <ATen/ATen.h>

namespace kvmix::bench {

struct TorchPacked {
  at::Tensor words, scale, zero;
};

// x [H, T, D]; groups of G tokens (per_channel) or G channels.
TorchPacked torch_quantize(const at::Tensor& x, int bits, bool per_channel, int64_t G);
at::Tensor torch_dequantize(const TorchPacked& p, int bits, bool per_channel, int64_t G,
                            at::IntArrayRef shape, at::ScalarType dtype);

}  // namespace kvmix::bench

#include "apps/bench/torch_composite.h"

#include <vector>

namespace kvmix::bench {

namespace {

// Groups of x [H, T, D] along the reduced dim `gdim` of the grouped view.
at::Tensor grouped_view(const at::Tensor& x, bool per_channel, int64_t G) {
  const int64_t H = x.size(0), T = x.size(1), D = x.size(2);
  return per_channel ? x.view({H, T / G, G, D}) : x.view({H, T, D / G, G});
}

}  // namespace

TorchPacked torch_quantize(const at::Tensor& x, int bits, bool per_channel, int64_t G) {
  const int64_t C = 32 / bits, gdim = per_channel ? 2 : 3;
  const double levels = (1 << bits) - 1;
  const at::Tensor xg = grouped_view(x.to(at::kFloat), per_channel, G);
  TorchPacked p;
  const at::Tensor mn = at::amin(xg, gdim, true), mx = at::amax(xg, gdim, true);
  p.scale = ((mx - mn) / levels).to(at::kHalf);
  p.zero = mn.to(at::kHalf);
  const at::Tensor q = (xg - p.zero.to(at::kFloat)).div_(p.scale.to(at::kFloat)).round_().clamp_(0, levels).to(at::kInt);
  // split the group dim into [W, C] and OR the C code positions into one word each
  std::vector<int64_t> shape = q.sizes().vec();
  shape[gdim] = G / C;
  shape.insert(shape.begin() + gdim + 1, C);
  const at::Tensor qs = q.view(shape);
  p.words = qs.select(gdim + 1, 0).clone();
  for (int64_t j = 1; j < C; ++j) p.words.bitwise_or_(at::bitwise_left_shift(qs.select(gdim + 1, j), bits * j));
  return p;
}

at::Tensor torch_dequantize(const TorchPacked& p, int bits, bool per_channel, int64_t G,
                            at::IntArrayRef shape, at::ScalarType dtype) {
  const int64_t C = 32 / bits, gdim = per_channel ? 2 : 3;
  std::vector<int64_t> sh(p.words.dim() + 1, 1);
  sh[gdim + 1] = C;
  const at::Tensor shifts = (at::arange(C, p.words.options().dtype(at::kInt)) * bits).view(sh);
  const at::Tensor q = at::bitwise_right_shift(p.words.unsqueeze(gdim + 1), shifts).bitwise_and_((1 << bits) - 1);
  std::vector<int64_t> gshape = p.words.sizes().vec();
  gshape[gdim] = G;
  const at::Tensor x = q.view(gshape).to(at::kFloat).mul_(p.scale.to(at::kFloat)).add_(p.zero.to(at::kFloat));
  return x.view(shape).to(dtype);
}

}  // namespace kvmix::bench

#include "kernels/quant_layout.h"

#include "base/error.h"  // KVMIX_CHECK

namespace kvmix {

namespace {
constexpr int64_t kMaxGroup = 1 << 16;  // a sanity bound: G codes of one group index with int32
}

void validate_format(const QuantFormat& f, int64_t channels) {
  const std::string name = format_name(f);
  KVMIX_CHECK(f.kind != QuantKind::kNone,
              "format {}: the model dtype is stored as is, there is nothing to quantize", name);
  KVMIX_CHECK(channels >= 1, "format {}: the channel axis is empty (D = {})", name, channels);
  if (f.kind == QuantKind::kFp8E4M3) return;
  if (f.kind == QuantKind::kUniform) {
    KVMIX_CHECK(f.bits == 1 || f.bits == 2 || f.bits == 3 || f.bits == 4 || f.bits == 8,
                "format {}: unsupported bits {} (uniform formats have 1, 2, 3, 4 or 8 bits)", name,
                f.bits);
  }
  KVMIX_CHECK(f.group >= 0 && f.group <= kMaxGroup, "format {}: group {} is outside [0, {}]",
              name, f.group, kMaxGroup);
  if (f.axis == QuantAxis::kPerChannel) {
    KVMIX_CHECK(f.group > 0,
                "format {}: a per-channel group counts tokens and must be >= 1 (group 0 = head_dim "
                "is defined for per-token groups only)",
                name);
  } else {
    const int64_t g = resolved_group(f, channels);
    KVMIX_CHECK(channels % g == 0,
                "format {}: per-token group {} does not divide the channel axis D = {}", name, g,
                channels);
  }
}

PackedLayout packed_layout(const QuantFormat& f, int64_t lead, int64_t tokens, int64_t channels) {
  validate_format(f, channels);
  KVMIX_CHECK(lead >= 0 && tokens >= 0, "format {}: negative sizes (lead {}, tokens {})",
              format_name(f), lead, tokens);
  PackedLayout l;
  l.lead = lead;
  l.tokens = tokens;
  l.channels = channels;
  if (f.kind == QuantKind::kFp8E4M3) {
    l.group = 0;
    l.words = (channels + 3) / 4;
    l.rows = tokens;
    l.cols = 1;
    return l;
  }
  l.group = resolved_group(f, channels);
  l.words = words_per_group(f, l.group);
  if (f.axis == QuantAxis::kPerChannel) {
    l.rows = (tokens + l.group - 1) / l.group;
    l.cols = channels;
  } else {
    l.rows = tokens;
    l.cols = channels / l.group;
  }
  return l;
}

}  // namespace kvmix

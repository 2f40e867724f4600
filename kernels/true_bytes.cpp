// True bytes of a stored tensor (kernels/ops.h): what the packed layout really occupies, not the
// nominal bits. KVTuner's "equivalent bits" count b per element; kvmix also counts the padding of
// each group to whole 32-bit words, the scales and zeros, and the residual window kept in the
// model dtype.
#include "kernels/ops.h"
#include "kernels/quant_layout.h"
#include "base/error.h"  // KVMIX_CHECK

namespace kvmix {

int64_t true_bytes(int64_t lead, int64_t tokens, int64_t channels, const QuantFormat& f,
                   int model_dtype_bytes) {
  KVMIX_CHECK(lead >= 0 && tokens >= 0 && channels >= 0 && model_dtype_bytes > 0,
              "true_bytes: bad sizes (lead {}, tokens {}, channels {}, dtype bytes {})", lead,
              tokens, channels, model_dtype_bytes);
  if (f.kind == QuantKind::kNone) return lead * tokens * channels * model_dtype_bytes;
  const int64_t resid = residual_tokens(f, tokens);
  const PackedLayout l = packed_layout(f, lead, tokens - resid, channels);
  const int64_t residual_bytes = lead * resid * channels * model_dtype_bytes;
  const int64_t code_bytes = l.code_words() * 4;
  const int64_t nscales = l.tokens == 0 ? 0 : scale_count(f, l);  // nothing packed, no scales
  const int64_t param_bytes = nscales * scale_bytes(f.scale_dtype) * (has_zeros(f) ? 2 : 1);
  return code_bytes + param_bytes + residual_bytes;
}

}  // namespace kvmix

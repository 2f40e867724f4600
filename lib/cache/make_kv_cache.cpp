#include "lib/cache/make_kv_cache.h"

#include "base/error.h"
#include "lib/cache/fake_quant_kv_cache.h"
#include "lib/cache/full_kv_cache.h"
#include "lib/cache/packed_kv_cache.h"

namespace kvmix {

CacheKind parse_cache_kind(const std::string& s) {
  if (s == "full") return CacheKind::kFull;
  if (s == "fake" || s == "fake-quant") return CacheKind::kFakeQuant;
  if (s == "packed") return CacheKind::kPacked;
  throw UsageError("unknown cache kind '" + s + "' (expected full, fake or packed)");
}

const char* cache_kind_name(CacheKind k) {
  switch (k) {
    case CacheKind::kFull: return "full";
    case CacheKind::kFakeQuant: return "fake";
    case CacheKind::kPacked: return "packed";
  }
  return "?";
}

std::unique_ptr<KvCache> make_kv_cache(CacheKind kind, const KvShape& shape,
                                       const std::vector<LayerKvFormat>& formats) {
  switch (kind) {
    case CacheKind::kFull: return std::make_unique<FullKvCache>(shape);
    case CacheKind::kFakeQuant: return std::make_unique<FakeQuantKvCache>(shape, formats);
    case CacheKind::kPacked: return std::make_unique<PackedKvCache>(shape, formats);
  }
  KVMIX_ASSERT(false, "unknown cache kind");
}

}  // namespace kvmix

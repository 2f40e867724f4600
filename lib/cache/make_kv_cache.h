#pragma once
// Builds a KV cache of a given kind from per-layer formats.
#include <memory>
#include <string>
#include <vector>

#include "lib/cache/kv_cache.h"
#include "lib/kv_pair.h"

namespace kvmix {

enum class CacheKind { kFull, kFakeQuant, kPacked };

CacheKind parse_cache_kind(const std::string& s);  // "full", "fake", "packed"
const char* cache_kind_name(CacheKind k);

// formats are ignored for kFull.
std::unique_ptr<KvCache> make_kv_cache(CacheKind kind, const KvShape& shape,
                                       const std::vector<LayerKvFormat>& formats);

}  // namespace kvmix

#pragma once
// Token-importance policies: the interface between lib/policies/policy_kv_cache.h (which stores
// the tokens, runs the attention and counts the bytes) and one policy (which decides, after each
// layer's attention, which tokens stay and at which precision).
//
// Every (sequence, layer, KV head, slot) has a tier:
//   dropped  evicted (or a padding slot): never attended again, costs nothing
//   low      quantized with the policy's low-bit format (per token)
//   high     quantized with the policy's high-bit format (per token)
//   full     the model dtype (fp16): new tokens, and the kept tokens of pure eviction policies
// A tier only goes down (full -> high -> low -> dropped): what was dropped or quantized cannot be
// recovered.
//
// After each layer's attention the policy returns an Allocation: a priority per slot and how many
// slots each head keeps at the high tier and at the low tier. The cache ranks the live slots of each
// head by priority: the first n_high are kept at the high tier, the next n_low at the low tier, the
// rest are dropped. Eviction policies keep everything at one tier (n_low = 0).
//
// The budget is a fraction of the fp16 cache of the same tokens, per sequence and layer:
//   budget(b, layer) = fraction * tokens_seen[b] * kv_heads * 2 * head_dim * model_dtype_bytes,
// split evenly over the KV heads, and it must hold after every step (prefill and each decode step).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "kernels/quant_format.h"
#include "lib/cache/kv_cache.h"

namespace kvmix {

enum class Tier : uint8_t { kDropped = 0, kLow = 1, kHigh = 2, kFull = 3 };

// The formats of the quantized tiers, for K and V of one token (per-token axis, no residual).
// kNone means the model dtype. A policy that never uses a tier leaves it kNone.
struct TierFormats {
  QuantFormat k_high, v_high;
  QuantFormat k_low, v_low;
};

// What a policy sees of one layer's attention step.
struct PolicyStep {
  int64_t layer = 0;
  const at::Tensor& q;            // [B, Hq, Tq, D], RoPE applied
  const at::Tensor& keys;         // [B, Hkv, Tk, D] as stored (the step's new slots last)
  const at::Tensor& probs;        // [B, Hq, Tq, Tk] fp32; rows of padding queries are zero
  const at::Tensor& query_valid;  // [B, Tq] bool: the step's real tokens
  const at::Tensor& slot_valid;   // [B, Tk] bool: real tokens (false: left/right padding)
  const at::Tensor& tier;         // [B, Hkv, Tk] uint8 (Tier), new slots full, padding dropped
  const at::Tensor& head_budget;  // [B] double: bytes each KV head of this layer may hold
  int64_t tokens_before = 0;      // slots held before this step (Tk - Tq)
};

struct Allocation {
  at::Tensor priority;  // [B, Hkv, Tk] double: higher is kept first (dead slots are ignored)
  at::Tensor n_high;    // [B, Hkv] int64: live slots kept at the high tier
  at::Tensor n_low;     // [B, Hkv] int64: live slots kept at the low tier (after the high ones)
  // [B, Hkv] int64, optional (undefined: none): live slots ranked before the high ones that stay
  // in the model dtype if they still are (a full-precision window, e.g. VidKV's value groups that
  // are not complete yet). A slot already quantized is not raised: it keeps its tier.
  at::Tensor n_full{};
};

// Bytes of one token of one KV head at each tier, plus what every kept token carries besides its
// codes (index, policy state) and what each head holds once (balancer factors).
struct TierCosts {
  double full = 0;      // K + V in the model dtype
  double high = 0;      // K + V codes, scales and zeros in the high formats
  double low = 0;
  double per_token = 0; // index and state bytes per kept token (shared ones divided over heads)
  double per_head = 0;  // fixed bytes per head and layer (once anything is kept)
};

class TokenPolicy {
 public:
  virtual ~TokenPolicy() = default;
  virtual std::string describe() const = 0;

  // Formats of the quantized tiers; the default (all kNone) is a pure eviction policy whose kept
  // tokens stay in the model dtype.
  virtual TierFormats formats() const { return {}; }

  // Index and state bytes per kept token per KV head. Default: a 32-bit position per kept token
  // and head, the gather index an engine that keeps a different subset per head needs.
  virtual double per_token_bytes(const KvShape& s) const { return 4.0; }
  // Bytes each KV head of each layer holds once (e.g. MiKV's balancer factors).
  virtual double per_head_bytes(const KvShape& s) const { return 0.0; }

  // Called once per layer step, after the attention, before the allocation: the policy's chance
  // to grow its per-slot state. Must be followed by allocate() for the same step.
  virtual Allocation allocate(const PolicyStep& step, const TierCosts& costs) = 0;

  // Quantize-dequantize of tokens moved to a quantized tier: x [B, Hkv, T, D] (keys or values of
  // one layer) as stored, returns what the tier stores, dequantized; only the slots where `moved`
  // [B, Hkv, T] bool is true are taken from the result (the others are not moving to this tier).
  // Default: fake_quant with the tier's format (kernels/ops.h), per token, so `moved` is not needed.
  virtual at::Tensor quantize(int64_t layer, Tier tier, bool is_key, const at::Tensor& x,
                              const at::Tensor& moved) const;

  // The keys the step's attention reads: keys [B, Hkv, Tk, D] as stored (RoPE at each token's
  // original position), live [B, Hkv, Tk] the kept slots, slot_valid [B, Tk] the real ones.
  // Default: as stored. StreamingLLM with positions within the cache re-rotates them.
  virtual at::Tensor attention_keys(const at::Tensor& keys, const at::Tensor& live,
                                    const at::Tensor& slot_valid) const {
    return keys;
  }

  // True when a key is stored the same at the high and the low tier (only values differ): a key
  // moving from high to low is then kept as it is instead of being quantized again.
  virtual bool keys_tier_independent() const { return false; }

  // Bytes of the K and V of one token of one head at a quantized tier; default: true_bytes of the
  // tier's formats for one token.
  virtual double tier_bytes(const KvShape& s, Tier tier) const;
};

// The tiers after an allocation: each head's live slots ranked by priority, the first n_full kept
// as they are, the next n_high at `high` (kHigh, or kFull when the high tier is the model dtype),
// the next n_low at kLow, the rest dropped; a tier never goes up. tier [B, Hkv, Tk] uint8 -> the
// same shape.
at::Tensor assign_tiers(const at::Tensor& tier, const Allocation& a, Tier high);

// ---- helpers the policies share ----------------------------------------------------------

// Attention each KV head's slots received in this step: probs summed over the query heads that
// share the KV head and over the step's real queries. [B, Hkv, Tk] fp32.
at::Tensor head_attention(const PolicyStep& s);

// Live slots (tier != dropped): [B, Hkv, Tk] bool.
at::Tensor live_slots(const at::Tensor& tier);

// Position of each slot among its head's live slots counted from the newest: 0 for the newest
// live slot, 1 for the one before it ... [B, Hkv, Tk] int64 (dead slots get a large value).
at::Tensor recency_rank(const at::Tensor& live);

// Sequence position of each slot (0 for the first real token of the sequence), from the validity
// of the slots [B, Tk] bool: [B, Tk] int64 (padding slots get -1).
at::Tensor sequence_positions(const at::Tensor& slot_valid);

// How many tokens each head keeps when all are at one tier costing `cost` bytes (plus the
// per-token overhead): floor((budget - per_head) / (cost + per_token)), at least 0, at most
// `live`. budget [B] double, live [B, Hkv] int64 -> [B, Hkv] int64.
at::Tensor fit_one_tier(const at::Tensor& head_budget, const at::Tensor& live, double cost,
                        const TierCosts& c);

// Mixed precision: keep every live token if the budget affords them all at the low tier, and move
// as many as it affords to the high tier; otherwise keep as many as fit at the low tier and none at
// high. n_high is then capped at `max_high` (undefined: no cap), the rest stay low. head_budget is
// [B] (the same for every head) or [B, Hkv]. Returns {n_high, n_low}, each [B, Hkv] int64.
std::pair<at::Tensor, at::Tensor> fit_two_tiers(const at::Tensor& head_budget,
                                                const at::Tensor& live, const TierCosts& c,
                                                const at::Tensor& max_high = {});

// Priority that keeps a slot before any score-ranked slot, newer first among themselves.
at::Tensor protected_priority(const at::Tensor& slot_index);  // [.., Tk] int64 -> double
constexpr double kProtectedPriority = 1e12;  // above any attention sum (<= queries * heads)

}  // namespace kvmix

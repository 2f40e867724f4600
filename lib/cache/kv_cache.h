#pragma once
// The KV cache interface the model's forward pass talks to. One implementation per policy: full
// precision, fake-quant, packed mixed precision, and the eviction / importance policies. The model
// never branches on which one it has.
//
// Batches: B sequences share the slot axis. Prompts are LEFT-padded so that every sequence's
// newest token is in the last slot; padded slots are marked invalid and never attended to. Each
// step appends Tq slots (a prefill chunk, or Tq = 1 when decoding) to every layer.
//
// Semantics of a step (the same as Hugging Face's quantized caches and KIVI): the new tokens
// attend to the stored past (as the cache stores it: possibly quantized or evicted) and to
// themselves in full precision; then the cache stores them.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "lib/kv_shape.h"

namespace kvmix {

// What an observer (the profiler, a policy study) sees of one layer's attention in one step.
struct AttentionEvent {
  int64_t layer;
  const at::Tensor& q;          // [B, Hq, Tq, D], RoPE applied
  const at::Tensor& k_new;      // [B, Hkv, Tq, D] this step's keys, full precision
  const at::Tensor& v_new;      // [B, Hkv, Tq, D]
  const at::Tensor& keys;       // [B, Hkv, Tk, D] everything attended, as the cache holds it
  const at::Tensor& values;     // [B, Hkv, Tk, D]
  const at::Tensor& key_valid;  // [B, Tk] bool
  const at::Tensor& probs;      // [B, Hq, Tq, Tk] fp32
  const at::Tensor& output;     // [B, Hq, Tq, D]
};

class AttentionObserver {
 public:
  virtual ~AttentionObserver() = default;
  virtual void on_attention(const AttentionEvent& e) = 0;
};

class KvCache {
 public:
  explicit KvCache(const KvShape& shape) : shape_(shape) {}
  virtual ~KvCache() = default;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // Starts a step of Tq new slots per sequence; new_valid [B, Tq] bool (false = left padding).
  // Returns the RoPE positions of the new tokens [B, Tq] int64 (padding gets position 0).
  at::Tensor begin_step(const at::Tensor& new_valid);

  // One layer of the step: q [B, Hq, Tq, D], k and v [B, Hkv, Tq, D] (RoPE applied to q and k).
  // Returns the attention output [B, Hq, Tq, D] in q's dtype, and stores k and v.
  virtual at::Tensor attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                            const at::Tensor& v) = 0;

  // Bytes the cache holds now, as a serving engine would store them: codes, scales, zeros,
  // full-precision windows (at shape().model_dtype_bytes), masks and indices a policy keeps.
  virtual int64_t true_bytes() const = 0;

  // A one-line description for logs and reports.
  virtual std::string describe() const = 0;

  // Real tokens seen so far per sequence [B] int64 (not the slots held: eviction drops slots).
  const at::Tensor& tokens_seen() const { return seen_; }
  int64_t batch() const { return seen_.defined() ? seen_.size(0) : 0; }
  const KvShape& shape() const { return shape_; }

  // The observer receives every layer's attention (with probabilities) until reset to nullptr.
  void set_observer(AttentionObserver* o) { observer_ = o; }
  AttentionObserver* observer() const { return observer_; }

 protected:
  // Validity of this step's new slots [B, Tq], set by begin_step.
  const at::Tensor& step_valid() const { return step_valid_; }
  // For caches that start from an existing prefix (lib/cache/prefix_kv_cache.h).
  void set_tokens_seen(const at::Tensor& seen) { seen_ = seen; }

 private:
  KvShape shape_;
  at::Tensor seen_;        // [B] int64
  at::Tensor step_valid_;  // [B, Tq] bool
  AttentionObserver* observer_ = nullptr;
};

}  // namespace kvmix

#pragma once
// A small deterministic random generator (SplitMix64 seeding xoshiro256**, Blackman & Vigna 2018).
// kvmix uses it instead of <random>'s distributions, whose outputs differ between standard
// libraries: generated tasks must be the same bytes on every machine for a given seed.
#include <cstdint>
#include <string_view>

namespace kvmix {

inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// FNV-1a 64 of a string: stable seeds derived from names.
inline uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& x : s_) x = splitmix64(seed);
  }
  // Derives an independent stream from several integers (e.g. task seed, split, sample index).
  static Rng from(uint64_t a, uint64_t b, uint64_t c = 0) {
    uint64_t s = a;
    uint64_t h = splitmix64(s) ^ (b * 0xD1B54A32D192ED03ULL);
    s = h;
    h = splitmix64(s) ^ (c * 0x8CB92BA72F3D8DD7ULL);
    return Rng(h);
  }
  uint64_t next() {
    const uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0], s_[3] ^= s_[1], s_[1] ^= s_[2], s_[0] ^= s_[3], s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }
  // Uniform integer in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 for n < 2^32).
  uint64_t uniform(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  int64_t range(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(uniform(static_cast<uint64_t>(hi - lo + 1)));
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace kvmix

#pragma once
// A fingerprint of a model's weights: what a stored profile, journal or evaluation was computed
// on. config.json alone cannot tell two checkpoints of one architecture apart (a fine-tune, another
// seed), and a profile of one must never be replayed for the other.
#include <string>

#include "models/model.h"

namespace kvmix {

// 16 hex digits over every tensor's name, dtype, shape and bytes, in checkpoint order. Not a
// cryptographic hash: it tells honest files apart, which is its job here. Reads every byte once
// (about a second per few GB).
std::string weights_hash(const Model& m);

}  // namespace kvmix

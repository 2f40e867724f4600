#pragma once
// KVTuner's per-layer preset (arXiv 2502.04420, its calibration_presets/*.yaml), both ways:
//
//   0:
//     nbits_key: 4
//     nbits_value: 2
//   1: ...
//
// The file holds bits only. The encoding comes from the scheme KVTuner ran with, which its
// published presets carry in the file name (..._kivi_KVTuner4_1.yaml, ..._pertoken_...): kivi
// (keys per-channel, values per-token, group 32, residual 32) or per-token (group = head_dim, no
// residual), kvmix's two schemes of the same names (lib/kv_pair.h).
//
// Export lowering rule: each layer's K and V bits are written as they are; the scheme goes into
// the suggested file name and a comment. What a YAML of bits cannot say is listed as a loss:
// formats that are not the scheme's own (another group, residual, symmetry or scale dtype), fp8
// written as 8-bit integers, ternary written as 2 bits.
// Import: a KvConfig for a given model shape under the scheme; errors name the file and the
// layer (malformed YAML, a missing nbits, unsupported bits, layer count against the model). What
// PyYAML (KVTuner's reader) would read differently is refused, not guessed: a repeated key, more
// than one document, integers with a leading zero. So is a scheme whose groups do not fit the
// model's head_dim (kivi on 16 or 48).
#include <optional>
#include <string>

#include "lib/export/export_result.h"
#include "lib/kv_config.h"

namespace kvmix {

ExportResult export_kvtuner(const KvConfig& c);

// The scheme a preset's file name names ("kivi", "pertoken"/"per-token"/"per_token"), if any.
// A name that names both is a UsageError.
std::optional<Scheme> scheme_from_preset_name(const std::string& path);

// Parses preset text (`source` names it in errors) into per-layer formats for `model`.
KvConfig import_kvtuner(const std::string& yaml_text, const std::string& source, Scheme scheme,
                        const KvShape& model);

// Reads a preset file; the scheme is `scheme` if given, else the file name's (UsageError when
// neither says). reference_tokens is the context the config's bytes per token are reported at.
KvConfig load_kvtuner_preset(const std::string& path, std::optional<Scheme> scheme,
                             const KvShape& model, int64_t reference_tokens = 4096);

}  // namespace kvmix

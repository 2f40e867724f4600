#pragma once
// Builds a token policy from its name: the one place names are parsed (no magic strings past the
// edge: DESIGN.md, "Coding habits").
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "lib/policies/h2o.h"
#include "lib/policies/kvcrush.h"
#include "lib/policies/mikv.h"
#include "lib/policies/snapkv.h"
#include "lib/policies/streaming_llm.h"
#include "lib/policies/token_policy.h"
#include "lib/policies/vidkv.h"
#include "lib/policies/zipvl.h"

namespace kvmix {

enum class PolicyKind { kStreamingLlm, kH2o, kSnapKv, kTova, kMikv, kZipvl, kKvCrush, kVidKv, kKnorm };

// Every policy's parameters, with the defaults documented in each policy's header.
struct PolicyOptions {
  StreamingLlmOptions streaming;
  H2oOptions h2o;
  SnapKvOptions snapkv;
  MikvOptions mikv;
  ZipvlOptions zipvl;
  KvCrushOptions kvcrush;
  VidKvOptions vidkv;
};

// "streaming" (or "streamingllm"), "h2o", "snapkv", "tova", "knorm", "mikv", "zipvl", "kvcrush",
// "vidkv".
// UsageError otherwise.
PolicyKind parse_policy(const std::string& name);
const char* policy_name(PolicyKind k);
std::vector<PolicyKind> all_policies();

// Every parameter as JSON, and back (checked, naming `where`): how a policy study's run reaches
// another rank of an MPI job (search/policy_study.h). StreamingLLM's RoPE frequencies are left out:
// they are the model's, and each rank fills them in from its copy.
nlohmann::json policy_options_to_json(const PolicyOptions& o);
PolicyOptions policy_options_from_json(const nlohmann::json& j, const std::string& where);

std::unique_ptr<TokenPolicy> make_token_policy(PolicyKind k, int64_t layers,
                                               const PolicyOptions& o = {});

}  // namespace kvmix

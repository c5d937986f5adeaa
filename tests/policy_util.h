// Tiny Copycat and DPO checkpoints for tests (well under a second to train).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "amrs/agents/policy.h"
#include "amrs/env/env.h"
#include "test_util.h"

namespace amrs::testing {

inline agents::PolicyConfig TinyPolicyConfig() {
  agents::PolicyConfig c;
  c.d_model = 8;
  c.heads = 2;
  c.layers = 1;
  c.ff = 16;
  c.max_context = 32;
  return c;
}

inline agents::CopycatOptions TinyCopycat(const std::string& out, std::uint64_t seed = 0) {
  agents::CopycatOptions o;
  o.model = TinyPolicyConfig();
  o.epochs = 2;
  o.batch = 16;
  o.negatives = 8;
  o.max_train_users = 12;
  o.seed = seed;
  o.out = out;
  return o;
}

inline agents::DpoOptions TinyDpo(const std::string& reference, const std::string& out, double beta = 0.1) {
  agents::DpoOptions o;
  o.reference = reference;
  o.out = out;
  o.beta = beta;
  o.epochs = 2;
  o.batch = 16;
  o.lr = 1e-3;
  o.pairs.pool = 6;
  o.pairs.max_pairs = 60;
  return o;
}

// Trains copycat-seed-0 and dpo-seed-0 into `dir` on the context's dataset and world; returns
// the agent parameters that point the copycat and dpo agents at them.
inline std::map<std::string, std::string> TrainTinyPolicies(std::shared_ptr<const env::EnvContext> ctx,
                                                            const TempDir& dir) {
  const std::string cc = dir.File("copycat-seed-{seed}.pt"), dp = dir.File("dpo-seed-{seed}.pt");
  agents::TrainCopycat(ctx->dataset(), TinyCopycat(agents::ExpandSeed(cc, 0)), nullptr);
  agents::TrainDpo(ctx, TinyDpo(agents::ExpandSeed(cc, 0), agents::ExpandSeed(dp, 0)), nullptr);
  return {{"copycat", cc}, {"dpo", dp}};
}

}  // namespace amrs::testing

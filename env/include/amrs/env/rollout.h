// The rollout engine: every (user, window) episode of a part of the split, run in batches of
// envs stepped in lockstep, batches spread over TBB workers. Deterministic in the seed whatever
// the thread count: episode e is seeded with seed + e and each batch's policy with a seed derived
// from (seed, batch index).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "amrs/env/env.h"
#include "amrs/env/policy.h"

namespace amrs::env {

struct RolloutOptions {
  data::Part part = data::Part::kTest;
  std::int32_t batch = 64;      // envs per VectorEnv (one TBB task each)
  std::int32_t topk = 10;       // length of the logged top-k lists (0: none)
  std::int32_t max_users = 0;   // 0: every user of the part; else the first max_users
  // If not empty: only these dataset user indices (each must be in the part), before max_users.
  std::vector<std::int32_t> users;
  ResetOptions reset;           // template for every episode (part/user/window are set here)
  void Validate() const;
};

// Every episode of one agent and one seed, row-major over (episode, step[, rank]).
struct EpisodeBlock {
  std::string agent;
  std::uint64_t seed = 0;
  std::int32_t horizon = 0, topk = 0;
  std::vector<std::uint64_t> episode_seed;
  std::vector<std::int32_t> user, window_index, window_start, window_length;
  std::vector<std::int32_t> actions;  // E x L
  std::vector<std::int32_t> ranked;   // E x L x topk
  std::vector<float> engagement, rating, valence, arousal, reward;  // E x L
  std::int32_t episodes() const { return static_cast<std::int32_t>(user.size()); }
};

using PolicyFactory = std::function<std::unique_ptr<Policy>()>;
// Called from worker threads after each batch (must be thread-safe).
using RolloutProgress = std::function<void(std::int64_t done, std::int64_t total)>;

EpisodeBlock RunRollouts(std::shared_ptr<const EnvContext> context, const PolicyFactory& make_policy,
                         const std::string& agent, std::uint64_t seed, const RolloutOptions& options,
                         const RolloutProgress& progress = {});

}  // namespace amrs::env

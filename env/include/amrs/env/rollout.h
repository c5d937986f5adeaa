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

#include "amrs/core/episodes.h"
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
  // Sharded rollouts (docs/distributed.md): only the batches bi with bi % shard_count ==
  // shard_rank run here; the other episodes keep empty values until MergeShards fills them.
  std::int32_t shard_rank = 0, shard_count = 1;
  void Validate() const;
};

// Every episode of one agent and one seed (core's episode arrays).
using EpisodeBlock = amrs::EpisodeBlock;

using PolicyFactory = std::function<std::unique_ptr<Policy>()>;
// Called from worker threads after each batch (must be thread-safe).
using RolloutProgress = std::function<void(std::int64_t done, std::int64_t total)>;

EpisodeBlock RunRollouts(std::shared_ptr<const EnvContext> context, const PolicyFactory& make_policy,
                         const std::string& agent, std::uint64_t seed, const RolloutOptions& options,
                         const RolloutProgress& progress = {});

// Is the simulator's uncertainty informative (docs/ensembles.md)? Replays every episode of `b` (a
// block RunRollouts made with `options`) in `oracle` -- an env context of the oracle world with
// the same configuration (split, horizon, windows) as the block's -- with the same episode seeds,
// users, windows and reset options, taking the block's actions, and returns, per step (E x L), the
// utility-weighted absolute error of the block's logged prediction against the oracle's for the
// same action: sum over signals of |w_s| |logged_s - oracle_s| (w: options.reset.utility). Runs the
// batches of options' shard only (the others stay 0 until MergeShards). ArgumentError when
// `oracle`'s world is not the oracle or the block does not fit `options`.
// Also the oracle's feedback of each action (E x L x 4: engagement, rating, valence, arousal).
struct OracleReplay {
  std::vector<float> error, feedback;
};
OracleReplay ReplayInOracle(std::shared_ptr<const EnvContext> oracle, const EpisodeBlock& b,
                            const RolloutOptions& options);

// The episodes of batches bi % count == rank of a block made with batch size `batch`, as bytes
// (PackShard), and the block completed from every rank's bytes, in rank order (MergeShards: `b`
// has every array sized, as RunRollouts makes it on any shard). Values are copied bit for bit, so
// the merged block equals the single-process one. InputError when the bytes do not fit the block.
std::string PackShard(const EpisodeBlock& b, std::int32_t batch, int rank, int count);
void MergeShards(EpisodeBlock& b, const std::vector<std::string>& shards, std::int32_t batch);

}  // namespace amrs::env

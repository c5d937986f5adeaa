// What the rollout engine needs of a recommender. agents::Agent (agents/agent.h) is the public
// plugin interface built on it; the env module depends only on this contract.
#pragma once

#include <cstdint>
#include <vector>

#include "amrs/env/env.h"

namespace amrs::env {

// A policy's answer for one batch of observations.
struct Decision {
  std::vector<std::int32_t> actions;              // one catalogue index per observation
  std::vector<std::vector<std::int32_t>> ranked;  // top-k per observation, best first (empty if k == 0)
};

// Not thread-safe: the rollout engine creates one per worker.
class Policy {
 public:
  virtual ~Policy() = default;
  // Re-seeds the policy's own randomness.
  virtual void Reset(std::uint64_t seed) = 0;
  // One catalogue index per observation and, when k > 0, the policy's top-k songs per
  // observation (for adherence metrics). One call per batch state: the env steps after it.
  virtual Decision Act(const ObservationBatch& batch, std::int32_t k) = 0;
};

// Applies the batch's no-replay rule (ObservationBatch::banned) to an agent's decision, the same
// way for every agent: banned songs are removed from each top-k list (the rest keep their order;
// the list gets shorter), and a banned action is replaced by the agent's best-ranked allowed song
// of its (unfiltered) top-k list or, when that list has none, by the next allowed catalogue index
// after it (wrapping around). Returns the number of actions replaced. Rows without a ranked list
// are left as they are; `decision` must have one action per row (the caller checks).
std::int64_t EnforceNoReplay(const ObservationBatch& batch, Decision& decision, std::int32_t num_songs);

}  // namespace amrs::env

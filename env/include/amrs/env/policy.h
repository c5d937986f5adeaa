// What the rollout engine needs of a recommender. agents::Agent (agents/agent.h) is the public
// plugin interface built on it; the env module depends only on this contract.
#pragma once

#include <cstdint>
#include <vector>

#include "amrs/env/env.h"

namespace amrs::env {

// Not thread-safe: the rollout engine creates one per worker.
class Policy {
 public:
  virtual ~Policy() = default;
  // Re-seeds the policy's own randomness.
  virtual void Reset(std::uint64_t seed) = 0;
  // One catalogue index per observation.
  virtual std::vector<std::int32_t> Act(const ObservationBatch& batch) = 0;
  // The policy's top-k songs per observation, best first (for adherence metrics).
  virtual std::vector<std::vector<std::int32_t>> Rank(const ObservationBatch& batch, std::int32_t k) = 0;
};

}  // namespace amrs::env

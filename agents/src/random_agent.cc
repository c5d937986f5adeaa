// The Random agent: uniform over the catalogue. It is also the annotated template for writing
// an agent: copy this file, rename the class and the registered name, fill in Act and Rank.
// Checklist: docs/adding-an-agent.md.
#include <algorithm>
#include <numeric>

#include "amrs/agents/agent.h"
#include "amrs/core/rng.h"

namespace amrs::agents {
namespace {

class RandomAgent : public Agent {
 public:
  // Read what you need from the context once; the context outlives the agent.
  explicit RandomAgent(const AgentContext& ctx) : num_songs_(ctx.env->world().num_songs()), rng_(0) {}

  // The name the registry knows the agent by (also used in logs and reports).
  std::string Name() const override { return "random"; }

  // All randomness comes from a stream seeded here: the rollout engine calls Reset with a seed
  // derived from (run seed, batch), which makes results independent of the thread count.
  void Reset(std::uint64_t seed) override { rng_ = Rng(seed, "random-agent"); }

  // One catalogue index per observation. batch.world and batch.state give access to the world
  // (predictions for any song); this agent ignores them.
  std::vector<std::int32_t> Act(const env::ObservationBatch& batch) override {
    std::vector<std::int32_t> out(batch.size());
    for (auto& a : out) a = static_cast<std::int32_t>(rng_.UniformInt(static_cast<std::uint64_t>(num_songs_)));
    return out;
  }

  // The agent's top-k per observation, best first: here k distinct uniform songs.
  std::vector<std::vector<std::int32_t>> Rank(const env::ObservationBatch& batch, std::int32_t k) override {
    std::vector<std::vector<std::int32_t>> out(batch.size());
    const std::int32_t kk = std::min(k, num_songs_);
    std::vector<std::int32_t> perm(static_cast<std::size_t>(num_songs_));
    for (auto& r : out) {
      std::iota(perm.begin(), perm.end(), 0);
      for (std::int32_t i = 0; i < kk; ++i)  // partial Fisher-Yates
        std::swap(perm[i], perm[i + static_cast<std::int32_t>(rng_.UniformInt(static_cast<std::uint64_t>(num_songs_ - i)))]);
      r.assign(perm.begin(), perm.begin() + kk);
    }
    return out;
  }

 private:
  std::int32_t num_songs_;
  Rng rng_;
};

}  // namespace

// One line registers the agent under its name.
AMRS_REGISTER_AGENT("random", "uniform over the catalogue (a lower bound)",
                    [](const AgentContext& ctx) { return std::make_unique<RandomAgent>(ctx); });

}  // namespace amrs::agents

// The Random agent: uniform over the catalogue. It is also the annotated template for writing
// an agent: copy this file, rename the class and the registered name, fill in Act.
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

  // One catalogue index per observation and, when k > 0, the agent's top-k per observation,
  // best first. batch.world and batch.state give access to the world (predictions for any
  // song) and batch.utility[i] is row i's objective; this agent ignores them.
  env::Decision Act(const env::ObservationBatch& batch, std::int32_t k) override {
    env::Decision d;
    d.actions.resize(batch.size());
    for (auto& a : d.actions) a = static_cast<std::int32_t>(rng_.UniformInt(static_cast<std::uint64_t>(num_songs_)));
    if (k > 0) d.ranked = Ranking(batch.size(), k);
    return d;
  }

 private:
  // k distinct uniform songs per row (drawn after the actions).
  std::vector<std::vector<std::int32_t>> Ranking(std::size_t rows, std::int32_t k) {
    std::vector<std::vector<std::int32_t>> out(rows);
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

  std::int32_t num_songs_;
  Rng rng_;
};

}  // namespace

// One line registers the agent under its name.
AMRS_REGISTER_AGENT("random", "uniform over the catalogue (a lower bound)",
                    [](const AgentContext& ctx) { return std::make_unique<RandomAgent>(ctx); });

}  // namespace amrs::agents

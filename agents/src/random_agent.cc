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
  // batch.banned[i] lists the songs the run's no-replay rule bans for row i: draw among the others.
  env::Decision Act(const env::ObservationBatch& batch, std::int32_t k) override {
    env::Decision d;
    d.actions.resize(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i)
      d.actions[i] = Allowed(batch, i, static_cast<std::int32_t>(rng_.UniformInt(static_cast<std::uint64_t>(Count(batch, i)))));
    if (k > 0) d.ranked = Ranking(batch, k);
    return d;
  }

 private:
  static const std::vector<std::int32_t>& BannedOf(const env::ObservationBatch& b, std::size_t i) {
    static const std::vector<std::int32_t> kNone;
    return i < b.banned.size() ? b.banned[i] : kNone;
  }
  // The number of allowed songs of row i, and the j-th of them (ascending song index).
  std::int32_t Count(const env::ObservationBatch& b, std::size_t i) const {
    return num_songs_ - static_cast<std::int32_t>(BannedOf(b, i).size());
  }
  static std::int32_t Allowed(const env::ObservationBatch& b, std::size_t i, std::int32_t j) {
    for (auto s : BannedOf(b, i))  // sorted: skip every banned song at or below the candidate
      if (s <= j) ++j;
    return j;
  }

  // k distinct uniform allowed songs per row (drawn after the actions).
  std::vector<std::vector<std::int32_t>> Ranking(const env::ObservationBatch& batch, std::int32_t k) {
    std::vector<std::vector<std::int32_t>> out(batch.size());
    std::vector<std::int32_t> perm;
    for (std::size_t row = 0; row < batch.size(); ++row) {
      const std::int32_t n = Count(batch, row), kk = std::min(k, n);
      perm.resize(static_cast<std::size_t>(n));
      std::iota(perm.begin(), perm.end(), 0);
      for (std::int32_t i = 0; i < kk; ++i)  // partial Fisher-Yates
        std::swap(perm[i], perm[i + static_cast<std::int32_t>(rng_.UniformInt(static_cast<std::uint64_t>(n - i)))]);
      for (std::int32_t i = 0; i < kk; ++i) out[row].push_back(Allowed(batch, row, perm[i]));
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

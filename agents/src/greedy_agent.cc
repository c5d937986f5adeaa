// Greedy: scores the whole catalogue under the world and takes the song of highest utility
// (each row under its own env's utility; penalized by an ensemble's disagreement) among the songs
// the run's no-replay rule allows.
#include "amrs/agents/agent.h"
#include "amrs/core/error.h"

namespace amrs::agents {
namespace {

class GreedyAgent : public Agent {
 public:
  explicit GreedyAgent(const AgentContext& ctx) : num_songs_(ctx.env->world().num_songs()) {}
  std::string Name() const override { return "greedy"; }
  void Reset(std::uint64_t) override {}  // deterministic: no randomness of its own

  env::Decision Act(const env::ObservationBatch& batch, std::int32_t k) override {
    if (!batch.world || !batch.state) throw ArgumentError("greedy: the observation batch has no world state");
    if (batch.utility.size() != batch.size())
      throw ArgumentError("greedy: the observation batch has " + std::to_string(batch.utility.size()) +
                          " utilities for " + std::to_string(batch.size()) + " rows");
    // Under an ensemble world: the penalized reward (utility of the mean minus the penalty times
    // the members' utility-weighted disagreement; docs/ensembles.md).
    const bool spread = batch.world->members() > 1;
    std::vector<Feedback> sd;
    const auto scores = spread ? batch.world->ScoreCatalogueSpread(*batch.state, sd) : batch.world->ScoreCatalogue(*batch.state);
    std::vector<float> utility(scores.size());
    const auto n = static_cast<std::size_t>(num_songs_);
    for (std::size_t i = 0; i < scores.size(); ++i)
      utility[i] = spread ? batch.utility[i / n].Penalized(scores[i], sd[i]) : batch.utility[i / n](scores[i]);
    MaskBanned(utility, batch, num_songs_);  // the run's no-replay rule: argmax over allowed songs
    env::Decision d;
    d.actions = BestPerRow(utility, batch.size(), num_songs_);
    if (k > 0) d.ranked = TopKPerRow(utility, batch.size(), num_songs_, k);
    return d;
  }

 private:
  std::int32_t num_songs_;
};

}  // namespace

AMRS_REGISTER_AGENT("greedy", "best predicted utility over the whole catalogue (collapses)",
                    [](const AgentContext& ctx) { return std::make_unique<GreedyAgent>(ctx); });

}  // namespace amrs::agents

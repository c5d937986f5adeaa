// Greedy: scores the whole catalogue under the world and takes the song of highest utility.
#include <algorithm>
#include <numeric>

#include "amrs/agents/agent.h"
#include "amrs/core/error.h"

namespace amrs::agents {
namespace {

class GreedyAgent : public Agent {
 public:
  explicit GreedyAgent(const AgentContext& ctx) : num_songs_(ctx.env->world().num_songs()) {}
  std::string Name() const override { return "greedy"; }
  void Reset(std::uint64_t) override { key_ = {}; }

  std::vector<std::int32_t> Act(const env::ObservationBatch& batch) override {
    return BestPerRow(Utilities(batch), batch.size(), num_songs_);
  }

  std::vector<std::vector<std::int32_t>> Rank(const env::ObservationBatch& batch, std::int32_t k) override {
    return TopKPerRow(Utilities(batch), batch.size(), num_songs_, k);
  }

 private:
  // Utility of every song for every row; reused when Act and Rank see the same batch state.
  const std::vector<float>& Utilities(const env::ObservationBatch& batch) {
    if (!batch.world || !batch.state) throw ArgumentError("greedy: the observation batch has no world state");
    const Key key{batch.state, batch.size() ? batch.obs[0].step : -1,
                  batch.size() && batch.obs[0].history ? batch.obs[0].history->size() : 0};
    if (key == key_) return utility_;
    const auto scores = batch.world->ScoreCatalogue(*batch.state);
    utility_.resize(scores.size());
    for (std::size_t i = 0; i < scores.size(); ++i) utility_[i] = batch.utility(scores[i]);
    key_ = key;
    return utility_;
  }
  struct Key {
    const env::WorldState* state = nullptr;
    std::int32_t step = -1;
    std::size_t length = 0;
    bool operator==(const Key& o) const { return state == o.state && step == o.step && length == o.length; }
  };
  std::int32_t num_songs_;
  Key key_;
  std::vector<float> utility_;
};

}  // namespace

AMRS_REGISTER_AGENT("greedy", "best predicted utility over the whole catalogue (collapses)",
                    [](const AgentContext& ctx) { return std::make_unique<GreedyAgent>(ctx); });

}  // namespace amrs::agents

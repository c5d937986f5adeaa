// Validating a world model (docs/world-model.md): simple baselines on the same test tokens, and
// on synthetic data the oracle's ceiling and the ranking fidelity of the learned utility.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/data/dataset.h"
#include "amrs/metrics/world.h"
#include "amrs/worldmodel/pooled_mlp.h"
#include "amrs/worldmodel/world_model.h"

namespace amrs::worldmodel {

using Predictions = std::vector<std::vector<Feedback>>;  // [history][token]

// Per-song mean of each signal over the split's train users (global mean for unseen songs).
Predictions SongMeanBaseline(const data::Dataset& d, const data::Split& split,
                             const std::vector<History>& histories);
// Running mean of the user's own earlier observations (global train mean before the first).
Predictions UserMeanBaseline(const data::Dataset& d, const data::Split& split,
                             const std::vector<History>& histories);

// A non-sequential MLP on [mean-pooled history features ; candidate song]: order-blind
// (PooledMlp::Train(d, split, -1, o)->PredictSequences(histories)).
Predictions PooledMlpBaseline(const data::Dataset& d, const data::Split& split,
                              const std::vector<History>& histories, const MlpBaselineOptions& o);

// Spearman correlation, over the whole catalogue, between the world model's and the oracle's
// utility for sampled test histories (a random prefix of each sampled user's history).
struct RankingFidelity {
  double mean = 0, sd = 0, min = 0;
  std::int32_t histories = 0;
};
RankingFidelity MeasureRankingFidelity(const WorldModel& model, const data::Dataset& d,
                                       const std::vector<std::int32_t>& users,
                                       std::int32_t histories, const Utility& utility,
                                       std::uint64_t seed);

// The same for an ensemble: the members' mean utility (docs/ensembles.md). At least one member.
RankingFidelity MeasureRankingFidelity(const std::vector<std::shared_ptr<const WorldModel>>& members,
                                       const data::Dataset& d, const std::vector<std::int32_t>& users,
                                       std::int32_t histories, const Utility& utility, std::uint64_t seed);

// Oracle scores in the common format (throws InputError without an oracle).
metrics::SignalScores OracleScores(const data::Dataset& d, const std::vector<std::int32_t>& users);

}  // namespace amrs::worldmodel

// World-model fit metrics (paper 4.2): MSE and R^2 for engagement, valence and arousal, ROC AUC
// for rating over tokens where a rating was observed. In core so that the data module's oracle
// ceiling and the metrics share this one implementation.
#pragma once

#include <cstdint>
#include <vector>

#include "amrs/core/types.h"

namespace amrs {

struct SignalScores {
  double engagement_mse = 0, engagement_r2 = 0;
  double rating_auc = 0;
  double valence_mse = 0, valence_r2 = 0;
  double arousal_mse = 0, arousal_r2 = 0;
  std::int64_t n_engagement = 0, n_rating = 0, n_affect = 0;
};

// Scores predictions[u][t] against the observed signals of histories[u][t] (song tokens only;
// each signal where it is observed). Throws ArgumentError on mismatched shapes. A score that is
// undefined is NaN (printed "n/a"): every score of a signal without observations, R^2 of a
// constant target, the AUC of ratings of one class (docs/data-format.md, "Data checks").
SignalScores ScoreFeedback(const std::vector<History>& histories,
                           const std::vector<std::vector<Feedback>>& predictions);

}  // namespace amrs

#include "amrs/core/signal_scores.h"

#include <algorithm>
#include <limits>

#include "amrs/core/error.h"
#include "amrs/core/regression.h"

namespace amrs {

SignalScores ScoreFeedback(const std::vector<History>& hs,
                           const std::vector<std::vector<Feedback>>& preds) {
  if (hs.size() != preds.size())
    throw ArgumentError("ScoreFeedback: " + std::to_string(hs.size()) + " histories but " +
                        std::to_string(preds.size()) + " prediction lists");
  std::vector<double> pe, oe, pr, pv, ov, pa, oa;
  std::vector<int> orat;
  for (std::size_t u = 0; u < hs.size(); ++u) {
    if (hs[u].size() != preds[u].size())
      throw ArgumentError("ScoreFeedback: history " + std::to_string(u) + " has " +
                          std::to_string(hs[u].size()) + " tokens but " +
                          std::to_string(preds[u].size()) + " predictions");
    for (std::size_t t = 0; t < hs[u].size(); ++t) {
      const Token& x = hs[u][t];
      const Feedback& f = preds[u][t];
      if (x.IsBoundary()) continue;
      if (x.has_engagement) pe.push_back(f.engagement), oe.push_back(x.engagement);
      if (x.has_rating) pr.push_back(f.rating), orat.push_back(x.rating > 0.5f ? 1 : 0);
      if (x.has_affect) {
        pv.push_back(f.valence), ov.push_back(x.valence);
        pa.push_back(f.arousal), oa.push_back(x.arousal);
      }
    }
  }
  SignalScores s;
  s.n_engagement = static_cast<std::int64_t>(pe.size());
  s.n_rating = static_cast<std::int64_t>(pr.size());
  s.n_affect = static_cast<std::int64_t>(pv.size());
  // Undefined scores are NaN (no observation; R^2 of a constant target; AUC of one class).
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto constant = [](const std::vector<double>& x) {
    return std::all_of(x.begin(), x.end(), [&](double v) { return v == x.front(); });
  };
  const auto mse = [&](const std::vector<double>& p, const std::vector<double>& o) {
    return o.empty() ? nan : Mse(p, o);
  };
  const auto r2 = [&](const std::vector<double>& p, const std::vector<double>& o) {
    return o.empty() || constant(o) ? nan : R2(p, o);
  };
  const bool both = std::count(orat.begin(), orat.end(), 1) > 0 && std::count(orat.begin(), orat.end(), 0) > 0;
  s.engagement_mse = mse(pe, oe);
  s.engagement_r2 = r2(pe, oe);
  s.rating_auc = both ? RocAuc(pr, orat) : nan;
  s.valence_mse = mse(pv, ov);
  s.valence_r2 = r2(pv, ov);
  s.arousal_mse = mse(pa, oa);
  s.arousal_r2 = r2(pa, oa);
  return s;
}

}  // namespace amrs

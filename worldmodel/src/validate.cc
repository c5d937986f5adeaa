#include "amrs/worldmodel/validate.h"

#include <algorithm>
#include <functional>
#include <cmath>
#include <limits>

#include "amrs/core/error.h"
#include "amrs/core/rng.h"
#include "amrs/data/oracle.h"
#include "amrs/data/tokens.h"
#include "amrs/metrics/regression.h"
#include "amrs/metrics/stats.h"

namespace amrs::worldmodel {

namespace {

struct Means {
  double sum[4] = {0, 0, 0, 0}, n[4] = {0, 0, 0, 0};
  void Add(const Token& t) {
    if (t.IsBoundary()) return;
    if (t.has_engagement) sum[0] += t.engagement, n[0] += 1;
    if (t.has_rating) sum[1] += t.rating, n[1] += 1;
    if (t.has_affect) sum[2] += t.valence, sum[3] += t.arousal, n[2] += 1, n[3] += 1;
  }
  Feedback Get(const Feedback& fallback) const {
    Feedback f = fallback;
    float* out = &f.engagement;
    for (int s = 0; s < 4; ++s)
      if (n[s] > 0) out[s] = static_cast<float>(sum[s] / n[s]);
    return f;
  }
};

Feedback GlobalMean(const data::TokenView& view, const std::vector<std::int32_t>& users) {
  Means m;
  for (auto u : users)
    for (const auto& t : view.User(u)) m.Add(t);
  return m.Get(Feedback{0.5f, 0.5f, 0.5f, 0.5f});
}

Predictions Shape(const std::vector<History>& hs) {
  Predictions p(hs.size());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t u = 0; u < hs.size(); ++u) p[u].assign(hs[u].size(), Feedback{nan, nan, nan, nan});
  return p;
}

}  // namespace

Predictions SongMeanBaseline(const data::Dataset& d, const data::Split& split, const std::vector<History>& hs) {
  const data::TokenView view(d);
  const Feedback global = GlobalMean(view, split.train);
  std::vector<Means> per(static_cast<std::size_t>(d.num_songs()));
  for (auto u : split.train)
    for (const auto& t : view.User(u))
      if (!t.IsBoundary()) per[t.song].Add(t);
  Predictions p = Shape(hs);
  for (std::size_t u = 0; u < hs.size(); ++u)
    for (std::size_t t = 0; t < hs[u].size(); ++t)
      if (!hs[u][t].IsBoundary()) p[u][t] = per[hs[u][t].song].Get(global);
  return p;
}

Predictions UserMeanBaseline(const data::Dataset& d, const data::Split& split, const std::vector<History>& hs) {
  const data::TokenView view(d);
  const Feedback global = GlobalMean(view, split.train);
  Predictions p = Shape(hs);
  for (std::size_t u = 0; u < hs.size(); ++u) {
    Means m;
    for (std::size_t t = 0; t < hs[u].size(); ++t) {
      if (!hs[u][t].IsBoundary()) p[u][t] = m.Get(global);
      m.Add(hs[u][t]);
    }
  }
  return p;
}

Predictions PooledMlpBaseline(const data::Dataset& d, const data::Split& split, const std::vector<History>& hs,
                              const MlpBaselineOptions& o) {
  return PooledMlp::Train(d, split, -1, o)->PredictSequences(hs);
}

namespace {

// Ranking fidelity of the catalogue scores `score` gives for a batch of histories (one row of
// num_songs Feedback per history).
RankingFidelity Fidelity(const std::function<std::vector<Feedback>(const std::vector<History>&)>& score,
                         std::int32_t n, const data::Dataset& d, const std::vector<std::int32_t>& users,
                         std::int32_t histories, const Utility& utility, std::uint64_t seed) {
  if (!d.oracle) throw InputError("ranking fidelity needs a synthetic dataset with an oracle");
  if (users.empty() || histories <= 0) throw ArgumentError("ranking fidelity needs users and histories > 0");
  const data::Oracle oracle(d.oracle);
  const data::TokenView view(d);
  Rng rng(seed, "ranking-fidelity");
  std::vector<History> prefixes;
  std::vector<std::int32_t> who;
  for (std::int32_t i = 0; i < histories; ++i) {
    const auto u = users[rng.UniformInt(users.size())];
    const History& h = view.User(u);
    const auto cut = static_cast<std::size_t>(rng.UniformIntInclusive(1, static_cast<std::int64_t>(h.size())));
    prefixes.emplace_back(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(cut));
    who.push_back(u);
  }
  const auto scores = score(prefixes);
  std::vector<double> rhos;
  for (std::size_t i = 0; i < prefixes.size(); ++i) {
    const auto os = oracle.Encode(who[i], prefixes[i]);
    std::vector<double> wm(static_cast<std::size_t>(n)), orc(static_cast<std::size_t>(n));
    for (std::int32_t j = 0; j < n; ++j) {
      wm[j] = utility(scores[i * static_cast<std::size_t>(n) + j]);
      orc[j] = utility(oracle.Predict(os, j));
    }
    rhos.push_back(metrics::Spearman(wm, orc));
  }
  RankingFidelity r;
  r.histories = histories;
  r.mean = metrics::Mean(rhos);
  r.sd = metrics::Sd(rhos);
  r.min = *std::min_element(rhos.begin(), rhos.end());
  return r;
}

}  // namespace

RankingFidelity MeasureRankingFidelity(const WorldModel& model, const data::Dataset& d,
                                       const std::vector<std::int32_t>& users, std::int32_t histories,
                                       const Utility& utility, std::uint64_t seed) {
  return Fidelity([&](const std::vector<History>& hs) { return model.ScoreCatalogue(*model.Encode(hs)); },
                  model.num_songs(), d, users, histories, utility, seed);
}

RankingFidelity MeasureRankingFidelity(const std::vector<std::shared_ptr<const WorldModel>>& members,
                                       const data::Dataset& d, const std::vector<std::int32_t>& users,
                                       std::int32_t histories, const Utility& utility, std::uint64_t seed) {
  if (members.empty()) throw ArgumentError("ranking fidelity of an ensemble needs at least one member");
  auto mean = [&](const std::vector<History>& hs) {
    std::vector<double> e, r, v, a;
    std::vector<Feedback> out;
    for (const auto& m : members) {
      const auto s = m->ScoreCatalogue(*m->Encode(hs));
      if (e.empty()) e.assign(s.size(), 0), r.assign(s.size(), 0), v.assign(s.size(), 0), a.assign(s.size(), 0);
      for (std::size_t i = 0; i < s.size(); ++i)
        e[i] += s[i].engagement, r[i] += s[i].rating, v[i] += s[i].valence, a[i] += s[i].arousal;
    }
    const double k = static_cast<double>(members.size());
    out.resize(e.size());
    for (std::size_t i = 0; i < e.size(); ++i)
      out[i] = Feedback{static_cast<float>(e[i] / k), static_cast<float>(r[i] / k), static_cast<float>(v[i] / k),
                        static_cast<float>(a[i] / k)};
    return out;
  };
  return Fidelity(mean, members.front()->num_songs(), d, users, histories, utility, seed);
}

metrics::SignalScores OracleScores(const data::Dataset& d, const std::vector<std::int32_t>& users) {
  return data::EvaluateOracle(d, users);
}

}  // namespace amrs::worldmodel

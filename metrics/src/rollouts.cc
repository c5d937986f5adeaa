#include "amrs/metrics/rollouts.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "amrs/core/error.h"
#include "amrs/metrics/recommender.h"
#include "amrs/metrics/regression.h"

namespace amrs::metrics {
namespace {

double MeanOf(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s / static_cast<double>(v.size());
}

const std::vector<std::int32_t>& UserTokens(const LoggedSongs& logged, std::int32_t user) {
  if (user < 0 || static_cast<std::size_t>(user) >= logged.size())
    throw ArgumentError("rollouts: user " + std::to_string(user) + " has no logged history (" +
                        std::to_string(logged.size()) + " users)");
  return logged[static_cast<std::size_t>(user)];
}

// Sorted distinct songs of a user's logged history.
std::vector<std::int32_t> SongSet(const std::vector<std::int32_t>& tokens) {
  std::vector<std::int32_t> s;
  for (auto x : tokens)
    if (x >= 0) s.push_back(x);
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
  return s;
}

// The first `count` song tokens at or after position `from` (fewer if the history ends).
std::vector<std::int32_t> SongsFrom(const std::vector<std::int32_t>& tokens, std::int64_t from, std::int32_t count) {
  std::vector<std::int32_t> out;
  for (auto i = static_cast<std::size_t>(std::max<std::int64_t>(from, 0));
       i < tokens.size() && static_cast<std::int32_t>(out.size()) < count; ++i)
    if (tokens[i] >= 0) out.push_back(tokens[i]);
  return out;
}

std::vector<std::int32_t> List(const RolloutArrays& r, std::size_t e, std::size_t t) {
  const auto K = static_cast<std::size_t>(r.topk), L = static_cast<std::size_t>(r.horizon);
  const auto begin = r.ranked.begin() + static_cast<std::ptrdiff_t>((e * L + t) * K);
  return {begin, begin + static_cast<std::ptrdiff_t>(K)};
}

void Add(Adherence& a, const RankScores& s) { a.hit += s.hit, a.mrr += s.mrr, a.ndcg += s.ndcg, ++a.lists; }

void Average(Adherence& a, std::int64_t n) {
  if (n == 0) return;
  const auto d = static_cast<double>(n);
  a.accuracy /= d, a.hit /= d, a.mrr /= d, a.ndcg /= d;
}

}  // namespace

FeedbackMeans RolloutMeans(const RolloutArrays& r) {
  r.Validate();
  FeedbackMeans m{MeanOf(r.engagement), MeanOf(r.rating), MeanOf(r.valence), MeanOf(r.arousal), std::nullopt};
  if (!r.reward.empty()) m.reward = MeanOf(r.reward);
  return m;
}

std::vector<double> StepMeans(const RolloutArrays& r, const std::vector<float>& signal) {
  r.Validate();
  const std::size_t EL = r.user.size() * static_cast<std::size_t>(r.horizon);
  if (signal.size() != EL)
    throw ArgumentError("rollouts: the signal has " + std::to_string(signal.size()) + " values, expected " +
                        std::to_string(EL));
  std::vector<double> out(static_cast<std::size_t>(r.horizon), 0.0);
  for (std::size_t i = 0; i < signal.size(); ++i) out[i % out.size()] += signal[i];
  for (auto& x : out) x /= static_cast<double>(r.user.size());
  return out;
}

Adherence UserWiseAdherence(const RolloutArrays& r, const LoggedSongs& logged, std::int32_t k) {
  r.Validate();
  if (r.topk == 0) throw ArgumentError("UserWiseAdherence: the rollouts have no top-k lists (topk = 0)");
  Adherence a;
  std::map<std::int32_t, std::vector<std::int32_t>> relevant;  // per user, built once
  for (std::size_t e = 0; e < r.user.size(); ++e) {
    auto it = relevant.find(r.user[e]);
    if (it == relevant.end()) it = relevant.emplace(r.user[e], SongSet(UserTokens(logged, r.user[e]))).first;
    for (std::size_t t = 0; t < static_cast<std::size_t>(r.horizon); ++t) Add(a, ScoreRanking(List(r, e, t), it->second, k));
  }
  Average(a, a.lists);
  return a;
}

Adherence TimeStepAdherence(const RolloutArrays& r, const LoggedSongs& logged, std::int32_t k) {
  r.Validate();
  Adherence a;
  for (std::size_t e = 0; e < r.user.size(); ++e) {
    const auto next = SongsFrom(UserTokens(logged, r.user[e]),
                                static_cast<std::int64_t>(r.window_start[e]) + r.window_length[e], r.horizon);
    for (std::size_t t = 0; t < next.size(); ++t) {
      const auto action = r.actions[e * static_cast<std::size_t>(r.horizon) + t];
      a.accuracy += action == next[t] ? 1.0 : 0.0;
      if (r.topk > 0) Add(a, ScoreRanking(List(r, e, t), {next[t]}, k));
      else ++a.lists;
    }
  }
  Average(a, a.lists);
  return a;
}

std::map<std::string, double> UncertaintyMetrics(const RolloutArrays& r) {
  std::map<std::string, double> m;
  if (!r.disagreement.empty()) {
    double sum = 0;
    for (float x : r.disagreement) sum += x;
    m[key::kDisagreement] = sum / static_cast<double>(r.disagreement.size());
    if (r.oracle_error.size() == r.disagreement.size()) {
      const std::vector<double> d(r.disagreement.begin(), r.disagreement.end());
      const std::vector<double> err(r.oracle_error.begin(), r.oracle_error.end());
      m[key::kOracleError] = std::accumulate(err.begin(), err.end(), 0.0) / static_cast<double>(err.size());
      const auto [dmin, dmax] = std::minmax_element(d.begin(), d.end());
      const auto [emin, emax] = std::minmax_element(err.begin(), err.end());
      if (*dmin < *dmax && *emin < *emax) m[key::kDisagreementErrorSpearman] = Spearman(d, err);
    }
    if (r.oracle_feedback.size() == 4 * r.disagreement.size()) {
      double v = 0, a = 0;
      for (std::size_t i = 0; i < r.disagreement.size(); ++i) v += r.oracle_feedback[4 * i + 2], a += r.oracle_feedback[4 * i + 3];
      m[key::kOracleValence] = v / static_cast<double>(r.disagreement.size());
      m[key::kOracleArousal] = a / static_cast<double>(r.disagreement.size());
    }
  }
  return m;
}

std::map<std::string, double> EvaluateSeed(const RolloutArrays& r, const EvalContext& c) {
  const auto means = RolloutMeans(r);
  std::map<std::string, double> m{{key::kValence, means.valence},
                                  {key::kArousal, means.arousal},
                                  {key::kRating, means.rating},
                                  {key::kEngagement, means.engagement}};
  if (means.reward) m[key::kReward] = *means.reward;
  for (const auto& [k, v] : UncertaintyMetrics(r)) m[k] = v;
  m[key::kCoverage] = Coverage(r.actions, c.num_songs);
  m[key::kEntropy] = NormalizedEntropy(r.actions, c.num_songs);
  m[key::kGini] = Gini(r.actions, c.num_songs);
  std::vector<std::vector<std::int32_t>> episodes;
  for (std::size_t e = 0; e < r.user.size(); ++e) {
    const auto begin = r.actions.begin() + static_cast<std::ptrdiff_t>(e * static_cast<std::size_t>(r.horizon));
    episodes.emplace_back(begin, begin + r.horizon);
  }
  if (r.horizon >= 2) m[key::kIld] = IntraListDiversity(episodes, c.embedding, c.dim);
  if (!c.logged) return m;
  if (r.topk > 0) {
    const auto l2 = UserWiseAdherence(r, *c.logged, c.k);
    m[key::kL2Hit] = l2.hit, m[key::kL2Mrr] = l2.mrr, m[key::kL2Ndcg] = l2.ndcg;
  }
  const auto l3 = TimeStepAdherence(r, *c.logged, c.k);
  if (l3.lists > 0) {
    m[key::kL3Accuracy] = l3.accuracy;
    if (r.topk > 0) m[key::kL3Hit] = l3.hit, m[key::kL3Mrr] = l3.mrr, m[key::kL3Ndcg] = l3.ndcg;
  }
  return m;
}

}  // namespace amrs::metrics

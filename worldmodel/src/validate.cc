#include "amrs/worldmodel/validate.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "amrs/core/error.h"
#include "amrs/core/rng.h"
#include "amrs/data/oracle.h"
#include "amrs/data/tokens.h"
#include "amrs/metrics/regression.h"
#include "amrs/metrics/stats.h"
#include "net.h"

namespace amrs::worldmodel {

using torch::Tensor;

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

namespace {

// Features of every song token: [mean of earlier token features ; log count ; candidate song].
struct PooledData {
  Tensor x, y, mask;
};

PooledData PooledFeatures(const std::vector<const History*>& hs, const Tensor& songs, int k) {
  const int f_tok = kSmallFeatures + k;
  const int f_in = f_tok + 1 + k;
  std::vector<float> x, y, m;
  const auto acc = songs.accessor<float, 2>();
  for (const History* h : hs) {
    std::vector<double> sum(static_cast<std::size_t>(f_tok), 0.0);
    double count = 0;
    for (const Token& t : *h) {
      if (!t.IsBoundary()) {
        for (int i = 0; i < f_tok; ++i) x.push_back(count > 0 ? static_cast<float>(sum[i] / count) : 0.f);
        x.push_back(static_cast<float>(std::log1p(count) / 5.0));
        for (int i = 0; i < k; ++i) x.push_back(acc[t.song][i]);
        const float yy[4] = {t.engagement, t.rating, t.valence, t.arousal};
        const float mm[4] = {t.has_engagement ? 1.f : 0.f, t.has_rating ? 1.f : 0.f, t.has_affect ? 1.f : 0.f,
                             t.has_affect ? 1.f : 0.f};
        y.insert(y.end(), yy, yy + 4);
        m.insert(m.end(), mm, mm + 4);
      }
      float small[kSmallFeatures];
      FeedbackFeatures(t, false, small);
      TypeFeatures(t, small + kFeedbackFeatures);
      for (int i = 0; i < kSmallFeatures; ++i) sum[i] += small[i];
      if (!t.IsBoundary())
        for (int i = 0; i < k; ++i) sum[kSmallFeatures + i] += acc[t.song][i];
      count += 1;
    }
  }
  const int64_t n = static_cast<int64_t>(y.size() / 4);
  PooledData d;
  d.x = torch::from_blob(x.data(), {n, f_in}, torch::kFloat).clone();
  d.y = torch::from_blob(y.data(), {n, 4}, torch::kFloat).clone();
  d.mask = torch::from_blob(m.data(), {n, 4}, torch::kFloat).clone();
  return d;
}

Tensor PooledLoss(const Tensor& logits, const Tensor& y, const Tensor& mask, Tensor* per_signal) {
  const Tensor p = torch::sigmoid(logits);
  const Tensor se = (p - y).pow(2);
  const Tensor bce = torch::binary_cross_entropy_with_logits(logits.select(1, 1), y.select(1, 1), {}, {},
                                                             at::Reduction::None);
  const Tensor per = torch::stack({se.select(1, 0), bce, se.select(1, 2), se.select(1, 3)}, 1);
  const Tensor l = (per * mask).sum(0) / mask.sum(0).clamp_min(1.0);
  if (per_signal) *per_signal = l.detach();
  return l;
}

}  // namespace

Predictions PooledMlpBaseline(const data::Dataset& d, const data::Split& split, const std::vector<History>& hs,
                              const MlpBaselineOptions& o) {
  const data::TokenView view(d);
  const Catalogue cat = d.MakeCatalogue(o.family);
  const auto red = FitReduction(cat, o.components);
  const Tensor songs = SongInputs(cat, red);
  const int k = static_cast<int>(songs.size(1));
  auto collect = [&](const std::vector<std::int32_t>& users) {
    std::vector<const History*> v;
    for (auto u : users) v.push_back(&view.User(u));
    return PooledFeatures(v, songs, k);
  };
  const PooledData train = collect(split.train), val = collect(split.val);
  const int f_in = static_cast<int>(train.x.size(1));
  torch::nn::Sequential mlp(torch::nn::Linear(f_in, o.hidden), torch::nn::ReLU(),
                            torch::nn::Linear(o.hidden, o.hidden), torch::nn::ReLU(), torch::nn::Linear(o.hidden, 4));
  {  // deterministic init from our own RNG
    torch::NoGradGuard g;
    for (auto& p : mlp->named_parameters()) {
      std::vector<float> v(static_cast<std::size_t>(p.value().numel()));
      Rng rng(o.seed, "pooled-mlp-init/" + p.key());
      const bool bias = p.value().dim() == 1;
      const double b = bias ? 0.0 : 1.0 / std::sqrt(static_cast<double>(p.value().size(1)));
      for (auto& x : v) x = bias ? 0.f : static_cast<float>(rng.Uniform(-b, b));
      p.value().copy_(torch::from_blob(v.data(), p.value().sizes(), torch::kFloat));
    }
  }
  // Same loss weighting as the world model (variance-normalized MSE, plain BCE).
  Tensor w = torch::ones({4});
  for (int s : {0, 2, 3}) {
    const Tensor m = train.mask.select(1, s) > 0;
    const Tensor ys = train.y.select(1, s).masked_select(m);
    if (ys.numel() > 1) w[s] = 0.25 / std::max(1e-4, ys.var().item<double>());
  }
  torch::optim::AdamW opt(mlp->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(0.01));
  std::vector<Tensor> best;
  double best_val = std::numeric_limits<double>::infinity();
  const int64_t n = train.x.size(0), bs = 512;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    mlp->train();
    Rng rng(o.seed, "pooled-mlp-order", static_cast<std::uint64_t>(epoch));
    std::vector<int64_t> perm(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) perm[i] = i;
    for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.UniformInt(static_cast<std::uint64_t>(i + 1))]);
    const Tensor idx_all = torch::tensor(perm, torch::kLong);
    for (int64_t b0 = 0; b0 < n; b0 += bs) {
      const Tensor idx = idx_all.narrow(0, b0, std::min(bs, n - b0));
      const Tensor loss = (PooledLoss(mlp->forward(train.x.index_select(0, idx)), train.y.index_select(0, idx),
                                      train.mask.index_select(0, idx), nullptr) * w).sum();
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    torch::NoGradGuard g;
    mlp->eval();
    const double v = (PooledLoss(mlp->forward(val.x), val.y, val.mask, nullptr) * w).sum().item<double>();
    if (v < best_val) {
      best_val = v;
      best.clear();
      for (const auto& p : mlp->parameters()) best.push_back(p.detach().clone());
    }
  }
  torch::NoGradGuard g;
  auto params = mlp->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(best[i]);
  mlp->eval();
  std::vector<const History*> test;
  for (const auto& h : hs) test.push_back(&h);
  const PooledData td = PooledFeatures(test, songs, k);
  const Tensor p = torch::sigmoid(mlp->forward(td.x)).contiguous();
  const auto acc = p.accessor<float, 2>();
  Predictions out = Shape(hs);
  int64_t r = 0;
  for (std::size_t u = 0; u < hs.size(); ++u)
    for (std::size_t t = 0; t < hs[u].size(); ++t)
      if (!hs[u][t].IsBoundary()) {
        out[u][t] = Feedback{acc[r][0], acc[r][1], acc[r][2], acc[r][3]};
        ++r;
      }
  return out;
}

RankingFidelity MeasureRankingFidelity(const WorldModel& model, const data::Dataset& d,
                                       const std::vector<std::int32_t>& users, std::int32_t histories,
                                       const Utility& utility, std::uint64_t seed) {
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
  const auto state = model.Encode(prefixes);
  const auto scores = model.ScoreCatalogue(*state);
  const std::int32_t n = model.num_songs();
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

metrics::SignalScores OracleScores(const data::Dataset& d, const std::vector<std::int32_t>& users) {
  return data::EvaluateOracle(d, users);
}

}  // namespace amrs::worldmodel

#include "amrs/metrics/recommender.h"

#include <algorithm>
#include <cmath>

#include "amrs/core/error.h"

namespace amrs::metrics {
namespace {

std::vector<double> Counts(const std::vector<std::int32_t>& rec, std::int32_t n, const char* fn) {
  if (rec.empty()) throw ArgumentError(std::string(fn) + ": no recommendations");
  if (n <= 0) throw ArgumentError(std::string(fn) + ": catalogue size must be positive");
  std::vector<double> c(static_cast<std::size_t>(n), 0.0);
  for (auto s : rec) {
    if (s < 0 || s >= n)
      throw ArgumentError(std::string(fn) + ": song index " + std::to_string(s) + " is outside [0, " +
                          std::to_string(n) + ")");
    c[static_cast<std::size_t>(s)] += 1;
  }
  return c;
}

}  // namespace

double Coverage(const std::vector<std::int32_t>& rec, std::int32_t n) {
  const auto c = Counts(rec, n, "Coverage");
  return static_cast<double>(std::count_if(c.begin(), c.end(), [](double x) { return x > 0; })) / n;
}

double NormalizedEntropy(const std::vector<std::int32_t>& rec, std::int32_t n) {
  const auto c = Counts(rec, n, "NormalizedEntropy");
  if (n == 1) return 0.0;
  const double total = static_cast<double>(rec.size());
  double h = 0;
  for (double x : c)
    if (x > 0) h -= (x / total) * std::log(x / total);
  return h / std::log(static_cast<double>(n));
}

double Gini(const std::vector<std::int32_t>& rec, std::int32_t n) {
  auto c = Counts(rec, n, "Gini");
  std::sort(c.begin(), c.end());
  double num = 0, total = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    num += (2.0 * static_cast<double>(i + 1) - n - 1) * c[i];
    total += c[i];
  }
  return num / (static_cast<double>(n) * total);
}

namespace {

std::vector<double> Unit(const std::vector<float>& e, std::int32_t dim, std::int32_t i) {
  std::vector<double> u(static_cast<std::size_t>(dim));
  double norm = 0;
  for (std::int32_t k = 0; k < dim; ++k) {
    u[k] = e[static_cast<std::size_t>(i) * dim + k];
    norm += u[k] * u[k];
  }
  norm = std::sqrt(norm);
  if (norm > 0)
    for (auto& x : u) x /= norm;
  return u;
}

}  // namespace

double CatalogueMeanCosineDistance(const std::vector<float>& e, std::int32_t dim) {
  if (dim <= 0 || e.empty() || e.size() % static_cast<std::size_t>(dim) != 0)
    throw ArgumentError("CatalogueMeanCosineDistance: embedding size is not a multiple of the dimension");
  const auto n = static_cast<std::int32_t>(e.size() / static_cast<std::size_t>(dim));
  if (n < 2) throw ArgumentError("CatalogueMeanCosineDistance: needs at least two songs");
  std::vector<double> sum(static_cast<std::size_t>(dim), 0.0);
  double self = 0;  // sum of |u_i|^2 (1 per non-zero vector)
  for (std::int32_t i = 0; i < n; ++i) {
    const auto u = Unit(e, dim, i);
    for (std::int32_t k = 0; k < dim; ++k) sum[k] += u[k], self += u[k] * u[k];
  }
  double sq = 0;
  for (double x : sum) sq += x * x;
  const double mean_cos = (sq - self) / (static_cast<double>(n) * (n - 1));
  return 1.0 - mean_cos;
}

double IntraListDiversity(const std::vector<std::vector<std::int32_t>>& rollouts, const std::vector<float>& e,
                          std::int32_t dim) {
  const double base = CatalogueMeanCosineDistance(e, dim);
  if (base <= 0) throw ArgumentError("IntraListDiversity: the catalogue's songs are all identical in direction");
  const auto n = static_cast<std::int32_t>(e.size() / static_cast<std::size_t>(dim));
  double total = 0;
  std::int64_t used = 0;
  for (const auto& r : rollouts) {
    if (r.size() < 2) continue;
    std::vector<std::vector<double>> u;
    for (auto s : r) {
      if (s < 0 || s >= n) throw ArgumentError("IntraListDiversity: song index " + std::to_string(s) + " out of range");
      u.push_back(Unit(e, dim, s));
    }
    double d = 0;
    std::int64_t pairs = 0;
    for (std::size_t i = 0; i < u.size(); ++i)
      for (std::size_t j = i + 1; j < u.size(); ++j) {
        double c = 0;
        for (std::int32_t k = 0; k < dim; ++k) c += u[i][k] * u[j][k];
        d += 1.0 - c;
        ++pairs;
      }
    total += d / static_cast<double>(pairs);
    ++used;
  }
  if (used == 0) throw ArgumentError("IntraListDiversity: no rollout has two songs");
  return total / static_cast<double>(used) / base;
}

RankScores ScoreRanking(const std::vector<std::int32_t>& ranked, const std::vector<std::int32_t>& relevant,
                        std::int32_t k) {
  if (k <= 0) throw ArgumentError("ScoreRanking: k must be positive");
  if (ranked.empty()) throw ArgumentError("ScoreRanking: empty ranking");
  RankScores s;
  if (relevant.empty()) return s;
  double dcg = 0;
  const std::size_t top = std::min(ranked.size(), static_cast<std::size_t>(k));
  for (std::size_t i = 0; i < top; ++i)
    if (std::binary_search(relevant.begin(), relevant.end(), ranked[i])) {
      if (s.hit == 0) s.hit = 1, s.mrr = 1.0 / static_cast<double>(i + 1);
      dcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
    }
  double idcg = 0;
  const std::size_t ideal = std::min(relevant.size(), static_cast<std::size_t>(k));
  for (std::size_t i = 0; i < ideal; ++i) idcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
  s.ndcg = dcg / idcg;
  return s;
}

}  // namespace amrs::metrics

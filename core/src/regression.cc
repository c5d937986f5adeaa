#include "amrs/core/regression.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "amrs/core/error.h"

namespace amrs {
namespace {

void CheckPair(std::size_t a, std::size_t b, const char* fn) {
  if (a != b)
    throw ArgumentError(std::string(fn) + ": inputs differ in length (" + std::to_string(a) +
                        " vs " + std::to_string(b) + ")");
  if (a == 0) throw ArgumentError(std::string(fn) + ": empty input");
}

}  // namespace

double Mse(const std::vector<double>& pred, const std::vector<double>& target) {
  CheckPair(pred.size(), target.size(), "Mse");
  double s = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) s += (pred[i] - target[i]) * (pred[i] - target[i]);
  return s / static_cast<double>(pred.size());
}

double R2(const std::vector<double>& pred, const std::vector<double>& target) {
  CheckPair(pred.size(), target.size(), "R2");
  const double mean = std::accumulate(target.begin(), target.end(), 0.0) / target.size();
  double sse = 0, sst = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) {
    sse += (pred[i] - target[i]) * (pred[i] - target[i]);
    sst += (target[i] - mean) * (target[i] - mean);
  }
  if (sst <= 0) throw ArgumentError("R2: target is constant, R^2 is undefined");
  return 1.0 - sse / sst;
}

std::vector<double> Ranks(const std::vector<double>& x) {
  std::vector<std::size_t> idx(x.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (std::size_t i = 0; i < idx.size();) {
    std::size_t j = i;
    while (j + 1 < idx.size() && x[idx[j + 1]] == x[idx[i]]) ++j;
    const double avg = 0.5 * static_cast<double>(i + j) + 1.0;
    for (std::size_t k = i; k <= j; ++k) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

double RocAuc(const std::vector<double>& score, const std::vector<int>& label) {
  CheckPair(score.size(), label.size(), "RocAuc");
  double n_pos = 0, n_neg = 0, rank_sum = 0;
  const auto r = Ranks(score);
  for (std::size_t i = 0; i < label.size(); ++i) {
    if (label[i] != 0 && label[i] != 1) throw ArgumentError("RocAuc: labels must be 0 or 1");
    if (label[i]) n_pos += 1, rank_sum += r[i];
    else n_neg += 1;
  }
  if (n_pos == 0 || n_neg == 0)
    throw ArgumentError("RocAuc: needs both positive and negative labels");
  return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg);
}

double Pearson(const std::vector<double>& x, const std::vector<double>& y) {
  CheckPair(x.size(), y.size(), "Pearson");
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / x.size();
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0 || syy <= 0) throw ArgumentError("correlation of a constant input is undefined");
  return sxy / std::sqrt(sxx * syy);
}

double Spearman(const std::vector<double>& x, const std::vector<double>& y) {
  CheckPair(x.size(), y.size(), "Spearman");
  return Pearson(Ranks(x), Ranks(y));
}

}  // namespace amrs

// Fit statistics of the world-model metrics (docs/metrics.md): MSE, R^2 against the mean predictor, ROC AUC with
// ties, Spearman rank correlation. Every function throws ArgumentError on empty or mismatched
// input rather than returning a made-up number.
#pragma once

#include <cstddef>
#include <vector>

namespace amrs {

double Mse(const std::vector<double>& pred, const std::vector<double>& target);
// 1 - SSE / SST, SST around the mean of `target`. Undefined (throws) when target is constant.
double R2(const std::vector<double>& pred, const std::vector<double>& target);
// Probability that a random positive scores above a random negative, ties counting 1/2.
// `label` holds 0/1; throws when either class is absent.
double RocAuc(const std::vector<double>& score, const std::vector<int>& label);
// Average ranks (ties share the mean rank), 1-based.
std::vector<double> Ranks(const std::vector<double>& x);
double Pearson(const std::vector<double>& x, const std::vector<double>& y);
double Spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace amrs

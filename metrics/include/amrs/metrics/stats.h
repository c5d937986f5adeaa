// Cross-seed / cross-split statistics: mean, sample SD, paired t-test (Boost.Math's Student t).
#pragma once

#include <string>
#include <vector>

namespace amrs::metrics {

double Mean(const std::vector<double>& x);  // throws on empty input
double Sd(const std::vector<double>& x);    // sample SD (n - 1); 0 for one value
// Two-sided p-value of the paired t-test of a vs b (same length >= 2). When every difference
// is identical the test is undefined: returns 1 if the differences are all zero, else 0. A
// non-finite value in either sample (a score undefined on some split, e.g. an AUC of one class)
// gives NaN (Stars: no stars).
double PairedTTestP(const std::vector<double>& a, const std::vector<double>& b);
// "***" (p < 0.001), "**" (< 0.01), "*" (< 0.05) or "".
std::string Stars(double p);

}  // namespace amrs::metrics

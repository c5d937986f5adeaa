#include "amrs/metrics/stats.h"

#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <limits>
#include <numeric>

#include "amrs/core/error.h"

namespace amrs::metrics {

double Mean(const std::vector<double>& x) {
  if (x.empty()) throw ArgumentError("Mean: empty input");
  return std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
}

double Sd(const std::vector<double>& x) {
  if (x.empty()) throw ArgumentError("Sd: empty input");
  if (x.size() == 1) return 0.0;
  const double m = Mean(x);
  double s = 0;
  for (double v : x) s += (v - m) * (v - m);
  return std::sqrt(s / static_cast<double>(x.size() - 1));
}

double PairedTTestP(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw ArgumentError("PairedTTestP: samples differ in length");
  if (a.size() < 2) throw ArgumentError("PairedTTestP: needs at least 2 pairs");
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  for (double x : d)
    if (!std::isfinite(x)) return std::numeric_limits<double>::quiet_NaN();  // a score was undefined
  const double m = Mean(d), s = Sd(d);
  if (s == 0.0) return m == 0.0 ? 1.0 : 0.0;
  const double t = m / (s / std::sqrt(static_cast<double>(d.size())));
  const boost::math::students_t dist(static_cast<double>(d.size() - 1));
  return 2.0 * boost::math::cdf(boost::math::complement(dist, std::fabs(t)));
}

std::string Stars(double p) {
  if (p < 0.001) return "***";
  if (p < 0.01) return "**";
  if (p < 0.05) return "*";
  return "";
}

}  // namespace amrs::metrics

#include "amrs/metrics/aggregate.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "amrs/core/error.h"
#include "amrs/metrics/rollouts.h"
#include "amrs/metrics/stats.h"

namespace amrs::metrics {
namespace {

// Values of `key` at the seeds both runs have, in a's seed order.
std::pair<std::vector<double>, std::vector<double>> Paired(const SeedRuns& a, const SeedRuns& b,
                                                           const std::string& key) {
  std::pair<std::vector<double>, std::vector<double>> out;
  const auto ia = a.values.find(key), ib = b.values.find(key);
  if (ia == a.values.end() || ib == b.values.end()) return out;
  for (std::size_t i = 0; i < a.seeds.size(); ++i) {
    const auto j = std::find(b.seeds.begin(), b.seeds.end(), a.seeds[i]);
    if (j == b.seeds.end()) continue;
    out.first.push_back(ia->second[i]);
    out.second.push_back(ib->second[static_cast<std::size_t>(j - b.seeds.begin())]);
  }
  return out;
}

}  // namespace

void SeedRuns::Add(std::uint64_t seed, const std::map<std::string, double>& metrics,
                   const std::map<std::string, std::vector<double>>& step_means) {
  if (std::find(seeds.begin(), seeds.end(), seed) != seeds.end())
    throw ArgumentError("SeedRuns: seed " + std::to_string(seed) + " added twice");
  if (!seeds.empty()) {
    auto same_keys = [](const auto& x, const auto& y) {
      return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), [](const auto& p, const auto& q) {
               return p.first == q.first;
             });
    };
    if (!same_keys(metrics, values) || !same_keys(step_means, steps))
      throw ArgumentError("SeedRuns: seed " + std::to_string(seed) + " has other metrics than the earlier seeds");
  }
  seeds.push_back(seed);
  for (const auto& [k, v] : metrics) {
    if (!std::isfinite(v)) throw ArgumentError("SeedRuns: metric '" + k + "' of seed " + std::to_string(seed) + " is not finite");
    values[k].push_back(v);
  }
  for (const auto& [k, v] : step_means) steps[k].push_back(v);
}

std::vector<std::string> AgentOrder(const AgentRuns& runs) {
  std::vector<std::string> out;
  for (const char* n : {"copycat", "dpo", "random", "greedy"})
    if (runs.count(n)) out.push_back(n);
  for (const auto& [n, r] : runs)  // std::map: alphabetical
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  return out;
}

Aggregate AggregateRuns(const AgentRuns& runs, const std::vector<MetricSpec>& metrics, const std::string& reference,
                        const std::vector<std::string>& bold_among) {
  Aggregate t;
  t.agents = AgentOrder(runs);
  t.metrics = metrics;
  t.reference = runs.count(reference) ? reference : "";
  for (const auto& a : t.agents) {
    const auto& r = runs.at(a);
    for (const auto& m : metrics) {
      const auto v = r.values.find(m.key);
      if (v == r.values.end() || v->second.empty()) continue;
      Cell c;
      c.mean = Mean(v->second), c.sd = Sd(v->second), c.n = v->second.size();
      if (!t.reference.empty() && a != t.reference) {
        const auto [x, y] = Paired(r, runs.at(t.reference), m.key);
        if (x.size() >= 2) c.p = PairedTTestP(x, y), c.stars = Stars(c.p);
      }
      t.cells[a][m.key] = c;
    }
  }
  for (const auto& m : metrics) {
    std::vector<std::string> candidates;
    for (const auto& a : t.agents)
      if ((bold_among.empty() || std::count(bold_among.begin(), bold_among.end(), a)) && t.cells[a].count(m.key))
        candidates.push_back(a);
    if (candidates.empty()) continue;
    double best = t.cells[candidates[0]][m.key].mean;
    for (const auto& a : candidates) {
      const double x = t.cells[a][m.key].mean;
      best = m.higher_better ? std::max(best, x) : std::min(best, x);
    }
    for (const auto& a : candidates)
      if (t.cells[a][m.key].mean == best) t.cells[a][m.key].bold = true;
  }
  return t;
}

std::vector<MetricSpec> Table4Metrics() {
  return {{key::kValence, "Valence"},      {key::kArousal, "Arousal"},     {key::kRating, "Rating"},
          {key::kEngagement, "Engagement"}, {key::kCoverage, "Cov."},      {key::kEntropy, "Norm. Ent."},
          {key::kIld, "ILD"},               {key::kGini, "Gini", false}};
}

std::vector<MetricSpec> Level2Metrics() {
  return {{key::kL2Hit, "Hit@10"}, {key::kL2Mrr, "MRR"}, {key::kL2Ndcg, "NDCG@10"}};
}

std::vector<MetricSpec> Level3Metrics() {
  return {{key::kL3Accuracy, "Accuracy"}, {key::kL3Hit, "Hit@10"}, {key::kL3Mrr, "MRR"}, {key::kL3Ndcg, "NDCG@10"}};
}

Aggregate Table4(const AgentRuns& runs) {
  return AggregateRuns(runs, Table4Metrics(), kReferenceAgent, {"copycat", "dpo"});
}

Aggregate Table5Part(const AgentRuns& runs) {
  auto m = Level2Metrics();
  for (const auto& x : Level3Metrics()) m.push_back(x);
  return AggregateRuns(runs, m, "", {});
}

Gain PairedGain(const SeedRuns& treatment, const SeedRuns& control, const std::string& key) {
  const auto [x, y] = Paired(treatment, control, key);
  if (x.empty()) throw ArgumentError("PairedGain: no common seed with metric '" + key + "'");
  Gain g;
  g.n = x.size();
  g.treatment = Mean(x), g.control = Mean(y);
  g.gain = g.treatment - g.control;
  g.relative = g.control == 0 ? std::numeric_limits<double>::quiet_NaN() : g.gain / std::fabs(g.control);
  if (g.n >= 2) g.p = PairedTTestP(x, y);
  return g;
}

OracleComparison CompareWithOracle(const AgentRuns& learned, const AgentRuns& oracle, const std::string& treatment,
                                   const std::string& control) {
  OracleComparison c;
  std::set<std::string> names;
  for (const auto& [n, r] : learned) names.insert(n);
  for (const auto& [n, r] : oracle) names.insert(n);
  for (const auto& n : AgentOrder(learned)) {
    const auto o = oracle.find(n);
    if (o == oracle.end() || o->second.seeds != learned.at(n).seeds) continue;
    c.agents.push_back(n);
    for (const char* k : {key::kValence, key::kArousal})
      c.affect[n][k] = {Mean(learned.at(n).values.at(k)), Mean(o->second.values.at(k))};
  }
  for (const auto& n : names)
    if (std::find(c.agents.begin(), c.agents.end(), n) == c.agents.end()) c.skipped.push_back(n);
  auto compared = [&](const std::string& n) { return std::count(c.agents.begin(), c.agents.end(), n) > 0; };
  if (!compared(treatment) || !compared(control)) return c;
  c.treatment = treatment, c.control = control;
  for (const char* k : {key::kValence, key::kArousal}) {
    OracleComparison::Row row{k, PairedGain(learned.at(treatment), learned.at(control), k),
                              PairedGain(oracle.at(treatment), oracle.at(control), k)};
    row.gap = row.learned.gain - row.oracle.gain;
    c.gains.push_back(row);
  }
  return c;
}

}  // namespace amrs::metrics

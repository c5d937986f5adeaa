// Known per-seed runs for the report's aggregation (test_rollout_metrics.cc) and rendering
// (test_report_render.cc) tests.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "amrs/metrics/aggregate.h"
#include "amrs/metrics/rollouts.h"

namespace amrs::testing {

// copycat, dpo (optional), random, zeta, alpha over seeds 0-2: valence per seed, constant Gini.
inline metrics::AgentRuns ThreeAgents(bool with_dpo) {
  namespace key = metrics::key;
  metrics::AgentRuns runs;
  auto add = [&](const std::string& name, std::vector<double> val, double gini) {
    for (std::size_t s = 0; s < val.size(); ++s) runs[name].Add(s, {{key::kValence, val[s]}, {key::kGini, gini}});
  };
  add("copycat", {0.40, 0.45, 0.50}, 0.5);
  if (with_dpo) add("dpo", {0.50, 0.60, 0.70}, 0.6);
  add("random", {0.90, 0.90, 0.90}, 0.7);
  add("zeta", {0.1, 0.1, 0.1}, 0.1);
  add("alpha", {0.1, 0.1, 0.1}, 0.1);
  return runs;
}

// (learned, oracle): dpo and copycat over seeds 0-2 in both, random (seed 0) in the learned only.
// Valence gain of dpo over copycat: 0.15 learned, 0.02 oracle; arousal: no gain.
inline std::pair<metrics::AgentRuns, metrics::AgentRuns> LearnedAndOracle() {
  namespace key = metrics::key;
  metrics::AgentRuns learned, oracle;
  const double lv[2][3] = {{0.5, 0.6, 0.7}, {0.4, 0.45, 0.5}}, ov[2][3] = {{0.42, 0.47, 0.52}, {0.4, 0.45, 0.5}};
  for (std::uint64_t s = 0; s < 3; ++s) {
    learned["dpo"].Add(s, {{key::kValence, lv[0][s]}, {key::kArousal, 0.5}});
    learned["copycat"].Add(s, {{key::kValence, lv[1][s]}, {key::kArousal, 0.5}});
    oracle["dpo"].Add(s, {{key::kValence, ov[0][s]}, {key::kArousal, 0.4}});
    oracle["copycat"].Add(s, {{key::kValence, ov[1][s]}, {key::kArousal, 0.4}});
  }
  learned["random"].Add(0, {{key::kValence, 0.1}, {key::kArousal, 0.1}});
  return {learned, oracle};
}

}  // namespace amrs::testing

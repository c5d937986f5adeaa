// The aggregation of the comparative benchmark report (paper 4.5, 4.6; docs/report.md): per-seed
// metrics of each agent aggregated across seeds (mean, SD, paired t-test against "dpo", bold) for
// the paper's Tables 4 and 5, and the oracle comparison (simulator exploitation). Plain data in
// and out; the report module renders them (amrs/report/render.h).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace amrs::metrics {

// One agent's per-seed results: values[key][i] and steps[signal][i] belong to seeds[i].
struct SeedRuns {
  std::vector<std::uint64_t> seeds;
  std::map<std::string, std::vector<double>> values;
  std::map<std::string, std::vector<std::vector<double>>> steps;  // per-step means, e.g. "valence"
  // Appends one seed; throws ArgumentError if the seed repeats or its keys differ from earlier seeds'.
  void Add(std::uint64_t seed, const std::map<std::string, double>& metrics,
           const std::map<std::string, std::vector<double>>& step_means = {});
};
using AgentRuns = std::map<std::string, SeedRuns>;  // agent name -> runs

inline constexpr const char* kReferenceAgent = "dpo";
// copycat, dpo, random, greedy first (those present), then the others alphabetically.
std::vector<std::string> AgentOrder(const AgentRuns& runs);

struct MetricSpec {
  std::string key, label;
  bool higher_better = true;
};

struct Cell {
  double mean = 0, sd = 0;
  std::size_t n = 0;
  double p = std::numeric_limits<double>::quiet_NaN();  // paired t-test vs the reference; NaN: none
  std::string stars;
  bool bold = false;
};

struct Aggregate {
  std::vector<std::string> agents;  // AgentOrder
  std::vector<MetricSpec> metrics;
  std::string reference;            // "" when the reference agent is absent
  std::map<std::string, std::map<std::string, Cell>> cells;  // agent -> key (absent: n/a)
};

// Mean and SD over seeds per agent and metric. When `reference` is among the agents, every other
// agent gets the paired t-test p-value (pairs = seeds both ran, at least 2) and stars. Bold: the
// best mean per metric (direction from MetricSpec) among `bold_among` (empty: all agents; only
// the agents present count; none present: no bold). Ties are all bold.
Aggregate AggregateRuns(const AgentRuns& runs, const std::vector<MetricSpec>& metrics,
                        const std::string& reference, const std::vector<std::string>& bold_among);

std::vector<MetricSpec> Table4Metrics();   // valence .. gini (Gini lower is better)
std::vector<MetricSpec> Level2Metrics();   // Hit@10, MRR, NDCG@10
std::vector<MetricSpec> Level3Metrics();   // accuracy, Hit@10, MRR, NDCG@10
// Table 4: bold among copycat and dpo, stars against dpo.
Aggregate Table4(const AgentRuns& runs);
// One Table-5 block (Level 2 + Level 3 keys): bold = highest mean per row, no stars.
Aggregate Table5Part(const AgentRuns& runs);

// treatment - control on one metric, paired by seed.
struct Gain {
  double control = 0, treatment = 0;  // means over the paired seeds
  double gain = 0, relative = 0;      // treatment - control; gain / |control| (NaN if control == 0)
  double p = std::numeric_limits<double>::quiet_NaN();  // NaN with fewer than 2 pairs
  std::size_t n = 0;
};
Gain PairedGain(const SeedRuns& treatment, const SeedRuns& control, const std::string& key);

// The learned world's prediction against the oracle's truth for the same agents and seeds.
struct OracleComparison {
  std::vector<std::string> agents;   // compared (same seeds in both logs)
  std::vector<std::string> skipped;  // in only one log, or with different seeds
  // agent -> key (valence, arousal) -> {predicted, true} means over seeds
  std::map<std::string, std::map<std::string, std::pair<double, double>>> affect;
  std::string treatment, control;    // "dpo", "copycat" ("" when not both compared)
  struct Row {
    std::string key;
    Gain learned, oracle;
    double gap = 0;  // exploitation gap = learned gain - oracle gain
  };
  std::vector<Row> gains;
};
OracleComparison CompareWithOracle(const AgentRuns& learned, const AgentRuns& oracle,
                                   const std::string& treatment = "dpo", const std::string& control = "copycat");

}  // namespace amrs::metrics

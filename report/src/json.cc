// summary.json: every number of the report, built with nlohmann_json (render.h).
#include <cmath>
#include <nlohmann/json.hpp>

#include "amrs/metrics/rollouts.h"
#include "amrs/metrics/stats.h"
#include "amrs/report/render.h"

namespace amrs::report {
namespace {

using metrics::AgentRuns;
using metrics::Aggregate;
using metrics::Gain;
using metrics::Mean;
using metrics::Sd;
using metrics::Table4;
using metrics::Table5Part;

nlohmann::json Number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

nlohmann::json AggregateJson(const Aggregate& t, const AgentRuns& runs) {
  nlohmann::json j = nlohmann::json::object();
  j["reference"] = t.reference;
  j["agents"] = t.agents;
  for (const auto& a : t.agents) {
    auto& ja = j["rows"][a];
    ja["seeds"] = runs.at(a).seeds;
    for (const auto& m : t.metrics) {
      const auto row = t.cells.find(a);
      if (row == t.cells.end() || !row->second.count(m.key)) continue;
      const auto& c = row->second.at(m.key);
      ja["metrics"][m.key] = {{"mean", c.mean}, {"sd", c.sd}, {"n", c.n}, {"p", Number(c.p)}, {"stars", c.stars},
                              {"bold", c.bold}, {"values", runs.at(a).values.at(m.key)}};
    }
    for (const auto& [signal, per_seed] : runs.at(a).steps) {
      std::vector<double> mean(per_seed.empty() ? 0 : per_seed[0].size(), 0.0);
      for (const auto& s : per_seed)
        for (std::size_t i = 0; i < mean.size() && i < s.size(); ++i) mean[i] += s[i] / static_cast<double>(per_seed.size());
      ja["step_means"][signal] = mean;
    }
  }
  return j;
}

nlohmann::json GainJson(const Gain& g) {
  return {{"control", g.control}, {"treatment", g.treatment}, {"gain", g.gain}, {"relative", Number(g.relative)},
          {"p", Number(g.p)}, {"n", g.n}};
}

}  // namespace

std::string ReportJson(const ReportData& d) {
  nlohmann::json j;
  j["runs"] = nlohmann::json::array();
  for (const auto& r : d.runs)
    j["runs"].push_back({{"file", r.file}, {"world", r.world}, {"oracle", r.oracle}, {"part", r.part},
                         {"split", r.split}, {"horizon", r.horizon}, {"topk", r.topk}, {"utility", r.utility},
                         {"scenario", r.scenario}, {"seed_scope", r.seed_scope}, {"fingerprint", r.fingerprint},
                         {"agents", r.agents},
                         {"seeds", r.seeds}, {"no_replay", r.no_replay}});
  j["tables_world"] = d.tables_world;
  j["tuning"]["caption"] = TuningCaption(d.tuning);
  j["tuning"]["tables"] = nlohmann::json::array();
  for (const auto& t : d.tuning) {
    nlohmann::json jt = {{"file", t.file}, {"kind", t.kind}, {"seeds", t.seeds}, {"part", "val"},
                         {"dataset_fingerprint", t.dataset_fingerprint}, {"world_id", t.world_id},
                         {"chosen", t.chosen}, {"points", nlohmann::json::array()}};
    for (const auto& p : t.points) {
      nlohmann::json q = {{"values", nlohmann::json::object()}, {"val_reward", {{"mean", p.mean}, {"sd", p.sd}}},
                          {"val_valence", p.valence}, {"val_arousal", p.arousal}};
      for (const auto& [k, v] : p.values) q["values"][k] = v;
      jt["points"].push_back(q);
    }
    j["tuning"]["tables"].push_back(jt);
  }
  j["notes"] = d.notes;
  if (d.table4) j["table4"] = AggregateJson(Table4(*d.table4), *d.table4);
  for (const auto& [part, runs] : d.table5) j["table5"][part] = AggregateJson(Table5Part(runs), runs);
  if (d.oracle) {
    auto& o = j["oracle_comparison"];
    o["agents"] = d.oracle->agents;
    o["skipped"] = d.oracle->skipped;
    for (const auto& [a, m] : d.oracle->affect)
      for (const auto& [k, v] : m) o["affect"][a][k] = {{"predicted", v.first}, {"true", v.second}};
    o["treatment"] = d.oracle->treatment, o["control"] = d.oracle->control;
    for (const auto& r : d.oracle->gains)
      o["gains"][r.key] = {{"learned", GainJson(r.learned)}, {"oracle", GainJson(r.oracle)}, {"exploitation_gap", r.gap}};
  }
  for (const auto& [part, runs] : d.table5)  // an ensemble world's disagreement (docs/ensembles.md)
    for (const auto& [agent, r] : runs) {
      const auto it = r.values.find(metrics::key::kDisagreement);
      if (it == r.values.end() || it->second.empty()) continue;
      auto& u = j["uncertainty"][part][agent];
      u = {{"mean", Mean(it->second)}, {"sd", Sd(it->second)}, {"values", it->second}};
      // Synthetic data: the error against the oracle and its rank correlation with the disagreement.
      for (const char* k : {metrics::key::kOracleError, metrics::key::kDisagreementErrorSpearman,
                            metrics::key::kOracleValence, metrics::key::kOracleArousal}) {
        const auto e = r.values.find(k);
        if (e != r.values.end() && !e->second.empty())
          u[k] = {{"mean", Mean(e->second)}, {"sd", Sd(e->second)}, {"values", e->second}};
      }
    }
  for (const auto& [file, rows] : d.world_results)
    for (const auto& [row, metrics] : rows)
      for (const auto& [k, v] : metrics)
        j["world"][file][row][k] = {{"mean", v.empty() ? nlohmann::json(nullptr) : nlohmann::json(Mean(v))},
                                    {"sd", v.empty() ? nlohmann::json(nullptr) : nlohmann::json(Sd(v))}, {"values", v}};
  return j.dump(2) + "\n";
}

}  // namespace amrs::report

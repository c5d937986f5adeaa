#include "amrs/metrics/report.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "amrs/core/error.h"
#include "amrs/metrics/rollouts.h"
#include "amrs/metrics/stats.h"

namespace amrs::metrics {
namespace {

std::string Fixed(double x, int precision = 3) {
  if (std::isnan(x)) return "n/a";
  std::ostringstream s;
  s << std::fixed << std::setprecision(precision) << x;
  return s.str();
}

std::string PValue(double p) {
  if (std::isnan(p)) return "n/a";
  if (p < 0.001) return "< 0.001";
  return Fixed(p, 3);
}

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

const char* PartOrder[] = {"train", "val", "test"};

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

std::string Table4Markdown(const Aggregate& t) {
  std::ostringstream os;
  os << "| Model | Valence ↑ | Arousal ↑ | Rating ↑ | Engagement ↑ | Cov. ↑ | Norm. Ent. ↑ | ILD ↑ | Gini ↓ |\n"
     << "|---|---|---|---|---|---|---|---|---|\n"
     << "| | *Affect (DPO objective)* | | *Behavioural (held out)* | | *Diversity* | | | |\n";
  bool baselines_shown = false;
  for (const auto& a : t.agents) {
    if (a != "copycat" && a != "dpo" && !baselines_shown) {
      os << "| *Baselines and others:* | | | | | | | | |\n";
      baselines_shown = true;
    }
    os << "| " << a << " |";
    const auto& row = t.cells.count(a) ? t.cells.at(a) : std::map<std::string, Cell>{};
    for (const auto& m : t.metrics) {
      const auto c = row.find(m.key);
      if (c == row.end()) {
        os << " n/a |";
        continue;
      }
      std::string s = Fixed(c->second.mean) + " (" + Fixed(c->second.sd) + ")";
      if (c->second.bold) s = "**" + s + "**";
      if (!c->second.stars.empty()) s += "<sup>" + c->second.stars + "</sup>";
      os << " " << s << " |";
    }
    os << "\n";
  }
  return os.str();
}

std::string Table5Markdown(const std::map<std::string, AgentRuns>& parts) {
  std::set<std::string> names;
  for (const auto& [p, runs] : parts)
    for (const auto& [n, r] : runs) names.insert(n);
  AgentRuns all;
  for (const auto& n : names) all[n];
  const auto agents = AgentOrder(all);
  std::ostringstream os;
  os << "| Split | Metric |";
  for (const auto& a : agents) os << " " << a << " |";
  os << "\n|---|---|";
  for (std::size_t i = 0; i < agents.size(); ++i) os << "---|";
  os << "\n";
  auto block = [&](const std::string& part, const std::vector<MetricSpec>& metrics) {
    const auto t = Table5Part(parts.at(part));
    for (const auto& m : metrics) {
      os << "| " << part << " | " << m.label << " |";
      for (const auto& a : agents) {
        const auto row = t.cells.find(a);
        const auto c = row == t.cells.end() ? nullptr : (row->second.count(m.key) ? &row->second.at(m.key) : nullptr);
        os << " " << (c ? (c->bold ? "**" + Fixed(c->mean) + "**" : Fixed(c->mean)) : "n/a") << " |";
      }
      os << "\n";
    }
  };
  auto heading = [&](const char* title) {
    os << "| *" << title << "* | |";
    for (std::size_t i = 0; i < agents.size(); ++i) os << " |";
    os << "\n";
  };
  heading("Level 2 (user-wise)");
  for (const char* p : PartOrder)
    if (parts.count(p)) block(p, Level2Metrics());
  if (parts.count("test")) {
    heading("Level 3 (time-step, test only)");
    block("test", Level3Metrics());
  }
  return os.str();
}

std::string OracleMarkdown(const OracleComparison& c) {
  std::ostringstream os;
  os << "| Agent | Valence predicted | Valence true | Arousal predicted | Arousal true |\n|---|---|---|---|---|\n";
  for (const auto& a : c.agents) {
    const auto& v = c.affect.at(a).at(key::kValence);
    const auto& r = c.affect.at(a).at(key::kArousal);
    os << "| " << a << " | " << Fixed(v.first) << " | " << Fixed(v.second) << " | " << Fixed(r.first) << " | "
       << Fixed(r.second) << " |\n";
  }
  if (!c.skipped.empty()) {
    os << "\nNot compared (missing from one log or run with other seeds):";
    for (const auto& s : c.skipped) os << " " << s;
    os << ".\n";
  }
  if (c.gains.empty()) {
    os << "\nThe gain of dpo over copycat needs both agents in both logs with the same seeds.\n";
    return os.str();
  }
  auto gain = [](const Gain& g) {
    std::ostringstream s;
    s << std::showpos << std::fixed << std::setprecision(4) << g.gain << std::noshowpos << " ("
      << (std::isnan(g.relative) ? "n/a" : (g.relative >= 0 ? "+" : "") + Fixed(100 * g.relative, 1) + "%")
      << ", p " << PValue(g.p) << ")";
    return s.str();
  };
  os << "\n" << c.treatment << " vs " << c.control
     << ", paired by seed. Exploitation gap = learned-world gain − oracle (true) gain: the part of the predicted "
        "gain that the ground truth does not confirm.\n\n"
     << "| Signal | Learned-world gain (rel., p) | Oracle gain (rel., p) | Exploitation gap |\n|---|---|---|---|\n";
  for (const auto& r : c.gains) {
    std::ostringstream gap;
    gap << std::showpos << std::fixed << std::setprecision(4) << r.gap;
    os << "| " << r.key << " | " << gain(r.learned) << " | " << gain(r.oracle) << " | " << gap.str() << " |\n";
  }
  return os.str();
}

namespace {

std::string RunsMarkdown(const std::vector<RunInfo>& runs) {
  std::ostringstream os;
  os << "| Log | World | Part | Split | Horizon | Top-k | Utility | Agents | Seeds |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : runs) {
    os << "| `" << r.file << "` | " << r.world << (r.scenario.empty() ? "" : " (scenario " + r.scenario + ")") << " | "
       << r.part << " | " << r.split << " | " << r.horizon << " | " << r.topk << " | " << r.utility << " |";
    for (std::size_t i = 0; i < r.agents.size(); ++i) os << (i ? ", " : " ") << r.agents[i];
    os << " |";
    for (std::size_t i = 0; i < r.seeds.size(); ++i) os << (i ? ", " : " ") << r.seeds[i];
    os << " |\n";
  }
  return os.str();
}

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

std::string ReportMarkdown(const ReportData& d, const std::vector<Figure>& figures, const std::string& figures_note) {
  std::ostringstream os;
  os << "# AMRS-Sim benchmark report\n\n";
  for (const auto& n : d.notes) os << "> " << n << "\n>\n";
  if (!d.notes.empty()) os << "\n";
  os << "## Runs\n\n" << RunsMarkdown(d.runs) << "\n";
  if (d.table4) {
    os << "## Table 4: predicted feedback and diversity (" << d.tables_world << " world, test part)\n\n"
       << "Cross-seed mean (SD). Rating and engagement are held out of the DPO objective. Bold: best among the "
          "learned policies (copycat, dpo). Stars: paired t-test against dpo (* p < 0.05, ** p < 0.01, "
          "*** p < 0.001)"
       << (d.table4->count(kReferenceAgent) ? "" : "; dpo is not in this log, so no stars") << ".\n\n"
       << Table4Markdown(Table4(*d.table4)) << "\n";
  }
  if (!d.table5.empty()) {
    os << "## Table 5: policy adherence (" << d.tables_world << " world)\n\n"
       << "Cross-seed means. Level 2: relevant = the songs of the user's logged history. Level 3: relevant = the "
          "logged song at the same step after the window. Bold: highest per row.\n\n"
       << Table5Markdown(d.table5) << "\n";
  }
  if (d.oracle) os << "## Oracle comparison (simulator exploitation, test part)\n\n" << OracleMarkdown(*d.oracle) << "\n";
  for (const auto& [file, md] : d.world_tables) os << "## World model (`" << file << "`)\n\n" << md << "\n";
  os << "## Figures\n\n";
  if (!figures_note.empty()) os << figures_note << "\n\n";
  for (const auto& f : figures) os << "![" << f.caption << "](" << f.file << ")\n\n*" << f.caption << "*\n\n";
  return os.str();
}

std::string ReportJson(const ReportData& d) {
  nlohmann::json j;
  j["runs"] = nlohmann::json::array();
  for (const auto& r : d.runs)
    j["runs"].push_back({{"file", r.file}, {"world", r.world}, {"oracle", r.oracle}, {"part", r.part},
                         {"split", r.split}, {"horizon", r.horizon}, {"topk", r.topk}, {"utility", r.utility},
                         {"scenario", r.scenario}, {"fingerprint", r.fingerprint}, {"agents", r.agents},
                         {"seeds", r.seeds}});
  j["tables_world"] = d.tables_world;
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
  for (const auto& [file, rows] : d.world_results)
    for (const auto& [row, metrics] : rows)
      for (const auto& [k, v] : metrics)
        j["world"][file][row][k] = {{"mean", v.empty() ? nlohmann::json(nullptr) : nlohmann::json(Mean(v))},
                                    {"sd", v.empty() ? nlohmann::json(nullptr) : nlohmann::json(Sd(v))}, {"values", v}};
  return j.dump(2) + "\n";
}

}  // namespace amrs::metrics

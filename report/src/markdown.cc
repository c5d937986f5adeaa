// report.md: Tables 4 and 5, the oracle comparison and the whole report (render.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <set>
#include <sstream>

#include "amrs/metrics/rollouts.h"
#include "amrs/metrics/stats.h"
#include "amrs/report/render.h"

namespace amrs::report {
namespace {

using metrics::AgentOrder;
using metrics::AgentRuns;
using metrics::Aggregate;
using metrics::Cell;
using metrics::Gain;
using metrics::MetricSpec;
using metrics::OracleComparison;
using metrics::kReferenceAgent;
using metrics::Level2Metrics;
using metrics::Level3Metrics;
using metrics::Table4;
using metrics::Table5Part;
namespace key = metrics::key;

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

const char* PartOrder[] = {"train", "val", "test"};

std::string RunsMarkdown(const std::vector<RunInfo>& runs) {
  std::ostringstream os;
  os << "| Log | World | Part | Split | Horizon | Top-k | No replay | Utility | Agents | Seeds | Seed scope |\n"
     << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : runs) {
    os << "| `" << r.file << "` | " << r.world << (r.scenario.empty() ? "" : " (scenario " + r.scenario + ")") << " | "
       << r.part << " | " << r.split << " | " << r.horizon << " | " << r.topk << " | "
       << (r.no_replay.empty() ? "unknown" : r.no_replay) << " | " << r.utility << " |";
    for (std::size_t i = 0; i < r.agents.size(); ++i) os << (i ? ", " : " ") << r.agents[i];
    os << " |";
    for (std::size_t i = 0; i < r.seeds.size(); ++i) os << (i ? ", " : " ") << r.seeds[i];
    os << " | " << r.seed_scope << " |\n";
  }
  return os.str();
}

// The caption sentences on the logs behind a table (the runs `pick` selects): what their seeds vary
// and the no-replay rule every agent ran under.
template <class Pick>
std::string RunsCaption(const std::vector<RunInfo>& runs, Pick pick) {
  std::set<std::string> scopes, rules;
  for (const auto& r : runs)
    if (pick(r)) scopes.insert(r.seed_scope), rules.insert(r.no_replay);
  std::string s;
  if (scopes.size() == 1) s += " " + SeedScopeCaption(*scopes.begin());
  if (rules.size() == 1) s += " " + NoReplayCaption(*rules.begin());
  if (rules.size() > 1) {
    s += " The logs behind this table ran under different no-replay rules (";
    for (const auto& r : rules) s += (r == *rules.begin() ? "" : ", ") + (r.empty() ? "unknown" : r);
    s += "; docs/run.md): see the run table.";
  }
  return s;
}

std::string Fixed4(double x) { return Fixed(x, 4); }

}  // namespace

std::string SeedScopeCaption(const std::string& scope) {
  if (scope == "policy")
    return "Seed scope policy: the seeds vary policy training only; every seed sees the same windows and the same "
           "world, so a deterministic agent (greedy) has SD 0.";
  if (scope == "policy+windows")
    return "Seed scope policy+windows: the seeds vary policy training and the users' evaluation windows (drawn "
           "per seed) under one world.";
  if (scope == "policy+windows+world")
    return "Seed scope policy+windows+world: the seeds vary policy training, the users' evaluation windows and the "
           "world model (one per seed).";
  return "Seed scope " + scope + ".";
}

std::string NoReplayCaption(const std::string& rule) {
  const std::string head = "Every agent ran under the no-replay rule `" + rule + "`";
  if (rule == "session") return head + ": no agent may recommend a song of the current session (docs/run.md).";
  if (rule == "episode") return head + ": no agent may recommend a song its episode already recommended (docs/run.md).";
  if (rule == "off") return head + ": any agent may recommend any song at any step, replays included (docs/run.md).";
  if (rule.empty())
    return "The no-replay rule of these logs was not recorded (logs written before it was a run option; "
           "docs/run.md).";
  return head + " (docs/run.md).";
}

std::string TuningCaption(const std::vector<TuneInfo>& tuning) {
  if (tuning.empty()) return "How the policies' hyperparameters were chosen is not recorded here (see docs/tuning.md).";
  std::string kinds;
  for (std::size_t i = 0; i < tuning.size(); ++i)
    kinds += (i == 0 ? "" : i + 1 == tuning.size() ? " and " : ", ") + tuning[i].kind;
  return "Hyperparameters of " + kinds +
         ": chosen on validation users with `amrs tune` (section Tuning); the test part is used for this table only.";
}

std::string TuningMarkdown(const std::vector<TuneInfo>& tuning) {
  std::ostringstream os;
  os << "For each grid point, `amrs tune` trained the policies of every seed on the split's train users and "
        "rolled them out on its validation users under the learned world; the point of highest mean validation "
        "reward was chosen (ties: the first in grid order). The test users were never read (docs/tuning.md).\n\n";
  for (const auto& t : tuning) {
    os << "### " << t.kind << " (`" << t.file << "`)\n\nSeeds";
    for (std::size_t i = 0; i < t.seeds.size(); ++i) os << (i ? ", " : " ") << t.seeds[i];
    os << "; scored by world `" << t.world_id << "`; dataset fingerprint " << t.dataset_fingerprint
       << ". Validation reward: mean (SD) over seeds; bold: the chosen point.\n\n";
    if (t.chosen >= t.points.size()) {  // RunReport refuses such a table; plain data may still hold one
      os << "No grid points.\n\n";
      continue;
    }
    os << "|";
    const auto& keys = t.points.front().values;
    for (const auto& kv : keys) os << " " << kv.first << " |";
    os << " Val. reward (SD) | Valence | Arousal |\n|";
    for (std::size_t i = 0; i < keys.size() + 3; ++i) os << "---|";
    os << "\n";
    for (std::size_t i = 0; i < t.points.size(); ++i) {
      const auto& p = t.points[i];
      const auto cell = [&](const std::string& x) { return " " + (i == t.chosen ? "**" + x + "**" : x) + " |"; };
      os << "|";
      for (const auto& kv : p.values) os << cell(kv.second);
      os << cell(Fixed4(p.mean) + " (" + Fixed4(p.sd) + ")") << cell(Fixed4(p.valence)) << cell(Fixed4(p.arousal))
         << "\n";
    }
    os << "\nChosen:";
    for (const auto& kv : t.points[t.chosen].values) os << " " << kv.first << "=" << kv.second;
    os << ".\n\n";
  }
  return os.str();
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

// Under an ensemble world: the members' mean disagreement on each agent's actions, per part
// (mean (SD) over seeds); "" when no log carries it.
namespace {

// The per-seed values of `key` for `agent` in `runs`; null when absent or empty.
const std::vector<double>* SeedValues(const metrics::AgentRuns& runs, const std::string& agent, const char* key) {
  const auto a = runs.find(agent);
  if (a == runs.end()) return nullptr;
  const auto it = a->second.values.find(key);
  return it == a->second.values.end() || it->second.empty() ? nullptr : &it->second;
}

// " <mean> (<sd>) |" in `format` (two doubles), or " n/a |".
std::string MeanSdCell(const std::vector<double>* v, const char* format) {
  if (!v) return " n/a |";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, metrics::Mean(*v), metrics::Sd(*v));
  return buf;
}

}  // namespace

std::string UncertaintyMarkdown(const std::map<std::string, metrics::AgentRuns>& parts) {
  std::vector<std::string> part_names, agents;
  for (const char* p : {"train", "val", "test"}) {
    const auto it = parts.find(p);
    if (it == parts.end()) continue;
    bool any = false;
    for (const auto& [agent, runs] : it->second)
      if (runs.values.count(metrics::key::kDisagreement)) {
        any = true;
        if (std::find(agents.begin(), agents.end(), agent) == agents.end()) agents.push_back(agent);
      }
    if (any) part_names.push_back(p);
  }
  if (part_names.empty()) return "";
  std::ostringstream os;
  os << "## Simulator uncertainty (ensemble world)\n\n"
     << "Mean utility-weighted disagreement of the ensemble's members on each agent's actions "
        "(sum over signals of |utility weight| x the members' SD; docs/ensembles.md), mean (SD) over seeds. "
        "Higher: the agent steers where the simulator is less sure of its predictions.\n\n| Agent |";
  for (const auto& p : part_names) os << " " << p << " |";
  os << "\n|---|";
  for (std::size_t i = 0; i < part_names.size(); ++i) os << "---|";
  os << "\n";
  for (const auto& agent : agents) {
    os << "| " << agent << " |";
    for (const auto& p : part_names)
      os << MeanSdCell(SeedValues(parts.at(p), agent, metrics::key::kDisagreement), " %.4f (%.4f) |");
    os << "\n";
  }
  // Synthetic data: is the disagreement informative? Its Spearman correlation, over every step of
  // a seed, with the actual error against the oracle (the episodes replayed there).
  std::vector<std::string> checked;
  for (const auto& p : part_names)
    for (const auto& [agent, runs] : parts.at(p))
      if (runs.values.count(metrics::key::kOracleError)) {
        checked.push_back(p);
        break;
      }
  if (checked.empty()) return os.str() + "\n";
  os << "\nIs the disagreement informative? Each episode replayed in the oracle with the same actions: mean "
        "utility-weighted absolute error of the predicted feedback against the oracle's, and the Spearman "
        "correlation between the per-step disagreement and that error (over every step of a seed; mean (SD) over "
        "seeds; n/a where either is constant).\n\n| Agent |";
  for (const auto& p : checked) os << " " << p << " error | " << p << " Spearman |";
  os << "\n|---|";
  for (std::size_t i = 0; i < checked.size(); ++i) os << "---|---|";
  os << "\n";
  for (const auto& agent : agents) {
    os << "| " << agent << " |";
    for (const auto& p : checked)
      os << MeanSdCell(SeedValues(parts.at(p), agent, metrics::key::kOracleError), " %.4f (%.4f) |")
         << MeanSdCell(SeedValues(parts.at(p), agent, metrics::key::kDisagreementErrorSpearman), " %+.3f (%.3f) |");
    os << "\n";
  }
  // The same actions' true affect (the replay) next to the predicted: the exploitation of each
  // agent's own choices.
  os << "\nPredicted (ensemble mean) and true (the same actions replayed in the oracle) mean affect of each agent's "
        "actions, mean over seeds.\n\n| Agent | part | Valence predicted | Valence true | Arousal predicted | "
        "Arousal true |\n|---|---|---|---|---|---|\n";
  for (const auto& agent : agents)
    for (const auto& p : checked) {
      if (!SeedValues(parts.at(p), agent, metrics::key::kOracleValence)) continue;
      os << "| " << agent << " | " << p << " |";
      for (const char* k : {metrics::key::kValence, metrics::key::kOracleValence, metrics::key::kArousal,
                            metrics::key::kOracleArousal}) {
        const auto* v = SeedValues(parts.at(p), agent, k);
        char buf[32];
        std::snprintf(buf, sizeof buf, " %.3f |", v ? metrics::Mean(*v) : 0.0);
        os << (v ? buf : " n/a |");
      }
      os << "\n";
    }
  return os.str() + "\n";
}

std::string ReportMarkdown(const ReportData& d, const std::vector<Figure>& figures, const std::string& figures_note) {
  std::ostringstream os;
  os << "# AMRS-Sim benchmark report\n\n";
  for (const auto& n : d.notes) os << "> " << n << "\n>\n";
  if (!d.notes.empty()) os << "\n";
  os << "## Runs\n\n" << RunsMarkdown(d.runs) << "\n";
  if (!d.tuning.empty()) os << "## Tuning (validation users)\n\n" << TuningMarkdown(d.tuning);
  const bool tables_oracle = d.tables_world == "oracle";
  if (d.table4) {
    os << "## Table 4: predicted feedback and diversity (" << d.tables_world << " world, test part)\n\n"
       << "Cross-seed mean (SD). Rating and engagement are held out of the DPO objective. Bold: best among the "
          "learned policies (copycat, dpo). Stars: paired t-test against dpo (* p < 0.05, ** p < 0.01, "
          "*** p < 0.001)"
       << (d.table4->count(kReferenceAgent) ? "" : "; dpo is not in this log, so no stars") << "."
       << RunsCaption(d.runs, [&](const RunInfo& r) { return r.oracle == tables_oracle && r.part == "test"; })
       << " " << TuningCaption(d.tuning) << "\n\n"
       << Table4Markdown(Table4(*d.table4)) << "\n";
  }
  if (!d.table5.empty()) {
    os << "## Table 5: policy adherence (" << d.tables_world << " world)\n\n"
       << "Cross-seed means. Level 2: relevant = the songs of the user's logged history. Level 3: relevant = the "
          "logged song at the same step after the window. Bold: highest per row."
       << RunsCaption(d.runs, [&](const RunInfo& r) { return r.oracle == tables_oracle; }) << "\n\n"
       << Table5Markdown(d.table5) << "\n";
  }
  if (d.oracle)
    os << "## Oracle comparison (simulator exploitation, test part)\n\n"
       << "Predicted (learned-world test log) and true (oracle-world test log) mean affect per agent."
       << RunsCaption(d.runs, [](const RunInfo& r) { return r.part == "test"; }) << "\n\n"
       << OracleMarkdown(*d.oracle) << "\n";
  os << UncertaintyMarkdown(d.table5);
  for (const auto& [file, md] : d.world_tables) os << "## World model (`" << file << "`)\n\n" << md << "\n";
  os << "## Figures\n\n";
  if (!figures_note.empty()) os << figures_note << "\n\n";
  for (const auto& f : figures) os << "![" << f.caption << "](" << f.file << ")\n\n*" << f.caption << "*\n\n";
  return os.str();
}

}  // namespace amrs::report

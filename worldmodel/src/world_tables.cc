#include "amrs/worldmodel/world_tables.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <set>
#include <sstream>

#include "amrs/core/error.h"
#include "amrs/metrics/stats.h"
#include "amrs/metrics/tables.h"

namespace amrs::worldmodel {
namespace {

const char* kMetricKeys[] = {"engagement_mse", "engagement_r2", "rating_auc", "valence_mse",
                             "valence_r2",     "arousal_mse",   "arousal_r2"};

std::vector<metrics::Column> WorldColumns() {
  return {{"engagement_mse", "Eng. MSE", false, 1, 4, true},  {"engagement_r2", "Eng. R² (%)", true, 100, 1, false},
          {"rating_auc", "Rating AUC (%)", true, 100, 1, true}, {"valence_mse", "Val. MSE", false, 1, 4, true},
          {"valence_r2", "Val. R² (%)", true, 100, 1, false},    {"arousal_mse", "Aro. MSE", false, 1, 4, true},
          {"arousal_r2", "Aro. R² (%)", true, 100, 1, false}};
}

}  // namespace

std::vector<ModelConfig> Table2Configs(const ModelConfig& base, const std::vector<std::string>& families) {
  std::vector<ModelConfig> out;
  for (Arch a : {Arch::kStandard, Arch::kFactorized})
    for (const auto& fam : families)
      for (bool pe : {false, true}) {
        ModelConfig c = base;
        c.arch = a;
        c.family = fam;
        c.rope = pe;
        c.ablation = Ablation{};
        out.push_back(c);
      }
  return out;
}

std::vector<ModelConfig> Table3Configs(const ModelConfig& base) {
  std::vector<ModelConfig> out;
  ModelConfig b = base;
  b.arch = Arch::kFactorized;
  b.ablation = Ablation{};
  out.push_back(b);
  for (const char* name : {"-user-history", "-feedback", "-history-songs", "-lookback-10", "-lookback-5", "-candidate-song"}) {
    ModelConfig c = b;
    c.ablation = Ablation::Parse(name);
    out.push_back(c);
  }
  return out;
}

namespace {

// The configurations of a "world" section's model rows (their `config` attributes), in row order;
// rows without one (baselines, the oracle) or with an unreadable one are left out.
std::vector<ModelConfig> SectionConfigs(const data::ResultSection& world) {
  std::vector<ModelConfig> out;
  for (const auto& [name, row] : world)
    if (row.attrs.count("config")) {
      try {
        out.push_back(ModelConfig::FromJson(row.attrs.at("config")));
      } catch (const Error&) {
      }
    }
  return out;
}

}  // namespace

std::vector<std::string> SectionFamilies(const data::ResultSection& world) {
  std::set<std::string> families;
  for (const auto& c : SectionConfigs(world)) families.insert(c.family);
  if (families.empty()) return {"clamp3", "mert"};
  return {families.begin(), families.end()};
}

ModelConfig SectionBase(const data::ResultSection& world) {
  ModelConfig base;
  const auto configs = SectionConfigs(world);
  if (!configs.empty()) {
    base.song_prior = configs.front().song_prior;
    base.song_prior_k = configs.front().song_prior_k;
    base.prior_offset = configs.front().prior_offset;
    base.session_features = configs.front().session_features;
  }
  return base;
}

namespace {

// The average rank of `row` in `t`, +infinity where it has none.
double RankIn(const metrics::TableResult& t, const std::string& row) {
  const auto it = t.average_rank.find(row);
  return it == t.average_rank.end() ? std::numeric_limits<double>::infinity() : it->second;
}

}  // namespace

std::string SizeRowName(const std::string& model, int d_model) { return model + ".d" + std::to_string(d_model); }

int SizeRowWidth(const std::string& row, const std::string& model) {
  const std::string prefix = model + ".d";
  if (row.size() <= prefix.size() || row.size() > prefix.size() + 4 || row.compare(0, prefix.size(), prefix) != 0)
    return 0;
  int w = 0;
  for (std::size_t i = prefix.size(); i < row.size(); ++i) {
    if (row[i] < '0' || row[i] > '9') return 0;
    w = 10 * w + (row[i] - '0');
  }
  return w;
}

std::string EnsembleRowName(const std::string& model, int members) {
  return model + ".ensemble-" + std::to_string(members);
}

WorldTables RenderWorldTables(const data::ResultSection& world, const ModelConfig& base, bool table2,
                              bool table3) {
  metrics::RowData rows;
  for (const auto& [name, row] : world)
    for (const char* k : kMetricKeys)
      if (row.values.count(k)) rows[name][k] = row.values.at(k);
  for (const auto& [name, row] : world)
    if (row.values.count("ranking_spearman")) rows[name]["ranking_spearman"] = row.values.at("ranking_spearman");
  WorldTables rep;
  std::ostringstream md;
  const auto cols = WorldColumns();
  std::string chosen = Table3Configs(base)[0].Name();
  const auto families = SectionFamilies(world);
  if (table2) {
    std::vector<std::string> order;
    for (const auto& c : Table2Configs(base, families))
      if (rows.count(c.Name())) order.push_back(c.Name());
    const auto first = metrics::MakeTable(order, rows, cols, "");
    if (!first.chosen.empty()) chosen = first.chosen;
    const auto t = metrics::MakeTable(order, rows, cols, chosen);
    md << "### Table 2: world-model configurations\n\nMean (SD) over the test users of each MCCV split. "
          "Bold: best mean. † (chosen): best equal-weight average rank over Eng. MSE, Rating AUC, Val. MSE, "
          "Aro. MSE. Stars: paired t-test against the chosen row (* p < 0.05, ** p < 0.01, *** p < 0.001).\n\n"
       << t.markdown << "\n";
    rep.chosen = chosen;
  }
  if (table3) {
    std::vector<std::string> order;
    const auto t3 = Table3Configs(base);
    for (const auto& c : t3)
      if (rows.count(c.Name())) order.push_back(c.Name());
    const auto t = metrics::MakeTable(order, rows, cols, t3[0].Name());
    md << "### Table 3: leave-one-feature-out ablations of " << t3[0].Name()
       << "\n\nEach row removes one input in training and at test. Stars: paired t-test against the base (†).\n\n"
       << t.markdown << "\n";
  }
  rep.table2_chosen = chosen;
  // Model sizes (sweep-world --sizes): the Table-2 winner at other widths. The best-ranked of them
  // by the same average rank goes on to the validation (a tie keeps the Table-2 winner).
  {
    std::vector<std::pair<int, std::string>> sized;
    for (const auto& [name, row] : world)
      if (const int w = SizeRowWidth(name, chosen); w > 0 && rows.count(name)) sized.emplace_back(w, name);
    std::sort(sized.begin(), sized.end());
    if (!sized.empty() && rows.count(chosen)) {
      std::vector<std::string> order{chosen};
      for (const auto& [w, name] : sized) order.push_back(name);
      const auto t = metrics::MakeTable(order, rows, cols, chosen);
      std::string best = chosen;
      for (std::size_t i = 1; i < order.size(); ++i)
        if (RankIn(t, order[i]) < RankIn(t, best) - 1e-12) best = order[i];
      int width = 0;
      if (world.at(chosen).attrs.count("config")) {
        try {
          width = ModelConfig::FromJson(world.at(chosen).attrs.at("config")).d_model;
        } catch (const Error&) {
        }
      }
      md << "### Model sizes: " << chosen << " at other widths\n\nThe Table-2 winner (†"
         << (width > 0 ? ", d_model " + std::to_string(width) : std::string()) << ") and the same configuration "
         << "trained at d_model N (feed-forward 2N, head N; rows .dN), same splits and test users. Stars: "
            "paired t-test against †. Best average rank over Eng. MSE, Rating AUC, Val. MSE, Aro. MSE (a tie "
            "keeps †): **"
         << best << "**.\n\n"
         << t.markdown << "\n";
      chosen = best;
    }
  }
  // Validation: the chosen configuration (and its ensemble, when the sweep trained one) against
  // the baselines and the oracle.
  std::vector<std::string> order{chosen};
  std::string ensemble;
  for (const auto& [name, row] : world)
    if (name.rfind(chosen + ".ensemble-", 0) == 0 && rows.count(name)) ensemble = name;
  if (!ensemble.empty()) order.push_back(ensemble);
  for (const char* b : {"baseline-song-mean", "baseline-user-mean", "baseline-pooled-mlp", "oracle"})
    if (rows.count(b)) order.push_back(b);
  rep.chosen_model = chosen;
  rep.chosen = chosen;
  std::string usable = chosen;  // the best-ranked of those that are worlds (model, pooled MLP)
  // The chosen world: the model unless a baseline ranks at least as well (a tie goes to the
  // simpler rule: the learned model is worth using only when it predicts better); among the
  // baselines the first in kChoosableBaselines' order wins a tie.
  if (rows.count(chosen)) {
    std::vector<std::string> candidates{chosen};
    for (const char* b : kChoosableBaselines)
      if (rows.count(b)) candidates.push_back(b);
    const auto ranked = metrics::MakeTable(candidates, rows, cols, "");
    auto rank = [&](const std::string& a) { return RankIn(ranked, a); };
    // c replaces the current pick: strictly better, or level with the model itself.
    auto replaces = [&](const std::string& c, const std::string& pick) {
      if (!std::isfinite(rank(c))) return false;
      return pick == chosen ? rank(c) <= rank(pick) + 1e-12 : rank(c) < rank(pick) - 1e-12;
    };
    for (std::size_t i = 1; i < candidates.size(); ++i) {
      const auto& c = candidates[i];
      if (replaces(c, rep.chosen)) rep.chosen = c;
      if (c == "baseline-pooled-mlp" && replaces(c, usable)) usable = c;
    }
  }
  if (rows.count(chosen) && order.size() > 1) {
    const auto t = metrics::MakeTable(order, rows, cols, chosen, false);
    md << "### World-model validation: " << chosen << " against baselines and the oracle\n\n"
       << "Same test tokens. The oracle is the generator's own expected feedback (the achievable ceiling).\n\n"
       << t.markdown << "\n";
    if (rows.count("oracle")) {
      const auto& m = rows[chosen];
      const auto& orc = rows["oracle"];
      auto frac = [&](const char* key, bool auc) {
        std::vector<double> f;
        for (std::size_t i = 0; i < m.at(key).size() && i < orc.at(key).size(); ++i)
          f.push_back(auc ? (m.at(key)[i] - 0.5) / (orc.at(key)[i] - 0.5) : m.at(key)[i] / orc.at(key)[i]);
        std::ostringstream s;
        s << std::fixed << std::setprecision(1) << 100 * metrics::Mean(f) << "% (SD " << 100 * metrics::Sd(f) << ")";
        return s.str();
      };
      md << "Fraction of the oracle ceiling (R² ratio; for rating, (AUC - 0.5) ratio): engagement "
         << frac("engagement_r2", false) << ", rating " << frac("rating_auc", true) << ", valence "
         << frac("valence_r2", false) << ", arousal " << frac("arousal_r2", false) << ".\n\n";
    }
    if (rows[chosen].count("ranking_spearman")) {
      const auto& r = rows[chosen]["ranking_spearman"];
      md << "Ranking fidelity (Spearman correlation over the whole catalogue between the world model's and the "
            "oracle's affect-only utility, sampled test histories): "
         << std::fixed << std::setprecision(3) << metrics::Mean(r) << " (SD over splits " << metrics::Sd(r)
         << ").\n\n";
    }
    if (!ensemble.empty()) {
      // The ensemble's mean against the single model (its member 0): the same measures.
      md << "Ensemble `" << ensemble << "` (the members' mean prediction; stars in the table: paired t-test "
            "against the single model " << chosen << ", docs/ensembles.md)";
      const auto& e = rows[ensemble];
      if (rows.count("oracle")) {
        const auto& orc = rows["oracle"];
        auto frac = [&](const char* key, bool auc) {
          std::vector<double> f;
          for (std::size_t i = 0; e.count(key) && i < e.at(key).size() && i < orc.at(key).size(); ++i)
            f.push_back(auc ? (e.at(key)[i] - 0.5) / (orc.at(key)[i] - 0.5) : e.at(key)[i] / orc.at(key)[i]);
          std::ostringstream s;
          s << std::fixed << std::setprecision(1) << 100 * metrics::Mean(f) << "%";
          return s.str();
        };
        md << ": fraction of the oracle ceiling engagement " << frac("engagement_r2", false) << ", rating "
           << frac("rating_auc", true) << ", valence " << frac("valence_r2", false) << ", arousal "
           << frac("arousal_r2", false);
      }
      if (e.count("ranking_spearman"))
        md << "; ranking fidelity " << std::fixed << std::setprecision(3) << metrics::Mean(e.at("ranking_spearman"))
           << " (SD over splits " << metrics::Sd(e.at("ranking_spearman")) << ")";
      md << ".\n\n";
    }
  }
  if (rep.chosen != rep.chosen_model) {
    md << "**Chosen world: " << rep.chosen << "**. It ranks at least as well as " << rep.chosen_model
       << " (a tie goes to the baseline) by equal-weight average rank over Eng. MSE, Rating AUC, Val. MSE and Aro. MSE among " << rep.chosen_model
       << " and the baselines (the oracle excluded); see docs/own-data.md. ";
    if (usable == rep.chosen)
      md << "Use its checkpoints (" << rep.chosen << "/split-<k>.pt) as --world.\n\n";
    else
      md << "It is not available as a world; of those that are, " << usable << " ranks best"
         << (usable == "baseline-pooled-mlp" ? " (" + usable + "/split-<k>.pt)" : "") << ".\n\n";
  }
  rep.markdown = md.str();
  return rep;
}

}  // namespace amrs::worldmodel

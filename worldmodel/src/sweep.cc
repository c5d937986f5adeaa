#include "amrs/worldmodel/sweep.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <ostream>
#include <sstream>
#include <streambuf>

#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
#include "amrs/data/tokens.h"
#include "amrs/metrics/stats.h"
#include "amrs/metrics/tables.h"
#include "amrs/worldmodel/validate.h"

namespace amrs::worldmodel {
namespace {

// Forwards whole lines to a shared stream under a mutex, each with a prefix.
class PrefixedLines : public std::streambuf {
 public:
  PrefixedLines(std::ostream* out, std::mutex* mu, std::string prefix)
      : out_(out), mu_(mu), prefix_(std::move(prefix)) {}
  ~PrefixedLines() override { Flush(); }

 protected:
  int overflow(int c) override {
    if (c == EOF) return 0;
    if (c == '\n') Flush();
    else if (c != '\r') line_.push_back(static_cast<char>(c));
    return c;
  }

 private:
  void Flush() {
    if (line_.empty() || !out_) return;
    std::lock_guard<std::mutex> lock(*mu_);
    *out_ << prefix_ << line_ << "\n" << std::flush;
    line_.clear();
  }
  std::ostream* out_;
  std::mutex* mu_;
  std::string prefix_, line_;
};

const char* kMetricKeys[] = {"engagement_mse", "engagement_r2", "rating_auc", "valence_mse",
                             "valence_r2",     "arousal_mse",   "arousal_r2"};

std::vector<metrics::Column> WorldColumns() {
  return {{"engagement_mse", "Eng. MSE", false, 1, 4, true},  {"engagement_r2", "Eng. R² (%)", true, 100, 1, false},
          {"rating_auc", "Rating AUC (%)", true, 100, 1, true}, {"valence_mse", "Val. MSE", false, 1, 4, true},
          {"valence_r2", "Val. R² (%)", true, 100, 1, false},    {"arousal_mse", "Aro. MSE", false, 1, 4, true},
          {"arousal_r2", "Aro. R² (%)", true, 100, 1, false}};
}

bool CheckpointMatches(const std::string& path, const ModelConfig& cfg, const std::string& fp, std::int32_t split,
                       std::int32_t epochs) {
  if (!std::filesystem::exists(path)) return false;
  try {
    const auto info = WorldModel::ReadInfo(path);
    return info.config == cfg && info.dataset_fingerprint == fp && info.split == split && info.epochs == epochs;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

std::vector<ModelConfig> Table2Configs(const ModelConfig& base) {
  std::vector<ModelConfig> out;
  for (Arch a : {Arch::kStandard, Arch::kFactorized})
    for (const char* fam : {"clamp3", "mert"})
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
  b.family = "mert";
  b.ablation = Ablation{};
  out.push_back(b);
  for (const char* name : {"-user-history", "-feedback", "-history-songs", "-lookback-10", "-lookback-5", "-candidate-song"}) {
    ModelConfig c = b;
    c.ablation = Ablation::Parse(name);
    out.push_back(c);
  }
  return out;
}

data::ResultRow ScoresRow(const std::vector<metrics::SignalScores>& s, const std::vector<std::int32_t>& splits,
                          const std::string& kind) {
  data::ResultRow r;
  r.attrs["kind"] = kind;
  for (auto k : splits) r.values["split"].push_back(k);
  for (const auto& x : s) {
    r.values["engagement_mse"].push_back(x.engagement_mse);
    r.values["engagement_r2"].push_back(x.engagement_r2);
    r.values["rating_auc"].push_back(x.rating_auc);
    r.values["valence_mse"].push_back(x.valence_mse);
    r.values["valence_r2"].push_back(x.valence_r2);
    r.values["arousal_mse"].push_back(x.arousal_mse);
    r.values["arousal_r2"].push_back(x.arousal_r2);
  }
  return r;
}

SweepReport RenderWorldTables(const data::ResultSection& world, const ModelConfig& base, bool table2,
                              bool table3) {
  metrics::RowData rows;
  for (const auto& [name, row] : world)
    for (const char* k : kMetricKeys)
      if (row.values.count(k)) rows[name][k] = row.values.at(k);
  for (const auto& [name, row] : world)
    if (row.values.count("ranking_spearman")) rows[name]["ranking_spearman"] = row.values.at("ranking_spearman");
  SweepReport rep;
  std::ostringstream md;
  const auto cols = WorldColumns();
  std::string chosen = Table3Configs(base)[0].Name();
  if (table2) {
    std::vector<std::string> order;
    for (const auto& c : Table2Configs(base))
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
  // Validation: the chosen configuration against the baselines and the oracle.
  std::vector<std::string> order{chosen};
  for (const char* b : {"baseline-song-mean", "baseline-user-mean", "baseline-pooled-mlp", "oracle"})
    if (rows.count(b)) order.push_back(b);
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
  }
  rep.markdown = md.str();
  if (rep.chosen.empty()) rep.chosen = chosen;
  return rep;
}

SweepReport RunSweep(const data::Dataset& d, const SweepOptions& o, std::ostream* log) {
  if (o.splits.empty()) throw ArgumentError("sweep-world: no splits given");
  for (auto k : o.splits)
    if (k < 0 || k >= static_cast<std::int32_t>(d.splits.size()))
      throw ArgumentError("sweep-world: split " + std::to_string(k) + " does not exist (the dataset has " +
                          std::to_string(d.splits.size()) + ")");
  if (o.jobs < 1) throw ArgumentError("sweep-world: 'jobs' must be >= 1");
  std::vector<ModelConfig> configs;
  auto add = [&](const ModelConfig& c) {
    for (const auto& x : configs)
      if (x == c) return;
    configs.push_back(c);
  };
  if (o.table2)
    for (const auto& c : Table2Configs(o.train.model)) add(c);
  if (o.table3)
    for (const auto& c : Table3Configs(o.train.model)) add(c);
  std::filesystem::create_directories(o.out_dir);
  const std::string fp = data::Fingerprint(d);
  const data::UserIndex index(d);
  std::mutex mu;
  torch::set_num_threads(1);  // parallelism comes from running jobs side by side

  struct Job {
    int config = -1;  // -1: baselines of this split
    std::int32_t split = 0;
    metrics::SignalScores scores;
    std::vector<metrics::SignalScores> baseline;  // song mean, user mean, MLP, oracle
  };
  std::vector<Job> jobs;
  for (std::size_t c = 0; c < configs.size(); ++c)
    for (auto k : o.splits) jobs.push_back({static_cast<int>(c), k, {}, {}});
  if (o.baselines)
    for (auto k : o.splits) jobs.push_back({-1, k, {}, {}});
  if (log)
    *log << "sweep-world: " << configs.size() << " configurations x " << o.splits.size() << " splits, " << o.jobs
         << " jobs in parallel, results in " << o.out_dir << "\n";
  const auto t0 = std::chrono::steady_clock::now();
  std::atomic<int> done{0};
  tbb::task_arena arena(o.jobs);
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, jobs.size(), std::size_t{1}, [&](std::size_t j) {
      Job& job = jobs[j];
      const auto& split = d.splits[static_cast<std::size_t>(job.split)];
      std::vector<History> test;
      for (auto u : split.test) test.push_back(data::UserHistory(d, index, u));
      if (job.config < 0) {
        const auto s1 = SongMeanBaseline(d, split, test);
        const auto s2 = UserMeanBaseline(d, split, test);
        MlpBaselineOptions mo;
        mo.seed = o.train.seed;
        const auto s3 = PooledMlpBaseline(d, split, test, mo);
        job.baseline = {metrics::ScoreFeedback(test, s1), metrics::ScoreFeedback(test, s2),
                        metrics::ScoreFeedback(test, s3)};
        if (d.oracle) job.baseline.push_back(OracleScores(d, split.test));
      } else {
        const ModelConfig& cfg = configs[static_cast<std::size_t>(job.config)];
        const std::string dir = o.out_dir + "/" + cfg.Name();
        std::filesystem::create_directories(dir);
        TrainOptions t = o.train;
        t.model = cfg;
        t.split = job.split;
        t.out = dir + "/split-" + std::to_string(job.split) + ".pt";
        t.progress_bar = false;
        if (!CheckpointMatches(t.out, cfg, fp, job.split, t.epochs)) {
          PrefixedLines buf(log, &mu, "  [" + cfg.Name() + " split " + std::to_string(job.split) + "] ");
          std::ostream os(&buf);
          TrainWorldModel(d, t, log ? &os : nullptr);
        }
        const auto model = WorldModel::Load(t.out, d);
        job.scores = metrics::ScoreFeedback(test, model->PredictSequences(test));
      }
      const int n = ++done;
      if (log) {
        std::lock_guard<std::mutex> lock(mu);
        const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        *log << "sweep-world: " << n << "/" << jobs.size() << " done ("
             << (job.config < 0 ? std::string("baselines") : configs[static_cast<std::size_t>(job.config)].Name())
             << " split " << job.split << "), " << std::fixed << std::setprecision(0) << el << " s elapsed, ~"
             << el / n * (static_cast<double>(jobs.size()) - n) << " s left\n"
             << std::flush;
      }
    });
  });

  data::ResultSection section;
  for (std::size_t c = 0; c < configs.size(); ++c) {
    std::vector<metrics::SignalScores> s;
    for (const auto& j : jobs)
      if (j.config == static_cast<int>(c)) s.push_back(j.scores);
    auto row = ScoresRow(s, o.splits, "world-model");
    row.attrs["config"] = configs[c].ToJson();
    row.attrs["dataset_fingerprint"] = fp;
    section[configs[c].Name()] = row;
  }
  if (o.baselines) {
    const char* names[] = {"baseline-song-mean", "baseline-user-mean", "baseline-pooled-mlp", "oracle"};
    for (std::size_t b = 0; b < 4; ++b) {
      std::vector<metrics::SignalScores> s;
      for (const auto& j : jobs)
        if (j.config < 0 && b < j.baseline.size()) s.push_back(j.baseline[b]);
      if (s.size() == o.splits.size()) section[names[b]] = ScoresRow(s, o.splits, b == 3 ? "oracle" : "baseline");
    }
  }
  // Choose by average rank, then measure ranking fidelity of the chosen configuration.
  SweepReport rep = RenderWorldTables(section, o.train.model, o.table2, o.table3);
  if (d.oracle && section.count(rep.chosen)) {
    for (auto k : o.splits) {
      const auto& cfg_json = section[rep.chosen].attrs["config"];
      const auto cfg = ModelConfig::FromJson(cfg_json);
      const auto model = WorldModel::Load(o.out_dir + "/" + cfg.Name() + "/split-" + std::to_string(k) + ".pt", d);
      const auto f = MeasureRankingFidelity(*model, d, d.splits[static_cast<std::size_t>(k)].test,
                                            o.fidelity_histories, Utility{}, o.train.seed);
      section[rep.chosen].values["ranking_spearman"].push_back(f.mean);
    }
    rep = RenderWorldTables(section, o.train.model, o.table2, o.table3);
  }
  rep.results_path = o.out_dir + "/world-results.h5";
  rep.tables_path = o.out_dir + "/world-tables.md";
  data::UpdateResults(rep.results_path, "world", section);
  std::ostringstream tables;
  tables << "# World-model study\n\nDataset fingerprint " << fp << "; splits";
  for (auto k : o.splits) tables << " " << k;
  tables << "; " << o.train.epochs << " epochs per model.\n\n" << rep.markdown;
  WriteFileAtomically(rep.tables_path, tables.str());
  return rep;
}

}  // namespace amrs::worldmodel

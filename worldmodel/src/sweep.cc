#include "amrs/worldmodel/sweep.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <torch/torch.h>

#include <algorithm>
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
#include "amrs/worldmodel/ensemble_manifest.h"
#include "amrs/worldmodel/validate.h"
#include "prefixed_lines.h"

namespace amrs::worldmodel {
namespace {

// An existing checkpoint at t.out trained as `t` would train it: configuration, dataset, split,
// epochs, seed and the training options it records (TrainingRecord; a checkpoint without them is
// retrained).
bool CheckpointMatches(const TrainOptions& t, const std::string& fp) {
  if (!std::filesystem::exists(t.out)) return false;
  try {
    const auto info = WorldModel::ReadInfo(t.out);
    return info.config == t.model && info.dataset_fingerprint == fp && info.split == t.split &&
           info.epochs == t.epochs && info.seed == t.seed && info.training == TrainingRecord(t);
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

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

SweepReport RunSweep(const data::Dataset& d, const SweepOptions& o, std::ostream* log) {
  if (o.splits.empty()) throw ArgumentError("sweep-world: no splits given");
  for (auto k : o.splits)
    if (k < 0 || k >= static_cast<std::int32_t>(d.splits.size()))
      throw ArgumentError("sweep-world: split " + std::to_string(k) + " does not exist (the dataset has " +
                          std::to_string(d.splits.size()) + ")");
  if (o.jobs < 1) throw ArgumentError("sweep-world: 'jobs' must be >= 1");
  for (auto w : o.sizes)
    if (w < 2 || w % 2 != 0 || w > ModelConfig::kMaxWidth)
      throw ArgumentError("sweep-world --sizes: width " + std::to_string(w) + " must be an even number in [2, " +
                          std::to_string(ModelConfig::kMaxWidth) + "] (rotary encoding needs even head widths)");
  if (o.members < 1 || o.members > kMaxEnsembleMembers)
    throw ArgumentError("sweep-world: 'members' must be in [1, " + std::to_string(kMaxEnsembleMembers) + "]");
  // Families: checked before anything is created (the error lists the dataset's families).
  std::vector<std::string> families = o.families;
  if (families.empty())
    for (const auto& f : d.families) families.push_back(f.name);
  if (families.empty()) throw InputError("sweep-world: the dataset has no embedding families");
  std::sort(families.begin(), families.end());
  families.erase(std::unique(families.begin(), families.end()), families.end());
  for (const auto& f : families) d.Family(f);
  ModelConfig base = o.train.model;
  if (base.family.empty()) base.family = o.families.empty() ? DefaultFamily(d) : o.families[0];
  if (std::find(families.begin(), families.end(), base.family) == families.end())
    throw ArgumentError("sweep-world: --family '" + base.family + "' is not among the compared families (" +
                        [&] {
                          std::string l;
                          for (const auto& f : families) l += (l.empty() ? "" : ", ") + f;
                          return l;
                        }() + ")");
  std::vector<ModelConfig> configs;
  auto add = [&](const ModelConfig& c) {
    for (const auto& x : configs)
      if (x == c) return;
    configs.push_back(c);
  };
  if (o.table2)
    for (const auto& c : Table2Configs(base, families)) add(c);
  if (o.table3)
    for (const auto& c : Table3Configs(base)) add(c);
  std::filesystem::create_directories(o.out_dir);
  if (o.baselines) std::filesystem::create_directories(o.out_dir + "/baseline-pooled-mlp");
  const std::string fp = data::Fingerprint(d);
  const data::UserIndex index(d);
  std::mutex mu;
  torch::set_num_threads(1);  // parallelism comes from running jobs side by side
  // The test users' full histories of split k.
  auto test_histories = [&](std::int32_t k) {
    std::vector<History> test;
    for (auto u : d.splits[static_cast<std::size_t>(k)].test) test.push_back(data::UserHistory(d, index, u));
    return test;
  };
  // Trains `t` into t.out unless a matching checkpoint is there (CheckpointMatches); its log lines
  // are prefixed with [label].
  auto ensure_trained = [&](TrainOptions t, const std::string& label) {
    t.progress_bar = false;
    if (CheckpointMatches(t, fp)) return;
    PrefixedLines buf(log, &mu, "  [" + label + "] ");
    std::ostream os(&buf);
    TrainWorldModel(d, t, log ? &os : nullptr);
  };

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
      const std::vector<History> test = test_histories(job.split);
      if (job.config < 0) {
        const auto s1 = SongMeanBaseline(d, split, test);
        const auto s2 = UserMeanBaseline(d, split, test);
        const auto mlp = PooledMlp::Train(d, split, job.split, BaselineMlpOptions(base, o.train.seed));
        mlp->Save(o.out_dir + "/baseline-pooled-mlp/split-" + std::to_string(job.split) + ".pt");
        const auto s3 = mlp->PredictSequences(test);
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
        ensure_trained(t, cfg.Name() + " split " + std::to_string(job.split));
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
  SweepReport rep;
  auto render = [&] {
    const auto tables = RenderWorldTables(section, base, o.table2, o.table3);
    rep.markdown = tables.markdown, rep.chosen = tables.chosen, rep.chosen_model = tables.chosen_model;
    rep.table2_chosen = tables.table2_chosen;
  };
  render();
  std::vector<std::pair<std::int32_t, ModelConfig>> sized;  // width -> configuration
  if (!o.sizes.empty() && section.count(rep.table2_chosen)) {
    const auto cfg = ModelConfig::FromJson(section[rep.table2_chosen].attrs["config"]);
    for (auto w : o.sizes) {
      if (w == cfg.d_model || std::any_of(sized.begin(), sized.end(), [&](const auto& p) { return p.first == w; }))
        continue;
      ModelConfig c = cfg;
      c.d_model = w, c.ff = 2 * w, c.head_hidden = w;
      while (c.heads > 1 && (w % c.heads != 0 || (c.rope && (w / c.heads) % 2 != 0))) c.heads /= 2;
      try {
        c.Validate();
      } catch (const ArgumentError& e) {
        throw ArgumentError("sweep-world --sizes " + std::to_string(w) + ": " + e.what());
      }
      sized.emplace_back(w, c);
    }
    std::vector<std::pair<std::size_t, std::int32_t>> todo;  // (sized index, split)
    for (std::size_t i = 0; i < sized.size(); ++i)
      for (auto k : o.splits) todo.emplace_back(i, k);
    if (log && !todo.empty())
      *log << "sweep-world: " << rep.table2_chosen << " at " << sized.size() << " other width(s) (" << todo.size()
           << " trainings)\n";
    std::vector<metrics::SignalScores> scores(todo.size());
    arena.execute([&] {
      tbb::parallel_for(std::size_t{0}, todo.size(), std::size_t{1}, [&](std::size_t i) {
        const auto& [w, c] = sized[todo[i].first];
        const std::int32_t k = todo[i].second;
        const std::string row = SizeRowName(rep.table2_chosen, w);
        std::filesystem::create_directories(o.out_dir + "/" + row);
        TrainOptions t = o.train;
        t.model = c;
        t.split = k;
        t.out = o.out_dir + "/" + row + "/split-" + std::to_string(k) + ".pt";
        ensure_trained(t, row + " split " + std::to_string(k));
        const std::vector<History> test = test_histories(k);
        scores[i] = metrics::ScoreFeedback(test, WorldModel::Load(t.out, d)->PredictSequences(test));
      });
    });
    for (std::size_t i = 0; i < sized.size(); ++i) {
      std::vector<metrics::SignalScores> s;
      for (std::size_t j = 0; j < todo.size(); ++j)
        if (todo[j].first == i) s.push_back(scores[j]);
      auto row = ScoresRow(s, o.splits, "world-model-size");
      row.attrs["config"] = sized[i].second.ToJson();
      row.attrs["dataset_fingerprint"] = fp;
      section[SizeRowName(rep.table2_chosen, sized[i].first)] = row;
    }
    render();
  }
  // The chosen model's checkpoints: <out_dir>/<its row name>/ (a Table-2 row is named after its
  // configuration; a size row after the Table-2 winner and the width).
  if (d.oracle && section.count(rep.chosen_model)) {
    for (auto k : o.splits) {
      const auto model = WorldModel::Load(o.out_dir + "/" + rep.chosen_model + "/split-" + std::to_string(k) + ".pt", d);
      const auto f = MeasureRankingFidelity(*model, d, d.splits[static_cast<std::size_t>(k)].test,
                                            o.fidelity_histories, Utility{}, o.train.seed);
      section[rep.chosen_model].values["ranking_spearman"].push_back(f.mean);
    }
    render();
  }
  if (o.members > 1 && section.count(rep.chosen_model)) {
    // The chosen configuration as an ensemble (docs/ensembles.md): members 1..K-1 with seeds
    // seed + m next to its checkpoint (member 0), a manifest per split, and a row of the members'
    // mean on the same test users, with its ranking fidelity.
    const auto cfg = ModelConfig::FromJson(section[rep.chosen_model].attrs["config"]);
    const std::string dir = o.out_dir + "/" + rep.chosen_model;
    auto member_path = [&](std::int32_t k, std::int32_t m) {
      return dir + "/split-" + std::to_string(k) + (m == 0 ? "" : ".member-" + std::to_string(m)) + ".pt";
    };
    std::vector<std::pair<std::int32_t, std::int32_t>> todo;
    for (auto k : o.splits)
      for (std::int32_t m = 1; m < o.members; ++m) todo.emplace_back(k, m);
    if (log)
      *log << "sweep-world: ensembles of " << o.members << " members of " << rep.chosen_model << " ("
           << todo.size() << " more trainings)\n";
    arena.execute([&] {
      tbb::parallel_for(std::size_t{0}, todo.size(), std::size_t{1}, [&](std::size_t i) {
        const auto [k, m] = todo[i];
        TrainOptions t = o.train;
        t.model = cfg;
        t.split = k;
        t.seed = o.train.seed + static_cast<std::uint64_t>(m);
        t.out = member_path(k, m);
        ensure_trained(t, rep.chosen_model + " split " + std::to_string(k) + " member " + std::to_string(m + 1));
      });
    });
    std::vector<metrics::SignalScores> scores;
    std::vector<double> fidelity;
    for (auto k : o.splits) {
      std::vector<std::shared_ptr<const WorldModel>> members;
      std::vector<std::string> paths;
      for (std::int32_t m = 0; m < o.members; ++m) {
        paths.push_back(member_path(k, m));
        members.push_back(WorldModel::Load(paths.back(), d));
      }
      WriteEnsembleManifest(dir + "/split-" + std::to_string(k) + ".ensemble.json", paths);
      const auto& split = d.splits[static_cast<std::size_t>(k)];
      const std::vector<History> test = test_histories(k);
      std::vector<std::vector<std::vector<Feedback>>> predictions;
      for (const auto& m : members) predictions.push_back(m->PredictSequences(test));
      scores.push_back(metrics::ScoreFeedback(test, MeanPredictions(predictions)));
      if (d.oracle)
        fidelity.push_back(
            MeasureRankingFidelity(members, d, split.test, o.fidelity_histories, Utility{}, o.train.seed).mean);
    }
    auto row = ScoresRow(scores, o.splits, "world-model-ensemble");
    row.attrs["members"] = std::to_string(o.members);
    if (!fidelity.empty()) row.values["ranking_spearman"] = fidelity;
    section[EnsembleRowName(rep.chosen_model, o.members)] = row;
    render();
  }
  if (rep.chosen == "baseline-pooled-mlp" || (section.count(rep.chosen) && section[rep.chosen].attrs.count("config")))
    rep.chosen_checkpoint_dir = o.out_dir + "/" + rep.chosen;
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

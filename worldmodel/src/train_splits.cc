// `amrs train-world` as a library call: train and test one configuration on several splits,
// with the baselines on the same test tokens. No torch here: training and the models are reached
// through train.h, world_model.h, pooled_mlp.h and validate.h.
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <ostream>
#include <mutex>
#include <sstream>

#include "amrs/core/error.h"
#include "amrs/data/oracle.h"
#include "amrs/data/tokens.h"
#include "amrs/metrics/stats.h"
#include "amrs/worldmodel/train.h"
#include "amrs/worldmodel/validate.h"
#include "amrs/worldmodel/ensemble_manifest.h"
#include "amrs/distributed/distributed.h"
#include "amrs/worldmodel/world_model.h"
#include "prefixed_lines.h"

namespace amrs::worldmodel {

std::string DefaultFamily(const data::Dataset& d) {
  if (d.families.empty()) throw InputError("the dataset has no embedding families");
  for (const auto& f : d.families)
    if (f.name == "mert") return f.name;
  return d.families[0].name;
}

std::string PresetName(Preset p) { return p == Preset::kSmall ? "small" : "default"; }

Preset ParsePreset(const std::string& name) {
  if (name == "small") return Preset::kSmall;
  if (name == "default") return Preset::kDefault;
  throw ArgumentError("--preset must be small or default, not '" + name + "'");
}

std::int64_t TrainInteractions(const data::Dataset& d, std::int32_t split) {
  if (split < 0 || split >= static_cast<std::int32_t>(d.splits.size())) return static_cast<std::int64_t>(d.interactions.size());
  const data::UserIndex index(d);
  std::int64_t n = 0;
  for (auto u : d.splits[static_cast<std::size_t>(split)].train)
    n += index.interaction_end[static_cast<std::size_t>(u)] - index.interaction_begin[static_cast<std::size_t>(u)];
  return n;
}

Preset ChoosePreset(const data::Dataset& d, std::int32_t split) {
  return TrainInteractions(d, split) < kSmallPresetInteractions ? Preset::kSmall : Preset::kDefault;
}

void ApplyPreset(Preset p, const data::Dataset& d, TrainOptions& o) {
  const ModelConfig def;
  const TrainOptions tdef;
  o.model.d_model = def.d_model;
  o.model.ff = def.ff;
  o.model.layers = def.layers;
  o.model.head_hidden = def.head_hidden;
  o.model.song_components = def.song_components;
  o.model.song_prior = def.song_prior;
  o.model.prior_offset = def.prior_offset;
  o.model.session_features = def.session_features;
  o.model.dropout = def.dropout;
  o.epochs = tdef.epochs;
  o.patience = tdef.patience;
  o.lr = tdef.lr;
  if (p == Preset::kSmall) {
    o.model.d_model = 32;
    o.model.ff = 64;
    o.model.layers = 1;
    o.model.head_hidden = 32;
    o.model.song_components = std::max(1, std::min(32, d.num_songs() / 2));
    o.model.song_prior = true;
    o.model.prior_offset = true;
    o.model.session_features = true;
    o.lr = 3e-4f;  // measured on s32/s50 (docs/own-data.md): better than 1e-3 with the offset
    o.epochs = 60;
    o.patience = 8;
  }
}

// The members' mean, token by token, field by field (in double).
std::vector<std::vector<Feedback>> MeanPredictions(const std::vector<std::vector<std::vector<Feedback>>>& members) {
  auto mean = members.front();
  const double k = static_cast<double>(members.size());
  for (std::size_t u = 0; u < mean.size(); ++u)
    for (std::size_t t = 0; t < mean[u].size(); ++t) {
      double e = 0, r = 0, v = 0, a = 0;
      for (const auto& m : members) {
        const Feedback& f = m[u][t];
        e += f.engagement, r += f.rating, v += f.valence, a += f.arousal;
      }
      mean[u][t] = Feedback{static_cast<float>(e / k), static_cast<float>(r / k), static_cast<float>(v / k),
                            static_cast<float>(a / k)};
    }
  return mean;
}

MlpBaselineOptions BaselineMlpOptions(const ModelConfig& model, std::uint64_t seed) {
  MlpBaselineOptions mo;
  mo.family = model.family;
  mo.seed = seed;
  return mo;
}

std::vector<SplitRun> TrainAndTest(const data::Dataset& d, TrainOptions o, const std::vector<std::int32_t>& splits,
                                   const std::string& out_dir, std::ostream* progress,
                                   const std::function<void(const SplitRun&)>& on_split, bool baselines) {
  {
    TrainOptions check = o;  // everything but the path, which is set per split below
    if (check.out.empty()) check.out = "-";
    check.Validate();
  }
  d.Family(o.model.family);  // fail before creating anything for an unknown family
  if (splits.empty()) throw ArgumentError("train-world: no splits given");
  for (auto k : splits)
    if (k < 0 || k >= static_cast<std::int32_t>(d.splits.size()))
      throw ArgumentError("split " + std::to_string(k) + " does not exist (the dataset has " +
                          std::to_string(d.splits.size()) + ")");
  const std::string dir = out_dir + "/" + o.model.Name();
  std::filesystem::create_directories(dir);
  const std::string baseline_dir = out_dir + "/baseline-pooled-mlp";
  if (baselines) std::filesystem::create_directories(baseline_dir);
  const data::UserIndex index(d);
  // Under a distributed launch every rank trains (data-parallel) and tests; rank 0 alone writes.
  const bool distributed_root = distributed::Current().root();
  std::vector<SplitRun> runs;
  for (auto k : splits) {
    SplitRun r;
    r.split = o.split = k;
    r.checkpoint = o.out = dir + "/split-" + std::to_string(k) + ".pt";
    if (progress) *progress << "== train-world " << o.model.Name() << " split " << k << " -> " << o.out << "\n";
    // Member j of an ensemble trains with seed + j into split-<k>.member-<j>.pt (member 0: split-<k>.pt).
    const std::int32_t K = std::max(1, o.members);
    std::vector<TrainOptions> member(static_cast<std::size_t>(K), o);
    for (std::int32_t m = 1; m < K; ++m) {
      member[m].seed = o.seed + static_cast<std::uint64_t>(m);
      member[m].out = dir + "/split-" + std::to_string(k) + ".member-" + std::to_string(m) + ".pt";
    }
    std::vector<TrainResult> trained(static_cast<std::size_t>(K));
    const std::int32_t jobs =
        std::min(K, o.member_jobs > 0 ? o.member_jobs : static_cast<std::int32_t>(tbb::info::default_concurrency()));
    if (K > 1 && jobs > 1 && distributed::Current().size() == 1) {
      // Side by side, each single-threaded, its lines prefixed with its member number.
      if (progress)
        *progress << "== " << K << " members (seeds " << o.seed << ".." << o.seed + static_cast<std::uint64_t>(K - 1)
                  << "), " << jobs << " in parallel\n";
      SetTorchThreads(1);
      std::mutex mu;
      tbb::task_arena arena(jobs);
      arena.execute([&] {
        tbb::parallel_for(0, K, 1, [&](std::int32_t m) {
          TrainOptions t = member[static_cast<std::size_t>(m)];
          t.progress_bar = false;
          PrefixedLines buf(progress, &mu, "  [member " + std::to_string(m + 1) + "/" + std::to_string(K) + "] ");
          std::ostream os(&buf);
          if (progress) os << "seed " << t.seed << " -> " << t.out << "\n";
          trained[static_cast<std::size_t>(m)] = TrainWorldModel(d, t, progress ? &os : nullptr);
        });
      });
    } else {
      for (std::int32_t m = 0; m < K; ++m) {
        if (m > 0 && progress)
          *progress << "== member " << m + 1 << "/" << K << " (seed " << member[m].seed << ") -> " << member[m].out
                    << "\n";
        trained[static_cast<std::size_t>(m)] = TrainWorldModel(d, member[static_cast<std::size_t>(m)], progress);
        if (!trained[static_cast<std::size_t>(m)].finished) break;
      }
    }
    r.train = trained[0];
    for (const auto& t : trained) r.train.finished = r.train.finished && t.finished;
    if (!r.train.finished) {  // stop_after: the resume files stay; no checkpoint to test yet
      if (on_split) on_split(r);
      runs.push_back(std::move(r));
      break;
    }
    const auto model = WorldModel::Load(o.out, d);
    const auto& split = d.splits.at(static_cast<std::size_t>(k));
    std::vector<History> test;
    for (auto u : split.test) test.push_back(data::UserHistory(d, index, u));
    auto predicted = model->PredictSequences(test);
    r.test = metrics::ScoreFeedback(test, predicted);
    if (K > 1) {
      // The manifest and the members' mean on test.
      std::vector<std::string> checkpoints{o.out};
      std::vector<std::vector<std::vector<Feedback>>> member_predictions{std::move(predicted)};
      for (std::int32_t m = 1; m < K; ++m) {
        checkpoints.push_back(member[static_cast<std::size_t>(m)].out);
        member_predictions.push_back(WorldModel::Load(member[static_cast<std::size_t>(m)].out, d)->PredictSequences(test));
      }
      r.ensemble_manifest = dir + "/split-" + std::to_string(k) + ".ensemble.json";
      if (distributed_root) WriteEnsembleManifest(r.ensemble_manifest, checkpoints);
      r.ensemble_test = metrics::ScoreFeedback(test, MeanPredictions(member_predictions));
    }
    if (d.oracle) r.oracle = data::EvaluateOracle(d, split.test);
    if (baselines) {
      if (progress) *progress << "   baselines on the same test tokens (song mean, user mean, pooled MLP)\n";
      r.baselines.push_back({"baseline-song-mean", metrics::ScoreFeedback(test, SongMeanBaseline(d, split, test))});
      r.baselines.push_back({"baseline-user-mean", metrics::ScoreFeedback(test, UserMeanBaseline(d, split, test))});
      const auto mlp = PooledMlp::Train(d, split, k, BaselineMlpOptions(o.model, o.seed));
      r.baselines.push_back({"baseline-pooled-mlp", metrics::ScoreFeedback(test, mlp->PredictSequences(test))});
      r.baseline_checkpoint = baseline_dir + "/split-" + std::to_string(k) + ".pt";
      if (distributed_root) mlp->Save(r.baseline_checkpoint);
    }
    if (on_split) on_split(r);
    runs.push_back(std::move(r));
  }
  return runs;
}

namespace {

struct SignalMetric {
  const char* signal;
  const char* unit;  // "R^2" or "AUC"
  double SignalScores::*field;
};
constexpr SignalMetric kCompared[] = {{"engagement", "R^2", &SignalScores::engagement_r2},
                                      {"rating", "AUC", &SignalScores::rating_auc},
                                      {"valence", "R^2", &SignalScores::valence_r2},
                                      {"arousal", "R^2", &SignalScores::arousal_r2}};

std::string Plain(const std::string& baseline) {
  if (baseline == "baseline-song-mean") return "the per-song mean";
  if (baseline == "baseline-user-mean") return "the user's running mean";
  if (baseline == "baseline-pooled-mlp") return "the pooled MLP";
  return baseline;
}

std::string Pct(double x) {
  if (!std::isfinite(x)) return "n/a";  // undefined on some split (e.g. a test part with one rating class)
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", 100 * x);
  return b;
}

}  // namespace

std::string CompareWithBaselines(const std::vector<SplitRun>& runs) {
  if (runs.empty() || runs[0].baselines.empty()) return "";
  const std::size_t nb = runs[0].baselines.size();
  const bool paired = runs.size() >= 2;
  std::ostringstream os;
  os << "model against baselines on the same test tokens (mean over " << runs.size() << " split"
     << (runs.size() == 1 ? "" : "s")
     << (paired ? "; p: two-sided paired t-test over splits, model vs baseline" : "; one split: no test") << ")\n";
  std::vector<std::string> verdicts;
  for (const auto& m : kCompared) {
    std::vector<double> model;
    for (const auto& r : runs) model.push_back(r.test.*m.field);
    const double mm = metrics::Mean(model);
    os << "  " << m.signal << " " << m.unit << ": model " << Pct(mm);
    std::string best_name;
    double best = mm;
    for (std::size_t b = 0; b < nb; ++b) {
      std::vector<double> base;
      for (const auto& r : runs) base.push_back(r.baselines.at(b).test.*m.field);
      const double bm = metrics::Mean(base);
      os << " | " << runs[0].baselines[b].name.substr(9) << " " << Pct(bm);
      if (paired && std::isfinite(mm) && std::isfinite(bm)) {
        char p[32];
        std::snprintf(p, sizeof p, " (p %.3g)", metrics::PairedTTestP(model, base));
        os << p;
      }
      if (std::isfinite(bm) && (bm > best || !std::isfinite(best))) best = bm, best_name = runs[0].baselines[b].name;
    }
    os << "\n";
    if (!best_name.empty())
      verdicts.push_back(std::string("on ") + m.signal + " " + Plain(best_name) + " beats the model (" + Pct(best) +
                         " vs " + Pct(mm) + " " + m.unit + "): see docs/own-data.md");
  }
  for (const auto& v : verdicts) os << "  " << v << "\n";
  if (verdicts.empty()) os << "  the model beats every baseline on every signal\n";
  return os.str();
}

}  // namespace amrs::worldmodel

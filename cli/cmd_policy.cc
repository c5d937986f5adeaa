// amrs train-policy: per-seed Copycat or DPO training (amrs/run/train_policies.h).
#include <tbb/global_control.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "amrs/core/error.h"
#include "amrs/core/paths.h"
#include "amrs/data/checks.h"
#include "amrs/data/dataset.h"
#include "amrs/run/train_policies.h"
#include "amrs/run/tune.h"
#include "amrs/agents/policy.h"
#include "common.h"

namespace amrs::cli {

namespace {

// The train-policy options, shared by `train-policy` and `tune` (whose grid overrides some).
struct PolicyCli {
  run::PolicyTrainingSpec spec;
  std::string utility, seeds_s;
  float penalty = 0.f;
  std::int32_t n_seeds = 5, threads = 0, epochs = 0;
  double tau = spec.copycat.model.tau, lr = 0;

  void Add(po::options_description& desc, const std::string& reference_default) {
    auto& cc = spec.copycat;
    auto& dp = spec.dpo;
    desc.add_options()
      ("kind", po::value(&spec.kind)->required(), "copycat | dpo")
      ("data", po::value(&spec.data)->required(), "dataset (.h5)")
      ("reference", po::value(&spec.reference)->default_value(reference_default),
       reference_default.empty()
           ? "dpo: Copycat checkpoint pattern ({seed} = the seed); default <out-dir>/copycat-seed-{seed}.pt"
           : "dpo: Copycat checkpoint pattern ({seed} = the seed)")
      ("seeds", po::value(&n_seeds)->default_value(n_seeds), "seeds 0..N-1")
      ("seed-list", po::value(&seeds_s)->default_value(""), "explicit comma-separated seeds (overrides --seeds)")
      ("split", po::value(&cc.split)->default_value(cc.split), "MCCV split")
      ("window-seed", po::value(&cc.window_seed)->default_value(cc.window_seed), "seed of the users' rollout windows")
      ("epochs", po::value(&epochs)->default_value(0), "epochs (0: copycat 6, dpo 3)")
      ("lr", po::value(&lr)->default_value(0), "AdamW learning rate (0: copycat 1e-3, dpo 1e-5)")
      ("tau", po::value(&tau)->default_value(tau), "copycat: temperature of InfoNCE and pi(y|x)")
      ("negatives", po::value(&cc.negatives)->default_value(cc.negatives), "copycat: unplayed songs per window")
      ("d-model", po::value(&cc.model.d_model)->default_value(cc.model.d_model), "copycat: width")
      ("layers", po::value(&cc.model.layers)->default_value(cc.model.layers), "copycat: transformer layers")
      ("max-train-users", po::value(&cc.max_train_users)->default_value(0), "copycat: limit train users (0: all)")
      ("beta", po::value(&dp.beta)->default_value(dp.beta), "dpo: KL strength beta of eq. 2")
      ("pool", po::value(&dp.pairs.pool)->default_value(dp.pairs.pool), "dpo: candidate pool size M (even)")
      ("max-pairs", po::value(&dp.pairs.max_pairs)->default_value(dp.pairs.max_pairs),
       "dpo: training pairs sampled from the negative steps (0: all)")
      ("engagement-threshold", po::value(&dp.pairs.engagement_threshold)->default_value(dp.pairs.engagement_threshold),
       "dpo: a logged song is negative if disliked or its engagement is below this")
      ("utility", po::value(&utility)->default_value("affect"), "dpo: utility that scores the pairs")
      ("penalty", po::value(&penalty)->default_value(0.f, "0"),
       "dpo: lambda of the penalized reward when --world is an ensemble (docs/ensembles.md)")
      ("threads", po::value(&threads)->default_value(0), "seeds trained at once (0: all cores)")
      ("force", po::bool_switch(&spec.force), "retrain seeds whose checkpoint is already up to date");
  }

  // Checks and applies what the options do not bind directly; the thread limit lives as long as
  // the returned object.
  std::unique_ptr<tbb::global_control> Apply() {
    auto& cc = spec.copycat;
    auto& dp = spec.dpo;
    CheckInputFile(spec.data, "--data");
    CheckWorldSpec(spec.world);
    spec.seeds = SeedsOption(seeds_s, n_seeds, "seeds");
    cc.model.tau = tau;
    if (epochs < 0) throw ArgumentError("--epochs must be >= 0");
    if (lr < 0) throw ArgumentError("--lr must be >= 0");
    if (epochs > 0) cc.epochs = dp.epochs = epochs;
    if (lr > 0) cc.lr = dp.lr = lr;
    dp.utility = Utility::Parse(utility);
    if (penalty != 0.f) dp.utility.penalty = penalty;
    dp.utility.Validate();
    if (threads < 0) throw ArgumentError("--threads must be >= 0");
    if (threads > 0) return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
    return nullptr;
  }

  // The data checks of the split the policies learn from, before any training (an error refuses
  // the run; warnings go to stderr).
  void CheckData(const std::string& command) const {
    data::RequireChecks(data::CheckData(data::ReadDataset(spec.data), {{spec.copycat.split}}), command, &std::cerr);
  }
};

}  // namespace

int TrainPolicy(const std::vector<std::string>& args) {
  PolicyCli o;
  auto& spec = o.spec;
  po::options_description desc(
      "amrs train-policy: train Copycat (behaviour cloning, InfoNCE) or DPO (fine-tuning on world-scored preference "
      "pairs) for seeds 0..N-1; seeds run in parallel, each on one torch thread");
  o.Add(desc, "");
  desc.add_options()
    ("world", po::value(&spec.world)->default_value(""), "dpo: world that scores the pairs (checkpoint or 'oracle')")
    ("out-dir,o", po::value(&spec.out_dir)->default_value(spec.out_dir), "writes <kind>-seed-<s>.pt here");
  po::variables_map vm;
  if (!Parse("train-policy", args, desc, vm, nullptr, "--kind copycat|dpo --data D.h5 [--world W.pt]")) return 0;
  const auto gc = o.Apply();
  CheckOutputDir(spec.out_dir, "--out-dir");
  o.CheckData("train-policy");
  const auto t0 = std::chrono::steady_clock::now();
  const auto results = run::TrainPolicies(spec, &std::cerr);
  for (const auto& r : results) {
    if (r.up_to_date) {
      std::printf("  %s (up to date)\n", r.checkpoint.c_str());
      continue;
    }
    std::printf("  %s (best epoch %d, validation loss %.4f, %.1f s)\n", r.checkpoint.c_str(),
                r.outcome.info.best_epoch, r.outcome.info.best_val_loss, r.outcome.seconds);
  }
  std::printf("train-policy: %s, %zu seeds in %.1f s\n", spec.kind.c_str(), spec.seeds.size(), Seconds(t0));
  return 0;
}

// Hyperparameters chosen on validation users only (docs/tuning.md).
int Tune(const std::vector<std::string>& args) {
  PolicyCli o;
  run::TuneSpec tune;
  std::vector<std::string> grid;
  std::string seed_scope = run::SeedScopeName(run::kDefaultSeedScope);
  tune.out_dir = "out/tune";
  po::options_description desc(
      "amrs tune: for each point of a grid of train-policy options, train on the split's train users, roll out on "
      "its VALIDATION users under the learned world, print the table and the point of highest mean validation "
      "reward (the test users are never read)");
  o.Add(desc, "out/policy/copycat-seed-{seed}.pt");
  desc.add_options()
    ("grid", po::value(&grid)->composing()->required(),
     "KEY=V1,V2[;KEY=...] (repeatable); dpo keys: lr, epochs, beta, pool; copycat: tau, epochs, lr")
    ("world", po::value(&tune.world)->required(),
     "learned world that scores the validation rollouts (and, for dpo, the preference pairs)")
    ("horizon,L", po::value(&tune.horizon)->default_value(tune.horizon), "steps per validation episode (L)")
    ("max-users", po::value(&tune.max_users)->default_value(0), "limit the validation users (0: all)")
    ("seed-scope", po::value(&seed_scope)->default_value(seed_scope),
     "what the seeds vary in the validation rollouts (as in evaluate)")
    ("out-dir,o", po::value(&tune.out_dir)->default_value(tune.out_dir),
     "writes point-<i>/<kind>-seed-<s>.pt and tune-<kind>.csv/.json here");
  po::variables_map vm;
  if (!Parse("tune", args, desc, vm, nullptr,
             "--kind dpo|copycat --grid 'lr=1e-5,3e-5;epochs=1,2' --data D.h5 --world W.pt [--out-dir out/tune]"))
    return 0;
  o.spec.world = tune.world;
  const auto gc = o.Apply();
  CheckOutputDir(tune.out_dir, "--out-dir");
  tune.grid = run::ParseTuneGrid(grid, o.spec.kind);
  tune.seed_scope = run::ParseSeedScope(seed_scope);
  tune.utility = o.spec.dpo.utility;
  if (o.spec.kind == "copycat") o.spec.reference.clear();
  else CheckInputFile(agents::ExpandSeed(o.spec.reference, o.spec.seeds.front()), "--reference");
  tune.train = o.spec;
  o.CheckData("tune");
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run::Tune(tune, &std::cerr);
  std::cout << run::TuneTable(r);
  std::printf("tune: %zu points x %zu seeds in %.1f s; table in %s/tune-%s.csv and .json\n", r.points.size(),
              r.seeds.size(), Seconds(t0), tune.out_dir.c_str(), r.kind.c_str());
  return 0;
}

}  // namespace amrs::cli

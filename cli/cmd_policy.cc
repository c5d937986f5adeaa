// amrs train-policy: per-seed Copycat or DPO training (amrs/run/train_policies.h).
#include <tbb/global_control.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "amrs/core/error.h"
#include "amrs/core/paths.h"
#include "amrs/run/train_policies.h"
#include "common.h"

namespace amrs::cli {

int TrainPolicy(const std::vector<std::string>& args) {
  run::PolicyTrainingSpec spec;
  auto& cc = spec.copycat;
  auto& dp = spec.dpo;
  std::string utility, seeds_s;
  std::int32_t n_seeds = 5, threads = 0;
  double tau = cc.model.tau;
  std::int32_t epochs = 0;
  double lr = 0;
  po::options_description desc(
      "amrs train-policy: train Copycat (behaviour cloning, InfoNCE) or DPO (fine-tuning on world-scored preference "
      "pairs) for seeds 0..N-1; seeds run in parallel, each on one torch thread");
  desc.add_options()
    ("kind", po::value(&spec.kind)->required(), "copycat | dpo")
    ("data", po::value(&spec.data)->required(), "dataset (.h5)")
    ("world", po::value(&spec.world)->default_value(""), "dpo: world that scores the pairs (checkpoint or 'oracle')")
    ("reference", po::value(&spec.reference)->default_value(""),
     "dpo: Copycat checkpoint pattern ({seed} = the seed); default <out-dir>/copycat-seed-{seed}.pt")
    ("seeds", po::value(&n_seeds)->default_value(n_seeds), "seeds 0..N-1")
    ("seed-list", po::value(&seeds_s)->default_value(""), "explicit comma-separated seeds (overrides --seeds)")
    ("split", po::value(&cc.split)->default_value(cc.split), "MCCV split")
    ("window-seed", po::value(&cc.window_seed)->default_value(cc.window_seed), "seed of the users' rollout windows")
    ("epochs", po::value(&epochs)->default_value(0), "epochs (0: copycat 6, dpo 2)")
    ("lr", po::value(&lr)->default_value(0), "AdamW learning rate (0: copycat 1e-3, dpo 5e-6)")
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
    ("threads", po::value(&threads)->default_value(0), "seeds trained at once (0: all cores)")
    ("force", po::bool_switch(&spec.force), "retrain seeds whose checkpoint is already up to date")
    ("out-dir,o", po::value(&spec.out_dir)->default_value(spec.out_dir), "writes <kind>-seed-<s>.pt here");
  po::variables_map vm;
  if (!Parse("train-policy", args, desc, vm, nullptr, "--kind copycat|dpo --data D.h5 [--world W.pt]")) return 0;
  CheckInputFile(spec.data, "--data");
  CheckWorldSpec(spec.world);
  CheckOutputDir(spec.out_dir, "--out-dir");
  spec.seeds = SeedsOption(seeds_s, n_seeds, "seeds");
  cc.model.tau = tau;
  if (epochs < 0) throw ArgumentError("--epochs must be >= 0");
  if (lr < 0) throw ArgumentError("--lr must be >= 0");
  if (epochs > 0) cc.epochs = dp.epochs = epochs;
  if (lr > 0) cc.lr = dp.lr = lr;
  dp.utility = Utility::Parse(utility);
  if (threads < 0) throw ArgumentError("--threads must be >= 0");
  std::unique_ptr<tbb::global_control> gc;
  if (threads > 0) gc = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
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

}  // namespace amrs::cli

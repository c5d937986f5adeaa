// The world-model study of the paper's Tables 2 and 3 on shared MCCV splits, plus validation
// against simple baselines and (synthetic data) the oracle: `amrs sweep-world`.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "amrs/data/dataset.h"
#include "amrs/data/results.h"
#include "amrs/metrics/world.h"
#include "amrs/worldmodel/train.h"
#include "amrs/worldmodel/world_tables.h"

namespace amrs::worldmodel {

struct SweepOptions {
  std::vector<std::int32_t> splits{0, 1, 2};  // the same splits for every configuration
  TrainOptions train;         // template: model sizes, epochs, lr, seed (out is set per job)
  // Embedding families Table 2 compares (empty: all of the dataset's). Table 3 and the baselines
  // use train.model.family, which must be one of them (empty: the first given family, or with
  // none given DefaultFamily(d), train.h).
  std::vector<std::string> families;
  bool table2 = true;         // standard/factorized x families x with/without PE
  bool table3 = true;         // leave-one-feature-out ablations of the base configuration
  bool baselines = true;      // song mean, user mean, pooled MLP (+ oracle on synthetic data)
  std::int32_t jobs = 2;      // trainings in parallel (each single-threaded)
  std::int32_t fidelity_histories = 50;  // sampled test histories for ranking fidelity
  // >1: the chosen configuration also as an ensemble of this many members per split (seeds
  // train.seed + m; member 0 is its checkpoint): split-<k>.ensemble.json beside it and a row
  // EnsembleRowName(...) with the members' mean scores and ranking fidelity (docs/ensembles.md).
  std::int32_t members = 1;
  // Transformer widths to also train the Table-2 winner at (feed-forward 2N, head N; heads halved
  // until they divide N): rows SizeRowName(winner, N), checkpoints <out_dir>/<winner>.dN/. The
  // best-ranked width meets the baselines (world_tables.h). Empty: none (the CLI's default on
  // small data: 16, 32, 64).
  std::vector<std::int32_t> sizes;
  std::string out_dir = "out/world";     // <config>/split-<k>.pt, world-results.h5, world-tables.md
};

struct SweepReport {
  std::string markdown;       // Tables 2 and 3 and the validation section
  std::string table2_chosen;  // Table 2 configuration chosen by average rank
  std::string chosen_model;   // it or its best-ranked size row (world_tables.h)
  std::string chosen;         // the chosen world: chosen_model or a baseline (world_tables.h)
  std::string chosen_checkpoint_dir;  // <out_dir>/<chosen> when it holds split-<k>.pt checkpoints
  std::string results_path, tables_path;
};

// Per-split scores as a results row (metric -> values over splits).
data::ResultRow ScoresRow(const std::vector<metrics::SignalScores>& per_split,
                          const std::vector<std::int32_t>& splits, const std::string& kind);

// Trains every missing checkpoint (existing ones with matching metadata are reused), evaluates
// all on the test users of each split, writes results and tables, and returns the tables.
SweepReport RunSweep(const data::Dataset& d, const SweepOptions& o, std::ostream* log);

}  // namespace amrs::worldmodel

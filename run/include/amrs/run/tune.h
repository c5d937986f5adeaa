// Hyperparameter tuning on validation users only (docs/tuning.md, issue #19 part 2): for each
// point of a grid of train-policy options, train the policies on the split's train users
// (TrainPolicies: Copycat early-stops on validation users, DPO reports validation pairs), roll them
// out on the VALIDATION users under the learned world (the evaluation protocol's reward) and pick
// the point of highest mean validation reward over seeds. The test users are never read.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/run/run.h"
#include "amrs/run/train_policies.h"

namespace amrs::run {

// One axis of the grid: an option and its values, in the order given.
struct TuneAxis {
  std::string key;                  // dpo: lr, epochs, beta, pool; copycat: tau, epochs, lr
  std::vector<std::string> values;  // as typed (validated numbers)
};

// "lr=1e-5,3e-5;epochs=1,2" (axes separated by ';', values by ','; several texts are joined).
// ArgumentError naming the key or value: unknown key for `kind`, no values, a value that is not a
// number in range, a repeated key or value.
std::vector<TuneAxis> ParseTuneGrid(const std::vector<std::string>& texts, const std::string& kind);
// The options keys of `kind` that a grid may set.
std::vector<std::string> TuneKeys(const std::string& kind);

struct TuneSpec {
  // kind, data, world (dpo: the pair scorer), reference (dpo: the Copycat pattern), seeds and the
  // base options; out_dir is replaced by <out_dir>/point-<i> for each grid point.
  PolicyTrainingSpec train;
  std::string world;            // the learned world that scores the validation rollouts
  std::vector<TuneAxis> grid;
  std::string out_dir = "out/tune";
  std::int32_t horizon = 5;     // the evaluation protocol's L
  Utility utility;              // reward weights of the score (default: affect)
  std::int32_t batch = 64;
  std::int32_t max_users = 0;   // validation users (0: all)
  SeedScope seed_scope = kDefaultSeedScope;
  void Validate() const;        // ArgumentError naming the field
};

struct TunePoint {
  std::vector<std::pair<std::string, std::string>> values;  // grid key -> value, grid order
  std::string checkpoints;      // pattern with {seed}
  std::vector<double> reward;   // mean validation reward per seed (spec seed order)
  double mean = 0, sd = 0;      // over seeds (sample SD; 0 for one seed)
  double valence = 0, arousal = 0, rating = 0, engagement = 0;  // means over seeds
};

struct TuneResult {
  std::string kind;
  std::vector<std::uint64_t> seeds;
  std::string dataset_fingerprint;  // data::Fingerprint of the tuned dataset (the report checks it)
  std::string world_id;             // the scoring world's World::Id() (the first seed's under seed scope world)
  std::vector<TunePoint> points;  // grid order (last axis fastest)
  std::size_t chosen = 0;         // highest mean; ties: the first in grid order
};

// Trains and scores every point (checkpoints up to date are reused), then writes
// <out_dir>/tune-<kind>.csv and .json atomically. `log` gets progress lines (may be null).
TuneResult Tune(const TuneSpec& spec, std::ostream* log);
std::string TuneCsv(const TuneResult& r);
std::string TuneJson(const TuneResult& r);
// The printed table: one row per point, the chosen one marked.
std::string TuneTable(const TuneResult& r);

}  // namespace amrs::run

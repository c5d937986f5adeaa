// Training and evaluation of world models (paper 3.3, 4.3): Adam, 5 re-sampled windows per
// train user per epoch (length in [50, 1000]), full histories of unseen users for validation and
// test, per-signal best checkpoints on validation loss, resumable.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "amrs/data/dataset.h"
#include "amrs/metrics/world.h"
#include "amrs/worldmodel/config.h"
#include "amrs/worldmodel/world_model.h"

namespace amrs::worldmodel {

struct TrainOptions {
  ModelConfig model;
  // Upper bounds of the counts (Validate): epochs 10000, batch_tokens 1048576.
  static constexpr std::int32_t kMaxEpochs = 10000, kMaxBatchTokens = 1 << 20;
  std::int32_t split = 0;             // MCCV split stored in the dataset
  std::int32_t epochs = 8;
  std::int32_t batch_tokens = 4096;   // padded tokens per training batch
  float lr = 1e-3f;                   // AdamW learning rate
  float weight_decay = 0.01f;         // AdamW decoupled weight decay
  float grad_clip = 1.0f;             // max gradient norm
  std::uint64_t seed = 0;             // initialization, windows, batch order, dropout
  std::string out;                    // checkpoint path (required)
  bool resume = true;                 // continue from `out`.resume if it exists and matches
  std::int32_t max_train_users = 0;   // 0 = all (smaller for tests)
  bool progress_bar = true;           // redraw a bar with \r (off for parallel jobs)
  std::int32_t stop_after = 0;        // >0: stop after this epoch, leaving the resume file
                                      // (an interruption on purpose; rerun to continue)
  void Validate() const;
};

struct TrainResult {
  CheckpointInfo info;
  double seconds = 0;
  std::int64_t train_tokens = 0;        // tokens processed in training batches (all epochs)
  double train_tokens_per_second = 0;
  bool resumed = false;
  bool finished = true;  // false when stopped early by stop_after (no checkpoint written)
};

// Trains on the split's train users, selects per-signal checkpoints on its validation users and
// writes the checkpoint to options.out. Progress (bar and per-epoch per-signal losses) goes to
// `progress` when non-null.
TrainResult TrainWorldModel(const data::Dataset& dataset, const TrainOptions& options,
                            std::ostream* progress);

// `amrs train-world`: one split's trained checkpoint and its test scores.
struct SplitRun {
  std::int32_t split = 0;
  std::string checkpoint;
  TrainResult train;
  metrics::SignalScores test;                  // on the split's test users
  std::optional<metrics::SignalScores> oracle;  // the oracle's ceiling on the same users (synthetic data)
};

// Trains options.model on each split into <out_dir>/<configuration>/split-<k>.pt (options.split
// and options.out are set per split), then tests the checkpoint on the split's test users. The
// embedding family and every split are checked before anything is trained or created.
// `on_split` is called after each split.
std::vector<SplitRun> TrainAndTest(const data::Dataset& dataset, TrainOptions options,
                                   const std::vector<std::int32_t>& splits, const std::string& out_dir,
                                   std::ostream* progress, const std::function<void(const SplitRun&)>& on_split = {});

// Scores the model on the full histories of `users`.
metrics::SignalScores Evaluate(const WorldModel& model, const data::Dataset& dataset,
                               const std::vector<std::int32_t>& users);

}  // namespace amrs::worldmodel

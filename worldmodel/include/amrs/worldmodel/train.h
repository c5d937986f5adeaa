// Training and evaluation of world models (paper 3.3, 4.3): Adam, 5 re-sampled windows per
// train user per epoch (length in [50, 1000]), full histories of unseen users for validation and
// test, per-signal best checkpoints on validation loss, resumable.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "amrs/data/dataset.h"
#include "amrs/metrics/world.h"
#include "amrs/worldmodel/config.h"
#include "amrs/worldmodel/pooled_mlp.h"
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
  // Early stopping: >0 stops when no signal's validation loss improved for this many epochs
  // (`epochs` is then the maximum); each signal keeps its best epoch's weights either way.
  std::int32_t patience = 0;
  // TrainAndTest only: members of an ensemble per split (docs/ensembles.md). Member j trains with
  // seed + j; member 0 is the usual split-<k>.pt, the others split-<k>.member-<j>.pt, and the
  // manifest split-<k>.ensemble.json lists them all. 1: a single model, no manifest.
  std::int32_t members = 1;
  // Members trained side by side (each single-threaded; 0: as many as the machine's cores, at most
  // `members`). Each member draws only from its own seed, so the checkpoints are the same for any
  // value. Under a distributed launch members train one after another (each data-parallel).
  std::int32_t member_jobs = 0;
  void Validate() const;
};

struct TrainResult {
  CheckpointInfo info;
  std::int32_t epochs_run = 0;  // < options.epochs when early stopping stopped the training
  double seconds = 0;
  std::int64_t train_tokens = 0;        // tokens processed in training batches (all epochs)
  double train_tokens_per_second = 0;
  // This run's training batches (not a resumed part, not validation): their estimated floating-
  // point work (TrainingBatchFlops, forward and backward) and the time spent in them, for the
  // bench's fraction of the matrix-multiply bound.
  double batch_flops = 0;
  double batch_seconds = 0;
  bool resumed = false;
  bool finished = true;  // false when stopped early by stop_after (no checkpoint written)
  // Under a distributed launch (docs/distributed.md): the ranks and the bytes this rank all-reduced
  // per optimizer step (gradients, loss and token counts).
  int ranks = 1;
  std::int64_t reduced_steps = 0;  // optimizer steps of this run (not of a resumed part)
  double reduced_bytes_per_step = 0;
};

// The options of `o` a checkpoint records beyond its configuration, split, epochs and seed
// (CheckpointInfo::training), as exact decimal strings; sweep-world reuses a checkpoint only when
// they match.
std::map<std::string, std::string> TrainingRecord(const TrainOptions& o);

// Estimated floating-point operations of one training step on a batch of `rows` sequences padded
// to `tokens` tokens: forward (input projections, per layer the q/k/v/out and feed-forward
// products and the full (tokens + 1)^2 attention of both matrix products, the head) and backward
// counted as twice the forward; 2 flops a multiply-add. Elementwise work is not counted.
double TrainingBatchFlops(const ModelConfig& c, int song_in_dim, std::int64_t rows, std::int64_t tokens);

// The family a command uses when none is given: "mert" if the dataset has it (the synthetic data's
// and the paper's audio embedding, so the quickstart is unchanged), else the dataset's first
// family (files list them by name). InputError if the dataset has none.
std::string DefaultFamily(const data::Dataset& d);

// Model size presets (docs/own-data.md). kDefault is ModelConfig/TrainOptions' defaults (tuned
// on the large synthetic population: 8 epochs, no early stopping). kSmall, for datasets with
// fewer than kSmallPresetInteractions training interactions: d_model 32, ff 64, 1 layer, head
// 32, song_components min(32, num_songs / 2), the song prior (ModelConfig::song_prior, k 5) and
// the prior offset (ModelConfig::prior_offset), learning rate 3e-4, at most 60 epochs with patience 8.
enum class Preset : std::uint8_t { kDefault = 0, kSmall = 1 };
constexpr std::int64_t kSmallPresetInteractions = 20000;
std::string PresetName(Preset p);                // "default" | "small"
Preset ParsePreset(const std::string& name);     // throws ArgumentError
// Interactions (song tokens) of the train users of `split`: what the threshold counts.
std::int64_t TrainInteractions(const data::Dataset& d, std::int32_t split);
// kSmall when TrainInteractions(d, split) < kSmallPresetInteractions, else kDefault.
Preset ChoosePreset(const data::Dataset& d, std::int32_t split);
// Sets the fields a preset decides (model sizes, song components, song prior and offset, dropout, lr, epochs,
// patience); kDefault
// restores the defaults of those fields.
void ApplyPreset(Preset p, const data::Dataset& d, TrainOptions& o);

// Trains on the split's train users, selects per-signal checkpoints on its validation users and
// writes the checkpoint to options.out. Progress (bar and per-epoch per-signal losses) goes to
// `progress` when non-null.
TrainResult TrainWorldModel(const data::Dataset& dataset, const TrainOptions& options,
                            std::ostream* progress);

// A baseline's scores on the same test tokens as the model (docs/own-data.md).
struct BaselineScores {
  std::string name;  // "baseline-song-mean", "baseline-user-mean", "baseline-pooled-mlp"
  metrics::SignalScores test;
};

// `amrs train-world`: one split's trained checkpoint and its test scores.
struct SplitRun {
  std::int32_t split = 0;
  std::string checkpoint;
  TrainResult train;
  metrics::SignalScores test;                  // on the split's test users
  std::optional<metrics::SignalScores> oracle;  // the oracle's ceiling on the same users (synthetic data)
  std::vector<BaselineScores> baselines;         // empty with baselines off
  std::string baseline_checkpoint;               // the pooled MLP's, usable as --world
  // With options.members > 1: the ensemble manifest (usable as --world) and the members' mean
  // prediction scored on the same test users.
  std::string ensemble_manifest;
  std::optional<metrics::SignalScores> ensemble_test;
};

// Trains options.model on each split into <out_dir>/<configuration>/split-<k>.pt (options.split
// and options.out are set per split), then tests the checkpoint on the split's test users. The
// embedding family and every split are checked before anything is trained or created.
// With `baselines`, the per-song mean, the user's running mean and the pooled MLP are scored on
// the same test tokens, and the pooled MLP is saved as <out_dir>/baseline-pooled-mlp/split-<k>.pt
// (a world checkpoint). `on_split` is called after each split.
std::vector<SplitRun> TrainAndTest(const data::Dataset& dataset, TrainOptions options,
                                   const std::vector<std::int32_t>& splits, const std::string& out_dir,
                                   std::ostream* progress, const std::function<void(const SplitRun&)>& on_split = {},
                                   bool baselines = true);

// The model against each baseline, per signal (R^2; AUC for rating): means over the runs, with the
// two-sided paired t-test p-value over splits when there are at least 2, and one plain sentence
// per signal where a baseline's mean beats the model's ("on valence the per-song mean beats the
// model (36.3% vs 21.9% R^2): see docs/own-data.md"). Empty when no run has baselines.
std::string CompareWithBaselines(const std::vector<SplitRun>& runs);

// The pooled-MLP baseline options train-world and sweep-world use for a model configuration.
MlpBaselineOptions BaselineMlpOptions(const ModelConfig& model, std::uint64_t seed);

// The members' mean prediction, token by token (an ensemble's teacher-forced predictions).
std::vector<std::vector<Feedback>> MeanPredictions(const std::vector<std::vector<std::vector<Feedback>>>& members);

// Scores the model on the full histories of `users`.
metrics::SignalScores Evaluate(const WorldModel& model, const data::Dataset& dataset,
                               const std::vector<std::int32_t>& users);

}  // namespace amrs::worldmodel

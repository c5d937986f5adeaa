// The world-model inference facade (no torch in this header): encode a batch of histories,
// append a token per history with cached keys/values (one token's work), predict the feedback of
// given candidate songs, and score the whole catalogue for each history in one call.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/data/dataset.h"
#include "amrs/worldmodel/config.h"

namespace amrs::worldmodel {

// What a checkpoint says about itself (docs/world-model.md).
struct CheckpointInfo {
  ModelConfig config;
  std::string dataset_fingerprint;
  std::uint64_t split_seed = 0;  // the seed of the dataset's MCCV splits it was trained on
  std::int32_t split = 0;
  std::int32_t song_dim = 0;
  std::int32_t num_songs = 0;
  std::int32_t epochs = 0;  // epochs trained
  std::uint64_t seed = 0;
  // Per-signal best epoch (1-based) and validation loss; each signal uses its own checkpoint.
  std::array<std::int32_t, kNumSignals> best_epoch{};
  std::array<double, kNumSignals> best_val_loss{};  // NaN where there was none (written "n/a")
  // Signals not learned: no usable targets among the training split's users (data/checks.h
  // UnusableReason). They were trained with loss weight 0, skip_reason[s] says why ("no ratings
  // in split 0 (train users)"; empty for a learned signal), and the model predicts the constant
  // skip_prediction[s] for them: the training mean of the signal's targets, 0.5 without any.
  std::array<std::string, kNumSignals> skip_reason{};
  std::array<float, kNumSignals> skip_prediction{};
  // The training options beyond configuration, split, epochs and seed (TrainingRecord, train.h):
  // batch_tokens, lr, weight_decay, grad_clip, max_train_users, patience. Empty in checkpoints
  // written before they were recorded.
  std::map<std::string, std::string> training;
  bool skipped(int signal) const { return !skip_reason[static_cast<std::size_t>(signal)].empty(); }
};

// A loaded world model. Immutable after loading: its const methods are safe for concurrent use
// from several threads (each thread with its own State).
class WorldModel {
 public:
  // Per-history inference state (KV caches, last outputs). Not thread-safe; one per worker.
  class State {
   public:
    ~State();
    std::int32_t size() const;  // number of histories (rows)
    struct Impl;

   private:
    friend class WorldModel;
    explicit State(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
  };

  // Loads a checkpoint written by TrainWorldModel and checks it against `dataset`: dataset
  // fingerprint, embedding family and dimension, catalogue size, parameter shapes. Any mismatch
  // throws InputError naming the checkpoint and what differs.
  static std::shared_ptr<const WorldModel> Load(const std::string& path, const data::Dataset& dataset);
  // Reads only the metadata of a checkpoint (throws InputError if it is not one).
  static CheckpointInfo ReadInfo(const std::string& path);
  // A randomly initialized model (for tests and benchmarks); `seed` fixes the weights.
  static std::shared_ptr<const WorldModel> CreateUntrained(const ModelConfig& config,
                                                           const data::Dataset& dataset,
                                                           std::uint64_t seed);
  // Writes this model as a checkpoint (atomically).
  void Save(const std::string& path) const;
  ~WorldModel();
  WorldModel(const WorldModel&) = delete;
  WorldModel& operator=(const WorldModel&) = delete;

  const CheckpointInfo& info() const;
  const Catalogue& catalogue() const;
  std::int32_t num_songs() const;
  // Distinct networks behind the four signals (1 to 4: signals whose best epoch coincide share).
  std::int32_t num_networks() const;

  // Encodes each history (may be empty) in one batched pass.
  std::unique_ptr<State> Encode(const std::vector<History>& histories) const;
  // Appends one token to each row (tokens.size() == state.size()), reusing the cache.
  void Append(State& state, const std::vector<Token>& tokens) const;
  // Predicted feedback of songs[b] as the next song of row b.
  std::vector<Feedback> Predict(const State& state, const std::vector<std::int32_t>& songs) const;
  // Predicted feedback of every catalogue song for every row: out[b * num_songs() + song].
  std::vector<Feedback> ScoreCatalogue(const State& state) const;
  // Teacher-forced predictions for every token of each history (what the model predicted for
  // token t from the tokens before it); boundary tokens get NaN.
  std::vector<std::vector<Feedback>> PredictSequences(const std::vector<History>& histories) const;

  struct Impl;

 private:
  explicit WorldModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Torch's intra-op threads (keep 1 inside TBB tasks; parallelism comes from batching episodes).
void SetTorchThreads(int n);
int TorchThreads();

}  // namespace amrs::worldmodel

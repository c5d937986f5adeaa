// The pooled-MLP baseline as a model of its own (no torch in this header): trained on a split's
// train users, early-stopped on its validation users, saved as a checkpoint and usable as a
// world (`--world PATH`, env/world.h) when it beats the learned world model (docs/own-data.md).
// Order-blind: a token's prediction depends on the mean of the earlier tokens' features, their
// count and the candidate song.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/data/dataset.h"
#include "amrs/worldmodel/config.h"

namespace amrs::worldmodel {

struct MlpBaselineOptions {
  std::int32_t epochs = 20;       // early-stopped on the split's validation users
  std::int32_t hidden = 64;
  std::int32_t components = 32;   // principal components of the song embeddings
  std::string family = "mert";
  std::uint64_t seed = 0;
};

// What a pooled-MLP checkpoint says about itself.
struct PooledMlpInfo {
  std::string dataset_fingerprint;
  std::uint64_t split_seed = 0;
  std::int32_t split = -1;  // -1: trained on a split given by value (not one of the dataset's)
  std::string family;
  std::int32_t components = 0;  // song input width after the reduction (k)
  std::int32_t hidden = 0;
  std::int32_t song_dim = 0;
  std::int32_t num_songs = 0;
  std::int32_t epochs = 0;
  std::int32_t best_epoch = 0;  // 1-based epoch whose weights are kept
  double best_val_loss = 0;
  std::uint64_t seed = 0;
};

class PooledMlp {
 public:
  // Per-history state: the running sums of the token features and the token count.
  class State {
   public:
    ~State();
    std::int32_t size() const;
    struct Impl;

   private:
    friend class PooledMlp;
    explicit State(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
  };

  // Trains on split.train, keeps the epoch with the lowest validation loss on split.val.
  // `split_index` is recorded in the checkpoint (-1 if `split` is not one of d.splits).
  static std::shared_ptr<const PooledMlp> Train(const data::Dataset& d, const data::Split& split,
                                                std::int32_t split_index, const MlpBaselineOptions& o);
  // Loads a checkpoint written by Save and checks it against `d` (dataset fingerprint, family,
  // catalogue size and dimension, parameter shapes): InputError naming the path otherwise.
  static std::shared_ptr<const PooledMlp> Load(const std::string& path, const data::Dataset& d);
  // True if `path` is a pooled-MLP checkpoint (reads only its metadata; false for anything else).
  static bool IsCheckpoint(const std::string& path);
  void Save(const std::string& path) const;  // atomically
  ~PooledMlp();
  PooledMlp(const PooledMlp&) = delete;
  PooledMlp& operator=(const PooledMlp&) = delete;

  const PooledMlpInfo& info() const;
  const Catalogue& catalogue() const;
  std::string Id() const;  // "pooled-mlp:<fingerprint prefix>:split-<k>"

  // Teacher-forced predictions for every token (boundary tokens get NaN).
  std::vector<std::vector<Feedback>> PredictSequences(const std::vector<History>& histories) const;
  std::unique_ptr<State> Encode(const std::vector<History>& histories) const;
  void Append(State& state, const std::vector<Token>& tokens) const;
  std::vector<Feedback> Predict(const State& state, const std::vector<std::int32_t>& songs) const;
  // out[row * num_songs + song]
  std::vector<Feedback> ScoreCatalogue(const State& state) const;

  struct Impl;

 private:
  explicit PooledMlp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace amrs::worldmodel

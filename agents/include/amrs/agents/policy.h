// Learned recommender policies (paper 3.4, docs/policies.md): a causal transformer over the
// history tokens that predicts the next song's content embedding. Recommendations are the
// catalogue songs of highest cosine similarity, and the policy distribution DPO needs is
//   pi(y | x) = softmax_y( cos(s_hat(x), e_y) / tau )   over the whole catalogue.
// Copycat clones the logged production policy with InfoNCE (eq. 1); DPO fine-tunes a copy of it
// on preference pairs built by negative history sampling and scored by a world (eq. 2).
// Torch stays inside agents/: this header is plain C++.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/data/dataset.h"
#include "amrs/data/splits.h"
#include "amrs/env/env.h"

namespace amrs::agents {

struct PolicyConfig {
  std::string family = "mert";     // content-embedding family the policy predicts and reads
  std::int32_t d_model = 64;
  std::int32_t heads = 4;
  std::int32_t layers = 2;
  std::int32_t ff = 128;
  std::int32_t max_context = 128;  // the policy reads at most the last max_context tokens
  double tau = 0.2;                // temperature of eq. 1 and of pi(y|x); chosen by amrs tune (docs/tuning.md)
  // Upper bounds (Validate): d_model 4096, heads 64, ff 16384, layers 16, max_context 4096, and
  // the training footprint at most this machine's physical memory.
  static constexpr std::int32_t kMaxWidth = 4096, kMaxHeads = 64, kMaxFeedForward = 16384;
  void Validate() const;
  std::string ToJson() const;
  static PolicyConfig FromJson(const std::string& json, const std::string& source);
};

// What a policy checkpoint says about itself (checked when it is loaded).
struct PolicyInfo {
  std::string kind;                  // "copycat" | "dpo"
  PolicyConfig config;
  std::string dataset_fingerprint;   // of the dataset it was trained on
  std::uint64_t split_seed = 0;      // the seed of that dataset's MCCV splits
  std::int32_t num_songs = 0, song_dim = 0;
  std::int32_t split = 0;
  std::uint64_t window_seed = 0, seed = 0;
  std::int32_t epochs = 0, best_epoch = 0;
  double best_val_loss = 0;          // copycat: validation InfoNCE; dpo: validation DPO loss
  std::string reference;             // dpo: the Copycat checkpoint it started from
  std::string world;                 // dpo: the world that scored its pairs
  Utility utility;                   // dpo: the utility that scored its pairs
  double beta = 0;                   // dpo
  std::int64_t pairs = 0;            // dpo: training pairs
  // Every option that shaped the result, name -> value text (CopycatTrainingOptions,
  // DpoTrainingOptions); empty in checkpoints written before it was recorded (unknown).
  std::map<std::string, std::string> options;
};

// Reads a checkpoint's metadata; InputError naming the file if it is not a policy checkpoint.
PolicyInfo ReadPolicyInfo(const std::string& path);

// Progress of a training run, one line per epoch (also to the stream given to the trainers).
struct EpochLog {
  std::int32_t epoch = 0;
  double train_loss = 0, val_loss = 0;
  double val_hit10 = 0;          // copycat: validation Hit@10 of the true next song (catalogue)
  double reward_margin = 0;      // dpo: mean implicit reward margin on training pairs
  double accuracy = 0;           // dpo: preference accuracy on training pairs
  double val_accuracy = 0;       // dpo: preference accuracy on validation pairs
  double kl = 0;                 // dpo: mean KL(pi || pi_ref) over the catalogue on training states
  double seconds = 0;
  // History tokens this process encoded for training (copycat: its windows; dpo: its pairs'
  // histories) per second of the training batches (validation not counted)
  double train_tokens_per_second = 0;
};

struct CopycatOptions {
  PolicyConfig model;
  std::int32_t split = 0;
  std::uint64_t window_seed = 0;  // the env's windows (training, fine-tuning and evaluation share them)
  std::uint64_t seed = 0;         // initialization, batch order, negatives
  std::int32_t epochs = 6;
  std::int32_t batch = 32;        // windows per step
  std::int32_t negatives = 128;   // unplayed songs per window (eq. 1's N_t)
  double lr = 1e-3;               // AdamW
  double weight_decay = 0.01;
  std::int32_t max_train_users = 0;  // 0: all (smaller for tests)
  std::string out;                // checkpoint path (required)
  bool resume = true;             // continue from out + ".resume" if it matches
  std::int32_t stop_after = 0;    // >0: stop after this epoch, leaving the resume file
  // Upper bounds (Validate): epochs 10000, batch 65536, negatives 100000.
  static constexpr std::int32_t kMaxEpochs = 10000, kMaxBatch = 65536, kMaxNegatives = 100000;
  void Validate() const;
};

struct TrainOutcome {
  PolicyInfo info;
  std::vector<EpochLog> epochs;
  double seconds = 0;
  bool resumed = false;
  bool finished = true;  // false when stopped by stop_after
};

// Behaviour cloning on the split's train users' rollout windows (eq. 1); the checkpoint of the
// best validation InfoNCE over the validation users' windows is written to options.out.
TrainOutcome TrainCopycat(const data::Dataset& dataset, const CopycatOptions& options, std::ostream* progress);

// Preference pairs by negative history sampling (paper 3.4).
struct PairOptions {
  std::int32_t pool = 20;              // M: M/2 nearest neighbours + M/2 uniform draws
  double engagement_threshold = 0.3;   // a logged song is negative if disliked or engagement below this
  std::int32_t max_pairs = 6000;       // per part; 0 = all negative steps (sampled with the seed)
  bool require_better = true;          // drop pairs whose winner's utility does not beat the logged song's
  std::uint64_t seed = 0;
  std::int32_t batch = 256;            // histories per world call
  // Upper bounds (Validate): pool 10000, max_pairs 10 million, batch 65536.
  static constexpr std::int32_t kMaxPool = 10000, kMaxPairs = 10'000'000, kMaxBatch = 65536;
  void Validate() const;
};

struct PreferencePair {
  std::int32_t user = -1;
  std::int32_t start = 0, length = 0;  // the state x: user's logged tokens [start, start + length)
  std::int32_t winner = -1, loser = -1;  // y_w (best candidate), y_l (the logged negative song)
  float winner_utility = 0, loser_utility = 0;
  std::vector<std::int32_t> pool;      // corrective half first, then the exploratory half
};

struct PairStats {
  std::int64_t negative_steps = 0;   // negative logged steps inside the users' windows
  std::int64_t sampled = 0;          // after max_pairs
  std::int64_t kept = 0;             // after require_better
};

// The `corrective` nearest neighbours of `song` by cosine similarity in `catalogue` (song itself
// excluded), closest first, ties by index.
std::vector<std::int32_t> NearestNeighbours(const Catalogue& catalogue, std::int32_t song, std::int32_t count);

// Pairs for the windows of `users`, scored by context.world() with `utility`.
std::vector<PreferencePair> BuildPreferencePairs(const env::EnvContext& context, const std::vector<std::int32_t>& users,
                                                 const Utility& utility, const PairOptions& options,
                                                 PairStats* stats = nullptr);

struct DpoOptions {
  std::string reference;    // Copycat checkpoint (frozen reference and starting point)
  Utility utility;          // default affect-only (valence 0.5, arousal 0.5)
  PairOptions pairs;
  double beta = 0.1;
  // lr and epochs: chosen by amrs tune on validation users (docs/tuning.md, docs/results/tune-dpo.json);
  // at 1e-4 the policy collapses onto a few songs.
  std::int32_t epochs = 3;
  std::int32_t batch = 64;  // pairs per step
  double lr = 1e-5;
  std::uint64_t seed = 0;   // pair sampling and batch order
  std::string out;
  // Upper bounds (Validate): epochs 10000, batch 65536.
  static constexpr std::int32_t kMaxEpochs = 10000, kMaxBatch = 65536;
  void Validate() const;
};

// DPO (eq. 2) on pairs from the train users' windows; validation pairs from the validation users
// are reported each epoch. The context's world scores the pairs; its split and windows must be
// those of the reference (checked).
TrainOutcome TrainDpo(std::shared_ptr<const env::EnvContext> context, const DpoOptions& options,
                      std::ostream* progress);

// The options that shape a trained policy, as stored in PolicyInfo::options: for Copycat the model
// config, split, window seed, seed, epochs, batch, negatives, lr, weight decay and user cap; for DPO
// the reference path and the reference's own options (prefixed "reference."), the world's Id(),
// utility, beta, epochs, batch, lr, seed and the pair options that shape pairs (pool, engagement
// threshold, max pairs, require better). Not: output paths, resume, stop_after, pair batch size.
std::map<std::string, std::string> CopycatTrainingOptions(const CopycatOptions& options);
std::map<std::string, std::string> DpoTrainingOptions(const DpoOptions& options, const std::string& world_id,
                                                      const std::map<std::string, std::string>& reference_options);

// Resolves "{seed}" in a checkpoint path pattern ("out/policy/copycat-seed-{seed}.pt").
std::string ExpandSeed(std::string pattern, std::uint64_t seed);

// Scores of a loaded policy, for tests and tools: cos(s_hat(x), e_y) / tau for every song, per
// history (row-major histories.size() x num_songs).
std::vector<float> PolicyLogits(const std::string& checkpoint, const data::Dataset& dataset,
                                const std::vector<History>& histories);

}  // namespace amrs::agents

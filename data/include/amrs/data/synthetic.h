// The built-in synthetic listener population (docs/synthetic.md): songs with latent style,
// genre and affect; users with taste, baseline mood, responsiveness and drifting mood; a
// production policy like the paper's choosing the songs; and calibrated noise.
#pragma once

#include <cstdint>
#include <string>

#include "amrs/data/dataset.h"
#include "amrs/data/oracle.h"

namespace amrs::data {

// Sizes default to the paper's Table 1. Upper bounds (Validate): users 10 million, sessions 100
// million, interactions 1 billion, songs 10 million, embedding_dim 4096, splits 1000, and the
// estimated memory (EstimatedBytes) at most this machine's physical memory.
struct GeneratorConfig {
  static constexpr std::int32_t kMaxUsers = 10'000'000;
  static constexpr std::int32_t kMaxSessions = 100'000'000;
  static constexpr std::int32_t kMaxInteractions = 1'000'000'000;
  static constexpr std::int32_t kMaxSongs = 10'000'000;
  static constexpr std::int32_t kMaxSplits = 1000;
  std::uint64_t seed = 0;
  std::int32_t num_users = 939;
  std::int32_t num_sessions = 8784;        // total, at least one per user
  std::int32_t num_interactions = 57822;   // total, at least one per session
  std::int32_t num_songs = 6988;
  std::int32_t embedding_dim = 768;        // both families
  float tagged_fraction = 0.88f;           // share of the catalogue the production policy uses
  float mode_fraction = 0.8f;              // sessions that have a mode
  float mert_noise = 0.35f;                // per-dimension noise of the high-fidelity family
  float clamp3_noise = 0.7f;               // per-dimension noise of the lower-fidelity family
  float clamp3_affect_scale = 0.4f;        // how strongly clamp3 encodes song affect (mert: 1)
  std::int32_t num_splits = 10;            // MCCV splits stored with the data
  // Also a valence/arousal report after every song (Interactions::has_affect): the listener's
  // state after the song plus N(0, post_report_sd), clipped, as the post-session report is
  // sampled. Drawn from a stream of its own, so every other value is the same as without it.
  bool affect_per_song = false;
  OracleParams model;                      // scalar model constants (per-entity parts ignored)
  // Throws ArgumentError naming the first invalid field, or saying how much memory the sizes
  // would need when that exceeds the physical memory.
  void Validate() const;
  // Rough bytes the generator needs for these sizes (dataset, oracle, working copies).
  double EstimatedBytes() const;
};

// Samples a dataset and its ground truth (dataset.oracle). Deterministic in config.seed,
// whatever the thread count. Progress lines go to `log` when non-null.
Dataset Generate(const GeneratorConfig& config, std::ostream* log = nullptr);

}  // namespace amrs::data

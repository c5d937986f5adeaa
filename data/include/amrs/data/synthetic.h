// The built-in synthetic listener population (docs/synthetic.md): songs with latent style,
// genre and affect; users with taste, baseline mood, responsiveness and drifting mood; a
// production policy like the paper's choosing the songs; and calibrated noise.
#pragma once

#include <cstdint>
#include <string>

#include "amrs/data/dataset.h"
#include "amrs/data/oracle.h"

namespace amrs::data {

// Sizes default to the paper's Table 1.
struct GeneratorConfig {
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
  OracleParams model;                      // scalar model constants (per-entity parts ignored)
  // Throws ArgumentError naming the first invalid field.
  void Validate() const;
};

// Samples a dataset and its ground truth (dataset.oracle). Deterministic in config.seed,
// whatever the thread count. Progress lines go to `log` when non-null.
Dataset Generate(const GeneratorConfig& config, std::ostream* log = nullptr);

}  // namespace amrs::data

// The episode arrays of one (agent, seed) block of rollouts: what the env's rollout engine
// produces, the episode log stores and the metrics evaluate. Plain data, no HDF5 or torch;
// env::EpisodeBlock and metrics::RolloutArrays are this type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace amrs {

// Every episode of one agent and one seed: E episodes of L = horizon steps, row-major over
// (episode, step[, rank]).
struct EpisodeBlock {
  std::string agent;
  std::uint64_t seed = 0;
  std::int32_t horizon = 0;  // L
  std::int32_t topk = 0;     // K (0: no ranked lists)
  std::vector<std::uint64_t> episode_seed;                            // E (may be empty)
  std::vector<std::int32_t> user, window_index, window_start, window_length;  // E (window_index may be empty)
  std::vector<std::int32_t> actions;                                  // E x L
  std::vector<std::int32_t> ranked;                                   // E x L x K, best first
  std::vector<float> engagement, rating, valence, arousal, reward;    // E x L (reward may be empty)
  // E x L: the utility-weighted disagreement of the world's ensemble members on each action
  // (Utility::Disagreement; docs/ensembles.md). Empty under a single-model world or the oracle.
  std::vector<float> disagreement;
  // E x L, synthetic data under an ensemble world only: the utility-weighted absolute error of the
  // logged (mean) prediction against the oracle's on the same action, the episode replayed in the
  // oracle (env::ReplayInOracle; docs/ensembles.md). Empty otherwise.
  std::vector<float> oracle_error;
  // E x L x 4, with oracle_error: the oracle's feedback of each action in that replay
  // (engagement, rating, valence, arousal): what the action truly brings. Empty otherwise.
  std::vector<float> oracle_feedback;

  std::int32_t episodes() const { return static_cast<std::int32_t>(user.size()); }
  // Throws ArgumentError naming the first field whose size or values are wrong (NaN included).
  void Validate() const;
};

}  // namespace amrs

// Table-1 style summary of a dataset (paper 4.1), and for synthetic data the oracle ceilings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "amrs/data/dataset.h"
#include "amrs/data/oracle.h"

namespace amrs::data {

struct Summary {
  std::int64_t users = 0, sessions = 0, interactions = 0;
  std::int64_t songs_played = 0, catalogue = 0;
  std::int64_t positive_ratings = 0, negative_ratings = 0;
  std::int64_t pre_reports = 0, post_reports = 0;
  std::int64_t song_reports = 0;  // per-song valence/arousal reports (interactions)
  std::int64_t sessions_with_mode = 0;
  double mean_engagement = 0, early_skip_share = 0, full_play_share = 0;
  std::int64_t tokens = 0, longest_history = 0;
};

Summary Summarize(const Dataset& d);
// Human-readable report: the Table-1 counts (next to the paper's for comparison), embedding
// families, splits, generator parameters and, when `ceiling` is set, the oracle ceilings with
// their calibration bands. The per-song valence/arousal count is a row only when the dataset has
// the per-song affect columns.
std::string FormatSummary(const Dataset& d, const Summary& s, const std::optional<Ceiling>& ceiling);

// The calibration of docs/synthetic.md: the oracle ceilings inside their bands (engagement R^2
// 20-50%, rating AUC 75-90%, post-session valence and arousal R^2 45-75%) and, at the paper's
// sizes (939 users, 8,784 sessions, 57,822 interactions, 6,988 songs), the sampled Table-1 counts
// (songs played, positive and negative ratings, post-session reports) within 3% of the paper's.
// Returns one line per value outside its band; empty when calibrated. `amrs summarize
// --check-calibration` prints them and exits 3; scripts/check-calibration.sh runs it on the
// default dataset (slow, outside CI).
std::vector<std::string> CalibrationFailures(const Summary& s, const Ceiling& ceiling);

}  // namespace amrs::data

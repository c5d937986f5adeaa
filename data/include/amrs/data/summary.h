// Table-1 style summary of a dataset (paper 4.1), and for synthetic data the oracle ceilings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "amrs/data/dataset.h"
#include "amrs/data/oracle.h"

namespace amrs::data {

struct Summary {
  std::int64_t users = 0, sessions = 0, interactions = 0;
  std::int64_t songs_played = 0, catalogue = 0;
  std::int64_t positive_ratings = 0, negative_ratings = 0;
  std::int64_t pre_reports = 0, post_reports = 0;
  std::int64_t sessions_with_mode = 0;
  double mean_engagement = 0, early_skip_share = 0, full_play_share = 0;
  std::int64_t tokens = 0, longest_history = 0;
};

Summary Summarize(const Dataset& d);
// Human-readable report: the Table-1 counts (next to the paper's for comparison), embedding
// families, splits, generator parameters and, when `ceiling` is set, the oracle ceilings with
// their calibration bands.
std::string FormatSummary(const Dataset& d, const Summary& s, const std::optional<Ceiling>& ceiling);

}  // namespace amrs::data

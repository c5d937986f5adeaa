// Monte Carlo cross-validation by user (paper 3.3) and window sampling (paper 3.3, 3.4).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "amrs/data/dataset.h"

namespace amrs::data {

// K random 80/10/10 splits of users [0, num_users), each a pure function of (seed, k index):
// identical across runs and machines. No user is in two parts of one split. Each part is sorted.
// val and test get round(num_users * fraction) users each (at least 1 when num_users >= 3).
std::vector<Split> MakeSplits(std::int32_t num_users, std::int32_t k, std::uint64_t seed,
                              double val_fraction = 0.1, double test_fraction = 0.1);

// Which part of a split a job works on.
enum class Part { kTrain, kVal, kTest };
Part ParsePart(std::string_view name);  // "train" | "val" | "test"; throws ArgumentError
const char* PartName(Part part);        // "train" | "val" | "test"
const std::vector<std::int32_t>& Users(const Split& s, Part part);

// A contiguous window [start, start + length) of a user's token sequence.
struct Window {
  std::int32_t start = 0;
  std::int32_t length = 0;
};

// Window ranges of the paper: world-model training uses [50, 1000], rollouts [10, 100].
struct WindowSpec {
  std::int32_t count = 5;
  std::int32_t min_length = 10;
  std::int32_t max_length = 100;
  static WindowSpec WorldModel() { return {5, 50, 1000}; }
  static WindowSpec Rollout() { return {5, 10, 100}; }
};

// `spec.count` windows of a sequence of `sequence_length` tokens: each length uniform in
// [min_length, min(max_length, sequence_length)] (the whole sequence when it is shorter than
// min_length), start uniform over the valid range. Deterministic in (seed, purpose, user);
// `purpose` separates e.g. "world-train/epoch-3" from "rollout".
std::vector<Window> SampleWindows(std::int32_t sequence_length, const WindowSpec& spec,
                                  std::uint64_t seed, std::string_view purpose,
                                  std::int32_t user);

}  // namespace amrs::data

#include "amrs/data/splits.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "amrs/core/error.h"
#include "amrs/core/rng.h"

namespace amrs::data {

std::vector<Split> MakeSplits(std::int32_t num_users, std::int32_t k, std::uint64_t seed,
                              double val_fraction, double test_fraction) {
  if (k <= 0) throw ArgumentError("number of splits must be positive, got " + std::to_string(k));
  if (num_users < 3) throw ArgumentError("need at least 3 users to split, got " + std::to_string(num_users));
  if (!(val_fraction > 0 && test_fraction > 0 && val_fraction + test_fraction < 1))
    throw ArgumentError("split fractions must be positive and sum to less than 1");
  auto count = [&](double f) {
    return std::max<std::int32_t>(1, static_cast<std::int32_t>(std::lround(num_users * f)));
  };
  const std::int32_t n_val = count(val_fraction), n_test = count(test_fraction);
  if (n_val + n_test >= num_users) throw ArgumentError("too few users for the split fractions");
  std::vector<Split> out(static_cast<std::size_t>(k));
  for (std::int32_t i = 0; i < k; ++i) {
    std::vector<std::int32_t> perm(static_cast<std::size_t>(num_users));
    std::iota(perm.begin(), perm.end(), 0);
    Rng rng(seed, "mccv-split", static_cast<std::uint64_t>(i));
    for (std::size_t j = perm.size() - 1; j > 0; --j)
      std::swap(perm[j], perm[rng.UniformInt(j + 1)]);
    auto& s = out[i];
    s.test.assign(perm.begin(), perm.begin() + n_test);
    s.val.assign(perm.begin() + n_test, perm.begin() + n_test + n_val);
    s.train.assign(perm.begin() + n_test + n_val, perm.end());
    std::sort(s.train.begin(), s.train.end());
    std::sort(s.val.begin(), s.val.end());
    std::sort(s.test.begin(), s.test.end());
  }
  return out;
}

Part ParsePart(std::string_view name) {
  if (name == "train") return Part::kTrain;
  if (name == "val" || name == "validation") return Part::kVal;
  if (name == "test") return Part::kTest;
  throw ArgumentError("unknown split part '" + std::string(name) + "' (known: train, val, test)");
}

const char* PartName(Part part) {
  switch (part) {
    case Part::kTrain: return "train";
    case Part::kVal: return "val";
    case Part::kTest: break;
  }
  return "test";
}

const std::vector<std::int32_t>& Users(const Split& s, Part part) {
  switch (part) {
    case Part::kTrain: return s.train;
    case Part::kVal: return s.val;
    case Part::kTest: break;
  }
  return s.test;
}

std::vector<Window> SampleWindows(std::int32_t sequence_length, const WindowSpec& spec,
                                  std::uint64_t seed, std::string_view purpose,
                                  std::int32_t user) {
  if (spec.count <= 0 || spec.min_length <= 0 || spec.max_length < spec.min_length)
    throw ArgumentError("window spec needs count > 0 and 0 < min_length <= max_length");
  if (sequence_length < 0) throw ArgumentError("negative sequence length");
  std::vector<Window> out;
  out.reserve(static_cast<std::size_t>(spec.count));
  Rng rng(seed, std::string("windows/") + std::string(purpose), static_cast<std::uint64_t>(user));
  for (std::int32_t i = 0; i < spec.count; ++i) {
    if (sequence_length <= spec.min_length) {
      out.push_back({0, sequence_length});
      continue;
    }
    const std::int32_t hi = std::min(spec.max_length, sequence_length);
    const auto len = static_cast<std::int32_t>(rng.UniformIntInclusive(spec.min_length, hi));
    const auto start = static_cast<std::int32_t>(rng.UniformIntInclusive(0, sequence_length - len));
    out.push_back({start, len});
  }
  return out;
}

}  // namespace amrs::data
